//! Two Sotto devices built the way a client builds them, and the states each bench starts from.

use chacha20::ChaCha20Rng;
use prost::Message;
use rand_core::SeedableRng;
use sotto_core::bundle;
use sotto_core::{
    Address, Decrypted, IdentityKeyPair, InMemoryPreKeyStore, KemPreKeyKind, KemPreKeyPair,
    OneTimePreKeyPair, Parties, SessionRecord, SignedPreKeyPair, VerifiedPreKeyBundle,
};

/// The small first message of a session set-up (one 160-byte padding bucket).
pub const FIRST_MESSAGE: &[u8] = b"hello";
/// Signed prekey id, one-time prekey id and one-time ML-KEM prekey id of every device.
const SPK_ID: u32 = 7;
const OPK_ID: u32 = 100;
const KEM_ID: u32 = 300;

/// One device: its keys, its prekeys, its session record with the peer and its RNG.
pub struct Party {
    pub identity: IdentityKeyPair,
    pub address: Address,
    pub store: InMemoryPreKeyStore,
    pub record: SessionRecord,
    pub rng: ChaCha20Rng,
}

impl Party {
    pub fn new(account: &str, seed: u64) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let identity = IdentityKeyPair::generate(&mut rng);
        let mut store = InMemoryPreKeyStore::default();
        let spk = SignedPreKeyPair::generate(&identity, SPK_ID, &mut rng);
        store.signed.insert(spk.id, spk);
        let opk = OneTimePreKeyPair::generate(OPK_ID, &mut rng);
        store.one_time.insert(opk.id, opk);
        let kem = KemPreKeyPair::generate(&identity, KEM_ID, KemPreKeyKind::OneTime, &mut rng);
        store.kem.insert(kem.id, kem);
        Self {
            identity,
            address: Address::new(account, 1).expect("valid address"),
            store,
            record: SessionRecord::new(),
            rng,
        }
    }

    /// The protobuf bytes of the bundle the server would hand out (with a one-time prekey and
    /// the one-time ML-KEM prekey).
    pub fn bundle_bytes(&self) -> Vec<u8> {
        bundle::publish(
            &self.identity,
            &self.store.signed[&SPK_ID],
            Some(&self.store.one_time[&OPK_ID]),
            &self.store.kem[&KEM_ID],
        )
        .encode_to_vec()
    }

    pub fn parties<'a>(&'a self, remote: &'a Address) -> Parties<'a> {
        Parties {
            local_identity: &self.identity,
            local_address: &self.address,
            remote_address: remote,
        }
    }

    pub fn encrypt(&mut self, plaintext: &[u8]) -> Vec<u8> {
        self.record
            .encrypt(plaintext, &mut self.rng)
            .expect("encrypt")
    }

    /// Decrypts like a client, without retiring prekeys (benches reuse them).
    pub fn decrypt(&mut self, from: &Address, message: &[u8]) -> Decrypted {
        let parties = Parties {
            local_identity: &self.identity,
            local_address: &self.address,
            remote_address: from,
        };
        self.record
            .decrypt(parties, message, &self.store)
            .expect("decrypt")
    }
}

/// Alice and Bob before any session: Alice holds Bob's bundle bytes.
pub struct Strangers {
    pub alice: Party,
    pub bob: Party,
    pub bundle: Vec<u8>,
}

impl Strangers {
    pub fn new() -> Self {
        let alice = Party::new("alice", 1);
        let bob = Party::new("bob", 2);
        let bundle = bob.bundle_bytes();
        Self { alice, bob, bundle }
    }

    /// The measured session set-up: verify the bundle bytes, initiate, encrypt the first
    /// message, and the responder's decryption of that prekey message. Both records are returned
    /// so that they are dropped outside the timed section.
    pub fn set_up(
        &self,
        rng: &mut ChaCha20Rng,
        mut initiator: SessionRecord,
        mut responder: SessionRecord,
    ) -> (SessionRecord, SessionRecord, Decrypted) {
        let bundle = VerifiedPreKeyBundle::from_wire(&self.bundle).expect("bundle verifies");
        let (alice, bob) = (&self.alice, &self.bob);
        initiator
            .initiate(alice.parties(&bob.address), &bundle, rng)
            .expect("initiate");
        let message = initiator.encrypt(FIRST_MESSAGE, rng).expect("encrypt");
        let decrypted = responder
            .decrypt(bob.parties(&alice.address), &message, &bob.store)
            .expect("decrypt");
        (initiator, responder, decrypted)
    }
}

/// Alice and Bob after one message each way: the session is acknowledged on both sides.
pub fn established() -> (Party, Party) {
    let Strangers {
        mut alice,
        mut bob,
        bundle,
    } = Strangers::new();
    let bundle = VerifiedPreKeyBundle::from_wire(&bundle).expect("bundle verifies");
    let parties = Parties {
        local_identity: &alice.identity,
        local_address: &alice.address,
        remote_address: &bob.address,
    };
    let mut record = SessionRecord::new();
    record
        .initiate(parties, &bundle, &mut alice.rng)
        .expect("initiate");
    alice.record = record;
    let first = alice.encrypt(FIRST_MESSAGE);
    bob.decrypt(&alice.address.clone(), &first);
    let answer = bob.encrypt(b"hi");
    alice.decrypt(&bob.address.clone(), &answer);
    assert!(!alice.record.is_unacknowledged());
    (alice, bob)
}

/// One steady-state message: Alice encrypts, Bob decrypts (same direction every time).
pub fn one_way(alice: &mut Party, bob: &mut Party, plaintext: &[u8]) -> Decrypted {
    let message = alice.encrypt(plaintext);
    bob.decrypt(&alice.address, &message)
}

/// One ping-pong turn; each of the two messages makes both sides take a DH ratchet step.
pub fn ping_pong(alice: &mut Party, bob: &mut Party, plaintext: &[u8]) -> (Decrypted, Decrypted) {
    let ping = alice.encrypt(plaintext);
    let first = bob.decrypt(&alice.address, &ping);
    let pong = bob.encrypt(plaintext);
    (first, alice.decrypt(&bob.address, &pong))
}
