//! The logic of every fuzz target, as plain functions over untrusted bytes.
//!
//! Shared by the cargo-fuzz targets in `fuzz_targets/` (each a one-line wrapper) and by the
//! corpus replay in `crates/sotto-core/tests/fuzz_corpus.rs`, so every input the fuzzer ever
//! kept is re-checked by `cargo test`. A function panics only when sotto-core breaks a promise:
//! a decoder that panics, an encoding that does not round-trip, a failed decryption that changes
//! state, a message that decrypts twice or not at all.
//!
//! The sessions are built from fixed seeds, so an input that once reached deep into the
//! protocol reaches as deep on every run and every machine.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::OnceLock;

use chacha20::ChaCha20Rng;
use prost::Message;
use rand_core::SeedableRng;
use sotto_core::bundle::VerifiedPreKeyBundle;
use sotto_core::curve::{PrivateKey, PublicKey};
use sotto_core::kem::{KemCiphertext, KemPublicKey};
use sotto_core::ratchet::MAX_RECEIVING_CHAINS;
use sotto_core::safety_number::Comparison;
use sotto_core::{
    Address, DecryptError, Decrypted, EncryptError, IdentityKey, IdentityKeyPair,
    InMemoryPreKeyStore, KemPreKeyKind, KemPreKeyPair, OneTimePreKeyPair, Parties, SafetyNumber,
    SessionRecord, SignedPreKeyPair,
};
use sotto_proto::fingerprint::CombinedFingerprints;
use sotto_proto::protocol as wire;

// ---------------------------------------------------------------------------------------------
// Fixed parties
// ---------------------------------------------------------------------------------------------

/// One device: keys, prekey store, session record with the peer, and its seeded RNG.
pub struct Party {
    pub identity: IdentityKeyPair,
    pub address: Address,
    pub store: InMemoryPreKeyStore,
    pub record: SessionRecord,
    pub rng: ChaCha20Rng,
}

/// A copy of a seeded RNG that continues its stream exactly where the original is.
fn copy_rng(rng: &ChaCha20Rng) -> ChaCha20Rng {
    ChaCha20Rng::deserialize_state(&rng.serialize_state())
}

impl Clone for Party {
    fn clone(&self) -> Self {
        Self {
            identity: self.identity.clone(),
            address: self.address.clone(),
            store: self.store.clone(),
            record: self.record.clone(),
            rng: copy_rng(&self.rng),
        }
    }
}

impl Party {
    /// Keys as in `crates/sotto-core/tests/common`: signed prekey 7, one-time prekeys 100-102,
    /// one-time ML-KEM prekey 300, last-resort ML-KEM prekey 900.
    fn new(name: &str, seed: u64) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let identity = IdentityKeyPair::generate(&mut rng);
        let mut store = InMemoryPreKeyStore::default();
        let spk = SignedPreKeyPair::generate(&identity, 7, &mut rng);
        store.signed.insert(spk.id, spk);
        for id in 100..103 {
            store
                .one_time
                .insert(id, OneTimePreKeyPair::generate(id, &mut rng));
        }
        for (id, kind) in [
            (300, KemPreKeyKind::OneTime),
            (900, KemPreKeyKind::LastResort),
        ] {
            let kem = KemPreKeyPair::generate(&identity, id, kind, &mut rng);
            store.kem.insert(kem.id, kem);
        }
        Self {
            identity,
            address: Address::new(name, 1).unwrap(),
            store,
            record: SessionRecord::new(),
            rng,
        }
    }

    /// The bundle the server would hand out for these prekey ids.
    fn bundle_wire(&self, one_time: Option<u32>, kem_id: u32) -> wire::PreKeyBundle {
        sotto_core::bundle::publish(
            &self.identity,
            &self.store.signed[&7],
            one_time.map(|id| &self.store.one_time[&id]),
            &self.store.kem[&kem_id],
        )
    }

    fn bundle(&self, one_time: Option<u32>, kem_id: u32) -> VerifiedPreKeyBundle {
        VerifiedPreKeyBundle::verify(&self.bundle_wire(one_time, kem_id)).unwrap()
    }

    fn parties<'a>(&'a self, remote: &'a Address) -> Parties<'a> {
        Parties {
            local_identity: &self.identity,
            local_address: &self.address,
            remote_address: remote,
        }
    }

    fn initiate(&mut self, bundle: &VerifiedPreKeyBundle, remote: &Address) {
        let parties = Parties {
            local_identity: &self.identity,
            local_address: &self.address,
            remote_address: remote,
        };
        self.record
            .initiate(parties, bundle, &mut self.rng)
            .unwrap();
    }

    fn encrypt(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, EncryptError> {
        self.record.encrypt(plaintext, &mut self.rng)
    }

    /// Decrypts without retiring prekeys (the caller decides, see [`Party::retire`]).
    fn decrypt(&mut self, from: &Address, message: &[u8]) -> Result<Decrypted, DecryptError> {
        let parties = Parties {
            local_identity: &self.identity,
            local_address: &self.address,
            remote_address: from,
        };
        self.record.decrypt(parties, message, &self.store)
    }

    /// Retires the prekeys a decryption reports as used, as a real client does.
    fn retire(&mut self, decrypted: &Decrypted) {
        if let Some(used) = &decrypted.pre_key_use {
            self.store.apply(used);
        }
    }
}

