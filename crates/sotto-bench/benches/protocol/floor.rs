//! The primitive floor of each measured operation: the X25519, Ed25519, ML-KEM, SHA-2, HKDF,
//! HMAC and AES calls sotto-core makes for it, on the same sizes and with the same data flow,
//! and nothing else (no encoding, parsing, allocation of messages, copies or state handling).
//!
//! Each floor mirrors the code path it names; see `docs/benchmarks.md` for the list per
//! operation. Inputs that the operation receives (keys, signatures, ciphertexts) are prepared
//! outside the timed section, as they are for the Sotto benches.

use aes::Aes256;
use chacha20::ChaCha20Rng;
use ctr::Ctr128BE;
use ctr::cipher::{KeyIvInit, StreamCipher};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use libcrux_ml_kem::mlkem1024::{self, MlKem1024PrivateKey, MlKem1024PublicKey};
use rand_core::{Rng, SeedableRng};
use sha2::{Digest, Sha256, Sha512};
use sotto_core::labels;
use x25519_dalek::{PublicKey, StaticSecret};

/// `HMAC-SHA256(key, [byte])`: one chain-key step.
fn chain_hmac(key: &[u8; 32], byte: u8) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
    mac.update(&[byte]);
    mac.finalize().into_bytes().into()
}

/// The root KDF: `HKDF(salt = RK, IKM = dh)` → 64 bytes (new root key, chain key).
fn root_kdf(root: &[u8; 32], dh: &[u8; 32]) -> ([u8; 32], [u8; 32]) {
    let mut okm = [0u8; 64];
    Hkdf::<Sha256>::new(Some(root), dh)
        .expand(labels::RATCHET_ROOT, &mut okm)
        .expect("64 bytes");
    let (mut next_root, mut chain) = ([0; 32], [0; 32]);
    next_root.copy_from_slice(&okm[..32]);
    chain.copy_from_slice(&okm[32..]);
    (next_root, chain)
}

/// The PQXDH KDF: `HKDF(salt = 0^32, IKM = 0xFF*32 || DHs || SS, info = label || T)` → 32 bytes.
fn pqxdh_kdf(dh: &[[u8; 32]; 4], kem: &[u8; 32], transcript: &[u8; 32]) -> [u8; 32] {
    let mut ikm = [0u8; 32 * 6];
    ikm[..32].fill(0xff);
    for (slot, secret) in ikm[32..].chunks_mut(32).zip(dh.iter().chain([kem])) {
        slot.copy_from_slice(secret);
    }
    let mut info = [0u8; 38 + 32];
    info[..labels::PQXDH_INFO.len()].copy_from_slice(labels::PQXDH_INFO);
    info[labels::PQXDH_INFO.len()..].copy_from_slice(transcript);
    let mut root = [0u8; 32];
    Hkdf::<Sha256>::new(Some(&[0; 32]), &ikm)
        .expand(&info, &mut root)
        .expect("32 bytes");
    root
}

fn agree(ours: &StaticSecret, theirs: &PublicKey) -> [u8; 32] {
    let shared = ours.diffie_hellman(theirs);
    assert!(shared.was_contributory());
    shared.to_bytes()
}

/// A key generation as sotto-core does it: 32 bytes from the RNG, then the base-point multiply.
fn generate(rng: &mut ChaCha20Rng) -> (StaticSecret, PublicKey) {
    let mut bytes = [0u8; 32];
    rng.fill_bytes(&mut bytes);
    let private = StaticSecret::from(bytes);
    let public = PublicKey::from(&private);
    (private, public)
}

/// The symmetric work of one ratchet message on a buffer laid out like the real one: the bytes
/// the MAC covers (version byte, header, ciphertext), the ciphertext at the end.
pub struct SymmetricMessage {
    authenticated: Vec<u8>,
    ciphertext_len: usize,
}

impl SymmetricMessage {
    /// `authenticated_len` is the real message's length without its tag; `ciphertext_len` its
    /// padded plaintext length.
    pub fn new(authenticated_len: usize, ciphertext_len: usize) -> Self {
        Self {
            authenticated: vec![0x42; authenticated_len],
            ciphertext_len,
        }
    }

