//! The SQL of one group commit: every send of the batch in two multi-row inserts, every ack in
//! one delete per connection's ack burst. Few statements per batch matter here: each
//! statement costs a round trip to SQLite's worker thread, far more than the row work.

use crate::domain::{AccountId, DeviceAddress, DeviceId};
use crate::store::{QueuedEnvelope, SendOutcome, StoreError, Submission};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
use std::collections::{HashMap, HashSet};

/// SQLite's default cap on bound parameters per statement is 32766; stay well below.
pub(super) const MAX_BINDS: usize = 30_000;

/// Envelopes queued per device, known to the writer. The writer is the only code that adds
/// or deletes envelopes, so after a first count from the database it stays exact; it is
/// cleared whenever a commit fails or expired envelopes are purged.
#[derive(Debug, Default)]
pub(super) struct QueueLengths(HashMap<DeviceAddress, u64>);

impl QueueLengths {
    pub(super) fn clear(&mut self) {
        self.0.clear();
    }

    /// The known length of a device's queue (call [`Self::load`] first).
    pub(super) fn get(&self, device: &DeviceAddress) -> u64 {
        self.0.get(device).copied().unwrap_or(0)
    }

    /// Counts `n` more envelopes for a device.
    pub(super) fn add(&mut self, device: &DeviceAddress, n: u64) {
        *self.0.entry(device.clone()).or_default() += n;
    }

    /// Counts the queues of `devices` not known yet, in one query.
    pub(super) async fn load(
        &mut self,
        conn: &mut SqliteConnection,
        devices: &HashSet<DeviceAddress>,
    ) -> Result<(), StoreError> {
        let unknown: Vec<&DeviceAddress> = devices
            .iter()
            .filter(|d| !self.0.contains_key(*d))
            .collect();
        for chunk in unknown.chunks(MAX_BINDS / 2) {
            let mut query = QueryBuilder::<Sqlite>::new(
                "SELECT account_id, device_id, count(*) AS n FROM mailbox WHERE (account_id, device_id) IN (VALUES ",
            );
            let mut list = query.separated(", ");
            for device in chunk {
                list.push("(")
                    .push_bind_unseparated(device.account.as_str().to_owned());
                list.push_unseparated(", ")
                    .push_bind_unseparated(device.device.get())
                    .push_unseparated(")");
            }
            query.push(") GROUP BY account_id, device_id");
            for device in chunk {
                self.0.insert((*device).clone(), 0);
            }
            for row in query.build().fetch_all(&mut *conn).await? {
                let account = AccountId::parse(row.try_get("account_id")?)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let device = u32::try_from(row.try_get::<i64, _>("device_id")?)
                    .ok()
                    .and_then(|d| DeviceId::new(d).ok())
                    .ok_or_else(|| StoreError::Corrupt("device id".into()))?;
                let n: i64 = row.try_get("n")?;
                self.0
                    .insert(DeviceAddress { account, device }, n.unsigned_abs());
            }
        }
        Ok(())
    }
}

/// Which of these (recipient, message id) pairs are already remembered.
async fn known_ids(
    conn: &mut SqliteConnection,
    sends: &[&Submission],
) -> Result<HashSet<(String, String)>, StoreError> {
    let mut known = HashSet::new();
    for chunk in sends.chunks(MAX_BINDS / 2) {
        let mut query = QueryBuilder::<Sqlite>::new(
            "SELECT account_id, message_id FROM message_ids WHERE (account_id, message_id) IN (VALUES ",
        );
        let mut list = query.separated(", ");
        for send in chunk {
            list.push("(")
                .push_bind_unseparated(send.recipient.as_str().to_owned());
            list.push_unseparated(", ")
                .push_bind_unseparated(send.message_id.remembered_for(&send.recipient))
                .push_unseparated(")");
        }
        query.push(")");
        for row in query.build().fetch_all(&mut *conn).await? {
            known.insert((row.try_get("account_id")?, row.try_get("message_id")?));
        }
    }
    Ok(known)
}

