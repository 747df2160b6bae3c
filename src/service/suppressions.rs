//! Suppressions: address-level blocks, keyed by the keyed address hash. One at a time,
//! listed with a cursor, and exported in bulk as a stream (imported by
//! [`suppression_import`](super::suppression_import)).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::collections::{HashMap, HashSet};

use base64::Engine;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::import::{Format, Outcome};
use super::utc;
use crate::domain::{text, AddressHash, EventType, NormalizedAddress, Reason, Scope, Source};
use crate::error::{ConflictCode, Error};
use crate::service::Context;
use crate::store::events::EventRow;
use crate::store::suppressions::SuppressionRow;
use crate::store::{self, Db, Tx};

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuppressionWrite {
    pub reason: Reason,
    /// `all` or `promotional`; by default, the reason's: `promotional` for a complaint
    /// or an unsubscribe, `all` otherwise.
    pub scope: Option<Scope>,
    #[schema(max_length = 1000)]
    pub note: Option<String>,
    /// When the suppression stops applying; `null` for never.
    #[serde(default, deserialize_with = "crate::domain::time::optional")]
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SuppressionView {
    /// `null` for an erasure suppression: the address itself is not kept.
    pub email: Option<String>,
    pub reason: Reason,
    pub scope: Scope,
    /// `api`, `import`, `feedback:<provider>`, …
    pub source: String,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<SuppressionRow> for SuppressionView {
    fn from(row: SuppressionRow) -> Self {
        Self {
            email: row.email,
            reason: row.reason,
            scope: row.scope,
            source: row.source,
            note: row.note,
            created_at: utc(row.created_at),
            expires_at: row.expires_at.map(utc),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only suppressions with this reason.
    pub reason: Option<Reason>,
    /// The `next` of the previous page.
    #[param(pattern = "^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$")]
    pub after: Option<String>,
    /// At most this many (default 100, at most 1,000).
    #[param(minimum = 1, maximum = 1000, example = 100)]
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SuppressionPage {
    pub items: Vec<SuppressionView>,
    /// The cursor for the next page (the `after` of the next call); `null` on the last.
    #[schema(pattern = "^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$")]
    pub next: Option<String>,
}

/// How a write meets an existing suppression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Policy {
    /// An operator's explicit write replaces it.
    Replace,
    /// An import never narrows a block (an `all` stays `all`) and never touches an
    /// erasure.
    Widen,
}

const MAX_NOTE: usize = 1000;

pub(crate) fn validate(write: &SuppressionWrite, now: NaiveDateTime) -> Result<(), Error> {
    if write.reason == Reason::Erasure {
        return Err(Error::invalid(
            "reason",
            "erasure suppressions are made by erasing the contact (DELETE /v1/contacts/…)",
        ));
    }
    if write.note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE) {
        return Err(Error::invalid("note", format!("must be at most {MAX_NOTE} characters")));
    }
    // Here rather than at parsing: JSON, NDJSON and CSV all come through.
    if let Some(note) = &write.note {
        text::check(note, text::Shape::Paragraph).map_err(|e| Error::invalid("note", e))?;
    }
    if write.expires_at.is_some_and(|at| at.naive_utc() <= now) {
        return Err(Error::invalid("expires_at", "must be in the future"));
    }
    // Imports and feedback reach here without serde's check.
    if let Some(at) = write.expires_at {
        crate::domain::time::bounded(at).map_err(|why| Error::invalid("expires_at", why))?;
    }
    Ok(())
}

fn erased() -> Error {
    Error::Conflict {
        code: ConflictCode::Erased,
        detail: "this address was erased on request; its erasure suppression stays".into(),
    }
}

/// The row a write stores for an address, as of `now`.
fn row_of(
    hash: &AddressHash,
    address: &NormalizedAddress,
    write: &SuppressionWrite,
    source: &str,
    now: NaiveDateTime,
) -> SuppressionRow {
    SuppressionRow {
        address_hash: hash.0.to_vec(),
        email: Some(address.to_string()),
        reason: write.reason,
        scope: write.scope.unwrap_or(write.reason.default_scope()),
        source: source.to_owned(),
        note: write.note.clone(),
        created_at: now,
        expires_at: write.expires_at.map(|t| t.naive_utc()),
    }
}

/// What writing `row` over the suppression the address has (`existing`) does under
/// `policy`: an erasure is never replaced; an import never narrows a block; a write
/// that changes nothing is `Unchanged`. The row to store keeps the first creation time.
fn settle(
    existing: Option<&SuppressionRow>,
    mut row: SuppressionRow,
    policy: Policy,
) -> Result<(Outcome, SuppressionRow), Error> {
    let Some(old) = existing else { return Ok((Outcome::Created, row)) };
    if old.reason == Reason::Erasure {
        return Err(erased());
    }
    if policy == Policy::Widen && old.scope == Scope::All {
        row.scope = old.scope;
    }
    let same = old.reason == row.reason
        && old.scope == row.scope
        && old.note == row.note
        && old.expires_at == row.expires_at
        && old.email == row.email;
    row.created_at = old.created_at;
    Ok((if same { Outcome::Unchanged } else { Outcome::Updated }, row))
}

/// The event that records a suppression added or changed.
fn added(row: &SuppressionRow, now: NaiveDateTime) -> EventRow {
    EventRow {
        address_hash: Some(row.address_hash.clone()),
        reason: Some(row.reason),
        scope: Some(row.scope),
        expires_at: row.expires_at,
        detail: row.note.clone(),
        ..EventRow::new(EventType::SuppressionAdded, now, row.source.clone())
    }
}

/// Writes one suppression and its event, recording `source` (e.g. `api`, `import`,
/// `feedback:ses`). Runs inside `store::write`, under the address's lock
/// (`Tx::lock_addresses`), which the caller takes.
pub(crate) fn apply(
    db: &mut Tx,
    hash: &AddressHash,
    address: &NormalizedAddress,
    write: &SuppressionWrite,
    source: &str,
    policy: Policy,
) -> Result<Outcome, Error> {
    let now = store::now();
    let existing = store::suppressions::find(db, &hash.0)?;
    let (outcome, row) = settle(existing.as_ref(), row_of(hash, address, write, source, now), policy)?;
    match outcome {
        Outcome::Unchanged => return Ok(outcome),
        Outcome::Created => store::suppressions::insert(db, &row)?,
        Outcome::Updated => store::suppressions::update(db, &row)?,
    }
    db.append(added(&row, now));
    Ok(outcome)
}

/// [`apply`] for many lines at once, each under the same rules and in order (a line
/// sees what the lines before it wrote): one read, one delete and one insert for all,
/// whatever their number. Runs under the lines' address locks, which the caller takes.
/// A line's own refusal (an erased address) is reported in its place.
pub(crate) fn apply_many(
    db: &mut Tx,
    lines: &[(AddressHash, NormalizedAddress, SuppressionWrite)],
    source: &str,
    policy: Policy,
) -> Result<Vec<Result<Outcome, Error>>, Error> {
    let now = store::now();
    let hashes: Vec<&[u8]> = lines.iter().map(|(hash, _, _)| &hash.0[..]).collect();
    let mut held: HashMap<Vec<u8>, (bool, SuppressionRow)> = store::suppressions::find_many(db, &hashes)?
        .into_iter()
        .map(|row| (row.address_hash.clone(), (false, row)))
        .collect();
    let stored: HashSet<Vec<u8>> = held.keys().cloned().collect();
    let mut events = Vec::new();
    let outcomes = lines
        .iter()
        .map(|(hash, address, write)| {
            let existing = held.get(&hash.0[..]).map(|(_, row)| row);
            let (outcome, row) = settle(existing, row_of(hash, address, write, source, now), policy)?;
            if outcome != Outcome::Unchanged {
                events.push(added(&row, now));
                held.insert(row.address_hash.clone(), (true, row));
            }
            Ok(outcome)
        })
        .collect();
    let written: Vec<SuppressionRow> =
        held.into_values().filter(|(changed, _)| *changed).map(|(_, row)| row).collect();
    let replaced: Vec<&[u8]> =
        written.iter().map(|row| &row.address_hash[..]).filter(|hash| stored.contains(*hash)).collect();
    store::suppressions::delete_many(db, &replaced)?;
    store::suppressions::insert_many(db, &written)?;
    events.into_iter().for_each(|event| db.append(event));
    Ok(outcomes)
}

/// Lifts a suppression and records it in the ledger. `event` says when, by whom and
/// why; what was lifted is filled in here.
pub(crate) fn lift(db: &mut Tx, row: SuppressionRow, mut event: EventRow) -> Result<(), Error> {
    store::suppressions::delete(db, &row.address_hash)?;
    event.kind = EventType::SuppressionRemoved;
    event.address_hash = Some(row.address_hash);
    event.reason = Some(row.reason);
    event.scope = Some(row.scope);
    store::events::append(db, event)?;
    Ok(())
}

fn view_of(db: &mut Db, hash: &AddressHash) -> Result<SuppressionView, Error> {
    store::suppressions::find(db, &hash.0)?.map(SuppressionView::from).ok_or_else(not_found)
}

fn not_found() -> Error {
    Error::not_found("this address is not suppressed")
}

/// Creates or replaces the suppression of one address; `true` when created.
pub async fn put(
    cx: &Context,
    address: NormalizedAddress,
    write: SuppressionWrite,
) -> Result<(SuppressionView, bool), Error> {
    validate(&write, store::now())?;
    let hash = cx.hasher.hash(&address);
    // The suppression says who made it, as its event does.
    let source = if super::operator().is_some() { Source::Console } else { Source::Api };
    super::write(cx, move |db| {
        db.lock_addresses(&[hash.0])?;
        let outcome = apply(db, &hash, &address, &write, source.as_str(), Policy::Replace)?;
        Ok((view_of(db, &hash)?, outcome == Outcome::Created))
    })
    .await
}

pub async fn get(cx: &Context, address: NormalizedAddress) -> Result<SuppressionView, Error> {
    let hash = cx.hasher.hash(&address);
    store::run(&cx.pool, move |db| view_of(db, &hash)).await
}

/// Lifts a suppression: an operator's explicit call, the one way a hard bounce or a
/// complaint is ever lifted. An erasure suppression cannot be lifted here.
pub async fn delete(cx: &Context, address: NormalizedAddress) -> Result<(), Error> {
    lift_with_note(cx, address, None).await
}

/// [`delete`], recording why on the event (the console asks the operator for a note).
pub async fn lift_with_note(
    cx: &Context,
    address: NormalizedAddress,
    note: Option<String>,
) -> Result<(), Error> {
    if note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE) {
        return Err(Error::invalid("note", format!("must be at most {MAX_NOTE} characters")));
    }
    if let Some(note) = &note {
        text::check(note, text::Shape::Paragraph).map_err(|e| Error::invalid("note", e))?;
    }
    let hash = cx.hasher.hash(&address);
    super::write(cx, move |db| {
        db.lock_addresses(&[hash.0])?;
        let row = store::suppressions::find(db, &hash.0)?.ok_or_else(not_found)?;
        if row.reason == Reason::Erasure {
            return Err(erased());
        }
        let event = EventRow {
            detail: note,
            ..EventRow::new(EventType::SuppressionRemoved, store::now(), Source::Api.as_str())
        };
        lift(db, row, event)
    })
    .await
}

fn decode_cursor(cursor: &Option<String>) -> Result<Vec<u8>, Error> {
    match cursor {
        None => Ok(Vec::new()),
        // A cursor is the last row's address hash (32 bytes), as `next` gave it;
        // anything else is refused rather than read as some place in the list.
        Some(c) => URL_SAFE_NO_PAD
            .decode(c)
            .ok()
            .filter(|hash| hash.len() == 32)
            .ok_or_else(|| Error::invalid("after", "not a cursor this list gave")),
    }
}

pub async fn list(cx: &Context, query: ListQuery) -> Result<SuppressionPage, Error> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Error::invalid("limit", "must be between 1 and 1000"));
    }
    let after = decode_cursor(&query.after)?;
    let reason = query.reason;
    store::run(&cx.pool, move |db| {
        let rows = store::suppressions::page(db, reason, &after, limit + 1)?;
        let more = rows.len() as i64 > limit;
        let rows: Vec<SuppressionRow> = rows.into_iter().take(limit as usize).collect();
        let next = if more { rows.last().map(|r| URL_SAFE_NO_PAD.encode(&r.address_hash)) } else { None };
        Ok(SuppressionPage { items: rows.into_iter().map(SuppressionView::from).collect(), next })
    })
    .await
}

