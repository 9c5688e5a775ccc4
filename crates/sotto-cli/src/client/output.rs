//! How events and stored messages are shown: one line of text, or one JSON object per line.

use serde_json::{Value, json};
use sotto_client::sealed::Unsealable;
use sotto_client::{Contact, DeliveryState, Direction, Event, MessageDetails, StoredMessage};

use super::attachments;

/// A time in ms since the epoch as RFC 3339 (UTC).
pub fn rfc3339(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}

fn state_name(state: DeliveryState) -> &'static str {
    match state {
        DeliveryState::Pending => "pending",
        DeliveryState::Sent => "sent",
        DeliveryState::Delivered => "delivered",
        DeliveryState::Read => "read",
        _ => "unknown",
    }
}

/// Outgoing: how far it got. Incoming: whether it was read here.
pub(super) fn history_state(message: &StoredMessage) -> &'static str {
    match (message.direction, message.state) {
        (Direction::Incoming, DeliveryState::Read) => "read",
        (Direction::Incoming, _) => "unread",
        (Direction::Outgoing, state) => state_name(state),
    }
}

/// The JSON of a message's quote, reactions, edit, deletion and expiry (only what it has).
/// `peer_account`/`peer` name the contact, so reactions can say who reacted.
fn details_json(
    object: &mut serde_json::Map<String, Value>,
    details: &MessageDetails,
    expires_at: Option<i64>,
    names: (&str, &str, &str),
) {
    let (peer_account, peer, me) = names;
    if let Some(quote) = &details.quote {
        object.insert(
            "quote".into(),
            json!({"id": quote.target.id, "text": quote.text}),
        );
    }
    if !details.reactions.is_empty() {
        let reactions: Vec<Value> = details
            .reactions
            .iter()
            .map(|r| {
                let from = if r.author == peer_account { peer } else { me };
                json!({"from": from, "emoji": r.emoji})
            })
            .collect();
        object.insert("reactions".into(), Value::Array(reactions));
    }
    if let Some(at) = details.edited_at {
        object.insert("edited_at".into(), json!(rfc3339(at)));
    }
    if details.deleted {
        object.insert("deleted".into(), json!(true));
    }
    if let Some(at) = expires_at {
        object.insert("expires_at".into(), json!(rfc3339(at)));
    }
}

/// A short marker line for the text form of details: quote, edit, deletion, reactions.
pub(super) fn details_text(details: &MessageDetails, text: &str) -> String {
    let mut line = String::new();
    if let Some(quote) = &details.quote {
        line.push_str(&format!("(re: \"{}\") ", quote.text));
    }
    if details.deleted {
        line.push_str("(deleted)");
    } else {
        line.push_str(text);
    }
    if details.edited_at.is_some() && !details.deleted {
        line.push_str(" (edited)");
    }
    if !details.reactions.is_empty() {
        let emojis: Vec<&str> = details.reactions.iter().map(|r| r.emoji.as_str()).collect();
        line.push_str(&format!(" [{}]", emojis.join(" ")));
    }
    line
}

