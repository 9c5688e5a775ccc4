//! A small group harness shared by the group tests: members with identities, their own sender
//! keys, and the records they hold of each other.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use chacha20::ChaCha20Rng;
use prost::Message;
use rand_core::SeedableRng;
use sotto_core::group::{
    GroupId, GroupState, Member, OwnSenderKey, Role, SenderKeyDistribution, SenderKeyRecord,
};
use sotto_core::{Address, IdentityKeyPair};
use sotto_proto::group as wire;

pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

pub fn group_id(seed: u64) -> GroupId {
    GroupId::generate(&mut rng(seed))
}

/// One member device.
pub struct Device {
    pub account: String,
    pub identity: IdentityKeyPair,
    pub address: Address,
}

impl Device {
    pub fn new(account: &str, seed: u64) -> Self {
        Self {
            account: account.to_string(),
            identity: IdentityKeyPair::generate(&mut rng(seed)),
            address: Address::new(account, 1).unwrap(),
        }
    }

    pub fn member(&self, role: Role) -> Member {
        Member::new(
            self.account.as_bytes(),
            self.identity.public().clone(),
            role,
        )
        .unwrap()
    }

    pub fn sender_key(&self, group: GroupId, seed: u64) -> OwnSenderKey {
        OwnSenderKey::generate(group, self.address.clone(), &mut rng(seed))
    }
}

/// A receiver's record of `key`'s sender, holding its current distribution.
pub fn record_of(key: &OwnSenderKey) -> SenderKeyRecord {
    let mut record = SenderKeyRecord::new(*key.group_id(), key.sender().clone());
    record.process(&distribute(key)).unwrap();
    record
}

/// The distribution as a receiver gets it: through its wire bytes.
pub fn distribute(key: &OwnSenderKey) -> SenderKeyDistribution {
    SenderKeyDistribution::try_from(key.distribution().to_bytes().as_slice()).unwrap()
}

/// The fields of a distribution, as a member who received it sees them.
pub fn distribution_fields(key: &OwnSenderKey) -> wire::SenderKeyDistribution {
    wire::SenderKeyDistribution::decode(&key.distribution().to_bytes()[1..]).unwrap()
}

/// A distribution built from explicit fields (what a malicious member could send).
pub fn distribution_from(fields: &wire::SenderKeyDistribution) -> SenderKeyDistribution {
    let mut bytes = vec![0x13];
    fields.encode(&mut bytes).unwrap();
    SenderKeyDistribution::try_from(bytes.as_slice()).unwrap()
}

/// A group with admin `alice` and members `bob` and `carol`, at version 1.
pub fn three(group: GroupId) -> (Device, Device, Device, GroupState) {
    let alice = Device::new("alice", 1);
    let bob = Device::new("bob", 2);
    let carol = Device::new("carol", 3);
    let state = GroupState::new(
        group,
        1,
        "climbing",
        vec![
            alice.member(Role::Admin),
            bob.member(Role::Member),
            carol.member(Role::Member),
        ],
    )
    .unwrap();
    (alice, bob, carol, state)
}
