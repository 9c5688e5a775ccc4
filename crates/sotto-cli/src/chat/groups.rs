//! Groups in the chat screen: a group is a conversation named `#NAME` (a name no username can
//! have), its incoming lines prefixed with their author. Reactions, edits, deletions, timers
//! and receipts are not offered in groups yet.

use sotto_client::{Client, ClientError, Direction, MessageDetails, StoredMessage};

use super::state::{Change, Snapshot};
use crate::client::attachments;

/// What starts the name of a group conversation.
const GROUP_MARK: char = '#';

/// The conversation name of a group.
pub fn conversation_name(group: &str) -> String {
    format!("{GROUP_MARK}{group}")
}

/// The group a conversation name stands for, if it is one.
pub fn group_of(conversation: &str) -> Option<&str> {
    conversation.strip_prefix(GROUP_MARK)
}

/// The text of a group line: an incoming one names its author.
pub fn line_text(
    direction: Direction,
    author: &str,
    text: &str,
    details: &MessageDetails,
) -> String {
    let files = attachments::list_text(&details.attachments);
    match direction {
        Direction::Incoming => format!("{author}: {text}{files}"),
        Direction::Outgoing => format!("{text}{files}"),
    }
}

/// The groups we are still in, each with its history.
pub async fn load(client: &Client) -> Result<Vec<Snapshot>, ClientError> {
    let mut snapshots = Vec::new();
    for group in client.groups().await? {
        if group.left {
            continue;
        }
        let history: Vec<StoredMessage> = client
            .group_history(&group.id)
            .await?
            .into_iter()
            .map(|mut message| {
                if message.direction == Direction::Incoming {
                    let author = message.details.author.clone().unwrap_or_default();
                    let name = group.member_name(&author);
                    message.text = format!("{name}: {}", message.text);
                }
                message
            })
            .collect();
        snapshots.push(Snapshot {
            username: conversation_name(&group.name),
            verified: false,
            identity_changed: false,
            timer: None,
            history,
        });
    }
    Ok(snapshots)
}

/// A message-feature change in a group: receipts and typing are not sent; the rest is refused.
pub fn change(change: Change) -> Result<(), ClientError> {
    match change {
        Change::MarkRead | Change::Typing { .. } => Ok(()),
        _ => Err(ClientError::InvalidInput(
            "reactions, edits, deletions and timers in groups",
        )),
    }
}
