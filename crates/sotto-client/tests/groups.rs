//! End to end: group chats through the real relay — membership, Sender Keys, removal, and
//! what a forger, a ghost or a removed member can do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use sotto_client::content::{Body, GroupControl};
use sotto_client::{Client, Event, GroupError, ReceiveMode};
use sotto_core::Address;
use sotto_core::group::{GroupId, GroupState, Member, OwnSenderKey, Role};
use sotto_proto::api::{Base64Bytes, DeliveredEnvelope};

/// The texts of the group message events, as `author: text`.
fn group_texts(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::GroupMessage { author, text, .. } => Some(format!("{author}: {text}")),
            _ => None,
        })
        .collect()
}

/// The reasons of the rejection events.
fn rejections(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::GroupRejected { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

/// Receives everything queued and returns the events it produced.
async fn receive_events(client: &Client) -> Vec<Event> {
    let mut events = client.subscribe();
    client.receive(ReceiveMode::UntilEmpty).await.unwrap();
    drain(&mut events)
}

/// The group texts of a history, as `author-account-or-me: text`.
async fn group_history(client: &Client, group: &str) -> Vec<String> {
    client
        .group_history(group)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.text)
        .collect()
}

/// Group envelopes queued for a device, without acking them (the relay keeps them).
async fn queued_group_envelopes(relay: &Relay, client: &Client) -> Vec<DeliveredEnvelope> {
    take_envelopes(relay, client.account(), 100)
        .await
        .into_iter()
        .filter(|e| sotto_client::groups::unframe(&e.content.0).is_some())
        .collect()
}

struct Trio {
    _tmp: tempfile::TempDir,
    relay: Relay,
    alice: Client,
    bob: Client,
    carol: Client,
    group: String,
}

/// Alice creates "friends" with bob and carol; everyone has received the state.
async fn trio() -> Trio {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay").tap_dir()).await;
    let alice = register(&relay, &tmp.path().join("alice"), "alice").await;
    let bob = register(&relay, &tmp.path().join("bob"), "bob").await;
    let carol = register(&relay, &tmp.path().join("carol"), "carol").await;
    let info = alice
        .create_group("friends", &["bob", "carol"])
        .await
        .unwrap();
    assert_eq!((info.version, info.members.len()), (1, 3));
    for member in [&bob, &carol] {
        let events = receive_events(member).await;
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Event::GroupChanged { group, .. } if group == "friends")),
            "{events:?}"
        );
        let seen = member.group("friends").await.unwrap();
        assert_eq!((seen.id.as_str(), seen.version), (info.id.as_str(), 1));
        assert!(seen.is_admin(&alice.account().account_id));
    }
    Trio {
        _tmp: tmp,
        relay,
        alice,
        bob,
        carol,
        group: info.id,
    }
}

#[tokio::test]
async fn three_members_each_send_and_everyone_else_receives() {
    let t = trio().await;
    let people = [("alice", &t.alice), ("bob", &t.bob), ("carol", &t.carol)];
    for (name, sender) in people {
        let text = format!("hello from {name}");
        sender
            .send_group_message("friends", sotto_client::OutgoingMessage::text(&text))
            .await
            .unwrap();
        for (other, receiver) in people {
            if other == name {
                continue;
            }
            let events = receive_events(receiver).await;
            assert_eq!(group_texts(&events), [format!("{name}: {text}")], "{other}");
        }
    }
    for (_, member) in people {
        assert_eq!(
            group_history(member, &t.group[..8]).await,
            ["hello from alice", "hello from bob", "hello from carol"]
        );
    }
    // Nothing of the group went into the pairwise histories.
    assert!(t.bob.history("alice").await.unwrap().is_empty());
}

