//! Generates the known-answer vectors of `testdata/vectors/` from seeded RNGs.
//!
//! Shared by `examples/generate_vectors.rs` (writes the files) and `tests/vectors.rs` (checks
//! that the code still produces exactly what the files hold, and checks each vector
//! independently from its explicit inputs).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod group;

use std::convert::Infallible;

use chacha20::ChaCha20Rng;
use rand_core::{Rng, SeedableRng, TryCryptoRng, TryRng};
use serde_json::{Value, json};
use sotto_core::curve::{KeyPair, PrivateKey};
use sotto_core::kem::KemKeyPair;
use sotto_core::safety_number::SafetyNumber;
use sotto_core::{
    Address, IdentityKeyPair, InMemoryPreKeyStore, KemPreKeyKind, KemPreKeyPair, OneTimePreKeyPair,
    Parties, SessionRecord, SignedPreKeyPair, bundle, kat,
};

/// A seeded RNG that remembers every draw, so vectors can list them in order.
pub struct RecordingRng {
    inner: ChaCha20Rng,
    pub draws: Vec<String>,
}

impl RecordingRng {
    pub fn new(seed: u64) -> Self {
        Self {
            inner: ChaCha20Rng::seed_from_u64(seed),
            draws: Vec::new(),
        }
    }

    pub fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0; N];
        self.inner.fill_bytes(&mut out);
        out
    }

    pub fn take_draws(&mut self) -> Vec<String> {
        std::mem::take(&mut self.draws)
    }
}

impl TryRng for RecordingRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.inner.fill_bytes(dst);
        self.draws.push(hex::encode(&*dst));
        Ok(())
    }
}

impl TryCryptoRng for RecordingRng {}

/// One device, built from explicit secrets so a second implementation can rebuild it.
pub struct Device {
    pub identity: IdentityKeyPair,
    pub address: Address,
    pub store: InMemoryPreKeyStore,
    pub record: SessionRecord,
    pub rng: RecordingRng,
    pub secrets: Value,
}

pub const SIGNED_PRE_KEY_ID: u32 = 1;
pub const ONE_TIME_PRE_KEY_ID: u32 = 2;
pub const KEM_PRE_KEY_ID: u32 = 3;

impl Device {
    /// Draws, in this order: identity secret (64), signed prekey (32), one-time prekey (32),
    /// ML-KEM seed (64).
    pub fn new(account: &str, device: u32, seed: u64) -> Self {
        let mut rng = RecordingRng::new(seed);
        let identity_secret: [u8; 64] = rng.bytes();
        let spk: [u8; 32] = rng.bytes();
        let opk: [u8; 32] = rng.bytes();
        let kem_seed: [u8; 64] = rng.bytes();
        Self::from_secrets(account, device, &identity_secret, spk, opk, &kem_seed, rng)
    }

    pub fn from_secrets(
        account: &str,
        device: u32,
        identity_secret: &[u8; 64],
        spk: [u8; 32],
        opk: [u8; 32],
        kem_seed: &[u8; 64],
        rng: RecordingRng,
    ) -> Self {
        let identity = IdentityKeyPair::from_secret_bytes(identity_secret);
        let mut store = InMemoryPreKeyStore::default();
        let signed = KeyPair::from_private(PrivateKey::from_bytes(spk));
        store.signed.insert(
            SIGNED_PRE_KEY_ID,
            SignedPreKeyPair::new(&identity, SIGNED_PRE_KEY_ID, signed),
        );
        let one_time = KeyPair::from_private(PrivateKey::from_bytes(opk));
        store.one_time.insert(
            ONE_TIME_PRE_KEY_ID,
            OneTimePreKeyPair {
                id: ONE_TIME_PRE_KEY_ID,
                key_pair: one_time,
            },
        );
        let kem = KemPreKeyPair::new(
            &identity,
            KEM_PRE_KEY_ID,
            KemPreKeyKind::OneTime,
            KemKeyPair::from_seed(kem_seed),
        );
        store.kem.insert(KEM_PRE_KEY_ID, kem);
        let secrets = json!({
            "account": account,
            "device": device,
            "identity_secret": hex::encode(identity_secret),
            "signed_pre_key": {"id": SIGNED_PRE_KEY_ID, "private": hex::encode(spk)},
            "one_time_pre_key": {"id": ONE_TIME_PRE_KEY_ID, "private": hex::encode(opk)},
            "kem_pre_key": {"id": KEM_PRE_KEY_ID, "kind": "one-time", "seed": hex::encode(kem_seed)},
        });
        let address = Address::new(account, device).unwrap();
        Self {
            identity,
            address,
            store,
            record: SessionRecord::new(),
            rng,
            secrets,
        }
    }

