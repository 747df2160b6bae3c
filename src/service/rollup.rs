//! The daily rollup: the ledger counted per UTC day, topic, kind and source or reason
//! (`daily_counts`), so that the dashboard reads a few hundred counts rather than
//! scanning millions of events on every view.
//!
//! Tailed like the decision index, and for the same reason: the ledger is the one
//! ordered record of every change by every process. Each step counts the events after
//! the rollup's position and moves the position in the same transaction as the counts,
//! so a crash between two steps never counts an event twice nor skips one. The
//! position's row is taken first and moved by compare-and-set, so several processes
//! that roll up at once take turns and never count an event twice either.
//!
//! Only counts and the words of closed sets are kept — never an address, a contact, a
//! client or a comment — so erasure and retention have nothing to clear here.

use std::collections::BTreeMap;
use std::sync::Weak;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use diesel::Connection;

use crate::domain::{CountKind, EventType, Status};
use crate::error::Error;
use crate::service::Context;
use crate::store::daily_counts::CountRow;
use crate::store::events::Countable;
use crate::store::{self, Db};

/// How many events one step counts: one short transaction.
const BATCH: i64 = 5_000;

/// What one event adds to the rollup: the key of the count it adds one to, if any.
pub fn count_of(event: &Countable) -> Option<(NaiveDate, String, CountKind, String)> {
    let day = event.occurred_at.date();
    let topic = || event.topic_key.clone().unwrap_or_default();
    let source = || source_label(&event.source);
    let (topic, kind, label) = match event.kind {
        EventType::SubscriptionChanged | EventType::UnsubscribedAllChanged => {
            // A change to the state it already had (a replay, a retried write) is none.
            let kind = match (event.old_status, event.new_status) {
                (old, Some(Status::Subscribed)) if old != Some(Status::Subscribed) => CountKind::Subscribe,
                (old, Some(Status::Unsubscribed)) if old != Some(Status::Unsubscribed) => {
                    CountKind::Unsubscribe
                }
                _ => return None,
            };
            // Unsubscribing from all promotional mail concerns no one topic.
            let topic = if event.kind == EventType::SubscriptionChanged { topic() } else { String::new() };
            (topic, kind, source())
        }
        EventType::SuppressionAdded => {
            (String::new(), CountKind::Suppression, event.reason.map_or("unknown", |r| r.as_str()).to_owned())
        }
        EventType::SuppressionRemoved => (
            String::new(),
            CountKind::SuppressionLifted,
            event.reason.map_or("unknown", |r| r.as_str()).to_owned(),
        ),
        EventType::UnsubscribeReason => {
            (topic(), CountKind::UnsubscribeReason, event.unsubscribe_reason?.as_str().to_owned())
        }
        EventType::ContactCreated => (String::new(), CountKind::ContactCreated, source()),
        EventType::ContactErased => (String::new(), CountKind::ContactErased, source()),
        _ => return None,
    };
    Some((day, topic, kind, label))
}

/// The kind of source a change came from: the word before any `:` (`feedback:ses` is
/// `feedback`), and `other` for anything that is not a plain lower-case word, so that
/// whatever a writer puts after the kind (a provider, an operator) never reaches the
/// rollup.
pub fn source_label(source: &str) -> String {
    let word = source.split(':').next().unwrap_or_default();
    let plain = !word.is_empty()
        && word.len() <= 32
        && word.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if plain { word } else { "other" }.to_owned()
}

/// The counts `events` add, one row per key.
pub fn tally(events: &[Countable]) -> Vec<CountRow> {
    let mut counts: BTreeMap<(NaiveDate, String, CountKind, String), i64> = BTreeMap::new();
    for key in events.iter().filter_map(count_of) {
        *counts.entry(key).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|((day, topic_key, kind, label), count)| CountRow { day, topic_key, kind, label, count })
        .collect()
}

/// Counts the next events after the rollup's position, up to `batch` of them, in one
/// transaction; how many it counted (0: it was current).
pub fn step(db: &mut Db, batch: i64) -> Result<usize, Error> {
    db.transaction(|db| {
        let at = store::daily_counts::take_position(db)?;
        let events = store::events::countable_after(db, at, batch)?;
        let Some(last) = events.last().map(|e| e.seq) else { return Ok(0) };
        store::daily_counts::add(db, &tally(&events))?;
        if !store::daily_counts::advance(db, at, last)? {
            // Held under the row's lock, the position cannot have moved; should it
            // have, nothing of this step is kept.
            return Err(Error::bug("the rollup's position moved under its lock"));
        }
        Ok(events.len())
    })
}

/// How far the rollup is: its position, and the ledger's head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub position: i64,
    pub head: i64,
}

impl Progress {
    /// Events not yet counted.
    pub fn behind(self) -> i64 {
        (self.head - self.position).max(0)
    }
}

pub fn progress(db: &mut Db) -> Result<Progress, Error> {
    Ok(Progress { position: store::daily_counts::position(db)?, head: store::events::head(db)? })
}

/// Counts what the ledger holds beyond the rollup's position, step by step, for at
/// most about `budget` (`None`: until it is current); where it got to, and how many
/// events this call counted.
pub fn catch_up(db: &mut Db, budget: Option<Duration>) -> Result<(Progress, usize), Error> {
    let started = Instant::now();
    let mut counted = 0;
    loop {
        let now = progress(db)?;
        if now.behind() == 0 || budget.is_some_and(|b| started.elapsed() >= b) {
            return Ok((now, counted));
        }
        match step(db, BATCH)? {
            0 => return Ok((progress(db)?, counted)),
            n => counted += n,
        }
    }
}

