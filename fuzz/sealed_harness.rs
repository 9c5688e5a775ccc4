//! The logic of the sealed-sender fuzz targets, as plain functions over untrusted bytes (see
//! `harness.rs` for the pattern): sealed envelopes (one and many recipients) and sender
//! certificates. Shared by `fuzz_targets/sealed_*.rs` and the corpus replay in
//! `crates/sotto-core/tests/fuzz_corpus.rs`.
//!
//! The fixture is built from fixed seeds: a server (root, key 7, revoked key 3), Alice the
//! sender and Bob the recipient on device 1.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::OnceLock;

use chacha20::ChaCha20Rng;
use rand_core::SeedableRng;
use sotto_core::sealed::{
    CertificateValidator, SenderCertificate, ServerSigner, TrustRootKeyPair, seal, seal_for_many,
    unseal, unseal_multi,
};
use sotto_core::{Address, IdentityKeyPair};

/// Certificates expire a day after this time.
pub const NOW_MS: u64 = 1_800_000_000_000;

/// The fixed parties of every target.
pub struct SealedFixture {
    pub root: TrustRootKeyPair,
    pub signer: ServerSigner,
    pub revoked: ServerSigner,
    pub alice: IdentityKeyPair,
    pub alice_address: Address,
    pub bob: IdentityKeyPair,
    pub bob_address: Address,
}

impl SealedFixture {
    /// What Bob checks certificates against (key 3 revoked).
    pub fn validator(&self) -> CertificateValidator {
        CertificateValidator::new(self.root.trust_root(), NOW_MS).with_revoked([3])
    }

    /// Alice's valid certificate.
    pub fn certificate(&self) -> SenderCertificate {
        self.signer.sender_certificate(
            &self.alice_address,
            self.alice.public(),
            NOW_MS + 86_400_000,
        )
    }
}

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

pub fn sealed_fixture() -> &'static SealedFixture {
    static FIXTURE: OnceLock<SealedFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut server_rng = rng(0x5e01);
        let root = TrustRootKeyPair::generate(&mut server_rng);
        let signer = root.certify(&mut server_rng, 7);
        let revoked = root.certify(&mut server_rng, 3);
        SealedFixture {
            root,
            signer,
            revoked,
            alice: IdentityKeyPair::generate(&mut rng(0x5e02)),
            alice_address: Address::new("alice", 1).unwrap(),
            bob: IdentityKeyPair::generate(&mut rng(0x5e03)),
            bob_address: Address::new("bob", 1).unwrap(),
        }
    })
}

/// Bob's `unseal` and `unseal_multi`: whatever opens carries a certificate that validates and
/// names the identity that sealed it, and is not Bob's own device.
pub fn sealed_envelope(data: &[u8]) {
    let f = sealed_fixture();
    let validator = f.validator();
    for opened in [
        unseal(&f.bob, &f.bob_address, &validator, data),
        unseal_multi(&f.bob, &f.bob_address, &validator, data),
    ]
    .into_iter()
    .flatten()
    {
        assert!(validator.validate(&opened.certificate).is_ok());
        assert_ne!(opened.certificate.sender(), &f.bob_address);
    }
}

/// `SenderCertificate::from_wire` and validation: a decoded certificate re-encodes to a
/// certificate that decodes to the same value.
pub fn sender_certificate(data: &[u8]) {
    let f = sealed_fixture();
    if let Ok(certificate) = SenderCertificate::from_wire(data) {
        let again = SenderCertificate::from_wire(&certificate.encode()).unwrap();
        assert_eq!(again, certificate);
        let _ = f.validator().validate(&certificate);
    }
}

/// Every sealed target.
pub const SEALED_TARGETS: &[&str] = &["sealed_envelope", "sender_certificate"];

/// The function of a sealed target.
pub fn sealed_check(target: &str) -> Option<fn(&[u8])> {
    match target {
        "sealed_envelope" => Some(sealed_envelope),
        "sender_certificate" => Some(sender_certificate),
        _ => None,
    }
}

/// Valid inputs for every sealed target: the envelopes open, the certificates validate (but
/// for one signed by the revoked key, which reaches the revocation check).
pub fn sealed_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let f = sealed_fixture();
    let certificate = f.certificate();
    let single = seal(
        &mut rng(0x5e10),
        &f.alice,
        &certificate,
        f.bob.public(),
        b"\x11a ratchet message",
        None,
    )
    .unwrap();
    let multi = seal_for_many(
        &mut rng(0x5e11),
        &f.alice,
        &certificate,
        &[f.bob.public().clone(), f.alice.public().clone()],
        b"\x14a group message",
        Some(&[9; 32]),
    )
    .unwrap();
    let revoked =
        f.revoked
            .sender_certificate(&f.alice_address, f.alice.public(), NOW_MS + 86_400_000);
    vec![
        ("sealed_envelope", single),
        ("sealed_envelope", multi.envelope_for(0).unwrap()),
        ("sender_certificate", certificate.encode()),
        ("sender_certificate", revoked.encode()),
    ]
}
