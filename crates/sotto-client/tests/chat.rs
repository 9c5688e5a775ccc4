//! End to end: two profiles chat through the real relay.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use sotto_client::{ClientError, DeliveryState, Direction, Event, MAX_TEXT_BYTES, ReceiveMode};

#[tokio::test]
async fn two_users_chat_both_ways() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay").tap_dir()).await;
    let alice = register(&relay, &tmp.path().join("alice"), "alice").await;
    let bob = register(&relay, &tmp.path().join("bob"), "bob").await;
    let mut alice_events = alice.subscribe();
    let mut bob_events = bob.subscribe();

    let id = alice.send("bob", "hello bob").await.unwrap();
    let sent = drain(&mut alice_events);
    assert!(sent.contains(&Event::Delivery {
        peer: "bob".into(),
        message_id: id.clone(),
        state: DeliveryState::Sent
    }));
    assert_eq!(
        bob.receive(ReceiveMode::UntilEmpty).await.unwrap().stored,
        1
    );
    assert_eq!(texts(&drain(&mut bob_events)), ["hello bob"]);

    bob.send("alice", "hi alice").await.unwrap();
    bob.send("alice", "how are you?").await.unwrap();
    assert_eq!(
        alice.receive(ReceiveMode::UntilEmpty).await.unwrap().stored,
        2
    );
    assert_eq!(
        texts(&drain(&mut alice_events)),
        ["hi alice", "how are you?"]
    );

    let history = alice.history("bob").await.unwrap();
    let summary: Vec<_> = history
        .iter()
        .map(|m| (m.direction, m.text.as_str(), m.state))
        .collect();
    assert_eq!(
        summary,
        [
            // Bob's device sent a delivery receipt; Alice has not read Bob's messages yet.
            (Direction::Outgoing, "hello bob", DeliveryState::Delivered),
            (Direction::Incoming, "hi alice", DeliveryState::Delivered),
            (
                Direction::Incoming,
                "how are you?",
                DeliveryState::Delivered
            ),
        ]
    );
    assert_eq!(history[0].message_id, id);
    // Both see the same safety number.
    let a = alice.safety_number("bob").await.unwrap();
    let b = bob.safety_number("alice").await.unwrap();
    assert_eq!(a.digits(), b.digits());
    assert_eq!(a.digits().len(), 60);

    // Bad input is refused before anything is stored; the longest text goes through.
    let bad_name = alice.send("bob/../keys", "hi").await;
    assert!(
        matches!(bad_name, Err(ClientError::InvalidUsername(_))),
        "{bad_name:?}"
    );
    let too_long = alice.send("bob", &"x".repeat(MAX_TEXT_BYTES + 1)).await;
    assert!(
        matches!(too_long, Err(ClientError::TextTooLong(_))),
        "{too_long:?}"
    );
    assert_eq!(alice.history("bob").await.unwrap().len(), 3);
    let longest = "y".repeat(MAX_TEXT_BYTES);
    alice.send("bob", &longest).await.unwrap();
    bob.receive(ReceiveMode::UntilEmpty).await.unwrap();
    assert_eq!(history_texts(&bob, "alice").await.last(), Some(&longest));
}

#[tokio::test]
async fn offline_recipient_gets_messages_later_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay").tap_dir()).await;
    let alice = register(&relay, &tmp.path().join("alice"), "alice").await;
    let bob_dir = tmp.path().join("bob");
    let bob = register(&relay, &bob_dir, "bob").await;
    bob.close().await;
    drop(bob);

    for i in 0..5 {
        alice.send("bob", &format!("message {i}")).await.unwrap();
    }
    let bob = reopen(&bob_dir).await;
    assert_eq!(
        bob.receive(ReceiveMode::UntilEmpty).await.unwrap().stored,
        5
    );
    let expected: Vec<String> = (0..5).map(|i| format!("message {i}")).collect();
    assert_eq!(history_texts(&bob, "alice").await, expected);
    // Nothing is left on the relay.
    assert_eq!(
        bob.receive(ReceiveMode::UntilEmpty).await.unwrap().stored,
        0
    );
}

