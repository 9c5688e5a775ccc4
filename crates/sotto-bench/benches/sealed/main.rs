//! Sealed sender costs, beside what the same message costs unsealed.
//!
//! ```text
//! cargo bench -p sotto-bench --bench sealed
//! ```
//!
//! - `sealed_1kib/{seal,unseal}`: one envelope around a 1 KiB message for one recipient
//!   (three X25519 agreements in all, two layers; unsealing also verifies the certificate's
//!   two signatures and the sealed identity's binding signature).
//! - `sealed_multi/seal/<n>`: one 1 KiB group message sealed for n recipient accounts (one
//!   shared ciphertext, two X25519 agreements per recipient); `sealed_multi/unseal` is what one
//!   recipient spends, whatever n.
//! - `certificate/{issue,validate}`: the server signing a sender certificate; a receiver
//!   validating one (two strict Ed25519 verifications).
//!
//! The unsealed costs of the message inside are in `--bench protocol` (ratchet) and
//! `--bench group`. Times are the thread's CPU time; `docs/benchmarks.md` holds results.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../protocol/cpu_time.rs"]
mod cpu_time;

use std::hint::black_box;
use std::time::Duration;

use chacha20::ChaCha20Rng;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rand_core::SeedableRng;
use sotto_core::sealed::{
    CertificateValidator, SenderCertificate, ServerSigner, TrustRootKeyPair, seal, seal_for_many,
    unseal, unseal_multi,
};
use sotto_core::{Address, IdentityKey, IdentityKeyPair};

use cpu_time::CpuTime;

const MESSAGE: [u8; 1024] = [0x42; 1024];
const NOW: u64 = 1_800_000_000_000;

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

struct Setup {
    root: TrustRootKeyPair,
    signer: ServerSigner,
    alice: IdentityKeyPair,
    alice_address: Address,
    bob: IdentityKeyPair,
    bob_address: Address,
}

impl Setup {
    fn new() -> Self {
        let mut server = rng(1);
        let root = TrustRootKeyPair::generate(&mut server);
        let signer = root.certify(&mut server, 1);
        Self {
            root,
            signer,
            alice: IdentityKeyPair::generate(&mut rng(2)),
            alice_address: Address::new("alice", 1).unwrap(),
            bob: IdentityKeyPair::generate(&mut rng(3)),
            bob_address: Address::new("bob", 1).unwrap(),
        }
    }

    fn certificate(&self) -> SenderCertificate {
        self.signer
            .sender_certificate(&self.alice_address, self.alice.public(), NOW + 86_400_000)
    }

    fn validator(&self) -> CertificateValidator {
        CertificateValidator::new(self.root.trust_root(), NOW)
    }
}

fn single(c: &mut Criterion<CpuTime>) {
    let s = Setup::new();
    let certificate = s.certificate();
    let mut group = c.benchmark_group("sealed_1kib");
    let mut r = rng(4);
    group.bench_function("seal", |b| {
        b.iter(|| {
            black_box(
                seal(
                    &mut r,
                    &s.alice,
                    &certificate,
                    s.bob.public(),
                    &MESSAGE,
                    None,
                )
                .unwrap(),
            )
        })
    });
    let envelope = seal(
        &mut r,
        &s.alice,
        &certificate,
        s.bob.public(),
        &MESSAGE,
        None,
    )
    .unwrap();
    let validator = s.validator();
    group.bench_function("unseal", |b| {
        b.iter(|| black_box(unseal(&s.bob, &s.bob_address, &validator, &envelope).unwrap()))
    });
    group.finish();
}

fn multi(c: &mut Criterion<CpuTime>) {
    let s = Setup::new();
    let certificate = s.certificate();
    let mut group = c.benchmark_group("sealed_multi");
    let others: Vec<IdentityKey> = (0..1000)
        .map(|i| {
            IdentityKeyPair::generate(&mut rng(100 + i))
                .public()
                .clone()
        })
        .collect();
    let mut r = rng(5);
    for n in [10usize, 100, 1000] {
        let mut recipients = vec![s.bob.public().clone()];
        recipients.extend_from_slice(&others[..n - 1]);
        group.bench_with_input(BenchmarkId::new("seal", n), &recipients, |b, recipients| {
            b.iter(|| {
                black_box(
                    seal_for_many(&mut r, &s.alice, &certificate, recipients, &MESSAGE, None)
                        .unwrap(),
                )
            })
        });
    }
    let sealed = seal_for_many(
        &mut r,
        &s.alice,
        &certificate,
        &[s.bob.public().clone()],
        &MESSAGE,
        None,
    )
    .unwrap();
    let envelope = sealed.envelope_for(0).unwrap();
    let validator = s.validator();
    group.bench_function("unseal", |b| {
        b.iter(|| black_box(unseal_multi(&s.bob, &s.bob_address, &validator, &envelope).unwrap()))
    });
    group.finish();
}

fn certificates(c: &mut Criterion<CpuTime>) {
    let s = Setup::new();
    let mut group = c.benchmark_group("certificate");
    group.bench_function("issue", |b| b.iter(|| black_box(s.certificate())));
    let certificate = s.certificate();
    let validator = s.validator();
    group.bench_function("validate", |b| {
        b.iter(|| validator.validate(black_box(&certificate)).unwrap())
    });
    group.finish();
}

fn config() -> Criterion<CpuTime> {
    Criterion::default()
        .with_measurement(CpuTime)
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args()
}

criterion_group! {
    name = sealed;
    config = config();
    targets = single, multi, certificates
}
criterion_main!(sealed);