/// The JSON line for an event. `me` is our own username (the sender of outgoing copies).
pub fn event_json(event: &Event, me: &str) -> Option<Value> {
    Some(match event {
        Event::Message {
            peer,
            direction,
            device_id,
            message_id,
            text,
            sent_at,
            details,
            expires_at,
        } => {
            let (from, to) = match direction {
                Direction::Incoming => (peer.as_str(), me),
                Direction::Outgoing => (me, peer.as_str()),
            };
            let mut line = json!({"type": "message", "id": message_id, "from": from, "to": to,
                   "device": device_id, "text": text, "sent_at": rfc3339(*sent_at)});
            with_files(&mut line, &details.attachments);
            if let Some(object) = line.as_object_mut() {
                details_json(object, details, *expires_at, ("", peer, me));
            }
            line
        }
        Event::Reaction {
            peer,
            author,
            target,
            emoji,
        } => json!({"type": "reaction", "with": peer, "from": author, "target": target.id,
                    "emoji": emoji}),
        Event::Edited {
            peer,
            message_id,
            text,
            ..
        } => json!({"type": "edit", "with": peer, "id": message_id, "text": text}),
        Event::Deleted {
            peer, message_id, ..
        } => json!({"type": "delete", "with": peer, "id": message_id}),
        Event::Typing { peer, started } => {
            json!({"type": "typing", "from": peer, "started": started})
        }
        Event::TimerChanged { peer, by, seconds } => {
            json!({"type": "timer", "with": peer, "by": by, "seconds": seconds})
        }
        Event::Expired { peer, message_ids } => {
            json!({"type": "expired", "with": peer, "ids": message_ids})
        }
        Event::IdentityChanged {
            username,
            was_verified,
        } => json!({"type": "identity_changed", "username": username,
                    "was_verified": was_verified}),
        Event::Delivery {
            peer,
            message_id,
            state,
        } => json!({"type": "delivery", "id": message_id, "to": peer,
                    "state": state_name(*state)}),
        Event::Undecryptable {
            sender_account,
            reason,
        } => json!({"type": "undecryptable", "sender_account": sender_account,
                    "reason": reason}),
        Event::DevicesChanged {
            username,
            added,
            removed,
            replaced,
        } => json!({"type": "devices_changed", "username": username, "added": added,
                    "removed": removed, "replaced": replaced}),
        Event::SentIdentified {
            peer,
            message_id,
            reason,
        } => json!({"type": "sent_identified", "id": message_id, "to": peer,
                    "reason": reason.as_str()}),
        _ => return super::group_output::event_json(event),
    })
}

/// The text line for an event.
pub fn event_text(event: &Event, me: &str) -> Option<String> {
    Some(match event {
        Event::Message {
            peer,
            direction,
            device_id,
            text,
            sent_at,
            details,
            ..
        } => {
            let text = details_text(details, text);
            let files = attachments::list_text(&details.attachments);
            match direction {
                Direction::Incoming => format!(
                    "[{}] {peer} (device {device_id}): {text}{files}",
                    rfc3339(*sent_at)
                ),
                Direction::Outgoing => {
                    format!("[{}] {me} -> {peer}: {text}{files}", rfc3339(*sent_at))
                }
            }
        }
        Event::Reaction {
            peer,
            author,
            target,
            emoji,
        } => match emoji {
            Some(emoji) => format!("{author} reacted {emoji} to message {} ({peer})", target.id),
            None => format!(
                "{author} removed a reaction to message {} ({peer})",
                target.id
            ),
        },
        Event::Edited {
            peer,
            message_id,
            text,
            ..
        } => format!("message {message_id} ({peer}) edited: {text}"),
        Event::Deleted {
            peer, message_id, ..
        } => format!("message {message_id} ({peer}) was deleted for everyone"),
        Event::Typing { peer, started } => {
            if *started {
                format!("{peer} is typing…")
            } else {
                format!("{peer} stopped typing")
            }
        }
        Event::TimerChanged { peer, by, seconds } => match seconds {
            Some(s) => format!(
                "{by} set disappearing messages with {peer} to {}",
                super::features::show_duration(*s)
            ),
            None => format!("{by} turned disappearing messages with {peer} off"),
        },
        Event::Expired { peer, message_ids } => {
            format!(
                "{} disappearing message(s) with {peer} expired",
                message_ids.len()
            )
        }
        Event::IdentityChanged {
            username,
            was_verified,
        } => {
            let mut line = format!(
                "! The safety number with {username} changed: compare it with `sotto verify {username}`."
            );
            if *was_verified {
                line.push_str(&format!(
                    " Sending is blocked until `sotto verify {username} --accept`."
                ));
            }
            line
        }
        Event::Delivery {
            peer,
            message_id,
            state,
        } => match state {
            DeliveryState::Delivered => format!("(message {message_id} delivered to {peer})"),
            DeliveryState::Read => format!("(message {message_id} read by {peer})"),
            _ => format!("(message {message_id} to {peer} stored by the relay)"),
        },
        Event::Undecryptable { reason, .. } => {
            format!("! a message could not be decrypted: {reason}")
        }
        Event::DevicesChanged {
            username,
            added,
            removed,
            replaced,
        } => devices_changed_text(username, added, removed, replaced),
        Event::SentIdentified { peer, reason, .. } => identified_text(peer, *reason),
        _ => return super::group_output::event_text(event),
    })
}

