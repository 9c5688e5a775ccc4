//! Sotto's protocol operations against their primitive floor and vodozemac's Olm, in one run.
//!
//! ```text
//! cargo bench -p sotto-bench --bench protocol
//! ```
//!
//! Each operation is a criterion group with up to three functions: `sotto` (sotto-core's public
//! API), `floor` (only the primitive calls that operation makes, see `floor.rs`) and
//! `vodozemac_olm` (the peer reference). The `*_pieces` groups split Sotto's operations to show
//! where time above the floor goes. Times are the thread's CPU time (see `cpu_time.rs`).
//! `docs/benchmarks.md` holds the results.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod cpu_time;
mod floor;
mod harness;
mod olm;
mod pieces;

use std::hint::black_box;
use std::time::Duration;

use chacha20::ChaCha20Rng;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use prost::Message;
use rand_core::SeedableRng;
use sotto_core::{SafetyNumber, SessionRecord};
use sotto_proto::protocol as wire;

use cpu_time::CpuTime;
use harness::{FIRST_MESSAGE, Strangers};

/// The steady-state message size.
const KIB: usize = 1024;
/// The plaintext of a DH ratchet turn: small, so the step dominates.
const SHORT: &[u8] = &[0x61; 16];
/// Padded lengths (160-byte buckets, always at least one padding byte).
const PADDED_KIB: usize = 1120;
const PADDED_SHORT: usize = 160;

fn session_setup(c: &mut Criterion<CpuTime>) {
    let strangers = Strangers::new();
    let sizes = setup_sizes(&strangers);
    let mut group = c.benchmark_group("session_setup");
    let mut rng = ChaCha20Rng::seed_from_u64(21);
    group.bench_function("sotto", |b| {
        b.iter_batched(
            || (SessionRecord::new(), SessionRecord::new()),
            |(initiator, responder)| strangers.set_up(&mut rng, initiator, responder),
            BatchSize::SmallInput,
        )
    });
    let mut setup_floor = floor::SetupFloor::new(sizes);
    assert!(setup_floor.run());
    group.bench_function("floor", |b| b.iter(|| black_box(setup_floor.run())));
    let alice = vodozemac::olm::Account::new();
    group.bench_function("vodozemac_olm", |b| {
        b.iter_batched(
            olm::Responder::new,
            |bob| olm::set_up(&alice, bob, FIRST_MESSAGE),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// The transcript length and the first message's sizes, read off a real set-up.
fn setup_sizes(strangers: &Strangers) -> floor::SetupSizes {
    let mut addresses = Vec::new();
    strangers.alice.address.encode_into(&mut addresses);
    strangers.bob.address.encode_into(&mut addresses);
    let transcript = sotto_core::labels::PQXDH_TRANSCRIPT.len()
        + 2 * sotto_core::identity::IDENTITY_ENCODED_LEN
        + addresses.len()
        + 3 * sotto_core::curve::X25519_ENCODED_LEN
        + 1
        + 2 * (sotto_core::kem::KEM_PUBLIC_LEN + 1);
    let mut alice = SessionRecord::new();
    let bundle = sotto_core::VerifiedPreKeyBundle::from_wire(&strangers.bundle).unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let parties = strangers.alice.parties(&strangers.bob.address);
    alice.initiate(parties, &bundle, &mut rng).unwrap();
    let message = alice.encrypt(FIRST_MESSAGE, &mut rng).unwrap();
    let inner = wire::PreKeyMessage::decode(&message[1..]).unwrap().message;
    floor::SetupSizes {
        transcript,
        first_authenticated: inner.len() - 32,
        first_ciphertext: PADDED_SHORT,
    }
}

fn message_1kib(c: &mut Criterion<CpuTime>) {
    let plaintext = vec![0x61; KIB];
    let mut group = c.benchmark_group("message_1kib");
    let authenticated = authenticated_len(&plaintext);
    let (mut alice, mut bob) = harness::established();
    group.bench_function("sotto", |b| {
        b.iter(|| harness::one_way(&mut alice, &mut bob, &plaintext))
    });
    let mut message_floor = floor::MessageFloor::new(authenticated, PADDED_KIB);
    assert!(message_floor.round_trip());
    group.bench_function("floor", |b| {
        b.iter(|| black_box(message_floor.round_trip()))
    });
    let (mut outbound, mut inbound) = olm::established();
    group.bench_function("vodozemac_olm", |b| {
        b.iter(|| olm::one_way(&mut outbound, &mut inbound, &plaintext))
    });
    group.finish();
}

/// The length a ratchet message of `plaintext` has without its tag (on a throw-away session).
fn authenticated_len(plaintext: &[u8]) -> usize {
    let (mut alice, _) = harness::established();
    alice.encrypt(plaintext).len() - 32
}

fn dh_ratchet_turn(c: &mut Criterion<CpuTime>) {
    let mut group = c.benchmark_group("dh_ratchet_turn");
    let authenticated = authenticated_len(SHORT);
    let (mut alice, mut bob) = harness::established();
    group.bench_function("sotto", |b| {
        b.iter(|| harness::ping_pong(&mut alice, &mut bob, SHORT))
    });
    let mut ratchet_floor = floor::RatchetFloor::new(authenticated, PADDED_SHORT);
    assert!(ratchet_floor.turn());
    group.bench_function("floor", |b| b.iter(|| black_box(ratchet_floor.turn())));
    let (mut outbound, mut inbound) = olm::established();
    group.bench_function("vodozemac_olm", |b| {
        b.iter(|| {
            let ping = olm::one_way(&mut outbound, &mut inbound, SHORT);
            (ping, olm::one_way(&mut inbound, &mut outbound, SHORT))
        })
    });
    group.finish();
}

fn safety_number(c: &mut Criterion<CpuTime>) {
    let strangers = Strangers::new();
    let (alice, bob) = (
        strangers.alice.identity.public(),
        strangers.bob.identity.public(),
    );
    let mut group = c.benchmark_group("safety_number");
    group.bench_function("sotto", |b| {
        b.iter(|| SafetyNumber::compute(b"alice", black_box(alice), b"bob", bob))
    });
    let (alice_keys, bob_keys) = (alice.keys(), bob.keys());
    group.bench_function("floor", |b| {
        b.iter(|| {
            floor::safety_number(black_box(&[
                (&alice_keys, b"alice".as_slice()),
                (&bob_keys, b"bob".as_slice()),
            ]))
        })
    });
    group.finish();
}

fn record_roundtrip(c: &mut Criterion<CpuTime>) {
    let (alice, _) = harness::established();
    let mut group = c.benchmark_group("record_roundtrip");
    group.bench_function("sotto", |b| {
        b.iter(|| SessionRecord::from_bytes(&black_box(&alice.record).to_bytes()).unwrap())
    });
    group.finish();
}

/// Operations get longer measurements than their breakdown: their ratios are the targets.
fn config(measurement_secs: u64) -> Criterion<CpuTime> {
    Criterion::default()
        .with_measurement(CpuTime)
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(measurement_secs))
        .configure_from_args()
}

criterion_group! {
    name = operations;
    config = config(4);
    targets = session_setup, message_1kib, dh_ratchet_turn, safety_number, record_roundtrip
}
criterion_group! {
    name = breakdown;
    config = config(2);
    targets = pieces::setup_pieces, pieces::message_pieces, pieces::record_pieces,
        pieces::primitives
}
criterion_main!(operations, breakdown);
