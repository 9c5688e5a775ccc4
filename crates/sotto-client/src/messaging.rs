//! The message features a front end offers: text with quotes and files, reactions, edits,
//! delete-for-everyone, disappearing timers, typing indicators, read receipts, and the sweep
//! that deletes disappearing messages. Each is a typed body sent like any message.

use crate::MAX_TEXT_BYTES;
use crate::apply::Applied;
use crate::client::Client;
use crate::content::{
    AttachmentPointer, Body, DELETE_WINDOW_MS, EDIT_WINDOW_MS, Edit, MAX_EMOJI_BYTES,
    MAX_EXPIRE_TIMER_S, MAX_RECEIPT_IDS, MessageRef, Quote, Reaction, Receipt, ReceiptKind,
    TextMessage, TimerChange, Typing, canonical_username, quote_excerpt,
};
use crate::error::{ClientError, StoreError};
use crate::events::{DeliveryState, Event};
use crate::store::{Direction, StoredMessage, now_ms};

/// A chat message to send.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutgoingMessage {
    /// The text (may be empty when files are attached).
    pub text: String,
    /// The id of a message of the conversation this one answers.
    pub reply_to: Option<String>,
    /// Files already uploaded.
    pub attachments: Vec<AttachmentPointer>,
}

impl OutgoingMessage {
    /// A plain text message.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }

    /// The same message, answering `message_id`.
    #[must_use]
    pub fn reply_to(mut self, message_id: impl Into<String>) -> Self {
        self.reply_to = Some(message_id.into());
        self
    }

    /// The same message, with files.
    #[must_use]
    pub fn with_attachments(mut self, attachments: Vec<AttachmentPointer>) -> Self {
        self.attachments = attachments;
        self
    }
}

impl Client {
    /// Sends a chat message to `username`: text, perhaps a quote of an earlier message and
    /// files, under the conversation's disappearing timer. Returns its id.
    ///
    /// # Errors
    /// As [`send`](Self::send), and [`ClientError::UnknownMessage`] when `reply_to` names no
    /// message of the conversation.
    pub async fn send_message(
        &self,
        username: &str,
        message: OutgoingMessage,
    ) -> Result<String, ClientError> {
        if message.text.len() > MAX_TEXT_BYTES {
            return Err(ClientError::TextTooLong(message.text.len()));
        }
        let peer = self.peer_account(username).await?;
        let quote = match (&message.reply_to, &peer) {
            (Some(id), Some(peer)) => Some(self.quote(username, peer, id).await?),
            (Some(id), None) => {
                return Err(ClientError::UnknownMessage {
                    peer: username.to_owned(),
                    id: id.clone(),
                });
            }
            (None, _) => None,
        };
        let expire_timer = match &peer {
            Some(peer) => {
                let mut tx = self.store.begin().await?;
                self.store.expire_timer(&mut tx, peer).await?
            }
            None => None,
        };
        let body = Body::Text(TextMessage {
            text: message.text,
            quote,
            attachments: message.attachments,
            expire_timer,
        });
        self.send_body(username, body).await
    }

    /// Reacts to a message of the conversation with `username` (theirs or ours) with one
    /// emoji, or with `None` takes our reaction back.
    ///
    /// # Errors
    /// [`ClientError::UnknownMessage`], [`ClientError::InvalidInput`] for a reaction that is
    /// not one short emoji, or a send failure.
    pub async fn react(
        &self,
        username: &str,
        message_id: &str,
        emoji: Option<&str>,
    ) -> Result<String, ClientError> {
        if let Some(e) = emoji
            && (e.is_empty() || e.len() > MAX_EMOJI_BYTES || e.chars().any(char::is_whitespace))
        {
            return Err(ClientError::InvalidInput("reaction: give one emoji"));
        }
        let (peer, target) = self.find_message(username, message_id).await?;
        let author = match target.direction {
            Direction::Incoming => peer,
            Direction::Outgoing => self.account.account_id.clone(),
        };
        let body = Body::Reaction(Reaction {
            target: MessageRef {
                id: message_id.to_owned(),
                author,
            },
            emoji: emoji.unwrap_or_default().to_owned(),
            remove: emoji.is_none(),
        });
        self.send_body(username, body).await
    }

