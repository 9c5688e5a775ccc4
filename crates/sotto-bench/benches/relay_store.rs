//! The relay's work to store one group message for n recipient devices (n = 10, 100, 1,000;
//! one device per account), on its embedded SQLite store with its real durability
//! (`synchronous = FULL`: every commit is fsynced):
//!
//! - `relay_store_multi/<n>`: one multi-recipient send (`Mailbox::store_multi`): the 1 KiB
//!   ciphertext stored once, n queue rows referencing it, one transaction.
//! - `relay_store_single/<n>`: the same message as n ordinary sends (`Mailbox::store`) of a
//!   1 KiB envelope each, submitted at once so the group commit batches them as it would
//!   batch n concurrent `PUT`s.
//!
//! Wall time (the commit's fsync is part of the cost), on a fresh database per size. After the
//! timings it prints the bytes each way adds to the database file per message (measured by
//! closing the store, so the WAL is checkpointed, before and after storing 20 messages).
//!
//! ```text
//! cargo bench -p sotto-bench --bench relay_store
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)]

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use sotto_proto::api::PreKeyUpload;
use sotto_server::domain::{AccountId, DeviceId, MessageId, SecretHash, Username};
use sotto_server::store::sqlite::SqliteStore;
use sotto_server::store::{
    AccountStore, Day, Mailbox, MultiSubmission, NewAccount, NewDeviceRecord, NewEnvelope,
    RecipientAccount, Submission,
};
use tokio::runtime::Runtime;

const SIZES: [usize; 3] = [10, 100, 1_000];
const CONTENT: [u8; 1024] = [0x42; 1024];

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Registers `n` accounts with one device each.
async fn accounts(store: &SqliteStore, n: usize) -> Vec<AccountId> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let id = AccountId::random().unwrap();
        let account = NewAccount {
            id: id.clone(),
            username: Username::parse(&format!("member{i:05}")).unwrap(),
            identity_key: vec![9; 65],
            device: NewDeviceRecord {
                secret_hash: SecretHash::of_secret(&[7; 32]).unwrap(),
                registration_id: 1,
                prekeys: PreKeyUpload::default(),
            },
            token_hash: None,
            today: Day("2026-12-02".into()),
        };
        store.create_account(account).await.unwrap();
        ids.push(id);
    }
    ids
}

fn message_id(kind: &str, n: u64) -> MessageId {
    MessageId::parse(&format!("{kind}-message-{n:016}")).unwrap()
}

fn multi(members: &[AccountId], n: u64) -> MultiSubmission {
    MultiSubmission {
        message_id: message_id("multi", n),
        sender: None,
        content: Bytes::from_static(&CONTENT),
        recipients: members
            .iter()
            .map(|a| RecipientAccount {
                account: a.clone(),
                devices: vec![DeviceId::FIRST],
                prefix: Bytes::new(),
            })
            .collect(),
        now_ms: 1_800_000_000_000,
        ttl_ms: 30 * 86_400_000,
        max_queue: u32::MAX,
    }
}

fn single(member: &AccountId, n: u64) -> Submission {
    Submission {
        recipient: member.clone(),
        message_id: message_id("single", n),
        sender: None,
        envelopes: vec![NewEnvelope {
            device: DeviceId::FIRST,
            content: CONTENT.to_vec(),
        }],
        now_ms: 1_800_000_000_000,
        ttl_ms: 30 * 86_400_000,
        max_queue: u32::MAX,
    }
}

/// Stores message number `n` to every member, as one multi-recipient send or as one send per
/// member submitted together.
async fn store_message(store: &SqliteStore, members: &[AccountId], n: u64, as_multi: bool) {
    if as_multi {
        store.store_multi(multi(members, n)).await.unwrap();
        return;
    }
    let mut sends = tokio::task::JoinSet::new();
    for member in members {
        let (store, send) = (store.clone(), single(member, n));
        sends.spawn(async move { store.store(send).await.unwrap() });
    }
    sends.join_all().await;
}

fn bench_store(c: &mut Criterion, rt: &Runtime, name: &str, as_multi: bool) {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    for n in SIZES {
        let dir = tempfile::tempdir().unwrap();
        let store = rt.block_on(SqliteStore::open(dir.path())).unwrap();
        let members = rt.block_on(accounts(&store, n));
        let mut next = 0u64;
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        next += 1;
                        store_message(&store, &members, next, as_multi).await;
                    }
                    start.elapsed()
                })
            })
        });
        rt.block_on(store.close());
    }
    group.finish();
}

fn file_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().metadata().unwrap().len())
        .sum()
}

/// Bytes added to the database per message, each way, after a clean close.
fn bytes_per_message(rt: &Runtime, n: usize, as_multi: bool) -> u64 {
    const MESSAGES: u64 = 20;
    let dir = tempfile::tempdir().unwrap();
    let store = rt.block_on(SqliteStore::open(dir.path())).unwrap();
    let members = rt.block_on(accounts(&store, n));
    rt.block_on(store.close());
    let before = file_bytes(dir.path());
    let store = rt.block_on(SqliteStore::open(dir.path())).unwrap();
    for m in 0..MESSAGES {
        rt.block_on(store_message(&store, &members, m, as_multi));
    }
    rt.block_on(store.close());
    file_bytes(dir.path()).saturating_sub(before) / MESSAGES
}

fn relay_store(c: &mut Criterion) {
    let rt = runtime();
    bench_store(c, &rt, "relay_store_multi", true);
    bench_store(c, &rt, "relay_store_single", false);
    println!("\nbytes added to the database per 1 KiB message (n devices):");
    for n in SIZES {
        let multi = bytes_per_message(&rt, n, true);
        let single = bytes_per_message(&rt, n, false);
        println!("  n = {n:>5}: multi-recipient {multi:>9} B, n single envelopes {single:>9} B");
    }
}

criterion_group!(benches, relay_store);
criterion_main!(benches);
