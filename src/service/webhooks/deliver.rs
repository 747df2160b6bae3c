//! The deliverer: a thread that delivers the ledger to every enabled webhook — for
//! each, one event at a time in sequence order — with one process at a time holding a
//! webhook, through a lease on its row.
//!
//! A webhook's round: take or renew the lease; read the events after its cursor (with
//! `store::events::after`, as the feed reads them); pass over those its type filter
//! leaves out; POST the next one, signed; and move the cursor past it only once the
//! receiver answered 2xx, in the same transaction that logs the attempt. So an event
//! is never skipped — across failures, restarts and crashes — and may arrive more
//! than once, always with the same `webhook-id`. A failure waits out a back-off and
//! tries the same event again; after `disable_after` of failures (or a 410 Gone) the
//! webhook is disabled. Every change to a webhook's delivery state names the lease
//! holder and the cursor it expects, so a process that lost the lease, or whose
//! webhook was replayed meanwhile, changes nothing. A process that dies stops renewing
//! its leases; once one expires, another process resumes from the durable cursor.
//!
//! The thread also refreshes the lag gauges (`service::lag`) and prunes the delivery
//! log. It ends soon after the server's context is gone, handing its leases back.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::Connection;
use rand::Rng;
use serde::Serialize;

use super::client::{self, Attempt, Signed};
use super::parse_types;
use crate::config::WebhookSettings;
use crate::domain::webhook::{self, Secret};
use crate::domain::{EventType, WebhookStatus};
use crate::error::Error;
use crate::service::changes::{self, Change};
use crate::service::Context;
use crate::store::webhooks::{Failure, NewDelivery};
use crate::store::{self, Db, Pool};

/// Events read for a webhook at a time.
const BATCH: i64 = 100;
/// Attempts kept per webhook, whatever their age.
const LOG_KEPT: i64 = 10_000;
/// How often the delivery log is pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// `/metrics`: deliveries by outcome, and webhooks disabled by this process.
pub struct WebhookMetrics {
    deliveries: prometheus::IntCounterVec,
    disabled: prometheus::IntCounter,
}

impl WebhookMetrics {
    pub fn new() -> Self {
        let opts = prometheus::Opts::new(
            "prefcenter_webhook_deliveries_total",
            "Webhook delivery attempts made by this process, by outcome (delivered or failed)",
        );
        let disabled = prometheus::Opts::new(
            "prefcenter_webhooks_disabled_total",
            "Webhooks this process disabled because their deliveries failed for too long",
        );
        Self {
            deliveries: prometheus::IntCounterVec::new(opts, &["outcome"]).expect("a valid metric"),
            disabled: prometheus::IntCounter::with_opts(disabled).expect("a valid metric"),
        }
    }

    pub fn register(&self, registry: &prometheus::Registry) -> prometheus::Result<()> {
        registry.register(Box::new(self.deliveries.clone()))?;
        registry.register(Box::new(self.disabled.clone()))
    }
}

impl Default for WebhookMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// What a receiver is sent: Standard Webhooks' payload, the event as the feed shows it.
#[derive(Serialize)]
struct Payload<'a> {
    #[serde(rename = "type")]
    kind: EventType,
    timestamp: DateTime<Utc>,
    data: &'a Change,
}

/// Starts the deliverer's thread (which also keeps the lag gauges current). It holds
/// only a weak reference to the context, and ends soon after the context is gone.
pub fn spawn_deliverer(cx: Weak<Context>) -> std::io::Result<std::thread::JoinHandle<()>> {
    let Some(strong) = cx.upgrade() else { return std::thread::Builder::new().spawn(|| ()) };
    let settings = Arc::new(strong.config.webhooks.clone());
    let pool = strong.pool.clone();
    drop(strong);
    // Database work runs on the runtime's blocking threads, a few at a time.
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().max_blocking_threads(4).build()?;
    std::thread::Builder::new()
        .name("webhooks".into())
        .spawn(move || runtime.block_on(supervise(cx, pool, settings)))
}

/// Sleeps for `pause`, or less if the context goes meanwhile (the server stopped).
async fn pause(cx: &Weak<Context>, pause: Duration) {
    let until = tokio::time::Instant::now() + pause;
    while cx.strong_count() > 0 {
        let now = tokio::time::Instant::now();
        if now >= until {
            return;
        }
        tokio::time::sleep((until - now).min(Duration::from_millis(100))).await;
    }
}

/// Runs `work` on a pooled connection, on a blocking thread.
async fn blocking<T, F>(pool: &Pool, work: F) -> Result<T, Error>
where
    F: FnOnce(&mut Db) -> Result<T, Error> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    tokio::task::spawn_blocking(move || {
        let mut db = pool.get().map_err(|e| Error::Unavailable(format!("database pool: {e}")))?;
        work(&mut db)
    })
    .await
    .map_err(|e| Error::internal("a blocking task failed", e))?
}

