//! Multi-recipient sends inside a group commit: the ciphertext goes into `shared_payloads`
//! once, and every device gets a mailbox row whose `payload_id` points at it; the row's own
//! `content` holds its account's prefix (empty but for sealed sends), delivered before the
//! payload. The trigger of migration 0004 deletes the payload with the last
//! row referencing it.

use super::batch::{Inserted, MAX_BINDS, QueueLengths};
use crate::domain::DeviceAddress;
use crate::store::{MultiSubmission, QueuedEnvelope, RecipientAccount, SendOutcome, StoreError};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
use std::collections::HashSet;

/// Stores the batch's multi-recipient sends one after the other (each sees what the ones
/// before it stored); returns one outcome per send and the new envelopes in id order.
pub(super) async fn store_multi_sends(
    conn: &mut SqliteConnection,
    sends: &[&MultiSubmission],
    lengths: &mut QueueLengths,
) -> Result<(Vec<Result<SendOutcome, StoreError>>, Inserted), StoreError> {
    let mut outcomes = Vec::with_capacity(sends.len());
    let mut inserted = Vec::new();
    for send in sends {
        outcomes.push(store_one(conn, send, lengths, &mut inserted).await?);
    }
    Ok((outcomes, inserted))
}

async fn store_one(
    conn: &mut SqliteConnection,
    send: &MultiSubmission,
    lengths: &mut QueueLengths,
    inserted: &mut Inserted,
) -> Result<Result<SendOutcome, StoreError>, StoreError> {
    let known = known_accounts(conn, send).await?;
    let fresh: Vec<&RecipientAccount> = send
        .recipients
        .iter()
        .filter(|r| !known.contains(r.account.as_str()))
        .collect();
    if fresh.is_empty() {
        return Ok(Ok(SendOutcome::Duplicate));
    }
    let devices: Vec<DeviceAddress> = fresh
        .iter()
        .flat_map(|r| {
            r.devices.iter().map(move |device| DeviceAddress {
                account: r.account.clone(),
                device: *device,
            })
        })
        .collect();
    lengths
        .load(conn, &devices.iter().cloned().collect())
        .await?;
    if devices
        .iter()
        .any(|d| lengths.get(d) >= u64::from(send.max_queue))
    {
        return Ok(Err(StoreError::MailboxFull));
    }
    let payload = insert_payload(conn, send, devices.len()).await?;
    insert_ids(conn, send, &fresh).await?;
    for recipient in fresh {
        insert_rows(conn, send, payload, recipient, inserted).await?;
    }
    devices.iter().for_each(|d| lengths.add(d, 1));
    Ok(Ok(SendOutcome::Stored))
}

/// The recipient accounts that already remember this message id.
async fn known_accounts(
    conn: &mut SqliteConnection,
    send: &MultiSubmission,
) -> Result<HashSet<String>, StoreError> {
    let mut known = HashSet::new();
    for chunk in send.recipients.chunks(MAX_BINDS / 2) {
        let mut query = QueryBuilder::<Sqlite>::new(
            "SELECT account_id FROM message_ids WHERE (account_id, message_id) IN (VALUES ",
        );
        let mut list = query.separated(", ");
        for recipient in chunk {
            list.push("(")
                .push_bind_unseparated(recipient.account.as_str().to_owned());
            list.push_unseparated(", ")
                .push_bind_unseparated(send.message_id.remembered_for(&recipient.account))
                .push_unseparated(")");
        }
        query.push(")");
        for row in query.build().fetch_all(&mut *conn).await? {
            known.insert(row.try_get("account_id")?);
        }
    }
    Ok(known)
}

async fn insert_payload(
    conn: &mut SqliteConnection,
    send: &MultiSubmission,
    refs: usize,
) -> Result<i64, StoreError> {
    let refs = i64::try_from(refs).map_err(|e| StoreError::Database(e.to_string()))?;
    let done =
        sqlx::query("INSERT INTO shared_payloads (refs, expires_at, content) VALUES (?, ?, ?)")
            .bind(refs)
            .bind(send.now_ms.saturating_add(send.ttl_ms))
            .bind(send.content.as_ref())
            .execute(&mut *conn)
            .await?;
    Ok(done.last_insert_rowid())
}

async fn insert_ids(
    conn: &mut SqliteConnection,
    send: &MultiSubmission,
    accounts: &[&RecipientAccount],
) -> Result<(), StoreError> {
    for chunk in accounts.chunks(MAX_BINDS / 3) {
        let mut query = QueryBuilder::<Sqlite>::new(
            "INSERT INTO message_ids (account_id, message_id, expires_at) ",
        );
        query.push_values(chunk, |mut row, recipient| {
            row.push_bind(recipient.account.as_str().to_owned())
                .push_bind(send.message_id.remembered_for(&recipient.account))
                .push_bind(send.now_ms.saturating_add(send.ttl_ms));
        });
        query.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// One mailbox row per device of `recipient`, numbered consecutively by the only writer (as
/// in `batch`), each holding the account's prefix as its own content.
async fn insert_rows(
    conn: &mut SqliteConnection,
    send: &MultiSubmission,
    payload: i64,
    recipient: &RecipientAccount,
    inserted: &mut Inserted,
) -> Result<(), StoreError> {
    let sender_account = send.sender.as_ref().map(|s| s.account.as_str().to_owned());
    let sender_device = send.sender.as_ref().map(|s| s.device.get());
    let delivered = recipient.delivered(&send.content);
    for chunk in recipient.devices.chunks(MAX_BINDS / 9) {
        let mut query = QueryBuilder::<Sqlite>::new(
            "INSERT INTO mailbox (account_id, device_id, message_id, sender_account, sender_device, server_timestamp, expires_at, payload_id, content) ",
        );
        query.push_values(chunk, |mut row, device| {
            row.push_bind(recipient.account.as_str().to_owned())
                .push_bind(device.get())
                .push_bind(send.message_id.as_str().to_owned())
                .push_bind(sender_account.clone())
                .push_bind(sender_device)
                .push_bind(send.now_ms)
                .push_bind(send.now_ms.saturating_add(send.ttl_ms))
                .push_bind(payload)
                .push_bind(recipient.prefix.to_vec());
        });
        let done = query.build().execute(&mut *conn).await?;
        if done.rows_affected() != chunk.len() as u64 {
            return Err(StoreError::Database("mailbox insert lost rows".into()));
        }
        let count = i64::try_from(chunk.len()).map_err(|e| StoreError::Database(e.to_string()))?;
        let first = done.last_insert_rowid() - count + 1;
        for (offset, device) in (0..).zip(chunk) {
            let queued = QueuedEnvelope {
                id: first + offset,
                message_id: send.message_id.as_str().to_owned(),
                sender: send.sender.clone(),
                server_timestamp: send.now_ms,
                content: delivered.clone(),
            };
            let address = DeviceAddress {
                account: recipient.account.clone(),
                device: *device,
            };
            inserted.push((address, queued));
        }
    }
    Ok(())
}