/// Everything the targets start from, built once per process.
pub struct Fixture {
    /// Alice, initiator of a session with Bob that is not yet acknowledged.
    pub fresh_alice: Party,
    /// Bob with all his prekeys and no session.
    pub fresh_bob: Party,
    /// Alice and Bob after one message each way.
    pub alice: Party,
    pub bob: Party,
    /// The two messages that established the session.
    pub hello: Vec<u8>,
    pub hi: Vec<u8>,
    /// Alice's next messages, which `bob` accepts (see [`next_messages`]).
    pub alice_next: Vec<Vec<u8>>,
    /// Bundles of Bob's for later sessions: one-time prekeys 101, 102, then none; last-resort KEM.
    pub later_bundles: Vec<VerifiedPreKeyBundle>,
    /// Bundles of Alice's, for sessions Bob starts: one-time prekeys 100, 101, then none.
    pub alice_bundles: Vec<VerifiedPreKeyBundle>,
    /// The safety number as Alice sees it, and the QR payload Bob shows.
    pub safety_number: SafetyNumber,
    pub bob_qr: Vec<u8>,
}

pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build_fixture)
}

fn build_fixture() -> Fixture {
    let mut fresh_alice = Party::new("alice", 1);
    let fresh_bob = Party::new("bob", 2);
    fresh_alice.initiate(
        &fresh_bob.bundle(Some(100), 300),
        &fresh_bob.address.clone(),
    );
    let (mut alice, mut bob) = (fresh_alice.clone(), fresh_bob.clone());
    let hello = alice.encrypt(b"hello").unwrap();
    let d = bob.decrypt(&alice.address.clone(), &hello).unwrap();
    bob.retire(&d);
    let hi = bob.encrypt(b"hi").unwrap();
    alice.decrypt(&bob.address.clone(), &hi).unwrap();
    let alice_next = next_messages(&alice);
    let later_bundles = [(Some(101), 900), (Some(102), 900), (None, 900)]
        .iter()
        .map(|&(one_time, kem)| fresh_bob.bundle(one_time, kem))
        .collect();
    let alice_bundles = [(Some(100), 300), (Some(101), 900), (None, 900)]
        .iter()
        .map(|&(one_time, kem)| fresh_alice.bundle(one_time, kem))
        .collect();
    let (a, b) = (alice.identity.public(), bob.identity.public());
    let safety_number = SafetyNumber::compute(b"alice", a, b"bob", b);
    let bob_qr = SafetyNumber::compute(b"bob", b, b"alice", a).qr_payload();
    Fixture {
        fresh_alice,
        fresh_bob,
        alice,
        bob,
        hello,
        hi,
        alice_next,
        later_bundles,
        alice_bundles,
        safety_number,
        bob_qr,
    }
}

/// What a prekey store holds, comparable (the keys themselves are fixed by their ids here).
type StoreState = (
    BTreeSet<u32>,
    BTreeSet<u32>,
    BTreeSet<u32>,
    BTreeSet<(u32, [u8; 32])>,
);

fn store_state(store: &InMemoryPreKeyStore) -> StoreState {
    (
        store.signed.keys().copied().collect(),
        store.one_time.keys().copied().collect(),
        store.kem.keys().copied().collect(),
        store.used_base_keys.iter().copied().collect(),
    )
}

fn record_bytes(record: &SessionRecord) -> Vec<u8> {
    record.to_bytes().to_vec()
}

/// `to_bytes` then `from_bytes` must give a record that serialises to the same bytes.
fn assert_round_trip(record: &SessionRecord) -> SessionRecord {
    let bytes = record_bytes(record);
    let again = SessionRecord::from_bytes(&bytes).expect("a serialised record must load");
    assert_eq!(
        record_bytes(&again),
        bytes,
        "record changed in a round trip"
    );
    again
}

// ---------------------------------------------------------------------------------------------
// Decoders
// ---------------------------------------------------------------------------------------------

/// `PublicKey::from_wire`: accepted keys re-encode to the input and agree without panicking.
pub fn public_key(data: &[u8]) {
    let Ok(key) = PublicKey::from_wire(data) else {
        return;
    };
    assert_eq!(&key.encode()[..], data, "X25519 key does not re-encode");
    assert_eq!(PublicKey::from_raw(*key.as_bytes()), Ok(key));
    let _ = key.require_torsion_free();
    let shared = PrivateKey::from_bytes([0x42; 32]).agree(&key);
    // Small-order points are refused, so an accepted key always contributes.
    assert!(shared.is_ok(), "accepted X25519 key is non-contributory");
}

/// `IdentityKey::from_wire`: accepted identities re-encode to the input.
pub fn identity_key(data: &[u8]) {
    let Ok(identity) = IdentityKey::from_wire(data) else {
        return;
    };
    let encoded = identity.encode();
    assert_eq!(&encoded[..], data, "identity does not re-encode");
    assert_eq!(IdentityKey::from_wire(&encoded), Ok(identity));
}