/// Logs a recurring failure once a minute at most, so a database that is away for an
/// hour writes sixty lines, not one per poll.
#[derive(Default)]
struct Quiet(Option<Instant>);

impl Quiet {
    fn warn(&mut self, what: &str, error: &Error) {
        if self.0.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
            self.0 = Some(Instant::now());
            tracing::warn!(error = %error, "{what}");
        }
    }
}

async fn supervise(cx: Weak<Context>, pool: Pool, settings: Arc<WebhookSettings>) {
    // Unique to this process's run: a restarted process does not inherit its
    // predecessor's leases, it waits for them to expire like any other.
    let holder: Arc<str> = format!("{}:{}", std::process::id(), uuid::Uuid::new_v4().simple()).into();
    let client = match client::build(&settings) {
        Ok(client) => Some(client),
        Err(e) => {
            tracing::error!(error = %e, "no HTTP client for webhooks: none will be delivered");
            None
        }
    };
    let mut running: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
    let mut last_prune: Option<Instant> = None;
    let (mut listing, mut lagging, mut pruning) = (Quiet::default(), Quiet::default(), Quiet::default());
    loop {
        let Some(strong) = cx.upgrade() else { break };
        if let Some(client) = client.as_ref().filter(|_| settings.deliver) {
            running.retain(|_, task| !task.is_finished());
            match blocking(&pool, |db| Ok(store::webhooks::enabled_ids(db)?)).await {
                Ok(ids) => {
                    for id in ids {
                        if let std::collections::hash_map::Entry::Vacant(entry) = running.entry(id) {
                            let driver = Driver {
                                cx: cx.clone(),
                                pool: pool.clone(),
                                id: entry.key().clone(),
                                holder: holder.clone(),
                                client: client.clone(),
                                settings: settings.clone(),
                            };
                            entry.insert(tokio::spawn(driver.run()));
                        }
                    }
                }
                Err(e) => listing.warn("could not list the webhooks", &e),
            }
            if last_prune.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                last_prune = Some(Instant::now());
                let before = store::now() - TimeDelta::days(settings.log_days as i64);
                match blocking(&pool, move |db| Ok(store::webhooks::prune_deliveries(db, before, LOG_KEPT)?))
                    .await
                {
                    Ok(0) => {}
                    Ok(removed) => tracing::info!(removed, "pruned the webhook delivery log"),
                    Err(e) => pruning.warn("could not prune the webhook delivery log", &e),
                }
            }
        }
        let lag = strong.clone();
        if let Err(e) = blocking(&pool, move |db| crate::service::lag::refresh(&lag, db)).await {
            lagging.warn("could not measure the feed's consumers and webhooks", &e);
        }
        drop(strong);
        pause(&cx, settings.poll).await;
    }
    // Each driver notices the context is gone within a poll and hands its lease back.
    for (_, task) in running {
        let _ = task.await;
    }
}

/// What a webhook's driver does next.
enum Next {
    /// Go on at once: more may be waiting.
    Now,
    Sleep(Duration),
    /// The webhook was deleted or disabled.
    Stop,
}

/// Delivers one webhook, for as long as it is enabled and this process runs.
struct Driver {
    cx: Weak<Context>,
    pool: Pool,
    id: String,
    holder: Arc<str>,
    client: reqwest::Client,
    settings: Arc<WebhookSettings>,
}

/// The events a round delivers, ready to send.
struct Batch {
    url: url::Url,
    secrets: Vec<Secret>,
    /// The cursor, and the failures so far at the event after it.
    from: i64,
    failures: i32,
    failing_since: Option<NaiveDateTime>,
    /// When this process's lease runs out, by its own clock.
    lease_ends: Instant,
    events: Vec<(i64, Vec<u8>)>,
}

enum Plan {
    Deliver(Batch),
    Then(Next),
}

impl Driver {
    async fn run(self) {
        let mut quiet = Quiet::default();
        loop {
            let Some(cx) = self.cx.upgrade() else { break };
            let next = match self.round(&cx).await {
                Ok(next) => next,
                Err(e) => {
                    quiet.warn("a webhook round failed", &e);
                    Next::Sleep(self.settings.poll)
                }
            };
            drop(cx);
            match next {
                Next::Now => tokio::task::yield_now().await,
                Next::Sleep(duration) => pause(&self.cx, duration).await,
                Next::Stop => break,
            }
        }
        let (id, holder) = (self.id.clone(), self.holder.clone());
        let _ = blocking(&self.pool, move |db| Ok(store::webhooks::release(db, &id, &holder)?)).await;
    }