    pub fn bundle_bytes(&self) -> Vec<u8> {
        use prost::Message;
        bundle::publish(
            &self.identity,
            &self.store.signed[&SIGNED_PRE_KEY_ID],
            Some(&self.store.one_time[&ONE_TIME_PRE_KEY_ID]),
            &self.store.kem[&KEM_PRE_KEY_ID],
        )
        .encode_to_vec()
    }

    pub fn encrypt(&mut self, plaintext: &[u8]) -> Vec<u8> {
        self.record.encrypt(plaintext, &mut self.rng).unwrap()
    }

    pub fn decrypt(&mut self, from: &Address, message: &[u8]) -> Vec<u8> {
        let parties = Parties {
            local_identity: &self.identity,
            local_address: &self.address,
            remote_address: from,
        };
        let decrypted = self.record.decrypt(parties, message, &self.store).unwrap();
        if let Some(used) = &decrypted.pre_key_use {
            self.store.apply(used);
        }
        decrypted.plaintext.to_vec()
    }
}

pub const ALICE_SEED: u64 = 0x5077_0a11;
pub const BOB_SEED: u64 = 0x5077_0b0b;

/// Alice initiates to Bob; returns both, the bundle, the initiator's draws and the first message.
pub fn handshake() -> (Device, Device, Vec<u8>, Vec<String>, Vec<u8>) {
    let mut alice = Device::new("alice", 1, ALICE_SEED);
    let bob = Device::new("bob", 7, BOB_SEED);
    let bundle_bytes = bob.bundle_bytes();
    let verified = sotto_core::VerifiedPreKeyBundle::from_wire(&bundle_bytes).unwrap();
    alice.rng.take_draws();
    let parties = Parties {
        local_identity: &alice.identity,
        local_address: &alice.address,
        remote_address: &bob.address,
    };
    alice
        .record
        .initiate(parties, &verified, &mut alice.rng)
        .unwrap();
    let draws = alice.rng.take_draws();
    let first = alice.encrypt(b"Hello Bob: this session is post-quantum.");
    (alice, bob, bundle_bytes, draws, first)
}

pub fn pqxdh() -> Value {
    let (alice, mut bob, bundle_bytes, draws, first) = handshake();
    let plaintext = bob.decrypt(&alice.address, &first);
    json!({
        "description": "PQXDH: Alice initiates to Bob's device 7 from his bundle (with a one-time prekey and a one-time ML-KEM prekey) and sends one message. initiator_draws are the random bytes SessionRecord::initiate drew, in order: base key private key (32), ML-KEM encapsulation randomness m (32), first ratchet private key (32).",
        "alice": alice.secrets,
        "bob": bob.secrets,
        "alice_identity_key": hex::encode(alice.identity.public().encode()),
        "bob_identity_key": hex::encode(bob.identity.public().encode()),
        "bob_bundle": hex::encode(&bundle_bytes),
        "initiator_draws": draws,
        "prekey_message": hex::encode(&first),
        "plaintext": String::from_utf8(plaintext).unwrap(),
        "transcript_hash": hex::encode(bob.record.current_associated_data().unwrap()),
        "sk": hex::encode(handshake_root_key(&alice, &bob, &first)),
    })
}

