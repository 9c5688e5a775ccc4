//! Group commit: one task owns the write connection and commits every mailbox write that
//! arrived while the previous commit was running in one transaction (see `batch` for the
//! statements). Callers are answered only after `COMMIT` returns, i.e. once the WAL is
//! synced to disk.

use super::batch::{Inserted, QueueLengths, delete_acked, purge, store_sends};
use super::multi::store_multi_sends;
use super::wal::WalBound;
use crate::domain::DeviceAddress;
use crate::store::{CommitHook, CommitStats};
use crate::store::{MultiSubmission, SendOutcome, StoreError, Submission};
use sqlx::{Connection, SqliteConnection};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use tokio::sync::{mpsc, oneshot};

/// Most writes committed together; bounds a transaction's size and latency.
const MAX_BATCH: usize = 512;

enum WriteJob {
    Store(
        Box<Submission>,
        oneshot::Sender<Result<SendOutcome, StoreError>>,
    ),
    Ack(
        DeviceAddress,
        Vec<i64>,
        oneshot::Sender<Result<u64, StoreError>>,
    ),
    StoreMulti(
        Box<MultiSubmission>,
        oneshot::Sender<Result<SendOutcome, StoreError>>,
    ),
    Purge(i64, oneshot::Sender<Result<u64, StoreError>>),
    Close(oneshot::Sender<()>),
}

/// Handle to the writer task; cheap to clone.
#[derive(Clone)]
pub(super) struct WriterHandle {
    jobs: mpsc::Sender<WriteJob>,
    shared: Arc<Shared>,
}

/// What the handle and the writer task share.
#[derive(Default)]
struct Shared {
    hook: OnceLock<Arc<dyn CommitHook>>,
    commits: AtomicU64,
    writes: AtomicU64,
}

fn writer_gone() -> StoreError {
    StoreError::Database("the database writer has stopped".into())
}

impl WriterHandle {
    /// Spawns the writer task on `conn`, keeping the log within `wal`. Fails if its thread
    /// or runtime cannot be made.
    pub(super) fn start(conn: SqliteConnection, wal: WalBound) -> Result<Self, StoreError> {
        let (jobs, rx) = mpsc::channel(4096);
        let shared = Arc::new(Shared::default());
        let task = run(conn, wal, rx, shared.clone());
        // Its own thread and runtime: each statement of a batch is a hand-off to SQLite's
        // worker thread and back, and on the shared runtime every "back" waited behind the
        // tasks of thousands of connections, leaving SQLite idle between statements.
        let cannot = |e: std::io::Error| {
            StoreError::Database(format!("cannot start the database writer: {e}"))
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(cannot)?;
        std::thread::Builder::new()
            .name("sotto-writer".into())
            .spawn(move || runtime.block_on(task))
            .map_err(cannot)?;
        Ok(Self { jobs, shared })
    }

    /// Installs the hook told about committed envelopes (only the first call counts).
    pub(super) fn set_commit_hook(&self, hook: Arc<dyn CommitHook>) {
        let _ = self.shared.hook.set(hook);
    }

    /// Commits made and writes (sends, ack bursts, purges) they carried, since start.
    pub(super) fn stats(&self) -> CommitStats {
        CommitStats {
            commits: self.shared.commits.load(Ordering::Relaxed),
            writes: self.shared.writes.load(Ordering::Relaxed),
        }
    }

    async fn submit<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> WriteJob,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(make(reply))
            .await
            .map_err(|_| writer_gone())?;
        answer.await.map_err(|_| writer_gone())?
    }

    pub(super) async fn store(&self, send: Submission) -> Result<SendOutcome, StoreError> {
        self.submit(|reply| WriteJob::Store(Box::new(send), reply))
            .await
    }

    pub(super) async fn store_multi(
        &self,
        send: MultiSubmission,
    ) -> Result<SendOutcome, StoreError> {
        self.submit(|reply| WriteJob::StoreMulti(Box::new(send), reply))
            .await
    }

    pub(super) async fn ack(
        &self,
        device: DeviceAddress,
        ids: Vec<i64>,
    ) -> Result<u64, StoreError> {
        self.submit(|reply| WriteJob::Ack(device, ids, reply)).await
    }

    pub(super) async fn purge(&self, now_ms: i64) -> Result<u64, StoreError> {
        self.submit(|reply| WriteJob::Purge(now_ms, reply)).await
    }

