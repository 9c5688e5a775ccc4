//! Sender Keys end to end: delivery in and out of order, bounds, replays, tampering, forgery
//! by another member, re-targeting to another group or sender, rotation and storage.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod group_common;

use group_common::{
    Device, distribute, distribution_fields, distribution_from, group_id, record_of,
};
use sotto_core::group::{
    DistributionError, GroupDecryptError, MAX_FORWARD_JUMP, MAX_SENDER_CHAINS, MAX_SKIPPED_KEYS,
    OwnSenderKey, SenderKeyDistribution, SenderKeyRecord,
};
use sotto_core::{DecryptError, RecordError, kat};

fn setup() -> (OwnSenderKey, SenderKeyRecord) {
    let alice = Device::new("alice", 1);
    let key = alice.sender_key(group_id(10), 11);
    let record = record_of(&key);
    (key, record)
}

fn read(record: &mut SenderKeyRecord, message: &[u8]) -> Result<Vec<u8>, GroupDecryptError> {
    record.decrypt(message).map(|p| p.to_vec())
}

#[test]
fn messages_round_trip_in_order() {
    let (mut key, mut record) = setup();
    for i in 0..20u8 {
        let text = vec![i; usize::from(i) * 17];
        let message = key.encrypt(&text).unwrap();
        assert_eq!(read(&mut record, &message).unwrap(), text);
    }
    assert_eq!(key.iteration(), 20);
}

#[test]
fn out_of_order_messages_are_read_once_each() {
    let (mut key, mut record) = setup();
    let messages: Vec<Vec<u8>> = (0..6u8).map(|i| key.encrypt(&[i; 3]).unwrap()).collect();
    for i in [4usize, 0, 5, 2, 1, 3] {
        assert_eq!(read(&mut record, &messages[i]).unwrap(), vec![i as u8; 3]);
    }
    for (i, message) in messages.iter().enumerate() {
        assert_eq!(
            read(&mut record, message),
            Err(GroupDecryptError::Duplicate {
                iteration: i as u32
            })
        );
    }
}

#[test]
fn a_replay_is_rejected_and_changes_nothing() {
    let (mut key, mut record) = setup();
    let message = key.encrypt(b"once").unwrap();
    read(&mut record, &message).unwrap();
    let before = record.to_bytes();
    assert_eq!(
        read(&mut record, &message),
        Err(GroupDecryptError::Duplicate { iteration: 0 })
    );
    assert_eq!(record.to_bytes(), before);
}

/// Encrypts `count` throw-away messages, returning the last.
fn skip(key: &mut OwnSenderKey, count: u32) -> Vec<u8> {
    let mut last = Vec::new();
    for _ in 0..count {
        last = key.encrypt(b"").unwrap();
    }
    last
}

#[test]
fn the_forward_jump_is_bounded() {
    let (mut key, mut record) = setup();
    let first = key.encrypt(b"first").unwrap();
    let mut far = key.clone();
    let within = skip(&mut key, MAX_FORWARD_JUMP);
    // Iteration MAX_FORWARD_JUMP + 1 from a chain at 0: one too far.
    let beyond = skip(&mut far, MAX_FORWARD_JUMP + 1);
    let before = record.to_bytes();
    assert_eq!(
        read(&mut record, &beyond),
        Err(GroupDecryptError::CounterJumpTooLarge {
            jump: u64::from(MAX_FORWARD_JUMP) + 1,
            limit: MAX_FORWARD_JUMP
        })
    );
    assert_eq!(record.to_bytes(), before);
    assert_eq!(read(&mut record, &within).unwrap(), b"");
    // Only the newest MAX_SKIPPED_KEYS skipped keys are kept: message 0 is now unreadable.
    assert_eq!(
        read(&mut record, &first),
        Err(GroupDecryptError::Duplicate { iteration: 0 })
    );
}

#[test]
fn skipped_keys_are_bounded_oldest_first() {
    let (mut key, mut record) = setup();
    let total = MAX_SKIPPED_KEYS as u32 + 10;
    let messages: Vec<Vec<u8>> = (0..=total).map(|_| key.encrypt(b"x").unwrap()).collect();
    read(&mut record, &messages[total as usize]).unwrap();
    for (i, message) in messages.iter().enumerate().take(10) {
        assert_eq!(
            read(&mut record, message),
            Err(GroupDecryptError::Duplicate {
                iteration: i as u32
            }),
            "evicted key {i} still held"
        );
    }
    for message in &messages[10..total as usize] {
        assert_eq!(read(&mut record, message).unwrap(), b"x");
    }
}