#[tokio::test]
async fn client_and_server_restarts_mid_conversation() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay").tap_dir()).await;
    let (alice_dir, bob_dir) = (tmp.path().join("alice"), tmp.path().join("bob"));
    let alice = register(&relay, &alice_dir, "alice").await;
    let bob = register(&relay, &bob_dir, "bob").await;
    alice.send("bob", "one").await.unwrap();
    assert_eq!(
        bob.receive(ReceiveMode::UntilEmpty).await.unwrap().stored,
        1
    );
    bob.send("alice", "two").await.unwrap();

    // Both clients and the relay go down (the relay by SIGKILL) with "two" in flight.
    alice.close().await;
    bob.close().await;
    drop((alice, bob));
    let relay = relay.restart().await;

    let alice = reopen(&alice_dir).await;
    let bob = reopen(&bob_dir).await;
    assert_eq!(
        alice.receive(ReceiveMode::UntilEmpty).await.unwrap().stored,
        1
    );
    alice.send("bob", "three").await.unwrap();
    bob.send("alice", "four").await.unwrap();
    assert_eq!(
        bob.receive(ReceiveMode::UntilEmpty).await.unwrap().stored,
        1
    );
    assert_eq!(
        alice.receive(ReceiveMode::UntilEmpty).await.unwrap().stored,
        1
    );
    assert_eq!(
        history_texts(&alice, "bob").await,
        ["one", "two", "three", "four"]
    );
    // Bob wrote "four" before he fetched "three": history is in the order each side saw it.
    assert_eq!(
        history_texts(&bob, "alice").await,
        ["one", "two", "four", "three"]
    );
    drop(relay);
}

#[tokio::test]
async fn a_refused_send_stays_in_the_outbox_and_is_retried_with_the_same_id() {
    let tmp = tempfile::tempdir().unwrap();
    // A mailbox of one envelope: the second message is refused (507) after it was encrypted.
    let relay_dir = tmp.path().join("relay").tap_dir();
    let relay = Relay::start_configured(&relay_dir, "[limits]\nmax_queue = 1\n").await;
    let alice_dir = tmp.path().join("alice");
    let alice = register(&relay, &alice_dir, "alice").await;
    let bob = register(&relay, &tmp.path().join("bob"), "bob").await;
    alice.send("bob", "first").await.unwrap();
    let refused = alice.send("bob", "second").await;
    assert!(refused.is_err(), "{refused:?}");
    let pending: Vec<_> = alice
        .history("bob")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.state)
        .collect();
    assert_eq!(pending, [DeliveryState::Sent, DeliveryState::Pending]);

    // Alice restarts; bob drains his mailbox; the retry goes out with the same id.
    alice.close().await;
    drop(alice);
    assert_eq!(
        bob.receive(ReceiveMode::UntilEmpty).await.unwrap().stored,
        1
    );
    let alice = reopen(&alice_dir).await;
    assert_eq!(alice.flush_outbox().await.unwrap(), 1);
    assert_eq!(alice.flush_outbox().await.unwrap(), 0);
    assert_eq!(
        bob.receive(ReceiveMode::UntilEmpty).await.unwrap().stored,
        1
    );
    let sent = alice.history("bob").await.unwrap();
    let got = bob.history("alice").await.unwrap();
    assert_eq!(
        got.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
        ["first", "second"]
    );
    assert_eq!(got[1].message_id, sent[1].message_id);
    assert_eq!(sent[1].state, DeliveryState::Sent);
}