/// `KemPublicKey::from_wire` and `KemCiphertext::from_wire` on the same bytes.
pub fn kem(data: &[u8]) {
    if let Ok(key) = KemPublicKey::from_wire(data) {
        assert_eq!(key.encode(), data, "ML-KEM key does not re-encode");
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let (ciphertext, _) = key.encapsulate(&mut rng);
        assert!(KemCiphertext::from_wire(&ciphertext.encode()).is_ok());
    }
    if let Ok(ciphertext) = KemCiphertext::from_wire(data) {
        assert_eq!(
            ciphertext.encode(),
            data,
            "ML-KEM ciphertext does not re-encode"
        );
        // Implicit rejection: any ciphertext decapsulates (to some secret), never panics.
        let _ = fixture().fresh_bob.store.kem[&900]
            .key_pair
            .secret
            .decapsulate(&ciphertext);
    }
}

/// `VerifiedPreKeyBundle::from_wire`: an accepted bundle starts a session that can send.
pub fn bundle(data: &[u8]) {
    let Ok(bundle) = VerifiedPreKeyBundle::from_wire(data) else {
        return;
    };
    let alice = &fixture().fresh_alice;
    let mut rng = copy_rng(&alice.rng);
    let remote = Address::new("bob", 1).unwrap();
    let mut record = SessionRecord::new();
    if record
        .initiate(alice.parties(&remote), &bundle, &mut rng)
        .is_err()
    {
        assert!(
            !record.has_current_session(),
            "failed initiate changed the record"
        );
        return;
    }
    let message = record.encrypt(b"first", &mut rng).unwrap();
    assert_eq!(message[0], 0x12, "a new session sends prekey messages");
    assert_round_trip(&record);
}

/// `SessionRecord::from_bytes`: a loaded record round-trips, and using it cannot panic or
/// change it on failure.
pub fn session_record(data: &[u8]) {
    let Ok(record) = SessionRecord::from_bytes(data) else {
        return;
    };
    let record = assert_round_trip(&record);
    let f = fixture();
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let mut sender = record.clone();
    let before = record_bytes(&sender);
    if sender.encrypt(b"ping", &mut rng).is_err() {
        assert_eq!(
            record_bytes(&sender),
            before,
            "failed encrypt changed the record"
        );
    }
    // Hostile records meet well-formed messages: one ratchet message, one prekey message.
    let mut bob = f.bob.clone();
    for message in [&f.alice_next[0], &f.hello] {
        bob.record = record.clone();
        match bob.decrypt(&f.alice.address, message) {
            Ok(_) => {
                assert_round_trip(&bob.record);
            }
            Err(_) => assert_eq!(record_bytes(&bob.record), before, "failed decrypt changed"),
        }
    }
}