#[test]
fn every_flipped_bit_of_a_message_is_rejected_without_a_change() {
    let (mut key, mut record) = setup();
    let message = key.encrypt(b"flip me").unwrap();
    let before = record.to_bytes();
    for bit in 0..message.len() * 8 {
        let mut bad = message.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        assert!(read(&mut record, &bad).is_err(), "bit {bit} accepted");
        assert_eq!(record.to_bytes(), before, "bit {bit} changed the record");
    }
    for len in 0..message.len() {
        assert!(read(&mut record, &message[..len]).is_err(), "prefix {len}");
    }
    assert_eq!(read(&mut record, &message).unwrap(), b"flip me");
}

#[test]
fn every_flipped_bit_of_a_distribution_is_rejected_or_reads_nothing() {
    let (mut key, _) = setup();
    let distribution = key.distribution().to_bytes().to_vec();
    let message = key.encrypt(b"secret").unwrap();
    for bit in 0..distribution.len() * 8 {
        let mut bad = distribution.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        let Ok(parsed) = SenderKeyDistribution::try_from(bad.as_slice()) else {
            continue;
        };
        // A flip in a varint's bits beyond 32 leaves the same value (protobuf decoders drop
        // them): the same distribution, which may read the message.
        if *parsed.to_bytes() == distribution {
            continue;
        }
        let mut record = SenderKeyRecord::new(*key.group_id(), key.sender().clone());
        if record.process(&parsed).is_err() {
            continue;
        }
        assert!(record.decrypt(&message).is_err(), "bit {bit} still reads");
    }
}

#[test]
fn a_member_cannot_forge_another_members_message() {
    let group = group_id(20);
    let alice = Device::new("alice", 1);
    let mallory = Device::new("mallory", 4);
    let alice_key = alice.sender_key(group, 21);
    let mut at_bob = record_of(&alice_key);
    // Mallory holds Alice's chain key (every member does) but not her signing key.
    let fields = distribution_fields(&alice_key);
    let mallory_seed = [0x4d; 32];
    let mut forged = kat::sender_key_from_parts(
        group,
        alice.address.clone(),
        fields.chain_id,
        fields.iteration,
        fields.chain_key.try_into().unwrap(),
        mallory_seed,
    );
    let before = at_bob.to_bytes();
    let message = forged.encrypt(b"from alice, honest").unwrap();
    assert_eq!(
        read(&mut at_bob, &message),
        Err(GroupDecryptError::BadSignature)
    );
    assert_eq!(at_bob.to_bytes(), before);
    let _ = mallory;
}

#[test]
fn a_message_cannot_be_attributed_to_another_member() {
    let group = group_id(30);
    let alice = Device::new("alice", 1);
    let carol = Device::new("carol", 3);
    let mut alice_key = alice.sender_key(group, 31);
    // Carol (malicious) distributes Alice's chain and signing key as her own.
    let mut at_bob_of_carol = SenderKeyRecord::new(group, carol.address.clone());
    at_bob_of_carol
        .process(&distribution_from(&distribution_fields(&alice_key)))
        .unwrap();
    let message = alice_key.encrypt(b"alice speaking").unwrap();
    assert_eq!(
        read(&mut at_bob_of_carol, &message),
        Err(GroupDecryptError::BadSignature)
    );
    // Another device of Alice's account is another sender too.
    let mut other_device =
        SenderKeyRecord::new(group, sotto_core::Address::new("alice", 2).unwrap());
    other_device.process(&distribute(&alice_key)).unwrap();
    assert_eq!(
        read(&mut other_device, &message),
        Err(GroupDecryptError::BadSignature)
    );
}

#[test]
fn a_message_cannot_be_retargeted_to_another_group() {
    let (group_a, group_b) = (group_id(40), group_id(41));
    let alice = Device::new("alice", 1);
    let mut key_a = alice.sender_key(group_a, 42);
    let mut at_bob_b = SenderKeyRecord::new(group_b, alice.address.clone());
    assert_eq!(
        at_bob_b.process(&distribute(&key_a)),
        Err(DistributionError::WrongGroup)
    );
    // Even with the very same chain in both groups, the group id is bound into the signature.
    let mut fields = distribution_fields(&key_a);
    fields.group_id = group_b.as_bytes().to_vec();
    at_bob_b.process(&distribution_from(&fields)).unwrap();
    let message = key_a.encrypt(b"for group a").unwrap();
    assert_eq!(
        read(&mut at_bob_b, &message),
        Err(GroupDecryptError::BadSignature)
    );
}

