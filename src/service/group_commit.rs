//! Group commit: the writes that arrive together share one transaction.
//!
//! A commit waits for its fsync, and so does the numbering of a transaction's events
//! in the ledger (in the transaction on SQLite, right after it on PostgreSQL; see
//! `store::tx`). Rather than making each request pay for those of its own, one writer
//! thread per process takes every write that is waiting, runs each in its own
//! savepoint of one transaction, inserts all their events at once and commits once; a
//! numbering thread beside it then numbers the events of every transaction committed
//! meanwhile at once, brings the decision index up to date, and only then answers
//! their writes. Each answer still comes after its write is durable and numbered, and
//! a write that fails rolls back alone. With nothing else waiting, a write is a
//! transaction of its own, as before.

use std::any::{Any, TypeId};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::error::Error;
use crate::index::Index;
use crate::store::{self, EventRow, Pool, Tx};

/// The most writes one transaction takes: enough to amortise a commit, few enough
/// that the first of them does not wait long for the last.
const MOST_PER_COMMIT: usize = 64;

/// A write handed to the writer: its answer to come, and whether it has begun.
type Submitted<T> = (oneshot::Receiver<Result<T, Error>>, Arc<AtomicBool>);

/// How many times the database timeout a caller waits for a write that has begun.
const BEGUN_WAITS: u32 = 12;

/// A kind of write the writer applies many at a time: the requests of one kind that
/// wait together are handed over at once, so that what they read and write takes a few
/// multi-row statements for all of them rather than several statements each.
pub trait Bulk: Send + Sync + 'static {
    type Item: Send + 'static;
    type Out: Send + 'static;

    /// Applies `items` together and says what became of each. An item refused for its
    /// own reasons (a link whose contact is gone, a conflict) must have changed nothing,
    /// and the others still apply. `Err` means a statement failed for them all: the
    /// writer rolls that back and applies each item alone, so one cannot fail another.
    fn apply(&self, tx: &mut Tx, items: &[Self::Item]) -> Result<Vec<Result<Self::Out, Error>>, Error>;
}

/// A write waiting for the writer thread.
trait Job: Send {
    /// Runs the write in its own savepoint of the shared transaction (or in the
    /// transaction itself when it is `alone`: its failure then rolls back only it).
    fn run(&mut self, tx: &mut Tx, alone: bool);
    /// The [`Bulk`] kind it is of, if any: the writer runs those together.
    fn kind(&self) -> Option<TypeId>;
    /// Runs this write together with `others`, the waiting writes of its kind.
    fn run_with(&mut self, tx: &mut Tx, others: &mut [&mut Box<dyn Job>]);
    fn as_any(&mut self) -> &mut dyn Any;
    fn failed(&self) -> bool;
    /// Whether it failed for a reason of the server's (the database, the disk), not
    /// the request's: what tells whether this process can write at all.
    fn fault(&self) -> bool;
    /// Answers: the write's own outcome once committed, or why nothing was.
    fn finish(self: Box<Self>, uncommitted: Option<&Uncommitted>);
}

/// What a write does: a closure of its own, or an item of a [`Bulk`] kind.
trait Work<T>: Send + Sized + 'static {
    fn kind(&self) -> Option<TypeId>;
    fn run(self, tx: &mut Tx, alone: bool) -> Result<T, Error>;
    /// Runs `first` and `others`, which are of its kind, together.
    fn run_group(first: &mut Pending<T, Self>, others: &mut [&mut Box<dyn Job>], tx: &mut Tx);
}

struct Closure<F>(F);

impl<T: Send + 'static, F> Work<T> for Closure<F>
where
    F: FnOnce(&mut Tx) -> Result<T, Error> + Send + 'static,
{
    fn kind(&self) -> Option<TypeId> {
        None
    }

    fn run(self, tx: &mut Tx, alone: bool) -> Result<T, Error> {
        if alone {
            (self.0)(tx)
        } else {
            tx.savepoint(self.0)
        }
    }

    /// Closures have no kind: never grouped, each runs as it comes.
    fn run_group(first: &mut Pending<T, Self>, _: &mut [&mut Box<dyn Job>], tx: &mut Tx) {
        first.run_alone(tx, false);
    }
}

struct Item<B: Bulk> {
    kind: Arc<B>,
    item: B::Item,
}

impl<B: Bulk> Work<B::Out> for Item<B> {
    fn kind(&self) -> Option<TypeId> {
        Some(TypeId::of::<B>())
    }

