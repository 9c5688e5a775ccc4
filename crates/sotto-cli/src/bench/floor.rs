//! The floor: the relay's mailbox schema on the same disk with the same durability
//! (WAL, synchronous=FULL, checkpoints in the background as the relay does them), with
//! envelopes inserted in transactions of `--batch` multi-row inserts and deleted in
//! transactions of the same size; each envelope's message id remembered as the relay
//! remembers it (time first, then a hash); no HTTP, no WebSocket, no JSON, no dedup check.

use super::server::progress;
use anyhow::{Context, Result};
use clap::Args;
use serde_json::json;
use sotto_server::domain::{AccountId, MessageId};
use sotto_server::store::sqlite::{DATABASE_FILE, SqliteStore};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, QueryBuilder, Sqlite};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Args)]
pub struct FloorArgs {
    /// Envelopes to insert and then delete.
    #[arg(long, default_value_t = 100_000)]
    messages: u64,
    /// Envelope size in bytes.
    #[arg(long, default_value_t = 1024)]
    size: usize,
    /// Envelopes per transaction (the relay's group commit takes up to 512 writes at once).
    #[arg(long, default_value_t = 256)]
    batch: u64,
    /// Directory for the scratch database [default: a temporary directory].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

/// The one recipient of the floor's envelopes.
const FLOOR_ACCOUNT: &str = "00000000000000000000000000000001";

/// Message ids in the form Sotto clients send (time first), remembered as the relay
/// remembers them.
fn floor_ids(range: std::ops::Range<u64>) -> Result<Vec<MessageId>> {
    range
        .map(|i| Ok(MessageId::parse(&super::time_first_id(i.into()))?))
        .collect()
}

pub async fn run(args: FloorArgs) -> Result<()> {
    let temp = tempfile::tempdir()?;
    let dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    // The relay's own store creates the schema and runs the background checkpoints.
    let store = SqliteStore::open(&dir).await?;
    let mut conn = SqliteConnectOptions::new()
        .filename(dir.join(DATABASE_FILE))
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .pragma("wal_autocheckpoint", "0")
        .connect()
        .await
        .context("cannot open the scratch database")?;
    let content = vec![0x5a; args.size];
    let account = AccountId::parse(FLOOR_ACCOUNT)?;
    let bar = progress(args.messages * 2, "insert+delete");
    let start = Instant::now();
    let batch = args.batch.max(1);
    let mut n = 0;
    while n < args.messages {
        let end = (n + batch).min(args.messages);
        let ids = floor_ids(n..end)?;
        let mut tx = conn.begin().await?;
        let mut query = QueryBuilder::<Sqlite>::new(
            "INSERT INTO message_ids (account_id, message_id, expires_at) ",
        );
        query.push_values(&ids, |mut row, id| {
            row.push_bind(FLOOR_ACCOUNT)
                .push_bind(id.remembered_for(&account))
                .push_bind(0);
        });
        query.build().execute(&mut *tx).await?;
        let mut query = QueryBuilder::<Sqlite>::new(
            "INSERT INTO mailbox (account_id, device_id, message_id, server_timestamp, expires_at, content) ",
        );
        query.push_values(&ids, |mut row, id| {
            row.push_bind("a")
                .push_bind(1)
                .push_bind(id.as_str())
                .push_bind(0)
                .push_bind(0)
                .push_bind(content.as_slice());
        });
        query.build().execute(&mut *tx).await?;
        tx.commit().await?;
        let mut tx = conn.begin().await?;
        sqlx::query("DELETE FROM mailbox WHERE account_id = 'a' AND device_id = 1 AND id IN (SELECT id FROM mailbox WHERE account_id = 'a' AND device_id = 1 ORDER BY id LIMIT ?)")
            .bind(i64::try_from(end - n)?)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        bar.inc((end - n) * 2);
        n = end;
    }
    let seconds = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    store.close().await;
    let report = json!({
        "envelopes": args.messages,
        "envelope_bytes": args.size,
        "batch": batch,
        "seconds": (seconds * 1000.0).round() / 1000.0,
        "insert_delete_per_s": (args.messages as f64 / seconds).round(),
        "commits_per_s": ((2 * args.messages).div_ceil(batch) as f64 / seconds).round(),
    });
    super::print_report(&report, args.json)
}