    /// Two chain HMACs and the 80-byte message-key HKDF: (next chain key, cipher, MAC, IV keys).
    fn keys(chain_key: &[u8; 32]) -> ([u8; 32], [u8; 80]) {
        let seed = chain_hmac(chain_key, 0x01);
        let next = chain_hmac(chain_key, 0x02);
        let mut okm = [0u8; 80];
        Hkdf::<Sha256>::new(None, &seed)
            .expand(labels::MESSAGE_KEYS, &mut okm)
            .expect("80 bytes");
        (next, okm)
    }

    fn cipher(&mut self, okm: &[u8; 80]) {
        let (key, iv): ([u8; 32], [u8; 16]) = (
            okm[..32].try_into().expect("32"),
            okm[64..].try_into().expect("16"),
        );
        let start = self.authenticated.len() - self.ciphertext_len;
        Ctr128BE::<Aes256>::new(&key.into(), &iv.into())
            .apply_keystream(&mut self.authenticated[start..]);
    }

    fn mac(&self, okm: &[u8; 80], associated_data: &[u8; 32]) -> [u8; 32] {
        let mut mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(&okm[32..64]).expect("any key length");
        mac.update(associated_data);
        mac.update(&self.authenticated);
        mac.finalize().into_bytes().into()
    }

    /// Sender: keys, AES-256-CTR, HMAC. Returns the next chain key and the tag.
    pub fn seal(&mut self, chain_key: &[u8; 32], ad: &[u8; 32]) -> ([u8; 32], [u8; 32]) {
        let (next, okm) = Self::keys(chain_key);
        self.cipher(&okm);
        (next, self.mac(&okm, ad))
    }

    /// Receiver: keys, HMAC check, AES-256-CTR. Returns the next chain key and the check.
    pub fn open(
        &mut self,
        chain_key: &[u8; 32],
        ad: &[u8; 32],
        tag: &[u8; 32],
    ) -> ([u8; 32], bool) {
        let (next, okm) = Self::keys(chain_key);
        let ok = self.mac(&okm, ad) == *tag;
        self.cipher(&okm);
        (next, ok)
    }
}

/// Steady state, one direction: the sender's and the receiver's chain move in step.
pub struct MessageFloor {
    message: SymmetricMessage,
    sending: [u8; 32],
    receiving: [u8; 32],
    ad: [u8; 32],
}

impl MessageFloor {
    pub fn new(authenticated_len: usize, ciphertext_len: usize) -> Self {
        Self {
            message: SymmetricMessage::new(authenticated_len, ciphertext_len),
            sending: [1; 32],
            receiving: [1; 32],
            ad: [2; 32],
        }
    }

    /// One encrypt and one decrypt.
    pub fn round_trip(&mut self) -> bool {
        let (next_sending, tag) = self.message.seal(&self.sending, &self.ad);
        let (next_receiving, ok) = self.message.open(&self.receiving, &self.ad, &tag);
        self.sending = next_sending;
        self.receiving = next_receiving;
        ok
    }
}

/// One side's DH ratchet state.
struct RatchetSide {
    private: StaticSecret,
    public: PublicKey,
    root: [u8; 32],
}

/// Ping-pong: every message carries a new ratchet key, so both sides step the root.
pub struct RatchetFloor {
    rng: ChaCha20Rng,
    alice: RatchetSide,
    bob: RatchetSide,
    message: SymmetricMessage,
    ad: [u8; 32],
}

