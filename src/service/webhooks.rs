//! Outgoing webhooks as an operator configures them: create one (its secret shown only
//! then), read, change, rotate the secret, replay from a sequence number, delete, and
//! read the delivery log. `deliver` delivers the ledger to them, over `client`; the
//! console reads them through [`overview`].

mod client;
mod deliver;

pub use deliver::{spawn_deliverer, WebhookMetrics};

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::utc;
use crate::domain::webhook::{self, Secret};
use crate::domain::{text, EventType, WebhookStatus};
use crate::error::Error;
use crate::service::Context;
use crate::store::webhooks::{DeliveryRow, WebhookChanges, WebhookRow};
use crate::store::{self, Db, Tx};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// Where deliveries are POSTed: an http:// or https:// URL. A loopback, private or
    /// link-local address is refused unless `PREFCENTER_WEBHOOK_ALLOW_PRIVATE` is set,
    /// and so is a name that resolves to one when a delivery is made.
    #[serde(deserialize_with = "text::line")]
    #[schema(
        max_length = 2000,
        pattern = "^https?://[^\\u0000-\\u0020\\u007f-\\u009f]+$",
        example = "https://crm.example.com/hooks/prefs"
    )]
    pub url: String,
    /// The event types to deliver; every type when absent or `null`.
    #[serde(default)]
    #[schema(min_items = 1, example = json!(["subscription_changed", "suppression_added"]))]
    pub types: Option<Vec<EventType>>,
    #[serde(default, deserialize_with = "text::paragraph")]
    #[schema(max_length = 2000, example = "CRM")]
    pub description: String,
}

/// A partial change: fields left out keep their values.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookPatch {
    #[serde(default, deserialize_with = "text::optional_line")]
    #[schema(max_length = 2000, pattern = "^https?://[^\\u0000-\\u0020\\u007f-\\u009f]+$")]
    pub url: Option<String>,
    /// `null` delivers every type again.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<EventType>>, min_items = 1)]
    pub types: Option<Option<Vec<EventType>>>,
    #[serde(default, deserialize_with = "text::optional_paragraph")]
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// `disabled` stops deliveries; `enabled` resumes them from the first event not yet
    /// delivered, with its failures forgotten.
    pub status: Option<WebhookStatus>,
}

/// A field that may be absent (keep), `null` or a value.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A whole number, also written with a zero fraction (`3.0`): JSON Schema's
/// `integer`, which generated clients and fuzzers may send either way.
pub(crate) fn whole<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let number = serde_json::Number::deserialize(d)?;
    number
        .as_i64()
        .or_else(|| number.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 1e15).map(|f| f as i64))
        .ok_or_else(|| serde::de::Error::custom("expected a whole number"))
}

fn optional_whole<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Whole(#[serde(deserialize_with = "whole")] i64);
    Ok(Option::<Whole>::deserialize(d)?.map(|Whole(n)| n))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rotation {
    /// How many hours the current secret goes on signing beside the new one, so that
    /// receivers can move to the new one without refusing a delivery (0 to 168; 24 when
    /// absent). Deliveries meanwhile carry both signatures.
    #[serde(default, deserialize_with = "optional_whole")]
    #[schema(minimum = 0, maximum = 168, example = 24)]
    pub previous_valid_hours: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Replay {
    /// Deliver again every event after this sequence number (0 for the whole ledger).
    /// A number beyond the current position skips the events between.
    #[serde(deserialize_with = "whole")]
    #[schema(minimum = 0, example = 0)]
    pub after: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// Attempts after this one (its `id`; 0, the default, for the oldest kept).
    #[param(minimum = 0, example = 0)]
    pub after: Option<i64>,
    /// At most this many (default 100, at most 1,000).
    #[param(minimum = 1, maximum = 1000, example = 100)]
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    pub description: String,
    /// The event types delivered; `null` for every type.
    pub types: Option<Vec<EventType>>,
    pub status: WebhookStatus,
    /// The last sequence number delivered (or passed over, being of a type not
    /// delivered): deliveries go on with the first event after it.
    pub after: i64,
    /// When the oldest event not yet delivered happened; `null` when none waits.
    pub oldest_undelivered_at: Option<DateTime<Utc>>,
    /// Seconds since then, 0 when none waits: `prefcenter_webhook_lag_seconds`.
    pub lag_seconds: i64,
    /// Failed attempts in a row at the next event, since when, and when the next
    /// attempt is due.
    pub failures: i32,
    pub failing_since: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub disabled_at: Option<DateTime<Utc>>,
    /// Why it was disabled: by an operator, or its deliveries failed for too long.
    pub disabled_reason: Option<String>,
    /// After a rotation, until when the previous secret signs beside the new one.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A webhook with its signing secret, which is shown only in this answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// `whsec_` and the base64 of 32 random bytes, as Standard Webhooks has it.
    pub secret: String,
}

/// One delivery attempt.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: i64,
    /// The event's sequence number (its `webhook-id` is `evt_<seq>`).
    pub seq: i64,
    /// The how-manieth attempt at this event this was.
    pub attempt: i32,
    pub attempted_at: DateTime<Utc>,
    /// The receiver's status code, when it answered.
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    /// What went wrong (a status other than 2xx, a timeout, a refused address…).
    pub error: Option<String>,
    /// Whether the receiver acknowledged the event (2xx).
    pub delivered: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    pub deliveries: Vec<DeliveryView>,
    /// The `after` for the next call.
    pub next: i64,
}

/// A webhook as the console shows it: its state and its last attempts.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookSummary {
    pub webhook: WebhookView,
    /// The last attempts, newest first.
    pub recent: Vec<DeliveryView>,
}