/// Stores the batch's sends; returns one outcome per send, in order, and the new envelopes. A send that would
/// overflow a mailbox gets `MailboxFull` and stores nothing; the others are unaffected.
pub(super) async fn store_sends(
    conn: &mut SqliteConnection,
    sends: &[&Submission],
    lengths: &mut QueueLengths,
) -> Result<(Vec<Result<SendOutcome, StoreError>>, Inserted), StoreError> {
    if sends.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let devices: HashSet<DeviceAddress> = sends
        .iter()
        .flat_map(|s| {
            s.envelopes.iter().map(|e| DeviceAddress {
                account: s.recipient.clone(),
                device: e.device,
            })
        })
        .collect();
    lengths.load(conn, &devices).await?;
    let mut known = known_ids(conn, sends).await?;
    let mut outcomes = Vec::with_capacity(sends.len());
    let mut accepted = Vec::new();
    for send in sends {
        let key = (
            send.recipient.as_str().to_owned(),
            send.message_id.remembered_for(&send.recipient),
        );
        if known.contains(&key) {
            outcomes.push(Ok(SendOutcome::Duplicate));
            continue;
        }
        let address = |device| DeviceAddress {
            account: send.recipient.clone(),
            device,
        };
        let full = send.envelopes.iter().any(|e| {
            lengths.0.get(&address(e.device)).copied().unwrap_or(0) >= u64::from(send.max_queue)
        });
        if full {
            outcomes.push(Err(StoreError::MailboxFull));
            continue;
        }
        for envelope in &send.envelopes {
            *lengths.0.entry(address(envelope.device)).or_default() += 1;
        }
        known.insert(key);
        accepted.push(*send);
        outcomes.push(Ok(SendOutcome::Stored));
    }
    insert_ids(conn, &accepted).await?;
    let inserted = insert_envelopes(conn, &accepted).await?;
    Ok((outcomes, inserted))
}

