//! Bounces and complaints reported by mail providers become suppressions; their
//! unsubscribes become unsubscribes. Each notification is applied once (a redelivery
//! changes nothing), each in its own savepoint (a bad one never undoes the good), all
//! of a delivery in one transaction (a crash leaves none of it half-applied). Only an
//! entry's own fault is an entry of `errors`; a fault of the service's fails the
//! delivery with 5xx, so that the provider sends it again.

use std::collections::HashMap;

use chrono::{NaiveDateTime, TimeDelta};
use serde::Serialize;
use utoipa::ToSchema;

use super::contacts::{self, ContactRef, ContactWrite};
use super::suppressions::{self, Policy, SuppressionWrite};
use crate::domain::feedback::mailgun::MailgunKey;
use crate::domain::feedback::sendgrid::SendgridKey;
use crate::domain::feedback::ses::SnsCertificates;
use crate::domain::feedback::{Entry, Kind, Notice};
use crate::domain::{time, AddressHasher, NormalizedAddress, Provider, Reason, Source, Status, TopicKey};
use crate::error::Error;
use crate::service::Context;
use crate::store::{self, Tx};
use crate::Config;

/// What the settings say about providers: the keys their signatures are checked
/// with (none: not checked), and the groups of mail whose unsubscribes are topics'.
#[derive(Clone, Default)]
pub struct Providers {
    pub sns_certificates: Option<SnsCertificates>,
    pub sendgrid_key: Option<SendgridKey>,
    pub mailgun_key: Option<MailgunKey>,
    topics: HashMap<(Provider, String), TopicKey>,
}

impl Providers {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        use anyhow::{anyhow, Context as _};
        let sns_certificates = match &config.sns_certificates {
            Some(path) => {
                let pem = std::fs::read(path).with_context(|| {
                    format!("PREFCENTER_SNS_CERTIFICATES: cannot read {}", path.display())
                })?;
                Some(
                    SnsCertificates::from_pem(&pem)
                        .map_err(|e| anyhow!("PREFCENTER_SNS_CERTIFICATES: {e}"))?,
                )
            }
            None => None,
        };
        let sendgrid_key = match &config.sendgrid_verification_key {
            Some(key) => Some(
                SendgridKey::parse(key).map_err(|e| anyhow!("PREFCENTER_SENDGRID_VERIFICATION_KEY: {e}"))?,
            ),
            None => None,
        };
        Ok(Self {
            sns_certificates,
            sendgrid_key,
            mailgun_key: config.mailgun_signing_key.as_deref().map(MailgunKey::new),
            topics: config
                .feedback_topics
                .iter()
                .map(|t| ((t.provider, t.group.clone()), t.topic.clone()))
                .collect(),
        })
    }

    /// The topic an unsubscribe names, directly or through the provider's group.
    fn topic(&self, provider: Provider, notice: &Notice) -> Option<TopicKey> {
        notice.topic.clone().or_else(|| {
            let group = notice.group.as_ref()?;
            self.topics.get(&(provider, group.clone())).cloned()
        })
    }
}

/// What a delivery of notifications did.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct FeedbackReport {
    pub received: u64,
    pub applied: u64,
    /// Notifications seen before, left alone.
    pub duplicates: u64,
    /// Events that change nothing here (deliveries, opens, deferrals…).
    pub ignored: u64,
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
    pub fn from_config(config: &Config) -> Self {
        Self {
            threshold: config.soft_bounce_threshold as i64,
            window: TimeDelta::days(config.soft_bounce_window_days as i64),
            suppress_for: TimeDelta::days(config.soft_bounce_suppress_days as i64),
        }
    }
}

