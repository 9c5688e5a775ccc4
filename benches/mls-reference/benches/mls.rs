//! openmls (MLS, RFC 9420) at 10, 100 and 1,000 members: the reference beside Sotto's Sender
//! Keys in `crates/sotto-bench/benches/group`.
//!
//! ```text
//! cd benches/mls-reference
//! CARGO_TARGET_DIR=/work/target-mrsend/mls cargo bench --bench mls
//! ```
//!
//! Ciphersuite MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519 (the mandatory one), the
//! RustCrypto provider with its in-memory storage, openmls' default group configuration
//! (handshake and application messages as `PrivateMessage`). Every message goes through its
//! TLS wire encoding, as it would over a network.
//!
//! - `mls_add_member/<n>`: the committer adds one member to an n-member group: key package
//!   validation, the commit with its update path, the Welcome, and merging the commit.
//! - `mls_process_add/<n>`: an existing member processes and merges that commit.
//! - `mls_encrypt_1kib/<n>`: `create_message` of 1 KiB.
//! - `mls_decrypt_1kib/<n>`: `process_message` of that message at another member.
//!
//! The group is built by one commit adding n − 1 members to the creator's group, so the tree
//! has blank parent nodes except on the paths committed since (see README.md for what that
//! means for the figures). Times are the benchmark thread's CPU time.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../../../crates/sotto-bench/benches/protocol/cpu_time.rs"]
mod cpu_time;

use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use openmls::prelude::tls_codec::{Deserialize as _, Serialize as _};
use openmls::prelude::*;
use openmls_basic_credential::SignatureKeyPair;
use openmls_rust_crypto::OpenMlsRustCrypto;

use cpu_time::CpuTime;

const CIPHERSUITE: Ciphersuite = Ciphersuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;
const SIZES: [usize; 3] = [10, 100, 1_000];
const PLAINTEXT: [u8; 1024] = [0x42; 1024];

/// One member: its provider (crypto and the storage holding its group state) and signer.
struct Member {
    provider: OpenMlsRustCrypto,
    signer: SignatureKeyPair,
    group: MlsGroup,
}

impl Member {
    /// An independent copy of this member's state.
    fn fork(&self) -> Member {
        let provider = self.provider.clone();
        let group = MlsGroup::load(provider.storage(), self.group.group_id())
            .unwrap()
            .unwrap();
        Member {
            provider,
            signer: self.signer.clone(),
            group,
        }
    }
}

fn credential(name: &str) -> (SignatureKeyPair, CredentialWithKey) {
    let signer = SignatureKeyPair::new(CIPHERSUITE.signature_algorithm()).unwrap();
    let credential = CredentialWithKey {
        credential: BasicCredential::new(name.as_bytes().to_vec()).into(),
        signature_key: signer.to_public_vec().into(),
    };
    (signer, credential)
}

/// A would-be member: its provider, signer and published key package.
fn joiner(name: &str) -> (OpenMlsRustCrypto, SignatureKeyPair, KeyPackage) {
    let provider = OpenMlsRustCrypto::default();
    let (signer, credential) = credential(name);
    let bundle = KeyPackage::builder()
        .build(CIPHERSUITE, &provider, &signer, credential)
        .unwrap();
    (provider, signer, bundle.key_package().clone())
}

fn create_config() -> MlsGroupCreateConfig {
    MlsGroupCreateConfig::builder()
        .ciphersuite(CIPHERSUITE)
        .use_ratchet_tree_extension(true)
        .build()
}

/// Through the wire encoding, as a receiver gets it.
fn wire(message: &MlsMessageOut) -> MlsMessageIn {
    let bytes = message.tls_serialize_detached().unwrap();
    MlsMessageIn::tls_deserialize_exact(bytes).unwrap()
}