impl RatchetFloor {
    pub fn new(authenticated_len: usize, ciphertext_len: usize) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let side = |rng: &mut ChaCha20Rng| {
            let (private, public) = generate(rng);
            RatchetSide {
                private,
                public,
                root: [3; 32],
            }
        };
        let (alice, bob) = (side(&mut rng), side(&mut rng));
        Self {
            rng,
            alice,
            bob,
            message: SymmetricMessage::new(authenticated_len, ciphertext_len),
            ad: [2; 32],
        }
    }

    /// Sender: new key pair, DH, root KDF, seal. Receiver: DH, root KDF, open.
    fn step(
        rng: &mut ChaCha20Rng,
        sender: &mut RatchetSide,
        receiver: &mut RatchetSide,
        message: &mut SymmetricMessage,
        ad: &[u8; 32],
    ) -> bool {
        let (private, public) = generate(rng);
        let (root, chain) = root_kdf(&sender.root, &agree(&private, &receiver.public));
        *sender = RatchetSide {
            private,
            public,
            root,
        };
        let (_, tag) = message.seal(&chain, ad);
        let (root, chain) = root_kdf(&receiver.root, &agree(&receiver.private, &sender.public));
        receiver.root = root;
        message.open(&chain, ad, &tag).1
    }

    /// Alice → Bob then Bob → Alice.
    pub fn turn(&mut self) -> bool {
        let ping = Self::step(
            &mut self.rng,
            &mut self.alice,
            &mut self.bob,
            &mut self.message,
            &self.ad,
        );
        let pong = Self::step(
            &mut self.rng,
            &mut self.bob,
            &mut self.alice,
            &mut self.message,
            &self.ad,
        );
        ping && pong
    }
}

/// An Ed25519 signature to verify strictly, with the signer's encoded key.
struct Signed {
    key: [u8; 32],
    message: Vec<u8>,
    signature: Signature,
}

impl Signed {
    fn new(signer: &SigningKey, message_len: usize) -> Self {
        let message = vec![0x17; message_len];
        Self {
            key: signer.verifying_key().to_bytes(),
            signature: signer.sign(&message),
            message,
        }
    }

    fn verify_with(&self, key: &VerifyingKey) -> bool {
        key.verify_strict(&self.message, &self.signature).is_ok()
    }
}

/// Decodes an Ed25519 key as identity parsing does (decompression, weak-key check).
fn verifying_key(bytes: &[u8; 32]) -> VerifyingKey {
    let key = VerifyingKey::from_bytes(bytes).expect("valid key");
    assert!(!key.is_weak());
    key
}

/// Sizes of the set-up's inputs, taken from a real Sotto run.
pub struct SetupSizes {
    /// Bytes hashed into the PQXDH transcript.
    pub transcript: usize,
    /// The first (inner) ratchet message without its tag.
    pub first_authenticated: usize,
    /// Its padded plaintext.
    pub first_ciphertext: usize,
}

/// Session set-up: bundle verification, PQXDH on both sides, the first message both ways.
pub struct SetupFloor {
    rng: ChaCha20Rng,
    sizes: SetupSizes,
    /// Bob's identity binding, signed prekey and ML-KEM prekey signatures (message lengths as
    /// in sotto-core: label + body).
    bundle_signatures: [Signed; 3],
    /// Alice's identity binding, checked when her prekey message arrives.
    alice_binding: Signed,
    kem_public: Vec<u8>,
    kem_secret: MlKem1024PrivateKey,
    alice_identity: (StaticSecret, PublicKey),
    bob_identity: (StaticSecret, PublicKey),
    bob_signed: (StaticSecret, PublicKey),
    bob_one_time: (StaticSecret, PublicKey),
}

