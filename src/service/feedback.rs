//! Bounces and complaints reported by mail providers become suppressions; their
//! unsubscribes become unsubscribes. Each notification is applied once (a redelivery
//! changes nothing), each in its own savepoint (a bad one never undoes the good).

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::contacts::{self, ContactRef, ContactWrite};
use super::suppressions::{self, Policy, SuppressionWrite};
use crate::domain::{NormalizedAddress, Reason, Source, Status, TopicKey};
use crate::error::Error;
use crate::store::{self, Db};
use crate::App;

/// What a provider reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    HardBounce,
    SoftBounce,
    Complaint,
    Unsubscribe,
}

/// One notification about one address, whichever provider sent it.
#[derive(Debug, Clone)]
pub struct Notice {
    /// The provider's id for the notification, when it gives one: the key of
    /// idempotence.
    pub id: Option<String>,
    pub email: String,
    pub kind: Kind,
    pub topic: Option<TopicKey>,
    pub message_id: Option<String>,
    /// The provider's diagnostic text.
    pub detail: Option<String>,
    pub occurred_at: NaiveDateTime,
}

/// The generic form (`POST /v1/feedback/generic`), one object or an array of them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenericNotice {
    pub email: String,
    #[serde(rename = "type")]
    pub kind: Kind,
    #[schema(value_type = Option<String>)]
    pub topic: Option<TopicKey>,
    pub message_id: Option<String>,
    pub detail: Option<String>,
    /// Your id for this notification: sending it again then changes nothing.
    pub id: Option<String>,
    /// When it happened (default: now); soft bounces are counted by it.
    pub occurred_at: Option<DateTime<Utc>>,
}

impl From<GenericNotice> for Notice {
    fn from(n: GenericNotice) -> Self {
        Notice {
            id: n.id,
            email: n.email,
            kind: n.kind,
            topic: n.topic,
            message_id: n.message_id,
            detail: n.detail,
            occurred_at: n.occurred_at.map_or_else(store::now, |t| t.naive_utc()),
        }
    }
}

/// What a delivery of notifications did.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct FeedbackReport {
    pub received: u64,
    pub applied: u64,
    /// Notifications seen before, left alone.
    pub duplicates: u64,
    pub failed: u64,
    pub errors: Vec<EntryError>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EntryError {
    /// The entry's position in the delivery, from 0.
    pub index: usize,
    pub error: String,
}

/// When soft bounces turn into a suppression.
#[derive(Debug, Clone, Copy)]
pub struct SoftBounces {
    pub threshold: i64,
    pub window: TimeDelta,
    pub suppress_for: TimeDelta,
}

impl SoftBounces {
    pub fn from_config(config: &crate::Config) -> Self {
        Self {
            threshold: config.soft_bounce_threshold as i64,
            window: TimeDelta::days(config.soft_bounce_window_days as i64),
            suppress_for: TimeDelta::days(config.soft_bounce_suppress_days as i64),
        }
    }
}

/// Applies one notice; `false` when it was a duplicate.
fn apply(
    db: &mut Db,
    app_hasher: &crate::domain::AddressHasher,
    provider: &str,
    rules: SoftBounces,
    notice: &Notice,
) -> Result<bool, Error> {
    let address =
        NormalizedAddress::parse(&notice.email).map_err(|e| Error::invalid("email", e.to_string()))?;
    if let Some(id) = &notice.id {
        if !store::suppressions::first_receipt(db, provider, id, store::now())? {
            return Ok(false);
        }
    }
    let hash = app_hasher.hash(&address);
    let source = format!("feedback:{provider}");
    let suppress = |db: &mut Db, reason: Reason, expires_at: Option<NaiveDateTime>| {
        let write = SuppressionWrite {
            reason,
            scope: None,
            note: notice.detail.clone(),
            expires_at: expires_at.map(|t| t.and_utc()),
        };
        suppressions::apply(db, &hash, &address, &write, &source, Policy::Widen).map(drop)
    };
    match notice.kind {
        Kind::HardBounce => suppress(db, Reason::HardBounce, None)?,
        Kind::Complaint => suppress(db, Reason::Complaint, None)?,
        Kind::SoftBounce => {
            store::suppressions::record_soft_bounce(db, &hash.0, notice.occurred_at, provider)?;
            let recent = store::suppressions::soft_bounces_between(
                db,
                &hash.0,
                notice.occurred_at - rules.window,
                notice.occurred_at,
            )?;
            let current = store::suppressions::find(db, &hash.0)?;
            // A soft bounce never replaces a harder block.
            let blocked = current.is_some_and(|s| s.reason != Reason::SoftBounce.as_str());
            if recent >= rules.threshold && !blocked {
                suppress(db, Reason::SoftBounce, Some(notice.occurred_at + rules.suppress_for))?;
            }
        }
        Kind::Unsubscribe => {
            let mut write = ContactWrite {
                source: Some(Source::Feedback),
                message_id: notice.message_id.clone(),
                ..ContactWrite::default()
            };
            match &notice.topic {
                Some(topic) => {
                    store::topics::find(db, topic.as_str())?
                        .ok_or_else(|| Error::invalid("topic", "there is no such topic"))?;
                    write.subscriptions.insert(topic.clone(), Status::Unsubscribed);
                }
                None => write.unsubscribed_all = Some(true),
            }
            contacts::upsert_on(db, app_hasher, &ContactRef::Address(address), &write)?;
        }
    }
    Ok(true)
}

/// Applies a delivery of notices from `provider`, each entry in its own savepoint;
/// `entries` holds the ones that could not even be read as errors, in place.
pub async fn ingest(
    app: &App,
    provider: &'static str,
    entries: Vec<Result<Notice, String>>,
) -> Result<FeedbackReport, Error> {
    let hasher = app.hasher.clone();
    let rules = SoftBounces::from_config(&app.config);
    super::write(app, move |db| {
        let mut report = FeedbackReport { received: entries.len() as u64, ..FeedbackReport::default() };
        for (index, entry) in entries.into_iter().enumerate() {
            let outcome = entry.and_then(|notice| {
                store::savepoint(db, |db| apply(db, &hasher, provider, rules, &notice))
                    .map_err(|e| e.to_string())
            });
            match outcome {
                Ok(true) => report.applied += 1,
                Ok(false) => report.duplicates += 1,
                Err(error) => {
                    report.failed += 1;
                    report.errors.push(EntryError { index, error });
                }
            }
        }
        Ok(report)
    })
    .await
}

/// Reads the generic form: one notice or an array of them.
pub fn generic(body: serde_json::Value) -> Result<Vec<Result<Notice, String>>, Error> {
    let entries = match body {
        serde_json::Value::Array(items) => items,
        object @ serde_json::Value::Object(_) => vec![object],
        _ => return Err(Error::invalid("body", "a notice object or an array of them")),
    };
    if entries.len() > 10_000 {
        return Err(Error::invalid("body", "at most 10,000 notices a delivery"));
    }
    Ok(entries
        .into_iter()
        .map(|entry| {
            let bytes = serde_json::to_vec(&entry).map_err(|e| e.to_string())?;
            crate::error::parse_json::<GenericNotice>(&bytes).map(Notice::from).map_err(|e| e.to_string())
        })
        .collect())
}
