//! Multi-recipient sends inside a group commit on PostgreSQL: the ciphertext goes into
//! `shared_payloads` once, and every device gets a mailbox row whose `payload_id` points at it
//! and holds its account's prefix (empty but for sealed sends) as its own `content`, delivered
//! before the payload. The trigger of migration 0004 deletes the payload with the
//! last row referencing it. The caller holds the recipient accounts' advisory locks.

use super::device_column;
use crate::domain::{AccountId, DeviceAddress};
use crate::store::{MultiSubmission, QueuedEnvelope, RecipientAccount, SendOutcome, StoreError};
use bytes::Bytes;
use sqlx::{PgConnection, Row};
use std::collections::{HashMap, HashSet};

/// Outcomes in the order of the sends, and the envelopes inserted with their ids.
pub(super) type Stored = (
    Vec<Result<SendOutcome, StoreError>>,
    Vec<(DeviceAddress, QueuedEnvelope)>,
);

/// Stores the multi-recipient sends one after the other (each sees what the ones before it
/// stored, in the same transaction).
pub(super) async fn store_multi_sends(
    conn: &mut PgConnection,
    sends: &[&MultiSubmission],
) -> Result<Stored, StoreError> {
    let mut outcomes = Vec::with_capacity(sends.len());
    let mut inserted = Vec::new();
    for send in sends {
        outcomes.push(store_one(conn, send, &mut inserted).await?);
    }
    Ok((outcomes, inserted))
}

async fn store_one(
    conn: &mut PgConnection,
    send: &MultiSubmission,
    inserted: &mut Vec<(DeviceAddress, QueuedEnvelope)>,
) -> Result<Result<SendOutcome, StoreError>, StoreError> {
    let known = known_accounts(conn, send).await?;
    let fresh: Vec<&RecipientAccount> = send
        .recipients
        .iter()
        .filter(|r| !known.contains(r.account.as_str()))
        .collect();
    let devices: Vec<DeviceAddress> = send
        .devices()
        .filter(|d| !known.contains(d.account.as_str()))
        .collect();
    if devices.is_empty() {
        return Ok(Ok(SendOutcome::Duplicate));
    }
    let lengths = queue_lengths(conn, &devices).await?;
    let full = devices.iter().any(|d| {
        let key = (d.account.as_str().to_owned(), device_column(d.device));
        lengths.get(&key).copied().unwrap_or(0) >= u64::from(send.max_queue)
    });
    if full {
        return Ok(Err(StoreError::MailboxFull));
    }
    let payload = insert_payload(conn, send, devices.len()).await?;
    insert_ids(conn, send, &devices).await?;
    insert_rows(conn, send, payload, &fresh, inserted).await?;
    Ok(Ok(SendOutcome::Stored))
}

async fn known_accounts(
    conn: &mut PgConnection,
    send: &MultiSubmission,
) -> Result<HashSet<String>, StoreError> {
    let accounts: Vec<String> = send
        .recipients
        .iter()
        .map(|r| r.account.as_str().to_owned())
        .collect();
    let ids: Vec<String> = send
        .recipients
        .iter()
        .map(|r| send.message_id.remembered_for(&r.account))
        .collect();
    let rows = sqlx::query(
        "SELECT m.account_id FROM message_ids m
         JOIN unnest($1::TEXT[], $2::TEXT[]) AS k(a, i) ON m.account_id = k.a AND m.message_id = k.i",
    )
    .bind(accounts)
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| Ok(row.try_get("account_id")?))
        .collect()
}

