//! `POST /v1/contacts/import`: contacts with their statuses, one JSON object a line —
//! `{"email", …}` with the fields of `PUT /v1/contacts/{email}` — applied 1,000 lines
//! to a transaction under the same rules, and with the same events, as one `PUT` each.

use std::collections::HashSet;

use super::contacts::{self, Change, ContactRef, ContactWrite};
use super::import::{line_by_line, Batch, ImportReport, Line, LineImporter, Outcome, Record};
use crate::domain::{AddressHasher, EventType, NormalizedAddress, Source};
use crate::error::Error;
use crate::service::Context;
use crate::store::{self, Tx};

pub struct ContactImporter {
    hasher: AddressHasher,
    batch: Batch<ContactWrite>,
}

impl ContactImporter {
    pub fn new(cx: &Context) -> Self {
        Self { hasher: cx.hasher.clone(), batch: Batch::new(cx, &["contacts", "subscriptions", "events"]) }
    }
}

/// One line: the address, and the rest as a contact write.
fn parse(text: &str) -> Result<(NormalizedAddress, ContactWrite), String> {
    let mut object = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(object)) => object,
        Ok(_) => return Err("a line is a JSON object".into()),
        Err(e) => return Err(format!("not JSON: {e}")),
    };
    let email = match object.remove("email") {
        Some(serde_json::Value::String(email)) => email,
        Some(_) => return Err("email: must be a string".into()),
        None => return Err("email: missing".into()),
    };
    let address = NormalizedAddress::parse(&email).map_err(|e| format!("email: {e}"))?;
    let mut write: ContactWrite = crate::domain::json::parse_value(serde_json::Value::Object(object))?;
    write.source.get_or_insert(Source::Import);
    contacts::validate_write(&write).map_err(|e| e.to_string())?;
    Ok((address, write))
}

impl LineImporter for ContactImporter {
    fn push(&mut self, line: u64, record: Record<'_>) -> bool {
        let parsed = match record {
            Record::Line(raw) => match Record::ndjson_text(raw) {
                None => return false,
                Some(text) => text.and_then(parse),
            },
            Record::Fields(_) | Record::NotUtf8 => Err("a contact import is NDJSON".into()),
        };
        self.batch.take(line, parsed)
    }

    fn flush(&mut self, cx: &Context) -> Result<(), Error> {
        let hasher = self.hasher.clone();
        self.batch.flush(cx, move |db, lines| {
            let hashes: Vec<_> = lines.iter().map(|(_, address, _)| hasher.hash(address).0).collect();
            db.lock_addresses(&hashes)?;
            let (created, rest) = create_new(db, &hasher, lines)?;
            let mut results: Vec<_> = created.into_iter().map(|line| (line, Ok(Outcome::Created))).collect();
            results.extend(line_by_line(db, rest, |db, address, write| {
                let written = contacts::apply(db, &hasher, &ContactRef::Address(address), &write)?;
                Ok(match (written.created, written.changed) {
                    (true, _) => Outcome::Created,
                    (false, true) => Outcome::Updated,
                    (false, false) => Outcome::Unchanged,
                })
            })?);
            Ok(results)
        })
    }

    fn report(self) -> ImportReport {
        self.batch.report()
    }
}

/// The bulk form of [`contacts::apply`] for what imports mostly hold: contacts not
/// seen before. Of `lines`, creates in a handful of statements those whose address no
/// contact and no suppression holds (once each), whose topics are all current and that
/// set no external id, with the rows and events `apply` would write (built by the same
/// [`Change`]); returns the lines created, and the others, for `apply` one at a time.
fn create_new(
    db: &mut Tx,
    hasher: &AddressHasher,
    lines: Vec<Line<ContactWrite>>,
) -> Result<(Vec<u64>, Vec<Line<ContactWrite>>), Error> {
    let now = store::now();
    let hashes: Vec<Vec<u8>> = lines.iter().map(|(_, a, _)| hasher.hash(a).0.to_vec()).collect();
    let mut taken: HashSet<Vec<u8>> = store::contacts::emails(db, &hashes)?
        .into_iter()
        .chain(store::suppressions::emails(db, &hashes)?)
        .map(|(hash, _)| hash)
        .collect();
    let current: HashSet<String> = store::topics::list(db, false)?.into_iter().map(|t| t.key).collect();
    let (mut created, mut rest) = (Vec::new(), Vec::new());
    let (mut contacts, mut statuses, mut events) = (Vec::new(), Vec::new(), Vec::new());
    for ((line, address, write), hash) in lines.into_iter().zip(hashes) {
        let new = !taken.contains(&hash)
            && matches!(write.external_id, None | Some(None))
            && write.paused_until.is_none()
            && write.subscriptions.keys().all(|k| current.contains(k.as_str()));
        if !new {
            rest.push((line, address, write));
            continue;
        }
        taken.insert(hash);
        let mut row = contacts::new_row(Some(address.to_string()), hasher.hash(&address), now);
        row.locale = write.locale.clone().flatten().map(|l| l.to_string());
        let change = Change::of(&row, &write, now)?;
        events.push(change.event(EventType::ContactCreated));
        for (key, status) in &write.subscriptions {
            let (status, event) = change.status(key, None, *status);
            statuses.push(status);
            events.push(event);
        }
        if write.unsubscribed_all == Some(true) {
            events.push(change.unsubscribed_all(&mut row, true));
        }
        contacts.push(row);
        created.push(line);
    }
    for part in contacts.chunks(1000) {
        store::contacts::insert_many(db, part)?;
    }
    for part in statuses.chunks(1000) {
        store::subscriptions::insert_many(db, part)?;
    }
    events.into_iter().for_each(|event| db.append(event));
    Ok((created, rest))
}
