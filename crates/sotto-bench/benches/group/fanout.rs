//! What the sender and a membership change cost in groups of 10, 100 and 1,000 member devices
//! (issue #5), at core level.
//!
//! - `group_send/<n>`: the sender's whole CPU work for one 1 KiB group message to n devices:
//!   one Sender Key encryption and the JSON body of the relay's multi-recipient send (the
//!   ciphertext once plus n routing entries). No per-device encryption.
//! - `membership_change_admin/<n>`: the admin removes a member: the successor state and its
//!   signature.
//! - `membership_change_member/<n>`: each remaining member device on that change: verify the
//!   new state, make a new sender key and encrypt its distribution pairwise (Double Ratchet)
//!   to every other remaining device. The group as a whole pays this once per remaining
//!   member.

use std::hint::black_box;

use criterion::{BatchSize, BenchmarkId, Criterion};
use sotto_core::group::{GroupId, OwnSenderKey, VerifiedGroupState};
use sotto_core::{Address, IdentityKeyPair, SessionRecord};
use sotto_proto::api::{Base64Bytes, MultiRecipient, MultiSendRequest, RecipientDevice};

use crate::cpu_time::CpuTime;
use crate::harness;
use crate::{PLAINTEXT, rng, sender_key, states};

const SIZES: [usize; 3] = [10, 100, 1_000];

/// The routing list of a multi-recipient send to `n` devices, one per account.
fn routing(n: usize) -> Vec<MultiRecipient> {
    (0..n)
        .map(|i| MultiRecipient {
            account_id: format!("{i:032x}"),
            devices: vec![RecipientDevice {
                device_id: 1,
                registration_id: Some(4_000 + i as u32),
            }],
        })
        .collect()
}

pub fn group_send(c: &mut Criterion<CpuTime>) {
    let mut group = c.benchmark_group("group_send");
    for n in SIZES {
        let recipients = routing(n);
        let mut key = sender_key();
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter_batched(
                || recipients.clone(),
                |recipients| {
                    let content = Base64Bytes(key.encrypt(&PLAINTEXT).unwrap());
                    let body = MultiSendRequest {
                        content,
                        recipients,
                    };
                    black_box(serde_json::to_vec(&body).unwrap())
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

/// Established Double Ratchet sessions to `n` peers, as records the sender holds.
fn sessions(n: usize) -> Vec<SessionRecord> {
    (0..n)
        .map(|_| {
            let (alice, _bob) = harness::established();
            alice.record
        })
        .collect()
}

pub fn membership_change(c: &mut Criterion<CpuTime>) {
    let mut admin = c.benchmark_group("membership_change_admin");
    for n in SIZES {
        let (admin_identity, v1) = signed_state(n);
        let state = VerifiedGroupState::verify_initial(&v1, b"member-0001").unwrap();
        admin.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                let last = format!("member-{:04}", n - 1);
                let next = state.state().without_member(last.as_bytes()).unwrap();
                black_box(next.sign(b"member-0000", &admin_identity))
            })
        });
    }
    admin.finish();
    let mut member = c.benchmark_group("membership_change_member");
    member.sample_size(10);
    for n in SIZES {
        let (v1, v2, me) = states(n);
        let current = VerifiedGroupState::verify_initial(&v1, me.as_bytes()).unwrap();
        // The remaining devices other than this one: n - 2.
        let mut peers = sessions(n - 2);
        let mut draws = rng(77);
        let group_id = GroupId::generate(&mut rng(78));
        let me = Address::new(me.as_str(), 1).unwrap();
        member.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                black_box(current.verify_update(&v2).unwrap());
                let key = OwnSenderKey::generate(group_id, me.clone(), &mut draws);
                let distribution = key.distribution().to_bytes();
                for record in &mut peers {
                    black_box(record.encrypt(&distribution, &mut draws).unwrap());
                }
            })
        });
    }
    member.finish();
}

/// The admin's identity and a signed state of `n` members.
fn signed_state(n: usize) -> (IdentityKeyPair, Vec<u8>) {
    let (v1, _, _) = states(n);
    // `states` derives member i's identity from seed 1000 + i; the admin is member 0.
    (IdentityKeyPair::generate(&mut rng(1000)), v1)
}
