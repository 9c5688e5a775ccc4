//! Message history and the outbox of encrypted envelopes not yet accepted by the relay.

use sqlx::SqliteConnection;
use zeroize::Zeroizing;

use super::Store;
use super::fields::{FieldReader, FieldWriter};
use crate::error::StoreError;
use crate::events::DeliveryState;

const MESSAGES: &str = "messages";
const OUTBOX: &str = "outbox";

/// Which way a message went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From the contact to us.
    Incoming,
    /// From us (this or another of our devices) to the contact.
    Outgoing,
}

impl Direction {
    fn code(self) -> i64 {
        match self {
            Self::Incoming => 0,
            Self::Outgoing => 1,
        }
    }
}

/// A message of the history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMessage {
    /// The contact's account id.
    pub peer_account: String,
    /// Which way it went.
    pub direction: Direction,
    /// The sender's message id.
    pub message_id: String,
    /// For outgoing messages, whether the relay has stored it.
    pub state: DeliveryState,
    /// The text.
    pub text: String,
    /// When the sender wrote it (ms since the epoch, the sender's clock).
    pub sent_at: i64,
    /// The sending device.
    pub device_id: u32,
}

/// A message to add to the history.
pub(crate) type NewMessage = StoredMessage;

fn row(peer: &str, direction: Direction, message_id: &str) -> String {
    format!("{peer}/{}/{message_id}", direction.code())
}

fn state_code(state: DeliveryState) -> i64 {
    match state {
        DeliveryState::Pending => 0,
        DeliveryState::Sent => 1,
    }
}