/// The CSV columns, in the order export writes them; import finds them by the
/// header's names (or takes the first four in this order when there is no header).
pub(crate) const CSV_COLUMNS: [&str; 7] =
    ["email", "reason", "scope", "note", "expires_at", "source", "created_at"];

/// One page of an export, formatted, and the cursor of the next (`None` after the
/// last page).
pub struct ExportPage {
    pub bytes: Vec<u8>,
    pub next: Option<Vec<u8>>,
}

const EXPORT_PAGE: i64 = 5000;

/// The page after `after` (empty for the first, which carries the CSV header).
pub async fn export_page(cx: &Context, format: Format, after: Vec<u8>) -> Result<ExportPage, Error> {
    let first = after.is_empty();
    let rows =
        store::run(&cx.pool, move |db| Ok(store::suppressions::page(db, None, &after, EXPORT_PAGE)?)).await?;
    let next =
        (rows.len() as i64 == EXPORT_PAGE).then(|| rows.last().map(|r| r.address_hash.clone())).flatten();
    let mut bytes = if first && format == Format::Csv { csv_header() } else { Vec::new() };
    let mut writer = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
    for row in rows {
        // An erasure suppression holds no address: there is nothing to export.
        let Some(email) = row.email.clone() else { continue };
        let view = SuppressionView::from(row);
        match format {
            Format::Ndjson => {
                serde_json::to_writer(&mut bytes, &view)
                    .map_err(|e| Error::internal("writing an export", e))?;
                bytes.push(b'\n');
            }
            Format::Csv => writer
                .write_record([
                    email.as_str(),
                    view.reason.as_str(),
                    view.scope.as_str(),
                    view.note.as_deref().unwrap_or(""),
                    &view.expires_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                    view.source.as_str(),
                    &view.created_at.to_rfc3339(),
                ])
                .map_err(|e| Error::internal("writing an export", e))?,
        }
    }
    bytes.extend(writer.into_inner().map_err(|e| Error::internal("writing an export", e))?);
    Ok(ExportPage { bytes, next })
}

fn csv_header() -> Vec<u8> {
    format!("{}\n", CSV_COLUMNS.join(",")).into_bytes()
}
