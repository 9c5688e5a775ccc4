//! What a history row holds beyond its text: quote, files, reactions, edit and deletion marks,
//! the disappearing timer. Sealed with the row as one JSON field, so adding a detail needs no
//! schema change and rows written before it read as "none".

use serde::{Deserialize, Serialize};

use crate::content::{AttachmentPointer, Quote};

/// The details of one message.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MessageDetails {
    /// The message it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<Quote>,
    /// Its files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<StoredAttachment>,
    /// Reactions, at most one per account.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<StoredReaction>,
    /// When its author last edited it (author's clock, ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<i64>,
    /// Deleted for everyone by its author: text and files are gone.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    /// Its disappearing timer in seconds, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_timer: Option<u32>,
    /// In a group conversation: the author's account id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
}

/// A file of a message, and where this device saved it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAttachment {
    /// How to fetch and decrypt it.
    pub pointer: AttachmentPointer,
    /// Where it was saved after download and checks, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saved_as: Option<String>,
}

/// One account's reaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredReaction {
    /// Who reacted (account id).
    pub author: String,
    /// The emoji.
    pub emoji: String,
}

impl MessageDetails {
    /// Sets (or, with `None`, removes) `author`'s reaction.
    pub(crate) fn react(&mut self, author: &str, emoji: Option<&str>) {
        self.reactions.retain(|r| r.author != author);
        if let Some(emoji) = emoji {
            self.reactions.push(StoredReaction {
                author: author.to_owned(),
                emoji: emoji.to_owned(),
            });
        }
    }
}
