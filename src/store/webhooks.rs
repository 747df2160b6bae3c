//! Queries on `webhooks` and `webhook_deliveries`. A webhook's delivery state (its
//! cursor, failures and lease) changes only through the compare-and-set updates below,
//! which name the lease holder and the cursor they expect: a process that lost its
//! lease, or whose cursor an operator moved (a replay), changes nothing.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{webhook_deliveries, webhooks};
use super::Db;
use crate::domain::WebhookStatus;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhooks)]
pub struct WebhookRow {
    pub id: String,
    pub url: String,
    pub description: String,
    /// Comma-separated event types; `None` for every type.
    pub types: Option<String>,
    pub status: WebhookStatus,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<NaiveDateTime>,
    pub delivered_seq: i64,
    pub failures: i32,
    pub failing_since: Option<NaiveDateTime>,
    pub next_attempt_at: Option<NaiveDateTime>,
    pub disabled_at: Option<NaiveDateTime>,
    pub disabled_reason: Option<String>,
    pub lease_holder: Option<String>,
    pub lease_expires_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// What an operator may change; `None` leaves a field as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = webhooks)]
pub struct WebhookChanges {
    pub url: Option<String>,
    pub description: Option<String>,
    pub types: Option<Option<String>>,
    pub updated_at: Option<NaiveDateTime>,
}

pub fn insert(db: &mut Db, row: &WebhookRow) -> QueryResult<()> {
    diesel::insert_into(webhooks::table).values(row).execute(db).map(drop)
}

pub fn find(db: &mut Db, id: &str) -> QueryResult<Option<WebhookRow>> {
    webhooks::table.find(id).select(WebhookRow::as_select()).first(db).optional()
}

/// Takes the webhook's row lock (PostgreSQL) or the database's write lock (SQLite)
/// until the transaction ends: a transaction that reads and then writes a webhook
/// begins with this, so that on SQLite it never has to upgrade a read to a write.
pub fn lock(db: &mut Db, id: &str) -> QueryResult<()> {
    diesel::update(webhooks::table.find(id)).set(webhooks::id.eq(webhooks::id)).execute(db).map(drop)
}

pub fn list(db: &mut Db) -> QueryResult<Vec<WebhookRow>> {
    webhooks::table.order((webhooks::created_at, webhooks::id)).select(WebhookRow::as_select()).load(db)
}

/// The ids of the webhooks to deliver.
pub fn enabled_ids(db: &mut Db) -> QueryResult<Vec<String>> {
    webhooks::table.filter(webhooks::status.eq(WebhookStatus::Enabled)).select(webhooks::id).load(db)
}

pub fn update(db: &mut Db, id: &str, changes: &WebhookChanges) -> QueryResult<bool> {
    diesel::update(webhooks::table.find(id)).set(changes).execute(db).map(|n| n == 1)
}

/// Enables a webhook (its failures forgotten: it starts again from its cursor) or
/// disables it.
pub fn set_status(
    db: &mut Db,
    id: &str,
    status: WebhookStatus,
    reason: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let disabled_at = (status == WebhookStatus::Disabled).then_some(now);
    diesel::update(webhooks::table.find(id))
        .set((
            webhooks::status.eq(status),
            webhooks::disabled_at.eq(disabled_at),
            webhooks::disabled_reason.eq(reason),
            webhooks::failures.eq(0),
            webhooks::failing_since.eq(None::<NaiveDateTime>),
            webhooks::next_attempt_at.eq(None::<NaiveDateTime>),
            webhooks::updated_at.eq(now),
        ))
        .execute(db)
        .map(|n| n == 1)
}

/// A new secret; the current one keeps signing beside it until `previous_until`.
pub fn rotate(
    db: &mut Db,
    id: &str,
    secret: &str,
    previous: &str,
    previous_until: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(webhooks::table.find(id))
        .set((
            webhooks::secret.eq(secret),
            webhooks::previous_secret.eq(previous),
            webhooks::previous_secret_expires_at.eq(previous_until),
            webhooks::updated_at.eq(now),
        ))
        .execute(db)
        .map(|n| n == 1)
}

/// Moves the cursor to `after` (a replay), forgetting failures, so that delivery
/// starts again from the next event at once.
pub fn replay(db: &mut Db, id: &str, after: i64, now: NaiveDateTime) -> QueryResult<bool> {
    diesel::update(webhooks::table.find(id))
        .set((
            webhooks::delivered_seq.eq(after),
            webhooks::failures.eq(0),
            webhooks::failing_since.eq(None::<NaiveDateTime>),
            webhooks::next_attempt_at.eq(None::<NaiveDateTime>),
            webhooks::updated_at.eq(now),
        ))
        .execute(db)
        .map(|n| n == 1)
}

pub fn delete(db: &mut Db, id: &str) -> QueryResult<bool> {
    diesel::delete(webhooks::table.find(id)).execute(db).map(|n| n == 1)
}

/// Takes (or renews) the lease of an enabled webhook for `holder` until `until`: when
/// no one holds it, `holder` does, or its holder let it expire. Whether `holder` holds
/// it now.
pub fn claim(
    db: &mut Db,
    id: &str,
    holder: &str,
    now: NaiveDateTime,
    until: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(
        webhooks::table.find(id).filter(webhooks::status.eq(WebhookStatus::Enabled)).filter(
            webhooks::lease_holder
                .is_null()
                .or(webhooks::lease_holder.eq(holder))
                .or(webhooks::lease_expires_at.lt(now)),
        ),
    )
    .set((webhooks::lease_holder.eq(holder), webhooks::lease_expires_at.eq(until)))
    .execute(db)
    .map(|n| n == 1)
}

/// Gives the lease up, if `holder` has it.
pub fn release(db: &mut Db, id: &str, holder: &str) -> QueryResult<()> {
    diesel::update(webhooks::table.find(id).filter(webhooks::lease_holder.eq(holder)))
        .set((
            webhooks::lease_holder.eq(None::<String>),
            webhooks::lease_expires_at.eq(None::<NaiveDateTime>),
        ))
        .execute(db)
        .map(drop)
}

/// After a delivery of `to` acknowledged (or events passed over by the type filter):
/// the cursor moves from `from` to `to`, failures are forgotten and the lease renewed.
/// `false` when `holder` no longer holds the lease or the cursor is no longer `from`.
pub fn advance(
    db: &mut Db,
    id: &str,
    holder: &str,
    from: i64,
    to: i64,
    lease_until: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(
        webhooks::table
            .find(id)
            .filter(webhooks::lease_holder.eq(holder))
            .filter(webhooks::delivered_seq.eq(from)),
    )
    .set((
        webhooks::delivered_seq.eq(to),
        webhooks::failures.eq(0),
        webhooks::failing_since.eq(None::<NaiveDateTime>),
        webhooks::next_attempt_at.eq(None::<NaiveDateTime>),
        webhooks::lease_expires_at.eq(lease_until),
    ))
    .execute(db)
    .map(|n| n == 1)
}

/// After a failed attempt at the event after `at`: the count, since when, and the
/// next attempt; or, with `disabled`, the webhook's end (`(now, reason)`).
pub struct Failure<'a> {
    pub failures: i32,
    pub failing_since: NaiveDateTime,
    pub next_attempt_at: NaiveDateTime,
    pub disabled: Option<(NaiveDateTime, &'a str)>,
}

/// Records a failure, as [`advance`] records a success (the same conditions).
pub fn failed(db: &mut Db, id: &str, holder: &str, at: i64, failure: &Failure) -> QueryResult<bool> {
    let status = if failure.disabled.is_some() { WebhookStatus::Disabled } else { WebhookStatus::Enabled };
    diesel::update(
        webhooks::table
            .find(id)
            .filter(webhooks::lease_holder.eq(holder))
            .filter(webhooks::delivered_seq.eq(at)),
    )
    .set((
        webhooks::failures.eq(failure.failures),
        webhooks::failing_since.eq(failure.failing_since),
        webhooks::next_attempt_at.eq(failure.next_attempt_at),
        webhooks::status.eq(status),
        webhooks::disabled_at.eq(failure.disabled.map(|(at, _)| at)),
        webhooks::disabled_reason.eq(failure.disabled.map(|(_, reason)| reason)),
    ))
    .execute(db)
    .map(|n| n == 1)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct DeliveryRow {
    pub id: i64,
    pub webhook_id: String,
    pub seq: i64,
    pub attempt: i32,
    pub attempted_at: NaiveDateTime,
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    pub error: Option<String>,
    pub delivered: bool,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = webhook_deliveries)]
pub struct NewDelivery {
    pub webhook_id: String,
    pub seq: i64,
    pub attempt: i32,
    pub attempted_at: NaiveDateTime,
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    pub error: Option<String>,
    pub delivered: bool,
}

pub fn log_delivery(db: &mut Db, delivery: &NewDelivery) -> QueryResult<()> {
    diesel::insert_into(webhook_deliveries::table).values(delivery).execute(db).map(drop)
}

/// A webhook's attempts after the attempt `after`, oldest first.
pub fn deliveries(db: &mut Db, webhook_id: &str, after: i64, limit: i64) -> QueryResult<Vec<DeliveryRow>> {
    webhook_deliveries::table
        .filter(webhook_deliveries::webhook_id.eq(webhook_id))
        .filter(webhook_deliveries::id.gt(after))
        .order(webhook_deliveries::id)
        .limit(limit)
        .select(DeliveryRow::as_select())
        .load(db)
}

/// A webhook's last `n` attempts, newest first.
pub fn recent_deliveries(db: &mut Db, webhook_id: &str, n: i64) -> QueryResult<Vec<DeliveryRow>> {
    webhook_deliveries::table
        .filter(webhook_deliveries::webhook_id.eq(webhook_id))
        .order(webhook_deliveries::id.desc())
        .limit(n)
        .select(DeliveryRow::as_select())
        .load(db)
}

/// Removes attempts made before `before`, and beyond the newest `keep` of each
/// webhook. How many went.
pub fn prune_deliveries(db: &mut Db, before: NaiveDateTime, keep: i64) -> QueryResult<usize> {
    let mut removed =
        diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::attempted_at.lt(before)))
            .execute(db)?;
    for id in webhooks::table.select(webhooks::id).load::<String>(db)? {
        let oldest_kept: Option<i64> = webhook_deliveries::table
            .filter(webhook_deliveries::webhook_id.eq(&id))
            .order(webhook_deliveries::id.desc())
            .offset(keep - 1)
            .select(webhook_deliveries::id)
            .first(db)
            .optional()?;
        if let Some(oldest_kept) = oldest_kept {
            removed += diesel::delete(
                webhook_deliveries::table
                    .filter(webhook_deliveries::webhook_id.eq(&id))
                    .filter(webhook_deliveries::id.lt(oldest_kept)),
            )
            .execute(db)?;
        }
    }
    Ok(removed)
}
