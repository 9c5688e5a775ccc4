//! What a message does to this device's store, wherever it comes from: sent here, sent by
//! another of our devices (a sync copy), or received from the contact. One function, so every
//! device of both accounts ends up with the same history.
//!
//! ```text
//! text      ─► new history row (expiry from its timer)     reaction ─► target's reactions
//! edit      ─► target's text (author's own, within window)  delete  ─► target emptied, marked
//! timer     ─► conversation setting (latest change wins)    receipt ─► raise outgoing states
//! typing    ─► event only                                   unknown ─► nothing
//! ```

use sqlx::SqliteConnection;

use crate::client::Client;
use crate::content::{
    Body, Content, DELETE_WINDOW_MS, Edit, MessageRef, Reaction, Receipt, ReceiptKind, TextMessage,
    TimerChange,
};
use crate::error::ClientError;
use crate::events::{DeliveryState, Event};
use crate::store::{
    Direction, MessageDetails, NewMessage, StoredAttachment, StoredMessage, now_ms,
};

/// A conversation as this device names it.
pub(crate) struct Conversation<'a> {
    /// The contact's account id.
    pub(crate) peer_account: &'a str,
    /// The contact's username.
    pub(crate) peer_name: &'a str,
}

/// Who wrote a message.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Author {
    /// This device.
    ThisDevice,
    /// Another device of our account (a sync copy).
    OwnDevice,
    /// The contact.
    Peer,
}

impl Author {
    fn direction(self) -> Direction {
        match self {
            Self::Peer => Direction::Incoming,
            Self::ThisDevice | Self::OwnDevice => Direction::Outgoing,
        }
    }
}

/// What applying a message did.
#[derive(Default)]
pub(crate) struct Applied {
    /// A new history row was added.
    pub(crate) stored: bool,
    /// For front ends, once the transaction commits.
    pub(crate) events: Vec<Event>,
    /// Saved files of deleted messages, to remove once the transaction commits.
    pub(crate) removed_files: Vec<String>,
    /// A member asked us, an admin, to remove it from a group: `(group id, account id)`.
    pub(crate) leave_request: Option<(String, String)>,
}

/// One message being applied.
pub(crate) struct Incoming<'a> {
    pub(crate) conversation: Conversation<'a>,
    pub(crate) author: Author,
    pub(crate) device_id: u32,
    pub(crate) content: &'a Content,
}

impl Client {
    /// Applies `message` to the store in the caller's transaction.
    pub(crate) async fn apply(
        &self,
        tx: &mut SqliteConnection,
        message: &Incoming<'_>,
    ) -> Result<Applied, ClientError> {
        let mut applied = Applied::default();
        match &message.content.body {
            Body::Text(text) => self.apply_text(tx, message, text, &mut applied).await?,
            Body::Reaction(reaction) => {
                self.apply_reaction(tx, message, reaction, &mut applied)
                    .await?;
            }
            Body::Edit(edit) => self.apply_edit(tx, message, edit, &mut applied).await?,
            Body::Delete(delete) => {
                self.apply_delete(tx, message, &delete.target_id, &mut applied)
                    .await?;
            }
            Body::Timer(timer) => self.apply_timer(tx, message, *timer, &mut applied).await?,
            Body::Receipt(receipt) => {
                self.apply_receipt(tx, message, receipt, &mut applied)
                    .await?;
            }
            Body::Typing(typing) if message.author == Author::Peer => {
                applied.events.push(Event::Typing {
                    peer: message.conversation.peer_name.to_owned(),
                    started: typing.started,
                });
            }
            Body::Typing(_) | Body::Group(_) | Body::Unknown => {}
        }
        Ok(applied)
    }

    fn author_name(&self, message: &Incoming<'_>) -> String {
        match message.author {
            Author::Peer => message.conversation.peer_name.to_owned(),
            Author::ThisDevice | Author::OwnDevice => self.account.username.clone(),
        }
    }

