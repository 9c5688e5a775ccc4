//! Bad input: every rejection is a typed error and leaves the record and the prekeys unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Party, established, pair};
use prost::Message;
use sotto_core::error::{BundleError, KeyError};
use sotto_core::{Address, DecryptError, VerifiedPreKeyBundle, bundle};
use sotto_proto::protocol as wire;

/// Decrypts and asserts that failure changed neither the record nor the prekey store.
fn reject(bob: &mut Party, from: &Address, message: &[u8]) -> DecryptError {
    let record = bob.record.to_bytes();
    let store = format!(
        "{:?}",
        (
            bob.store.one_time.keys().collect::<Vec<_>>(),
            bob.store.kem.len()
        )
    );
    let error = match bob.decrypt(from, message) {
        Ok(_) => panic!("accepted a bad message"),
        Err(error) => error,
    };
    assert_eq!(
        *bob.record.to_bytes(),
        *record,
        "record changed by {error:?}"
    );
    let after = format!(
        "{:?}",
        (
            bob.store.one_time.keys().collect::<Vec<_>>(),
            bob.store.kem.len()
        )
    );
    assert_eq!(after, store);
    error
}

fn split_ratchet(bytes: &[u8]) -> wire::RatchetMessage {
    wire::RatchetMessage::decode(&bytes[1..bytes.len() - 32]).unwrap()
}

fn join_ratchet(message: &wire::RatchetMessage, tag: &[u8]) -> Vec<u8> {
    let mut out = vec![0x11];
    out.extend(message.encode_to_vec());
    out.extend_from_slice(tag);
    out
}

#[test]
fn every_flipped_byte_of_a_ratchet_message_is_rejected() {
    let (mut alice, mut bob) = established();
    let from = alice.address.clone();
    let message = alice.encrypt(&[7; 200]);
    for i in 0..message.len() {
        let mut bad = message.clone();
        bad[i] ^= 0x01;
        reject(&mut bob, &from, &bad);
    }
    assert_eq!(
        &bob.decrypt(&from, &message).unwrap().plaintext[..],
        &[7; 200]
    );
}

#[test]
fn every_flipped_byte_of_a_prekey_message_is_rejected() {
    let (mut alice, mut bob) = pair();
    let from = alice.address.clone();
    let message = alice.encrypt(b"first contact");
    for i in 0..message.len() {
        let mut bad = message.clone();
        bad[i] ^= 0x80;
        reject(&mut bob, &from, &bad);
    }
    assert_eq!(
        &bob.decrypt(&from, &message).unwrap().plaintext[..],
        b"first contact"
    );
}

#[test]
fn truncations_are_rejected() {
    let (mut alice, mut bob) = established();
    let from = alice.address.clone();
    let message = alice.encrypt(b"whole");
    for len in 0..message.len() {
        reject(&mut bob, &from, &message[..len]);
    }
    let (mut alice, mut bob) = pair();
    let prekey = alice.encrypt(b"whole");
    for len in (0..prekey.len()).step_by(97) {
        reject(&mut bob, &alice.address.clone(), &prekey[..len]);
    }
}

#[test]
fn unknown_versions_and_types_are_named() {
    let (mut alice, mut bob) = established();
    let from = alice.address.clone();
    let mut message = alice.encrypt(b"v");
    assert_eq!(reject(&mut bob, &from, &[]), DecryptError::Empty);
    message[0] = 0x21;
    assert_eq!(
        reject(&mut bob, &from, &message),
        DecryptError::UnknownVersion(2)
    );
    message[0] = 0x01;
    assert_eq!(
        reject(&mut bob, &from, &message),
        DecryptError::UnknownVersion(0)
    );
    message[0] = 0x1f;
    assert_eq!(
        reject(&mut bob, &from, &message),
        DecryptError::UnknownMessageType(15)
    );
}

#[test]
fn low_order_ratchet_keys_are_refused_before_any_agreement() {
    let (mut alice, mut bob) = established();
    let from = alice.address.clone();
    let message = alice.encrypt(b"x");
    let tag = &message[message.len() - 32..];
    for u in [[0u8; 32], {
        let mut one = [0u8; 32];
        one[0] = 1;
        one
    }] {
        let mut body = split_ratchet(&message);
        body.ratchet_key = [&[0x05][..], &u].concat();
        let error = reject(&mut bob, &from, &join_ratchet(&body, tag));
        assert_eq!(error, DecryptError::Key(KeyError::SmallOrder));
    }
    let mut body = split_ratchet(&message);
    body.ratchet_key = [&[0x05][..], &[0xff; 32]].concat();
    assert_eq!(
        reject(&mut bob, &from, &join_ratchet(&body, tag)),
        DecryptError::Key(KeyError::NonCanonical)
    );
}

