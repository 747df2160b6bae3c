//! Group commit: the writes that arrive together share one transaction.
//!
//! A commit waits for its fsync, and every transaction that appends to the ledger
//! holds the ledger's head row from the moment its events are numbered until it
//! commits (that is what keeps sequence numbers gap-free and visible in order; see
//! `store::tx`). Rather than making each request pay for a commit of its own, one
//! writer thread per process takes every write that is waiting, runs each in its own
//! savepoint of one transaction, numbers and inserts all their events at once, commits
//! once, brings the decision index up to date, and only then answers them all: each
//! answer still comes after its write is durable, and a write that fails rolls back
//! alone. With nothing else waiting, a write is a transaction of its own, as before.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::error::Error;
use crate::index::Index;
use crate::store::{self, Pool, Tx};

/// The most writes one transaction takes: enough to amortise a commit, few enough
/// that the first of them does not wait long for the last.
const MOST_PER_COMMIT: usize = 64;

/// A write handed to the writer: its answer to come, and whether it has begun.
type Submitted<T> = (oneshot::Receiver<Result<T, Error>>, Arc<AtomicBool>);

/// How many times the database timeout a caller waits for a write that has begun.
const BEGUN_WAITS: u32 = 12;

/// A write waiting for the writer thread.
trait Job: Send {
    /// Runs the write in its own savepoint of the shared transaction (or in the
    /// transaction itself when it is `alone`: its failure then rolls back only it).
    fn run(&mut self, tx: &mut Tx, alone: bool);
    fn failed(&self) -> bool;
    /// Whether it failed for a reason of the server's (the database, the disk), not
    /// the request's: what tells whether this process can write at all.
    fn fault(&self) -> bool;
    /// Answers: the write's own outcome once committed, or why nothing was.
    fn finish(self: Box<Self>, uncommitted: Option<&Uncommitted>);
}

struct Pending<T, F> {
    work: Option<F>,
    outcome: Option<Result<T, Error>>,
    reply: oneshot::Sender<Result<T, Error>>,
    /// When its caller stops waiting and answers 503: a write not begun by then is
    /// not run at all, so a refused write is not applied later behind its back.
    deadline: Instant,
    /// Set when the write begins: a caller whose write has begun waits for it longer
    /// (a large delivery on a slow disk) than one whose write has not.
    started: Arc<AtomicBool>,
}

impl<T, F> Job for Pending<T, F>
where
    T: Send,
    F: FnOnce(&mut Tx) -> Result<T, Error> + Send,
{
    fn run(&mut self, tx: &mut Tx, alone: bool) {
        if let Some(work) = self.work.take() {
            let late = Instant::now() >= self.deadline;
            if !late {
                self.started.store(true, Ordering::SeqCst);
            }
            self.outcome = Some(if late {
                Err(Error::Unavailable("the write waited too long for the database".into()))
            } else if alone {
                work(tx)
            } else {
                tx.savepoint(work)
            });
        }
    }

    fn failed(&self) -> bool {
        matches!(self.outcome, Some(Err(_)))
    }

    fn fault(&self) -> bool {
        matches!(self.outcome, Some(Err(Error::Internal(_) | Error::Unavailable(_))))
    }

    fn finish(self: Box<Self>, uncommitted: Option<&Uncommitted>) {
        let answer = match (self.outcome, uncommitted) {
            // A write that failed by itself says why, committed or not.
            (Some(Err(e)), _) => Err(e),
            (_, Some(Uncommitted { why, internal: true })) => {
                Err(Error::Internal(anyhow::anyhow!("the write was not committed: {why}")))
            }
            (_, Some(Uncommitted { why, .. })) => {
                Err(Error::Unavailable(format!("the write was not committed: {why}")))
            }
            (Some(Ok(out)), None) => Ok(out),
            (None, None) => Err(Error::bug("a write was never run")),
        };
        // The caller may have gone (a dropped request); its write stands.
        let _ = self.reply.send(answer);
    }
}

