//! The group vector: a Sender Key, its distribution, three messages with their keys, and a
//! signed group state, all from one seeded RNG.

use serde_json::{Value, json};
use sotto_core::group::{GroupId, GroupState, Member, OwnSenderKey, Role};
use sotto_core::{Address, IdentityKeyPair, kat};

use super::RecordingRng;

pub const GROUP_SEED: u64 = 0x5077_0960;

pub const MESSAGES: [&str; 3] = [
    "first group message",
    "",
    "a longer one, to fill more than one padding block of one hundred and sixty bytes: the quick brown fox jumps over the lazy dog, twice; the quick brown fox jumps over the lazy dog",
];

pub fn group() -> Value {
    let mut rng = RecordingRng::new(GROUP_SEED);
    let group_id = GroupId::generate(&mut rng);
    let alice_secret: [u8; 64] = rng.bytes();
    let bob_secret: [u8; 64] = rng.bytes();
    let sender = Address::new("alice", 1).unwrap();
    rng.take_draws();
    let mut key = OwnSenderKey::generate(group_id, sender.clone(), &mut rng);
    let key_draws = rng.take_draws();
    let distribution = key.distribution().to_bytes().to_vec();
    let mut chain_key: [u8; 32] = hex::decode(&key_draws[1]).unwrap().try_into().unwrap();
    let mut messages = Vec::new();
    for text in MESSAGES {
        let (seed, next) = kat::chain_step(chain_key);
        let (cipher, mac, iv) = kat::group_message_keys(seed);
        let wire = key.encrypt(text.as_bytes()).unwrap();
        messages.push(json!({
            "chain_key": hex::encode(chain_key), "message_key_seed": hex::encode(seed),
            "cipher_key": hex::encode(cipher), "mac_key": hex::encode(mac), "iv": hex::encode(iv),
            "plaintext": text, "wire": hex::encode(&wire),
        }));
        chain_key = next;
    }
    let (alice, bob) = (
        IdentityKeyPair::from_secret_bytes(&alice_secret),
        IdentityKeyPair::from_secret_bytes(&bob_secret),
    );
    let state = GroupState::new(
        group_id,
        1,
        "vectors",
        vec![
            Member::new("alice", alice.public().clone(), Role::Admin).unwrap(),
            Member::new("bob", bob.public().clone(), Role::Member).unwrap(),
        ],
    )
    .unwrap();
    json!({
        "description": "Sender Keys and group state. `sender_key_draws` are the bytes OwnSenderKey::generate drew, in order: chain id (4, big-endian), chain key (32), Ed25519 signing seed (32). Each message lists the chain key it was sent at, the derived keys (chain KDF of the Double Ratchet, HKDF info Sotto_Group_MessageKeys_v1) and the wire bytes (Ed25519 signatures are deterministic). `signed_state` is version 1 signed by alice's identity.",
        "group_id": hex::encode(group_id.as_bytes()),
        "sender": {"account": "alice", "device": 1},
        "associated_data": hex::encode(kat::group_associated_data(&group_id, &sender)),
        "sender_key_draws": key_draws,
        "distribution": hex::encode(&distribution),
        "messages": messages,
        "alice_identity_secret": hex::encode(alice_secret),
        "bob_identity_secret": hex::encode(bob_secret),
        "state": {"version": 1, "name": "vectors", "members": [
            {"account": "alice", "role": "admin"}, {"account": "bob", "role": "member"}]},
        "signed_state": hex::encode(state.sign(b"alice", &alice)),
    })
}