#[tokio::test]
async fn a_redelivered_envelope_is_stored_and_shown_once() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay").tap_dir()).await;
    let alice = register(&relay, &tmp.path().join("alice"), "alice").await;
    let bob = register(&relay, &tmp.path().join("bob"), "bob").await;
    alice.send("bob", "only once").await.unwrap();

    // Bob stores the envelope, then "crashes" before acking it.
    let envelope = take_without_ack(&relay, bob.account()).await;
    let mut events = bob.subscribe();
    assert!(bob.process_envelope(&envelope).await.unwrap().stored);
    // The next connection gets it again: acked, not stored, not shown.
    let again = bob.receive(ReceiveMode::UntilEmpty).await.unwrap();
    assert_eq!((again.envelopes, again.stored), (1, 0));
    // The relay deletes on ack asynchronously, so a quick reconnect may see it once more.
    assert_eq!(
        bob.receive(ReceiveMode::UntilEmpty).await.unwrap().stored,
        0
    );
    assert_eq!(texts(&drain(&mut events)), ["only once"]);
    assert_eq!(history_texts(&bob, "alice").await, ["only once"]);
    // The session is intact: the conversation goes on both ways.
    bob.send("alice", "got it").await.unwrap();
    alice.send("bob", "good").await.unwrap();
    assert_eq!(
        alice.receive(ReceiveMode::UntilEmpty).await.unwrap().stored,
        1
    );
    assert_eq!(
        bob.receive(ReceiveMode::UntilEmpty).await.unwrap().stored,
        1
    );
}

#[tokio::test]
async fn one_time_pre_keys_are_replenished_and_the_signed_pre_key_rotates() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay").tap_dir()).await;
    let alice = register(&relay, &tmp.path().join("alice"), "alice").await;
    let bob = register(&relay, &tmp.path().join("bob"), "bob").await;
    let count = |c: &sotto_client::Client| {
        let account = c.account().clone();
        let relay = &relay;
        async move { raw_get(relay, &account, "/v1/keys/count").await.1 }
    };
    assert!(!bob.maintain_pre_keys().await.unwrap());
    // A third party drains bob's one-time keys by fetching bundles.
    let bob_keys = format!("/v1/keys/{}/1", bob.account().account_id);
    for _ in 0..85 {
        assert_eq!(raw_get(&relay, alice.account(), &bob_keys).await.0, 200);
    }
    assert_eq!(count(&bob).await["one_time_prekeys"], 15);
    assert!(bob.maintain_pre_keys().await.unwrap());
    let refilled = count(&bob).await;
    assert_eq!(refilled["one_time_prekeys"], 100);
    assert_eq!(refilled["one_time_kem_prekeys"], 100);

    // A message built on the old signed prekey still opens after a rotation.
    alice.send("bob", "on the old signed prekey").await.unwrap();
    bob.rotate_signed_pre_key().await.unwrap();
    assert_eq!(
        bob.receive(ReceiveMode::UntilEmpty).await.unwrap().stored,
        1
    );
    // A new contact's session uses the new one.
    let carol = register(&relay, &tmp.path().join("carol"), "carol").await;
    carol.send("bob", "on the new signed prekey").await.unwrap();
    assert_eq!(
        bob.receive(ReceiveMode::UntilEmpty).await.unwrap().stored,
        1
    );
    assert_eq!(
        history_texts(&bob, "carol").await,
        ["on the new signed prekey"]
    );
}

#[tokio::test]
async fn a_following_receiver_gets_messages_as_they_arrive() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay").tap_dir()).await;
    let alice = register(&relay, &tmp.path().join("alice"), "alice").await;
    let bob = register(&relay, &tmp.path().join("bob"), "bob").await;
    let mut bob_events = bob.subscribe();
    let follower = {
        let bob = bob.clone();
        tokio::spawn(async move { bob.receive(ReceiveMode::Follow).await })
    };
    for text in ["live one", "live two"] {
        alice.send("bob", text).await.unwrap();
        let event = tokio::time::timeout(std::time::Duration::from_secs(30), bob_events.recv())
            .await
            .expect("no event within 30 s")
            .unwrap();
        assert!(
            matches!(event, Event::Message { text: ref t, .. } if t == text),
            "{event:?}"
        );
    }
    assert!(!follower.is_finished());
    follower.abort();
    assert_eq!(history_texts(&bob, "alice").await, ["live one", "live two"]);
}