    /// Asks the writer to finish what is queued and close its connection.
    pub(super) async fn close(&self) {
        let (done, wait) = oneshot::channel();
        if self.jobs.send(WriteJob::Close(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn run(
    mut conn: SqliteConnection,
    wal: WalBound,
    mut rx: mpsc::Receiver<WriteJob>,
    shared: Arc<Shared>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut lengths = QueueLengths::default();
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let close = batch
            .iter()
            .position(|job| matches!(job, WriteJob::Close(_)));
        let closing = close.map(|at| batch.remove(at));
        let jobs = std::mem::take(&mut batch);
        let writes = jobs.len() as u64;
        if commit_batch(&mut conn, jobs, &mut lengths, shared.hook.get()).await {
            shared.commits.fetch_add(1, Ordering::Relaxed);
            shared.writes.fetch_add(writes, Ordering::Relaxed);
        }
        wal.enforce(&mut conn).await;
        if let Some(WriteJob::Close(done)) = closing {
            let _ = conn.close().await;
            let _ = done.send(());
            return;
        }
    }
}

/// Replies owed for one batch, in the order the work was applied.
#[derive(Default)]
struct Replies {
    stores: Vec<Reply<SendOutcome>>,
    counts: Vec<Reply<u64>>,
}

/// A caller waiting for a result, and its result.
type Reply<T> = (
    oneshot::Sender<Result<T, StoreError>>,
    Result<T, StoreError>,
);

/// Applies the batch in one transaction; true if it committed. Any database error fails the whole batch (nothing
/// of it is committed, every caller gets the error and may retry); per-send refusals such
/// as a full mailbox are answered individually.
async fn commit_batch(
    conn: &mut SqliteConnection,
    batch: Vec<WriteJob>,
    lengths: &mut QueueLengths,
    hook: Option<&Arc<dyn CommitHook>>,
) -> bool {
    let mut sends = Vec::new();
    let mut multis = Vec::new();
    let mut acks = Vec::new();
    let mut purges = Vec::new();
    for job in batch {
        match job {
            WriteJob::Store(send, reply) => sends.push((send, reply)),
            WriteJob::StoreMulti(send, reply) => multis.push((send, reply)),
            WriteJob::Ack(device, ids, reply) => acks.push((device, ids, reply)),
            WriteJob::Purge(now, reply) => purges.push((now, reply)),
            WriteJob::Close(_) => {}
        }
    }
    let mut replies = Replies::default();
    let applied = apply(
        conn,
        (sends.as_slice(), multis.as_slice()),
        &acks,
        &purges,
        lengths,
    )
    .await;
    let committed = match applied {
        Ok((outcomes, inserted, acked, purged)) => {
            match sqlx::query("COMMIT").execute(&mut *conn).await {
                Ok(_) => {
                    if let Some(hook) = hook.filter(|_| !inserted.is_empty()) {
                        hook.committed(inserted);
                    }
                    Ok((outcomes, acked, purged))
                }
                Err(e) => Err(StoreError::from(e)),
            }
        }
        Err(e) => Err(e),
    };
    let succeeded = committed.is_ok();
    match committed {
        Ok((outcomes, acked, purged)) => {
            replies.stores = sends
                .into_iter()
                .map(|(_, reply)| reply)
                .chain(multis.into_iter().map(|(_, reply)| reply))
                .zip(outcomes)
                .collect();
            replies.counts = acks
                .into_iter()
                .map(|(_, _, reply)| reply)
                .zip(acked.into_iter().map(Ok))
                .collect();
            replies
                .counts
                .extend(purges.into_iter().map(|(_, reply)| (reply, Ok(purged))));
        }
        Err(e) => {
            tracing::error!(error = %e, "mailbox batch failed; rolled back");
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            lengths.clear();
            let failed = || StoreError::Database(format!("batch rolled back: {e}"));
            replies.stores = sends
                .into_iter()
                .map(|(_, reply)| reply)
                .chain(multis.into_iter().map(|(_, reply)| reply))
                .map(|reply| (reply, Err(failed())))
                .collect();
            replies.counts = acks
                .into_iter()
                .map(|(_, _, reply)| (reply, Err(failed())))
                .collect();
            replies
                .counts
                .extend(purges.into_iter().map(|(_, reply)| (reply, Err(failed()))));
        }
    }
    for (reply, result) in replies.stores {
        let _ = reply.send(result);
    }
    for (reply, result) in replies.counts {
        let _ = reply.send(result);
    }
    succeeded
}

type SendJob = (
    Box<Submission>,
    oneshot::Sender<Result<SendOutcome, StoreError>>,
);
type MultiJob = (
    Box<MultiSubmission>,
    oneshot::Sender<Result<SendOutcome, StoreError>>,
);
type AckJob = (
    DeviceAddress,
    Vec<i64>,
    oneshot::Sender<Result<u64, StoreError>>,
);
type PurgeJob = (i64, oneshot::Sender<Result<u64, StoreError>>);
type Applied = (
    Vec<Result<SendOutcome, StoreError>>,
    Inserted,
    Vec<u64>,
    u64,
);

async fn apply(
    conn: &mut SqliteConnection,
    (sends, multis): (&[SendJob], &[MultiJob]),
    acks: &[AckJob],
    purges: &[PurgeJob],
    lengths: &mut QueueLengths,
) -> Result<Applied, StoreError> {
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
    // Acks first: they make room in mailboxes that sends of the same batch may need.
    let ack_jobs: Vec<(&DeviceAddress, &[i64])> = acks
        .iter()
        .map(|(device, ids, _)| (device, ids.as_slice()))
        .collect();
    let acked = delete_acked(conn, &ack_jobs, lengths).await?;
    let submissions: Vec<&Submission> = sends.iter().map(|(send, _)| send.as_ref()).collect();
    let (mut outcomes, mut inserted) = store_sends(conn, &submissions, lengths).await?;
    // After the single sends: each device's new ids then follow the order of `inserted`.
    let multis: Vec<&MultiSubmission> = multis.iter().map(|(send, _)| send.as_ref()).collect();
    let (multi_outcomes, multi_inserted) = store_multi_sends(conn, &multis, lengths).await?;
    outcomes.extend(multi_outcomes);
    inserted.extend(multi_inserted);
    let mut purged = 0;
    if let Some(now) = purges.iter().map(|(now, _)| *now).max() {
        purged = purge(conn, now, lengths).await?;
    }
    Ok((outcomes, inserted, acked, purged))
}
