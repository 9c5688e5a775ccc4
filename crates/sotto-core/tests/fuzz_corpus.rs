//! Replays every fuzz corpus under `fuzz/corpus/<target>/` through the same harness the fuzz
//! targets use (`fuzz/harness.rs`), so inputs that once reached deep into the protocol keep
//! being checked by `cargo test`, on stable Rust, without a fuzzer.
//!
//! To refresh the hand-made seeds after a protocol change:
//! `SOTTO_WRITE_FUZZ_SEEDS=1 cargo test -p sotto-core --test fuzz_corpus -- --ignored`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../fuzz/harness.rs"]
mod harness;

#[path = "../../../fuzz/group_harness.rs"]
mod group_harness;

#[path = "../../../fuzz/provisioning_harness.rs"]
mod provisioning_harness;
#[path = "../../../fuzz/sealed_harness.rs"]
mod sealed_harness;

use std::fs;
use std::path::{Path, PathBuf};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

/// Runs `check` on every file of the target's corpus; fails if there is none.
fn replay(target: &str, check: fn(&[u8])) {
    let dir = corpus_dir(target);
    let entries =
        fs::read_dir(&dir).unwrap_or_else(|e| panic!("corpus {} is missing: {e}", dir.display()));
    let mut count = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue;
        }
        let data = fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "{target}: input {} fails", path.display());
        count += 1;
    }
    assert!(count > 0, "corpus {} is empty", dir.display());
}

macro_rules! corpus_tests {
    ($($target:ident),* $(,)?) => {
        $(
            #[test]
            fn $target() {
                replay(stringify!($target), harness::$target);
            }
        )*

        /// Every target of `seeds()` has a replay test above.
        const TARGETS: &[&str] = &[$(stringify!($target)),*];
    };
}

corpus_tests!(
    public_key,
    identity_key,
    kem,
    bundle,
    session_record,
    safety_number_scan,
    decrypt_ratchet,
    decrypt_prekey,
    two_party,
    api_json,
    attachment,
    ws_frames,
);

/// The hand-made seeds are valid inputs, so they pass the harness (and they reach deep: the
/// protocol ones decrypt, which the harness checks with its duplicate and round-trip asserts).
#[test]
fn seeds_pass_and_every_target_has_some() {
    let seeds = harness::seeds();
    for target in TARGETS {
        assert!(
            seeds.iter().any(|(t, _)| t == target),
            "no seed for {target}"
        );
    }
    for (target, data) in &seeds {
        assert!(TARGETS.contains(target), "seed for unknown target {target}");
        let check = match *target {
            "public_key" => harness::public_key,
            "identity_key" => harness::identity_key,
            "kem" => harness::kem,
            "bundle" => harness::bundle,
            "session_record" => harness::session_record,
            "safety_number_scan" => harness::safety_number_scan,
            "decrypt_ratchet" => harness::decrypt_ratchet,
            "decrypt_prekey" => harness::decrypt_prekey,
            "api_json" => harness::api_json,
            "attachment" => harness::attachment,
            "ws_frames" => harness::ws_frames,
            _ => harness::two_party,
        };
        check(data);
    }
}

/// One replay test per target whose check lives in a harness module of its own.
macro_rules! module_corpus_tests {
    ($module:ident: $($target:ident),* $(,)?) => {
        $(
            #[test]
            fn $target() {
                replay(stringify!($target), $module::$target);
            }
        )*
    };
}

module_corpus_tests!(group_harness:
    group_distribution,
    group_message,
    group_state,
    group_records
);

module_corpus_tests!(sealed_harness: sealed_envelope, sender_certificate);

/// The group seeds pass their targets, and every group target has some.
#[test]
fn group_seeds_pass_and_every_group_target_has_some() {
    let seeds = group_harness::group_seeds();
    for target in group_harness::GROUP_TARGETS {
        assert!(
            seeds.iter().any(|(t, _)| t == target),
            "no seed for {target}"
        );
    }
    for (target, data) in &seeds {
        let check = group_harness::group_check(target).unwrap();
        check(data);
    }
}

