//! Consumers that pull the change feed (`GET /v1/changes`) and say how far they have
//! applied it, so that an operator sees who is behind — by how many events, since
//! when — long before a mailbox provider's 48-hour deadline for honouring an
//! unsubscribe. `service::lag` turns the same positions into gauges and log lines.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::utc;
use super::webhooks::{lag_seconds, oldest_after};
use crate::error::Error;
use crate::service::Context;
use crate::store::feed_consumers::ConsumerRow;
use crate::store::{self, Db};

/// What a consumer names itself: 1 to 64 of `A-Z a-z 0-9 . _ -`, starting with a
/// letter or digit (it labels a metric and a log line).
pub const NAME_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$";

fn check_name(name: &str) -> Result<(), Error> {
    let mut chars = name.chars();
    let first = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if first && rest && name.len() <= 64 {
        Ok(())
    } else {
        Err(Error::invalid(
            "name",
            "must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' or '-', starting with a letter or digit",
        ))
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Acknowledgement {
    /// The last sequence number the consumer has applied (the feed's `next`).
    #[serde(deserialize_with = "super::webhooks::whole")]
    #[schema(minimum = 0, example = 1042)]
    pub after: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ConsumerView {
    pub name: String,
    /// The last sequence number it acknowledged.
    pub after: i64,
    /// How many events come after it.
    pub behind: i64,
    /// When the first of those happened; `null` when it is current.
    pub oldest_unapplied_at: Option<DateTime<Utc>>,
    /// Seconds since then (0 when current): `prefcenter_feed_consumer_lag_seconds`.
    pub lag_seconds: i64,
    /// Whether that is beyond `PREFCENTER_FEED_CONSUMER_LATE_SECONDS` (24 hours).
    pub late: bool,
    /// When it last acknowledged.
    pub acknowledged_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// `bound`: the seconds of lag beyond which a consumer is late.
fn view_on(db: &mut Db, row: ConsumerRow, bound: i64) -> Result<ConsumerView, Error> {
    let oldest = oldest_after(db, row.after_seq)?;
    let lag = lag_seconds(oldest, store::now());
    Ok(ConsumerView {
        behind: store::feed_consumers::events_after(db, row.after_seq)?,
        oldest_unapplied_at: oldest.map(utc),
        lag_seconds: lag,
        late: lag > bound,
        name: row.name,
        after: row.after_seq,
        acknowledged_at: utc(row.updated_at),
        created_at: utc(row.created_at),
    })
}

/// Records that `name` has applied the feed up to `after`, naming a new consumer the
/// first time; whether it was new.
pub async fn acknowledge(
    cx: &Context,
    name: String,
    acknowledgement: Acknowledgement,
) -> Result<(ConsumerView, bool), Error> {
    check_name(&name)?;
    let after = acknowledgement.after;
    if after < 0 {
        return Err(Error::invalid("after", "must not be negative"));
    }
    let bound = late_bound(cx);
    store::run(&cx.pool, move |db| {
        let last = store::events::head(db)?;
        if after > last {
            return Err(Error::invalid("after", format!("must be at most the last sequence number, {last}")));
        }
        let now = store::now();
        let created = store::feed_consumers::find(db, &name)?.is_none();
        let row = ConsumerRow { name, after_seq: after, created_at: now, updated_at: now };
        store::feed_consumers::upsert(db, &row)?;
        if created {
            tracing::info!(consumer = %row.name, after, "a new consumer of the change feed");
        }
        let row = store::feed_consumers::find(db, &row.name)?
            .ok_or_else(|| Error::bug("a consumer just written"))?;
        Ok((view_on(db, row, bound)?, created))
    })
    .await
}

fn late_bound(cx: &Context) -> i64 {
    cx.config.webhooks.late_after.as_secs() as i64
}

/// Every consumer, by name.
pub async fn list(cx: &Context) -> Result<Vec<ConsumerView>, Error> {
    let bound = late_bound(cx);
    store::run(&cx.pool, move |db| {
        store::feed_consumers::list(db)?.into_iter().map(|row| view_on(db, row, bound)).collect()
    })
    .await
}

/// Stops tracking a consumer (one that was retired, so that it is no longer late).
pub async fn delete(cx: &Context, name: String) -> Result<(), Error> {
    super::write(cx, move |tx| {
        if store::feed_consumers::delete(tx, &name)? {
            store::admin_changes::record(tx, "feed_consumer_changed", &format!("deleted {name}"))?;
            tracing::info!(consumer = %name, "no longer tracking a consumer of the change feed");
            Ok(())
        } else {
            Err(Error::not_found(format!("no consumer of the feed is named {name:?}")))
        }
    })
    .await
}
