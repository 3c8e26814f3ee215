//! Group commit: one task owns the store's writes; writes from many calls are grouped into one
//! transaction so throughput stays high on SQLite with `synchronous=FULL`, where every commit
//! costs an `fsync`.
//!
//! There is no timer: while one transaction commits, new writes queue up, and the next
//! transaction takes everything queued (up to [`MAX_BATCH`], or [`MAX_BATCH_POSTGRES`]). An
//! idle server therefore commits each write at once, a busy one shares each `fsync` among
//! many writes.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{Backend, Store, StoreError, Write};

/// Most writes in one transaction, so one transaction never holds the write lock for long.
const MAX_BATCH: usize = 512;
/// On PostgreSQL a batch's call records take a few statements whatever its size (see
/// `bulk`) and lock only their own rows: larger batches share each commit among more calls.
const MAX_BATCH_POSTGRES: usize = 2048;
/// First wait after a failed commit.
const MIN_BACKOFF: Duration = Duration::from_millis(10);
/// Longest wait between retries: a recovered database is used again within this time.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

// Nearly every message is a write and flushes are rare, so boxing the write to shrink the
// flush would only add an allocation per write.
#[allow(clippy::large_enum_variant)]
enum Msg {
    /// A write, with who to tell once it is committed.
    Write(Write, Option<oneshot::Sender<()>>),
    /// Tell the sender once everything queued before this is committed.
    Flush(oneshot::Sender<()>),
}

/// Counters of the writer's work so far, for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Transactions committed.
    pub batches: u64,
    /// Writes committed.
    pub writes: u64,
    /// Failed commit attempts that were retried.
    pub retries: u64,
    /// Writes the database refused for good (constraint violations); each one was logged.
    pub rejected: u64,
}

#[derive(Default)]
struct Counters {
    batches: AtomicU64,
    writes: AtomicU64,
    retries: AtomicU64,
    rejected: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> WriterStats {
        WriterStats {
            batches: self.batches.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
        }
    }
}

/// Handle for queueing writes; clone it freely. The queue is unbounded so queueing never
/// blocks or fails on the SIP path; when every handle is dropped the task commits what is left
/// and ends.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::UnboundedSender<Msg>,
    counters: Arc<Counters>,
}

/// The running writer task. Await it at shutdown (after dropping every [`Writer`]) to be sure
/// every queued write is committed; it yields the final [`WriterStats`].
pub struct WriterTask {
    handle: JoinHandle<WriterStats>,
}

impl Future for WriterTask {
    type Output = Result<WriterStats, StoreError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.handle)
            .poll(cx)
            .map(|r| r.map_err(StoreError::from))
    }
}

impl Writer {
    /// Starts the writer task on the current Tokio runtime.
    pub fn spawn(store: Store) -> (Writer, WriterTask) {
        let (tx, rx) = mpsc::unbounded_channel();
        let counters = Arc::new(Counters::default());
        let handle = tokio::spawn(run(store, rx, counters.clone()));
        (Writer { tx, counters }, WriterTask { handle })
    }

    /// Queues `w`; the receiver resolves once it is committed. It resolves to an error only if
    /// the database refused the write for good (logged) or the writer task died.
    pub fn submit(&self, w: Write) -> oneshot::Receiver<()> {
        let (done, rx) = oneshot::channel();
        self.queue(Msg::Write(w, Some(done)));
        rx
    }

    /// Queues `w` without waiting: it is still committed (or retried until it is).
    pub fn send(&self, w: Write) {
        self.queue(Msg::Write(w, None));
    }

    /// Resolves once everything queued before this call has been committed (or refused for good
    /// and logged).
    pub async fn flush(&self) {
        let (done, rx) = oneshot::channel();
        self.queue(Msg::Flush(done));
        // An error means the task died; there is nothing left to wait for.
        let _ = rx.await;
    }

    /// Counters of the work done so far.
    pub fn stats(&self) -> WriterStats {
        self.counters.snapshot()
    }