/// Why a transaction was not committed, and whether that is a fault of the service's
/// own (500) rather than a database that cannot serve now (503): what its writes answer.
struct Uncommitted {
    why: String,
    internal: bool,
}

/// The way in to this process's writer thread.
/// Whether the last write transaction could be made: `/readyz` says so, since a
/// process that answers reads but cannot write (a full disk) is not ready.
#[derive(Default)]
pub struct Health {
    /// Why the last transaction failed for a server reason; `None` after a success.
    fault: Mutex<Option<String>>,
    last: Mutex<Option<Instant>>,
}

impl Health {
    fn record(&self, fault: Option<String>) {
        *self.fault.lock().unwrap_or_else(|e| e.into_inner()) = fault;
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }

    /// Why writes fail now, if the last transaction failed.
    pub fn fault(&self) -> Option<String> {
        self.fault.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether a transaction was attempted within `within`.
    pub fn tried_within(&self, within: Duration) -> bool {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).is_some_and(|at| at.elapsed() < within)
    }
}

pub struct Writer {
    jobs: mpsc::Sender<Box<dyn Job>>,
    pub health: Arc<Health>,
    /// How long a caller waits for its write (the pool's connection timeout).
    timeout: Duration,
    pub metrics: CommitMetrics,
}

/// How well commits are shared: what bounds write throughput, for operators.
#[derive(Clone)]
pub struct CommitMetrics {
    writes: prometheus::Histogram,
    seconds: prometheus::Histogram,
}

impl CommitMetrics {
    fn new() -> Self {
        let histogram = |name: &str, help: &str, buckets: Vec<f64>| {
            prometheus::Histogram::with_opts(prometheus::HistogramOpts::new(name, help).buckets(buckets))
                .expect("a valid metric")
        };
        Self {
            writes: histogram(
                "prefcenter_writes_per_commit",
                "Writes that shared one transaction",
                vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0],
            ),
            seconds: histogram(
                "prefcenter_commit_seconds",
                "Time from a transaction's start to its commit, its writes included",
                prometheus::exponential_buckets(0.0005, 2.0, 12).expect("valid buckets"),
            ),
        }
    }

    pub fn register(&self, registry: &prometheus::Registry) -> prometheus::Result<()> {
        registry.register(Box::new(self.writes.clone()))?;
        registry.register(Box::new(self.seconds.clone()))
    }
}

impl Writer {
    /// Starts the writer thread; it ends when the `Writer` is dropped.
    pub fn start(pool: Pool, index: Arc<Index>) -> std::io::Result<Self> {
        let timeout = pool.connection_timeout();
        let (jobs, waiting) = mpsc::channel::<Box<dyn Job>>();
        let metrics = CommitMetrics::new();
        let observed = metrics.clone();
        let health = Arc::new(Health::default());
        let recorded = health.clone();
        std::thread::Builder::new().name("prefcenter-writer".into()).spawn(move || {
            while let Ok(first) = waiting.recv() {
                let mut batch = vec![first];
                batch.extend(waiting.try_iter().take(MOST_PER_COMMIT - 1));
                observed.writes.observe(batch.len() as f64);
                let timer = observed.seconds.start_timer();
                commit(&pool, &index, &recorded, batch);
                timer.observe_duration();
            }
        })?;
        Ok(Self { jobs, health, timeout, metrics })
    }

    /// Runs `work` in a write transaction (`store::write`) shared with the other
    /// writes waiting now, and answers once it is committed and this process's
    /// decision index has caught up with it (so the caller's next check sees it).
    pub async fn write<T, F>(&self, work: F) -> Result<T, Error>
    where
        F: FnOnce(&mut Tx) -> Result<T, Error> + Send + 'static,
        T: Send + 'static,
    {
        let (mut answer, started) = self.submit(work)?;
        let dropped = |e| Error::internal("the writer dropped a write", e);
        if let Ok(answer) = actix_web::rt::time::timeout(self.timeout, &mut answer).await {
            return answer.map_err(dropped)?;
        }
        // Not begun within the bound: it never will be (the writer skips it), and the
        // caller may retry. Begun: a large write may take longer, but not forever.
        if !started.load(Ordering::SeqCst) {
            return Err(Error::Unavailable("the database did not answer in time".into()));
        }
        match actix_web::rt::time::timeout(self.timeout * BEGUN_WAITS, answer).await {
            Ok(answer) => answer.map_err(dropped)?,
            // The database froze mid-write: the outcome is unknown; a retry finds a
            // change already made and records nothing new.
            Err(_) => Err(Error::Unavailable("the database did not answer in time".into())),
        }
    }

