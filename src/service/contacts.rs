//! Contacts and their statuses: upserts with partial writes, corrections, one status
//! at a time, and each contact's consent history.
//!
//! The consent rule: an `unsubscribed` the recipient chose (one-click, the preference
//! page, a provider's unsubscribe) is never turned back by an operator's write unless
//! the write says how consent was given again (`resubscribe.consent`). Without it the
//! whole write is refused with 409 and nothing changes. The rules themselves are
//! [`domain::consent`](crate::domain::consent); the bodies and views, `contacts/wire.rs`.

mod wire;

use std::collections::BTreeMap;

pub use wire::*;

use super::{topics, utc};
use crate::domain::consent::{self, Refusal};
use crate::domain::pause;
use crate::domain::{
    AddressHash, AddressHasher, ContactId, EventType, Locale, NormalizedAddress, Source, Status, TopicKey,
};
use crate::error::{ConflictCode, Error};
use crate::service::Context;
use crate::store::contacts::ContactRow;
use crate::store::events::EventRow;
use crate::store::subscriptions::SubscriptionRow;
use crate::store::{self, Db, Tx};

/// How a request names a contact: its id, its address, or (from a link issued before
/// the address was stored) its keyed address hash.
#[derive(Debug, Clone)]
pub enum ContactRef {
    Id(ContactId),
    Address(NormalizedAddress),
    Hash(AddressHash),
}

impl From<crate::domain::token::Recipient> for ContactRef {
    /// A link names a contact by id, or an address not stored yet by its hash.
    fn from(recipient: crate::domain::token::Recipient) -> Self {
        match recipient {
            crate::domain::token::Recipient::Contact(id) => ContactRef::Id(id),
            crate::domain::token::Recipient::Address(hash) => ContactRef::Hash(hash),
        }
    }
}

impl ContactRef {
    /// A UUID is an id; anything else must be an address (422 naming `email` if not).
    pub fn parse(input: &str) -> Result<Self, Error> {
        if let Ok(id) = input.parse() {
            return Ok(Self::Id(id));
        }
        NormalizedAddress::parse(input).map(Self::Address).map_err(|e| Error::invalid("email", e.to_string()))
    }
}

/// The context every change is recorded with.
pub(crate) struct Change<'a> {
    contact_id: ContactId,
    hash: AddressHash,
    /// Who made the change, as statuses record it.
    by: Source,
    /// `by`, or `feedback:<provider>`, as events record it.
    source: String,
    detail: Option<&'a str>,
    message_id: Option<&'a str>,
    resubscribe: Option<&'a Resubscribe>,
    evidence: &'a Evidence,
    now: chrono::NaiveDateTime,
}

impl<'a> Change<'a> {
    /// The context of `write`'s changes to the contact of `row`.
    pub(crate) fn of(
        row: &ContactRow,
        write: &'a ContactWrite,
        now: chrono::NaiveDateTime,
    ) -> Result<Self, Error> {
        let by = write.source.unwrap_or(Source::Api);
        Ok(Change {
            contact_id: row.id,
            hash: AddressHash::from_slice(&row.address_hash).ok_or_else(|| Error::bug("stored hash"))?,
            by,
            source: match write.reported_by {
                Some((provider, _)) => format!("{by}:{provider}"),
                None => by.as_str().into(),
            },
            detail: write.reported_by.as_ref().and_then(|(_, detail)| detail.as_deref()),
            message_id: write.message_id.as_deref(),
            resubscribe: write.resubscribe.as_ref(),
            evidence: &write.evidence,
            now,
        })
    }

    pub(crate) fn event(&self, kind: EventType) -> EventRow {
        EventRow {
            contact_id: Some(self.contact_id),
            address_hash: Some(self.hash.0.to_vec()),
            detail: self.detail.map(str::to_owned),
            message_id: self.message_id.map(str::to_owned),
            consent: self.resubscribe.map(|r| r.consent.clone()),
            legal_basis: self.resubscribe.and_then(|r| r.legal_basis.clone()),
            client: self.evidence.client.clone(),
            user_agent: self.evidence.user_agent.map(str::to_owned),
            ..EventRow::new(kind, self.now, self.source.clone())
        }
    }

