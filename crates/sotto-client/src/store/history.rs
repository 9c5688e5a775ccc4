//! Message history: one sealed row per message, keyed by (peer, direction, message id).
//! Receipts only ever raise a row's state; the disappearing-message sweep deletes rows whose
//! `expires_at` has passed.

use sqlx::SqliteConnection;

use super::Store;
use super::details::MessageDetails;
use super::fields::{FieldReader, FieldWriter};
use crate::error::StoreError;
use crate::events::DeliveryState;

const MESSAGES: &str = "messages";

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

    fn from_code(code: i64) -> Self {
        if code == 0 {
            Self::Incoming
        } else {
            Self::Outgoing
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
    /// Outgoing: how far it got. Incoming: `Delivered` until read here, then `Read`.
    pub state: DeliveryState,
    /// The text (empty once deleted for everyone).
    pub text: String,
    /// When the sender wrote it (ms since the epoch, the sender's clock).
    pub sent_at: i64,
    /// The sending device.
    pub device_id: u32,
    /// Quote, files, reactions, edits, deletion, timer.
    pub details: MessageDetails,
    /// When it disappears from this device (ms since the epoch, this device's clock).
    pub expires_at: Option<i64>,
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
        DeliveryState::Delivered => 2,
        DeliveryState::Read => 3,
    }
}

fn state_of(code: i64) -> DeliveryState {
    match code {
        0 => DeliveryState::Pending,
        1 => DeliveryState::Sent,
        2 => DeliveryState::Delivered,
        _ => DeliveryState::Read,
    }
}

/// The columns every history query reads (a macro, so queries stay static strings).
macro_rules! columns {
    () => {
        "peer_account, direction, message_id, state, sealed, expires_at"
    };
}
type Row = (String, i64, String, i64, Vec<u8>, Option<i64>);

impl Store {
    fn seal_message(&self, message: &StoredMessage) -> Result<Vec<u8>, StoreError> {
        // The details hold attachment keys: wiped once sealed.
        let details = serde_json::to_vec(&message.details)
            .map(zeroize::Zeroizing::new)
            .map_err(|_| StoreError::Corrupt("message details do not encode"))?;
        let plain = FieldWriter::default()
            .bytes(message.text.as_bytes())
            .bytes(&message.sent_at.to_be_bytes())
            .u32(message.device_id)
            .bytes(&details)
            .finish();
        let key = row(
            &message.peer_account,
            message.direction,
            &message.message_id,
        );
        self.key.seal(MESSAGES, &key, &plain)
    }

    fn open_message(&self, row_values: Row) -> Result<StoredMessage, StoreError> {
        let (peer, direction, message_id, state, sealed, expires_at) = row_values;
        let direction = Direction::from_code(direction);
        let plain = self
            .key
            .open(MESSAGES, &row(&peer, direction, &message_id), &sealed)?;
        let mut r = FieldReader::new(&plain);
        let text = r.string()?;
        let sent_at = i64::from_be_bytes(r.array()?);
        let device_id = r.u32()?;
        // Rows written by schema v1 end here.
        let details = match r.optional_bytes()? {
            Some(json) => {
                serde_json::from_slice(json).map_err(|_| StoreError::Corrupt("message details"))?
            }
            None => MessageDetails::default(),
        };
        Ok(StoredMessage {
            peer_account: peer,
            direction,
            message_id,
            state: state_of(state),
            text,
            sent_at,
            device_id,
            details,
            expires_at,
        })
    }

    /// Adds a message; `false` when it was already there (a redelivery).
    pub(crate) async fn insert_message(
        &self,
        conn: &mut SqliteConnection,
        message: &NewMessage,
    ) -> Result<bool, StoreError> {
        let sealed = self.seal_message(message)?;
        let done = sqlx::query(
            "INSERT OR IGNORE INTO messages \
             (peer_account, direction, message_id, state, sealed, expires_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&message.peer_account)
        .bind(message.direction.code())
        .bind(&message.message_id)
        .bind(state_code(message.state))
        .bind(sealed)
        .bind(message.expires_at)
        .execute(conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Rewrites a message's text, details and expiry (its state is left alone).
    pub(crate) async fn update_message(
        &self,
        conn: &mut SqliteConnection,
        message: &StoredMessage,
    ) -> Result<(), StoreError> {
        let sealed = self.seal_message(message)?;
        sqlx::query(
            "UPDATE messages SET sealed = ?, expires_at = ? \
             WHERE peer_account = ? AND direction = ? AND message_id = ?",
        )
        .bind(sealed)
        .bind(message.expires_at)
        .bind(&message.peer_account)
        .bind(message.direction.code())
        .bind(&message.message_id)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// One message, if it is in the history.
    pub(crate) async fn message(
        &self,
        conn: &mut SqliteConnection,
        peer: &str,
        direction: Direction,
        message_id: &str,
    ) -> Result<Option<StoredMessage>, StoreError> {
        let found: Option<Row> = sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM messages WHERE peer_account = ? AND direction = ? AND message_id = ?"
        ))
        .bind(peer)
        .bind(direction.code())
        .bind(message_id)
        .fetch_optional(conn)
        .await?;
        found.map(|r| self.open_message(r)).transpose()
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

    /// Raises the state of some messages to `state` (never lowers it); returns the ids that
    /// changed.
    pub(crate) async fn raise_state(
        &self,
        conn: &mut SqliteConnection,
        peer: &str,
        direction: Direction,
        message_ids: &[String],
        state: DeliveryState,
    ) -> Result<Vec<String>, StoreError> {
        let mut changed = Vec::new();
        for id in message_ids {
            let done = sqlx::query(
                "UPDATE messages SET state = ? WHERE peer_account = ? AND direction = ? \
                 AND message_id = ? AND state < ?",
            )
            .bind(state_code(state))
            .bind(peer)
            .bind(direction.code())
            .bind(id)
            .bind(state_code(state))
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() == 1 {
                changed.push(id.clone());
            }
        }
        Ok(changed)
    }

    /// Ids of incoming messages from `peer` not yet read here, oldest first.
    pub(crate) async fn unread(
        &self,
        conn: &mut SqliteConnection,
        peer: &str,
    ) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT message_id FROM messages WHERE peer_account = ? AND direction = 0 \
             AND state = 2 ORDER BY seq",
        )
        .bind(peer)
        .fetch_all(conn)
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Removes every message whose disappearing timer ran out by `now_ms`, returning them
    /// (so their saved files can be removed too).
    pub(crate) async fn take_expired(
        &self,
        conn: &mut SqliteConnection,
        now_ms: i64,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let rows: Vec<Row> = sqlx::query_as(concat!(
            "DELETE FROM messages WHERE expires_at IS NOT NULL AND expires_at <= ? RETURNING ",
            columns!()
        ))
        .bind(now_ms)
        .fetch_all(conn)
        .await?;
        rows.into_iter().map(|r| self.open_message(r)).collect()
    }

    /// The earliest time a message disappears, if any message will.
    pub(crate) async fn next_expiry(
        &self,
        conn: &mut SqliteConnection,
    ) -> Result<Option<i64>, StoreError> {
        let (next,): (Option<i64>,) = sqlx::query_as("SELECT MIN(expires_at) FROM messages")
            .fetch_one(conn)
            .await?;
        Ok(next)
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
        let rows: Vec<Row> = sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM messages WHERE peer_account = ? ORDER BY seq"
        ))
        .bind(peer)
        .fetch_all(conn)
        .await?;
        rows.into_iter().map(|r| self.open_message(r)).collect()
    }
}