#[tokio::test]
async fn a_removed_member_cannot_read_later_messages_even_with_the_ciphertexts() {
    let t = trio().await;
    let (alice, bob, carol) = (&t.alice, &t.bob, &t.carol);
    alice
        .send_group_message("friends", sotto_client::OutgoingMessage::text("before"))
        .await
        .unwrap();
    assert_eq!(group_texts(&receive_events(carol).await), ["alice: before"]);
    assert_eq!(group_texts(&receive_events(bob).await), ["alice: before"]);

    // Dave joins and reads only what comes after.
    let tmp = tempfile::tempdir().unwrap();
    let dave = register(&t.relay, &tmp.path().join("dave"), "dave").await;
    let info = alice.add_members("friends", &["dave"]).await.unwrap();
    assert_eq!((info.version, info.members.len()), (2, 4));

    // Carol is removed. She never processes her removal (a modified client would not).
    let info = alice.remove_members("friends", &["carol"]).await.unwrap();
    assert_eq!((info.version, info.members.len()), (3, 3));
    alice
        .send_group_message("friends", sotto_client::OutgoingMessage::text("after"))
        .await
        .unwrap();

    // The relay's copy for bob, taken before bob acks it, handed to carol's client: her old
    // chain of alice's does not open alice's new one.
    let stolen = queued_group_envelopes(&t.relay, bob).await;
    assert_eq!(stolen.len(), 1);
    let mut events = carol.subscribe();
    let processed = carol.process_envelope(&stolen[0]).await.unwrap();
    assert!(!processed.stored);
    let seen = drain(&mut events);
    assert!(group_texts(&seen).is_empty());
    let refused = rejections(&seen);
    assert!(
        refused.len() == 1 && refused[0].contains("chain"),
        "{refused:?}"
    );
    assert_eq!(group_history(carol, "friends").await, ["before"]);

    // Bob and dave read it; carol learns she was removed and her client says so.
    let bob_events = receive_events(bob).await;
    assert_eq!(group_texts(&bob_events), ["alice: after"]);
    let dave_events = receive_events(&dave).await;
    assert_eq!(group_texts(&dave_events), ["alice: after"]);
    assert_eq!(group_history(&dave, "friends").await, ["after"]);
    let carol_events = receive_events(carol).await;
    assert!(
        carol_events
            .iter()
            .any(|e| matches!(e, Event::GroupChanged { left: true, .. }))
    );
    assert!(carol.group("friends").await.unwrap().left);
    let refused = carol
        .send_group_message(
            "friends",
            sotto_client::OutgoingMessage::text("still here?"),
        )
        .await;
    assert!(matches!(
        refused,
        Err(sotto_client::ClientError::Group(GroupError::NotAMember))
    ));
    // Bob sends with a new chain (he rotated): dave reads it, carol gets nothing.
    bob.send_group_message("friends", sotto_client::OutgoingMessage::text("bye carol"))
        .await
        .unwrap();
    assert_eq!(
        group_texts(&receive_events(&dave).await),
        ["bob: bye carol"]
    );
    assert!(group_texts(&receive_events(carol).await).is_empty());
}

