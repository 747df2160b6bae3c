//! What the dashboard shows, for the API (`GET /v1/stats`) and the operators' console
//! alike: daily series of the last N days from the rollup (`service::rollup`), current
//! totals from the decision index and one count of contacts, and the health an
//! operator watches — how far the index, the rollup and the feed's consumers are
//! behind the ledger, and how long writes take.
//!
//! Series are dense (one value per day of [`Stats::dates`], zeros included), so a
//! chart or a table takes them as they are.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use chrono::{NaiveDate, TimeDelta};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::{Category, CountKind, Reason};
use crate::error::Error;
use crate::service::feed_consumers::{self, ConsumerView};
use crate::service::group_commit::CommitLatency;
use crate::service::{rollup, Context};
use crate::store::daily_counts::CountRow;
use crate::store::topics::TopicRow;
use crate::store::{self, Db};

/// The days a dashboard shows unless asked otherwise.
pub const DEFAULT_DAYS: u32 = 30;
/// The most days one call covers.
pub const MOST_DAYS: u32 = 366;

/// The most events a call counts itself before it answers, so that it includes the
/// caller's own writes: a longer backlog (a first start on a large ledger) is left to
/// the rollup's thread — a call that joined in would wait for its turn at the lock
/// (on SQLite, the database's write lock, which the thread takes again at once) — and
/// the answer says how far behind the counts still are.
const CATCH_UP_MOST: i64 = 10_000;
/// And for at most about this long.
const CATCH_UP_BUDGET: Duration = Duration::from_millis(500);

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// How many days, today (UTC) included: 1 to 366, 30 when left out.
    #[param(minimum = 1, maximum = 366, example = 30)]
    pub days: Option<u32>,
}

/// One series: a value per day of [`Stats::dates`], and their sum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Series {
    /// What it counts: a source (`one_click`, `page`, `mailto`, `feedback`, `api`, …)
    /// or a reason (`hard_bounce`, `too_frequent`, …).
    pub name: String,
    pub values: Vec<i64>,
    pub total: i64,
}

/// A count split into series (largest first), with the sum per day.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, ToSchema)]
pub struct Breakdown {
    pub total: i64,
    /// The sum of the series, per day.
    pub daily: Vec<i64>,
    pub series: Vec<Series>,
}

/// One name and its count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Count {
    pub name: String,
    pub count: i64,
}

/// One topic's activity over the period, and its statuses now.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TopicActivity {
    /// The topic's key; `null` for "all promotional mail" (unsubscribing from all of it).
    pub topic: Option<String>,
    /// Its name in the default language; `null` for all promotional mail.
    pub name: Option<String>,
    #[schema(value_type = Option<String>, example = "promotional")]
    pub category: Option<Category>,
    pub default_subscribed: Option<bool>,
    pub archived: bool,
    /// Changes to `subscribed`, by source.
    pub subscribes: Breakdown,
    /// Changes to `unsubscribed`, by source.
    pub unsubscribes: Breakdown,
    /// The answers to "why did you leave?" given for it, by reason.
    pub unsubscribe_reasons: Vec<Count>,
    /// Addresses with that explicit status now (an opt-out topic's silent majority,
    /// who never chose, is not among them).
    pub subscribed: u64,
    pub unsubscribed: u64,
    pub pending: u64,
}

/// What is held now.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Totals {
    pub contacts: i64,
    /// Addresses suppressed now, whatever the reason.
    pub suppressed: u64,
    /// Active suppressions by reason, largest first.
    pub suppressions: Vec<Count>,
}

/// How current this process and the readers of the ledger are.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Health {
    /// The ledger's last sequence number.
    pub ledger_seq: i64,
    /// The last one this process's decision index applied, and how many it lacks.
    pub index_seq: i64,
    pub index_behind: i64,
    /// How long ago the index last read the ledger; `null` before it first has.
    pub index_synced_ms_ago: Option<u64>,
    /// Whether the index may decide now (within the stale bound, nothing missing).
    pub index_fresh: bool,
    /// The last event counted into the daily series, and how many are not yet.
    pub rollup_seq: i64,
    pub rollup_behind: i64,
    /// This process's write transactions since it started.
    pub writes: CommitLatency,
    /// The change feed's pulling consumers and how far behind each is.
    pub feed_consumers: Vec<ConsumerView>,
}

