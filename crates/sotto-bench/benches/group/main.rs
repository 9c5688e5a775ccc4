//! Group protocol costs: Sender Key messages against their primitive floor, sender key
//! distribution, and group state verification at 10, 100 and 1,000 members.
//!
//! ```text
//! cargo bench -p sotto-bench --bench group
//! ```
//!
//! - `group_message_1kib/{encrypt,decrypt}`: one 1 KiB group message through sotto-core;
//!   `floor_{encrypt,decrypt}` only the primitives that message needs (two chain HMACs, the
//!   HKDF expansion, SHA-256 of the associated data, AES-256-CTR over the padded 1,120 bytes,
//!   the HMAC tag, and the Ed25519 signature or its strict verification).
//! - `sender_key_distribution/{create,process}`: a new chain and its wire bytes; parsing them
//!   into a receiver's record.
//! - `group_state_verify_initial/<n>`: a joining member verifies a signed state of n members
//!   (the signature and every member's identity key).
//! - `group_state_verify_update/<n>`: a member verifies the next version, one member removed
//!   (identities unchanged since the state in force are not verified again).
//! - `group_state_load/<n>`: `VerifiedGroupState::from_bytes` of the stored state (no signature
//!   checked again, every key still validated).
//!
//! - `group_send/<n>`, `membership_change_{admin,member}/<n>`: see `fanout.rs`.
//!
//! Times are the thread's CPU time; `docs/benchmarks.md` holds results.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../protocol/cpu_time.rs"]
mod cpu_time;
mod fanout;
#[allow(dead_code)] // shared with the protocol bench, which uses all of it
#[path = "../protocol/harness.rs"]
mod harness;

use std::hint::black_box;
use std::time::Duration;

use chacha20::ChaCha20Rng;
use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use ed25519_dalek::{Signer, SigningKey};
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use rand_core::SeedableRng;
use sha2::{Digest, Sha256};
use sotto_core::group::{
    GroupId, GroupState, Member, OwnSenderKey, Role, SenderKeyDistribution, SenderKeyRecord,
    VerifiedGroupState,
};
use sotto_core::{Address, IdentityKeyPair};

use cpu_time::CpuTime;

const PLAINTEXT: [u8; 1024] = [0x42; 1024];
/// 1 KiB padded to the next multiple of 160 bytes.
const PADDED: usize = 1120;

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

fn sender_key() -> OwnSenderKey {
    let group = GroupId::generate(&mut rng(1));
    OwnSenderKey::generate(group, Address::new("alice", 1).unwrap(), &mut rng(2))
}

fn receiver_of(key: &OwnSenderKey) -> SenderKeyRecord {
    let mut record = SenderKeyRecord::new(*key.group_id(), key.sender().clone());
    record.process(&key.distribution()).unwrap();
    record
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
    parts.iter().for_each(|p| mac.update(p));
    mac.finalize().into_bytes().into()
}

/// The symmetric work of one message: chain step, keys, AD hash, AES-CTR and the tag.
fn floor_symmetric(chain_key: &[u8; 32], buffer: &mut [u8]) -> [u8; 32] {
    use ctr::cipher::{KeyIvInit, StreamCipher};
    let seed = hmac(chain_key, &[&[1]]);
    black_box(hmac(chain_key, &[&[2]]));
    let mut okm = [0u8; 80];
    Hkdf::<Sha256>::new(None, &seed)
        .expand(b"Sotto_Group_MessageKeys_v1", &mut okm)
        .unwrap();
    let ad: [u8; 32] = Sha256::new()
        .chain_update(b"Sotto_v1_GroupMessage")
        .chain_update([7u8; 32 + 10])
        .finalize()
        .into();
    let key: [u8; 32] = okm[..32].try_into().unwrap();
    let iv: [u8; 16] = okm[64..].try_into().unwrap();
    let mut cipher = ctr::Ctr128BE::<aes::Aes256>::new(&key.into(), &iv.into());
    cipher.apply_keystream(buffer);
    hmac(&okm[32..64], &[&ad, buffer])
}