    /// The status row that sets `topic` to `status`, and its event.
    pub(crate) fn status(
        &self,
        topic: &TopicKey,
        old: Option<Status>,
        status: Status,
    ) -> (SubscriptionRow, EventRow) {
        let row = SubscriptionRow {
            contact_id: self.contact_id,
            topic_key: topic.to_string(),
            status,
            source: self.by,
            updated_at: self.now,
        };
        let event = EventRow {
            topic_key: Some(topic.to_string()),
            old_status: old,
            new_status: Some(status),
            ..self.event(EventType::SubscriptionChanged)
        };
        (row, event)
    }

    /// Pauses `row`'s promotional mail until `until` (`None`: resumes it); its event,
    /// which carries the pause's end as `expires_at`.
    pub(crate) fn pause(&self, row: &mut ContactRow, until: Option<chrono::NaiveDateTime>) -> EventRow {
        row.paused_until = until;
        EventRow { expires_at: until, ..self.event(EventType::PauseChanged) }
    }

    /// Sets `row`'s "unsubscribed from all promotional mail" flag; its event.
    pub(crate) fn unsubscribed_all(&self, row: &mut ContactRow, on: bool) -> EventRow {
        row.unsubscribed_all = on;
        row.unsubscribed_all_source = Some(self.by);
        let (old, new) = if on {
            (Status::Subscribed, Status::Unsubscribed)
        } else {
            (Status::Unsubscribed, Status::Subscribed)
        };
        EventRow {
            old_status: Some(old),
            new_status: Some(new),
            ..self.event(EventType::UnsubscribedAllChanged)
        }
    }
}

/// A contact not stored yet, known by `email` (if given) and `hash`.
pub(crate) fn new_row(email: Option<String>, hash: AddressHash, now: chrono::NaiveDateTime) -> ContactRow {
    ContactRow {
        id: ContactId::new(),
        email,
        address_hash: hash.0.to_vec(),
        locale: None,
        external_id: None,
        unsubscribed_all: false,
        unsubscribed_all_source: None,
        created_at: now,
        updated_at: now,
        paused_until: None,
    }
}

pub(crate) fn view(db: &mut Db, row: ContactRow) -> Result<ContactView, Error> {
    let subscriptions = store::subscriptions::for_contact(db, &row.id)?
        .into_iter()
        .map(|s| (s.topic_key, s.status))
        .collect();
    Ok(ContactView {
        id: row.id,
        email: row.email,
        locale: row.locale,
        external_id: row.external_id,
        unsubscribed_all: row.unsubscribed_all,
        paused_until: crate::domain::pause::current(row.paused_until, store::now()).map(utc),
        subscriptions,
        created_at: utc(row.created_at),
        updated_at: utc(row.updated_at),
    })
}

pub(crate) fn find(
    db: &mut Db,
    hasher: &AddressHasher,
    target: &ContactRef,
) -> Result<Option<ContactRow>, Error> {
    Ok(match target {
        ContactRef::Id(id) => store::contacts::by_id(db, id)?,
        ContactRef::Address(address) => store::contacts::by_hash(db, &hasher.hash(address).0)?,
        ContactRef::Hash(hash) => store::contacts::by_hash(db, &hash.0)?,
    })
}

/// The contact `target` names, locked for a write that reads it, decides and writes
/// (see `store::locks`): named by address or hash, under the address lock first, since
/// the write may create it; with `also`, the locks of these addresses too, taken with
/// the first.
pub(crate) fn lock(
    tx: &mut Tx,
    hasher: &AddressHasher,
    target: &ContactRef,
    also: &[AddressHash],
) -> Result<Option<ContactRow>, Error> {
    let hash = match target {
        ContactRef::Id(_) => None,
        ContactRef::Address(address) => Some(hasher.hash(address)),
        ContactRef::Hash(hash) => Some(*hash),
    };
    let addresses: Vec<&[u8]> = hash.iter().chain(also).map(|h| &h.0[..]).collect();
    tx.lock_addresses(&addresses)?;
    Ok(match (target, hash) {
        (ContactRef::Id(id), _) => store::locks::contact_by_id(tx, id)?,
        (_, Some(hash)) => store::locks::contact_by_hash(tx, &hash.0)?,
        (_, None) => None,
    })
}