    /// One round: plan under the lease, then deliver the batch in order until one fails.
    async fn round(&self, cx: &Arc<Context>) -> Result<Next, Error> {
        let (id, holder, settings) = (self.id.clone(), self.holder.clone(), self.settings.clone());
        let mut batch = match blocking(&self.pool, move |db| plan(db, &id, &holder, &settings)).await? {
            Plan::Then(next) => return Ok(next),
            Plan::Deliver(batch) => batch,
        };
        let events = std::mem::take(&mut batch.events);
        for (seq, body) in events {
            // Never begin an attempt that could outlast the lease it began under.
            if batch.lease_ends.saturating_duration_since(Instant::now()) < self.settings.timeout * 3 / 2 {
                return Ok(Next::Now);
            }
            let msg_id = webhook::message_id(seq);
            let timestamp = Utc::now().timestamp();
            let secrets: Vec<&Secret> = batch.secrets.iter().collect();
            let signature = webhook::signature(&secrets, &msg_id, timestamp, &body);
            let signed = Signed { id: &msg_id, timestamp, signature: &signature };
            let attempted_at = store::now();
            let attempt = client::post(&self.client, &self.settings, &batch.url, signed, body).await;
            let outcome = if attempt.delivered() { "delivered" } else { "failed" };
            cx.webhooks.deliveries.with_label_values(&[outcome]).inc();
            let record = Record {
                id: self.id.clone(),
                holder: self.holder.clone(),
                from: batch.from,
                seq,
                failures: batch.failures,
                failing_since: batch.failing_since,
                attempted_at,
                attempt,
            };
            let settings = self.settings.clone();
            match blocking(&self.pool, move |db| record.write(db, &settings)).await? {
                Recorded::Delivered => {
                    batch.from = seq;
                    batch.failures = 0;
                    batch.failing_since = None;
                    batch.lease_ends = Instant::now() + self.settings.lease;
                }
                Recorded::Lost => return Ok(Next::Now),
                Recorded::Retry(pause) => return Ok(Next::Sleep(pause.min(self.settings.poll))),
                Recorded::Disabled(reason) => {
                    cx.webhooks.disabled.inc();
                    tracing::warn!(webhook = %self.id, %reason, "webhook disabled; enable it again (PATCH status) to resume from where it stopped");
                    return Ok(Next::Stop);
                }
            }
        }
        Ok(Next::Now)
    }
}