async fn insert_ids(conn: &mut SqliteConnection, sends: &[&Submission]) -> Result<(), StoreError> {
    for chunk in sends.chunks(MAX_BINDS / 3) {
        let mut query = QueryBuilder::<Sqlite>::new(
            "INSERT INTO message_ids (account_id, message_id, expires_at) ",
        );
        query.push_values(chunk, |mut row, send| {
            row.push_bind(send.recipient.as_str().to_owned())
                .push_bind(send.message_id.remembered_for(&send.recipient))
                .push_bind(send.now_ms.saturating_add(send.ttl_ms));
        });
        query.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Envelopes as inserted, with the ids SQLite gave them.
pub(super) type Inserted = Vec<(DeviceAddress, QueuedEnvelope)>;

/// Inserts the envelopes and returns them with their ids. A multi-row `INSERT` by the only
/// writer numbers its rows consecutively, ending at `last_insert_rowid`.
async fn insert_envelopes(
    conn: &mut SqliteConnection,
    sends: &[&Submission],
) -> Result<Inserted, StoreError> {
    let rows: Vec<(&Submission, &crate::store::NewEnvelope)> = sends
        .iter()
        .flat_map(|s| s.envelopes.iter().map(move |e| (*s, e)))
        .collect();
    let mut inserted = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(MAX_BINDS / 8) {
        let mut query = QueryBuilder::<Sqlite>::new(
            "INSERT INTO mailbox (account_id, device_id, message_id, sender_account, sender_device, server_timestamp, expires_at, content) ",
        );
        query.push_values(chunk, |mut row, (send, envelope)| {
            row.push_bind(send.recipient.as_str().to_owned())
                .push_bind(envelope.device.get())
                .push_bind(send.message_id.as_str().to_owned())
                .push_bind(send.sender.as_ref().map(|s| s.account.as_str().to_owned()))
                .push_bind(send.sender.as_ref().map(|s| s.device.get()))
                .push_bind(send.now_ms)
                .push_bind(send.now_ms.saturating_add(send.ttl_ms))
                .push_bind(envelope.content.clone());
        });
        let done = query.build().execute(&mut *conn).await?;
        let count = i64::try_from(chunk.len()).map_err(|e| StoreError::Database(e.to_string()))?;
        if done.rows_affected() != chunk.len() as u64 {
            return Err(StoreError::Database("mailbox insert lost rows".into()));
        }
        let first = done.last_insert_rowid() - count + 1;
        for (offset, (send, envelope)) in (0..).zip(chunk) {
            let queued = QueuedEnvelope {
                id: first + offset,
                message_id: send.message_id.as_str().to_owned(),
                sender: send.sender.clone(),
                server_timestamp: send.now_ms,
                content: envelope.content.clone().into(),
            };
            let device = DeviceAddress {
                account: send.recipient.clone(),
                device: envelope.device,
            };
            inserted.push((device, queued));
        }
    }
    Ok(inserted)
}

/// The acks of one batch as a JSON array of `[account, device, id, job]`, for `json_each`.
fn ack_list(acks: &[(&DeviceAddress, &[i64])]) -> Result<String, StoreError> {
    let rows: Vec<serde_json::Value> = acks
        .iter()
        .enumerate()
        .flat_map(|(job, (device, ids))| {
            ids.iter().map(move |id| {
                serde_json::json!([device.account.as_str(), device.device.get(), id, job])
            })
        })
        .collect();
    serde_json::to_string(&rows).map_err(|e| StoreError::Database(e.to_string()))
}

/// The acked envelopes that exist and belong to the acking device, each once (attributed to
/// the first job that acked it).
const ACKED_ROWS: &str =
    "SELECT m.id AS id, m.account_id AS account_id, m.device_id AS device_id, j.job AS job
     FROM (SELECT json_extract(value, '$[0]') AS a, json_extract(value, '$[1]') AS d,
                  json_extract(value, '$[2]') AS i, min(json_extract(value, '$[3]')) AS job
           FROM json_each(?1) GROUP BY a, d, i) j
     JOIN mailbox m ON m.id = j.i AND m.account_id = j.a AND m.device_id = j.d";

/// Deletes the acknowledged envelopes of every ack job in the batch with two statements;
/// returns how many existed per job. An id acked by a device it was not addressed to is
/// ignored.
pub(super) async fn delete_acked(
    conn: &mut SqliteConnection,
    acks: &[(&DeviceAddress, &[i64])],
    lengths: &mut QueueLengths,
) -> Result<Vec<u64>, StoreError> {
    let mut per_job = vec![0u64; acks.len()];
    if acks.is_empty() {
        return Ok(per_job);
    }
    let list = ack_list(acks)?;
    let count_sql = format!("SELECT job, count(*) AS n FROM ({ACKED_ROWS}) GROUP BY job");
    let counts = sqlx::query(sqlx::AssertSqlSafe(count_sql))
        .bind(&list)
        .fetch_all(&mut *conn)
        .await?;
    for row in counts {
        let job = usize::try_from(row.try_get::<i64, _>("job")?)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let n: i64 = row.try_get("n")?;
        if let Some(slot) = per_job.get_mut(job) {
            *slot = n.unsigned_abs();
        }
    }
    let delete_sql = format!("DELETE FROM mailbox WHERE id IN (SELECT id FROM ({ACKED_ROWS}))");
    let done = sqlx::query(sqlx::AssertSqlSafe(delete_sql))
        .bind(&list)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() != per_job.iter().sum::<u64>() {
        return Err(StoreError::Database(
            "ack count changed inside the transaction".into(),
        ));
    }
    for ((device, _), deleted) in acks.iter().zip(&per_job) {
        if let Some(length) = lengths.0.get_mut(*device) {
            *length = length.saturating_sub(*deleted);
        }
    }
    Ok(per_job)
}

/// Deletes expired envelopes, message ids and linking rows (channels, link tokens).
pub(super) async fn purge(
    conn: &mut SqliteConnection,
    now_ms: i64,
    lengths: &mut QueueLengths,
) -> Result<u64, StoreError> {
    let envelopes = sqlx::query("DELETE FROM mailbox WHERE expires_at <= ?")
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM message_ids WHERE expires_at <= ?")
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
    // Linking rows live minutes; this catches any that a quiet relay left behind.
    super::linking::delete_expired(&mut *conn, now_ms).await?;
    // The trigger released the payloads of the rows just deleted; this catches any payload
    // whose rows went without it (none should), as they expire together.
    sqlx::query("DELETE FROM shared_payloads WHERE expires_at <= ?")
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
    lengths.clear();
    Ok(envelopes.rows_affected())
}
