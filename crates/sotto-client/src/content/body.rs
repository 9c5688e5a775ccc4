//! What a message says: one typed body per kind, tagged by `"type"` in the JSON. A body type
//! this SDK does not know parses as [`Body::Unknown`], which receivers ignore, so a newer client
//! can add kinds without older ones failing.

use serde::{Deserialize, Serialize};
use sotto_proto::api::Base64Bytes;

/// The body of a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Body {
    /// A chat message: text, perhaps a quote and files.
    Text(TextMessage),
    /// "These messages reached my device" or "… I have read them".
    Receipt(Receipt),
    /// The sender started or stopped typing (never queued for long).
    Typing(Typing),
    /// An emoji reaction to a message, or its removal.
    Reaction(Reaction),
    /// New text for one of the sender's own messages.
    Edit(Edit),
    /// Delete one of the sender's own messages for everyone.
    Delete(Delete),
    /// The conversation's disappearing-message timer changed.
    Timer(TimerChange),
    /// Group control, over the pairwise session: a new admin-signed group state, the sender's
    /// Sender Key, or a request to leave (never shown, never synced as such).
    Group(GroupControl),
    /// A kind of body this version does not know: ignored.
    #[serde(other)]
    Unknown,
}

impl Body {
    /// Whether our own other devices get a copy (so every device shows the same history).
    /// Receipts and typing indicators concern only this device's view.
    pub fn syncs_to_own_devices(&self) -> bool {
        !matches!(
            self,
            Body::Receipt(_) | Body::Typing(_) | Body::Group(_) | Body::Unknown
        )
    }

    /// Whether it is worthless unless delivered within seconds: never kept in an outbox,
    /// and the relay drops it if no device takes it quickly.
    pub fn is_ephemeral(&self) -> bool {
        matches!(self, Body::Typing(_))
    }
}

/// A chat message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextMessage {
    /// The text (may be empty when files are attached).
    #[serde(default)]
    pub text: String,
    /// The message this one answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<Quote>,
    /// Files, each encrypted under its own key and stored on the relay.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<AttachmentPointer>,
    /// The conversation's disappearing timer when this was sent, in seconds (none: off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_timer: Option<u32>,
}

/// A message of the conversation, named by its author and id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRef {
    /// The message id.
    pub id: String,
    /// The author's account id.
    pub author: String,
}

/// The message a reply answers, with a short excerpt to show even if the original is gone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// The quoted message.
    #[serde(flatten)]
    pub target: MessageRef,
    /// The start of its text.
    #[serde(default)]
    pub text: String,
}

/// Everything a recipient needs to fetch, check and decrypt one file.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentPointer {
    /// The relay's blob id (unguessable: it is the download's only authorisation).
    pub id: String,
    /// The 32-byte attachment key.
    pub key: Base64Bytes,
    /// SHA-256 of the whole encrypted blob.
    pub digest: Base64Bytes,
    /// The file's size in bytes (before padding and encryption).
    pub size: u64,
    /// The file's name as the sender had it (no directories).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its media type, e.g. `image/png`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

impl std::fmt::Debug for AttachmentPointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachmentPointer")
            .field("id", &self.id)
            .field("key", &"<redacted>")
            .field("size", &self.size)
            .field("name", &self.name)
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

/// Which receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptKind {
    /// Stored on one of the recipient's devices.
    Delivered,
    /// Shown to the recipient.
    Read,
}

/// A receipt for some of the recipient's incoming messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// Delivered or read.
    pub kind: ReceiptKind,
    /// The ids of the messages it covers (all sent by the receipt's recipient).
    pub message_ids: Vec<String>,
}

/// A typing indicator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Typing {
    /// True when typing started, false when it stopped.
    pub started: bool,
}

/// A reaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    /// The message reacted to.
    pub target: MessageRef,
    /// One emoji.
    pub emoji: String,
    /// True to take the reaction back.
    #[serde(default)]
    pub remove: bool,
}

/// An edit of one of the sender's own messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edit {
    /// The edited message's id.
    pub target_id: String,
    /// Its new text.
    pub text: String,
}

/// A delete-for-everyone of one of the sender's own messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delete {
    /// The deleted message's id.
    pub target_id: String,
}

/// A new disappearing-message timer for the conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerChange {
    /// Seconds a message lives on each device after it arrives; 0 turns the timer off.
    pub seconds: u32,
}

/// A group control message. Secret (a Sender Key reads every later message of its chain):
/// `Debug` shows no bytes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupControl {
    /// The group id (32 bytes).
    pub group_id: Base64Bytes,
    /// A signed group state (`0x15 …`, docs/protocol.md §15.4), newer than the one in force
    /// or the first one we learn of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<Base64Bytes>,
    /// A signed group state too large for one message, as an encrypted attachment holding
    /// exactly the bytes `state` would carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_attachment: Option<AttachmentPointer>,
    /// The sender device's Sender Key distribution (`0x13 …`, §15.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_key: Option<Base64Bytes>,
    /// The sender asks the group's admins to remove it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub leave: bool,
}

impl std::fmt::Debug for GroupControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupControl")
            .field("state", &self.state.as_ref().map(|s| s.0.len()))
            .field("state_attachment", &self.state_attachment)
            .field(
                "sender_key",
                &self.sender_key.as_ref().map(|_| "<redacted>"),
            )
            .field("leave", &self.leave)
            .finish_non_exhaustive()
    }
}

impl Drop for GroupControl {
    fn drop(&mut self) {
        if let Some(key) = &mut self.sender_key {
            zeroize::Zeroize::zeroize(&mut key.0);
        }
    }
}
