//! `POST /v1/suppressions/import`: suppressions one a line, as NDJSON objects or CSV
//! records (the columns an export writes, named by a header or taken in order),
//! applied 1,000 lines to a transaction — in a handful of statements for all of them —
//! under an import's policy: a block is never narrowed, an erasure never touched.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::import::{Batch, ImportReport, LineImporter, Record};
use super::suppressions::{apply_many, validate, Policy, SuppressionWrite, CSV_COLUMNS};
use crate::domain::{AddressHasher, NormalizedAddress, Reason, Scope, Source};
use crate::error::Error;
use crate::service::Context;
use crate::store;

/// Parses import records and applies them in transactions of a bounded size, so that
/// a file of any length is neither held in memory nor one long transaction.
pub struct Importer {
    hasher: AddressHasher,
    columns: Option<BTreeMap<String, usize>>,
    /// Whether a record was seen (only the first may be a CSV header).
    started: bool,
    batch: Batch<SuppressionWrite>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NdjsonLine {
    email: String,
    reason: Reason,
    scope: Option<Scope>,
    note: Option<String>,
    expires_at: Option<DateTime<Utc>>,
    // Export writes these; import ignores them.
    #[serde(default)]
    #[allow(dead_code)]
    source: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    created_at: Option<String>,
}

impl Importer {
    pub fn new(cx: &Context) -> Self {
        Self {
            hasher: cx.hasher.clone(),
            columns: None,
            started: false,
            batch: Batch::new(cx, &["suppressions", "events"]),
        }
    }

    fn parse_line(text: &str) -> Result<(String, SuppressionWrite), String> {
        let l: NdjsonLine = crate::domain::json::parse_object(text.as_bytes()).map_err(|e| e.to_string())?;
        let write =
            SuppressionWrite { reason: l.reason, scope: l.scope, note: l.note, expires_at: l.expires_at };
        Ok((l.email, write))
    }

    fn parse_fields(&self, fields: &csv::StringRecord) -> Result<(String, SuppressionWrite), String> {
        let field = |name: &str| -> Option<&str> {
            let index = match &self.columns {
                Some(columns) => *columns.get(name)?,
                None => CSV_COLUMNS.iter().position(|c| *c == name).filter(|i| *i < 4)?,
            };
            fields.get(index)
        };
        // Tokens are trimmed; a note is taken as written, so that an export comes back
        // byte for byte.
        let column = |name: &str| field(name).map(str::trim).filter(|f| !f.is_empty());
        let email = column("email").ok_or("email: missing")?.to_owned();
        let reason =
            column("reason").ok_or("reason: missing")?.parse().map_err(|e| format!("reason: {e}"))?;
        let scope = column("scope").map(str::parse).transpose().map_err(|e| format!("scope: {e}"))?;
        let expires_at = column("expires_at")
            .map(|s| DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)))
            .transpose()
            .map_err(|e| format!("expires_at: {e}"))?;
        let note = field("note").filter(|n| !n.is_empty()).map(str::to_owned);
        Ok((email, SuppressionWrite { reason, scope, note, expires_at }))
    }

    /// A first CSV record whose first field is `email` names the columns.
    fn take_header(&mut self, fields: &csv::StringRecord) -> bool {
        let first = fields.get(0).map(|f| f.trim_start_matches('\u{feff}').trim());
        if !first.is_some_and(|f| f.eq_ignore_ascii_case("email")) {
            return false;
        }
        self.columns = Some(
            fields
                .iter()
                .enumerate()
                .map(|(i, h)| (h.trim_start_matches('\u{feff}').trim().to_ascii_lowercase(), i))
                .collect(),
        );
        true
    }
}

impl LineImporter for Importer {
    fn push(&mut self, line: u64, record: Record<'_>) -> bool {
        let first = !std::mem::replace(&mut self.started, true);
        let parsed = match record {
            Record::Line(raw) => match Record::ndjson_text(raw) {
                None => return false,
                Some(text) => text.and_then(Self::parse_line),
            },
            Record::Fields(fields) => {
                if first && self.take_header(fields) {
                    return false;
                }
                if fields.iter().all(|f| f.trim().is_empty()) {
                    return false;
                }
                self.parse_fields(fields)
            }
            Record::NotUtf8 => Err("the record is not UTF-8".into()),
        };
        let checked = parsed.and_then(|(email, write)| {
            let address = NormalizedAddress::parse(&email).map_err(|e| format!("email: {e}"))?;
            validate(&write, store::now()).map_err(|e| e.to_string())?;
            Ok((address, write))
        });
        self.batch.take(line, checked)
    }

    fn flush(&mut self, cx: &Context) -> Result<(), Error> {
        let hasher = self.hasher.clone();
        self.batch.flush(cx, move |db, lines| {
            let (numbers, lines): (Vec<u64>, Vec<_>) = lines
                .into_iter()
                .map(|(line, address, write)| (line, (hasher.hash(&address), address, write)))
                .unzip();
            let hashes: Vec<&[u8]> = lines.iter().map(|(hash, _, _)| &hash.0[..]).collect();
            db.lock_addresses(&hashes)?;
            let outcomes = apply_many(db, &lines, Source::Import.as_str(), Policy::Widen)?;
            Ok(numbers
                .into_iter()
                .zip(outcomes)
                .map(|(line, outcome)| (line, outcome.map_err(|e| e.to_string())))
                .collect())
        })
    }

    fn report(self) -> ImportReport {
        self.batch.report()
    }
}
