//! How far behind the ledger its readers are — each webhook and each pull consumer of
//! the feed — as `/metrics` gauges, and a log line when one falls late: when its
//! oldest event not yet applied is older than `PREFCENTER_FEED_CONSUMER_LATE_SECONDS`
//! (24 hours), so that an operator hears of it long before a mailbox provider's
//! 48-hour unsubscribe deadline. The deliverer's thread refreshes them every poll, on
//! every process, so each process's `/metrics` says the same.

use std::collections::HashSet;
use std::sync::Mutex;

use prometheus::core::Collector;
use prometheus::{GaugeVec, IntGauge, Opts};

use crate::domain::WebhookStatus;
use crate::error::Error;
use crate::service::webhooks::{lag_seconds, oldest_after};
use crate::service::Context;
use crate::store::{self, Db};

pub struct Lag {
    consumers: GaugeVec,
    webhooks: GaugeVec,
    disabled: IntGauge,
    /// Who is late now (`consumer:<name>`, `webhook:<id>`), to log each change once.
    late: Mutex<HashSet<String>>,
}

impl Lag {
    pub fn new() -> Self {
        let consumers = Opts::new(
            "prefcenter_feed_consumer_lag_seconds",
            "Seconds since the oldest event a feed consumer has not acknowledged happened (0 when it is current)",
        );
        let webhooks = Opts::new(
            "prefcenter_webhook_lag_seconds",
            "Seconds since the oldest event a webhook has not delivered happened (0 when it is current)",
        );
        let disabled = Opts::new("prefcenter_webhooks_disabled", "Webhooks that are disabled");
        Self {
            consumers: GaugeVec::new(consumers, &["consumer"]).expect("a valid metric"),
            webhooks: GaugeVec::new(webhooks, &["webhook"]).expect("a valid metric"),
            disabled: IntGauge::with_opts(disabled).expect("a valid metric"),
            late: Mutex::new(HashSet::new()),
        }
    }

    pub fn register(&self, registry: &prometheus::Registry) -> prometheus::Result<()> {
        registry.register(Box::new(self.consumers.clone()))?;
        registry.register(Box::new(self.webhooks.clone()))?;
        registry.register(Box::new(self.disabled.clone()))
    }

    /// Notes whether `who` is late now; logs when that changed.
    fn note(&self, who: String, lag: i64, bound: i64) {
        let mut late = self.late.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if lag > bound {
            if late.insert(who.clone()) {
                tracing::warn!(%who, lag_seconds = lag, bound_seconds = bound, "late: events older than the bound are not yet applied");
            }
        } else if late.remove(&who) {
            tracing::info!(%who, lag_seconds = lag, "caught up: no longer late");
        }
    }

    /// Forgets whoever is no longer measured (a deleted consumer or webhook).
    fn keep_only(&self, measured: &HashSet<String>) {
        let mut late = self.late.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        late.retain(|who| measured.contains(who));
    }
}

impl Default for Lag {
    fn default() -> Self {
        Self::new()
    }
}

/// Sets a gauge per label, and removes the series of labels no longer measured (each
/// series is set or removed, never reset, so a scrape meanwhile sees none missing).
fn show(gauges: &GaugeVec, values: &[(String, i64)]) {
    let current: HashSet<&str> = values.iter().map(|(label, _)| label.as_str()).collect();
    let shown: Vec<String> = gauges
        .collect()
        .iter()
        .flat_map(|family| family.get_metric().iter())
        .filter_map(|metric| metric.get_label().first().map(|pair| pair.value().to_owned()))
        .collect();
    for label in shown.iter().filter(|label| !current.contains(label.as_str())) {
        let _ = gauges.remove_label_values(&[label.as_str()]);
    }
    for (label, seconds) in values {
        gauges.with_label_values(&[label.as_str()]).set(*seconds as f64);
    }
}

/// Measures every consumer and webhook, sets the gauges (a series per one that
/// exists, none for those deleted) and logs those that became late or caught up.
pub fn refresh(cx: &Context, db: &mut Db) -> Result<(), Error> {
    let now = store::now();
    let bound = cx.config.webhooks.late_after.as_secs() as i64;
    let lag = &cx.lag;
    let mut measured = HashSet::new();
    let mut consumers = Vec::new();
    for consumer in store::feed_consumers::list(db)? {
        let seconds = lag_seconds(oldest_after(db, consumer.after_seq)?, now);
        consumers.push((consumer.name, seconds));
    }
    let mut webhooks = Vec::new();
    let mut disabled = 0;
    for webhook in store::webhooks::list(db)? {
        disabled += i64::from(webhook.status == WebhookStatus::Disabled);
        let seconds = lag_seconds(oldest_after(db, webhook.delivered_seq)?, now);
        webhooks.push((webhook.id, seconds));
    }
    show(&lag.consumers, &consumers);
    show(&lag.webhooks, &webhooks);
    lag.disabled.set(disabled);
    for (name, seconds) in consumers {
        let who = format!("consumer:{name}");
        measured.insert(who.clone());
        lag.note(who, seconds, bound);
    }
    for (id, seconds) in webhooks {
        let who = format!("webhook:{id}");
        measured.insert(who.clone());
        lag.note(who, seconds, bound);
    }
    lag.keep_only(&measured);
    Ok(())
}
