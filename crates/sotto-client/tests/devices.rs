//! End to end: several devices per account (a second device played with sotto-core directly).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use sotto_client::ReceiveMode;

fn relay_dir(tmp: &tempfile::TempDir) -> std::path::PathBuf {
    let dir = tmp.path().join("relay");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn a_stale_device_list_is_fixed_on_409_and_the_retry_reaches_the_new_device() {
    let tmp = tempfile::tempdir().unwrap();
    // A mailbox of one envelope holds "second" back in alice's outbox (507).
    let relay = Relay::start_configured(&relay_dir(&tmp), "[limits]\nmax_queue = 1\n").await;
    let alice = register(&relay, &tmp.path().join("alice"), "alice").await;
    let bob = register(&relay, &tmp.path().join("bob"), "bob").await;
    alice.send("bob", "first").await.unwrap();
    assert!(alice.send("bob", "second").await.is_err());

    // Bob adds a device; alice's queued envelopes address device 1 only.
    let second = add_device(&relay, bob.account()).await;
    assert_eq!(second.account.device_id, 2);
    assert_eq!(
        bob.receive(ReceiveMode::UntilEmpty).await.unwrap().stored,
        1
    );
    assert_eq!(alice.flush_outbox().await.unwrap(), 1);

    assert_eq!(
        bob.receive(ReceiveMode::UntilEmpty).await.unwrap().stored,
        1
    );
    assert_eq!(history_texts(&bob, "alice").await, ["first", "second"]);
    let envelope = take_without_ack(&relay, &second.account).await;
    let content = second.decrypt_first(alice.account(), &envelope);
    assert_eq!(content.text().map(|m| m.text.as_str()), Some("second"));
    assert_eq!(content.sender, "alice");
}

#[tokio::test]
async fn a_message_is_copied_to_our_own_other_devices() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&relay_dir(&tmp)).await;
    let alice = register(&relay, &tmp.path().join("alice"), "alice").await;
    let bob = register(&relay, &tmp.path().join("bob"), "bob").await;
    let second = add_device(&relay, alice.account()).await;

    alice.send("bob", "hello from device 1").await.unwrap();
    assert_eq!(
        bob.receive(ReceiveMode::UntilEmpty).await.unwrap().stored,
        1
    );
    // The copy goes sealed (our own access key is always known): the relay sees no sender.
    let copy = second.unseal(
        &relay_dir(&tmp),
        &take_without_ack(&relay, &second.account).await,
    );
    assert_eq!(
        copy.sender_account.as_deref(),
        Some(alice.account().account_id.as_str())
    );
    let content = second.decrypt_first(alice.account(), &copy);
    assert_eq!(
        content.text().map(|m| m.text.as_str()),
        Some("hello from device 1")
    );
    assert_eq!(
        content.sent_to.as_deref(),
        Some(bob.account().account_id.as_str())
    );

    // Bob answers both of alice's devices.
    bob.send("alice", "hi to both").await.unwrap();
    assert_eq!(
        alice.receive(ReceiveMode::UntilEmpty).await.unwrap().stored,
        1
    );
    // Bob learned alice's access key from her message: his reach her second device sealed.
    let bare = take_envelopes(&relay, &second.account, 2).await;
    assert!(bare.iter().any(|e| {
        second.unseal(&relay_dir(&tmp), e).sender_account.as_deref()
            == Some(bob.account().account_id.as_str())
    }));
}