    /// [`write`](Self::write) for a caller on a blocking thread, never an async worker
    /// (it blocks until the answer).
    pub fn write_blocking<T, F>(&self, work: F) -> Result<T, Error>
    where
        F: FnOnce(&mut Tx) -> Result<T, Error> + Send + 'static,
        T: Send + 'static,
    {
        self.submit(work)?.0.blocking_recv().map_err(|e| Error::internal("the writer dropped a write", e))?
    }

    fn submit<T, F>(&self, work: F) -> Result<Submitted<T>, Error>
    where
        F: FnOnce(&mut Tx) -> Result<T, Error> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let deadline = Instant::now() + self.timeout;
        let started = Arc::new(AtomicBool::new(false));
        self.jobs
            .send(Box::new(Pending {
                work: Some(work),
                outcome: None,
                reply,
                deadline,
                started: started.clone(),
            }))
            .map_err(|_| Error::Unavailable("the writer has stopped".into()))?;
        Ok((answer, started))
    }
}

/// Runs and commits `batch`, records in `health` whether a fault of the server's made
/// it fail, and answers each write. Health is recorded first: a caller that has its
/// answer and then asks `/readyz` must see this transaction's outcome, not the last.
fn commit(pool: &Pool, index: &Index, health: &Health, mut batch: Vec<Box<dyn Job>>) {
    let mut db = match pool.get() {
        Ok(db) => db,
        Err(e) => {
            let failure = Uncommitted { why: format!("no database connection: {e}"), internal: false };
            health.record(Some(failure.why.clone()));
            batch.into_iter().for_each(|job| job.finish(Some(&failure)));
            return;
        }
    };
    // A write that panics must not take the writer (and every later write) with it.
    let committed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        store::write(&mut db, |tx| {
            let alone = batch.len() == 1;
            batch.iter_mut().for_each(|job| job.run(tx, alone));
            match batch.as_slice() {
                // A lone write that failed rolls its transaction back, as it would alone.
                [job] if job.failed() => Err(Error::Unavailable("rolled back".into())),
                // Read what the index needs before the commit, not after: once COMMIT
                // has answered, nothing more need reach the database for this
                // process's next check to see these writes.
                _ => {
                    tx.flush()?;
                    index.prepare(tx)
                }
            }
        })
    }));
    drop(db);
    let lone_failure = matches!(batch.as_slice(), [job] if job.failed());
    let uncommitted = match committed {
        Ok(Ok(prepared)) => {
            index.apply_committed(prepared, pool);
            None
        }
        Ok(Err(e)) => Some(Uncommitted { why: e.to_string(), internal: matches!(e, Error::Internal(_)) }),
        Err(_) => {
            tracing::error!("a write panicked; its transaction was abandoned");
            Some(Uncommitted { why: "a write failed unexpectedly".to_owned(), internal: true })
        }
    };
    let fault = match &uncommitted {
        // A lone write refused for its own reasons (a conflict, a bad value) says
        // nothing about whether this process can write.
        Some(_) if lone_failure && !batch.iter().any(|job| job.fault()) => None,
        Some(failure) => Some(failure.why.clone()),
        None => batch.iter().any(|job| job.fault()).then(|| "a write failed in the database".to_owned()),
    };
    health.record(fault);
    batch.into_iter().for_each(|job| job.finish(uncommitted.as_ref()));
}