#[tokio::test]
async fn a_member_cannot_pass_off_another_members_message_and_a_ghost_is_refused() {
    let t = trio().await;
    let (alice, bob, carol) = (&t.alice, &t.bob, &t.carol);
    carol
        .send_group_message(
            "friends",
            sotto_client::OutgoingMessage::text("carol's words"),
        )
        .await
        .unwrap();
    // Bob takes carol's message from his mailbox and sends it to alice as his own.
    let carols = queued_group_envelopes(&t.relay, bob).await;
    assert_eq!(carols.len(), 1);
    let put = |from: &Client, to: &Client, id: &str, content: &[u8]| {
        let path = format!("/v1/messages/{}/{id}", to.account().account_id);
        let body = serde_json::json!({"envelopes": [{"device_id": 1,
            "content": Base64Bytes(content.to_vec())}]});
        let (relay, from) = (&t.relay, from.account().clone());
        async move {
            let (status, answer) = raw_send(relay, &from, hyper::Method::PUT, &path, &body).await;
            assert_eq!(status, 200, "{answer}");
        }
    };
    // Alice first gets carol's real message, and bob's key with a message of his.
    bob.send_group_message(
        "friends",
        sotto_client::OutgoingMessage::text("bob's words"),
    )
    .await
    .unwrap();
    let events = receive_events(alice).await;
    assert_eq!(
        group_texts(&events),
        ["carol: carol's words", "bob: bob's words"]
    );
    put(bob, alice, "forged-0123456789abcdef", &carols[0].content.0).await;
    let mut forged = carols[0].content.0.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    put(bob, alice, "forged-1123456789abcdef", &forged).await;
    let events = receive_events(alice).await;
    assert!(group_texts(&events).is_empty(), "{events:?}");
    assert_eq!(rejections(&events).len(), 2, "{events:?}");

    // Mallory, not a member, sends alice a Sender Key and a group message: a ghost.
    let tmp = tempfile::tempdir().unwrap();
    let mallory = register(&t.relay, &tmp.path().join("mallory"), "mallory").await;
    let group_id = GroupId::from_bytes(hex::decode(&t.group).unwrap().try_into().unwrap());
    let me = Address::new(mallory.account().account_id.as_bytes(), 1).unwrap();
    let mut key = OwnSenderKey::generate(group_id, me, &mut rand::rng());
    let control = GroupControl {
        group_id: Base64Bytes(group_id.as_bytes().to_vec()),
        state: None,
        state_attachment: None,
        sender_key: Some(Base64Bytes(key.distribution().to_bytes().to_vec())),
        leave: false,
    };
    mallory
        .send_content("alice", Body::Group(control))
        .await
        .unwrap();
    let message = key.encrypt(b"{\"version\":2}").unwrap();
    let framed = frame(&group_id, &message);
    put(&mallory, alice, "ghost-0123456789abcdef", &framed).await;
    let events = receive_events(alice).await;
    assert!(group_texts(&events).is_empty());
    let refused = rejections(&events);
    assert_eq!(refused.len(), 2, "{events:?}");
    assert!(
        refused.iter().all(|r| r.contains("not a member")),
        "{refused:?}"
    );

    // Bob, not an admin, signs a state that adds mallory: alice refuses it.
    let identity = |c: &Client| c.account().identity.public().clone();
    let member = |c: &Client, role| {
        Member::new(c.account().account_id.as_bytes(), identity(c), role).unwrap()
    };
    let state = GroupState::new(
        group_id,
        7,
        "friends",
        vec![
            member(alice, Role::Admin),
            member(bob, Role::Admin),
            member(carol, Role::Member),
            member(&mallory, Role::Member),
        ],
    )
    .unwrap();
    let signed = state.sign(bob.account().account_id.as_bytes(), &bob.account().identity);
    let control = GroupControl {
        group_id: Base64Bytes(group_id.as_bytes().to_vec()),
        state: Some(Base64Bytes(signed)),
        state_attachment: None,
        sender_key: None,
        leave: false,
    };
    bob.send_content("alice", Body::Group(control))
        .await
        .unwrap();
    let events = receive_events(alice).await;
    let refused = rejections(&events);
    assert!(
        refused.len() == 1 && refused[0].contains("admin"),
        "{refused:?}"
    );
    let info = alice.group("friends").await.unwrap();
    assert_eq!((info.version, info.members.len()), (1, 3));
}

/// A group envelope as the SDK frames it (`0x16 || group id || message`).
fn frame(group: &GroupId, message: &[u8]) -> Vec<u8> {
    let mut out = vec![sotto_client::groups::GROUP_ENVELOPE_TYPE];
    out.extend_from_slice(group.as_bytes());
    out.extend_from_slice(message);
    out
}

#[tokio::test]
async fn a_ghost_device_on_a_members_account_gets_nothing_and_is_reported() {
    let t = trio().await;
    // The operator adds a device to bob's account, with keys not signed by bob's identity.
    let tmp = tempfile::tempdir().unwrap();
    let mallory = register(&t.relay, &tmp.path().join("mallory"), "mallory").await;
    let mut forged_owner = t.bob.account().clone();
    forged_owner.identity = mallory.account().identity.clone();
    let ghost = add_device(&t.relay, &forged_owner).await;

    let mut events = t.alice.subscribe();
    t.alice
        .send_group_message("friends", sotto_client::OutgoingMessage::text("no ghosts"))
        .await
        .unwrap();
    let seen = drain(&mut events);
    assert!(
        rejections(&seen).iter().any(|r| r.contains("ghost device")),
        "{seen:?}"
    );
    assert_eq!(
        group_texts(&receive_events(&t.carol).await),
        ["alice: no ghosts"]
    );
    // The ghost device's queue holds nothing from the group.
    let queued = take_envelopes(&t.relay, &ghost.account, 100).await;
    assert!(queued.is_empty(), "{queued:?}");
}
