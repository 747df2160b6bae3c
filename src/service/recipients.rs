//! What recipients do through their links: unsubscribe in one click (or undo it), and
//! read or change their preferences. Every change is recorded with the link's message
//! id, the client's pseudonym and its user agent's family.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::clicks::Click;
use super::contacts::{self, ContactRef, ContactWrite, Evidence, Resubscribe};
use crate::domain::token::{Link, Recipient};
use crate::domain::{Category, Locale, Reason, Source, Status, TopicKey};
use crate::error::{ConflictCode, Error};
use crate::service::Context;
use crate::store::contacts::ContactRow;
use crate::store::topics::{Catalog, TopicRow, TranslationRow};
use crate::store::{self, Db};

/// A topic as a recipient sees it, in their language.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TopicChoice {
    pub key: String,
    pub name: String,
    pub description: String,
    /// How often it is sent ("weekly"), when the operator says.
    pub frequency: Option<String>,
    pub category: Category,
    /// Whether the recipient chose this kind of mail (or did not decline an opt-out
    /// topic). Nothing promotional is sent while `unsubscribed_all` or a pause holds.
    pub subscribed: bool,
    /// Asked for and waiting for the confirmation mailed to the address.
    pub pending: bool,
    /// `false` for transactional topics: they are always sent.
    pub editable: bool,
}

/// The preference page's state (`GET /v1/preferences`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Preferences {
    /// Masked, e.g. `a***@example.com`; `null` when only the address's hash is held.
    pub email: Option<String>,
    pub locale: Option<String>,
    pub unsubscribed_all: bool,
    /// Promotional mail is paused until then; `null` when it is not paused.
    pub paused_until: Option<DateTime<Utc>>,
    pub topics: Vec<TopicChoice>,
}

/// A partial change from the preference page: topics not named keep their status.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferencesWrite {
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, bool>)]
    pub topics: BTreeMap<TopicKey, bool>,
    pub unsubscribed_all: Option<bool>,
    #[schema(value_type = Option<String>, pattern = "^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$", max_length = 35)]
    pub locale: Option<Locale>,
    /// Pauses promotional mail until then (at most 365 days ahead); `null` resumes it.
    #[serde(default, deserialize_with = "super::contacts::present_time")]
    #[schema(value_type = Option<DateTime<Utc>>, example = "2027-03-01T00:00:00Z")]
    pub paused_until: Option<Option<DateTime<Utc>>>,
}

/// Where the recipient of an unsubscribe link stands, for its pages to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Not unsubscribed from what the link names.
    Receiving,
    /// Unsubscribed from the link's topic.
    UnsubscribedTopic,
    /// Unsubscribed from all promotional mail.
    UnsubscribedAll,
    /// The address was erased on request: nothing at all is sent to it.
    Erased,
}

/// What an unsubscribe link concerns, for its pages.
#[derive(Debug, Clone)]
pub struct Landing {
    /// The topic's name in the recipient's language; `None` for all promotional mail.
    pub topic: Option<String>,
    pub locale: Option<String>,
    pub standing: Standing,
}

pub(crate) fn gone() -> Error {
    Error::NotFound("this link belongs to an address that is no longer held".into())
}

/// The contact a link names (`None`: an address never stored); 404 for a contact id
/// that is gone (erased).
fn contact_of(
    db: &mut Db,
    app_hasher: &crate::domain::AddressHasher,
    link: &Link,
) -> Result<Option<ContactRow>, Error> {
    let found = contacts::find(db, app_hasher, &ContactRef::from(link.recipient))?;
    if found.is_none() && matches!(link.recipient, Recipient::Contact(_)) {
        return Err(gone());
    }
    Ok(found)
}

/// The name of the topic a link names, in a language; 404 when it is gone or archived.
fn topic_name(db: &mut Db, key: &TopicKey, locale: Option<&str>) -> Result<String, Error> {
    let row = store::topics::find(db, key.as_str())?
        .filter(|t| t.archived_at.is_none())
        .ok_or_else(|| Error::NotFound("this link names a topic that no longer exists".into()))?;
    let translations = store::topics::translations(db, std::slice::from_ref(&row.key))?;
    Ok(words_in(&row, &translations, locale).name)
}

/// A topic's words in one language.
pub(crate) struct TopicWords {
    pub name: String,
    pub description: String,
    pub frequency: Option<String>,
}

/// A topic's words in a locale's language, from its translations (those of other
/// topics are passed over), or as the operator wrote them; a translation without a
/// frequency takes the operator's.
pub(crate) fn words_in(row: &TopicRow, translations: &[TranslationRow], locale: Option<&str>) -> TopicWords {
    let language = |l: &str| l.split(['-', '_']).next().unwrap_or(l).to_ascii_lowercase();
    let wanted = locale.map(language);
    let translated =
        translations.iter().find(|t| t.topic_key == row.key && Some(language(&t.locale)) == wanted);
    let frequency = |f: &str| Some(f.to_owned()).filter(|f| !f.is_empty());
    match translated {
        Some(t) => TopicWords {
            name: t.name.clone(),
            description: t.description.clone(),
            frequency: frequency(&t.frequency).or_else(|| frequency(&row.frequency)),
        },
        None => TopicWords {
            name: row.name.clone(),
            description: row.description.clone(),
            frequency: frequency(&row.frequency),
        },
    }
}