/// The group seeds reach past the decoders: each message decrypts, each state verifies.
#[test]
fn group_seeds_are_accepted() {
    let f = group_harness::group_fixture();
    for (target, data) in group_harness::group_seeds() {
        match target {
            "group_message" => assert!(f.record.clone().decrypt(&data).is_ok()),
            "group_state" => assert!(
                f.state.verify_update(&data).is_ok()
                    || sotto_core::group::VerifiedGroupState::verify_initial(&data, b"bob").is_ok()
            ),
            _ => {}
        }
    }
}

/// The sealed seeds pass their targets, every sealed target has some, and they reach past the
/// decoders: each envelope opens, each certificate decodes.
#[test]
fn sealed_seeds_pass_and_open() {
    let seeds = sealed_harness::sealed_seeds();
    for target in sealed_harness::SEALED_TARGETS {
        assert!(
            seeds.iter().any(|(t, _)| t == target),
            "no seed for {target}"
        );
    }
    let f = sealed_harness::sealed_fixture();
    for (target, data) in &seeds {
        sealed_harness::sealed_check(target).unwrap()(data);
        match *target {
            "sealed_envelope" => assert!(
                sotto_core::sealed::unseal(&f.bob, &f.bob_address, &f.validator(), data).is_ok()
                    || sotto_core::sealed::unseal_multi(
                        &f.bob,
                        &f.bob_address,
                        &f.validator(),
                        data
                    )
                    .is_ok()
            ),
            _ => assert!(sotto_core::sealed::SenderCertificate::from_wire(data).is_ok()),
        }
    }
}

/// Writes the seeds as `fuzz/corpus/<target>/seed-<n>` (only with `SOTTO_WRITE_FUZZ_SEEDS=1`).
#[test]
#[ignore = "writes into fuzz/corpus; run by hand after a protocol change"]
fn write_seeds() {
    if std::env::var_os("SOTTO_WRITE_FUZZ_SEEDS").is_none() {
        return;
    }
    let mut numbers = std::collections::HashMap::new();
    for (target, data) in harness::seeds()
        .into_iter()
        .chain(group_harness::group_seeds())
        .chain(sealed_harness::sealed_seeds())
    {
        let dir = corpus_dir(target);
        fs::create_dir_all(&dir).unwrap();
        let n = numbers.entry(target).or_insert(0);
        fs::write(dir.join(format!("seed-{n}")), data).unwrap();
        *n += 1;
    }
}

/// The API seeds really decode (so the corpus starts from the typed paths, not only errors).
#[test]
fn api_json_seeds_decode() {
    use sotto_proto::api;
    let seeds: Vec<Vec<u8>> = harness::seeds()
        .into_iter()
        .filter(|(t, _)| *t == "api_json")
        .map(|(_, d)| d)
        .collect();
    assert!(serde_json::from_slice::<api::ClientFrame>(&seeds[0]).is_ok());
    assert!(serde_json::from_slice::<api::SendRequest>(&seeds[1]).is_ok());
    assert!(serde_json::from_slice::<api::ErrorBody>(&seeds[2]).is_ok());
    assert!(serde_json::from_slice::<api::ServerFrame>(&seeds[3]).is_ok());
    assert!(serde_json::from_slice::<api::ServerFrame>(&seeds[4]).is_ok());
    assert!(serde_json::from_slice::<api::MultiSendRequest>(&seeds[5]).is_ok());
    let mismatch: api::ErrorBody = serde_json::from_slice(&seeds[6]).unwrap();
    assert_eq!(mismatch.accounts[0].stale_devices, [1]);
}

#[test]
fn provisioning() {
    replay("provisioning", provisioning_harness::provisioning);
}

/// The provisioning seeds pass, and the envelope seed really opens (so the corpus reaches the
/// message decoder through the AEAD).
#[test]
fn provisioning_seeds_pass_and_open() {
    let seeds = provisioning_harness::provisioning_seeds();
    for seed in &seeds {
        provisioning_harness::provisioning(seed);
    }
    let keys = provisioning_harness::keys();
    assert!(keys.open(provisioning_harness::CHANNEL, &seeds[1]).is_ok());
    if std::env::var_os("SOTTO_WRITE_FUZZ_SEEDS").is_some() {
        let dir = corpus_dir("provisioning");
        fs::create_dir_all(&dir).unwrap();
        for (i, seed) in seeds.iter().enumerate() {
            fs::write(dir.join(format!("seed-{i}")), seed).unwrap();
        }
    }
}
