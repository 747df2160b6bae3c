//! `POST /v1/contacts/import`: contacts with their statuses, one JSON object a line —
//! `{"email", …}` with the fields of `PUT /v1/contacts/{email}` — applied 1,000 lines
//! to a transaction under the same rules, and with the same events, as one `PUT` each.

use super::contacts::{self, ContactRef, ContactWrite};
use super::import::{line_by_line, Batch, ImportReport, LineImporter, Outcome, Record};
use crate::domain::{AddressHasher, NormalizedAddress, Source};
use crate::error::Error;
use crate::App;

pub struct ContactImporter {
    hasher: AddressHasher,
    batch: Batch<ContactWrite>,
}

impl ContactImporter {
    pub fn new(app: &App) -> Self {
        Self { hasher: app.hasher.clone(), batch: Batch::new() }
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
    let mut write: ContactWrite = crate::error::parse_value(serde_json::Value::Object(object))?;
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

    fn flush(&mut self, app: &App) -> Result<(), Error> {
        let hasher = self.hasher.clone();
        self.batch.flush(app, move |db, lines| {
            let (created, rest) = contacts::create_new(db, &hasher, lines)?;
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
