//! Security properties: forward secrecy, post-compromise recovery, simultaneous initiation,
//! bounded state.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Party, established, pair};
use sotto_core::session_record::MAX_ARCHIVED_SESSIONS;
use sotto_core::{DecryptError, SessionRecord};

fn snapshot(record: &SessionRecord) -> SessionRecord {
    SessionRecord::from_bytes(&record.to_bytes()).unwrap()
}

#[test]
fn forward_secrecy_a_later_snapshot_cannot_read_received_messages() {
    let (mut alice, mut bob) = established();
    let from = alice.address.clone();
    let messages: Vec<Vec<u8>> = (0..5u8).map(|i| alice.encrypt(&[i; 64])).collect();
    // Received in order except message 3, which is still in flight when the snapshot is taken.
    for i in [0usize, 1, 2, 4] {
        bob.decrypt(&from, &messages[i]).unwrap();
    }
    let mut stolen = Party::new("eve", 1, 99);
    stolen.record = snapshot(&bob.record);
    for i in [0usize, 1, 2, 4] {
        let result = stolen.decrypt(&from, &messages[i]);
        assert!(
            matches!(result, Err(DecryptError::Duplicate { .. })),
            "message {i} readable"
        );
    }
    // Message 3 was not received yet: its key is legitimately still held.
    assert_eq!(
        &stolen.decrypt(&from, &messages[3]).unwrap().plaintext[..],
        &[3; 64]
    );
}

#[test]
fn forward_secrecy_across_ratchet_steps() {
    let (mut alice, mut bob) = established();
    let (a, b) = (alice.address.clone(), bob.address.clone());
    let mut old = Vec::new();
    for round in 0..3u8 {
        let m = alice.encrypt(&[round]);
        bob.decrypt(&a, &m).unwrap();
        old.push(m);
        let r = bob.encrypt(&[round]);
        alice.decrypt(&b, &r).unwrap();
    }
    let mut stolen = Party::new("eve", 1, 98);
    stolen.record = snapshot(&bob.record);
    for m in &old {
        assert!(stolen.decrypt(&a, m).is_err());
    }
}

#[test]
fn post_compromise_a_cloned_state_cannot_read_after_one_round_trip() {
    let (mut alice, mut bob) = established();
    let (a, b) = (alice.address.clone(), bob.address.clone());
    let mut eve = Party::new("eve", 1, 97);
    eve.record = snapshot(&bob.record);
    // Before healing, the clone reads what Alice sends on her current chain.
    let early = alice.encrypt(b"before");
    assert_eq!(&eve.decrypt(&a, &early).unwrap().plaintext[..], b"before");
    bob.decrypt(&a, &early).unwrap();
    // One honest round trip with fresh ratchet keys on both sides.
    let r = bob.encrypt(b"ping");
    alice.decrypt(&b, &r).unwrap();
    let late = alice.encrypt(b"after");
    assert_eq!(&bob.decrypt(&a, &late).unwrap().plaintext[..], b"after");
    assert!(
        eve.decrypt(&a, &late).is_err(),
        "the clone must not read after healing"
    );
    for i in 0..3u8 {
        let m = alice.encrypt(&[i]);
        assert!(eve.decrypt(&a, &m).is_err());
    }
}

#[test]
fn simultaneous_initiation_converges() {
    let mut alice = Party::new("alice", 1, 21);
    let mut bob = Party::new("bob", 1, 22);
    let (a, b) = (alice.address.clone(), bob.address.clone());
    let bob_bundle = bob.bundle(Some(100), 300);
    let alice_bundle = alice.bundle(Some(100), 300);
    alice.initiate(&bob_bundle, &b);
    bob.initiate(&alice_bundle, &a);
    let from_alice = alice.encrypt(b"hi bob");
    let from_bob = bob.encrypt(b"hi alice");
    assert_eq!(
        &bob.decrypt(&a, &from_alice).unwrap().plaintext[..],
        b"hi bob"
    );
    assert_eq!(
        &alice.decrypt(&b, &from_bob).unwrap().plaintext[..],
        b"hi alice"
    );
    // Each side now sends on the session the other started; within a round trip they agree.
    for i in 0..4u8 {
        let m = alice.encrypt(&[i]);
        assert_eq!(&bob.decrypt(&a, &m).unwrap().plaintext[..], &[i]);
        let r = bob.encrypt(&[i]);
        assert_eq!(&alice.decrypt(&b, &r).unwrap().plaintext[..], &[i]);
    }
    assert_eq!(
        alice.record.current_base_key(),
        bob.record.current_base_key()
    );
    assert!(!alice.record.is_unacknowledged() && !bob.record.is_unacknowledged());
}

