//! The plaintext inside every ciphertext: a small versioned JSON object with a typed
//! [`Body`]. Readers ignore fields and body types they do not know, so later versions can add
//! some; [`Content::decode`] also checks every size a peer could abuse.

mod body;
mod limits;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

pub use body::{
    AttachmentPointer, Body, Delete, Edit, GroupControl, MessageRef, Quote, Reaction, Receipt,
    ReceiptKind, TextMessage, TimerChange, Typing,
};
pub use limits::{
    DELETE_WINDOW_MS, EDIT_WINDOW_MS, MAX_ATTACHMENTS, MAX_EMOJI_BYTES, MAX_EXPIRE_TIMER_S,
    MAX_GROUP_STATE_ATTACHMENT_BYTES, MAX_GROUP_STATE_BYTES, MAX_QUOTE_BYTES, MAX_RECEIPT_IDS,
    quote_excerpt,
};
pub(crate) use limits::{safe_attachment_id, safe_file_name};

use crate::error::ClientError;

/// The content version this SDK writes.
pub const CONTENT_VERSION: u32 = 2;

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

/// A message as encrypted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    /// Content format version.
    pub version: u32,
    /// The message id (also the relay's idempotency key).
    pub id: String,
    /// The sender's time, ms since the epoch.
    pub sent_at: i64,
    /// What it says.
    pub body: Body,
    /// The sender's username (checked against the relay's directory before it is trusted).
    pub sender: String,
    /// On a copy for the sender's own other devices: the account id it was sent to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_to: Option<String>,
    /// The sender's sealed-sender access key (16 bytes), so the recipient can send to it
    /// sealed; carried by every pairwise message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key: Option<sotto_proto::api::Base64Bytes>,
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
        limits::check(&content.body).map_err(ClientError::Content)?;
        Ok(content)
    }

    /// The text of a chat message, if this is one.
    pub fn text(&self) -> Option<&TextMessage> {
        match &self.body {
            Body::Text(message) => Some(message),
            _ => None,
        }
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
        let json = br#"{"version":3,"id":"m","sent_at":5,"sender":"a","future":[1],
            "body":{"type":"text","text":"hi","later":true}}"#;
        let content = Content::decode(json).unwrap();
        assert_eq!(content.text().unwrap().text, "hi");
        assert_eq!(content.sent_to, None);
        assert!(Content::decode(b"{\"version\":1}").is_err());
    }

    #[test]
    fn unknown_body_types_parse_as_unknown() {
        let json = br#"{"version":9,"id":"m","sent_at":5,"sender":"a",
            "body":{"type":"poll","question":"?"}}"#;
        assert_eq!(Content::decode(json).unwrap().body, Body::Unknown);
    }

    #[test]
    fn every_body_round_trips() {
        let target = MessageRef {
            id: "m1".into(),
            author: "acc".into(),
        };
        let bodies = [
            Body::Text(TextMessage {
                text: "hi".into(),
                quote: Some(Quote {
                    target: target.clone(),
                    text: "earlier".into(),
                }),
                attachments: vec![AttachmentPointer {
                    id: "blob".into(),
                    key: vec![7; 32].into(),
                    digest: vec![9; 32].into(),
                    size: 12,
                    name: Some("a.txt".into()),
                    content_type: Some("text/plain".into()),
                }],
                expire_timer: Some(30),
            }),
            Body::Receipt(Receipt {
                kind: ReceiptKind::Read,
                message_ids: vec!["m1".into()],
            }),
            Body::Typing(Typing { started: true }),
            Body::Reaction(Reaction {
                target,
                emoji: "👍".into(),
                remove: false,
            }),
            Body::Edit(Edit {
                target_id: "m1".into(),
                text: "fixed".into(),
            }),
            Body::Delete(Delete {
                target_id: "m1".into(),
            }),
            Body::Timer(TimerChange { seconds: 60 }),
        ];
        for body in bodies {
            let content = Content {
                version: CONTENT_VERSION,
                id: "m2".into(),
                sent_at: 1,
                body,
                sender: "alice".into(),
                sent_to: None,
                access_key: None,
            };
            let bytes = content.encode().unwrap();
            assert_eq!(Content::decode(&bytes).unwrap(), content);
        }
    }

    #[test]
    fn oversized_fields_are_refused() {
        let long = "x".repeat(MAX_TEXT_BYTES + 1);
        let json = format!(
            r#"{{"version":2,"id":"m","sent_at":5,"sender":"a","body":{{"type":"text","text":"{long}"}}}}"#
        );
        assert!(Content::decode(json.as_bytes()).is_err());
        let json = br#"{"version":2,"id":"m","sent_at":5,"sender":"a",
            "body":{"type":"reaction","target":{"id":"m","author":"b"},"emoji":"0123456789012345678901234567890123"}}"#;
        assert!(Content::decode(json).is_err());
    }
}
