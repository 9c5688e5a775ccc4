//! The receiving side enforces the rules of the message features, whatever a peer sends:
//! only a message's author edits or deletes it, reactions only land in their own conversation,
//! unknown content is ignored without an error, and redelivered feature messages are applied
//! once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use sotto_client::content::{Body, Delete, Edit, MessageRef, Reaction};
use sotto_client::{Event, ReceiveMode};

#[tokio::test]
async fn peers_cannot_change_what_they_did_not_write() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay").tap_dir()).await;
    let alice = register(&relay, &tmp.path().join("alice"), "alice").await;
    let bob = register(&relay, &tmp.path().join("bob"), "bob").await;
    let carol = register(&relay, &tmp.path().join("carol"), "carol").await;

    let mine = alice.send("bob", "alice wrote this").await.unwrap();
    bob.receive(ReceiveMode::UntilEmpty).await.unwrap();
    let carols = carol.send("alice", "carol wrote this").await.unwrap();
    alice.receive(ReceiveMode::UntilEmpty).await.unwrap();

    // Bob sends an edit and a delete of Alice's message, and a reaction to Carol's message
    // (of another conversation) in his own name.
    let forged = [
        Body::Edit(Edit {
            target_id: mine.clone(),
            text: "forged".into(),
        }),
        Body::Delete(Delete {
            target_id: mine.clone(),
        }),
        Body::Reaction(Reaction {
            target: MessageRef {
                id: carols.clone(),
                author: carol.account().account_id.clone(),
            },
            emoji: "💀".into(),
            remove: false,
        }),
        Body::Unknown,
    ];
    for body in forged {
        bob.send_content("alice", body).await.unwrap();
    }
    let mut events = alice.subscribe();
    let summary = alice.receive(ReceiveMode::UntilEmpty).await.unwrap();
    assert_eq!((summary.envelopes, summary.stored), (4, 0));
    let seen = drain(&mut events);
    assert!(
        seen.iter().all(|e| !matches!(
            e,
            Event::Edited { .. }
                | Event::Deleted { .. }
                | Event::Reaction { .. }
                | Event::Undecryptable { .. }
        )),
        "{seen:?}"
    );
    let with_bob = alice.history("bob").await.unwrap();
    assert_eq!(with_bob[0].text, "alice wrote this");
    assert!(!with_bob[0].details.deleted && with_bob[0].details.edited_at.is_none());
    let with_carol = alice.history("carol").await.unwrap();
    assert!(with_carol[0].details.reactions.is_empty());

    // The conversation goes on normally.
    bob.send("alice", "sorry").await.unwrap();
    assert_eq!(
        alice.receive(ReceiveMode::UntilEmpty).await.unwrap().stored,
        1
    );
}

#[tokio::test]
async fn a_redelivered_reaction_is_acked_without_decrypting_again() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay").tap_dir()).await;
    let alice = register(&relay, &tmp.path().join("alice"), "alice").await;
    let bob = register(&relay, &tmp.path().join("bob"), "bob").await;
    let id = alice.send("bob", "react to me").await.unwrap();
    bob.receive(ReceiveMode::UntilEmpty).await.unwrap();
    bob.react("alice", &id, Some("🎉")).await.unwrap();

    // Bob's delivery receipt and reaction, each processed twice, as after a crash between
    // commit and ack.
    let envelopes = take_envelopes(&relay, alice.account(), 10).await;
    assert_eq!(envelopes.len(), 2);
    let mut events = alice.subscribe();
    for envelope in envelopes.iter().chain(&envelopes) {
        alice.process_envelope(envelope).await.unwrap();
    }
    let seen = drain(&mut events);
    let reactions = seen
        .iter()
        .filter(|e| matches!(e, Event::Reaction { .. }))
        .count();
    assert_eq!(reactions, 1, "{seen:?}");
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, Event::Undecryptable { .. }))
    );
    let history = alice.history("bob").await.unwrap();
    assert_eq!(history[0].details.reactions[0].emoji, "🎉");
}