impl From<DeliveryRow> for DeliveryView {
    fn from(row: DeliveryRow) -> Self {
        Self {
            id: row.id,
            seq: row.seq,
            attempt: row.attempt,
            attempted_at: utc(row.attempted_at),
            status_code: row.status_code,
            latency_ms: row.latency_ms,
            error: row.error,
            delivered: row.delivered,
        }
    }
}

/// The stored form of a type filter, and back.
pub(crate) fn stored_types(types: &Option<Vec<EventType>>) -> Option<String> {
    types.as_ref().map(|types| {
        let mut words: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
        words.sort_unstable();
        words.dedup();
        words.join(",")
    })
}

pub(crate) fn parse_types(stored: &Option<String>) -> Option<Vec<EventType>> {
    stored.as_ref().map(|words| words.split(',').filter_map(|w| w.parse().ok()).collect())
}

/// When the first event after `seq` happened, read as the feed reads the ledger.
pub(crate) fn oldest_after(db: &mut Db, seq: i64) -> Result<Option<NaiveDateTime>, Error> {
    Ok(store::events::after(db, seq, 1)?.first().map(|e| e.occurred_at))
}

/// Whole seconds from `oldest` to `now`, 0 without one.
pub(crate) fn lag_seconds(oldest: Option<NaiveDateTime>, now: NaiveDateTime) -> i64 {
    oldest.map_or(0, |t| (now - t).num_seconds().max(0))
}

fn view_on(db: &mut Db, row: WebhookRow) -> Result<WebhookView, Error> {
    let now = store::now();
    let oldest = oldest_after(db, row.delivered_seq)?;
    Ok(WebhookView {
        types: parse_types(&row.types),
        oldest_undelivered_at: oldest.map(utc),
        lag_seconds: lag_seconds(oldest, now),
        previous_secret_expires_at: row
            .previous_secret
            .and(row.previous_secret_expires_at)
            .filter(|until| *until > now)
            .map(utc),
        id: row.id,
        url: row.url,
        description: row.description,
        status: row.status,
        after: row.delivered_seq,
        failures: row.failures,
        failing_since: row.failing_since.map(utc),
        next_attempt_at: row.next_attempt_at.map(utc),
        disabled_at: row.disabled_at.map(utc),
        disabled_reason: row.disabled_reason,
        created_at: utc(row.created_at),
        updated_at: utc(row.updated_at),
    })
}

fn check_url(cx: &Context, url: &str) -> Result<String, Error> {
    webhook::receiver_url(url, cx.config.webhooks.allow_private)
        .map(String::from)
        .map_err(|problem| Error::invalid("url", problem))
}

