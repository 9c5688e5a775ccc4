//! How group events, groups and group history are shown: a line of text or one JSON object.

use serde_json::{Value, json};
use sotto_client::{Direction, Event, GroupInfo, StoredMessage};

use super::attachments;
use super::output::{details_text, history_state, rfc3339, with_files};

/// The JSON line of a group event (`None` for other events).
pub fn event_json(event: &Event) -> Option<Value> {
    Some(match event {
        Event::GroupMessage {
            group_id,
            group,
            author,
            device_id,
            message_id,
            text,
            sent_at,
            details,
            ..
        } => {
            let mut line = json!({"type": "message", "group": group_id, "group_name": group,
                "id": message_id, "from": author, "device": device_id, "text": text,
                "sent_at": rfc3339(*sent_at)});
            with_files(&mut line, &details.attachments);
            line
        }
        Event::GroupChanged {
            group_id,
            group,
            by,
            added,
            removed,
            left,
        } => json!({"type": "group_changed", "group": group_id, "group_name": group, "by": by,
                    "added": added, "removed": removed, "left": left}),
        Event::GroupRejected {
            group_id,
            sender_account,
            reason,
        } => json!({"type": "group_rejected", "group": group_id,
                    "sender_account": sender_account, "reason": reason}),
        _ => return None,
    })
}

/// The text line of a group event (`None` for other events).
pub fn event_text(event: &Event) -> Option<String> {
    Some(match event {
        Event::GroupMessage {
            group,
            author,
            text,
            sent_at,
            details,
            ..
        } => format!(
            "[{}] {author} @ {group}: {}{}",
            rfc3339(*sent_at),
            details_text(details, text),
            attachments::list_text(&details.attachments)
        ),
        Event::GroupChanged {
            group,
            by,
            added,
            removed,
            left,
            ..
        } => {
            let mut line = format!("group {group} changed by {by}");
            if !added.is_empty() {
                line.push_str(&format!("; added {}", added.join(", ")));
            }
            if !removed.is_empty() {
                line.push_str(&format!("; removed {}", removed.join(", ")));
            }
            if *left {
                line.push_str("; you are no longer a member");
            }
            line
        }
        Event::GroupRejected {
            group_id,
            sender_account,
            reason,
        } => format!(
            "! refused in group {}: from {}: {reason}",
            group_id.as_deref().map_or("?", |g| &g[..g.len().min(12)]),
            sender_account.as_deref().unwrap_or("?")
        ),
        _ => return None,
    })
}

/// The JSON of a group.
pub fn group_json(group: &GroupInfo) -> Value {
    let members: Vec<Value> = group
        .members
        .iter()
        .map(|m| json!({"account_id": m.account_id, "username": m.username, "admin": m.admin}))
        .collect();
    json!({"id": group.id, "name": group.name, "version": group.version,
           "members": members, "left": group.left})
}

/// One line for a group: short id, name, member count.
pub fn group_text(group: &GroupInfo) -> String {
    let left = if group.left { " (left)" } else { "" };
    format!(
        "{}  {}  ({} members){left}",
        &group.id[..group.id.len().min(12)],
        group.name,
        group.members.len()
    )
}

/// The author of a group history row, as a name.
fn author(message: &StoredMessage, group: &GroupInfo, me: &str) -> String {
    match (message.direction, &message.details.author) {
        (Direction::Outgoing, _) => me.to_owned(),
        (Direction::Incoming, Some(account)) => group.member_name(account),
        (Direction::Incoming, None) => "?".to_owned(),
    }
}

/// The JSON of a stored group message.
pub fn history_json(message: &StoredMessage, group: &GroupInfo, me: &str) -> Value {
    let mut line = json!({"type": "message", "group": group.id, "group_name": group.name,
        "id": message.message_id, "from": author(message, group, me),
        "device": message.device_id, "text": message.text,
        "sent_at": rfc3339(message.sent_at), "state": history_state(message)});
    with_files(&mut line, &message.details.attachments);
    line
}

/// The text line of a stored group message.
pub fn history_text(message: &StoredMessage, group: &GroupInfo, me: &str) -> String {
    format!(
        "[{}] {}: {}{}",
        rfc3339(message.sent_at),
        author(message, group, me),
        details_text(&message.details, &message.text),
        attachments::list_text(&message.details.attachments)
    )
}