#[test]
fn low_order_and_torsioned_base_keys_are_refused() {
    let (mut alice, mut bob) = pair();
    let from = alice.address.clone();
    let message = alice.encrypt(b"x");
    let mut header = wire::PreKeyMessage::decode(&message[1..]).unwrap();
    header.base_key = [&[0x05][..], &[0u8; 32]].concat();
    let bad = [&[0x12][..], &header.encode_to_vec()].concat();
    assert_eq!(
        reject(&mut bob, &from, &bad),
        DecryptError::Key(KeyError::SmallOrder)
    );
    // A valid point plus a point of order 8: same shared secrets, different bytes.
    let original = wire::PreKeyMessage::decode(&message[1..]).unwrap();
    let torsioned = add_torsion(&original.base_key[1..]);
    header.base_key = [&[0x05][..], &torsioned].concat();
    let bad = [&[0x12][..], &header.encode_to_vec()].concat();
    assert_eq!(
        reject(&mut bob, &from, &bad),
        DecryptError::Key(KeyError::NotTorsionFree)
    );
}

fn add_torsion(u: &[u8]) -> [u8; 32] {
    use curve25519_dalek::montgomery::MontgomeryPoint;
    let point = MontgomeryPoint(u.try_into().unwrap())
        .to_edwards(0)
        .unwrap();
    let order8 = curve25519_dalek::constants::EIGHT_TORSION[1];
    (point + order8).to_montgomery().to_bytes()
}

#[test]
fn bad_prekey_signatures_are_refused() {
    let bob = Party::new("bob", 1, 2);
    let good = bundle::publish(
        &bob.identity,
        &bob.store.signed[&7],
        None,
        &bob.store.kem[&900],
    );
    let mut bad = good.clone();
    bad.signed_pre_key.as_mut().unwrap().signature[10] ^= 1;
    assert!(matches!(
        VerifiedPreKeyBundle::verify(&bad),
        Err(BundleError::Key {
            source: KeyError::BadSignature,
            ..
        })
    ));
    let mut bad = good.clone();
    bad.kem_pre_key.as_mut().unwrap().signature[0] ^= 1;
    assert!(matches!(
        VerifiedPreKeyBundle::verify(&bad),
        Err(BundleError::Key { .. })
    ));
    // A last-resort key presented as one-time (or the reverse) breaks its signature.
    let mut bad = good.clone();
    bad.kem_pre_key.as_mut().unwrap().kind = wire::KemPreKeyKind::OneTime as i32;
    assert!(matches!(
        VerifiedPreKeyBundle::verify(&bad),
        Err(BundleError::Key { .. })
    ));
    // Another id for the same signed prekey breaks its signature.
    let mut bad = good.clone();
    bad.signed_pre_key.as_mut().unwrap().id = 8;
    assert!(matches!(
        VerifiedPreKeyBundle::verify(&bad),
        Err(BundleError::Key { .. })
    ));
    // Someone else's signed prekey.
    let mallory = Party::new("mallory", 1, 66);
    let mut bad = good.clone();
    bad.signed_pre_key = Some(mallory.store.signed[&7].to_wire());
    assert!(matches!(
        VerifiedPreKeyBundle::verify(&bad),
        Err(BundleError::Key { .. })
    ));
    let mut bad = good;
    bad.kem_pre_key.as_mut().unwrap().kind = 7;
    assert_eq!(
        VerifiedPreKeyBundle::verify(&bad).unwrap_err(),
        BundleError::UnknownKemKind(7)
    );
    assert_eq!(
        VerifiedPreKeyBundle::from_wire(&[0xff]).unwrap_err(),
        BundleError::Malformed
    );
}

#[test]
fn wrong_recipient_or_sender_address_fails_authentication() {
    let (mut alice, _) = pair();
    let message = alice.encrypt(b"for bob's device 1");
    // Bob's device 2 holds the same keys (a cloned store) but another address.
    let mut other_device = Party::new("bob", 2, 2);
    assert_eq!(
        reject(&mut other_device, &alice.address.clone(), &message),
        DecryptError::BadMac
    );
    let mut bob = Party::new("bob", 1, 2);
    let impostor = Address::new("mallory", 1).unwrap();
    assert_eq!(reject(&mut bob, &impostor, &message), DecryptError::BadMac);
}