/// [`lock`] for a write that also changes what is held for the contact's address (its
/// suppression): a contact named by id gets its address lock too, before its row's.
pub(crate) fn lock_with_address(
    tx: &mut Tx,
    hasher: &AddressHasher,
    target: &ContactRef,
) -> Result<Option<ContactRow>, Error> {
    let ContactRef::Id(id) = target else { return lock(tx, hasher, target, &[]) };
    loop {
        let Some(row) = store::contacts::by_id(tx, id)? else { return Ok(None) };
        tx.lock_addresses(&[&row.address_hash])?;
        match store::locks::contact_by_id(tx, id)? {
            Some(locked) if locked.address_hash != row.address_hash => continue, // corrected meanwhile
            locked => return Ok(locked),
        }
    }
}

fn not_found() -> Error {
    Error::not_found("there is no such contact")
}

/// 409 unless `external_id` is free or already this contact's.
fn ensure_external_id_free(
    db: &mut Db,
    contact_id: &ContactId,
    external_id: &Option<String>,
) -> Result<(), Error> {
    if let Some(external_id) = external_id {
        if let Some(other) = store::contacts::by_external_id(db, external_id)? {
            if other.id != *contact_id {
                return Err(Error::Conflict {
                    code: ConflictCode::ExternalIdTaken,
                    detail: format!("another contact has the external_id {external_id:?}"),
                });
            }
        }
    }
    Ok(())
}

/// A consent rule's refusal, as the API answers it.
pub(crate) fn refused(refusal: Refusal) -> Error {
    let (code, detail) = match refusal {
        Refusal::Erased => (
            ConflictCode::Erased,
            "this address was erased on request; storing it again needs \"resubscribe\": {\"consent\": …}".into(),
        ),
        Refusal::TopicChosen(topic) => (
            ConflictCode::ConsentRequired,
            format!("the recipient unsubscribed from {topic:?} themselves; re-subscribing needs \"resubscribe\": {{\"consent\": …}}"),
        ),
        Refusal::AllChosen => (
            ConflictCode::ConsentRequired,
            "the recipient unsubscribed from all promotional mail themselves; lifting that needs \"resubscribe\": {\"consent\": …}".into(),
        ),
    };
    Error::Conflict { code, detail }
}

/// An address erased on request is not stored again unless consent was given again;
/// with that proof, the erasure suppression is lifted (and the lifting recorded).
fn clear_erasure(db: &mut Tx, change: &Change, keep: bool) -> Result<(), Error> {
    let Some(suppression) = store::suppressions::find(db, &change.hash.0)? else {
        return Ok(());
    };
    if consent::lifts_erasure(Some(suppression.reason), keep, change.resubscribe.is_some())
        .map_err(refused)?
    {
        // The event carries the proof of the new consent.
        let mut event = change.event(EventType::SuppressionRemoved);
        event.contact_id = None;
        super::suppressions::lift(db, suppression, event)?;
    }
    Ok(())
}

/// Sets the fields a write or a correction names (`None`: keep), naming in `fields`
/// those that changed; 409 when the external id is another contact's.
fn set_fields(
    db: &mut Db,
    row: &mut ContactRow,
    locale: Option<Option<&Locale>>,
    external_id: Option<Option<&String>>,
    fields: &mut Vec<&'static str>,
) -> Result<(), Error> {
    if let Some(locale) = locale {
        let locale = locale.map(Locale::to_string);
        if locale != row.locale {
            row.locale = locale;
            fields.push("locale");
        }
    }
    if let Some(external_id) = external_id {
        let external_id = external_id.map(|s| s.trim().to_owned());
        if external_id != row.external_id {
            ensure_external_id_free(db, &row.id, &external_id)?;
            row.external_id = external_id;
            fields.push("external_id");
        }
    }
    Ok(())
}

/// Creates or updates a contact in one transaction, with an event per change.
/// Returns the contact and whether it was created.
pub(crate) fn upsert_on(
    db: &mut Tx,
    hasher: &AddressHasher,
    target: &ContactRef,
    write: &ContactWrite,
) -> Result<(ContactView, bool), Error> {
    let written = apply(db, hasher, target, write)?;
    Ok((view(db, written.row)?, written.created))
}

/// What [`apply`] did to a contact.
pub(crate) struct Written {
    pub row: ContactRow,
    pub created: bool,
    pub changed: bool,
}

