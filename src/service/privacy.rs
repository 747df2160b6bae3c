//! The privacy rights: access (everything held about a person, as one document),
//! erasure (which keeps the address from being mailed again by mistake), and
//! retention (forgetting what is no longer needed).

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::contacts::{self, ContactRef, ContactView, EventView};
use super::suppressions::SuppressionView;
use crate::domain::{AddressHash, AddressHasher, EventType, Reason, Scope, Source, Status};
use crate::error::Error;
use crate::service::Context;
use crate::store::events::EventRow;
use crate::store::suppressions::SuppressionRow;
use crate::store::{self, Db};

/// Everything prefcenter holds about one person.
#[derive(Debug, Serialize, ToSchema)]
pub struct Export {
    pub exported_at: DateTime<Utc>,
    /// `null` when only a suppression of the address is held.
    pub contact: Option<ContactView>,
    /// The consent history: every change, with its evidence.
    pub events: Vec<EventView>,
    /// Suppressions of the address.
    pub suppressions: Vec<SuppressionView>,
}

fn export_on(db: &mut Db, hasher: &AddressHasher, target: &ContactRef) -> Result<Export, Error> {
    let contact = contacts::find(db, hasher, target)?;
    let hash = match (&contact, target) {
        (Some(c), _) => AddressHash::from_slice(&c.address_hash),
        (None, ContactRef::Hash(hash)) => Some(*hash),
        (None, ContactRef::Address(address)) => Some(hasher.hash(address)),
        (None, ContactRef::Id(_)) => None,
    };
    let suppressions: Vec<SuppressionView> = match hash {
        Some(hash) => store::suppressions::find(db, &hash.0)?
            .filter(|s| s.reason != Reason::Erasure)
            .map(SuppressionView::from)
            .into_iter()
            .collect(),
        None => Vec::new(),
    };
    let Some(contact) = contact else {
        if suppressions.is_empty() {
            return Err(Error::not_found("nothing is held about this contact"));
        }
        return Ok(Export { exported_at: Utc::now(), contact: None, events: Vec::new(), suppressions });
    };
    let events = store::events::all_for_contact(db, &contact.id)?.into_iter().map(EventView::from).collect();
    let contact = contacts::view(db, contact)?;
    Ok(Export { exported_at: Utc::now(), contact: Some(contact), events, suppressions })
}

pub async fn export(cx: &Context, target: ContactRef) -> Result<Export, Error> {
    let hasher = cx.hasher.clone();
    store::run(&cx.pool, move |db| export_on(db, &hasher, &target)).await
}

/// Erases a contact in one transaction: the contact and its statuses are deleted,
/// every personal field of its events is cleared (the events stay, as counts), and
/// an `erasure` suppression keyed by the address hash — with no address — keeps the
/// address from being mailed again. On SQLite the log is then checkpointed, so that
/// nothing readable remains in the database files.
pub async fn erase(cx: &Context, target: ContactRef, source: Source) -> Result<(), Error> {
    let hasher = cx.hasher.clone();
    super::write(cx, move |db| {
        let contact = contacts::lock_with_address(db, &hasher, &target)?;
        let hash = match (&contact, &target) {
            (Some(c), _) => {
                AddressHash::from_slice(&c.address_hash).ok_or_else(|| Error::bug("stored hash"))?
            }
            (None, ContactRef::Hash(hash)) => *hash,
            (None, _) => return Err(Error::not_found("there is no such contact")),
        };
        let now = store::now();
        if let Some(contact) = &contact {
            store::events::scrub(db, store::events::Erased::Contact(&contact.id))?;
            store::contacts::delete(db, &contact.id)?;
        }
        store::events::scrub(db, store::events::Erased::Address(&hash.0))?;
        let row = SuppressionRow {
            address_hash: hash.0.to_vec(),
            email: None,
            reason: Reason::Erasure,
            scope: Scope::All,
            source: source.as_str().into(),
            note: None,
            created_at: now,
            expires_at: None,
        };
        match store::suppressions::find(db, &hash.0)? {
            Some(_) => store::suppressions::update(db, &row)?,
            None => store::suppressions::insert(db, &row)?,
        }
        for kind in [EventType::ContactErased, EventType::SuppressionAdded] {
            let erasure = kind == EventType::SuppressionAdded;
            store::events::append(
                db,
                EventRow {
                    address_hash: Some(hash.0.to_vec()),
                    reason: erasure.then_some(Reason::Erasure),
                    scope: erasure.then_some(Scope::All),
                    ..EventRow::new(kind, now, source.as_str())
                },
            )?;
        }
        Ok(())
    })
    .await?;
    store::run(&cx.pool, store::checkpoint).await
}