/// The dashboard's data for the last `days` days.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Stats {
    pub days: u32,
    /// The first and last day (UTC), both included.
    #[schema(value_type = String, format = Date, example = "2026-11-03")]
    pub from: NaiveDate,
    #[schema(value_type = String, format = Date, example = "2026-12-02")]
    pub to: NaiveDate,
    /// Every day from `from` to `to`: the axis of every series.
    #[schema(value_type = Vec<String>)]
    pub dates: Vec<NaiveDate>,
    /// "All promotional mail" first, then the topics in their order, archived ones
    /// with activity last.
    pub topics: Vec<TopicActivity>,
    /// Subscribes of every topic, by source.
    pub subscribes: Breakdown,
    /// Unsubscribes of every topic and of all promotional mail, by source.
    pub unsubscribes: Breakdown,
    /// Suppressions added (or changed), by reason.
    pub suppressions: Breakdown,
    /// Suppressions lifted, by the reason they had.
    pub suppressions_lifted: Breakdown,
    /// Suppressions for complaints.
    pub complaints: Series,
    /// Suppressions for hard and soft bounces.
    pub bounces: Breakdown,
    /// The answers to "why did you leave?", by reason.
    pub unsubscribe_reasons: Breakdown,
    /// Contacts created, by source.
    pub contacts_created: Breakdown,
    /// Contacts erased.
    pub contacts_erased: Breakdown,
    pub totals: Totals,
    pub health: Health,
}

/// Checks a requested number of days.
pub fn days_of(query: &StatsQuery) -> Result<u32, Error> {
    match query.days {
        None => Ok(DEFAULT_DAYS),
        Some(days) if (1..=MOST_DAYS).contains(&days) => Ok(days),
        Some(_) => Err(Error::invalid("days", format!("must be 1 to {MOST_DAYS}"))),
    }
}

/// `GET /v1/stats`.
pub async fn get(cx: &Context, query: StatsQuery) -> Result<Stats, Error> {
    for_days(cx, days_of(&query)?).await
}

/// The dashboard's data for the last `days` days (1 to 366), today included.
pub async fn for_days(cx: &Context, days: u32) -> Result<Stats, Error> {
    if !(1..=MOST_DAYS).contains(&days) {
        return Err(Error::invalid("days", format!("must be 1 to {MOST_DAYS}")));
    }
    let to = store::now().date();
    let from = to - TimeDelta::days(i64::from(days) - 1);
    let read = store::run(&cx.pool, move |db| read(db, from)).await?;
    let consumers = feed_consumers::list(cx).await?;
    let now = store::now();
    let index = &cx.index;
    let statuses = index.statuses_per_topic();
    let mut suppressions: Vec<Count> = index
        .suppressions_by_reason(now)
        .into_iter()
        .map(|(reason, count)| Count { name: reason.as_str().to_owned(), count: count as i64 })
        .collect();
    suppressions.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    let applied = index.stats().applied_seq;
    let health = Health {
        ledger_seq: read.head,
        index_seq: applied,
        index_behind: (read.head - applied).max(0),
        index_synced_ms_ago: index.synced_ago().map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        index_fresh: index.ensure_fresh().is_ok(),
        rollup_seq: read.progress.position,
        rollup_behind: read.progress.behind(),
        writes: cx.writer.metrics.latency(),
        feed_consumers: consumers,
    };
    let totals = Totals {
        contacts: read.contacts,
        suppressed: suppressions.iter().map(|c| c.count as u64).sum(),
        suppressions,
    };
    let mut stats = assemble(days, from, &read.counts, &read.topics, totals, health);
    for topic in &mut stats.topics {
        if let Some(counts) = topic.topic.as_ref().and_then(|key| statuses.get(key)) {
            (topic.subscribed, topic.unsubscribed, topic.pending) =
                (counts.subscribed, counts.unsubscribed, counts.pending);
        }
    }
    Ok(stats)
}

/// What one call reads of the database.
struct Read {
    counts: Vec<CountRow>,
    topics: Vec<TopicRow>,
    contacts: i64,
    head: i64,
    progress: rollup::Progress,
}

fn read(db: &mut Db, from: NaiveDate) -> Result<Read, Error> {
    // Counting what is new first makes the answer include the caller's own writes; a
    // failure here (a busy database) leaves the counts as they were, and the answer
    // says how far behind they are.
    let behind = rollup::progress(db)?.behind();
    if (1..=CATCH_UP_MOST).contains(&behind) {
        if let Err(e) = rollup::catch_up(db, Some(CATCH_UP_BUDGET)) {
            tracing::warn!(error = %e, "the statistics could not count the latest events");
        }
    }
    let progress = rollup::progress(db)?;
    Ok(Read {
        counts: store::daily_counts::since(db, from)?,
        topics: store::topics::list(db, true)?,
        contacts: store::contacts::count(db)?,
        head: progress.head,
        progress,
    })
}