/// [`upsert_on`] without reading the contact back.
pub(crate) fn apply(
    db: &mut Tx,
    hasher: &AddressHasher,
    target: &ContactRef,
    write: &ContactWrite,
) -> Result<Written, Error> {
    let now = store::now();
    // What a new contact would be known by: an id names only an existing one.
    let identity = match target {
        ContactRef::Id(_) => None,
        ContactRef::Address(address) => Some((Some(address.to_string()), hasher.hash(address))),
        ContactRef::Hash(hash) => Some((None, *hash)),
    };
    let (mut row, created) = match (lock(db, hasher, target, &[])?, identity) {
        (Some(row), _) => (row, false),
        (None, None) => return Err(not_found()),
        (None, Some((email, hash))) => (new_row(email, hash, now), true),
    };
    let change = Change::of(&row, write, now)?;

    // Check every named topic and the consent rules before changing anything.
    let proof = change.resubscribe.is_some();
    let current: BTreeMap<String, SubscriptionRow> = if created {
        BTreeMap::new()
    } else {
        store::subscriptions::for_contact(db, &row.id)?
            .into_iter()
            .map(|s| (s.topic_key.clone(), s))
            .collect()
    };
    for (key, status) in &write.subscriptions {
        match store::topics::find(db, key.as_str())? {
            None => return Err(Error::invalid(format!("subscriptions.{key}"), "there is no such topic")),
            Some(t) if t.archived_at.is_some() => {
                return Err(Error::invalid(format!("subscriptions.{key}"), "the topic is archived"))
            }
            Some(_) => {}
        }
        let held = current.get(key.as_str()).map(|s| (s.status, s.source));
        consent::may_set_status(held, *status, proof, key.as_str()).map_err(refused)?;
    }
    consent::may_set_unsubscribed_all(
        row.unsubscribed_all,
        row.unsubscribed_all_source,
        write.unsubscribed_all,
        proof,
    )
    .map_err(refused)?;
    let pause = match write.paused_until {
        Some(Some(until)) => {
            Some(Some(pause::check(until.naive_utc(), now).map_err(|e| Error::invalid("paused_until", e))?))
        }
        Some(None) => Some(None),
        None => None,
    };

    let mut fields = Vec::new();
    if let (None, ContactRef::Address(address)) = (&row.email, target) {
        // Known until now only by its hash: the sender has told us the address.
        row.email = Some(address.to_string());
        fields.push("email");
    }
    let locale = write.locale.as_ref().map(Option::as_ref);
    set_fields(db, &mut row, locale, write.external_id.as_ref().map(Option::as_ref), &mut fields)?;
    let mut changed = !fields.is_empty();
    if created {
        clear_erasure(db, &change, write.keep_erasure)?;
        store::contacts::insert(db, &row)?;
        store::events::append(db, change.event(EventType::ContactCreated))?;
    } else if changed {
        let mut event = change.event(EventType::ContactUpdated);
        event.detail = Some(fields.join(","));
        store::events::append(db, event)?;
    }

    for (key, status) in &write.subscriptions {
        let old = current.get(key.as_str());
        if old.is_some_and(|o| o.status == *status) {
            continue;
        }
        let (status, event) = change.status(key, old.map(|o| o.status), *status);
        store::subscriptions::upsert(db, &status)?;
        store::events::append(db, event)?;
        changed = true;
    }
    if let Some(all) = write.unsubscribed_all.filter(|all| *all != row.unsubscribed_all) {
        let event = change.unsubscribed_all(&mut row, all);
        store::events::append(db, event)?;
        changed = true;
    }
    if let Some(until) = pause.filter(|until| *until != pause::current(row.paused_until, now)) {
        store::events::append(db, change.pause(&mut row, until))?;
        changed = true;
    }
    if changed {
        row.updated_at = now;
        store::contacts::update(db, &row)?;
    }
    Ok(Written { row, created, changed: changed || created })
}

pub async fn upsert(
    cx: &Context,
    target: ContactRef,
    write: ContactWrite,
) -> Result<(ContactView, bool), Error> {
    validate_write(&write)?;
    let hasher = cx.hasher.clone();
    super::write(cx, move |db| upsert_on(db, &hasher, &target, &write)).await
}

/// Sets one status (`PUT …/subscriptions/{topic}`); an unknown topic is 404 here,
/// since the path names it.
pub async fn set_status(
    cx: &Context,
    target: ContactRef,
    topic: String,
    input: StatusWrite,
) -> Result<ContactView, Error> {
    let key = TopicKey::parse(&topic).map_err(|_| topics::unknown(&topic))?;
    let write = ContactWrite {
        subscriptions: BTreeMap::from([(key, input.status)]),
        resubscribe: input.resubscribe,
        source: input.source,
        message_id: input.message_id,
        ..ContactWrite::default()
    };
    validate_write(&write)?;
    let hasher = cx.hasher.clone();
    super::write(cx, move |db| {
        match store::topics::find(db, &topic)? {
            Some(t) if t.archived_at.is_none() => {}
            _ => return Err(topics::unknown(&topic)),
        }
        upsert_on(db, &hasher, &target, &write).map(|(view, _)| view)
    })
    .await
}

