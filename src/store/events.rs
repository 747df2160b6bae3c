//! The append-only ledger. Appends are serialised by the `ledger_head` row, which
//! every write transaction locks first (`store::write`): sequence numbers are
//! gap-free and commit in order, so a reader that has seen `seq` N has seen all below.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{events, ledger_head};
use super::Db;

#[derive(Debug, Clone, Default, Insertable)]
#[diesel(table_name = events)]
pub struct NewEvent {
    pub seq: i64,
    pub occurred_at: NaiveDateTime,
    pub kind: String,
    pub contact_id: Option<String>,
    pub address_hash: Option<Vec<u8>>,
    pub topic_key: Option<String>,
    pub old_status: Option<String>,
    pub new_status: Option<String>,
    pub reason: Option<String>,
    pub scope: Option<String>,
    pub expires_at: Option<NaiveDateTime>,
    pub previous_address_hash: Option<Vec<u8>>,
    pub source: String,
    pub client: Option<String>,
    pub user_agent: Option<String>,
    pub message_id: Option<String>,
    pub consent: Option<String>,
    pub legal_basis: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = events)]
pub struct EventRow {
    pub seq: i64,
    pub occurred_at: NaiveDateTime,
    pub kind: String,
    pub contact_id: Option<String>,
    pub address_hash: Option<Vec<u8>>,
    pub topic_key: Option<String>,
    pub old_status: Option<String>,
    pub new_status: Option<String>,
    pub reason: Option<String>,
    pub scope: Option<String>,
    pub expires_at: Option<NaiveDateTime>,
    pub previous_address_hash: Option<Vec<u8>>,
    pub source: String,
    pub client: Option<String>,
    pub user_agent: Option<String>,
    pub message_id: Option<String>,
    pub consent: Option<String>,
    pub legal_basis: Option<String>,
    pub detail: Option<String>,
}

/// Takes the ledger's row lock (PostgreSQL) or the database's write lock (SQLite)
/// until the transaction ends.
pub fn lock_ledger(db: &mut Db) -> QueryResult<()> {
    diesel::update(ledger_head::table.find(1))
        .set(ledger_head::seq.eq(ledger_head::seq))
        .execute(db)
        .map(drop)
}

/// Appends `event` with the next sequence number, which it returns.
pub fn append(db: &mut Db, mut event: NewEvent) -> QueryResult<i64> {
    diesel::update(ledger_head::table.find(1)).set(ledger_head::seq.eq(ledger_head::seq + 1)).execute(db)?;
    event.seq = ledger_head::table.find(1).select(ledger_head::seq).first(db)?;
    diesel::insert_into(events::table).values(&event).execute(db)?;
    Ok(event.seq)
}

/// A contact's events after `after`, oldest first.
pub fn for_contact(db: &mut Db, contact_id: &str, after: i64, limit: i64) -> QueryResult<Vec<EventRow>> {
    events::table
        .filter(events::contact_id.eq(contact_id))
        .filter(events::seq.gt(after))
        .order(events::seq)
        .limit(limit)
        .select(EventRow::as_select())
        .load(db)
}

/// The last sequence number handed out.
pub fn head(db: &mut Db) -> QueryResult<i64> {
    ledger_head::table.find(1).select(ledger_head::seq).first(db)
}

/// Events after `after`, oldest first.
pub fn after(db: &mut Db, after: i64, limit: i64) -> QueryResult<Vec<EventRow>> {
    events::table
        .filter(events::seq.gt(after))
        .order(events::seq)
        .limit(limit)
        .select(EventRow::as_select())
        .load(db)
}
