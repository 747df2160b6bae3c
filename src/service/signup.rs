//! Links by mail: a fresh preference link for whoever asks (answered the same whether
//! or not the address is known), and double opt-in sign-up with its confirmation.

use serde::Deserialize;
use utoipa::ToSchema;

use super::contacts::{self, ContactRef, ContactWrite, Evidence, Resubscribe};
use super::mail;
use crate::domain::token::{Audience, Link, Recipient};
use crate::domain::{Category, EventType, Locale, NormalizedAddress, Reason, Source, Status, TopicKey};
use crate::error::Error;
use crate::i18n::Lang;
use crate::service::Context;
use crate::store::contacts::ContactRow;
use crate::store::events::EventRow;
use crate::store::{self, Db};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    #[schema(format = Email, max_length = 254, example = "alice@example.com")]
    pub email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscribeRequest {
    #[schema(format = Email, max_length = 254, example = "alice@example.com")]
    pub email: String,
    /// Public promotional topics to subscribe to, once confirmed.
    #[schema(value_type = Vec<TopicKey>, min_items = 1, max_items = 100, example = json!(["newsletter"]))]
    pub topics: Vec<TopicKey>,
    #[schema(value_type = Option<String>, pattern = "^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$", max_length = 35)]
    pub locale: Option<Locale>,
}

fn address(email: &str) -> Result<NormalizedAddress, Error> {
    NormalizedAddress::parse(email).map_err(|e| Error::invalid("email", e.to_string()))
}

/// Mails a preference link when the address belongs to a contact. Returns at once
/// either way, and sends in the background, so that neither the answer nor its timing
/// says whether the address is known.
pub async fn request_link(
    cx: std::sync::Arc<Context>,
    request: LinkRequest,
    client: Option<String>,
    languages: Vec<String>,
) -> Result<(), Error> {
    let address = address(&request.email)?;
    let hash = cx.hasher.hash(&address);
    cx.mail_limits.count(client.as_deref().unwrap_or("unknown"), &hash.to_hex())?;
    actix_web::rt::spawn(async move {
        let found = store::run(&cx.pool, move |db| Ok(store::contacts::by_hash(db, &hash.0)?)).await;
        let contact = match found {
            Ok(Some(contact)) if contact.email.is_some() => contact,
            Ok(_) => return,
            Err(e) => return tracing::warn!(error = %e, "preference link not sent"),
        };
        let id = contact.id;
        let url = super::link_url(&cx, Audience::Preferences, Recipient::Contact(id), None, None);
        let lang = Lang::choose(contact.locale.as_deref(), &languages);
        let message = match mail::preference_link(
            &cx.brand,
            lang,
            contact.email.as_deref().unwrap_or_default(),
            &url,
            cx.config.preference_link_days,
        ) {
            Ok(message) => message,
            Err(e) => return tracing::warn!(error = %e, "preference link not sent"),
        };
        let cx2 = cx.clone();
        let sent = actix_web::web::block(move || cx2.mailer.send(&cx2.mail_from, message)).await;
        match sent {
            Ok(Ok(())) => tracing::info!("preference link sent"),
            Ok(Err(e)) => tracing::warn!(error = %e, "preference link not sent"),
            Err(e) => tracing::warn!(error = %e, "preference link not sent"),
        }
    });
    Ok(())
}

/// Records `pending` statuses and mails the confirmation link. A mail that cannot be
/// sent is a 503; the pending statuses stay, and asking again sends a new mail.
pub async fn subscribe(
    cx: std::sync::Arc<Context>,
    request: SubscribeRequest,
    evidence: Evidence,
    languages: Vec<String>,
) -> Result<(), Error> {
    let address = address(&request.email)?;
    if request.topics.is_empty() || request.topics.len() > 100 {
        return Err(Error::invalid("topics", "name 1 to 100 topics"));
    }
    let hash = cx.hasher.hash(&address);
    cx.mail_limits.count(evidence.client.as_deref().unwrap_or("unknown"), &hash.to_hex())?;
    let hasher = cx.hasher.clone();
    let target = ContactRef::Address(address.clone());
    let topics = request.topics.clone();
    let locale = request.locale.clone();
    let browser = languages.first().cloned();
    let outcome = super::write(&cx, move |db| {
        let mut write = ContactWrite {
            source: Some(Source::Page),
            evidence,
            // Pending sends nothing but the confirmation; the recipient's own unsubscribe
            // stays in force until they confirm.
            resubscribe: Some(Resubscribe {
                consent: "asked for on a sign-up form, pending confirmation".into(),
                legal_basis: None,
            }),
            keep_erasure: true,
            ..ContactWrite::default()
        };
        let existing = contacts::lock(db, &hasher, &target, &[])?;
        // The names in the language the mail will be written in.
        let language = locale
            .as_ref()
            .map(|l| l.to_string())
            .or_else(|| existing.as_ref().and_then(|c| c.locale.clone()))
            .or(browser);
        if let Some(locale) = locale {
            write.locale = Some(Some(locale));
        }
        let current = match &existing {
            Some(c) => store::subscriptions::for_contact(db, &c.id)?,
            None => Vec::new(),
        };
        let mut names = Vec::new();
        for key in &topics {
            let topic = store::topics::find(db, key.as_str())?
                .filter(|t| t.archived_at.is_none() && t.public && t.category == Category::Promotional)
                .ok_or_else(|| {
                    Error::invalid(format!("topics.{key}"), "there is no such public promotional topic")
                })?;
            let translations = store::topics::translations(db, std::slice::from_ref(&topic.key))?;
            names.push(super::recipients::words_in(&topic, &translations, language.as_deref()).name);
            let subscribed =
                current.iter().any(|s| s.topic_key == key.as_str() && s.status == Status::Subscribed);
            if !subscribed {
                write.subscriptions.insert(key.clone(), Status::Pending);
            }
        }
        let (view, _) = contacts::upsert_on(db, &hasher, &target, &write)?;
        Ok((view, names))
    })
    .await?;
    let (contact, names) = outcome;
    let id = contact.id;
    let days = cx.config.confirm_link_days;
    let confirm = super::link_url(&cx, Audience::Confirm, Recipient::Contact(id), None, None);
    // The confirmation's List-Unsubscribe cancels what it asks to confirm.
    let only = if request.topics.len() == 1 { request.topics.first().cloned() } else { None };
    let cancel = super::link_url(&cx, Audience::Unsubscribe, Recipient::Contact(id), only, None);
    let lang = Lang::choose(contact.locale.as_deref(), &languages);
    let message = mail::confirmation(&cx.brand, lang, address.as_str(), &names, &confirm, &cancel, days)?;
    let cx2 = cx.clone();
    actix_web::web::block(move || cx2.mailer.send(&cx2.mail_from, message))
        .await
        .map_err(|e| Error::internal("blocking task failed", e))?
}