pub async fn get(cx: &Context, target: ContactRef) -> Result<ContactView, Error> {
    let hasher = cx.hasher.clone();
    store::run(&cx.pool, move |db| {
        let row = find(db, &hasher, &target)?.ok_or_else(not_found)?;
        view(db, row)
    })
    .await
}

/// Corrects a contact's address, locale or external id. A new address keeps the
/// contact's id and history; its hash is re-keyed.
pub async fn correct(cx: &Context, target: ContactRef, patch: ContactPatch) -> Result<ContactView, Error> {
    check_external_id(&patch.external_id)?;
    let new_address = match &patch.email {
        Some(email) => {
            Some(NormalizedAddress::parse(email).map_err(|e| Error::invalid("email", e.to_string()))?)
        }
        None => None,
    };
    let hasher = cx.hasher.clone();
    super::write(cx, move |db| {
        // The new address's lock, so that no contact is created with it meanwhile.
        let also: Vec<AddressHash> = new_address.iter().map(|a| hasher.hash(a)).collect();
        let mut row = lock(db, &hasher, &target, &also)?.ok_or_else(not_found)?;
        let mut fields = Vec::new();
        let previous_hash = row.address_hash.clone();
        if let Some(address) = new_address.filter(|a| row.email.as_deref() != Some(a.as_str())) {
            let hash = hasher.hash(&address);
            if store::contacts::by_hash(db, &hash.0)?.is_some() {
                return Err(Error::Conflict {
                    code: ConflictCode::EmailTaken,
                    detail: "another contact has this address".into(),
                });
            }
            row.email = Some(address.to_string());
            row.address_hash = hash.0.to_vec();
            fields.push("email");
        }
        let locale = patch.locale.as_ref().map(Option::as_ref);
        set_fields(db, &mut row, locale, patch.external_id.as_ref().map(Option::as_ref), &mut fields)?;
        if !fields.is_empty() {
            row.updated_at = store::now();
            store::contacts::update(db, &row)?;
            store::events::append(
                db,
                EventRow {
                    contact_id: Some(row.id),
                    address_hash: Some(row.address_hash.clone()),
                    previous_address_hash: (previous_hash != row.address_hash).then_some(previous_hash),
                    detail: Some(fields.join(",")),
                    ..EventRow::new(EventType::ContactUpdated, row.updated_at, Source::Api.as_str())
                },
            )?;
        }
        view(db, row)
    })
    .await
}

pub async fn events(cx: &Context, target: ContactRef, query: EventsQuery) -> Result<EventPage, Error> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Error::invalid("limit", "must be between 1 and 1000"));
    }
    let after = query.after.unwrap_or(0);
    let hasher = cx.hasher.clone();
    store::run(&cx.pool, move |db| {
        let row = find(db, &hasher, &target)?.ok_or_else(not_found)?;
        let events: Vec<EventView> = store::events::for_contact(db, &row.id, after, limit + 1)?
            .into_iter()
            .map(EventView::from)
            .collect();
        let (events, next) = if events.len() as i64 > limit {
            let mut events = events;
            events.truncate(limit as usize);
            let next = events.last().map(|e| e.seq);
            (events, next)
        } else {
            (events, None)
        };
        Ok(EventPage { events, next })
    })
    .await
}

/// The contact a console search names: its id, its address (exact, once normalized),
/// or its external id; `None` when none matches.
pub async fn search(cx: &Context, q: String) -> Result<Option<ContactView>, Error> {
    let hasher = cx.hasher.clone();
    store::run(&cx.pool, move |db| {
        let q = q.trim();
        let row = if let Ok(id) = q.parse::<ContactId>() {
            store::contacts::by_id(db, &id)?
        } else {
            let by_address = match NormalizedAddress::parse(q) {
                Ok(address) => store::contacts::by_hash(db, &hasher.hash(&address).0)?,
                Err(_) => None,
            };
            match by_address {
                Some(row) => Some(row),
                None => store::contacts::by_external_id(db, q)?,
            }
        };
        row.map(|row| view(db, row)).transpose()
    })
    .await
}