impl SetupFloor {
    pub fn new(sizes: SetupSizes) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        let bob = SigningKey::from_bytes(&[5; 32]);
        let alice = SigningKey::from_bytes(&[6; 32]);
        let binding_len = labels::IDENTITY_BINDING.len() + 33;
        let bundle_signatures = [
            Signed::new(&bob, binding_len),
            Signed::new(&bob, labels::SIGNED_PRE_KEY.len() + 4 + 33),
            Signed::new(&bob, labels::KEM_PRE_KEY.len() + 5 + 1569),
        ];
        let mut seed = [0u8; 64];
        rng.fill_bytes(&mut seed);
        let (kem_secret, kem_public) = mlkem1024::generate_key_pair(seed).into_parts();
        Self {
            sizes,
            bundle_signatures,
            alice_binding: Signed::new(&alice, binding_len),
            kem_public: kem_public.as_slice().to_vec(),
            kem_secret,
            alice_identity: generate(&mut rng),
            bob_identity: generate(&mut rng),
            bob_signed: generate(&mut rng),
            bob_one_time: generate(&mut rng),
            rng,
        }
    }

    /// The whole set-up's primitive work; true when the first message authenticates.
    pub fn run(&mut self) -> bool {
        // Bundle: decode Bob's Ed25519 key, three strict verifications, ML-KEM key check.
        let bob_key = verifying_key(&self.bundle_signatures[0].key);
        let signatures_ok = self
            .bundle_signatures
            .iter()
            .all(|s| s.verify_with(&bob_key));
        let kem_public =
            MlKem1024PublicKey::try_from(self.kem_public.as_slice()).expect("1568 bytes");
        let kem_ok = mlkem1024::validate_public_key(&kem_public);

        // Initiator: base key, four DHs, encapsulation, transcript, KDF, first root step.
        let (base, base_public) = generate(&mut self.rng);
        let dh = [
            agree(&self.alice_identity.0, &self.bob_signed.1),
            agree(&base, &self.bob_identity.1),
            agree(&base, &self.bob_signed.1),
            agree(&base, &self.bob_one_time.1),
        ];
        let mut randomness = [0u8; 32];
        self.rng.fill_bytes(&mut randomness);
        let (ciphertext, kem) = mlkem1024::encapsulate(&kem_public, randomness);
        let transcript = self.transcript();
        let root = pqxdh_kdf(&dh, &kem, &transcript);
        let (ratchet, ratchet_public) = generate(&mut self.rng);
        let (_, chain) = root_kdf(&root, &agree(&ratchet, &self.bob_signed.1));
        let mut first =
            SymmetricMessage::new(self.sizes.first_authenticated, self.sizes.first_ciphertext);
        let (_, tag) = first.seal(&chain, &transcript);

        // Responder: Alice's identity binding, four DHs, decapsulation, transcript, KDF, root
        // step on her ratchet key, then the first message.
        let alice_key = verifying_key(&self.alice_binding.key);
        let binding_ok = self.alice_binding.verify_with(&alice_key);
        let dh = [
            agree(&self.bob_signed.0, &self.alice_identity.1),
            agree(&self.bob_identity.0, &base_public),
            agree(&self.bob_signed.0, &base_public),
            agree(&self.bob_one_time.0, &base_public),
        ];
        let kem = mlkem1024::decapsulate(&self.kem_secret, &ciphertext);
        let transcript = self.transcript();
        let root = pqxdh_kdf(&dh, &kem, &transcript);
        let (_, chain) = root_kdf(&root, &agree(&self.bob_signed.0, &ratchet_public));
        let (_, message_ok) = first.open(&chain, &transcript, &tag);
        signatures_ok && kem_ok && binding_ok && message_ok
    }

    /// SHA-256 over as many bytes as the real transcript (identities, addresses, keys, the
    /// ML-KEM key and ciphertext).
    fn transcript(&self) -> [u8; 32] {
        let input = [0x33u8; 4096];
        let mut hash = Sha256::new();
        let mut left = self.sizes.transcript;
        while left > 0 {
            let take = left.min(input.len());
            hash.update(&input[..take]);
            left -= take;
        }
        hash.finalize().into()
    }
}

/// Safety number: per party one SHA-512 of `version || keys || id`, then 5,200 times
/// `SHA-512(h || keys)`.
pub fn safety_number(parties: &[(&[u8; 65], &[u8]); 2]) -> [[u8; 64]; 2] {
    parties.map(|(keys, id)| {
        let mut hash: [u8; 64] = Sha512::new()
            .chain_update(labels::SAFETY_NUMBER_VERSION)
            .chain_update(keys)
            .chain_update(id)
            .finalize()
            .into();
        for _ in 0..sotto_core::safety_number::ITERATIONS {
            hash = Sha512::new()
                .chain_update(hash)
                .chain_update(keys)
                .finalize()
                .into();
        }
        hash
    })
}
