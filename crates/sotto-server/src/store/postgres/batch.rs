//! The SQL of one group commit on PostgreSQL: lock the recipient accounts, read what is
//! already stored for them, decide every send's outcome, then insert with one statement per
//! table (arrays through `unnest`).

use super::{device_column, device_from_column};
use crate::domain::{AccountId, DeviceAddress};
use crate::store::{QueuedEnvelope, SendOutcome, StoreError, Submission};
use sqlx::{PgConnection, Row};
use std::collections::{BTreeSet, HashMap, HashSet};

/// Outcomes in the order of the sends, and the envelopes inserted with their ids.
pub(super) type Stored = (
    Vec<Result<SendOutcome, StoreError>>,
    Vec<(DeviceAddress, QueuedEnvelope)>,
);

/// Stores a batch of sends inside the caller's transaction, which holds the recipient
/// accounts' locks ([`lock_accounts`]). A send that would overflow a mailbox gets
/// `MailboxFull` and stores nothing; the others are unaffected.
pub(super) async fn store_sends(
    conn: &mut PgConnection,
    sends: &[&Submission],
) -> Result<Stored, StoreError> {
    if sends.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut known = known_ids(conn, sends).await?;
    let mut lengths = queue_lengths(conn, sends).await?;
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
        let length = |lengths: &HashMap<(String, i32), u64>, device| {
            let key = (send.recipient.as_str().to_owned(), device_column(device));
            lengths.get(&key).copied().unwrap_or(0)
        };
        let full = send
            .envelopes
            .iter()
            .any(|e| length(&lengths, e.device) >= u64::from(send.max_queue));
        if full {
            outcomes.push(Err(StoreError::MailboxFull));
            continue;
        }
        for envelope in &send.envelopes {
            let key = (
                send.recipient.as_str().to_owned(),
                device_column(envelope.device),
            );
            *lengths.entry(key).or_default() += 1;
        }
        known.insert(key);
        accepted.push(*send);
        outcomes.push(Ok(SendOutcome::Stored));
    }
    insert_ids(conn, &accepted).await?;
    let inserted = insert_envelopes(conn, &accepted).await?;
    Ok((outcomes, inserted))
}

/// Serialises writers of the same recipient accounts across every node until commit, in a
/// fixed (sorted) order so that two batches cannot deadlock.
pub(super) async fn lock_accounts(
    conn: &mut PgConnection,
    accounts: &BTreeSet<&str>,
) -> Result<(), StoreError> {
    let list: Vec<String> = accounts.iter().map(|a| (*a).to_owned()).collect();
    sqlx::query(
        "SELECT count(pg_advisory_xact_lock(hashtextextended('sotto.mailbox:' || a, 0)))
         FROM unnest($1::TEXT[]) WITH ORDINALITY AS t(a, n)",
    )
    .bind(list)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn known_ids(
    conn: &mut PgConnection,
    sends: &[&Submission],
) -> Result<HashSet<(String, String)>, StoreError> {
    let accounts: Vec<String> = sends
        .iter()
        .map(|s| s.recipient.as_str().to_owned())
        .collect();
    let ids: Vec<String> = sends
        .iter()
        .map(|s| s.message_id.remembered_for(&s.recipient))
        .collect();
    let rows = sqlx::query(
        "SELECT m.account_id, m.message_id FROM message_ids m
         JOIN unnest($1::TEXT[], $2::TEXT[]) AS k(a, i) ON m.account_id = k.a AND m.message_id = k.i",
    )
    .bind(accounts)
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("account_id")?, row.try_get("message_id")?)))
        .collect()
}

async fn queue_lengths(
    conn: &mut PgConnection,
    sends: &[&Submission],
) -> Result<HashMap<(String, i32), u64>, StoreError> {
    let devices: HashSet<(String, i32)> = sends
        .iter()
        .flat_map(|s| {
            s.envelopes
                .iter()
                .map(|e| (s.recipient.as_str().to_owned(), device_column(e.device)))
        })
        .collect();
    let (accounts, ids): (Vec<String>, Vec<i32>) = devices.into_iter().unzip();
    let rows = sqlx::query(
        "SELECT m.account_id, m.device_id, count(*) AS n FROM mailbox m
         JOIN unnest($1::TEXT[], $2::INTEGER[]) AS k(a, d) ON m.account_id = k.a AND m.device_id = k.d
         GROUP BY m.account_id, m.device_id",
    )
    .bind(accounts)
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            let n: i64 = row.try_get("n")?;
            Ok((
                (row.try_get("account_id")?, row.try_get("device_id")?),
                n.unsigned_abs(),
            ))
        })
        .collect()
}