    fn author_account<'a>(&'a self, message: &'a Incoming<'_>) -> &'a str {
        match message.author {
            Author::Peer => message.conversation.peer_account,
            Author::ThisDevice | Author::OwnDevice => &self.account.account_id,
        }
    }

    async fn apply_text(
        &self,
        tx: &mut SqliteConnection,
        message: &Incoming<'_>,
        text: &TextMessage,
        applied: &mut Applied,
    ) -> Result<(), ClientError> {
        let content = message.content;
        let row = NewMessage {
            peer_account: message.conversation.peer_account.to_owned(),
            direction: message.author.direction(),
            message_id: content.id.clone(),
            state: match message.author {
                Author::ThisDevice => DeliveryState::Pending,
                Author::OwnDevice => DeliveryState::Sent,
                Author::Peer => DeliveryState::Delivered,
            },
            text: text.text.clone(),
            sent_at: content.sent_at,
            device_id: message.device_id,
            details: MessageDetails {
                quote: text.quote.clone(),
                attachments: text
                    .attachments
                    .iter()
                    .map(|pointer| StoredAttachment {
                        pointer: pointer.clone(),
                        saved_as: None,
                    })
                    .collect(),
                expire_timer: text.expire_timer,
                ..MessageDetails::default()
            },
            // The timer starts when the message reaches (or leaves) this device.
            expires_at: text
                .expire_timer
                .map(|s| now_ms().saturating_add(i64::from(s) * 1000)),
        };
        applied.stored = self.store.insert_message(tx, &row).await?;
        if applied.stored && message.author != Author::ThisDevice {
            applied.events.push(Event::Message {
                peer: message.conversation.peer_name.to_owned(),
                direction: row.direction,
                device_id: row.device_id,
                message_id: row.message_id,
                text: row.text,
                sent_at: row.sent_at,
                details: row.details,
                expires_at: row.expires_at,
            });
        }
        Ok(())
    }

    async fn apply_reaction(
        &self,
        tx: &mut SqliteConnection,
        message: &Incoming<'_>,
        reaction: &Reaction,
        applied: &mut Applied,
    ) -> Result<(), ClientError> {
        let peer = message.conversation.peer_account;
        let MessageRef { id, author } = &reaction.target;
        let direction = if *author == self.account.account_id {
            Direction::Outgoing
        } else if author == peer {
            Direction::Incoming
        } else {
            return Ok(()); // Not a message of this conversation.
        };
        let Some(mut target) = self.store.message(tx, peer, direction, id).await? else {
            return Ok(());
        };
        let emoji = (!reaction.remove).then_some(reaction.emoji.as_str());
        target.details.react(self.author_account(message), emoji);
        self.store.update_message(tx, &target).await?;
        applied.events.push(Event::Reaction {
            peer: message.conversation.peer_name.to_owned(),
            author: self.author_name(message),
            target: reaction.target.clone(),
            emoji: emoji.map(str::to_owned),
        });
        Ok(())
    }

    async fn apply_edit(
        &self,
        tx: &mut SqliteConnection,
        message: &Incoming<'_>,
        edit: &Edit,
        applied: &mut Applied,
    ) -> Result<(), ClientError> {
        let Some(mut target) = self
            .changeable_by_author(tx, message, &edit.target_id, crate::content::EDIT_WINDOW_MS)
            .await?
        else {
            return Ok(());
        };
        let (direction, at) = (target.direction, message.content.sent_at);
        target.text.clone_from(&edit.text);
        target.details.edited_at = Some(at);
        self.store.update_message(tx, &target).await?;
        applied.events.push(Event::Edited {
            peer: message.conversation.peer_name.to_owned(),
            direction,
            message_id: edit.target_id.clone(),
            text: edit.text.clone(),
        });
        Ok(())
    }

    async fn apply_delete(
        &self,
        tx: &mut SqliteConnection,
        message: &Incoming<'_>,
        target_id: &str,
        applied: &mut Applied,
    ) -> Result<(), ClientError> {
        let Some(mut target) = self
            .changeable_by_author(tx, message, target_id, DELETE_WINDOW_MS)
            .await?
        else {
            return Ok(());
        };
        let direction = target.direction;
        target.text.clear();
        applied.removed_files.extend(
            target
                .details
                .attachments
                .drain(..)
                .filter_map(|a| a.saved_as),
        );
        target.details.quote = None;
        target.details.reactions.clear();
        target.details.deleted = true;
        self.store.update_message(tx, &target).await?;
        applied.events.push(Event::Deleted {
            peer: message.conversation.peer_name.to_owned(),
            direction,
            message_id: target_id.to_owned(),
        });
        Ok(())
    }

    /// The message `target_id` if the author of `message` wrote it (the lookup is by the
    /// author's direction, so nobody reaches another's message), it is not deleted, and
    /// `message` came within `window` of it.
    async fn changeable_by_author(
        &self,
        tx: &mut SqliteConnection,
        message: &Incoming<'_>,
        target_id: &str,
        window: i64,
    ) -> Result<Option<StoredMessage>, ClientError> {
        let peer = message.conversation.peer_account;
        let direction = message.author.direction();
        let target = self.store.message(tx, peer, direction, target_id).await?;
        Ok(target
            .filter(|t| !t.details.deleted && within(t.sent_at, message.content.sent_at, window)))
    }

    async fn apply_timer(
        &self,
        tx: &mut SqliteConnection,
        message: &Incoming<'_>,
        timer: TimerChange,
        applied: &mut Applied,
    ) -> Result<(), ClientError> {
        let peer = message.conversation.peer_account;
        let at = message.content.sent_at;
        if self
            .store
            .set_expire_timer(tx, peer, timer.seconds, at)
            .await?
        {
            applied.events.push(Event::TimerChanged {
                peer: message.conversation.peer_name.to_owned(),
                by: self.author_name(message),
                seconds: (timer.seconds > 0).then_some(timer.seconds),
            });
        }
        Ok(())
    }

    async fn apply_receipt(
        &self,
        tx: &mut SqliteConnection,
        message: &Incoming<'_>,
        receipt: &Receipt,
        applied: &mut Applied,
    ) -> Result<(), ClientError> {
        if message.author != Author::Peer {
            return Ok(());
        }
        let state = match receipt.kind {
            ReceiptKind::Delivered => DeliveryState::Delivered,
            ReceiptKind::Read => DeliveryState::Read,
        };
        let peer = message.conversation.peer_account;
        let changed = self
            .store
            .raise_state(tx, peer, Direction::Outgoing, &receipt.message_ids, state)
            .await?;
        applied
            .events
            .extend(changed.into_iter().map(|message_id| Event::Delivery {
                peer: message.conversation.peer_name.to_owned(),
                message_id,
                state,
            }));
        Ok(())
    }
}

/// Whether a change made at `at` to a message sent at `sent_at` is within `window` (both
/// times from the author's clock).
fn within(sent_at: i64, at: i64, window: i64) -> bool {
    at.saturating_sub(sent_at) <= window
}

#[cfg(test)]
mod tests {
    use super::within;

    #[test]
    fn changes_are_allowed_only_inside_the_window() {
        assert!(within(1_000, 1_000, 10));
        assert!(within(1_000, 1_010, 10));
        assert!(!within(1_000, 1_011, 10));
        assert!(
            within(1_000, 0, 10),
            "a change dated before the message is not late"
        );
        assert!(!within(i64::MIN, i64::MAX, 10));
    }
}