/// Recomputes the PQXDH root key from explicit keys (the KDF of docs/protocol.md §PQXDH).
pub fn handshake_root_key(alice: &Device, bob: &Device, first: &[u8]) -> [u8; 32] {
    use prost::Message;
    use sotto_core::curve::PublicKey;
    use sotto_core::kem::KemCiphertext;
    let header = sotto_proto::protocol::PreKeyMessage::decode(&first[1..]).unwrap();
    let base = PublicKey::from_wire(&header.base_key).unwrap();
    let alice_x = alice.identity.public().agreement_key();
    let spk = &bob.store.signed[&SIGNED_PRE_KEY_ID].key_pair.private;
    let bob_identity =
        PrivateKey::from_bytes(bob.identity.to_secret_bytes()[32..].try_into().unwrap());
    let opk = PrivateKey::from_bytes(
        hex::decode(bob.secrets["one_time_pre_key"]["private"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap(),
    );
    let dh = [
        *spk.agree(alice_x).unwrap(),
        *bob_identity.agree(&base).unwrap(),
        *spk.agree(&base).unwrap(),
        *opk.agree(&base).unwrap(),
    ];
    let kem_seed: [u8; 64] = hex::decode(bob.secrets["kem_pre_key"]["seed"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let ct = KemCiphertext::from_wire(&header.kem_ciphertext).unwrap();
    let ss = KemKeyPair::from_seed(&kem_seed).secret.decapsulate(&ct);
    let transcript = bob.record.current_associated_data().unwrap();
    kat::pqxdh_root_key(&dh, *ss, transcript)
}

/// The actions of the ratchet transcript: (sender is Alice, plaintext) or a delivery by index.
pub enum Step {
    Send(bool, &'static str),
    Deliver(usize),
}

pub const RATCHET_SCRIPT: &[Step] = &[
    Step::Send(true, "a0: prekey message"),
    Step::Send(true, "a1"),
    Step::Send(true, "a2"),
    Step::Deliver(2),
    Step::Deliver(0),
    Step::Send(false, "b0: first reply, new ratchet key"),
    Step::Send(false, "b1"),
    Step::Deliver(6),
    Step::Send(true, "a3: after a DH ratchet step"),
    Step::Deliver(1),
    Step::Deliver(8),
    Step::Deliver(5),
    Step::Send(false, "b2"),
    Step::Send(true, "a4"),
    Step::Deliver(13),
    Step::Deliver(12),
];

pub fn ratchet() -> Value {
    let mut alice = Device::new("alice", 1, ALICE_SEED);
    let mut bob = Device::new("bob", 7, BOB_SEED);
    let verified = sotto_core::VerifiedPreKeyBundle::from_wire(&bob.bundle_bytes()).unwrap();
    let parties = Parties {
        local_identity: &alice.identity,
        local_address: &alice.address,
        remote_address: &bob.address,
    };
    alice.rng.take_draws();
    bob.rng.take_draws();
    alice
        .record
        .initiate(parties, &verified, &mut alice.rng)
        .unwrap();
    let initiator_draws = alice.rng.take_draws();
    let mut wire: Vec<(bool, Vec<u8>)> = Vec::new();
    let mut steps = Vec::new();
    for (index, step) in RATCHET_SCRIPT.iter().enumerate() {
        match step {
            Step::Send(from_alice, text) => {
                let sender = if *from_alice { &mut alice } else { &mut bob };
                let bytes = sender.encrypt(text.as_bytes());
                let draws = sender.rng.take_draws();
                steps.push(json!({"step": index, "send": if *from_alice {"alice"} else {"bob"}, "plaintext": text, "draws": draws, "wire": hex::encode(&bytes)}));
                wire.push((*from_alice, bytes));
            }
            Step::Deliver(of) => {
                let (from_alice, bytes) = wire_of(&wire, *of, RATCHET_SCRIPT);
                let plaintext = if from_alice {
                    bob.decrypt(&alice.address, &bytes)
                } else {
                    alice.decrypt(&bob.address, &bytes)
                };
                steps.push(json!({"step": index, "deliver": of, "plaintext": String::from_utf8(plaintext).unwrap()}));
            }
        }
    }
    json!({
        "description": "A Double Ratchet transcript from the PQXDH vector's devices (same secrets), with out-of-order delivery across DH ratchet steps. `deliver` names the step that sent the message. `initiator_draws` are the bytes SessionRecord::initiate drew; each send lists the bytes its encryption drew (32 bytes: the new ratchet private key of a DH ratchet step, or nothing).",
        "initiator_draws": initiator_draws,
        "steps": steps,
    })
}

/// The wire bytes sent at script step `step`.
fn wire_of(wire: &[(bool, Vec<u8>)], step: usize, script: &[Step]) -> (bool, Vec<u8>) {
    let send_index = script[..step]
        .iter()
        .filter(|s| matches!(s, Step::Send(..)))
        .count();
    wire[send_index].clone()
}

pub const KDF_SEED: u64 = 0x5077_0d0f;

pub fn kdf() -> Value {
    let mut rng = RecordingRng::new(KDF_SEED);
    let mut root = Vec::new();
    for _ in 0..3 {
        let root_key: [u8; 32] = rng.bytes();
        let ours: [u8; 32] = rng.bytes();
        let theirs = KeyPair::from_private(PrivateKey::from_bytes(rng.bytes()))
            .public
            .encode();
        let (new_root, chain) = kat::root_step(root_key, ours, &theirs).unwrap();
        root.push(json!({"root_key": hex::encode(root_key), "our_private": hex::encode(ours), "their_public": hex::encode(theirs), "new_root_key": hex::encode(new_root), "chain_key": hex::encode(chain)}));
    }
    let mut chain = Vec::new();
    let mut message = Vec::new();
    for _ in 0..3 {
        let key: [u8; 32] = rng.bytes();
        let (seed, next) = kat::chain_step(key);
        chain.push(json!({"chain_key": hex::encode(key), "message_key_seed": hex::encode(seed), "next_chain_key": hex::encode(next)}));
        let (cipher, mac, iv) = kat::message_keys(seed);
        message.push(json!({"message_key_seed": hex::encode(seed), "cipher_key": hex::encode(cipher), "mac_key": hex::encode(mac), "iv": hex::encode(iv)}));
    }
    let mut pqxdh = Vec::new();
    for dh_count in [3usize, 4] {
        let dh: Vec<[u8; 32]> = (0..dh_count).map(|_| rng.bytes()).collect();
        let kem: [u8; 32] = rng.bytes();
        let transcript: [u8; 32] = rng.bytes();
        let root_key = kat::pqxdh_root_key(&dh, kem, transcript);
        pqxdh.push(json!({"dh": dh.iter().map(hex::encode).collect::<Vec<_>>(), "kem_shared_secret": hex::encode(kem), "transcript_hash": hex::encode(transcript), "sk": hex::encode(root_key)}));
    }
    json!({
        "description": "Each KDF of docs/protocol.md on random inputs.",
        "root_kdf": root, "chain_kdf": chain, "message_keys": message, "pqxdh_kdf": pqxdh,
    })
}

pub const SAFETY_NUMBER_SEED: u64 = 0x5077_05a5;

pub fn safety_number() -> Value {
    let mut rng = RecordingRng::new(SAFETY_NUMBER_SEED);
    let alice_secret: [u8; 64] = rng.bytes();
    let bob_secret: [u8; 64] = rng.bytes();
    let alice = IdentityKeyPair::from_secret_bytes(&alice_secret);
    let bob = IdentityKeyPair::from_secret_bytes(&bob_secret);
    let at_alice = SafetyNumber::compute(b"alice", alice.public(), b"bob", bob.public());
    let at_bob = SafetyNumber::compute(b"bob", bob.public(), b"alice", alice.public());
    json!({
        "description": "Safety number of alice and bob (stable ids are the account ids), 5200 iterations.",
        "alice_identity_secret": hex::encode(alice_secret),
        "bob_identity_secret": hex::encode(bob_secret),
        "alice_identity_keys": hex::encode(alice.public().keys()),
        "bob_identity_keys": hex::encode(bob.public().keys()),
        "alice_id": "alice",
        "bob_id": "bob",
        "digits": at_alice.digits(),
        "qr_payload_at_alice": hex::encode(at_alice.qr_payload()),
        "qr_payload_at_bob": hex::encode(at_bob.qr_payload()),
    })
}

/// A stored record of format version 1 and a message it must still decrypt: loading records
/// written by earlier releases must keep working.
pub fn records() -> Value {
    let (alice, mut bob, _, _, first) = handshake();
    let mut alice = alice;
    bob.decrypt(&alice.address, &first);
    let held_back = alice.encrypt(b"sent before the upgrade, read after it");
    let delivered = alice.encrypt(b"delivered");
    bob.decrypt(&alice.address, &delivered);
    json!({
        "description": "Bob's session record (format version 1) holding a skipped key, and the message it was skipped for.",
        "record": hex::encode(&*bob.record.to_bytes()),
        "from": {"account": "alice", "device": 1},
        "message": hex::encode(&held_back),
        "plaintext": "sent before the upgrade, read after it",
    })
}

/// Every vector file and its content.
pub fn all() -> Vec<(&'static str, Value)> {
    vec![
        ("kdf.json", kdf()),
        ("pqxdh.json", pqxdh()),
        ("ratchet.json", ratchet()),
        ("safety_number.json", safety_number()),
        ("session_record_v1.json", records()),
        ("group.json", group::group()),
    ]
}

/// Where the vectors live.
pub fn directory() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/vectors")
}