/// Why the relay learned who sent a message to `peer`.
fn identified_text(peer: &str, reason: Unsealable) -> String {
    let why = match reason {
        Unsealable::NoAccessKey => {
            format!("{peer} has not shared its access key yet (it does with its first message)")
        }
        Unsealable::AccessKeyRefused => format!("the relay refused {peer}'s access key"),
        Unsealable::RelayOffersNone => "the relay issues no sender certificates".to_owned(),
        _ => "sealed sending was not possible".to_owned(),
    };
    format!("(sent to {peer} identified, not sealed: {why})")
}

/// "bob's devices changed: +3 -2 ~4" (added, removed, re-linked).
fn devices_changed_text(
    username: &str,
    added: &[u32],
    removed: &[u32],
    replaced: &[u32],
) -> String {
    let marks = [("+", added), ("-", removed), ("~", replaced)];
    let list: Vec<String> = marks
        .iter()
        .flat_map(|(mark, ids)| ids.iter().map(move |id| format!("{mark}{id}")))
        .collect();
    format!("{username}'s devices changed: {}", list.join(" "))
}

/// The JSON of a stored message in a conversation with `peer`.
pub fn history_json(message: &StoredMessage, peer: &str, me: &str) -> Value {
    let (from, to) = match message.direction {
        Direction::Incoming => (peer, me),
        Direction::Outgoing => (me, peer),
    };
    let mut line = json!({"type": "message", "id": message.message_id, "from": from, "to": to,
           "device": message.device_id, "text": message.text,
           "sent_at": rfc3339(message.sent_at), "state": history_state(message)});
    if let Some(object) = line.as_object_mut() {
        let names = (message.peer_account.as_str(), peer, me);
        details_json(object, &message.details, message.expires_at, names);
    }
    with_files(&mut line, &message.details.attachments);
    line
}

/// Adds `"attachments": [...]` to a message's JSON when it has files.
pub(super) fn with_files(line: &mut Value, files: &[sotto_client::StoredAttachment]) {
    if !files.is_empty() {
        line["attachments"] = attachments::list_json(files);
    }
}

/// The text line of a stored message.
pub fn history_text(message: &StoredMessage, peer: &str, me: &str) -> String {
    let from = match message.direction {
        Direction::Incoming => peer,
        Direction::Outgoing => me,
    };
    let pending = if message.state == DeliveryState::Pending {
        " (not yet sent)"
    } else {
        ""
    };
    format!(
        "[{}] {from}: {}{pending}{}",
        rfc3339(message.sent_at),
        details_text(&message.details, &message.text),
        attachments::list_text(&message.details.attachments)
    )
}

/// The JSON of a contact.
pub fn contact_json(contact: &Contact) -> Value {
    json!({"username": contact.username, "account_id": contact.account_id,
           "verified": contact.verified, "identity_changed": contact.identity_changed})
}

/// The text line of a contact.
pub fn contact_text(contact: &Contact) -> String {
    let mut line = contact.username.clone();
    if contact.verified {
        line.push_str("  verified");
    }
    if contact.identity_changed {
        line.push_str("  IDENTITY CHANGED (sotto verify ");
        line.push_str(&contact.username);
        line.push(')');
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_in_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_500), "1970-01-01T00:00:01.5Z");
    }

    #[test]
    fn an_incoming_message_names_its_sender() {
        let event = Event::Message {
            peer: "alice".into(),
            direction: Direction::Incoming,
            device_id: 1,
            message_id: "ab".into(),
            text: "hi".into(),
            sent_at: 0,
            details: sotto_client::MessageDetails::default(),
            expires_at: None,
        };
        let line = event_json(&event, "bob").unwrap_or_default();
        assert_eq!(line["type"], "message");
        assert_eq!(line["from"], "alice");
        assert_eq!(line["to"], "bob");
        assert_eq!(line["device"], 1);
        assert_eq!(line["sent_at"], "1970-01-01T00:00:00Z");
    }
}