#[test]
fn counter_jumps_beyond_the_limit_are_refused_without_deriving_keys() {
    let (mut alice, mut bob) = established();
    let from = alice.address.clone();
    let message = alice.encrypt(b"x");
    let tag = message[message.len() - 32..].to_vec();
    for counter in [25_002u32, u32::MAX] {
        let mut body = split_ratchet(&message);
        body.counter = counter;
        // Deriving u32::MAX keys would never finish: this test finishing shows none were.
        let error = reject(&mut bob, &from, &join_ratchet(&body, &tag));
        assert!(
            matches!(error, DecryptError::CounterJumpTooLarge { .. }),
            "{error:?}"
        );
    }
    // A new chain with a huge counter is refused before its key agreement.
    let reply = bob.encrypt(b"turn");
    alice.decrypt(&bob.address.clone(), &reply).unwrap();
    let next = alice.encrypt(b"new chain");
    let mut body = split_ratchet(&next);
    body.counter = u32::MAX;
    let error = reject(
        &mut bob,
        &from,
        &join_ratchet(&body, &next[next.len() - 32..]),
    );
    assert!(matches!(error, DecryptError::CounterJumpTooLarge { .. }));
}

#[test]
fn replayed_prekey_message_on_the_last_resort_key_is_refused() {
    let mut alice = Party::new("alice", 1, 41);
    let mut bob = Party::new("bob", 1, 42);
    let bundle = bob.bundle(None, 900);
    alice.initiate(&bundle, &bob.address.clone());
    let from = alice.address.clone();
    let message = alice.encrypt(b"once");
    bob.decrypt(&from, &message).unwrap();
    // With the session still there, a replay is a duplicate.
    assert!(matches!(
        reject(&mut bob, &from, &message),
        DecryptError::Duplicate { .. }
    ));
    // Once the session is gone, the base key is remembered against the last-resort key.
    bob.record = sotto_core::SessionRecord::new();
    assert_eq!(
        reject(&mut bob, &from, &message),
        DecryptError::ReplayedPreKeyMessage
    );
}

#[test]
fn replayed_prekey_message_on_used_one_time_keys_is_refused() {
    let (mut alice, mut bob) = pair();
    let from = alice.address.clone();
    let message = alice.encrypt(b"once");
    bob.decrypt(&from, &message).unwrap();
    bob.record = sotto_core::SessionRecord::new();
    assert_eq!(
        reject(&mut bob, &from, &message),
        DecryptError::UnknownOneTimePreKey(100)
    );
}

#[test]
fn unknown_prekey_ids_are_named() {
    let (mut alice, _) = pair();
    let message = alice.encrypt(b"x");
    let mut bob = Party::new("bob", 1, 2);
    bob.store.signed.clear();
    assert_eq!(
        reject(&mut bob, &alice.address.clone(), &message),
        DecryptError::UnknownSignedPreKey(7)
    );
    let mut bob = Party::new("bob", 1, 2);
    bob.store.kem.remove(&300);
    assert_eq!(
        reject(&mut bob, &alice.address.clone(), &message),
        DecryptError::UnknownKemPreKey(300)
    );
}

#[test]
fn a_normal_message_without_a_session_is_refused() {
    let (mut alice, _) = established();
    let message = alice.encrypt(b"x");
    let mut stranger = Party::new("bob", 1, 2);
    assert_eq!(
        reject(&mut stranger, &alice.address.clone(), &message),
        DecryptError::NoSession
    );
}

#[test]
fn stored_records_are_parsed_strictly() {
    use sotto_core::RecordError;
    let (_, bob) = established();
    let bytes = bob.record.to_bytes();
    assert!(sotto_core::SessionRecord::from_bytes(&bytes).is_ok());
    let mut wrong_version = bytes.to_vec();
    wrong_version[0] = 2;
    assert_eq!(
        sotto_core::SessionRecord::from_bytes(&wrong_version).unwrap_err(),
        RecordError::UnknownVersion(2)
    );
    assert!(sotto_core::SessionRecord::from_bytes(&[]).is_err());
    for len in (1..bytes.len()).step_by(13) {
        let _ = sotto_core::SessionRecord::from_bytes(&bytes[..len]);
    }
}
