//! Recipients' clicks on their links — one-click unsubscribes, the landing page's
//! button, the undo on the page that confirmed — applied many at a time: the clicks
//! that wait for the writer together are read, decided and written in a few multi-row
//! statements, whatever their number. Each is decided by the same rules as a write
//! through the API ([`domain::consent`](crate::domain::consent), with the rows and
//! events [`Change`] builds), and each gets its own answer.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::contacts::{self, refused, Change, ContactWrite, Evidence, Resubscribe};
use super::group_commit::Bulk;
use super::recipients::{words_in, Landing, Standing};
use crate::domain::consent;
use crate::domain::token::{Link, Recipient};
use crate::domain::{ContactId, EventType, Reason, Source, Status};
use crate::error::Error;
use crate::store::contacts::ContactRow;
use crate::store::subscriptions::SubscriptionRow;
use crate::store::topics::TopicRow;
use crate::store::{self, Tx};

/// One click: what the link names, and what the recipient asked for.
pub struct Click {
    pub link: Link,
    pub evidence: Evidence,
    pub source: Source,
    /// `Unsubscribed`, or `Subscribed` to undo an unsubscribe.
    pub status: Status,
    pub resubscribe: Option<Resubscribe>,
    /// The browser's languages, for the page's words when the contact has no locale.
    pub languages: Vec<String>,
}

/// The kind of write the writer groups clicks under.
#[derive(Default)]
pub struct Clicks;

/// A contact as the clicks of one batch leave it.
struct Held {
    row: ContactRow,
    statuses: BTreeMap<String, SubscriptionRow>,
    /// The topics whose status this batch set.
    set: BTreeSet<String>,
    created: bool,
    changed: bool,
}

/// What is held for the people a batch of clicks names, read in one go and changed in
/// memory as each click is decided.
struct People {
    held: Vec<Held>,
    by_id: HashMap<ContactId, usize>,
    by_hash: HashMap<Vec<u8>, usize>,
    erased: Vec<Vec<u8>>,
}

impl People {
    fn read(tx: &mut Tx, clicks: &[Click]) -> Result<Self, Error> {
        let mut ids = Vec::new();
        let mut hashes: Vec<&[u8]> = Vec::new();
        for click in clicks {
            match &click.link.recipient {
                Recipient::Contact(id) => ids.push(*id),
                Recipient::Address(hash) => hashes.push(&hash.0),
            }
        }
        // A link naming an address may create its contact: the address lock first,
        // then the rows of the contacts (see `store::locks`).
        tx.lock_addresses(&hashes)?;
        let rows = store::locks::contacts(tx, &ids, &hashes)?;
        let held_ids: Vec<ContactId> = rows.iter().map(|r| r.id).collect();
        let mut statuses: HashMap<ContactId, BTreeMap<String, SubscriptionRow>> = HashMap::new();
        for status in store::subscriptions::for_contacts(tx, &held_ids)? {
            statuses.entry(status.contact_id).or_default().insert(status.topic_key.clone(), status);
        }
        let erased = store::suppressions::find_many(tx, &hashes)?
            .into_iter()
            .filter(|s| s.reason == Reason::Erasure)
            .map(|s| s.address_hash)
            .collect();
        let mut people = People { held: Vec::new(), by_id: HashMap::new(), by_hash: HashMap::new(), erased };
        for row in rows {
            if people.by_id.contains_key(&row.id) {
                continue; // named both by id and by hash
            }
            let statuses = statuses.remove(&row.id).unwrap_or_default();
            people.add(Held { row, statuses, set: BTreeSet::new(), created: false, changed: false });
        }
        Ok(people)
    }

    fn add(&mut self, held: Held) -> usize {
        let at = self.held.len();
        self.by_id.insert(held.row.id, at);
        self.by_hash.insert(held.row.address_hash.clone(), at);
        self.held.push(held);
        at
    }

    /// The contact a click names: found, or — for a link naming an address not
    /// stored yet — created; 404 for a contact that is gone, 409 for an erased address.
    fn of(&mut self, recipient: &Recipient, now: chrono::NaiveDateTime) -> Result<usize, Error> {
        match recipient {
            Recipient::Contact(id) => self.by_id.get(id).copied().ok_or_else(super::recipients::gone),
            Recipient::Address(hash) => {
                if self.erased.iter().any(|h| h[..] == hash.0[..]) {
                    return Err(super::recipients::erased());
                }
                if let Some(at) = self.by_hash.get(&hash.0[..]) {
                    return Ok(*at);
                }
                let row = contacts::new_row(None, *hash, now);
                Ok(self.add(Held {
                    row,
                    statuses: BTreeMap::new(),
                    set: BTreeSet::new(),
                    created: true,
                    changed: false,
                }))
            }
        }
    }
}