async fn queue_lengths(
    conn: &mut PgConnection,
    devices: &[DeviceAddress],
) -> Result<HashMap<(String, i32), u64>, StoreError> {
    let (accounts, ids): (Vec<String>, Vec<i32>) = devices
        .iter()
        .map(|d| (d.account.as_str().to_owned(), device_column(d.device)))
        .unzip();
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

async fn insert_payload(
    conn: &mut PgConnection,
    send: &MultiSubmission,
    refs: usize,
) -> Result<i64, StoreError> {
    let refs = i64::try_from(refs).map_err(|e| StoreError::Database(e.to_string()))?;
    let id = sqlx::query_scalar(
        "INSERT INTO shared_payloads (refs, expires_at, content) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(refs)
    .bind(send.now_ms.saturating_add(send.ttl_ms))
    .bind(send.content.as_ref())
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

async fn insert_ids(
    conn: &mut PgConnection,
    send: &MultiSubmission,
    devices: &[DeviceAddress],
) -> Result<(), StoreError> {
    let accounts: HashSet<&AccountId> = devices.iter().map(|d| &d.account).collect();
    let (accounts, ids): (Vec<String>, Vec<String>) = accounts
        .into_iter()
        .map(|a| (a.as_str().to_owned(), send.message_id.remembered_for(a)))
        .unzip();
    sqlx::query(
        "INSERT INTO message_ids (account_id, message_id, expires_at)
         SELECT a, i, $3::BIGINT FROM unnest($1::TEXT[], $2::TEXT[]) AS t(a, i)",
    )
    .bind(accounts)
    .bind(ids)
    .bind(send.now_ms.saturating_add(send.ttl_ms))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// One mailbox row per device of the `fresh` accounts, each holding its account's prefix, with
/// ids drawn first from the sequence in device order (as `batch` does), so the caller learns
/// them without a read.
async fn insert_rows(
    conn: &mut PgConnection,
    send: &MultiSubmission,
    payload: i64,
    fresh: &[&RecipientAccount],
    inserted: &mut Vec<(DeviceAddress, QueuedEnvelope)>,
) -> Result<(), StoreError> {
    // Each row: its account, its device, and what the device receives.
    let rows: Vec<(&RecipientAccount, DeviceAddress, Bytes)> = fresh
        .iter()
        .flat_map(|r| {
            let delivered = r.delivered(&send.content);
            r.devices.iter().map(move |device| {
                let address = DeviceAddress {
                    account: r.account.clone(),
                    device: *device,
                };
                (*r, address, delivered.clone())
            })
        })
        .collect();
    let count = i64::try_from(rows.len()).map_err(|e| StoreError::Database(e.to_string()))?;
    let mut ids: Vec<i64> = sqlx::query_scalar(
        "SELECT nextval(pg_get_serial_sequence('mailbox', 'id')) FROM generate_series(1, $1)",
    )
    .bind(count)
    .fetch_all(&mut *conn)
    .await?;
    ids.sort_unstable();
    let accounts: Vec<String> = rows
        .iter()
        .map(|(_, d, _)| d.account.as_str().to_owned())
        .collect();
    let device_ids: Vec<i32> = rows
        .iter()
        .map(|(_, d, _)| device_column(d.device))
        .collect();
    let prefixes: Vec<Vec<u8>> = rows.iter().map(|(r, _, _)| r.prefix.to_vec()).collect();
    let done = sqlx::query(
        "INSERT INTO mailbox (id, account_id, device_id, message_id, sender_account, sender_device,
                              server_timestamp, expires_at, payload_id, content)
         SELECT i, a, d, $5::TEXT, $6::TEXT, $7::INTEGER, $8::BIGINT, $9::BIGINT, $10::BIGINT, c
         FROM unnest($1::BIGINT[], $2::TEXT[], $3::INTEGER[], $4::BYTEA[]) AS t(i, a, d, c)",
    )
    .bind(ids.as_slice())
    .bind(accounts)
    .bind(device_ids)
    .bind(prefixes)
    .bind(send.message_id.as_str())
    .bind(send.sender.as_ref().map(|s| s.account.as_str().to_owned()))
    .bind(send.sender.as_ref().map(|s| device_column(s.device)))
    .bind(send.now_ms)
    .bind(send.now_ms.saturating_add(send.ttl_ms))
    .bind(payload)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != ids.len() as u64 {
        return Err(StoreError::Database("mailbox insert lost rows".into()));
    }
    for (id, (_, device, delivered)) in ids.into_iter().zip(rows) {
        let queued = QueuedEnvelope {
            id,
            message_id: send.message_id.as_str().to_owned(),
            sender: send.sender.clone(),
            server_timestamp: send.now_ms,
            content: delivered,
        };
        inserted.push((device, queued));
    }
    Ok(())
}