/// Where the link's recipient stands on what the link names.
fn standing(db: &mut Db, contact: Option<&ContactRow>, link: &Link) -> Result<Standing, Error> {
    if is_erased(db, link)? {
        return Ok(Standing::Erased);
    }
    let Some(contact) = contact else { return Ok(Standing::Receiving) };
    if contact.unsubscribed_all {
        return Ok(Standing::UnsubscribedAll);
    }
    let Some(topic) = &link.topic else { return Ok(Standing::Receiving) };
    let unsubscribed = store::subscriptions::for_contact(db, &contact.id)?
        .iter()
        .any(|s| s.topic_key == topic.as_str() && s.status == Status::Unsubscribed);
    Ok(if unsubscribed { Standing::UnsubscribedTopic } else { Standing::Receiving })
}

/// The landing page's content.
fn landing_on(
    db: &mut Db,
    app_hasher: &crate::domain::AddressHasher,
    link: &Link,
    languages: &[String],
) -> Result<Landing, Error> {
    let contact = contact_of(db, app_hasher, link)?;
    let locale = contact.as_ref().and_then(|c| c.locale.clone()).or_else(|| languages.first().cloned());
    let topic = match &link.topic {
        Some(key) => Some(topic_name(db, key, locale.as_deref())?),
        None => None,
    };
    let standing = standing(db, contact.as_ref(), link)?;
    Ok(Landing { topic, locale, standing })
}

/// The landing page's content. Reads only: link scanners fetch every URL in a mail.
pub async fn landing(cx: &Context, link: Link, languages: Vec<String>) -> Result<Landing, Error> {
    let hasher = cx.hasher.clone();
    store::run(&cx.pool, move |db| landing_on(db, &hasher, &link, &languages)).await
}

/// Whether the link names an address (not stored as a contact) that was erased.
fn is_erased(db: &mut Db, link: &Link) -> Result<bool, Error> {
    Ok(match link.recipient {
        Recipient::Address(hash) => {
            store::suppressions::find(db, &hash.0)?.is_some_and(|s| s.reason == Reason::Erasure)
        }
        Recipient::Contact(_) => false,
    })
}

/// Why a change for an erased address is refused: its erasure suppression already
/// blocks everything, and nothing may be stored for it again without new consent.
pub(crate) fn erased() -> Error {
    Error::Conflict { code: ConflictCode::Erased, detail: "this address was erased on request".into() }
}

fn refuse_if_erased(db: &mut Db, link: &Link) -> Result<(), Error> {
    if is_erased(db, link)? {
        return Err(erased());
    }
    Ok(())
}

/// Unsubscribes from the link's topic, or from all promotional mail for `*`.
/// Idempotent: a second time changes nothing and records nothing.
pub async fn unsubscribe(
    cx: &Context,
    link: Link,
    evidence: Evidence,
    source: Source,
    languages: Vec<String>,
) -> Result<Landing, Error> {
    change(cx, link, evidence, source, languages, Status::Unsubscribed, None).await
}

/// Reverses an unsubscribe, because the recipient asks for it on the page that
/// confirmed it.
pub async fn undo(
    cx: &Context,
    link: Link,
    evidence: Evidence,
    languages: Vec<String>,
) -> Result<Landing, Error> {
    let proof = Resubscribe {
        consent: "undid the unsubscribe on its confirmation page".into(),
        legal_basis: Some("consent".into()),
    };
    change(cx, link, evidence, Source::Page, languages, Status::Subscribed, Some(proof)).await
}

/// A click's change, applied with the other clicks waiting for the writer
/// ([`clicks`](super::clicks)); the page's words come from the same transaction, so once
/// the change is committed nothing can fail its answer.
async fn change(
    cx: &Context,
    link: Link,
    evidence: Evidence,
    source: Source,
    languages: Vec<String>,
    status: Status,
    resubscribe: Option<Resubscribe>,
) -> Result<Landing, Error> {
    let click = Click { link, evidence, source, status, resubscribe, languages };
    cx.writer.write_bulk(&cx.clicks, click).await
}

/// An address as the pages show it: `a***@example.com`.
pub(crate) fn mask(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => format!("{}***@{domain}", local.chars().next().unwrap_or('*')),
        None => "***".into(),
    }
}