/// What asking to erase from the pages did: erasure from a page needs a link mailed to
/// the address first, since a page's link may have been forwarded with a newsletter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErasureAsked {
    /// The confirmation link was mailed to this address (masked).
    Sent(String),
    /// The contact is known only by its address hash: there is nowhere to mail.
    NoAddress,
    /// Nothing is held about the link's recipient.
    NothingHeld,
}

/// Mails the link that confirms an erasure (`/d/{token}`, valid for
/// `PREFCENTER_ERASE_LINK_MINUTES`) to the contact's address, in its language. Counted
/// against the same limits as every mail a recipient can ask for.
pub async fn ask_erasure(
    cx: std::sync::Arc<Context>,
    link: crate::domain::token::Link,
    client: Option<String>,
    languages: Vec<String>,
) -> Result<ErasureAsked, Error> {
    use crate::domain::token::{Audience, Recipient};
    let hasher = cx.hasher.clone();
    let target = ContactRef::from(link.recipient);
    let contact = store::run(&cx.pool, move |db| contacts::find(db, &hasher, &target)).await?;
    let Some(contact) = contact else { return Ok(ErasureAsked::NothingHeld) };
    let Some(email) = contact.email.clone() else { return Ok(ErasureAsked::NoAddress) };
    cx.mail_limits.count(client.as_deref().unwrap_or("unknown"), &hex::encode(&contact.address_hash))?;
    let url = super::link_url(&cx, Audience::Erase, Recipient::Contact(contact.id), None, None);
    let lang = crate::i18n::Lang::choose(contact.locale.as_deref(), &languages);
    let message = super::mail::erase_confirmation(&cx, lang, &email, &url, cx.config.erase_link_minutes)?;
    let sender = cx.clone();
    actix_web::web::block(move || sender.mailer.send(&sender.mail_from, message))
        .await
        .map_err(|e| Error::internal("blocking task failed", e))??;
    Ok(ErasureAsked::Sent(super::recipients::mask(&email)))
}

/// How long things are kept.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Client pseudonyms and user agents on events, and the comments of answers to
    /// "why did you leave?".
    pub client_data: TimeDelta,
    /// How long an expired suppression is kept before it is removed.
    pub expired_suppressions: TimeDelta,
    /// How long a `pending` status waits for its confirmation.
    pub pending: TimeDelta,
}

impl Retention {
    pub fn from_config(config: &crate::Config) -> Self {
        let days = |d: u64| TimeDelta::days(i64::try_from(d).unwrap_or(i64::MAX / 86_400_000).min(365_000));
        Self {
            client_data: days(config.retention_days),
            expired_suppressions: days(config.expired_suppression_days),
            pending: days(config.pending_days),
        }
    }
}

/// What one purge removed.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct PurgeReport {
    pub events_scrubbed: usize,
    /// Comments of answers to "why did you leave?" older than the retention period.
    pub comments_cleared: usize,
    pub suppressions_removed: usize,
    pub pending_removed: usize,
}