/// Series per label of one kind (and topic, when given), over `dates`.
fn breakdown<'a>(dates: &BTreeMap<NaiveDate, usize>, rows: impl Iterator<Item = &'a CountRow>) -> Breakdown {
    let mut series: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    let mut daily = vec![0; dates.len()];
    for row in rows {
        let Some(&i) = dates.get(&row.day) else { continue };
        series.entry(row.label.as_str()).or_insert_with(|| vec![0; dates.len()])[i] += row.count;
        daily[i] += row.count;
    }
    let mut series: Vec<Series> = series
        .into_iter()
        .map(|(name, values)| Series { name: name.to_owned(), total: values.iter().sum(), values })
        .collect();
    series.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.name.cmp(&b.name)));
    Breakdown { total: daily.iter().sum(), daily, series }
}

/// Puts the counts of the days from `from` into the dashboard's shape (pure: the
/// statuses of each topic now are filled in by the caller).
pub fn assemble(
    days: u32,
    from: NaiveDate,
    counts: &[CountRow],
    topics: &[TopicRow],
    totals: Totals,
    health: Health,
) -> Stats {
    let dates: Vec<NaiveDate> = (0..i64::from(days)).map(|d| from + TimeDelta::days(d)).collect();
    let axis: BTreeMap<NaiveDate, usize> = dates.iter().enumerate().map(|(i, d)| (*d, i)).collect();
    let of = |kind: CountKind| counts.iter().filter(move |r| r.kind == kind);
    let on = |kind: CountKind, topic: &str| {
        let topic = topic.to_owned();
        counts.iter().filter(move |r| r.kind == kind && r.topic_key == topic)
    };
    let reasons_for = |topic: &str| {
        let mut totals: BTreeMap<&str, i64> = BTreeMap::new();
        for row in on(CountKind::UnsubscribeReason, topic).filter(|r| axis.contains_key(&r.day)) {
            *totals.entry(row.label.as_str()).or_default() += row.count;
        }
        let mut counts: Vec<Count> =
            totals.into_iter().map(|(name, count)| Count { name: name.to_owned(), count }).collect();
        counts.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
        counts
    };
    let activity = |key: Option<&str>, row: Option<&TopicRow>| {
        let topic = key.unwrap_or_default();
        TopicActivity {
            topic: key.map(str::to_owned),
            name: row.map(|t| t.name.clone()),
            category: row.map(|t| t.category),
            default_subscribed: row.map(|t| t.default_subscribed),
            archived: row.is_some_and(|t| t.archived_at.is_some()),
            subscribes: breakdown(&axis, on(CountKind::Subscribe, topic)),
            unsubscribes: breakdown(&axis, on(CountKind::Unsubscribe, topic)),
            unsubscribe_reasons: reasons_for(topic),
            subscribed: 0,
            unsubscribed: 0,
            pending: 0,
        }
    };
    let mut listed = vec![activity(None, None)];
    let active: BTreeSet<&str> = counts
        .iter()
        .filter(|r| !r.topic_key.is_empty() && axis.contains_key(&r.day))
        .map(|r| r.topic_key.as_str())
        .collect();
    let known: HashMap<&str, &TopicRow> = topics.iter().map(|t| (t.key.as_str(), t)).collect();
    listed.extend(
        topics.iter().filter(|t| t.archived_at.is_none()).map(|t| activity(Some(t.key.as_str()), Some(t))),
    );
    listed.extend(
        topics
            .iter()
            .filter(|t| t.archived_at.is_some() && active.contains(t.key.as_str()))
            .map(|t| activity(Some(t.key.as_str()), Some(t))),
    );
    // Counts of a topic since deleted outright still count.
    listed.extend(active.iter().filter(|k| !known.contains_key(*k)).map(|k| activity(Some(*k), None)));
    let by_reason = |reasons: &'static [Reason]| {
        breakdown(
            &axis,
            of(CountKind::Suppression).filter(move |r| reasons.iter().any(|x| x.as_str() == r.label)),
        )
    };
    let complaints = by_reason(&[Reason::Complaint]);
    Stats {
        days,
        from,
        to: dates.last().copied().unwrap_or(from),
        subscribes: breakdown(&axis, of(CountKind::Subscribe)),
        unsubscribes: breakdown(&axis, of(CountKind::Unsubscribe)),
        suppressions: breakdown(&axis, of(CountKind::Suppression)),
        suppressions_lifted: breakdown(&axis, of(CountKind::SuppressionLifted)),
        complaints: Series {
            name: Reason::Complaint.as_str().to_owned(),
            total: complaints.total,
            values: complaints.daily,
        },
        bounces: by_reason(&[Reason::HardBounce, Reason::SoftBounce]),
        unsubscribe_reasons: breakdown(&axis, of(CountKind::UnsubscribeReason)),
        contacts_created: breakdown(&axis, of(CountKind::ContactCreated)),
        contacts_erased: breakdown(&axis, of(CountKind::ContactErased)),
        dates,
        topics: listed,
        totals,
        health,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn row(d: u32, topic: &str, kind: CountKind, label: &str, count: i64) -> CountRow {
        CountRow { day: day(d), topic_key: topic.into(), kind, label: label.into(), count }
    }

    fn topic(key: &str, archived: bool) -> TopicRow {
        let t = day(1).and_hms_opt(0, 0, 0).unwrap();
        TopicRow {
            key: key.into(),
            name: key.to_uppercase(),
            description: String::new(),
            category: Category::Promotional,
            default_subscribed: true,
            public: true,
            position: 0,
            created_at: t,
            updated_at: t,
            archived_at: archived.then_some(t),
            frequency: String::new(),
        }
    }

    fn health() -> Health {
        Health {
            ledger_seq: 0,
            index_seq: 0,
            index_behind: 0,
            index_synced_ms_ago: None,
            index_fresh: true,
            rollup_seq: 0,
            rollup_behind: 0,
            writes: CommitLatency {
                commits: 0,
                writes_per_commit: None,
                mean_seconds: None,
                p50_seconds_at_most: None,
                p95_seconds_at_most: None,
                p99_seconds_at_most: None,
            },
            feed_consumers: vec![],
        }
    }

    fn totals() -> Totals {
        Totals { contacts: 0, suppressed: 0, suppressions: vec![] }
    }

    #[test]
    fn counts_become_dense_series_on_the_days_asked() {
        let counts = [
            row(1, "news", CountKind::Unsubscribe, "one_click", 5), // before the period
            row(2, "news", CountKind::Unsubscribe, "one_click", 2),
            row(4, "news", CountKind::Unsubscribe, "page", 1),
            row(4, "news", CountKind::Unsubscribe, "one_click", 1),
            row(3, "", CountKind::Unsubscribe, "mailto", 1),
            row(3, "", CountKind::Suppression, "complaint", 2),
            row(3, "", CountKind::Suppression, "hard_bounce", 1),
            row(3, "news", CountKind::UnsubscribeReason, "too_frequent", 1),
            row(3, "gone", CountKind::Subscribe, "api", 1),
        ];
        let stats =
            assemble(3, day(2), &counts, &[topic("news", false), topic("old", true)], totals(), health());
        assert_eq!(stats.dates, [day(2), day(3), day(4)]);
        assert_eq!(stats.to, day(4));
        let keys: Vec<Option<&str>> = stats.topics.iter().map(|t| t.topic.as_deref()).collect();
        assert_eq!(
            keys,
            [None, Some("news"), Some("gone")],
            "an archived topic without activity is left out"
        );
        let news = &stats.topics[1];
        assert_eq!(news.unsubscribes.total, 4);
        assert_eq!(news.unsubscribes.daily, [2, 0, 2]);
        assert_eq!(
            news.unsubscribes.series,
            [
                Series { name: "one_click".into(), values: vec![2, 0, 1], total: 3 },
                Series { name: "page".into(), values: vec![0, 0, 1], total: 1 },
            ]
        );
        assert_eq!(news.unsubscribe_reasons, [Count { name: "too_frequent".into(), count: 1 }]);
        assert_eq!(stats.topics[0].unsubscribes.daily, [0, 1, 0]);
        assert_eq!(stats.unsubscribes.total, 5);
        assert_eq!(stats.complaints, Series { name: "complaint".into(), values: vec![0, 2, 0], total: 2 });
        assert_eq!(stats.bounces.total, 1);
        assert_eq!(stats.suppressions.series.iter().map(|s| s.total).collect::<Vec<_>>(), [2, 1]);
    }

    #[test]
    fn days_are_checked() {
        assert_eq!(days_of(&StatsQuery { days: None }).unwrap(), 30);
        assert_eq!(days_of(&StatsQuery { days: Some(366) }).unwrap(), 366);
        assert!(days_of(&StatsQuery { days: Some(0) }).is_err());
        assert!(days_of(&StatsQuery { days: Some(367) }).is_err());
    }
}
