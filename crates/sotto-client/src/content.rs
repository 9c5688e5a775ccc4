//! The plaintext inside every ciphertext: a small versioned JSON object. Readers ignore fields
//! they do not know, so later versions can add some.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::ClientError;

/// The content version this SDK writes.
pub const CONTENT_VERSION: u32 = 1;

/// The longest text a message may carry, so every copy stays far below the relay's envelope
/// limit (96 KiB) after padding and encryption.
pub const MAX_TEXT_BYTES: usize = 32 * 1024;

/// Checks and folds a username the way the relay does: 3–32 characters of `a-z0-9_.`.
/// Checking it here also keeps anything else out of the URLs built from it.
pub fn canonical_username(name: &str) -> Result<String, ClientError> {
    let folded = name.to_lowercase();
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.';
    if (3..=32).contains(&folded.len()) && folded.chars().all(allowed) {
        Ok(folded)
    } else {
        Err(ClientError::InvalidUsername(name.to_owned()))
    }
}

/// A text message as encrypted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    /// Content format version.
    pub version: u32,
    /// The message id (also the relay's idempotency key).
    pub id: String,
    /// The sender's time, ms since the epoch.
    pub sent_at: i64,
    /// The text.
    pub text: String,
    /// The sender's username (checked against the relay's directory before it is trusted).
    pub sender: String,
    /// On a copy for the sender's own other devices: the account id it was sent to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_to: Option<String>,
}

impl Content {
    /// The bytes to encrypt.
    pub fn encode(&self) -> Result<Zeroizing<Vec<u8>>, ClientError> {
        serde_json::to_vec(self)
            .map(Zeroizing::new)
            .map_err(|_| ClientError::Content("does not encode"))
    }

    /// Parses decrypted bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, ClientError> {
        let content: Self =
            serde_json::from_slice(bytes).map_err(|_| ClientError::Content("does not parse"))?;
        if content.version == 0 {
            return Err(ClientError::Content("version 0"));
        }
        Ok(content)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn usernames_are_checked_and_folded() {
        assert_eq!(canonical_username("Alice_1.x").unwrap(), "alice_1.x");
        for bad in ["ab", "a/../keys", "al ice", "ä12", &"a".repeat(33), "x%2f"] {
            assert!(canonical_username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let json = br#"{"version":2,"id":"m","sent_at":5,"text":"hi","sender":"a","future":[1]}"#;
        let content = Content::decode(json).unwrap();
        assert_eq!(content.text, "hi");
        assert_eq!(content.sent_to, None);
        assert!(Content::decode(b"{\"version\":1}").is_err());
    }
}