fn check_types(types: &Option<Vec<EventType>>) -> Result<(), Error> {
    match types {
        Some(types) if types.is_empty() => {
            Err(Error::invalid("types", "must name at least one event type; leave it out for every type"))
        }
        _ => Ok(()),
    }
}

fn check_description(description: &str) -> Result<String, Error> {
    let description = description.trim();
    if description.chars().count() > 2000 {
        return Err(Error::invalid("description", "must be at most 2000 characters"));
    }
    Ok(description.to_owned())
}

/// The webhook with this id, or 404.
fn found(db: &mut Db, id: &str) -> Result<WebhookRow, Error> {
    let missing = || Error::not_found(format!("no webhook has the id {id:?}"));
    if Uuid::parse_str(id).is_err() {
        return Err(missing());
    }
    store::webhooks::find(db, id)?.ok_or_else(missing)
}

/// Records a change of a webhook for the audit: what happened, then which webhook (its
/// id, never its URL, which may hold a token, nor its secret) and any particulars.
fn record(tx: &mut Tx, what: &str, which: &str) -> Result<(), Error> {
    Ok(store::admin_changes::record(tx, "webhook_changed", &format!("{what} {which}"))?)
}

/// The receiver's host, for log lines: the URL itself may hold a token.
fn host(url: &str) -> String {
    url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default()
}

/// Creates a webhook. It delivers the events that happen from now on; a replay from
/// an earlier sequence number delivers the ones before.
pub async fn create(cx: &Context, input: NewWebhook) -> Result<CreatedWebhook, Error> {
    let url = check_url(cx, &input.url)?;
    check_types(&input.types)?;
    let description = check_description(&input.description)?;
    let secret = Secret::generate();
    let stored_secret = secret.as_str().to_owned();
    let webhook = super::write(cx, move |tx| {
        let id = Uuid::new_v4().to_string();
        record(tx, "created", &id)?;
        let now = store::now();
        let row = WebhookRow {
            id,
            url,
            description,
            types: stored_types(&input.types),
            status: WebhookStatus::Enabled,
            secret: stored_secret,
            previous_secret: None,
            previous_secret_expires_at: None,
            delivered_seq: store::events::head(tx)?,
            failures: 0,
            failing_since: None,
            next_attempt_at: None,
            disabled_at: None,
            disabled_reason: None,
            lease_holder: None,
            lease_expires_at: None,
            created_at: now,
            updated_at: now,
        };
        store::webhooks::insert(tx, &row)?;
        tracing::info!(webhook = %row.id, host = %host(&row.url), after = row.delivered_seq, "created webhook");
        view_on(tx, row)
    })
    .await?;
    Ok(CreatedWebhook { webhook, secret: secret.as_str().to_owned() })
}

pub fn list_on(db: &mut Db) -> Result<Vec<WebhookView>, Error> {
    store::webhooks::list(db)?.into_iter().map(|row| view_on(db, row)).collect()
}

/// Every webhook, oldest first, with its status and lag.
pub async fn list(cx: &Context) -> Result<Vec<WebhookView>, Error> {
    store::run(&cx.pool, list_on).await
}

pub async fn get(cx: &Context, id: String) -> Result<WebhookView, Error> {
    store::run(&cx.pool, move |db| {
        let row = found(db, &id)?;
        view_on(db, row)
    })
    .await
}

/// Every webhook with its last `recent` attempts: what the console shows.
pub async fn overview(cx: &Context, recent: i64) -> Result<Vec<WebhookSummary>, Error> {
    store::run(&cx.pool, move |db| {
        let webhooks = list_on(db)?;
        webhooks
            .into_iter()
            .map(|webhook| {
                let recent = store::webhooks::recent_deliveries(db, &webhook.id, recent)?;
                Ok(WebhookSummary { webhook, recent: recent.into_iter().map(DeliveryView::from).collect() })
            })
            .collect()
    })
    .await
}

