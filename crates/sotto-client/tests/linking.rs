//! End to end: linking devices through the SDK, removal, and Sesame for a re-linked device
//! (a removed device's id given to a new one): the client-side list check and the relay's 410.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use common::*;
use sotto_client::{Client, ClientError, Event, Profile, ReceiveMode};

fn relay_dir(tmp: &tempfile::TempDir) -> std::path::PathBuf {
    let dir = tmp.path().join("relay");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Links a new profile in `dir` to the account of `approver`.
async fn link(relay: &Relay, approver: &Client, dir: &Path) -> Client {
    let pending = Profile::open(dir, &key_file(dir))
        .await
        .unwrap()
        .start_link(&relay.url)
        .await
        .unwrap();
    let code = pending.code();
    let finish = tokio::spawn(pending.finish());
    approver.approve_link(&code).await.unwrap();
    finish.await.unwrap().unwrap()
}

fn devices_changed(events: &[Event]) -> Vec<(Vec<u32>, Vec<u32>, Vec<u32>)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::DevicesChanged {
                added,
                removed,
                replaced,
                ..
            } => Some((added.clone(), removed.clone(), replaced.clone())),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_linked_device_shares_the_identity_and_bad_codes_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&relay_dir(&tmp)).await;
    let alice = register(&relay, &tmp.path().join("a1"), "alice").await;
    let second = link(&relay, &alice, &tmp.path().join("a2")).await;
    assert_eq!(second.account().device_id, 2);
    assert_eq!(second.account().account_id, alice.account().account_id);
    assert_eq!(
        second.account().identity.public(),
        alice.account().identity.public()
    );
    assert_ne!(second.account().registration_id, 0);
    let ids: Vec<u32> = alice
        .devices()
        .await
        .unwrap()
        .iter()
        .map(|d| d.device_id)
        .collect();
    assert_eq!(ids, [1, 2]);

    // Garbage codes are refused before any request; a device cannot remove itself.
    assert!(matches!(
        alice.approve_link("sotto-link:x").await,
        Err(ClientError::InvalidLinkCode)
    ));
    assert!(matches!(
        alice.remove_device(1).await,
        Err(ClientError::CannotRemoveSelf)
    ));
}

#[tokio::test]
async fn a_relinked_device_gets_a_new_session_from_the_list_check_and_from_410() {
    let tmp = tempfile::tempdir().unwrap();
    // One envelope per mailbox holds "second" in alice's outbox (507).
    let relay = Relay::start_configured(&relay_dir(&tmp), "[limits]\nmax_queue = 1\n").await;
    let alice = register(&relay, &tmp.path().join("alice"), "alice").await;
    let bob = register(&relay, &tmp.path().join("b1"), "bob").await;
    let old = link(&relay, &bob, &tmp.path().join("b2")).await;
    let mut events = alice.subscribe();

    alice.send("bob", "first").await.unwrap();
    assert!(alice.send("bob", "second").await.is_err());
    assert_eq!(
        bob.receive(ReceiveMode::UntilEmpty).await.unwrap().stored,
        1
    );
    assert_eq!(
        old.receive(ReceiveMode::UntilEmpty).await.unwrap().stored,
        1
    );
    old.close().await;

    // Bob replaces device 2: the new one gets id 2 and another registration id. Alice's
    // queued "second" still quotes the old one: the relay answers 410 and alice re-encrypts.
    bob.remove_device(2).await.unwrap();
    let new = link(&relay, &bob, &tmp.path().join("b2-new")).await;
    assert_eq!(new.account().device_id, 2);
    drain(&mut events);
    assert_eq!(alice.flush_outbox().await.unwrap(), 1);
    assert_eq!(
        devices_changed(&drain(&mut events)),
        [(vec![], vec![], vec![2])]
    );
    assert_eq!(
        new.receive(ReceiveMode::UntilEmpty).await.unwrap().stored,
        1
    );
    assert_eq!(
        bob.receive(ReceiveMode::UntilEmpty).await.unwrap().stored,
        1
    );
    assert_eq!(history_texts(&new, "alice").await, ["second"]);

    // Replaced once more: this time alice's lookup shows the new registration id before
    // anything is encrypted, and the message starts a new session at once.
    bob.remove_device(2).await.unwrap();
    new.close().await;
    let newer = link(&relay, &bob, &tmp.path().join("b2-newer")).await;
    alice.send("bob", "third").await.unwrap();
    assert_eq!(
        devices_changed(&drain(&mut events)),
        [(vec![], vec![], vec![2])]
    );
    assert_eq!(
        newer.receive(ReceiveMode::UntilEmpty).await.unwrap().stored,
        1
    );
    assert_eq!(history_texts(&newer, "alice").await, ["third"]);
}