/// What a confirmation link would confirm: the names of the pending topics (in the
/// contact's language, else the browser's), and the contact's locale.
pub async fn pending(
    cx: &Context,
    link: Link,
    languages: Vec<String>,
) -> Result<(Vec<String>, Option<String>), Error> {
    let hasher = cx.hasher.clone();
    store::run(&cx.pool, move |db| {
        let pending = pending_on(db, &hasher, &link, languages.first().map(String::as_str))?;
        Ok((pending.names(), pending.contact.locale))
    })
    .await
}

/// A confirmation link's contact and its pending topics, with their names.
struct Pending {
    contact: ContactRow,
    topics: Vec<(TopicKey, String)>,
}

impl Pending {
    fn names(&self) -> Vec<String> {
        self.topics.iter().map(|(_, name)| name.clone()).collect()
    }
}

fn pending_on(
    db: &mut Db,
    hasher: &crate::domain::AddressHasher,
    link: &Link,
    browser: Option<&str>,
) -> Result<Pending, Error> {
    let Recipient::Contact(id) = link.recipient else {
        return Err(Error::Link(crate::domain::token::TokenError::Malformed));
    };
    let contact = contacts::find(db, hasher, &ContactRef::Id(id))?
        .ok_or_else(|| Error::NotFound("no such contact".into()))?;
    let mut topics = Vec::new();
    for s in store::subscriptions::for_contact(db, &contact.id)?
        .into_iter()
        .filter(|s| s.status == Status::Pending)
    {
        if let Some(topic) = store::topics::find(db, &s.topic_key)? {
            let translations = store::topics::translations(db, std::slice::from_ref(&topic.key))?;
            let language = contact.locale.as_deref().or(browser);
            let name = super::recipients::words_in(&topic, &translations, language).name;
            topics.push((TopicKey::from_stored(s.topic_key), name));
        }
    }
    Ok(Pending { contact, topics })
}

/// Confirms every pending status of the link's contact. A new confirmed opt-in also
/// lifts an unsubscribe from all promotional mail, a suppression an unsubscribe caused
/// and an erasure suppression — never a bounce or a complaint.
pub async fn confirm(
    cx: &Context,
    link: Link,
    evidence: Evidence,
    languages: Vec<String>,
) -> Result<(Vec<String>, Option<String>), Error> {
    let hasher = cx.hasher.clone();
    super::write(cx, move |db| {
        // It may lift the address's suppression: the address lock, then the contact's.
        if let Recipient::Contact(id) = link.recipient {
            contacts::lock_with_address(db, &hasher, &ContactRef::Id(id))?;
        }
        let pending = pending_on(db, &hasher, &link, languages.first().map(String::as_str))?;
        let shown = (pending.names(), pending.contact.locale.clone());
        if pending.topics.is_empty() {
            return Ok(shown);
        }
        let proof =
            Resubscribe { consent: "confirmed by double opt-in".into(), legal_basis: Some("consent".into()) };
        let write = ContactWrite {
            subscriptions: pending.topics.into_iter().map(|(k, _)| (k, Status::Subscribed)).collect(),
            unsubscribed_all: Some(false),
            source: Some(Source::Confirmation),
            resubscribe: Some(proof),
            evidence,
            ..ContactWrite::default()
        };
        let contact = pending.contact;
        contacts::upsert_on(db, &hasher, &ContactRef::from(link.recipient), &write)?;
        if let Some(suppression) = store::suppressions::find(db, &contact.address_hash)? {
            // An unsubscribe's suppression, or an erasure's: the person asked again and
            // confirmed from their own mailbox.
            if matches!(suppression.reason, Reason::Unsubscribe | Reason::Erasure) {
                let event =
                    EventRow::new(EventType::SuppressionRemoved, store::now(), Source::Confirmation.as_str());
                super::suppressions::lift(db, suppression, event)?;
            }
        }
        Ok(shown)
    })
    .await
}