pub async fn update(cx: &Context, id: String, patch: WebhookPatch) -> Result<WebhookView, Error> {
    let url = patch.url.as_deref().map(|url| check_url(cx, url)).transpose()?;
    if let Some(types) = &patch.types {
        check_types(types)?;
    }
    let description = patch.description.as_deref().map(check_description).transpose()?;
    super::write(cx, move |tx| {
        store::webhooks::lock(tx, &id)?;
        let row = found(tx, &id)?;
        let now = store::now();
        let changed: Vec<&str> = [
            ("url", url.is_some()),
            ("description", description.is_some()),
            ("types", patch.types.is_some()),
        ]
        .into_iter()
        .filter_map(|(field, given)| given.then_some(field))
        .collect();
        let changes = WebhookChanges {
            url,
            description,
            types: patch.types.as_ref().map(stored_types),
            updated_at: Some(now),
        };
        store::webhooks::update(tx, &id, &changes)?;
        if !changed.is_empty() {
            record(tx, "updated", &format!("{id} {}", changed.join(",")))?;
        }
        if let Some(status) = patch.status.filter(|s| *s != row.status) {
            let reason = (status == WebhookStatus::Disabled).then_some("disabled by an operator");
            store::webhooks::set_status(tx, &id, status, reason, now)?;
            let what = if status == WebhookStatus::Enabled { "enable" } else { "disable" };
            record(tx, what, &id)?;
            tracing::info!(webhook = %id, status = %status, "webhook status changed");
        }
        let row = found(tx, &id)?;
        view_on(tx, row)
    })
    .await
}

pub async fn delete(cx: &Context, id: String) -> Result<(), Error> {
    super::write(cx, move |tx| {
        found(tx, &id)?;
        store::webhooks::delete(tx, &id)?;
        record(tx, "deleted", &id)?;
        tracing::info!(webhook = %id, "deleted webhook");
        Ok(())
    })
    .await
}

/// A new secret, shown only in this answer; the current one goes on signing beside
/// it for the hours asked (one rotation at a time: a secret older than the current
/// one stops signing).
pub async fn rotate(cx: &Context, id: String, rotation: Rotation) -> Result<CreatedWebhook, Error> {
    let hours = rotation.previous_valid_hours.unwrap_or(24);
    if !(0..=168).contains(&hours) {
        return Err(Error::invalid("previous_valid_hours", "must be between 0 and 168"));
    }
    let secret = Secret::generate();
    let new = secret.as_str().to_owned();
    let webhook = super::write(cx, move |tx| {
        store::webhooks::lock(tx, &id)?;
        let row = found(tx, &id)?;
        let now = store::now();
        store::webhooks::rotate(tx, &id, &new, &row.secret, now + TimeDelta::hours(hours), now)?;
        record(tx, "rotated", &id)?;
        tracing::info!(webhook = %id, previous_valid_hours = hours, "rotated a webhook's secret");
        let row = found(tx, &id)?;
        view_on(tx, row)
    })
    .await?;
    Ok(CreatedWebhook { webhook, secret: secret.as_str().to_owned() })
}

/// Delivers again every event after `after` (its failures forgotten, at once).
pub async fn replay(cx: &Context, id: String, replay: Replay) -> Result<WebhookView, Error> {
    if replay.after < 0 {
        return Err(Error::invalid("after", "must not be negative"));
    }
    super::write(cx, move |tx| {
        found(tx, &id)?;
        let last = store::events::head(tx)?;
        if replay.after > last {
            return Err(Error::invalid("after", format!("must be at most the last sequence number, {last}")));
        }
        store::webhooks::replay(tx, &id, replay.after, store::now())?;
        record(tx, "replayed", &format!("{id} after {}", replay.after))?;
        tracing::info!(webhook = %id, after = replay.after, "replaying a webhook");
        let row = found(tx, &id)?;
        view_on(tx, row)
    })
    .await
}

/// A webhook's delivery attempts, oldest first.
pub async fn deliveries(cx: &Context, id: String, query: DeliveriesQuery) -> Result<DeliveryPage, Error> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Error::invalid("limit", "must be between 1 and 1000"));
    }
    let after = query.after.unwrap_or(0);
    if after < 0 {
        return Err(Error::invalid("after", "must not be negative"));
    }
    store::run(&cx.pool, move |db| {
        found(db, &id)?;
        let rows = store::webhooks::deliveries(db, &id, after, limit)?;
        let next = rows.last().map_or(after, |r| r.id);
        Ok(DeliveryPage { deliveries: rows.into_iter().map(DeliveryView::from).collect(), next })
    })
    .await
}
