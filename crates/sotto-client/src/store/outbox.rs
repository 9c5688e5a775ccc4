//! The outbox: encrypted envelopes not yet accepted by the relay, saved with the sessions
//! that made them.

use sqlx::SqliteConnection;
use zeroize::Zeroizing;

use super::Store;
use super::fields::{FieldReader, FieldWriter};
use crate::error::StoreError;

const OUTBOX: &str = "outbox";

/// Envelopes for one recipient account, encrypted and waiting for the relay's answer.
#[derive(Clone)]
pub(crate) struct OutboxEntry {
    pub(crate) message_id: String,
    pub(crate) recipient_account: String,
    /// The plaintext content, to encrypt for devices the relay says we missed.
    pub(crate) content: Zeroizing<Vec<u8>>,
    /// `(device id, ciphertext)`.
    pub(crate) envelopes: Vec<(u32, Vec<u8>)>,
    /// A typing indicator: never saved, sent once.
    pub(crate) ephemeral: bool,
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
                    ephemeral: false,
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