/// Under the lease (taken or renewed here), what to deliver next: the events after
/// the cursor that the webhook's types take, each with the body it is sent. Events
/// of other types before the first one taken are passed over here.
fn plan(db: &mut Db, id: &str, holder: &str, settings: &WebhookSettings) -> Result<Plan, Error> {
    let poll = Plan::Then(Next::Sleep(settings.poll));
    let Some(row) = store::webhooks::find(db, id)? else { return Ok(Plan::Then(Next::Stop)) };
    if row.status != WebhookStatus::Enabled {
        return Ok(Plan::Then(Next::Stop));
    }
    let now = store::now();
    let lease = TimeDelta::from_std(settings.lease).unwrap_or(TimeDelta::MAX);
    let unexpired = row.lease_expires_at.is_some_and(|until| until >= now);
    let mine = row.lease_holder.as_deref() == Some(holder);
    if unexpired && !mine {
        return Ok(poll);
    }
    // Renewed once a third of it has passed (an idle holder writes a few times a
    // lease), and whenever what is left could not cover an attempt.
    let timeout = TimeDelta::from_std(settings.timeout).unwrap_or(TimeDelta::MAX);
    let mut lease_until = row.lease_expires_at.filter(|_| mine && unexpired).unwrap_or(now);
    if lease_until - now < (lease * 2 / 3).max(timeout * 2) {
        if !store::webhooks::claim(db, id, holder, now, now + lease)? {
            return Ok(poll);
        }
        lease_until = now + lease;
    }
    if let Some(due) = row.next_attempt_at.filter(|due| *due > now) {
        return Ok(Plan::Then(Next::Sleep((due - now).to_std().unwrap_or_default().min(settings.poll))));
    }
    let rows = store::events::after(db, row.delivered_seq, BATCH)?;
    let Some(last) = rows.last().map(|r| r.seq) else { return Ok(poll) };
    let full = rows.len() as i64 == BATCH;
    let types = parse_types(&row.types);
    let wanted: Vec<_> =
        rows.into_iter().filter(|r| types.as_ref().is_none_or(|t| t.contains(&r.kind))).collect();
    let from = match wanted.first() {
        None => {
            store::webhooks::advance(db, id, holder, row.delivered_seq, last, lease_until)?;
            return Ok(if full { Plan::Then(Next::Now) } else { poll });
        }
        Some(first) if first.seq > row.delivered_seq + 1 && row.failures == 0 => {
            // Pass over the events before it, so the log and the lag say where it is.
            let before = first.seq - 1;
            if !store::webhooks::advance(db, id, holder, row.delivered_seq, before, lease_until)? {
                return Ok(poll);
            }
            before
        }
        Some(_) => row.delivered_seq,
    };
    let Ok(url) = url::Url::parse(&row.url) else {
        return Err(Error::bug(format!("webhook {id} has a stored URL that does not parse")));
    };
    let mut secrets: Vec<Secret> = Secret::parse(&row.secret).into_iter().collect();
    if secrets.is_empty() {
        return Err(Error::bug(format!("webhook {id} has a stored secret that is not one")));
    }
    if row.previous_secret_expires_at.is_some_and(|until| until > now) {
        secrets.extend(row.previous_secret.as_deref().and_then(Secret::parse));
    }
    let events = changes::view(db, wanted)?
        .iter()
        .map(|change| {
            let payload = Payload { kind: change.kind, timestamp: change.occurred_at, data: change };
            serde_json::to_vec(&payload).map(|body| (change.seq, body))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::internal("a webhook payload", e))?;
    let left = (lease_until - now).to_std().unwrap_or_default();
    Ok(Plan::Deliver(Batch {
        url,
        secrets,
        from,
        failures: row.failures,
        failing_since: row.failing_since,
        lease_ends: Instant::now() + left,
        events,
    }))
}

/// An attempt, to be written down with what follows from it.
struct Record {
    id: String,
    holder: Arc<str>,
    from: i64,
    seq: i64,
    failures: i32,
    failing_since: Option<NaiveDateTime>,
    attempted_at: NaiveDateTime,
    attempt: Attempt,
}

enum Recorded {
    Delivered,
    /// The lease was lost, or the cursor moved (a replay): start the round again.
    Lost,
    Retry(Duration),
    Disabled(String),
}

impl Record {
    /// In one transaction: the webhook's new state (its first statement, a write, so
    /// that SQLite takes its write lock at once), then the log entry.
    fn write(self, db: &mut Db, settings: &WebhookSettings) -> Result<Recorded, Error> {
        let now = store::now();
        let lease = TimeDelta::from_std(settings.lease).unwrap_or(TimeDelta::MAX);
        let attempt = &self.attempt;
        let delivery = NewDelivery {
            webhook_id: self.id.clone(),
            seq: self.seq,
            attempt: self.failures.saturating_add(1),
            attempted_at: self.attempted_at,
            status_code: attempt.status.map(i32::from),
            latency_ms: attempt.latency.as_millis().min(i32::MAX as u128) as i32,
            error: attempt.error.clone(),
            delivered: attempt.delivered(),
        };
        db.transaction(|db| {
            if attempt.delivered() {
                let advanced =
                    store::webhooks::advance(db, &self.id, &self.holder, self.from, self.seq, now + lease)?;
                store::webhooks::log_delivery(db, &delivery)?;
                return Ok(if advanced { Recorded::Delivered } else { Recorded::Lost });
            }
            let failures = self.failures.saturating_add(1);
            let failing_since = self.failing_since.unwrap_or(self.attempted_at);
            let error = attempt.error.as_deref().unwrap_or("failed");
            let reason = if attempt.status == Some(410) {
                Some("the receiver answered 410 Gone: it wants no more deliveries".to_owned())
            } else if (now - failing_since).to_std().unwrap_or_default() >= settings.disable_after {
                let hours = (now - failing_since).num_minutes() as f64 / 60.0;
                Some(format!("deliveries failed for {hours:.1} hours; the last: {error}"))
            } else {
                None
            };
            let jitter = rand::thread_rng().gen::<f64>();
            let backoff =
                webhook::retry_delay(failures as u32, settings.retry_base, settings.retry_max, jitter);
            // A receiver that asks for more time gets it, within the longest delay.
            let pause = backoff.max(attempt.retry_after.unwrap_or_default().min(settings.retry_max));
            let failure = Failure {
                failures,
                failing_since,
                next_attempt_at: now + TimeDelta::from_std(pause).unwrap_or(TimeDelta::MAX),
                disabled: reason.as_deref().map(|reason| (now, reason)),
            };
            let recorded = store::webhooks::failed(db, &self.id, &self.holder, self.from, &failure)?;
            store::webhooks::log_delivery(db, &delivery)?;
            Ok(match (recorded, reason) {
                (false, _) => Recorded::Lost,
                (true, Some(reason)) => Recorded::Disabled(reason),
                (true, None) => Recorded::Retry(pause),
            })
        })
    }
}