/// `SafetyNumber::compare_scanned` against Alice's number: a match exactly when the payload
/// carries Bob's view of the same two identities.
pub fn safety_number_scan(data: &[u8]) {
    let f = fixture();
    let result = f.safety_number.compare_scanned(data);
    let expected = CombinedFingerprints::decode(&f.bob_qr[..]).unwrap();
    let matches = CombinedFingerprints::decode(data).is_ok_and(|scanned| {
        scanned.version == expected.version
            && scanned.local_fingerprint == expected.local_fingerprint
            && scanned.remote_fingerprint == expected.remote_fingerprint
    });
    assert_eq!(
        matches!(result, Ok(Comparison::Match)),
        matches,
        "compare_scanned disagrees with the payload: {result:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Decryption with fixed sessions
// ---------------------------------------------------------------------------------------------

/// Bob, in an established session, decrypts the input as a message from Alice.
pub fn decrypt_ratchet(data: &[u8]) {
    let f = fixture();
    decrypt_once_then_duplicate(f.bob.clone(), &f.alice, data);
}

/// Bob, with no session yet, decrypts the input (normally a prekey message from Alice).
pub fn decrypt_prekey(data: &[u8]) {
    let f = fixture();
    let bob = f.fresh_bob.clone();
    let Some(used) = decrypt_once_then_duplicate(bob, &f.fresh_alice, data) else {
        return;
    };
    // A replayed prekey message must not open a second session even where the first one was
    // lost: the used prekeys were retired (or the last-resort base key remembered).
    let mut restored = f.fresh_bob.clone();
    restored.store.apply(&used);
    let store_before = store_state(&restored.store);
    let replay = restored.decrypt(&f.fresh_alice.address, data);
    assert!(
        replay.is_err(),
        "replayed prekey message opened a session again"
    );
    assert!(!restored.record.has_current_session());
    assert_eq!(store_state(&restored.store), store_before);
}

/// Decrypts `data` at `receiver`: on failure nothing changed; on success the same bytes are a
/// duplicate afterwards. Returns the prekeys a new session used.
fn decrypt_once_then_duplicate(
    mut receiver: Party,
    sender: &Party,
    data: &[u8],
) -> Option<sotto_core::PreKeyUse> {
    let record_before = record_bytes(&receiver.record);
    let store_before = store_state(&receiver.store);
    let had_session = receiver.record.has_current_session();
    let archived_before = receiver.record.archived_count();
    let decrypted = match receiver.decrypt(&sender.address, data) {
        Ok(decrypted) => decrypted,
        Err(error) => {
            assert_eq!(
                record_bytes(&receiver.record),
                record_before,
                "record changed by a failed decryption ({error:?})"
            );
            assert_eq!(store_state(&receiver.store), store_before);
            return None;
        }
    };
    assert!(receiver.record.has_current_session());
    if !had_session {
        assert!(
            decrypted.pre_key_use.is_some(),
            "a new session reports its prekeys"
        );
    }
    if decrypted.pre_key_use.is_some() && had_session {
        assert_eq!(receiver.record.archived_count(), archived_before + 1);
    }
    receiver.retire(&decrypted);
    receiver.record = assert_round_trip(&receiver.record);
    let after = record_bytes(&receiver.record);
    let again = receiver.decrypt(&sender.address, data);
    assert!(
        matches!(again, Err(DecryptError::Duplicate { .. })),
        "second decryption of the same message: {:?}",
        again.map(|d| d.plaintext.len())
    );
    assert_eq!(record_bytes(&receiver.record), after);
    decrypted.pre_key_use
}

// ---------------------------------------------------------------------------------------------
// Two parties, driven by the input
// ---------------------------------------------------------------------------------------------

const MAX_OPS: usize = 200;
const MAX_PENDING: usize = 24;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Side {
    Alice,
    Bob,
}

impl Side {
    fn peer(self) -> Self {
        match self {
            Self::Alice => Self::Bob,
            Self::Bob => Self::Alice,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A message as it was sent.
struct Origin {
    from: Side,
    /// Which session (numbered in the order Alice started them) it was sent on.
    session: usize,
    /// Which of the sender's ratchet keys in that session (0 = the first) it was sent with.
    chain: usize,
    plaintext: Vec<u8>,
    bytes: Vec<u8>,
    pre_key: bool,
    delivered: bool,
}

/// A message in flight: a copy of an [`Origin`], perhaps altered.
struct InFlight {
    origin: usize,
    bytes: Vec<u8>,
}

/// The two parties and a model of what each must be able to decrypt.
struct World {
    parties: [Party; 2],
    sent: Vec<Origin>,
    pending: Vec<InFlight>,
    /// The session each party sends on (Sesame: the one that last decrypted, or the newest).
    current: [Option<usize>; 2],
    /// Who started each session (session 0 is Alice's, from the fixture).
    initiators: Vec<Side>,
    /// Per (sender, session): the sender's ratchet keys, in the order it created them.
    ratchet_keys: HashMap<(Side, usize), Vec<Vec<u8>>>,
    /// Per (receiver, session): the newest chain of the peer it has decrypted from.
    newest: HashMap<(Side, usize), usize>,
    /// `(responder, session)` for every session a responder has accepted.
    accepted: HashSet<(Side, usize)>,
}

/// A stream of op bytes; reads past the end give zeros.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Interprets the input as operations on an Alice/Bob pair and checks after each one that:
/// every untampered message decrypts exactly once to what was sent (unless its receiving chain
/// was legitimately evicted: the receiver keeps only the newest [`MAX_RECEIVING_CHAINS`]), a
/// redelivery is [`DecryptError::Duplicate`], a tampered message fails (or, for a prekey
/// message whose header alone was altered, decrypts as the original), and a failed decryption
/// leaves record and prekey store byte-identical.
///
/// Byte 0 picks the start (even: a fresh, unacknowledged session; odd: an established one),
/// then each op is one byte (`% 9`) and its arguments:
/// `0 len` Alice sends, `1 len` Bob sends, `2 k` deliver pending k, `3 k` drop pending k,
/// `4 k` duplicate pending k, `5 k pos pos mask` flip bits of pending k, `6 k` redeliver a
/// delivered message, `7 side` reload a record from its bytes, `8 side` start a new session.
pub fn two_party(data: &[u8]) {
    let mut input = Input(data);
    let mut world = World::new(input.byte() & 1 == 1);
    for _ in 0..MAX_OPS {
        if input.is_empty() {
            break;
        }
        match input.byte() % 9 {
            0 => world.send(Side::Alice, input.byte()),
            1 => world.send(Side::Bob, input.byte()),
            2 => world.deliver_pending(input.byte()),
            3 => world.drop_pending(input.byte()),
            4 => world.duplicate_pending(input.byte()),
            5 => {
                let (k, hi, lo, mask) = (input.byte(), input.byte(), input.byte(), input.byte());
                world.flip(k, usize::from(u16::from_be_bytes([hi, lo])), mask);
            }
            6 => world.redeliver(input.byte()),
            7 => world.reload(input.byte()),
            _ => world.start_new_session(input.byte()),
        }
    }
}

impl World {
    fn new(established: bool) -> Self {
        let f = fixture();
        let mut world = Self {
            parties: [f.fresh_alice.clone(), f.fresh_bob.clone()],
            sent: Vec::new(),
            pending: Vec::new(),
            current: [Some(0), None],
            initiators: vec![Side::Alice],
            ratchet_keys: HashMap::new(),
            newest: HashMap::new(),
            accepted: HashSet::new(),
        };
        if established {
            world.parties = [f.alice.clone(), f.bob.clone()];
            world.current[Side::Bob.index()] = Some(0);
            world.accepted.insert((Side::Bob, 0));
            for (side, message) in [(Side::Alice, &f.hello), (Side::Bob, &f.hi)] {
                let chain = world.chain_of(side, 0, message);
                world.set_newest(side.peer(), 0, chain);
            }
        }
        world
    }

    fn party(&mut self, side: Side) -> &mut Party {
        &mut self.parties[side.index()]
    }

    /// The index of the ratchet key `message` was sent with, registering a new one.
    fn chain_of(&mut self, from: Side, session: usize, message: &[u8]) -> usize {
        let key = ratchet_key(message);
        let keys = self.ratchet_keys.entry((from, session)).or_default();
        keys.iter().position(|k| *k == key).unwrap_or_else(|| {
            keys.push(key);
            keys.len() - 1
        })
    }

    fn newest(&self, receiver: Side, session: usize) -> Option<usize> {
        self.newest.get(&(receiver, session)).copied()
    }

    fn set_newest(&mut self, receiver: Side, session: usize, chain: usize) {
        let newest = self.newest.entry((receiver, session)).or_insert(chain);
        *newest = (*newest).max(chain);
    }

    fn send(&mut self, from: Side, len: u8) {
        let number = self.sent.len();
        let plaintext: Vec<u8> = (0..usize::from(len) * 3)
            .map(|i| (number as u8).wrapping_mul(31).wrapping_add(i as u8))
            .collect();
        let before = record_bytes(&self.party(from).record);
        let bytes = match self.party(from).encrypt(&plaintext) {
            Ok(bytes) => bytes,
            Err(error) => {
                assert_eq!(
                    self.current[from.index()],
                    None,
                    "encrypt failed: {error:?}"
                );
                assert_eq!(error, EncryptError::NoSession);
                assert_eq!(record_bytes(&self.party(from).record), before);
                return;
            }
        };
        let session = self.current[from.index()].expect("sent without a session");
        let chain = self.chain_of(from, session, &bytes);
        self.sent.push(Origin {
            from,
            session,
            chain,
            plaintext,
            pre_key: bytes[0] == 0x12,
            bytes: bytes.clone(),
            delivered: false,
        });
        if self.pending.len() >= MAX_PENDING {
            self.pending.remove(0);
        }
        self.pending.push(InFlight {
            origin: number,
            bytes,
        });
    }

    fn pick(&self, k: u8) -> Option<usize> {
        (!self.pending.is_empty()).then(|| usize::from(k) % self.pending.len())
    }

    fn deliver_pending(&mut self, k: u8) {
        if let Some(index) = self.pick(k) {
            let message = self.pending.remove(index);
            self.deliver(&message);
        }
    }

    fn drop_pending(&mut self, k: u8) {
        if let Some(index) = self.pick(k) {
            self.pending.remove(index);
        }
    }

    fn duplicate_pending(&mut self, k: u8) {
        if let Some(index) = self.pick(k)
            && self.pending.len() < MAX_PENDING
        {
            let copy = InFlight {
                origin: self.pending[index].origin,
                bytes: self.pending[index].bytes.clone(),
            };
            self.pending.push(copy);
        }
    }

    fn flip(&mut self, k: u8, position: usize, mask: u8) {
        if let Some(index) = self.pick(k) {
            let bytes = &mut self.pending[index].bytes;
            let at = position % bytes.len();
            bytes[at] ^= mask.max(1);
        }
    }

    fn redeliver(&mut self, k: u8) {
        let delivered: Vec<usize> = (0..self.sent.len())
            .filter(|&i| self.sent[i].delivered)
            .collect();
        if delivered.is_empty() {
            return;
        }
        let origin = delivered[usize::from(k) % delivered.len()];
        let message = InFlight {
            origin,
            bytes: self.sent[origin].bytes.clone(),
        };
        self.deliver(&message);
    }

    fn reload(&mut self, side: u8) {
        let side = if side & 1 == 0 {
            Side::Alice
        } else {
            Side::Bob
        };
        let party = self.party(side);
        party.record = assert_round_trip(&party.record);
    }

    /// One side fetches another of the peer's bundles and starts a new session (at most three
    /// times each); both may do so at once, and Sesame must then keep every session readable.
    fn start_new_session(&mut self, side: u8) {
        let side = if side & 1 == 0 {
            Side::Alice
        } else {
            Side::Bob
        };
        let started = self.initiators.iter().filter(|&&s| s == side).count();
        let bundles = match side {
            Side::Alice => &fixture().later_bundles,
            Side::Bob => &fixture().alice_bundles,
        };
        // Session 0 is Alice's, started with the fixture's own bundle.
        let next = started - usize::from(side == Side::Alice);
        let Some(bundle) = bundles.get(next) else {
            return;
        };
        let peer = self.parties[side.peer().index()].address.clone();
        self.party(side).initiate(bundle, &peer);
        self.current[side.index()] = Some(self.initiators.len());
        self.initiators.push(side);
    }

    fn deliver(&mut self, message: &InFlight) {
        let origin = &self.sent[message.origin];
        let (from, to, session, chain) = (
            origin.from,
            origin.from.peer(),
            origin.session,
            origin.chain,
        );
        let tampered = message.bytes != origin.bytes;
        let already = origin.delivered;
        // Only the newest MAX_RECEIVING_CHAINS chains of each session are kept.
        let chain_kept = self
            .newest(to, session)
            .is_none_or(|newest| chain + MAX_RECEIVING_CHAINS > newest);
        let new_session = self.initiators[session] != to && !self.accepted.contains(&(to, session));
        let sender_address = self.parties[from.index()].address.clone();
        let sender_identity = self.parties[from.index()].identity.public().clone();
        let record_before = record_bytes(&self.party(to).record);
        let store_before = store_state(&self.party(to).store);
        let result = self.party(to).decrypt(&sender_address, &message.bytes);
        let Ok(decrypted) = result else {
            let error = result.err();
            assert_eq!(
                record_bytes(&self.party(to).record),
                record_before,
                "a failed decryption changed the record ({error:?})"
            );
            assert_eq!(store_state(&self.party(to).store), store_before);
            assert!(
                tampered || !chain_kept || already,
                "message {} (session {session}, chain {chain}) did not decrypt: {error:?}",
                message.origin
            );
            if !tampered && chain_kept && already {
                assert!(
                    matches!(error, Some(DecryptError::Duplicate { .. })),
                    "redelivery of message {} gave {error:?}",
                    message.origin
                );
            }
            return;
        };
        let origin = &self.sent[message.origin];
        assert!(!already, "message {} decrypted twice", message.origin);
        assert!(chain_kept, "message on an evicted chain decrypted");
        assert!(
            !tampered || origin.pre_key,
            "tampered message {} decrypted",
            message.origin
        );
        assert_eq!(
            &decrypted.plaintext[..],
            &origin.plaintext[..],
            "wrong plaintext"
        );
        assert_eq!(decrypted.remote_identity, sender_identity, "wrong identity");
        assert_eq!(
            decrypted.pre_key_use.is_some(),
            new_session,
            "prekeys reported used iff a session was created"
        );
        self.party(to).retire(&decrypted);
        self.sent[message.origin].delivered = true;
        self.set_newest(to, session, chain);
        self.current[to.index()] = Some(session);
        if self.initiators[session] != to {
            self.accepted.insert((to, session));
        }
    }
}

/// The sender's ratchet key in a (well-formed, as sent) ratchet or prekey message.
fn ratchet_key(message: &[u8]) -> Vec<u8> {
    let inner = if message[0] == 0x12 {
        wire::PreKeyMessage::decode(&message[1..]).unwrap().message
    } else {
        message.to_vec()
    };
    let body = &inner[1..inner.len() - 32];
    wire::RatchetMessage::decode(body).unwrap().ratchet_key
}

// ---------------------------------------------------------------------------------------------
// Seeds
// ---------------------------------------------------------------------------------------------

/// Messages from Alice that Bob's fixed established session accepts: her next chain at counters
/// 0, 1 and 5, and a long one at counter 6.
fn next_messages(alice: &Party) -> Vec<Vec<u8>> {
    let mut alice = alice.clone();
    let mut out = Vec::new();
    for i in 0..6u8 {
        let message = alice.encrypt(&[i; 10]).unwrap();
        if matches!(i, 0 | 1 | 5) {
            out.push(message);
        }
    }
    out.push(alice.encrypt(&[0xab; 700]).unwrap());
    out
}

/// Valid inputs for each target, named `(target, bytes)`.
/// The relay's JSON decoders (requests, WebSocket client frames) and the client's (responses,
/// server frames): input either fails to decode or decodes to a value that survives an
/// encode/decode round trip unchanged. Validation beyond the types is the relay's, tested there.
pub fn api_json(data: &[u8]) {
    use sotto_proto::api;
    round_trip::<api::RegisterRequest>(data);
    round_trip::<api::NewDevice>(data);
    round_trip::<api::PreKeyUpload>(data);
    round_trip::<api::SendRequest>(data);
    round_trip::<api::ClientFrame>(data);
    round_trip::<api::ServerFrame>(data);
    round_trip::<api::RegisterResponse>(data);
    round_trip::<api::AccountInfo>(data);
    round_trip::<api::PreKeyBundle>(data);
    round_trip::<api::SendResponse>(data);
    round_trip::<api::ErrorBody>(data);
    round_trip::<api::MultiSendRequest>(data);
    round_trip::<api::SealedSenderSettings>(data);
    round_trip::<api::SealedMultiSendRequest>(data);
    round_trip::<api::SenderCertificateResponse>(data);
    round_trip::<api::TrustRootResponse>(data);
}

fn round_trip<T>(data: &[u8])
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    if let Ok(value) = serde_json::from_slice::<T>(data) {
        let encoded = serde_json::to_vec(&value).expect("a decoded value encodes");
        let again: T = serde_json::from_slice(&encoded).expect("our own encoding decodes");
        assert_eq!(value, again, "JSON round trip changed the value");
    }
}

/// The binary frames of the delivery WebSocket (`sotto_proto::frames`), read by the relay
/// (client frames) and by clients (server frames): input either fails with a typed error or
/// decodes to a value that encodes back to a frame decoding to the same value.
pub fn ws_frames(data: &[u8]) {
    use sotto_proto::frames;
    if let Ok(kind) = frames::decode_client(data) {
        let again = frames::decode_client(&frames::encode_client(kind.clone()));
        assert_eq!(
            again.as_ref(),
            Ok(&kind),
            "client frame round trip changed the value"
        );
    }
    if let Ok(kind) = frames::decode_server(data) {
        let again = frames::decode_server(&frames::encode_server(kind.clone()));
        assert_eq!(
            again.as_ref(),
            Ok(&kind),
            "server frame round trip changed the value"
        );
    }
}

/// Example binary frames: a send, an ack batch, a pushed envelope, queue empty, a send error.
fn ws_frames_seeds() -> Vec<Vec<u8>> {
    use sotto_proto::frames::*;
    let send = SendMessage {
        request_id: 1,
        recipient_account: "0123456789abcdef0123456789abcdef".into(),
        message_id: "message-000000000001".into(),
        envelopes: vec![DeviceCiphertext {
            device_id: 1,
            content: vec![0xab; 40],
        }],
    };
    let pushed = PushedEnvelope {
        id: 3,
        message_id: "message-000000000001".into(),
        sender_account: Some("0123456789abcdef0123456789abcdef".into()),
        sender_device: Some(1),
        server_timestamp: 1_790_000_000_000,
        content: vec![0xcd; 40],
    };
    let failed = SendResult {
        request_id: 2,
        duplicate: false,
        error: Some(SendError {
            status: 409,
            code: "device_mismatch".into(),
            message: "device list mismatch".into(),
            missing_devices: vec![2],
            extra_devices: vec![3],
            retry_after_s: 0,
        }),
    };
    vec![
        encode_client(client_message::Kind::Send(send)),
        encode_client(client_message::Kind::Acks(Acks {
            ids: vec![1, 2, 300],
        })),
        encode_server(server_message::Kind::Envelope(pushed)),
        encode_server(server_message::Kind::QueueEmpty(QueueEmpty {})),
        encode_server(server_message::Kind::SendResult(failed)),
    ]
}

/// Example API bodies (hand-written, each valid for at least one type).
fn api_json_seeds() -> Vec<Vec<u8>> {
    [
        r#"{"type":"ack","id":5}"#,
        r#"{"envelopes":[{"device_id":1,"content":"AAEC"}]}"#,
        r#"{"code":"rate_limited","message":"slow down"}"#,
        r#"{"type":"queue_empty"}"#,
        r#"{"type":"envelope","id":1,"message_id":"m-1","sender_account":null,"sender_device":null,"server_timestamp":0,"content":""}"#,
        r#"{"content":"AAEC","recipients":[{"account_id":"0123456789abcdef0123456789abcdef","devices":[{"device_id":1,"registration_id":42},{"device_id":2,"registration_id":43}]}]}"#,
        r#"{"code":"device_mismatch","message":"m","accounts":[{"account_id":"0123456789abcdef0123456789abcdef","missing_devices":[3],"stale_devices":[1]}],"unknown_accounts":["fedcba9876543210fedcba9876543210"]}"#,
        r#"{"access_key":"AAECAwQFBgcICQoLDA0ODw==","unrestricted":false}"#,
        r#"{"shared":"EiEA","recipients":[{"account_id":"0123456789abcdef0123456789abcdef","access_key":"AAECAwQFBgcICQoLDA0ODw==","header":"AAEC","devices":[{"device_id":1}]}]}"#,
        r#"{"trust_root":"AAEC","key_id":1,"revoked_key_ids":[2]}"#,
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

/// Attachment decryption of arbitrary blobs. Input: announced size (u16, big-endian), the size
/// of the slices the blob is fed in, then the blob; its digest is taken as announced, so
/// inputs get past the digest to the chunk checks. A blob that decrypts must be exactly the
/// one the (deterministic) encryptor makes of the output: nothing else may be accepted.
pub fn attachment(data: &[u8]) {
    use sotto_core::attachment::{
        AttachmentDecryptor, AttachmentEncryptor, AttachmentKey, blob_digest,
    };
    let [hi, lo, step, blob @ ..] = data else {
        return;
    };
    let len = u64::from(u16::from_be_bytes([*hi, *lo]));
    let key = AttachmentKey::from_bytes(ATTACHMENT_KEY);
    let mut dec = AttachmentDecryptor::new(&key, len, blob_digest(blob));
    let mut plaintext = Vec::new();
    for slice in blob.chunks(usize::from(*step) + 1) {
        if dec.update(slice, &mut plaintext).is_err() {
            return;
        }
    }
    if dec.finish().is_err() {
        return;
    }
    assert_eq!(
        plaintext.len() as u64,
        len,
        "decrypted size differs from the announced one"
    );
    let mut enc = AttachmentEncryptor::new(&key, len);
    let mut again = Vec::new();
    enc.update(&plaintext, &mut again).unwrap();
    enc.finish(&mut again).unwrap();
    assert_eq!(
        again, blob,
        "an accepted blob is not the encryption of its plaintext"
    );
}

const ATTACHMENT_KEY: [u8; 32] = [0xA7; 32];

/// Valid attachment inputs: small files around the padding and chunk edges.
fn attachment_seeds() -> Vec<Vec<u8>> {
    use sotto_core::attachment::{AttachmentEncryptor, AttachmentKey};
    [0u16, 1, 600, 5000]
        .iter()
        .map(|&len| {
            let plaintext: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut enc =
                AttachmentEncryptor::new(&AttachmentKey::from_bytes(ATTACHMENT_KEY), len.into());
            let mut input = len.to_be_bytes().to_vec();
            input.push(200);
            enc.update(&plaintext, &mut input).unwrap();
            enc.finish(&mut input).unwrap();
            input
        })
        .collect()
}

pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let f = fixture();
    let mut out = Vec::new();
    for json in api_json_seeds() {
        out.push(("api_json", json));
    }
    for frame in ws_frames_seeds() {
        out.push(("ws_frames", frame));
    }
    let (alice, bob) = (&f.alice, &f.bob);
    out.push((
        "public_key",
        alice.identity.public().agreement_key().encode().to_vec(),
    ));
    out.push((
        "public_key",
        bob.store.signed[&7].key_pair.public.encode().to_vec(),
    ));
    out.push(("identity_key", alice.identity.public().encode().to_vec()));
    out.push(("identity_key", bob.identity.public().encode().to_vec()));
    out.push(("kem", bob.store.kem[&900].key_pair.public.encode()));
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let (ciphertext, _) = bob.store.kem[&900].key_pair.public.encapsulate(&mut rng);
    out.push(("kem", ciphertext.encode()));
    for (one_time, kem) in [(Some(100), 300), (None, 900)] {
        out.push((
            "bundle",
            f.fresh_bob.bundle_wire(one_time, kem).encode_to_vec(),
        ));
    }
    for party in [&f.fresh_alice, &f.alice, &f.bob] {
        out.push(("session_record", record_bytes(&party.record)));
    }
    out.push(("session_record", record_bytes(&busy_record())));
    out.push(("safety_number_scan", f.bob_qr.clone()));
    out.push(("safety_number_scan", f.safety_number.qr_payload()));
    for message in &f.alice_next {
        out.push(("decrypt_ratchet", message.clone()));
    }
    out.push(("decrypt_prekey", f.hello.clone()));
    let mut fresh_alice = f.fresh_alice.clone();
    fresh_alice.encrypt(b"first").unwrap();
    out.push(("decrypt_prekey", fresh_alice.encrypt(&[7; 200]).unwrap()));
    for bundle in &f.later_bundles[1..] {
        let mut alice = f.fresh_alice.clone();
        alice.initiate(bundle, &f.fresh_bob.address);
        out.push(("decrypt_prekey", alice.encrypt(b"again").unwrap()));
    }
    for ops in two_party_seeds() {
        out.push(("two_party", ops));
    }
    for input in attachment_seeds() {
        out.push(("attachment", input));
    }
    out
}

/// A record with skipped keys, several receiving chains and an archived session.
fn busy_record() -> SessionRecord {
    let f = fixture();
    let (mut alice, mut bob) = (f.alice.clone(), f.bob.clone());
    for round in 0..3u8 {
        let messages: Vec<Vec<u8>> = (0..4)
            .map(|i| alice.encrypt(&[round, i]).unwrap())
            .collect();
        for message in messages.iter().rev().take(2) {
            bob.decrypt(&alice.address, message).unwrap();
        }
        let answer = bob.encrypt(&[round]).unwrap();
        alice.decrypt(&bob.address, &answer).unwrap();
    }
    alice.initiate(&f.later_bundles[0], &bob.address);
    let message = alice.encrypt(b"new session").unwrap();
    let d = bob.decrypt(&alice.address, &message).unwrap();
    bob.retire(&d);
    bob.record
}

fn two_party_seeds() -> Vec<Vec<u8>> {
    vec![
        // Fresh: several prekey messages, out of order, then answers both ways.
        vec![
            0, 0, 5, 0, 60, 0, 1, 2, 1, 2, 0, 1, 9, 2, 0, 0, 2, 2, 0, 6, 0,
        ],
        // Established: ping-pong with a reload on each side.
        vec![
            1, 0, 20, 2, 0, 1, 3, 2, 0, 7, 0, 0, 4, 2, 0, 7, 1, 1, 200, 2, 0,
        ],
        // Established: duplicates, a drop, a flip.
        vec![
            1, 0, 1, 0, 2, 4, 0, 3, 1, 5, 0, 0, 9, 0x40, 2, 0, 2, 0, 2, 0, 6, 1,
        ],
        // Established: seven ratchet turns with a message left behind on the first chain.
        vec![
            1, 0, 5, 0, 5, 2, 0, 1, 1, 2, 1, 0, 2, 2, 1, 1, 3, 2, 1, 0, 4, 2, 1, 1, 5, 2, 1, 0, 6,
            2, 1, 1, 7, 2, 1, 0, 8, 2, 1, 1, 9, 2, 1, 0, 10, 2, 1, 2, 0,
        ],
        // Established, then a new session from Alice while old messages are in flight.
        vec![
            1, 1, 3, 0, 4, 8, 0, 0, 5, 2, 1, 2, 1, 1, 6, 2, 0, 2, 0, 0, 7, 2, 0, 8, 0, 0, 1, 2, 0,
        ],
        // Established, then both start a new session at once and answer on each.
        vec![
            1, 8, 0, 8, 1, 0, 2, 1, 4, 2, 0, 2, 0, 1, 5, 0, 6, 2, 0, 2, 0, 2, 0, 1, 7, 2, 0, 0, 8,
            2, 0,
        ],
    ]
}