    fn run(self, tx: &mut Tx, _alone: bool) -> Result<B::Out, Error> {
        apply_bulk(&*self.kind, tx, vec![self.item]).pop().unwrap_or_else(|| Err(Error::bug("no outcome")))
    }

    fn run_group(first: &mut Pending<B::Out, Self>, others: &mut [&mut Box<dyn Job>], tx: &mut Tx) {
        let mut members: Vec<&mut Pending<B::Out, Self>> = vec![first];
        members
            .extend(others.iter_mut().filter_map(|job| job.as_any().downcast_mut::<Pending<B::Out, Self>>()));
        let mut kind = None;
        let mut items = Vec::with_capacity(members.len());
        let mut begun = Vec::with_capacity(members.len());
        for member in members {
            if let Some(work) = member.begin() {
                kind.get_or_insert_with(|| work.kind.clone());
                items.push(work.item);
                begun.push(member);
            }
        }
        let Some(kind) = kind else { return };
        for (member, outcome) in begun.into_iter().zip(apply_bulk(&*kind, tx, items)) {
            member.outcome = Some(outcome);
        }
    }
}

/// Applies `items` of one kind in a savepoint; should that fail as a whole, each alone
/// in a savepoint of its own.
fn apply_bulk<B: Bulk>(kind: &B, tx: &mut Tx, items: Vec<B::Item>) -> Vec<Result<B::Out, Error>> {
    let count = items.len();
    match tx.savepoint(|tx| kind.apply(tx, &items)) {
        Ok(outcomes) if outcomes.len() == count => outcomes,
        Ok(_) => (0..count).map(|_| Err(Error::bug("a bulk write lost an outcome"))).collect(),
        Err(e) if count == 1 => vec![Err(e)],
        Err(_) => items
            .chunks(1)
            .map(|one| {
                let alone = tx.savepoint(|tx| kind.apply(tx, one));
                alone.and_then(|mut outcomes| outcomes.pop().unwrap_or_else(|| Err(Error::bug("no outcome"))))
            })
            .collect(),
    }
}

struct Pending<T, W> {
    work: Option<W>,
    outcome: Option<Result<T, Error>>,
    reply: oneshot::Sender<Result<T, Error>>,
    /// When its caller stops waiting and answers 503: a write not begun by then is
    /// not run at all, so a refused write is not applied later behind its back.
    deadline: Instant,
    /// Set when the write begins: a caller whose write has begun waits for it longer
    /// (a large delivery on a slow disk) than one whose write has not.
    started: Arc<AtomicBool>,
}

impl<T, W> Pending<T, W> {
    /// Its work, unless its caller has stopped waiting: then it is answered 503 and
    /// never run.
    fn begin(&mut self) -> Option<W> {
        let work = self.work.take()?;
        if Instant::now() >= self.deadline {
            self.outcome = Some(Err(Error::Unavailable("the write waited too long for the database".into())));
            return None;
        }
        self.started.store(true, Ordering::SeqCst);
        Some(work)
    }
}

impl<T: Send + 'static, W: Work<T>> Pending<T, W> {
    fn run_alone(&mut self, tx: &mut Tx, alone: bool) {
        if let Some(work) = self.begin() {
            self.outcome = Some(work.run(tx, alone));
        }
    }
}