    /// Replaces the text of one of our messages to `username`, within
    /// [`EDIT_WINDOW_MS`] of sending it.
    ///
    /// # Errors
    /// [`ClientError::UnknownMessage`] (also for the contact's messages),
    /// [`ClientError::MessageLocked`], [`ClientError::TextTooLong`], or a send failure.
    pub async fn edit(
        &self,
        username: &str,
        message_id: &str,
        text: &str,
    ) -> Result<String, ClientError> {
        if text.len() > MAX_TEXT_BYTES {
            return Err(ClientError::TextTooLong(text.len()));
        }
        self.own_changeable(username, message_id, "edited", EDIT_WINDOW_MS)
            .await?;
        let body = Body::Edit(Edit {
            target_id: message_id.to_owned(),
            text: text.to_owned(),
        });
        self.send_body(username, body).await
    }

    /// Deletes one of our messages to `username` for everyone, within [`DELETE_WINDOW_MS`]
    /// of sending it: every device of both accounts drops its text and files.
    ///
    /// # Errors
    /// [`ClientError::UnknownMessage`], [`ClientError::MessageLocked`], or a send failure.
    pub async fn delete_for_everyone(
        &self,
        username: &str,
        message_id: &str,
    ) -> Result<String, ClientError> {
        self.own_changeable(username, message_id, "deleted", DELETE_WINDOW_MS)
            .await?;
        let body = Body::Delete(crate::content::Delete {
            target_id: message_id.to_owned(),
        });
        self.send_body(username, body).await
    }

    /// Sets the conversation's disappearing-message timer for both sides (`None` or 0: off).
    /// Messages sent afterwards disappear from each device that long after they reach it.
    ///
    /// # Errors
    /// [`ClientError::InvalidInput`] past four weeks, or a send failure.
    pub async fn set_expire_timer(
        &self,
        username: &str,
        seconds: Option<u32>,
    ) -> Result<String, ClientError> {
        let seconds = seconds.unwrap_or(0);
        if seconds > MAX_EXPIRE_TIMER_S {
            return Err(ClientError::InvalidInput("timer: at most four weeks"));
        }
        self.send_body(username, Body::Timer(TimerChange { seconds }))
            .await
    }

    /// The conversation's disappearing-message timer in seconds (`None`: off).
    ///
    /// # Errors
    /// A store failure.
    pub async fn expire_timer(&self, username: &str) -> Result<Option<u32>, ClientError> {
        let Some(peer) = self.peer_account(username).await? else {
            return Ok(None);
        };
        let mut tx = self.store.begin().await?;
        Ok(self.store.expire_timer(&mut tx, &peer).await?)
    }

    /// Tells `username`'s online devices that we started (or stopped) typing. Never queued:
    /// the relay drops it if no device takes it within seconds.
    ///
    /// # Errors
    /// A send failure (nothing is retried).
    pub async fn send_typing(&self, username: &str, started: bool) -> Result<(), ClientError> {
        self.send_body(username, Body::Typing(Typing { started }))
            .await
            .map(drop)
    }

    /// Marks every unread message from `username` as read here and sends them a read
    /// receipt. Returns the ids marked.
    ///
    /// # Errors
    /// A store or send failure. The messages stay marked read; a receipt that failed after
    /// it was encrypted is retried from the outbox, one that failed before is not sent.
    pub async fn mark_read(&self, username: &str) -> Result<Vec<String>, ClientError> {
        let Some(peer) = self.peer_account(username).await? else {
            return Ok(Vec::new());
        };
        let ids = {
            let mut tx = self.store.begin().await?;
            let unread = self.store.unread(&mut tx, &peer).await?;
            let ids = self
                .store
                .raise_state(
                    &mut tx,
                    &peer,
                    Direction::Incoming,
                    &unread,
                    DeliveryState::Read,
                )
                .await?;
            tx.commit().await.map_err(StoreError::from)?;
            ids
        };
        self.send_receipts(username, ReceiptKind::Read, &ids)
            .await?;
        Ok(ids)
    }

    /// Sends a receipt for `ids` (in chunks the receiver accepts).
    pub(crate) async fn send_receipts(
        &self,
        username: &str,
        kind: ReceiptKind,
        ids: &[String],
    ) -> Result<(), ClientError> {
        for chunk in ids.chunks(MAX_RECEIPT_IDS) {
            let body = Body::Receipt(Receipt {
                kind,
                message_ids: chunk.to_vec(),
            });
            self.send_body(username, body).await?;
        }
        Ok(())
    }

