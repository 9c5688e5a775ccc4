//! The logic of the `provisioning` fuzz target: a provisioning envelope and the message inside
//! it, as untrusted bytes. Shared by `fuzz_targets/provisioning.rs` and the corpus replay in
//! `crates/sotto-core/tests/fuzz_corpus.rs`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::OnceLock;

use chacha20::ChaCha20Rng;
use rand_core::SeedableRng;
use sotto_core::IdentityKeyPair;
use sotto_core::provisioning::{ProvisioningKeys, ProvisioningMessage, seal};

/// The channel every fuzzed envelope is opened for.
pub const CHANNEL: &[u8] = b"fuzz-channel";

/// The new device's keys, from a fixed seed.
pub fn keys() -> &'static ProvisioningKeys {
    static KEYS: OnceLock<ProvisioningKeys> = OnceLock::new();
    KEYS.get_or_init(|| ProvisioningKeys::generate(&mut ChaCha20Rng::seed_from_u64(77)))
}

/// Opens `data` as an envelope and parses it as a bare message: neither may panic, and an
/// accepted message must re-encode to exactly the bytes it came from.
pub fn provisioning(data: &[u8]) {
    if let Ok(message) = keys().open(CHANNEL, data) {
        let again = ProvisioningMessage::decode(&message.encode().unwrap()).unwrap();
        assert_eq!(again.account_id, message.account_id);
    }
    if let Ok(message) = ProvisioningMessage::decode(data) {
        assert_eq!(
            &message.encode().unwrap()[..],
            data,
            "message does not re-encode"
        );
    }
}

/// A valid message, its encoding, and an envelope the fixed keys open.
pub fn provisioning_seeds() -> Vec<Vec<u8>> {
    let mut rng = ChaCha20Rng::seed_from_u64(78);
    let message = ProvisioningMessage::new(
        IdentityKeyPair::generate(&mut rng),
        "0123456789abcdef0123456789abcdef".into(),
        "alice".into(),
        "bGluay10b2tlbg".into(),
    );
    let envelope = seal(&message, CHANNEL, keys().public(), &mut rng).unwrap();
    vec![message.encode().unwrap().to_vec(), envelope]
}
