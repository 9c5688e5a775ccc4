//! The node's mailbox writer: one task that commits the sends waiting at that moment in one
//! transaction, then tells the commit hook, in commit order. Batching amortises the commit's
//! round trips and WAL flush over many sends; one task per node keeps the hook in id order.

use super::{batch, multi};
use crate::domain::DeviceAddress;
use crate::store::{CommitHook, CommitStats, MultiSubmission, SendOutcome, StoreError, Submission};
use sqlx::PgPool;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// Most sends committed in one transaction.
const MAX_BATCH_SENDS: usize = 512;
/// Ciphertext bytes above which a batch stops growing (bounds the writer's memory).
const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;
/// Sends waiting for the writer before senders wait for room.
const QUEUE: usize = 4096;

struct Job {
    send: Work,
    reply: oneshot::Sender<Result<SendOutcome, StoreError>>,
}

/// What a job stores.
enum Work {
    Single(Submission),
    Multi(MultiSubmission),
}

#[derive(Default)]
struct Shared {
    hook: Mutex<Option<Arc<dyn CommitHook>>>,
    commits: AtomicU64,
    writes: AtomicU64,
}

/// Handle to the writer task.
#[derive(Clone)]
pub(super) struct WriterHandle {
    jobs: mpsc::Sender<Job>,
    shared: Arc<Shared>,
    task: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl WriterHandle {
    pub(super) fn start(pool: PgPool) -> Self {
        let (jobs, rx) = mpsc::channel(QUEUE);
        let shared = Arc::new(Shared::default());
        let task = tokio::spawn(run(pool, rx, shared.clone()));
        Self {
            jobs,
            shared,
            task: Arc::new(Mutex::new(Some(task))),
        }
    }

    pub(super) fn set_commit_hook(&self, hook: Arc<dyn CommitHook>) {
        *self.shared.hook.lock().unwrap_or_else(|p| p.into_inner()) = Some(hook);
    }

    pub(super) fn stats(&self) -> CommitStats {
        CommitStats {
            commits: self.shared.commits.load(Ordering::Relaxed),
            writes: self.shared.writes.load(Ordering::Relaxed),
        }
    }

    pub(super) async fn store(&self, send: Submission) -> Result<SendOutcome, StoreError> {
        self.submit(Work::Single(send)).await
    }

    pub(super) async fn store_multi(
        &self,
        send: MultiSubmission,
    ) -> Result<SendOutcome, StoreError> {
        self.submit(Work::Multi(send)).await
    }

    async fn submit(&self, send: Work) -> Result<SendOutcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { send, reply })
            .await
            .map_err(|_| StoreError::Database("mailbox writer stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Database("mailbox writer stopped".into()))?
    }

    /// Stops taking sends and waits for the ones already queued.
    pub(super) async fn close(&self) {
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(task) = task {
            // Closing the channel (every sender clone dropped) is not in our hands: abort
            // after the queue drained instead.
            let jobs = self.jobs.clone();
            while jobs.capacity() < QUEUE {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            task.abort();
        }
    }
}

async fn run(pool: PgPool, mut rx: mpsc::Receiver<Job>, shared: Arc<Shared>) {
    while let Some(first) = rx.recv().await {
        let mut bytes = size(&first.send);
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH_SENDS && bytes < MAX_BATCH_BYTES {
            match rx.try_recv() {
                Ok(job) => {
                    bytes += size(&job.send);
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        commit(&pool, jobs, &shared).await;
    }
}

fn size(send: &Work) -> usize {
    match send {
        Work::Single(send) => send.envelopes.iter().map(|e| e.content.len()).sum(),
        Work::Multi(send) => send.content.len(),
    }
}

async fn commit(pool: &PgPool, jobs: Vec<Job>, shared: &Shared) {
    let sends: Vec<&Work> = jobs.iter().map(|j| &j.send).collect();
    match write(pool, &sends).await {
        Ok((outcomes, inserted)) => {
            shared.commits.fetch_add(1, Ordering::Relaxed);
            shared
                .writes
                .fetch_add(jobs.len() as u64, Ordering::Relaxed);
            let hook = shared
                .hook
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            if let Some(hook) = hook
                && !inserted.is_empty()
            {
                hook.committed(inserted);
            }
            for (job, outcome) in jobs.into_iter().zip(outcomes) {
                let _ = job.reply.send(outcome);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, sends = jobs.len(), "mailbox commit failed");
            for job in jobs {
                let _ = job.reply.send(Err(StoreError::Database(e.to_string())));
            }
        }
    }
}

type Written = (
    Vec<Result<SendOutcome, StoreError>>,
    Vec<(DeviceAddress, crate::store::QueuedEnvelope)>,
);

/// Stores the batch in one transaction: every recipient account locked first, in one sorted
/// pass (two batches locking in different orders could deadlock), then the single sends, then
/// the multi-recipient ones. Outcomes come back in the order of `sends`.
async fn write(pool: &PgPool, sends: &[&Work]) -> Result<Written, StoreError> {
    let mut singles = Vec::new();
    let mut multis = Vec::new();
    let mut accounts = BTreeSet::new();
    for send in sends {
        match send {
            Work::Single(s) => {
                accounts.insert(s.recipient.as_str());
                singles.push(s);
            }
            Work::Multi(m) => {
                accounts.extend(m.recipients.iter().map(|r| r.account.as_str()));
                multis.push(m);
            }
        }
    }
    let mut tx = pool.begin().await?;
    if !accounts.is_empty() {
        batch::lock_accounts(&mut tx, &accounts).await?;
    }
    let (single_outcomes, mut inserted) = batch::store_sends(&mut tx, &singles).await?;
    let (multi_outcomes, multi_inserted) = multi::store_multi_sends(&mut tx, &multis).await?;
    tx.commit().await?;
    inserted.extend(multi_inserted);
    let mut single_outcomes = single_outcomes.into_iter();
    let mut multi_outcomes = multi_outcomes.into_iter();
    let missing = || Err(StoreError::Database("a send got no outcome".into()));
    let outcomes = sends
        .iter()
        .map(|send| match send {
            Work::Single(_) => single_outcomes.next().unwrap_or_else(missing),
            Work::Multi(_) => multi_outcomes.next().unwrap_or_else(missing),
        })
        .collect();
    Ok((outcomes, inserted))
}