impl Bulk for Clicks {
    type Item = Click;
    type Out = Landing;

    fn apply(&self, tx: &mut Tx, clicks: &[Click]) -> Result<Vec<Result<Landing, Error>>, Error> {
        let now = store::now();
        let mut people = People::read(tx, clicks)?;
        let topics: HashMap<String, TopicRow> =
            store::topics::list(tx, true)?.into_iter().map(|t| (t.key.clone(), t)).collect();
        let named: Vec<String> =
            clicks.iter().filter_map(|c| c.link.topic.as_ref().map(|t| t.to_string())).collect();
        let translations = store::topics::translations(tx, &named)?;
        let mut events = Vec::new();
        let outcomes = clicks
            .iter()
            .map(|click| {
                let at = people.of(&click.link.recipient, now)?;
                let topic = match &click.link.topic {
                    Some(key) => {
                        Some(topics.get(key.as_str()).filter(|t| t.archived_at.is_none()).ok_or_else(
                            || Error::NotFound("this link names a topic that no longer exists".into()),
                        )?)
                    }
                    None => None,
                };
                let held = &mut people.held[at];
                let all_before = held.row.unsubscribed_all;
                let write = ContactWrite {
                    source: Some(click.source),
                    message_id: click.link.message_id.clone(),
                    evidence: click.evidence.clone(),
                    resubscribe: click.resubscribe.clone(),
                    ..ContactWrite::default()
                };
                let change = Change::of(&held.row, &write, now)?;
                let proof = click.resubscribe.is_some();
                let mut made = Vec::new();
                match (&click.link.topic, topic) {
                    (Some(key), Some(_)) => {
                        let old = held.statuses.get(key.as_str()).map(|s| (s.status, s.source));
                        if old.map(|(status, _)| status) != Some(click.status) {
                            consent::may_set_status(old, click.status, proof, key.as_str())
                                .map_err(refused)?;
                            let (row, event) =
                                change.status(key, old.map(|(status, _)| status), click.status);
                            held.set.insert(row.topic_key.clone());
                            held.statuses.insert(row.topic_key.clone(), row);
                            made.push(event);
                        }
                    }
                    _ => {
                        let on = click.status == Status::Unsubscribed;
                        if held.row.unsubscribed_all != on {
                            let (now_on, source) =
                                (held.row.unsubscribed_all, held.row.unsubscribed_all_source);
                            consent::may_set_unsubscribed_all(now_on, source, Some(on), proof)
                                .map_err(refused)?;
                            made.push(change.unsubscribed_all(&mut held.row, on));
                        }
                    }
                }
                if held.created && !held.changed {
                    events.push(change.event(EventType::ContactCreated));
                }
                if !made.is_empty() || held.created {
                    held.changed = true;
                    held.row.updated_at = now;
                }
                events.extend(made);
                let locale = held.row.locale.clone().or_else(|| click.languages.first().cloned());
                let topic_name = topic.map(|t| words_in(t, &translations, locale.as_deref()).name);
                let standing = match (click.status, &click.link.topic) {
                    (Status::Unsubscribed, _) if all_before => Standing::UnsubscribedAll,
                    (Status::Unsubscribed, Some(_)) => Standing::UnsubscribedTopic,
                    (Status::Unsubscribed, None) => Standing::UnsubscribedAll,
                    // Undoing one topic leaves an unsubscribe from all promotional mail standing.
                    (_, Some(_)) if all_before => Standing::UnsubscribedAll,
                    (_, _) => Standing::Receiving,
                };
                Ok(Landing { topic: topic_name, locale, standing })
            })
            .collect();
        let (created, updated): (Vec<&Held>, Vec<&Held>) =
            people.held.iter().filter(|h| h.changed).partition(|h| h.created);
        let rows: Vec<ContactRow> = created.iter().map(|h| h.row.clone()).collect();
        store::contacts::insert_many(tx, &rows)?;
        let rows: Vec<ContactRow> = updated.iter().map(|h| h.row.clone()).collect();
        store::contacts::update_flags_many(tx, &rows)?;
        let statuses: Vec<SubscriptionRow> = people
            .held
            .iter()
            .flat_map(|h| h.set.iter().filter_map(|topic| h.statuses.get(topic)).cloned())
            .collect();
        store::subscriptions::upsert_many(tx, &statuses)?;
        events.into_iter().for_each(|event| tx.append(event));
        Ok(outcomes)
    }
}
