//! Safety numbers: 60 digits two people compare, and the QR payload that compares them for them.
//!
//! Per party: `h = SHA-512(0x00 0x01 || identity_keys(65) || stable_id)`, then 5,200 times
//! `h = SHA-512(h || identity_keys)`. The 30 displayed digits of a party are the first 30 bytes
//! of `h` read as six 40-bit big-endian numbers, each reduced mod 100,000 and written as 5 digits.
//! The safety number is both parties' digits, the smaller string first, so it reads the same on
//! both sides. The QR payload carries the first 32 bytes of both hashes.

use prost::Message;
use sha2::{Digest, Sha512};
use sotto_proto::fingerprint::{CombinedFingerprints, LogicalFingerprint};
use subtle::ConstantTimeEq;

use crate::error::SafetyNumberError;
use crate::identity::IdentityKey;
use crate::labels;

/// Hash iterations per party.
pub const ITERATIONS: u32 = 5_200;
/// The scannable format version.
pub const SCANNABLE_VERSION: u32 = 1;

/// The safety number of a conversation between `local` and `remote`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SafetyNumber {
    digits: String,
    local: [u8; 32],
    remote: [u8; 32],
}

/// Whether a scanned code matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    /// Both devices see the same two identities.
    Match,
    /// The identities differ: do not trust this conversation until you know why.
    Mismatch,
}

impl SafetyNumber {
    /// Computes the safety number. Stable ids are the accounts' ids (as in [`crate::Address`]).
    pub fn compute(
        local_id: &[u8],
        local_key: &IdentityKey,
        remote_id: &[u8],
        remote_key: &IdentityKey,
    ) -> Self {
        let local_hash = party_hash(local_id, local_key);
        let remote_hash = party_hash(remote_id, remote_key);
        let (a, b) = (digits(&local_hash), digits(&remote_hash));
        let digits = if a <= b { a + &b } else { b + &a };
        Self {
            digits,
            local: first_32(&local_hash),
            remote: first_32(&remote_hash),
        }
    }

    /// The 60 digits.
    pub fn digits(&self) -> &str {
        &self.digits
    }

    /// The 60 digits in twelve groups of five, as shown to people.
    pub fn grouped(&self) -> String {
        let groups: Vec<&str> = (0..12).map(|i| &self.digits[i * 5..i * 5 + 5]).collect();
        groups.join(" ")
    }

    /// The bytes to put in a QR code.
    pub fn qr_payload(&self) -> Vec<u8> {
        CombinedFingerprints {
            version: SCANNABLE_VERSION,
            local_fingerprint: Some(LogicalFingerprint {
                content: self.local.to_vec(),
            }),
            remote_fingerprint: Some(LogicalFingerprint {
                content: self.remote.to_vec(),
            }),
        }
        .encode_to_vec()
    }

    /// Compares the payload scanned from the other device's screen with ours.
    ///
    /// # Errors
    /// A payload that is not a safety number, or one of another version.
    pub fn compare_scanned(&self, scanned: &[u8]) -> Result<Comparison, SafetyNumberError> {
        let theirs =
            CombinedFingerprints::decode(scanned).map_err(|_| SafetyNumberError::Malformed)?;
        if theirs.version == 0 {
            return Err(SafetyNumberError::Malformed);
        }
        if theirs.version != SCANNABLE_VERSION {
            return Err(SafetyNumberError::VersionMismatch {
                theirs: theirs.version,
                ours: SCANNABLE_VERSION,
            });
        }
        let content = |f: Option<LogicalFingerprint>| f.map(|f| f.content);
        let their_local = content(theirs.local_fingerprint).ok_or(SafetyNumberError::Malformed)?;
        let their_remote =
            content(theirs.remote_fingerprint).ok_or(SafetyNumberError::Malformed)?;
        if their_local.len() != 32 || their_remote.len() != 32 {
            return Err(SafetyNumberError::Malformed);
        }
        // Their "local" is us seen from them, so it must equal our "remote", and vice versa.
        let same = their_local.ct_eq(&self.remote) & their_remote.ct_eq(&self.local);
        Ok(if bool::from(same) {
            Comparison::Match
        } else {
            Comparison::Mismatch
        })
    }
}

fn party_hash(stable_id: &[u8], key: &IdentityKey) -> [u8; 64] {
    let keys = key.keys();
    let mut hash: [u8; 64] = Sha512::new()
        .chain_update(labels::SAFETY_NUMBER_VERSION)
        .chain_update(keys)
        .chain_update(stable_id)
        .finalize()
        .into();
    for _ in 0..ITERATIONS {
        hash = Sha512::new()
            .chain_update(hash)
            .chain_update(keys)
            .finalize()
            .into();
    }
    hash
}

fn digits(hash: &[u8; 64]) -> String {
    hash[..30]
        .chunks(5)
        .map(|chunk| {
            let value = chunk.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
            format!("{:05}", value % 100_000)
        })
        .collect()
}

fn first_32(hash: &[u8; 64]) -> [u8; 32] {
    let mut out = [0; 32];
    out.copy_from_slice(&hash[..32]);
    out
}