/// The recipient's choices, topic names in their language: the contact's locale, else
/// the first of `languages` (the browser's).
fn preferences_on(
    db: &mut Db,
    link: &Link,
    languages: &[String],
    held: Option<&Catalog>,
) -> Result<Preferences, Error> {
    refuse_if_erased(db, link)?;
    let lookup = match &link.recipient {
        Recipient::Address(hash) => store::contacts::Lookup::Hash(&hash.0),
        Recipient::Contact(id) => store::contacts::Lookup::Id(id),
    };
    let (contact, statuses): (Option<ContactRow>, BTreeMap<String, Status>) =
        match store::contacts::with_statuses(db, lookup)? {
            Some((contact, statuses)) => (Some(contact), statuses.into_iter().collect()),
            None if matches!(link.recipient, Recipient::Contact(_)) => return Err(gone()),
            None => (None, BTreeMap::new()),
        };
    let locale = contact.as_ref().and_then(|c| c.locale.clone());
    let display = locale.clone().or_else(|| languages.first().cloned());
    let mut topics = Vec::new();
    // The topics and their translations as the decision index holds them (this page
    // is read far more often than topics change); read here only before it has loaded.
    let read;
    let catalog = match held {
        Some(catalog) => catalog,
        None => {
            read = store::topics::catalog(db)?;
            &read
        }
    };
    let translations = &catalog.translations;
    for row in catalog.topics.iter().filter(|t| t.public && t.archived_at.is_none()) {
        let words = words_in(row, translations, display.as_deref());
        let category = row.category;
        let status = statuses.get(&row.key).copied();
        let subscribed = match (category, status) {
            (Category::Transactional, _) => true,
            (_, Some(Status::Subscribed)) => true,
            (_, Some(_)) => false,
            (_, None) => row.default_subscribed,
        };
        topics.push(TopicChoice {
            key: row.key.clone(),
            name: words.name,
            description: words.description,
            frequency: words.frequency,
            category,
            subscribed,
            pending: category == Category::Promotional && status == Some(Status::Pending),
            editable: category == Category::Promotional,
        });
    }
    Ok(Preferences {
        email: contact.as_ref().and_then(|c| c.email.as_deref()).map(mask),
        unsubscribed_all: contact.as_ref().is_some_and(|c| c.unsubscribed_all),
        paused_until: contact
            .as_ref()
            .and_then(|c| crate::domain::pause::current(c.paused_until, store::now()))
            .map(super::utc),
        locale,
        topics,
    })
}

pub async fn preferences(cx: &Context, link: Link, languages: Vec<String>) -> Result<Preferences, Error> {
    let held = cx.index.catalog();
    store::run(&cx.pool, move |db| preferences_on(db, &link, &languages, held.as_deref())).await
}

/// What of `choices` differs from what the recipient has now. A page sends its whole
/// form — every box, ticked or not — and the consent ledger must record only what the
/// person changed: a box left ticked on an opt-out topic is not a new "subscribed".
fn changes_only(mut choices: PreferencesWrite, now: &Preferences) -> PreferencesWrite {
    choices.topics.retain(|key, wanted| {
        now.topics.iter().find(|t| t.key == key.as_str()).is_none_or(|t| t.subscribed != *wanted)
    });
    if choices.unsubscribed_all == Some(now.unsubscribed_all) {
        choices.unsubscribed_all = None;
    }
    if choices.locale.as_ref().map(|l| l.as_str()) == now.locale.as_deref() {
        choices.locale = None;
    }
    if choices.paused_until == Some(now.paused_until) {
        choices.paused_until = None;
    }
    choices
}

/// Applies the page's choices. The recipient makes them, so they may re-subscribe.
pub async fn update_preferences(
    cx: &Context,
    link: Link,
    choices: PreferencesWrite,
    evidence: Evidence,
    languages: Vec<String>,
) -> Result<Preferences, Error> {
    let hasher = cx.hasher.clone();
    super::write(cx, move |db| {
        // Locked before it is read: what changed is worked out from what is held.
        contacts::lock(db, &hasher, &ContactRef::from(link.recipient), &[])?;
        let before = preferences_on(db, &link, &languages, None)?;
        let choices = changes_only(choices, &before);
        let mut write = ContactWrite {
            source: Some(Source::Page),
            message_id: link.message_id.clone(),
            unsubscribed_all: choices.unsubscribed_all,
            locale: choices.locale.map(Some),
            paused_until: choices.paused_until,
            evidence,
            resubscribe: Some(Resubscribe {
                consent: "chosen on the preference page".into(),
                legal_basis: Some("consent".into()),
            }),
            ..ContactWrite::default()
        };
        for (key, wanted) in choices.topics {
            let topic =
                store::topics::find(db, key.as_str())?.filter(|t| t.archived_at.is_none() && t.public);
            match topic {
                None => return Err(Error::invalid(format!("topics.{key}"), "there is no such topic")),
                Some(t) if t.category == Category::Transactional => {
                    return Err(Error::invalid(format!("topics.{key}"), "transactional mail is always sent"))
                }
                Some(_) => {}
            }
            write.subscriptions.insert(key, if wanted { Status::Subscribed } else { Status::Unsubscribed });
        }
        contacts::upsert_on(db, &hasher, &ContactRef::from(link.recipient), &write)?;
        preferences_on(db, &link, &languages, None)
    })
    .await
}
