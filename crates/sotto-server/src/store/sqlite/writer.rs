//! Group commit: one task owns the write connection and commits every mailbox write that
//! arrived while the previous commit was running in one transaction. Each write runs in its
//! own savepoint, so one failing send (a full mailbox) does not undo the others. Callers are
//! answered only after `COMMIT` returns, i.e. once the WAL is synced to disk.

use super::mailbox::{ack_in, purge_in, store_in};
use crate::domain::DeviceAddress;
use crate::store::{SendOutcome, StoreError, Submission};
use sqlx::{Connection, SqliteConnection};
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
    Purge(i64, oneshot::Sender<Result<u64, StoreError>>),
    Close(oneshot::Sender<()>),
}

/// Handle to the writer task; cheap to clone.
#[derive(Clone)]
pub(super) struct WriterHandle {
    jobs: mpsc::Sender<WriteJob>,
}

fn writer_gone() -> StoreError {
    StoreError::Database("the database writer has stopped".into())
}

impl WriterHandle {
    /// Spawns the writer task on `conn`.
    pub(super) fn start(conn: SqliteConnection) -> Self {
        let (jobs, rx) = mpsc::channel(4096);
        tokio::spawn(run(conn, rx));
        Self { jobs }
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

async fn run(mut conn: SqliteConnection, mut rx: mpsc::Receiver<WriteJob>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let close = batch
            .iter()
            .position(|job| matches!(job, WriteJob::Close(_)));
        let closing = close.map(|at| batch.remove(at));
        commit_batch(&mut conn, std::mem::take(&mut batch)).await;
        if let Some(WriteJob::Close(done)) = closing {
            let _ = conn.close().await;
            let _ = done.send(());
            return;
        }
    }
}

/// A job's result, held until the commit decides whether it stands.
enum Done {
    Store(
        oneshot::Sender<Result<SendOutcome, StoreError>>,
        Result<SendOutcome, StoreError>,
    ),
    Count(
        oneshot::Sender<Result<u64, StoreError>>,
        Result<u64, StoreError>,
    ),
}

async fn commit_batch(conn: &mut SqliteConnection, batch: Vec<WriteJob>) {
    let mut done = Vec::with_capacity(batch.len());
    let began = sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await;
    let mut failure = began.err().map(|e| e.to_string());
    let open = failure.is_none();
    for job in batch {
        match job {
            WriteJob::Store(send, reply) => {
                let result = in_savepoint(conn, open, async |c| store_in(c, &send).await).await;
                done.push(Done::Store(reply, result));
            }
            WriteJob::Ack(device, ids, reply) => {
                let result =
                    in_savepoint(conn, open, async |c| ack_in(c, &device, &ids).await).await;
                done.push(Done::Count(reply, result));
            }
            WriteJob::Purge(now, reply) => {
                let result = in_savepoint(conn, open, async |c| purge_in(c, now).await).await;
                done.push(Done::Count(reply, result));
            }
            WriteJob::Close(_) => {}
        }
    }
    if open && let Err(e) = sqlx::query("COMMIT").execute(&mut *conn).await {
        tracing::error!(error = %e, "mailbox commit failed");
        failure = Some(e.to_string());
        let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
    }
    answer(done, failure);
}

/// Runs one job in a savepoint: its failure undoes only its own writes.
async fn in_savepoint<T>(
    conn: &mut SqliteConnection,
    open: bool,
    job: impl AsyncFnOnce(&mut SqliteConnection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    if !open {
        return Err(StoreError::Database("could not begin a transaction".into()));
    }
    sqlx::query("SAVEPOINT job").execute(&mut *conn).await?;
    let result = job(&mut *conn).await;
    if result.is_err() {
        sqlx::query("ROLLBACK TO job").execute(&mut *conn).await?;
    }
    sqlx::query("RELEASE job").execute(&mut *conn).await?;
    result
}

/// Answers every caller: with its own result if the commit succeeded, else with the failure.
fn answer(done: Vec<Done>, failure: Option<String>) {
    let failed = |e: &String| StoreError::Database(format!("commit failed: {e}"));
    for item in done {
        match item {
            Done::Store(reply, result) => {
                let _ = reply.send(match &failure {
                    Some(e) => Err(failed(e)),
                    None => result,
                });
            }
            Done::Count(reply, result) => {
                let _ = reply.send(match &failure {
                    Some(e) => Err(failed(e)),
                    None => result,
                });
            }
        }
    }
}
