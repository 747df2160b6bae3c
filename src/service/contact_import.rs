//! `POST /v1/contacts/import`: contacts with their statuses, one JSON object a line —
//! `{"email", …}` with the fields of `PUT /v1/contacts/{email}` — applied 1,000 lines
//! to a transaction under the same rules, and with the same events, as one `PUT` each.

use super::contacts::{self, ContactRef, ContactWrite};
use super::suppressions::{line_by_line, ImportReport, Outcome};
use super::Record;
use crate::domain::{AddressHasher, NormalizedAddress, Source};
use crate::error::Error;
use crate::service::Context;

/// Lines per transaction.
const CHUNK: usize = 1000;

pub struct ContactImporter {
    hasher: AddressHasher,
    pending: Vec<(u64, NormalizedAddress, ContactWrite)>,
    pub report: ImportReport,
}

impl ContactImporter {
    pub fn new(cx: &Context) -> Self {
        Self { hasher: cx.hasher.clone(), pending: Vec::new(), report: ImportReport::default() }
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

impl super::LineImporter for ContactImporter {
    fn push(&mut self, line: u64, record: Record<'_>) -> bool {
        let parsed = match record {
            Record::Line(raw) => match std::str::from_utf8(raw) {
                Ok(text) if text.trim().is_empty() => return false,
                Ok(text) => parse(text),
                Err(_) => Err("the line is not UTF-8".into()),
            },
            Record::Fields(_) | Record::NotUtf8 => Err("a contact import is NDJSON".into()),
        };
        self.report.lines += 1;
        match parsed {
            Ok((address, write)) => self.pending.push((line, address, write)),
            Err(e) => self.report.fail(line, e),
        }
        self.pending.len() >= CHUNK
    }

    fn flush(&mut self, cx: &Context) -> Result<(), Error> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.pending);
        let hasher = self.hasher.clone();
        let results = super::write_blocking(cx, move |db| {
            let (created, rest) = contacts::create_new(db, &hasher, rows)?;
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
        })?;
        self.report.count(results);
        Ok(())
    }
}
