//! `POST /v1/contacts/import`: contacts with their statuses, one JSON object a line —
//! `{"email", …}` with the fields of `PUT /v1/contacts/{email}` — applied 1,000 lines
//! to a transaction under the same rules, and with the same events, as one `PUT` each.

use super::contacts::{self, ContactRef, ContactWrite};
use super::suppressions::ImportReport;
use crate::domain::{AddressHasher, NormalizedAddress, Source};
use crate::error::Error;
use crate::store;
use crate::App;

/// Lines per transaction.
const CHUNK: usize = 1000;

pub struct ContactImporter {
    hasher: AddressHasher,
    line: u64,
    pending: Vec<(u64, NormalizedAddress, ContactWrite)>,
    pub report: ImportReport,
}

impl ContactImporter {
    pub fn new(app: &App) -> Self {
        Self { hasher: app.hasher.clone(), line: 0, pending: Vec::new(), report: ImportReport::default() }
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
    let mut write: ContactWrite = serde_path_to_error::deserialize(serde_json::Value::Object(object))
        .map_err(|e| {
            let path = e.path().to_string();
            format!("{path}: {}", e.into_inner())
        })?;
    write.source.get_or_insert(Source::Import);
    contacts::validate_write(&write).map_err(|e| e.to_string())?;
    Ok((address, write))
}

impl super::LineImporter for ContactImporter {
    fn push_line(&mut self, raw: &[u8]) -> bool {
        self.line += 1;
        let line = self.line;
        let Ok(text) = std::str::from_utf8(raw) else {
            self.report.lines += 1;
            self.report.fail(line, "the line is not UTF-8".into());
            return false;
        };
        if text.trim().is_empty() {
            return false;
        }
        self.report.lines += 1;
        match parse(text) {
            Ok((address, write)) => self.pending.push((line, address, write)),
            Err(e) => self.report.fail(line, e),
        }
        self.pending.len() >= CHUNK
    }

    async fn flush(&mut self, app: &App) -> Result<(), Error> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.pending);
        let hasher = self.hasher.clone();
        let (created, results) = super::write(app, move |db| {
            let (created, rest) = contacts::create_new(db, &hasher, rows)?;
            let results = rest
                .into_iter()
                .map(|(line, address, write)| {
                    // A savepoint per line: a failing line rolls back alone.
                    let outcome = store::savepoint(db, |db| {
                        contacts::apply(db, &hasher, &ContactRef::Address(address), &write)
                    });
                    (line, outcome.map_err(|e| e.to_string()))
                })
                .collect::<Vec<_>>();
            Ok((created, results))
        })
        .await?;
        self.report.created += created.len() as u64;
        for (line, outcome) in results {
            match outcome {
                Ok(written) if written.created => self.report.created += 1,
                Ok(written) if written.changed => self.report.updated += 1,
                Ok(_) => self.report.unchanged += 1,
                Err(e) => self.report.fail(line, e),
            }
        }
        Ok(())
    }
}
