//! The bounds a peer's content must stay within, checked when it is decoded, and the time
//! windows for edits and deletions.

use super::MAX_TEXT_BYTES;
use super::body::{AttachmentPointer, Body, MessageRef};

/// Most files on one message.
pub const MAX_ATTACHMENTS: usize = 32;
/// Longest reaction, in bytes (one emoji can take several code points).
pub const MAX_EMOJI_BYTES: usize = 32;
/// Longest quoted excerpt, in bytes.
pub const MAX_QUOTE_BYTES: usize = 256;
/// Most message ids one receipt covers.
pub const MAX_RECEIPT_IDS: usize = 1_000;
/// Longest disappearing timer: four weeks.
pub const MAX_EXPIRE_TIMER_S: u32 = 28 * 24 * 3600;
/// How long after sending a message its author may still edit it.
pub const EDIT_WINDOW_MS: i64 = 24 * 3600 * 1000;
/// How long after sending a message its author may still delete it for everyone.
pub const DELETE_WINDOW_MS: i64 = 24 * 3600 * 1000;

const MAX_NAME_BYTES: usize = 255;
const MAX_TYPE_BYTES: usize = 127;
const MAX_ID_BYTES: usize = 64;

/// Checks every bound of a body; the error names the first one broken.
pub(super) fn check(body: &Body) -> Result<(), &'static str> {
    match body {
        Body::Text(message) => {
            text(&message.text)?;
            if let Some(quote) = &message.quote {
                reference(&quote.target)?;
                bounded(quote.text.len() <= MAX_QUOTE_BYTES, "quote too long")?;
            }
            bounded(
                message.attachments.len() <= MAX_ATTACHMENTS,
                "too many attachments",
            )?;
            message.attachments.iter().try_for_each(attachment)?;
            bounded(
                message.expire_timer.is_none_or(|s| s <= MAX_EXPIRE_TIMER_S),
                "timer too long",
            )
        }
        Body::Receipt(receipt) => {
            bounded(
                receipt.message_ids.len() <= MAX_RECEIPT_IDS,
                "receipt too long",
            )?;
            receipt.message_ids.iter().try_for_each(|id| message_id(id))
        }
        Body::Reaction(reaction) => {
            reference(&reaction.target)?;
            let emoji = &reaction.emoji;
            let present = reaction.remove || !emoji.is_empty();
            bounded(
                present && emoji.len() <= MAX_EMOJI_BYTES,
                "reaction is not one emoji",
            )?;
            bounded(!emoji.chars().any(char::is_control), "control character")
        }
        Body::Edit(edit) => {
            message_id(&edit.target_id)?;
            text(&edit.text)
        }
        Body::Delete(delete) => message_id(&delete.target_id),
        Body::Timer(timer) => bounded(timer.seconds <= MAX_EXPIRE_TIMER_S, "timer too long"),
        Body::Group(control) => {
            bounded(control.group_id.0.len() == 32, "group id is not 32 bytes")?;
            bounded(
                control.sender_key.as_ref().is_none_or(|k| k.0.len() <= 256),
                "sender key too long",
            )?;
            bounded(
                control
                    .state
                    .as_ref()
                    .is_none_or(|s| s.0.len() <= MAX_GROUP_STATE_BYTES),
                "group state too long",
            )?;
            match &control.state_attachment {
                Some(pointer) => {
                    attachment(pointer)?;
                    bounded(
                        pointer.size <= MAX_GROUP_STATE_ATTACHMENT_BYTES as u64,
                        "group state attachment too large",
                    )
                }
                None => Ok(()),
            }
        }
        Body::Typing(_) | Body::Unknown => Ok(()),
    }
}

/// The largest signed group state carried in a message (it must fit one envelope).
pub const MAX_GROUP_STATE_BYTES: usize = 64 * 1024;

/// The largest signed group state sent as an attachment (2,000 members take about 350 KB).
pub const MAX_GROUP_STATE_ATTACHMENT_BYTES: usize = 1024 * 1024;

/// The start of `text`, cut at a character boundary, for a quote.
pub fn quote_excerpt(text: &str) -> String {
    let mut end = text.len().min(MAX_QUOTE_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

fn bounded(ok: bool, broken: &'static str) -> Result<(), &'static str> {
    if ok { Ok(()) } else { Err(broken) }
}

fn text(text: &str) -> Result<(), &'static str> {
    bounded(text.len() <= MAX_TEXT_BYTES, "text too long")
}

fn message_id(id: &str) -> Result<(), &'static str> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    bounded(
        !id.is_empty() && id.len() <= MAX_ID_BYTES && id.chars().all(allowed),
        "bad message id",
    )
}

fn reference(target: &MessageRef) -> Result<(), &'static str> {
    message_id(&target.id)?;
    message_id(&target.author)
}

/// Whether a relay blob id is safe to put in a URL path and a file name.
pub(crate) fn safe_attachment_id(id: &str) -> bool {
    message_id(id).is_ok()
}

fn attachment(pointer: &AttachmentPointer) -> Result<(), &'static str> {
    message_id(&pointer.id)?;
    bounded(pointer.key.0.len() == 32, "attachment key length")?;
    bounded(pointer.digest.0.len() == 32, "attachment digest length")?;
    if let Some(name) = &pointer.name {
        bounded(safe_file_name(name), "attachment name")?;
    }
    if let Some(kind) = &pointer.content_type {
        let printable = kind.chars().all(|c| c.is_ascii_graphic());
        bounded(printable && kind.len() <= MAX_TYPE_BYTES, "attachment type")?;
    }
    Ok(())
}

/// A name that can only ever be one file in the directory it is saved to.
pub(crate) fn safe_file_name(name: &str) -> bool {
    let forbidden = |c: char| c.is_control() || matches!(c, '/' | '\\' | ':');
    !name.is_empty()
        && name.len() <= MAX_NAME_BYTES
        && name != "."
        && name != ".."
        && !name.starts_with('.')
        && !name.chars().any(forbidden)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_cannot_leave_their_directory() {
        for bad in [
            "", ".", "..", "../x", "a/b", "a\\b", "c:x", ".hidden", "a\nb",
        ] {
            assert!(!safe_file_name(bad), "{bad:?}");
        }
        assert!(safe_file_name("photo 1.jpg"));
    }

    #[test]
    fn excerpts_cut_at_character_boundaries() {
        let text = "é".repeat(200);
        let excerpt = quote_excerpt(&text);
        assert!(excerpt.len() <= MAX_QUOTE_BYTES);
        assert!(text.starts_with(&excerpt));
    }
}