impl Store {
    /// Adds a message; `false` when it was already there (a redelivery).
    pub(crate) async fn insert_message(
        &self,
        conn: &mut SqliteConnection,
        message: &NewMessage,
    ) -> Result<bool, StoreError> {
        let plain = FieldWriter::default()
            .bytes(message.text.as_bytes())
            .bytes(&message.sent_at.to_be_bytes())
            .u32(message.device_id)
            .finish();
        let key = row(
            &message.peer_account,
            message.direction,
            &message.message_id,
        );
        let sealed = self.key.seal(MESSAGES, &key, &plain)?;
        let done = sqlx::query(
            "INSERT OR IGNORE INTO messages (peer_account, direction, message_id, state, sealed) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&message.peer_account)
        .bind(message.direction.code())
        .bind(&message.message_id)
        .bind(state_code(message.state))
        .bind(sealed)
        .execute(conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Whether this message is already in the history.
    pub(crate) async fn has_message(
        &self,
        conn: &mut SqliteConnection,
        peer: &str,
        direction: Direction,
        message_id: &str,
    ) -> Result<bool, StoreError> {
        let found: Option<(i64,)> = sqlx::query_as(
            "SELECT seq FROM messages WHERE peer_account = ? AND direction = ? AND message_id = ?",
        )
        .bind(peer)
        .bind(direction.code())
        .bind(message_id)
        .fetch_optional(conn)
        .await?;
        Ok(found.is_some())
    }

    /// Whether a message with this id and direction is in the history, with anyone.
    pub(crate) async fn has_message_id(
        &self,
        conn: &mut SqliteConnection,
        direction: Direction,
        message_id: &str,
    ) -> Result<bool, StoreError> {
        let found: Option<(i64,)> = sqlx::query_as(
            "SELECT seq FROM messages WHERE direction = ? AND message_id = ? LIMIT 1",
        )
        .bind(direction.code())
        .bind(message_id)
        .fetch_optional(conn)
        .await?;
        Ok(found.is_some())
    }

    /// Marks an outgoing message as stored by the relay.
    pub(crate) async fn mark_sent(
        &self,
        conn: &mut SqliteConnection,
        peer: &str,
        message_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE messages SET state = 1 WHERE peer_account = ? AND direction = 1 AND message_id = ?",
        )
        .bind(peer)
        .bind(message_id)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Moves the history of a contact whose username now belongs to a new account.
    pub(crate) async fn move_history(
        &self,
        conn: &mut SqliteConnection,
        from: &str,
        to: &str,
    ) -> Result<(), StoreError> {
        // Rows are sealed with their peer as associated data: re-seal each under the new one.
        let old = self.history_of(&mut *conn, from).await?;
        sqlx::query("DELETE FROM messages WHERE peer_account = ?")
            .bind(from)
            .execute(&mut *conn)
            .await?;
        for mut message in old {
            message.peer_account = to.to_owned();
            self.insert_message(&mut *conn, &message).await?;
        }
        Ok(())
    }

    /// The history with one contact, oldest first.
    pub(crate) async fn history_of(
        &self,
        conn: &mut SqliteConnection,
        peer: &str,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let rows: Vec<(i64, String, i64, Vec<u8>)> = sqlx::query_as(
            "SELECT direction, message_id, state, sealed FROM messages WHERE peer_account = ? ORDER BY seq",
        )
        .bind(peer)
        .fetch_all(conn)
        .await?;
        rows.into_iter()
            .map(|(direction, message_id, state, sealed)| {
                let direction = if direction == 0 {
                    Direction::Incoming
                } else {
                    Direction::Outgoing
                };
                let plain = self
                    .key
                    .open(MESSAGES, &row(peer, direction, &message_id), &sealed)?;
                let mut r = FieldReader::new(&plain);
                let text = r.string()?;
                let sent_at = i64::from_be_bytes(r.array()?);
                let device_id = r.u32()?;
                let state = if state == 1 {
                    DeliveryState::Sent
                } else {
                    DeliveryState::Pending
                };
                Ok(StoredMessage {
                    peer_account: peer.to_owned(),
                    direction,
                    message_id,
                    state,
                    text,
                    sent_at,
                    device_id,
                })
            })
            .collect()
    }
}

/// Envelopes for one recipient account, encrypted and waiting for the relay's answer.
#[derive(Clone)]
pub(crate) struct OutboxEntry {
    pub(crate) message_id: String,
    pub(crate) recipient_account: String,
    /// The plaintext content, to encrypt for devices the relay says we missed.
    pub(crate) content: Zeroizing<Vec<u8>>,
    /// `(device id, ciphertext)`.
    pub(crate) envelopes: Vec<(u32, Vec<u8>)>,
}

impl Store {
    /// Saves (or replaces) an outbox entry, in the transaction that saved its sessions.
    pub(crate) async fn save_outbox(
        &self,
        conn: &mut SqliteConnection,
        entry: &OutboxEntry,
    ) -> Result<(), StoreError> {
        let mut writer = FieldWriter::default()
            .bytes(&entry.content)
            .u32(u32::try_from(entry.envelopes.len()).unwrap_or(u32::MAX));
        for (device, ciphertext) in &entry.envelopes {
            writer = writer.u32(*device).bytes(ciphertext);
        }
        let key = format!("{}/{}", entry.recipient_account, entry.message_id);
        let sealed = self.key.seal(OUTBOX, &key, &writer.finish())?;
        sqlx::query(
            "INSERT INTO outbox (message_id, recipient_account, sealed) VALUES (?, ?, ?) \
             ON CONFLICT (message_id, recipient_account) DO UPDATE SET sealed = excluded.sealed",
        )
        .bind(&entry.message_id)
        .bind(&entry.recipient_account)
        .bind(sealed)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Every outbox entry, oldest message id first is not guaranteed.
    pub(crate) async fn outbox(
        &self,
        conn: &mut SqliteConnection,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let rows: Vec<(String, String, Vec<u8>)> =
            sqlx::query_as("SELECT message_id, recipient_account, sealed FROM outbox")
                .fetch_all(conn)
                .await?;
        rows.into_iter()
            .map(|(message_id, recipient_account, sealed)| {
                let key = format!("{recipient_account}/{message_id}");
                let plain = self.key.open(OUTBOX, &key, &sealed)?;
                let mut r = FieldReader::new(&plain);
                let content = Zeroizing::new(r.bytes()?.to_vec());
                let count = r.u32()?;
                let mut envelopes = Vec::new();
                for _ in 0..count {
                    envelopes.push((r.u32()?, r.bytes()?.to_vec()));
                }
                Ok(OutboxEntry {
                    message_id,
                    recipient_account,
                    content,
                    envelopes,
                })
            })
            .collect()
    }

    /// Removes an entry the relay accepted.
    pub(crate) async fn delete_outbox(
        &self,
        conn: &mut SqliteConnection,
        message_id: &str,
        recipient_account: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM outbox WHERE message_id = ? AND recipient_account = ?")
            .bind(message_id)
            .bind(recipient_account)
            .execute(conn)
            .await?;
        Ok(())
    }
}