/// The creator and one other member of an n-member group.
fn group_of(n: usize) -> (Member, Member) {
    let provider = OpenMlsRustCrypto::default();
    let (signer, credential) = credential("creator");
    let mut group = MlsGroup::new(&provider, &signer, &create_config(), credential).unwrap();
    let joiners: Vec<_> = (1..n).map(|i| joiner(&format!("member {i}"))).collect();
    let packages: Vec<KeyPackage> = joiners.iter().map(|(_, _, kp)| kp.clone()).collect();
    let (_, welcome, _) = group.add_members(&provider, &signer, &packages).unwrap();
    group.merge_pending_commit(&provider).unwrap();
    let (member_provider, member_signer, _) = joiners.into_iter().next().unwrap();
    let MlsMessageBodyIn::Welcome(welcome) = wire(&welcome).extract() else {
        panic!("not a welcome")
    };
    let join_config = create_config().join_config().clone();
    let member_group =
        StagedWelcome::new_from_welcome(&member_provider, &join_config, welcome, None)
            .unwrap()
            .into_group(&member_provider)
            .unwrap();
    let creator = Member {
        provider,
        signer,
        group,
    };
    let member = Member {
        provider: member_provider,
        signer: member_signer,
        group: member_group,
    };
    (creator, member)
}

/// The creator adds a new member; returns the commit.
fn add_one(committer: &mut Member, package: KeyPackage) -> MlsMessageOut {
    let (commit, _welcome, _) = committer
        .group
        .add_members(&committer.provider, &committer.signer, &[package])
        .unwrap();
    committer
        .group
        .merge_pending_commit(&committer.provider)
        .unwrap();
    commit
}

fn process(member: &mut Member, message: MlsMessageIn) -> ProcessedMessageContent {
    let protocol = message.try_into_protocol_message().unwrap();
    member
        .group
        .process_message(&member.provider, protocol)
        .unwrap()
        .into_content()
}

fn bench_membership(c: &mut Criterion<CpuTime>, n: usize, creator: &Member, member: &Member) {
    let mut g = c.benchmark_group("mls_add_member");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.bench_function(BenchmarkId::from_parameter(n), |b| {
        b.iter_batched(
            || (creator.fork(), joiner("new").2),
            |(mut committer, package)| add_one(&mut committer, package),
            BatchSize::PerIteration,
        );
    });
    g.finish();
    let mut g = c.benchmark_group("mls_process_add");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.bench_function(BenchmarkId::from_parameter(n), |b| {
        b.iter_batched(
            || {
                let commit = add_one(&mut creator.fork(), joiner("new").2);
                (member.fork(), wire(&commit))
            },
            |(mut receiver, commit)| {
                let ProcessedMessageContent::StagedCommitMessage(staged) =
                    process(&mut receiver, commit)
                else {
                    panic!("not a commit")
                };
                receiver
                    .group
                    .merge_staged_commit(&receiver.provider, *staged)
                    .unwrap();
            },
            BatchSize::PerIteration,
        );
    });
    g.finish();
}

fn bench_messages(
    c: &mut Criterion<CpuTime>,
    n: usize,
    sender: &mut Member,
    receiver: &mut Member,
) {
    // Decryption first: the receiver accepts only a bounded jump in the sender's generation,
    // so it must see every message the sender creates from here on.
    let mut g = c.benchmark_group("mls_decrypt_1kib");
    g.bench_function(BenchmarkId::from_parameter(n), |b| {
        b.iter_batched(
            || {
                let out = sender
                    .group
                    .create_message(&sender.provider, &sender.signer, &PLAINTEXT)
                    .unwrap();
                wire(&out)
            },
            |message| {
                let ProcessedMessageContent::ApplicationMessage(plain) = process(receiver, message)
                else {
                    panic!("not an application message")
                };
                plain
            },
            BatchSize::SmallInput,
        );
    });
    g.finish();
    let mut g = c.benchmark_group("mls_encrypt_1kib");
    g.bench_function(BenchmarkId::from_parameter(n), |b| {
        b.iter(|| {
            let out = sender
                .group
                .create_message(&sender.provider, &sender.signer, &PLAINTEXT)
                .unwrap();
            out.tls_serialize_detached().unwrap()
        });
    });
    g.finish();
}

fn mls(c: &mut Criterion<CpuTime>) {
    for n in SIZES {
        let (mut creator, mut member) = group_of(n);
        bench_membership(c, n, &creator, &member);
        bench_messages(c, n, &mut creator, &mut member);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(CpuTime).warm_up_time(Duration::from_secs(1));
    targets = mls
}
criterion_main!(benches);