impl<T: Send + 'static, W: Work<T>> Job for Pending<T, W> {
    fn run(&mut self, tx: &mut Tx, alone: bool) {
        self.run_alone(tx, alone);
    }

    fn kind(&self) -> Option<TypeId> {
        self.work.as_ref().and_then(Work::kind)
    }

    fn run_with(&mut self, tx: &mut Tx, others: &mut [&mut Box<dyn Job>]) {
        W::run_group(self, others, tx);
    }

    fn as_any(&mut self) -> &mut dyn Any {
        self
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

/// How long this process's write transactions took, from [`CommitMetrics`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct CommitLatency {
    /// Transactions committed (or tried) since the process started.
    pub commits: u64,
    /// The mean number of writes that shared one.
    pub writes_per_commit: Option<f64>,
    pub mean_seconds: Option<f64>,
    /// The bucket bound below which half of them finished; `null` before the first
    /// commit, or when that is beyond the largest bucket (about a second).
    pub p50_seconds_at_most: Option<f64>,
    pub p95_seconds_at_most: Option<f64>,
    pub p99_seconds_at_most: Option<f64>,
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

    /// What the commits of this process took so far: their number, mean, and the
    /// upper bounds of the buckets that hold the median and the 95th and 99th
    /// percentiles (a histogram's resolution: at most a factor of two too high).
    pub fn latency(&self) -> CommitLatency {
        use prometheus::core::Metric;
        let commits = self.seconds.get_sample_count();
        let sum = self.seconds.get_sample_sum();
        let metric = self.seconds.metric();
        let buckets: Vec<(f64, u64)> = metric
            .get_histogram()
            .get_bucket()
            .iter()
            .map(|b| (b.upper_bound(), b.cumulative_count()))
            .collect();
        let quantile = |q: f64| -> Option<f64> {
            let rank = (q * commits as f64).ceil().max(1.0) as u64;
            buckets.iter().find(|(_, n)| *n >= rank).map(|b| b.0)
        };
        let writes = self.writes.get_sample_count();
        CommitLatency {
            commits,
            writes_per_commit: (commits > 0).then(|| self.writes.get_sample_sum() / writes.max(1) as f64),
            mean_seconds: (commits > 0).then(|| sum / commits as f64),
            p50_seconds_at_most: quantile(0.5),
            p95_seconds_at_most: quantile(0.95),
            p99_seconds_at_most: quantile(0.99),
        }
    }

    pub fn register(&self, registry: &prometheus::Registry) -> prometheus::Result<()> {
        registry.register(Box::new(self.writes.clone()))?;
        registry.register(Box::new(self.seconds.clone()))
    }
}

impl Writer {
    /// Starts the writer thread and its numbering thread; they end when the `Writer`
    /// is dropped.
    pub fn start(pool: Pool, index: Arc<Index>) -> std::io::Result<Self> {
        let timeout = pool.connection_timeout();
        let (jobs, waiting) = mpsc::channel::<Box<dyn Job>>();
        let (to_record, committed) = mpsc::channel::<Committed>();
        let metrics = CommitMetrics::new();
        let observed = metrics.clone();
        let health = Arc::new(Health::default());
        let recorded = health.clone();
        let writer_pool = pool.clone();
        let writer_index = index.clone();
        std::thread::Builder::new().name("prefcenter-writer".into()).spawn(move || {
            while let Ok(first) = waiting.recv() {
                let mut batch = vec![first];
                batch.extend(waiting.try_iter().take(MOST_PER_COMMIT - 1));
                observed.writes.observe(batch.len() as f64);
                let timer = observed.seconds.start_timer();
                let done = commit(&writer_pool, &recorded, batch);
                timer.observe_duration();
                if let Some(done) = done {
                    if let Err(mpsc::SendError(done)) = to_record.send(done) {
                        // The numbering thread is gone: committed, these are answered
                        // as such, and the ledger tailer numbers their events.
                        let last = done.own.last().map(|e| e.seq);
                        writer_index.owe(&Error::bug("the numbering thread has stopped"), last);
                        done.finish(None);
                    }
                }
            }
        })?;
        std::thread::Builder::new()
            .name("prefcenter-numberer".into())
            .spawn(move || record(&pool, &index, committed))?;
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
        self.wait(self.submit(Closure(work))?).await
    }

    /// [`write`](Self::write) of an item of a [`Bulk`] kind, applied together with the
    /// others of its kind that are waiting.
    pub async fn write_bulk<B: Bulk>(&self, kind: &Arc<B>, item: B::Item) -> Result<B::Out, Error> {
        self.wait(self.submit(Item { kind: kind.clone(), item })?).await
    }

    /// [`write`](Self::write) for a caller on a blocking thread, never an async worker
    /// (it blocks until the answer).
    pub fn write_blocking<T, F>(&self, work: F) -> Result<T, Error>
    where
        F: FnOnce(&mut Tx) -> Result<T, Error> + Send + 'static,
        T: Send + 'static,
    {
        self.submit(Closure(work))?
            .0
            .blocking_recv()
            .map_err(|e| Error::internal("the writer dropped a write", e))?
    }

