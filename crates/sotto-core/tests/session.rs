//! Session behaviour: set-up, both directions, out of order, duplicates, prekey handling.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Party, established, pair};
use sotto_core::DecryptError;

#[test]
fn first_message_sets_up_the_session_and_retires_one_time_keys() {
    let (mut alice, mut bob) = pair();
    let m = alice.encrypt(b"hello bob");
    assert_eq!(m[0], 0x12, "unacknowledged sessions send prekey messages");
    let d = bob.decrypt(&alice.address.clone(), &m).unwrap();
    assert_eq!(&d.plaintext[..], b"hello bob");
    assert_eq!(&d.remote_identity, alice.identity.public());
    let used = d.pre_key_use.unwrap();
    assert_eq!(used.one_time_pre_key_id, Some(100));
    assert!(!bob.store.one_time.contains_key(&100));
    assert!(!bob.store.kem.contains_key(&300));
}

#[test]
fn both_directions_and_acknowledgement() {
    let (mut alice, mut bob) = established();
    assert!(!alice.record.is_unacknowledged());
    for i in 0..10u8 {
        let m = alice.encrypt(&[i; 300]);
        assert_eq!(m[0], 0x11);
        assert_eq!(
            &bob.decrypt(&alice.address.clone(), &m).unwrap().plaintext[..],
            &[i; 300]
        );
        let r = bob.encrypt(&[i; 5]);
        assert_eq!(
            &alice.decrypt(&bob.address.clone(), &r).unwrap().plaintext[..],
            &[i; 5]
        );
    }
}

#[test]
fn out_of_order_and_duplicates() {
    let (mut alice, mut bob) = established();
    let from = alice.address.clone();
    let messages: Vec<Vec<u8>> = (0..5u8).map(|i| alice.encrypt(&[i])).collect();
    for i in [3usize, 0, 4, 1, 2] {
        assert_eq!(
            &bob.decrypt(&from, &messages[i]).unwrap().plaintext[..],
            &[i as u8]
        );
    }
    for m in &messages {
        assert!(matches!(
            bob.decrypt(&from, m),
            Err(DecryptError::Duplicate { .. })
        ));
    }
}

#[test]
fn several_prekey_messages_before_an_answer() {
    let (mut alice, mut bob) = pair();
    let from = alice.address.clone();
    let first = alice.encrypt(b"one");
    let second = alice.encrypt(b"two");
    assert_eq!(&bob.decrypt(&from, &second).unwrap().plaintext[..], b"two");
    assert_eq!(&bob.decrypt(&from, &first).unwrap().plaintext[..], b"one");
    assert!(matches!(
        bob.decrypt(&from, &first),
        Err(DecryptError::Duplicate { .. })
    ));
}

#[test]
fn empty_and_long_plaintexts() {
    let (mut alice, mut bob) = established();
    let from = alice.address.clone();
    for len in [0usize, 1, 159, 160, 161, 65_536] {
        let m = alice.encrypt(&vec![0xab; len]);
        assert_eq!(bob.decrypt(&from, &m).unwrap().plaintext.len(), len);
    }
}

#[test]
fn works_without_one_time_prekeys_through_the_last_resort_key() {
    let mut alice = Party::new("alice", 1, 11);
    let mut bob = Party::new("bob", 1, 12);
    let bundle = bob.bundle(None, 900);
    alice.initiate(&bundle, &bob.address.clone());
    let m = alice.encrypt(b"no one-time keys left");
    let d = bob.decrypt(&alice.address.clone(), &m).unwrap();
    assert_eq!(&d.plaintext[..], b"no one-time keys left");
    assert!(
        bob.store.kem.contains_key(&900),
        "the last-resort key is kept"
    );
}