#[test]
fn simultaneous_initiation_with_crossed_replies_still_converges() {
    let mut alice = Party::new("alice", 1, 23);
    let mut bob = Party::new("bob", 1, 24);
    let (a, b) = (alice.address.clone(), bob.address.clone());
    let bob_bundle = bob.bundle(Some(100), 300);
    let alice_bundle = alice.bundle(Some(101), 300);
    alice.initiate(&bob_bundle, &b);
    bob.initiate(&alice_bundle, &a);
    let m1 = alice.encrypt(b"1");
    let n1 = bob.encrypt(b"1");
    bob.decrypt(&a, &m1).unwrap();
    alice.decrypt(&b, &n1).unwrap();
    // Both reply before hearing the other's reply: each on a different session.
    let m2 = alice.encrypt(b"2");
    let n2 = bob.encrypt(b"2");
    assert_eq!(&bob.decrypt(&a, &m2).unwrap().plaintext[..], b"2");
    assert_eq!(&alice.decrypt(&b, &n2).unwrap().plaintext[..], b"2");
    for round in 0..3u8 {
        let m = alice.encrypt(&[round]);
        assert_eq!(&bob.decrypt(&a, &m).unwrap().plaintext[..], &[round]);
        let n = bob.encrypt(&[round]);
        assert_eq!(&alice.decrypt(&b, &n).unwrap().plaintext[..], &[round]);
    }
    assert_eq!(
        alice.record.current_base_key(),
        bob.record.current_base_key()
    );
}

#[test]
fn skipped_key_flood_keeps_memory_bounded() {
    let (mut alice, mut bob) = established();
    let from = alice.address.clone();
    // Alice's messages are delivered only one in 1,000: 24,000 skipped keys would be owed.
    for i in 0..24_000u32 {
        let m = alice.encrypt(b"x");
        if i % 1_000 == 999 {
            bob.decrypt(&from, &m).unwrap();
        }
    }
    assert_eq!(bob.record.skipped_key_count(), 2_000);
    assert!(bob.record.to_bytes().len() < 2_000 * 60 + 10_000);
}

#[test]
fn receiving_chains_and_archived_sessions_are_bounded() {
    let (mut alice, mut bob) = established();
    let (a, b) = (alice.address.clone(), bob.address.clone());
    for i in 0..12u8 {
        let m = alice.encrypt(&[i]);
        bob.decrypt(&a, &m).unwrap();
        let r = bob.encrypt(&[i]);
        alice.decrypt(&b, &r).unwrap();
    }
    assert_eq!(bob.record.receiving_chain_count(), 5);
    let mut initiator = Party::new("carol", 1, 31);
    let dave = Party::new("dave", 1, 32);
    for _ in 0..MAX_ARCHIVED_SESSIONS + 5 {
        initiator.initiate(&dave.bundle(None, 900), &dave.address.clone());
    }
    assert_eq!(initiator.record.archived_count(), MAX_ARCHIVED_SESSIONS);
}

#[test]
fn a_session_survives_being_stored_and_loaded_mid_conversation() {
    let (mut alice, mut bob) = pair();
    let (a, b) = (alice.address.clone(), bob.address.clone());
    let first = alice.encrypt(b"first");
    let skipped = alice.encrypt(b"skipped");
    let third = alice.encrypt(b"third");
    bob.decrypt(&a, &first).unwrap();
    bob.decrypt(&a, &third).unwrap();
    bob.record = snapshot(&bob.record);
    alice.record = snapshot(&alice.record);
    assert_eq!(
        &bob.decrypt(&a, &skipped).unwrap().plaintext[..],
        b"skipped"
    );
    let reply = bob.encrypt(b"reply");
    assert_eq!(&alice.decrypt(&b, &reply).unwrap().plaintext[..], b"reply");
}

#[test]
fn archived_sessions_bound_the_work_a_forged_message_can_cause() {
    // Bob holds a current session with Alice and, archived, the one she used before.
    let setup = || {
        let (mut alice, mut bob) = established();
        let (a, b) = (alice.address.clone(), bob.address.clone());
        let mut old = Party::new("alice", 1, 1);
        old.record = snapshot(&alice.record);
        alice.initiate(&bob.bundle(Some(101), 900), &b);
        let m = alice.encrypt(b"new session");
        bob.decrypt(&a, &m).unwrap();
        assert_eq!(bob.record.archived_count(), 1);
        (old, bob, a)
    };
    // The old session starts a new chain (its next send is a DH ratchet step) near its start:
    // the archived session still reads it and becomes current again.
    let (mut old, mut bob, a) = setup();
    let messages: Vec<Vec<u8>> = (0..50).map(|_| old.encrypt(b"late")).collect();
    assert_eq!(
        &bob.decrypt(&a, &messages[49]).unwrap().plaintext[..],
        b"late"
    );
    // Far into a new chain, an archived session refuses before deriving 2,000+ keys.
    let (mut old, mut bob, a) = setup();
    let messages: Vec<Vec<u8>> = (0..2_102).map(|_| old.encrypt(b"far")).collect();
    let before = bob.record.to_bytes();
    assert!(bob.decrypt(&a, &messages[2_101]).is_err());
    assert_eq!(*bob.record.to_bytes(), *before);
    // It is the archived session's limit that refused: the current session may jump that far.
    let (mut alice, mut bob) = established();
    let a = alice.address.clone();
    let messages: Vec<Vec<u8>> = (0..2_102).map(|_| alice.encrypt(b"far")).collect();
    assert_eq!(
        &bob.decrypt(&a, &messages[2_101]).unwrap().plaintext[..],
        b"far"
    );
}