    async fn wait<T>(&self, (mut answer, started): Submitted<T>) -> Result<T, Error> {
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

    fn submit<T: Send + 'static, W: Work<T>>(&self, work: W) -> Result<Submitted<T>, Error> {
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

/// A committed transaction's writes, waiting for their events to be brought into the
/// ledger and the decision index before they are answered.
struct Committed {
    batch: Vec<Box<dyn Job>>,
    /// Its events: numbered on SQLite, provisionally on PostgreSQL.
    own: Vec<EventRow>,
}

impl Committed {
    fn finish(self, uncommitted: Option<&Uncommitted>) {
        self.batch.into_iter().for_each(|job| job.finish(uncommitted));
    }
}

/// Runs and commits `batch` and records in `health` whether a fault of the server's
/// made it fail. Health is recorded first: a caller that has its answer and then asks
/// `/readyz` must see this transaction's outcome, not the last. Answers each write at
/// once when the transaction failed; returns them when it committed.
fn commit(pool: &Pool, health: &Health, mut batch: Vec<Box<dyn Job>>) -> Option<Committed> {
    let mut db = match pool.get() {
        Ok(db) => db,
        Err(e) => {
            let failure = Uncommitted { why: format!("no database connection: {e}"), internal: false };
            health.record(Some(failure.why.clone()));
            batch.into_iter().for_each(|job| job.finish(Some(&failure)));
            return None;
        }
    };
    // A write that panics must not take the writer (and every later write) with it.
    let committed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        store::write_unrecorded(&mut db, |tx| {
            run(tx, &mut batch);
            match batch.as_slice() {
                // A lone write that failed rolls its transaction back, as it would alone.
                [job] if job.failed() => Err(Error::Unavailable("rolled back".into())),
                _ => Ok(()),
            }
        })
    }));
    drop(db);
    let lone_failure = matches!(batch.as_slice(), [job] if job.failed());
    let (uncommitted, own) = match committed {
        Ok(Ok(((), own))) => (None, own),
        Ok(Err(e)) => {
            (Some(Uncommitted { why: e.to_string(), internal: matches!(e, Error::Internal(_)) }), Vec::new())
        }
        Err(_) => {
            tracing::error!("a write panicked; its transaction was abandoned");
            (Some(Uncommitted { why: "a write failed unexpectedly".to_owned(), internal: true }), Vec::new())
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
    match uncommitted {
        Some(failure) => {
            batch.into_iter().for_each(|job| job.finish(Some(&failure)));
            None
        }
        None => Some(Committed { batch, own }),
    }
}

/// The numbering thread: takes every committed transaction waiting, brings their
/// events into the ledger at once (`store::record`: one numbering on PostgreSQL,
/// however many transactions), applies them to the decision index, and only then
/// answers their writes. It runs beside the writer thread, so that a transaction's
/// numbering and the next transaction's statements overlap.
fn record(pool: &Pool, index: &Index, committed: mpsc::Receiver<Committed>) {
    while let Ok(first) = committed.recv() {
        let mut done = vec![first];
        done.extend(committed.try_iter());
        let own: Vec<EventRow> = done.iter_mut().flat_map(|c| std::mem::take(&mut c.own)).collect();
        let last = own.last().map(|e| e.seq);
        // Whatever happens here, the writes are committed and are answered so; a
        // panic must not end the thread (and leave every later write unnumbered).
        let recorded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match pool.get() {
            Ok(mut db) => {
                let recorded = store::record(&mut db, own);
                index.apply_committed(recorded, &mut db);
            }
            Err(_) if last.is_none() => {}
            Err(e) => index.owe(&Error::Unavailable(format!("no database connection: {e}")), last),
        }));
        if recorded.is_err() && last.is_some() {
            index.owe(&Error::bug("the numbering panicked"), last);
        }
        done.into_iter().for_each(|c| c.finish(None));
    }
}

/// Runs each write of `batch` in order, except that the writes of a [`Bulk`] kind run
/// together where the first of them comes.
fn run(tx: &mut Tx, batch: &mut [Box<dyn Job>]) {
    let alone = batch.len() == 1;
    let mut done = vec![false; batch.len()];
    for i in 0..batch.len() {
        if done[i] {
            continue;
        }
        let Some(kind) = batch[i].kind() else {
            batch[i].run(tx, alone);
            continue;
        };
        let mut group: Vec<&mut Box<dyn Job>> = Vec::new();
        for (j, job) in batch.iter_mut().enumerate().skip(i) {
            if !done[j] && job.kind() == Some(kind) {
                done[j] = true;
                group.push(job);
            }
        }
        if let Some((first, others)) = group.split_first_mut() {
            first.run_with(tx, others);
        }
    }
}
