//! A two-party harness shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use chacha20::ChaCha20Rng;
use rand_core::SeedableRng;
use sotto_core::bundle::{self, VerifiedPreKeyBundle};
use sotto_core::{
    Address, DecryptError, Decrypted, IdentityKeyPair, InMemoryPreKeyStore, KemPreKeyKind,
    KemPreKeyPair, OneTimePreKeyPair, Parties, SessionRecord, SignedPreKeyPair,
};

/// One device with its keys and its session record with the peer.
pub struct Party {
    pub identity: IdentityKeyPair,
    pub address: Address,
    pub store: InMemoryPreKeyStore,
    pub record: SessionRecord,
    pub rng: ChaCha20Rng,
}

impl Party {
    pub fn new(name: &str, device: u32, seed: u64) -> Self {
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
        let kem = KemPreKeyPair::generate(&identity, 300, KemPreKeyKind::OneTime, &mut rng);
        store.kem.insert(kem.id, kem);
        let last = KemPreKeyPair::generate(&identity, 900, KemPreKeyKind::LastResort, &mut rng);
        store.kem.insert(last.id, last);
        let address = Address::new(name, device).unwrap();
        Self {
            identity,
            address,
            store,
            record: SessionRecord::new(),
            rng,
        }
    }

    /// A bundle as the server would hand it out: a one-time key if asked, and the one-time or
    /// the last-resort KEM key.
    pub fn bundle(&self, one_time: Option<u32>, kem_id: u32) -> VerifiedPreKeyBundle {
        let wire = bundle::publish(
            &self.identity,
            &self.store.signed[&7],
            one_time.map(|id| &self.store.one_time[&id]),
            &self.store.kem[&kem_id],
        );
        VerifiedPreKeyBundle::verify(&wire).unwrap()
    }

    pub fn parties<'a>(&'a self, remote: &'a Address) -> Parties<'a> {
        Parties {
            local_identity: &self.identity,
            local_address: &self.address,
            remote_address: remote,
        }
    }

    pub fn initiate(&mut self, bundle: &VerifiedPreKeyBundle, remote: &Address) {
        let parties = Parties {
            local_identity: &self.identity,
            local_address: &self.address,
            remote_address: remote,
        };
        self.record
            .initiate(parties, bundle, &mut self.rng)
            .unwrap();
    }

    pub fn encrypt(&mut self, plaintext: &[u8]) -> Vec<u8> {
        self.record.encrypt(plaintext, &mut self.rng).unwrap()
    }

    /// Decrypts and, like a real client, retires used prekeys.
    pub fn decrypt(&mut self, from: &Address, message: &[u8]) -> Result<Decrypted, DecryptError> {
        let parties = Parties {
            local_identity: &self.identity,
            local_address: &self.address,
            remote_address: from,
        };
        let decrypted = self.record.decrypt(parties, message, &self.store)?;
        if let Some(used) = &decrypted.pre_key_use {
            self.store.apply(used);
        }
        Ok(decrypted)
    }
}

/// Alice (initiator) and Bob, with a session started from Bob's bundle (one-time keys used).
pub fn pair() -> (Party, Party) {
    let mut alice = Party::new("alice", 1, 1);
    let bob = Party::new("bob", 1, 2);
    let bundle = bob.bundle(Some(100), 300);
    let bob_address = bob.address.clone();
    alice.initiate(&bundle, &bob_address);
    (alice, bob)
}

/// A pair that has exchanged one message each way (the session is acknowledged).
pub fn established() -> (Party, Party) {
    let (mut alice, mut bob) = pair();
    let m = alice.encrypt(b"hello");
    bob.decrypt(&alice.address.clone(), &m).unwrap();
    let r = bob.encrypt(b"hi");
    alice.decrypt(&bob.address.clone(), &r).unwrap();
    (alice, bob)
}