/// Applies one notice; `false` when it was a duplicate.
fn apply(
    db: &mut Tx,
    hasher: &AddressHasher,
    provider: Provider,
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
    let hash = hasher.hash(&address);
    db.lock_addresses(&[hash.0])?;
    let source = format!("feedback:{provider}");
    let suppress = |db: &mut Tx, reason: Reason, expires_at: Option<NaiveDateTime>| {
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
            // `Notice::settle` has brought the time within 1970 and now.
            let occurred_at = notice.occurred_at;
            store::suppressions::record_soft_bounce(db, &hash.0, occurred_at, provider)?;
            let recent = store::suppressions::soft_bounces_between(
                db,
                &hash.0,
                occurred_at - rules.window,
                occurred_at,
            )?;
            let current = store::suppressions::find(db, &hash.0)?;
            // A soft bounce never replaces a harder block.
            let blocked = current.is_some_and(|s| s.reason != Reason::SoftBounce);
            if recent >= rules.threshold && !blocked {
                suppress(db, Reason::SoftBounce, Some(time::later(occurred_at, rules.suppress_for)))?;
            }
        }
        Kind::Unsubscribe => {
            let mut write = ContactWrite {
                source: Some(Source::Feedback),
                message_id: notice.message_id.clone(),
                reported_by: Some((provider, notice.detail.clone())),
                ..ContactWrite::default()
            };
            // An unknown topic fails in upsert_on, as it does for the API.
            match &notice.topic {
                Some(topic) => _ = write.subscriptions.insert(topic.clone(), Status::Unsubscribed),
                None => write.unsubscribed_all = Some(true),
            }
            contacts::upsert_on(db, hasher, &ContactRef::Address(address), &write)?;
        }
    }
    Ok(true)
}

/// Applies a delivery from `provider`, each notice in its own savepoint. `sns_topic`:
/// the SNS topic it came from, whose pending confirmation it proves done.
pub async fn ingest(
    cx: &Context,
    provider: Provider,
    entries: Vec<Entry>,
    sns_topic: Option<String>,
) -> Result<FeedbackReport, Error> {
    let hasher = cx.hasher.clone();
    let rules = SoftBounces::from_config(&cx.config);
    let now = store::now();
    let entries: Vec<_> = entries
        .into_iter()
        .map(|entry| match entry {
            Entry::Notice(notice) => {
                let topic = cx.providers.topic(provider, &notice);
                Notice { topic, ..notice }.settle(now)
            }
            other => other,
        })
        .collect();
    super::write(cx, move |db| {
        if let Some(topic_arn) = &sns_topic {
            store::sns_confirmations::settle(db, topic_arn)?;
        }
        let mut report = FeedbackReport { received: entries.len() as u64, ..FeedbackReport::default() };
        for (index, entry) in entries.into_iter().enumerate() {
            let outcome = match entry {
                Entry::Notice(notice) => {
                    match db.savepoint(|db| apply(db, &hasher, provider, rules, &notice)) {
                        // A fault of ours (the database) fails the whole delivery: the
                        // provider retries it, and nothing of it stays half-applied (its
                        // receipts roll back with it, so the retry is no duplicate).
                        Err(e) if e.is_server_fault() => return Err(e),
                        other => other.map_err(|e| e.to_string()),
                    }
                }
                Entry::Ignored => {
                    report.ignored += 1;
                    continue;
                }
                Entry::Unusable(why) => Err(why),
            };
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

/// An SNS subscription waiting to be confirmed, as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PendingConfirmation {
    pub topic_arn: String,
    /// Visit (GET) this address to confirm the subscription.
    pub subscribe_url: String,
    pub received_at: chrono::DateTime<chrono::Utc>,
}

/// Keeps SNS's request to confirm a subscription, for the operator to act on.
pub async fn ask_confirmation(cx: &Context, topic_arn: String, subscribe_url: String) -> Result<(), Error> {
    tracing::warn!(
        topic_arn,
        subscribe_url,
        "SNS asks to confirm a subscription: visit the SubscribeURL (also listed at GET /v1/feedback/ses/confirmations)"
    );
    store::run(&cx.pool, move |db| {
        store::sns_confirmations::record(db, &topic_arn, &subscribe_url, store::now()).map_err(Error::from)
    })
    .await
}

/// Forgets a topic's pending confirmation once its subscription is gone.
pub async fn settle_confirmation(cx: &Context, topic_arn: String) -> Result<(), Error> {
    store::run(&cx.pool, move |db| {
        store::sns_confirmations::settle(db, &topic_arn).map(drop).map_err(Error::from)
    })
    .await
}

pub async fn pending_confirmations(cx: &Context) -> Result<Vec<PendingConfirmation>, Error> {
    let rows = store::run(&cx.pool, |db| store::sns_confirmations::pending(db).map_err(Error::from)).await?;
    Ok(rows
        .into_iter()
        .map(|r| PendingConfirmation {
            topic_arn: r.topic_arn,
            subscribe_url: r.subscribe_url,
            received_at: r.received_at.and_utc(),
        })
        .collect())
}
