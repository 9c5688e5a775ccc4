//! The logic of the group fuzz targets, as plain functions over untrusted bytes (see
//! `harness.rs` for the pattern): Sender Key distributions, group messages, signed group state
//! and the stored group records. Shared by `fuzz_targets/group_*.rs` and the corpus replay in
//! `crates/sotto-core/tests/fuzz_corpus.rs`.
//!
//! The fixture is built from fixed seeds: Alice's Sender Key in one group, Bob's record of it
//! after two messages, and Bob's verified state (Alice admin; Bob and Carol members).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::OnceLock;

use chacha20::ChaCha20Rng;
use rand_core::SeedableRng;
use sotto_core::group::{
    DistributionError, GroupDecryptError, GroupId, GroupState, Member, OwnSenderKey, Role,
    SenderKeyDistribution, SenderKeyRecord, VerifiedGroupState,
};
use sotto_core::{Address, IdentityKeyPair};

/// The fixed group of every target.
pub struct GroupFixture {
    pub alice_key: OwnSenderKey,
    pub record: SenderKeyRecord,
    pub state: VerifiedGroupState,
    pub alice: IdentityKeyPair,
    pub v1: GroupState,
}

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

pub fn group_fixture() -> &'static GroupFixture {
    static FIXTURE: OnceLock<GroupFixture> = OnceLock::new();
    FIXTURE.get_or_init(build_group_fixture)
}

fn build_group_fixture() -> GroupFixture {
    let group = GroupId::generate(&mut rng(0x6001));
    let sender = Address::new("alice", 1).unwrap();
    let mut alice_key = OwnSenderKey::generate(group, sender.clone(), &mut rng(0x6002));
    let mut record = SenderKeyRecord::new(group, sender);
    record.process(&alice_key.distribution()).unwrap();
    for text in [b"zero".as_slice(), b"one"] {
        let message = alice_key.encrypt(text).unwrap();
        record.decrypt(&message).unwrap();
    }
    let identities: Vec<IdentityKeyPair> = (0..3)
        .map(|i| IdentityKeyPair::generate(&mut rng(0x6010 + i)))
        .collect();
    let members = ["alice", "bob", "carol"]
        .iter()
        .zip(&identities)
        .enumerate()
        .map(|(i, (name, id))| {
            let role = if i == 0 { Role::Admin } else { Role::Member };
            Member::new(*name, id.public().clone(), role).unwrap()
        })
        .collect();
    let v1 = GroupState::new(group, 1, "fuzz", members).unwrap();
    let alice = identities[0].clone();
    let state = VerifiedGroupState::verify_initial(&v1.sign(b"alice", &alice), b"bob").unwrap();
    GroupFixture {
        alice_key,
        record,
        state,
        alice,
        v1,
    }
}

/// `SenderKeyDistribution::try_from`: an accepted distribution re-encodes to bytes that parse
/// to the same encoding, goes into a record of its own group, and is refused by another group's.
pub fn group_distribution(data: &[u8]) {
    let Ok(parsed) = SenderKeyDistribution::try_from(data) else {
        return;
    };
    let encoded = parsed.to_bytes();
    let again = SenderKeyDistribution::try_from(encoded.as_slice()).unwrap();
    assert_eq!(
        *again.to_bytes(),
        *encoded,
        "distribution does not round-trip"
    );
    let sender = Address::new("fuzz", 1).unwrap();
    let mut record = SenderKeyRecord::new(*parsed.group_id(), sender.clone());
    record.process(&parsed).unwrap();
    assert_eq!(record.chain_ids(), vec![parsed.chain_id()]);
    let stored = SenderKeyRecord::from_bytes(&record.to_bytes()).unwrap();
    assert_eq!(*stored.to_bytes(), *record.to_bytes());
    let other = GroupId::from_bytes(parsed.group_id().as_bytes().map(|b| !b));
    let mut elsewhere = SenderKeyRecord::new(other, sender);
    assert_eq!(
        elsewhere.process(&parsed),
        Err(DistributionError::WrongGroup)
    );
}

