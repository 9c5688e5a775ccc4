//! Safety numbers: same on both sides, 60 digits, QR comparison tells match or not.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rand_core::SeedableRng;
use sotto_core::IdentityKeyPair;
use sotto_core::error::SafetyNumberError;
use sotto_core::safety_number::{Comparison, SafetyNumber};

fn identity(seed: u64) -> IdentityKeyPair {
    IdentityKeyPair::generate(&mut chacha20::ChaCha20Rng::seed_from_u64(seed))
}

#[test]
fn both_sides_see_the_same_sixty_digits() {
    let (alice, bob) = (identity(1), identity(2));
    let at_alice = SafetyNumber::compute(b"alice", alice.public(), b"bob", bob.public());
    let at_bob = SafetyNumber::compute(b"bob", bob.public(), b"alice", alice.public());
    assert_eq!(at_alice.digits(), at_bob.digits());
    assert_eq!(at_alice.digits().len(), 60);
    assert!(at_alice.digits().bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(at_alice.grouped().split(' ').count(), 12);
}

#[test]
fn scanning_the_other_side_matches() {
    let (alice, bob) = (identity(3), identity(4));
    let at_alice = SafetyNumber::compute(b"alice", alice.public(), b"bob", bob.public());
    let at_bob = SafetyNumber::compute(b"bob", bob.public(), b"alice", alice.public());
    assert_eq!(
        at_alice.compare_scanned(&at_bob.qr_payload()),
        Ok(Comparison::Match)
    );
    assert_eq!(
        at_bob.compare_scanned(&at_alice.qr_payload()),
        Ok(Comparison::Match)
    );
    // Scanning one's own code is not a match.
    assert_eq!(
        at_alice.compare_scanned(&at_alice.qr_payload()),
        Ok(Comparison::Mismatch)
    );
}

#[test]
fn a_changed_key_or_account_gives_another_number_and_a_mismatch() {
    let (alice, bob, mallory) = (identity(5), identity(6), identity(7));
    let real = SafetyNumber::compute(b"alice", alice.public(), b"bob", bob.public());
    let mitm = SafetyNumber::compute(b"bob", mallory.public(), b"alice", alice.public());
    assert_ne!(real.digits(), mitm.digits());
    assert_eq!(
        real.compare_scanned(&mitm.qr_payload()),
        Ok(Comparison::Mismatch)
    );
    let renamed = SafetyNumber::compute(b"alice", alice.public(), b"bob2", bob.public());
    assert_ne!(real.digits(), renamed.digits());
}

#[test]
fn malformed_or_foreign_codes_are_errors() {
    let (alice, bob) = (identity(8), identity(9));
    let number = SafetyNumber::compute(b"alice", alice.public(), b"bob", bob.public());
    assert_eq!(
        number.compare_scanned(b"\xff\xff"),
        Err(SafetyNumberError::Malformed)
    );
    assert_eq!(
        number.compare_scanned(b""),
        Err(SafetyNumberError::Malformed)
    );
    let mut other_version = number.qr_payload();
    other_version[1] = 2; // field 1 (version) is the first byte pair: 0x08, 0x01
    assert_eq!(
        number.compare_scanned(&other_version),
        Err(SafetyNumberError::VersionMismatch { theirs: 2, ours: 1 })
    );
}