fn group_message(c: &mut Criterion<CpuTime>) {
    let mut group = c.benchmark_group("group_message_1kib");
    let mut key = sender_key();
    group.bench_function("encrypt", |b| {
        b.iter(|| black_box(key.encrypt(&PLAINTEXT).unwrap()))
    });
    let mut sender = sender_key();
    let record = receiver_of(&sender);
    let message = sender.encrypt(&PLAINTEXT).unwrap();
    group.bench_function("decrypt", |b| {
        b.iter_batched_ref(
            || record.clone(),
            |record| black_box(record.decrypt(&message).unwrap()),
            BatchSize::SmallInput,
        )
    });
    let signing = SigningKey::from_bytes(&[3; 32]);
    let verifying = signing.verifying_key();
    let chain_key = [9u8; 32];
    let mut buffer = vec![0x42u8; PADDED];
    group.bench_function("floor_encrypt", |b| {
        b.iter(|| {
            let tag = floor_symmetric(&chain_key, &mut buffer);
            black_box(signing.sign(&[&tag[..], &buffer].concat()))
        })
    });
    let tag = floor_symmetric(&chain_key, &mut buffer);
    let signed = [&tag[..], &buffer].concat();
    let signature = signing.sign(&signed);
    group.bench_function("floor_decrypt", |b| {
        b.iter(|| {
            verifying.verify_strict(&signed, &signature).unwrap();
            black_box(floor_symmetric(&chain_key, &mut buffer))
        })
    });
    group.finish();
}

fn distribution(c: &mut Criterion<CpuTime>) {
    let mut group = c.benchmark_group("sender_key_distribution");
    let group_id = GroupId::generate(&mut rng(4));
    let sender = Address::new("alice", 1).unwrap();
    let mut draws = rng(5);
    group.bench_function("create", |b| {
        b.iter(|| {
            let key = OwnSenderKey::generate(group_id, sender.clone(), &mut draws);
            black_box(key.distribution().to_bytes())
        })
    });
    let bytes = sender_key().distribution().to_bytes();
    let empty = SenderKeyRecord::new(*sender_key().group_id(), sender.clone());
    group.bench_function("process", |b| {
        b.iter_batched_ref(
            || empty.clone(),
            |record| {
                let parsed = SenderKeyDistribution::try_from(bytes.as_slice()).unwrap();
                record.process(&parsed).unwrap();
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// A signed state of `count` members (the first is the admin) and its successor without the
/// last member.
fn states(count: usize) -> (Vec<u8>, Vec<u8>, String) {
    let identities: Vec<IdentityKeyPair> = (0..count)
        .map(|i| IdentityKeyPair::generate(&mut rng(1000 + i as u64)))
        .collect();
    let members = identities
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let role = if i == 0 { Role::Admin } else { Role::Member };
            Member::new(format!("member-{i:04}"), id.public().clone(), role).unwrap()
        })
        .collect();
    let v1 = GroupState::new(GroupId::generate(&mut rng(6)), 1, "bench", members).unwrap();
    let last = format!("member-{:04}", count - 1);
    let v2 = v1.without_member(last.as_bytes()).unwrap();
    let admin = &identities[0];
    (
        v1.sign(b"member-0000", admin),
        v2.sign(b"member-0000", admin),
        "member-0001".to_string(),
    )
}

fn state_verification(c: &mut Criterion<CpuTime>) {
    let mut initial = c.benchmark_group("group_state_verify_initial");
    let sizes = [10usize, 100, 1000];
    let signed: Vec<_> = sizes.iter().map(|&n| states(n)).collect();
    for (n, (v1, _, me)) in sizes.iter().zip(&signed) {
        initial.bench_with_input(BenchmarkId::from_parameter(n), v1, |b, v1| {
            b.iter(|| black_box(VerifiedGroupState::verify_initial(v1, me.as_bytes()).unwrap()))
        });
    }
    initial.finish();
    let mut update = c.benchmark_group("group_state_verify_update");
    for (n, (v1, v2, me)) in sizes.iter().zip(&signed) {
        let current = VerifiedGroupState::verify_initial(v1, me.as_bytes()).unwrap();
        update.bench_with_input(BenchmarkId::from_parameter(n), v2, |b, v2| {
            b.iter(|| black_box(current.verify_update(v2).unwrap()))
        });
    }
    update.finish();
    let mut load = c.benchmark_group("group_state_load");
    for (n, (v1, _, me)) in sizes.iter().zip(&signed) {
        let stored = VerifiedGroupState::verify_initial(v1, me.as_bytes())
            .unwrap()
            .to_bytes();
        load.bench_with_input(BenchmarkId::from_parameter(n), &stored, |b, stored| {
            b.iter(|| black_box(VerifiedGroupState::from_bytes(stored).unwrap()))
        });
    }
    load.finish();
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
    name = groups;
    config = config();
    targets = group_message, distribution, state_verification, fanout::group_send,
        fanout::membership_change
}
criterion_main!(groups);