    fn queue(&self, msg: Msg) {
        // The task only ends when every handle is gone or it panicked; only the latter gets here.
        if let Err(mpsc::error::SendError(Msg::Write(w, _))) = self.tx.send(msg) {
            tracing::error!(call = %w.call_id(), write = w.kind(), "store writer task is gone; write lost");
        }
    }
}

/// The writer loop: take all that is queued, commit it as one transaction, tell the waiters.
async fn run(
    store: Store,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    counters: Arc<Counters>,
) -> WriterStats {
    let max_batch = match store.backend() {
        Backend::Sqlite => MAX_BATCH,
        Backend::Postgres => MAX_BATCH_POSTGRES,
    };
    let mut writes: Vec<Write> = Vec::with_capacity(max_batch);
    // Who to tell after the batch: the index of their write (None for a flush).
    let mut waiters: Vec<(Option<usize>, oneshot::Sender<()>)> = Vec::new();

    // `recv` returns None only once every Writer is dropped and the queue is empty.
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Write(w, done) => {
                    if let Some(done) = done {
                        waiters.push((Some(writes.len()), done));
                    }
                    writes.push(w);
                }
                Msg::Flush(done) => waiters.push((None, done)),
            }
            if writes.len() < max_batch {
                next = rx.try_recv().ok();
            }
        }

        let refused = commit(&store, &writes, &counters).await;
        for (index, done) in waiters.drain(..) {
            let refused = index.is_some_and(|i| refused.contains(&i));
            if !refused {
                // The waiter may have stopped caring; that is fine.
                let _ = done.send(());
            }
            // Dropping `done` for a refused write tells the submitter it failed.
        }
        writes.clear();
    }
    tracing::debug!("store writer finished");
    counters.snapshot()
}

/// Commits `writes` as one transaction, retrying transient failures forever. If the database
/// refuses the batch for good, commits the writes one by one so a single bad write cannot
/// block the others; returns the indexes of the writes refused (each logged).
async fn commit(store: &Store, writes: &[Write], counters: &Counters) -> Vec<usize> {
    if writes.is_empty() {
        return Vec::new();
    }
    let err = match commit_with_retry(store, writes, counters).await {
        Ok(()) => return Vec::new(),
        Err(e) => e,
    };
    if let [w] = writes {
        refuse(w, &err, counters);
        return vec![0];
    }
    tracing::error!(error = %err, writes = writes.len(), "store batch refused; committing its writes one by one");
    let mut refused = Vec::new();
    for (i, w) in writes.iter().enumerate() {
        if let Err(e) = commit_with_retry(store, std::slice::from_ref(w), counters).await {
            refuse(w, &e, counters);
            refused.push(i);
        }
    }
    refused
}

/// Records a write the database will never take: loudly, since the data is lost.
fn refuse(w: &Write, e: &StoreError, counters: &Counters) {
    tracing::error!(error = %e, call = %w.call_id(), write = w.kind(), "store refused write; it is dropped");
    counters.rejected.fetch_add(1, Ordering::Relaxed);
    metrics::counter!(crate::metrics::STORE_ERRORS, "kind" => "refused").increment(1);
}

/// Applies `writes` in one transaction, sleeping and retrying (10 ms doubling to 2 s) on errors
/// that may pass (I/O, locks, lost connection). Returns only on success or a permanent error.
async fn commit_with_retry(
    store: &Store,
    writes: &[Write],
    counters: &Counters,
) -> Result<(), StoreError> {
    let mut backoff = MIN_BACKOFF;
    loop {
        let started = std::time::Instant::now();
        match store.apply(writes).await {
            Ok(()) => {
                crate::metrics::store_commit(writes.len(), started.elapsed());
                counters.batches.fetch_add(1, Ordering::Relaxed);
                counters
                    .writes
                    .fetch_add(writes.len() as u64, Ordering::Relaxed);
                return Ok(());
            }
            Err(e) if e.is_permanent() => return Err(e),
            Err(e) => {
                tracing::error!(error = %e, writes = writes.len(), retry_in_ms = backoff.as_millis() as u64, "store commit failed; retrying");
                counters.retries.fetch_add(1, Ordering::Relaxed);
                metrics::counter!(crate::metrics::STORE_ERRORS, "kind" => "retried").increment(1);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}