#[test]
fn group_and_pairwise_messages_are_not_interchangeable() {
    let (mut key, mut record) = setup();
    let message = key.encrypt(b"group").unwrap();
    let mut session = sotto_core::SessionRecord::new();
    let me = sotto_core::IdentityKeyPair::generate(&mut group_common::rng(5));
    let (a, b) = (
        sotto_core::Address::new("me", 1).unwrap(),
        sotto_core::Address::new("you", 1).unwrap(),
    );
    let parties = sotto_core::Parties {
        local_identity: &me,
        local_address: &a,
        remote_address: &b,
    };
    let store = sotto_core::InMemoryPreKeyStore::default();
    assert_eq!(
        session.decrypt(parties, &message, &store).unwrap_err(),
        DecryptError::UnknownMessageType(4)
    );
    let mut ratchet_like = message.clone();
    ratchet_like[0] = 0x11;
    assert_eq!(
        read(&mut record, &ratchet_like),
        Err(GroupDecryptError::WrongMessageType(1))
    );
    let mut future = message;
    future[0] = 0x24;
    assert_eq!(
        read(&mut record, &future),
        Err(GroupDecryptError::UnknownVersion(2))
    );
}

#[test]
fn a_repeated_distribution_cannot_rewind_a_chain() {
    let (mut key, mut record) = setup();
    let early = key.distribution();
    let message = key.encrypt(b"once").unwrap();
    read(&mut record, &message).unwrap();
    record.process(&early).unwrap();
    assert_eq!(
        read(&mut record, &message),
        Err(GroupDecryptError::Duplicate { iteration: 0 })
    );
}

#[test]
fn a_record_keeps_a_bounded_number_of_chains() {
    let alice = Device::new("alice", 1);
    let group = group_id(50);
    let keys: Vec<OwnSenderKey> = (0..=MAX_SENDER_CHAINS as u64)
        .map(|i| alice.sender_key(group, 100 + i))
        .collect();
    let mut record = SenderKeyRecord::new(group, alice.address.clone());
    for key in &keys {
        record.process(&distribute(key)).unwrap();
    }
    assert_eq!(record.chain_ids().len(), MAX_SENDER_CHAINS);
    assert_eq!(record.chain_ids()[0], keys[MAX_SENDER_CHAINS].chain_id());
    let mut oldest = keys[0].clone();
    let message = oldest.encrypt(b"old").unwrap();
    assert_eq!(
        read(&mut record, &message),
        Err(GroupDecryptError::UnknownChain {
            chain_id: oldest.chain_id()
        })
    );
    // An in-flight message of the previous chain still reads after a rotation.
    let mut previous = keys[MAX_SENDER_CHAINS - 1].clone();
    assert_eq!(
        read(&mut record, &previous.encrypt(b"late").unwrap()).unwrap(),
        b"late"
    );
}

#[test]
fn a_late_distribution_reads_only_later_messages() {
    let (mut key, _) = setup();
    let before = key.encrypt(b"before").unwrap();
    let mut record = record_of(&key);
    let after = key.encrypt(b"after").unwrap();
    assert_eq!(read(&mut record, &after).unwrap(), b"after");
    assert_eq!(
        read(&mut record, &before),
        Err(GroupDecryptError::Duplicate { iteration: 0 })
    );
}

#[test]
fn records_and_own_keys_survive_storage() {
    let (mut key, mut record) = setup();
    let messages: Vec<Vec<u8>> = (0..4u8).map(|i| key.encrypt(&[i]).unwrap()).collect();
    read(&mut record, &messages[3]).unwrap();
    let mut loaded = SenderKeyRecord::from_bytes(&record.to_bytes()).unwrap();
    assert_eq!(loaded.to_bytes(), record.to_bytes());
    assert_eq!(read(&mut loaded, &messages[1]).unwrap(), [1]);
    let mut restored = OwnSenderKey::from_bytes(&key.to_bytes()).unwrap();
    assert_eq!(restored.iteration(), 4);
    let next = restored.encrypt(b"after reload").unwrap();
    assert_eq!(read(&mut loaded, &next).unwrap(), b"after reload");
    let mut future = record.to_bytes().to_vec();
    future[0] = 2;
    assert_eq!(
        SenderKeyRecord::from_bytes(&future).unwrap_err(),
        RecordError::UnknownVersion(2)
    );
    assert!(OwnSenderKey::from_bytes(&key.to_bytes()[..20]).is_err());
    let printed = format!("{key:?} {record:?}");
    assert!(!printed.contains(&hex::encode(&distribution_fields(&key).chain_key[..4])));
}