/// Applies retention as of `now` (a parameter, so tests drive the clock).
pub fn purge_on(db: &mut Db, retention: Retention, now: NaiveDateTime) -> Result<PurgeReport, Error> {
    store::write(db, |db| {
        let mut report = PurgeReport {
            events_scrubbed: store::events::scrub_clients_before(db, now - retention.client_data)?,
            comments_cleared: store::events::clear_reason_comments_before(db, now - retention.client_data)?,
            ..PurgeReport::default()
        };
        // Failed console logins are kept only while they slow the next attempt.
        store::login_failures::forget_before(db, now - super::operators::FORGET)?;
        let expired = store::suppressions::expired_before(db, now - retention.expired_suppressions)?;
        let hashes: Vec<&[u8]> = expired.iter().map(|row| &row.address_hash[..]).collect();
        db.lock_addresses(&hashes)?;
        for row in expired {
            // Read again under the lock: another process may have renewed it meanwhile.
            let renewed = store::suppressions::find(db, &row.address_hash)?
                .is_none_or(|now| now.expires_at != row.expires_at || now.created_at != row.created_at);
            if renewed {
                continue;
            }
            let event = EventRow {
                detail: Some("expired".into()),
                ..EventRow::new(EventType::SuppressionRemoved, now, Source::Retention.as_str())
            };
            super::suppressions::lift(db, row, event)?;
            report.suppressions_removed += 1;
        }
        for (contact_id, topic, hash) in store::subscriptions::pending_before(db, now - retention.pending)? {
            // Read again under the contact's lock: it may have been confirmed meanwhile.
            store::locks::contact_by_id(db, &contact_id)?;
            let still = store::subscriptions::for_contact(db, &contact_id)?.into_iter().any(|s| {
                s.topic_key == topic && s.status == Status::Pending && s.updated_at < now - retention.pending
            });
            if !still {
                continue;
            }
            store::subscriptions::delete(db, &contact_id, &topic)?;
            store::events::append(
                db,
                EventRow {
                    contact_id: Some(contact_id),
                    address_hash: Some(hash),
                    topic_key: Some(topic),
                    old_status: Some(Status::Pending),
                    detail: Some("never confirmed".into()),
                    ..EventRow::new(EventType::SubscriptionChanged, now, Source::Retention.as_str())
                },
            )?;
            report.pending_removed += 1;
        }
        Ok(report)
    })
}

/// Counts of what retention removed, on `/metrics`.
pub struct PurgeMetrics(prometheus::IntCounterVec);

impl PurgeMetrics {
    pub fn new() -> Self {
        let opts = prometheus::Opts::new("prefcenter_purged_total", "What retention removed, by kind");
        Self(prometheus::IntCounterVec::new(opts, &["kind"]).expect("a valid metric"))
    }

    pub fn register(&self, registry: &prometheus::Registry) -> prometheus::Result<()> {
        registry.register(Box::new(self.0.clone()))
    }

    pub fn record(&self, report: &PurgeReport) {
        self.0.with_label_values(&["event_client_data"]).inc_by(report.events_scrubbed as u64);
        self.0.with_label_values(&["unsubscribe_comment"]).inc_by(report.comments_cleared as u64);
        self.0.with_label_values(&["expired_suppression"]).inc_by(report.suppressions_removed as u64);
        self.0.with_label_values(&["unconfirmed_pending"]).inc_by(report.pending_removed as u64);
    }
}

impl Default for PurgeMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Runs retention every `interval` inside the server, logging and counting what each
/// run removed. Ends when the context is dropped.
pub fn spawn_purger(cx: std::sync::Weak<Context>, interval: std::time::Duration) {
    std::thread::Builder::new()
        .name("retention".into())
        .spawn(move || {
            let mut last: Option<std::time::Instant> = None;
            loop {
                let Some(cx) = cx.upgrade() else { return };
                if last.is_none_or(|at| at.elapsed() >= interval) {
                    last = Some(std::time::Instant::now());
                    let retention = Retention::from_config(&cx.config);
                    let result =
                        cx.pool.get().map_err(|e| Error::Unavailable(e.to_string())).and_then(|mut db| {
                            let report = purge_on(&mut db, retention, store::now())?;
                            cx.index.catch_up(&mut db)?;
                            Ok(report)
                        });
                    match result {
                        Ok(report) => {
                            cx.purged.record(&report);
                            tracing::info!(?report, "retention applied");
                        }
                        Err(e) => tracing::warn!(error = %e, "retention could not run"),
                    }
                }
                drop(cx);
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        })
        .expect("a thread for retention");
}