/// Keeps the rollup current: every `poll`, counts what is new (a look at two numbers
/// when nothing is). Ends when the context is dropped.
pub fn spawn(cx: Weak<Context>, poll: Duration) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name("rollup".into()).spawn(move || {
        let mut last_warning: Option<Instant> = None;
        // A long stretch of counting (a first start on a large ledger): since when, and
        // how many so far, to say once it is done.
        let mut backlog: Option<(Instant, usize)> = None;
        loop {
            let Some(strong) = cx.upgrade() else { return };
            let pool = strong.pool.clone();
            drop(strong);
            // A slice at a time, so that the context's end is noticed within a second
            // even while a long ledger is counted.
            let round = Instant::now();
            let result = pool
                .get()
                .map_err(|e| Error::Unavailable(format!("database pool: {e}")))
                .and_then(|mut db| catch_up(&mut db, Some(Duration::from_secs(1))));
            match result {
                Ok((progress, counted)) if progress.behind() > 0 => {
                    let (_, total) = backlog.get_or_insert((round, 0));
                    *total += counted;
                    continue;
                }
                Ok((_, counted)) => {
                    if let Some((since, total)) = backlog.take() {
                        tracing::info!(
                            events = total + counted,
                            ms = since.elapsed().as_millis() as u64,
                            "the daily counts caught up with the ledger"
                        );
                    }
                }
                Err(e) => {
                    if last_warning.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
                        last_warning = Some(Instant::now());
                        tracing::warn!(error = %e, "cannot roll up the ledger");
                    }
                }
            }
            let until = Instant::now() + poll;
            while Instant::now() < until {
                if cx.strong_count() == 0 {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50).min(poll));
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDateTime;

    use super::*;
    use crate::domain::{Reason, UnsubscribeReason};

    fn at(day: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, day).unwrap().and_hms_opt(23, 59, 59).unwrap()
    }

    fn event(seq: i64, kind: EventType, source: &str) -> Countable {
        Countable {
            seq,
            occurred_at: at(1),
            kind,
            topic_key: None,
            old_status: None,
            new_status: None,
            reason: None,
            source: source.to_owned(),
            unsubscribe_reason: None,
        }
    }

    fn status(kind: EventType, topic: Option<&str>, old: Option<Status>, new: Option<Status>) -> Countable {
        Countable {
            topic_key: topic.map(str::to_owned),
            old_status: old,
            new_status: new,
            ..event(1, kind, "one_click")
        }
    }

    #[test]
    fn changes_of_status_count_as_subscribes_and_unsubscribes_by_source() {
        use Status::*;
        let day = at(1).date();
        let key = |topic: &str, kind, label: &str| Some((day, topic.to_owned(), kind, label.to_owned()));
        let changed = EventType::SubscriptionChanged;
        assert_eq!(
            count_of(&status(changed, Some("news"), Some(Subscribed), Some(Unsubscribed))),
            key("news", CountKind::Unsubscribe, "one_click")
        );
        assert_eq!(
            count_of(&status(changed, Some("news"), None, Some(Subscribed))),
            key("news", CountKind::Subscribe, "one_click")
        );
        assert_eq!(count_of(&status(changed, Some("news"), Some(Unsubscribed), Some(Unsubscribed))), None);
        assert_eq!(count_of(&status(changed, Some("news"), None, Some(Pending))), None);
        assert_eq!(count_of(&status(changed, Some("news"), Some(Pending), None)), None, "a purge is none");
        assert_eq!(
            count_of(&status(EventType::UnsubscribedAllChanged, None, Some(Subscribed), Some(Unsubscribed))),
            key("", CountKind::Unsubscribe, "one_click")
        );
    }

    #[test]
    fn suppressions_and_answers_count_by_reason_and_no_person_is_kept() {
        let day = at(1).date();
        let bounce = Countable {
            reason: Some(Reason::HardBounce),
            ..event(1, EventType::SuppressionAdded, "feedback:ses")
        };
        assert_eq!(
            count_of(&bounce),
            Some((day, String::new(), CountKind::Suppression, "hard_bounce".into()))
        );
        let answer = Countable {
            topic_key: Some("news".into()),
            unsubscribe_reason: Some(UnsubscribeReason::TooFrequent),
            ..event(2, EventType::UnsubscribeReason, "page")
        };
        assert_eq!(
            count_of(&answer),
            Some((day, "news".into(), CountKind::UnsubscribeReason, "too_frequent".into()))
        );
        assert_eq!(source_label("feedback:ses"), "feedback");
        assert_eq!(source_label("console:ops@example.com"), "console");
        assert_eq!(source_label("Someone@example.com"), "other");
        assert_eq!(source_label(""), "other");
        assert_eq!(count_of(&event(3, EventType::TopicChanged, "admin")), None);
    }

    #[test]
    fn a_tally_adds_up_per_day_and_key() {
        let mut late = status(EventType::SubscriptionChanged, Some("news"), None, Some(Status::Unsubscribed));
        late.occurred_at = at(2);
        let events = vec![
            status(EventType::SubscriptionChanged, Some("news"), None, Some(Status::Unsubscribed)),
            status(EventType::SubscriptionChanged, Some("news"), None, Some(Status::Unsubscribed)),
            late,
            event(4, EventType::TopicChanged, "admin"),
        ];
        let rows = tally(&events);
        assert_eq!(
            rows.iter().map(|r| (r.day, r.count)).collect::<Vec<_>>(),
            [(at(1).date(), 2), (at(2).date(), 1)]
        );
    }
}