/// Bob's `SenderKeyRecord::decrypt` on the fixture: on error the record is unchanged; on
/// success it round-trips through storage and the same input is then a duplicate.
pub fn group_message(data: &[u8]) {
    let mut record = group_fixture().record.clone();
    let before = record.to_bytes();
    match record.decrypt(data) {
        Err(_) => assert_eq!(
            *record.to_bytes(),
            *before,
            "a failed decryption changed state"
        ),
        Ok(_) => {
            let stored = SenderKeyRecord::from_bytes(&record.to_bytes()).unwrap();
            assert_eq!(*stored.to_bytes(), *record.to_bytes());
            assert!(
                matches!(
                    record.decrypt(data),
                    Err(GroupDecryptError::Duplicate { .. })
                ),
                "a group message decrypted twice"
            );
        }
    }
}

/// Bob's `VerifiedGroupState::verify_update` and `verify_initial` on the input: an accepted
/// update is newer, signed by the fixture's admin, and survives storage; an accepted first
/// state lists Bob and its signer as an admin.
pub fn group_state(data: &[u8]) {
    let f = group_fixture();
    if let Ok(next) = f.state.verify_update(data) {
        assert!(next.state().version() > 1, "an old version was accepted");
        assert_eq!(next.signer(), b"alice", "a non-admin's update was accepted");
        assert_eq!(next.state().group_id(), f.v1.group_id());
        let stored = VerifiedGroupState::from_bytes(&next.to_bytes()).unwrap();
        assert_eq!(stored, next);
    }
    if let Ok(first) = VerifiedGroupState::verify_initial(data, b"bob") {
        assert!(first.state().member(b"bob").is_some());
        let signer = first.state().member(first.signer()).unwrap();
        assert!(signer.is_admin(), "a first state signed by a non-admin");
    }
}

/// The stored forms: `SenderKeyRecord::from_bytes`, `OwnSenderKey::from_bytes` and
/// `VerifiedGroupState::from_bytes` never panic, and what loads re-encodes to what loads again.
pub fn group_records(data: &[u8]) {
    if let Ok(record) = SenderKeyRecord::from_bytes(data) {
        let again = SenderKeyRecord::from_bytes(&record.to_bytes()).unwrap();
        assert_eq!(*again.to_bytes(), *record.to_bytes());
    }
    if let Ok(key) = OwnSenderKey::from_bytes(data) {
        let again = OwnSenderKey::from_bytes(&key.to_bytes()).unwrap();
        assert_eq!(*again.to_bytes(), *key.to_bytes());
    }
    if let Ok(state) = VerifiedGroupState::from_bytes(data) {
        assert_eq!(
            VerifiedGroupState::from_bytes(&state.to_bytes()).unwrap(),
            state
        );
    }
}

/// The group targets.
pub const GROUP_TARGETS: &[&str] = &[
    "group_distribution",
    "group_message",
    "group_state",
    "group_records",
];

/// The function of a group target.
pub fn group_check(target: &str) -> Option<fn(&[u8])> {
    match target {
        "group_distribution" => Some(group_distribution),
        "group_message" => Some(group_message),
        "group_state" => Some(group_state),
        "group_records" => Some(group_records),
        _ => None,
    }
}

/// Valid inputs for every group target: they decrypt, verify or load.
pub fn group_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let f = group_fixture();
    let mut out = vec![(
        "group_distribution",
        f.alice_key.distribution().to_bytes().to_vec(),
    )];
    let mut key = f.alice_key.clone();
    for text in [b"two".as_slice(), b"", &[0x5a; 400]] {
        out.push(("group_message", key.encrypt(text).unwrap()));
    }
    let v2 = f.v1.renamed("fuzz two").unwrap();
    let v3 = v2.without_member(b"carol").unwrap();
    out.push(("group_state", v2.sign(b"alice", &f.alice)));
    out.push(("group_state", v3.sign(b"alice", &f.alice)));
    out.push(("group_state", f.state.signed_bytes().to_vec()));
    out.push(("group_records", f.record.to_bytes().to_vec()));
    out.push(("group_records", f.alice_key.to_bytes().to_vec()));
    out.push(("group_records", f.state.to_bytes()));
    out
}