    /// Deletes every disappearing message whose time has come (and its saved files), and
    /// reports them as [`Event::Expired`]. Returns how many went.
    ///
    /// # Errors
    /// A store failure.
    pub async fn expire_messages(&self) -> Result<usize, ClientError> {
        let gone = {
            let mut tx = self.store.begin().await?;
            let gone = self.store.take_expired(&mut tx, now_ms()).await?;
            self.store.prune_processed(&mut tx, now_ms()).await?;
            tx.commit().await.map_err(StoreError::from)?;
            gone
        };
        let count = gone.len();
        let mut by_peer: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        let mut files = Vec::new();
        for message in gone {
            files.extend(
                message
                    .details
                    .attachments
                    .into_iter()
                    .filter_map(|a| a.saved_as),
            );
            by_peer
                .entry(message.peer_account)
                .or_default()
                .push(message.message_id);
        }
        remove_files(&files);
        for (peer, message_ids) in by_peer {
            let peer = self.peer_name(&peer).await?;
            self.emit(Event::Expired { peer, message_ids });
        }
        Ok(count)
    }

    /// When the next disappearing message is due (ms since the epoch), if any is.
    ///
    /// # Errors
    /// A store failure.
    pub async fn next_expiry(&self) -> Result<Option<i64>, ClientError> {
        let mut tx = self.store.begin().await?;
        Ok(self.store.next_expiry(&mut tx).await?)
    }

    /// Emits a committed change's events and removes the files it released.
    pub(crate) fn after_commit(&self, applied: Applied) {
        remove_files(&applied.removed_files);
        applied.events.into_iter().for_each(|e| self.emit(e));
    }

    /// The account id of a known contact.
    async fn peer_account(&self, username: &str) -> Result<Option<String>, ClientError> {
        let username = canonical_username(username)?;
        Ok(self.contact(&username).await?.map(|c| c.account_id))
    }

    /// The username of a contact's account id (the id itself if unknown).
    pub(crate) async fn peer_name(&self, account_id: &str) -> Result<String, ClientError> {
        let mut tx = self.store.begin().await?;
        let contact = self.store.contact(&mut tx, account_id).await?;
        Ok(contact.map_or_else(|| account_id.to_owned(), |c| c.username))
    }

    /// A message of the conversation, either direction (theirs first).
    pub(crate) async fn find_message(
        &self,
        username: &str,
        message_id: &str,
    ) -> Result<(String, StoredMessage), ClientError> {
        let unknown = || ClientError::UnknownMessage {
            peer: username.to_owned(),
            id: message_id.to_owned(),
        };
        let peer = self.peer_account(username).await?.ok_or_else(unknown)?;
        let mut tx = self.store.begin().await?;
        for direction in [Direction::Incoming, Direction::Outgoing] {
            if let Some(found) = self
                .store
                .message(&mut tx, &peer, direction, message_id)
                .await?
            {
                return Ok((peer, found));
            }
        }
        Err(unknown())
    }

    async fn quote(&self, username: &str, peer: &str, id: &str) -> Result<Quote, ClientError> {
        let (_, target) = self.find_message(username, id).await?;
        let author = match target.direction {
            Direction::Incoming => peer.to_owned(),
            Direction::Outgoing => self.account.account_id.clone(),
        };
        Ok(Quote {
            target: MessageRef {
                id: id.to_owned(),
                author,
            },
            text: quote_excerpt(&target.text),
        })
    }

    /// Checks that `message_id` is ours, not deleted, and within `window` of its sending.
    async fn own_changeable(
        &self,
        username: &str,
        message_id: &str,
        action: &'static str,
        window: i64,
    ) -> Result<(), ClientError> {
        let (_, target) = self.find_message(username, message_id).await?;
        let locked = |reason| ClientError::MessageLocked {
            id: message_id.to_owned(),
            action,
            reason,
        };
        if target.direction != Direction::Outgoing {
            return Err(ClientError::UnknownMessage {
                peer: username.to_owned(),
                id: message_id.to_owned(),
            });
        }
        if target.details.deleted {
            return Err(locked("it was deleted"));
        }
        if now_ms().saturating_sub(target.sent_at) > window {
            return Err(locked("the time window has passed"));
        }
        Ok(())
    }
}

/// Removes saved files; one that is already gone is fine.
fn remove_files(paths: &[String]) {
    for path in paths {
        if let Err(error) = std::fs::remove_file(path)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(%error, "could not remove a deleted message's file");
        }
    }
}