async fn insert_ids(conn: &mut PgConnection, sends: &[&Submission]) -> Result<(), StoreError> {
    if sends.is_empty() {
        return Ok(());
    }
    let accounts: Vec<String> = sends
        .iter()
        .map(|s| s.recipient.as_str().to_owned())
        .collect();
    let ids: Vec<String> = sends
        .iter()
        .map(|s| s.message_id.remembered_for(&s.recipient))
        .collect();
    let expiry: Vec<i64> = sends
        .iter()
        .map(|s| s.now_ms.saturating_add(s.ttl_ms))
        .collect();
    sqlx::query(
        "INSERT INTO message_ids (account_id, message_id, expires_at)
         SELECT * FROM unnest($1::TEXT[], $2::TEXT[], $3::BIGINT[])",
    )
    .bind(accounts)
    .bind(ids)
    .bind(expiry)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Columns of the envelopes to insert, one vector per column.
#[derive(Default)]
struct EnvelopeColumns {
    ids: Vec<i64>,
    accounts: Vec<String>,
    devices: Vec<i32>,
    message_ids: Vec<String>,
    sender_accounts: Vec<Option<String>>,
    sender_devices: Vec<Option<i32>>,
    timestamps: Vec<i64>,
    expiry: Vec<i64>,
    contents: Vec<Vec<u8>>,
}

/// Inserts the envelopes with ids drawn first from the table's sequence, in batch order, so
/// each device's envelopes get increasing ids and the caller learns them without a read.
async fn insert_envelopes(
    conn: &mut PgConnection,
    sends: &[&Submission],
) -> Result<Vec<(DeviceAddress, QueuedEnvelope)>, StoreError> {
    let count: i64 = sends.iter().map(|s| s.envelopes.len() as i64).sum();
    if count == 0 {
        return Ok(Vec::new());
    }
    let mut ids: Vec<i64> = sqlx::query_scalar(
        "SELECT nextval(pg_get_serial_sequence('mailbox', 'id')) FROM generate_series(1, $1)",
    )
    .bind(count)
    .fetch_all(&mut *conn)
    .await?;
    ids.sort_unstable();
    let mut columns = EnvelopeColumns::default();
    let mut inserted = Vec::with_capacity(ids.len());
    let rows = sends
        .iter()
        .flat_map(|s| s.envelopes.iter().map(move |e| (*s, e)));
    for (id, (send, envelope)) in ids.into_iter().zip(rows) {
        columns.push(id, send, envelope);
        let device = DeviceAddress {
            account: send.recipient.clone(),
            device: envelope.device,
        };
        let queued = QueuedEnvelope {
            id,
            message_id: send.message_id.as_str().to_owned(),
            sender: send.sender.clone(),
            server_timestamp: send.now_ms,
            content: envelope.content.clone().into(),
        };
        inserted.push((device, queued));
    }
    columns.insert(conn).await?;
    Ok(inserted)
}

impl EnvelopeColumns {
    fn push(&mut self, id: i64, send: &Submission, envelope: &crate::store::NewEnvelope) {
        self.ids.push(id);
        self.accounts.push(send.recipient.as_str().to_owned());
        self.devices.push(device_column(envelope.device));
        self.message_ids.push(send.message_id.as_str().to_owned());
        self.sender_accounts
            .push(send.sender.as_ref().map(|s| s.account.as_str().to_owned()));
        self.sender_devices
            .push(send.sender.as_ref().map(|s| device_column(s.device)));
        self.timestamps.push(send.now_ms);
        self.expiry.push(send.now_ms.saturating_add(send.ttl_ms));
        self.contents.push(envelope.content.clone());
    }

    async fn insert(self, conn: &mut PgConnection) -> Result<(), StoreError> {
        let expected = self.ids.len() as u64;
        let done = sqlx::query(
            "INSERT INTO mailbox (id, account_id, device_id, message_id, sender_account, sender_device,
                                  server_timestamp, expires_at, content)
             SELECT * FROM unnest($1::BIGINT[], $2::TEXT[], $3::INTEGER[], $4::TEXT[], $5::TEXT[],
                                  $6::INTEGER[], $7::BIGINT[], $8::BIGINT[], $9::BYTEA[])",
        )
        .bind(self.ids)
        .bind(self.accounts)
        .bind(self.devices)
        .bind(self.message_ids)
        .bind(self.sender_accounts)
        .bind(self.sender_devices)
        .bind(self.timestamps)
        .bind(self.expiry)
        .bind(self.contents)
        .execute(conn)
        .await?;
        if done.rows_affected() != expected {
            return Err(StoreError::Database("mailbox insert lost rows".into()));
        }
        Ok(())
    }
}

/// Reads a queued envelope's sender columns.
pub(super) fn sender_from_columns(
    account: Option<String>,
    device: Option<i32>,
) -> Result<Option<DeviceAddress>, StoreError> {
    match (account, device) {
        (Some(account), Some(device)) => Ok(Some(DeviceAddress {
            account: AccountId::parse(&account).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            device: device_from_column(device)?,
        })),
        _ => Ok(None),
    }
}
