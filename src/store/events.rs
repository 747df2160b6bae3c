//! The append-only ledger. Sequence numbers are gap-free and become visible in order,
//! so a reader that has seen `seq` N has seen all below. Whoever numbers holds the
//! `ledger_head` row until its commit:
//! - on SQLite, the write transaction itself, just before it commits ([`Tx::flush`]):
//!   it holds the whole database anyway;
//! - on PostgreSQL, a short transaction of its own right after the write commits
//!   ([`number`]): the write inserts its events under provisional numbers (negative,
//!   from the `events_provisional` sequence, unseen by every reader of `seq > N`) and
//!   never touches the head row, so the writers of several processes do not wait for
//!   each other's statements and commits; one numbering transaction numbers the
//!   committed events of every process at once.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{events, ledger_head};
use super::{Db, Tx};
use crate::domain::{ContactId, EventType, Reason, Scope, Status, UnsubscribeReason};

/// One entry of the ledger, as written and as read back. `seq` is given when its
/// transaction flushes (on PostgreSQL a provisional, negative one, until [`number`]);
/// the writer fills in what the change concerns over [`EventRow::new`].
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = events, treat_none_as_default_value = false)]
pub struct EventRow {
    pub seq: i64,
    pub occurred_at: NaiveDateTime,
    pub kind: EventType,
    pub contact_id: Option<ContactId>,
    pub address_hash: Option<Vec<u8>>,
    pub topic_key: Option<String>,
    pub old_status: Option<Status>,
    pub new_status: Option<Status>,
    pub reason: Option<Reason>,
    pub scope: Option<Scope>,
    pub expires_at: Option<NaiveDateTime>,
    pub previous_address_hash: Option<Vec<u8>>,
    /// A [`Source`](crate::domain::Source), or `feedback:<provider>`.
    pub source: String,
    pub client: Option<String>,
    pub user_agent: Option<String>,
    pub message_id: Option<String>,
    pub consent: Option<String>,
    pub legal_basis: Option<String>,
    pub detail: Option<String>,
    /// The recipient's answer, on an `unsubscribe_reason` event (its comment is `detail`).
    pub unsubscribe_reason: Option<UnsubscribeReason>,
    /// The console operator's address, on a change made in the console (source
    /// `console`). An operator is not a recipient: never pseudonymized, never scrubbed.
    pub operator: Option<String>,
}

impl EventRow {
    /// An event of `kind` at `occurred_at` by `source`, concerning nothing yet.
    pub fn new(kind: EventType, occurred_at: NaiveDateTime, source: impl Into<String>) -> Self {
        Self {
            seq: 0,
            occurred_at,
            kind,
            contact_id: None,
            address_hash: None,
            topic_key: None,
            old_status: None,
            new_status: None,
            reason: None,
            scope: None,
            expires_at: None,
            previous_address_hash: None,
            source: source.into(),
            client: None,
            user_agent: None,
            message_id: None,
            consent: None,
            legal_basis: None,
            detail: None,
            unsubscribe_reason: None,
            operator: None,
        }
    }
}

/// Takes the database's write lock (SQLite) at the start of a write transaction.
pub(super) fn lock_ledger(db: &mut Db) -> QueryResult<()> {
    diesel::update(ledger_head::table.find(1))
        .set(ledger_head::seq.eq(ledger_head::seq))
        .execute(db)
        .map(drop)
}

/// Appends `event` to the ledger; it is numbered when its transaction flushes.
pub fn append(tx: &mut Tx, event: EventRow) -> QueryResult<()> {
    tx.append(event);
    Ok(())
}

/// Takes the next `n` sequence numbers and returns the first, holding the head row
/// until the transaction ends (SQLite).
pub(super) fn reserve(db: &mut Db, n: i64) -> QueryResult<i64> {
    let last: i64 = crate::per_backend!(db, |conn| diesel::update(ledger_head::table.find(1))
        .set(ledger_head::seq.eq(ledger_head::seq + n))
        .returning(ledger_head::seq)
        .get_result(conn))?;
    Ok(last - n + 1)
}

/// One number read by a statement of the ledger's own (`… AS n`).
#[derive(QueryableByName)]
struct Number {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// `n` provisional numbers (PostgreSQL): negative, unique across processes, and more
/// negative the later they were taken, for events that [`number`] numbers once their
/// transaction has committed.
pub(super) fn provisional(db: &mut Db, n: i64) -> QueryResult<Vec<i64>> {
    // The transaction's id is assigned (the WHERE runs before the numbers are taken)
    // before its first provisional number: what lets `number` tell when every
    // transaction that may hold a number below some value has ended.
    let taken: Vec<Number> = diesel::sql_query(
        "SELECT -nextval('events_provisional') AS n FROM generate_series(1, $1) \
         WHERE pg_current_xact_id() IS NOT NULL",
    )
    .bind::<diesel::sql_types::BigInt, _>(n)
    .load(db)?;
    Ok(taken.into_iter().map(|t| t.n).collect())
}

/// What a numbering gave: the events it numbered, in order, and the ledger's head
/// after it (which also covers events another process numbered first).
#[derive(Debug, Default)]
pub struct Numbered {
    pub events: Vec<EventRow>,
    pub head: i64,
}

/// Numbers every committed event that has a provisional number (PostgreSQL; nothing to
/// do on SQLite, where a write numbers its own), in the order they were taken, in a
/// transaction of its own that holds the ledger's head row only for one call of the
/// function `prefcenter_number_ledger` (its migration says how) and its commit. Run
/// after each write's commit (by the group commit's numbering thread, while its writer
/// runs the next transaction), and by the ledger tailer for a process that died
/// between the two. Two processes numbering at once wait for each other here, and the
/// second often finds the first numbered its events. Returns no events: the index
/// reads what it lacks up to the head.
pub fn number(db: &mut Db) -> QueryResult<Numbered> {
    let Db::Pg(conn) = db else { return Ok(Numbered::default()) };
    let Number { n: head } = diesel::sql_query("SELECT prefcenter_number_ledger() AS n").get_result(conn)?;
    Ok(Numbered { events: Vec::new(), head })
}

/// Whether some committed event still waits for its number (PostgreSQL): its writer
/// died, or lost its connection, between its commit and [`number`].
pub fn unnumbered(db: &mut Db) -> QueryResult<bool> {
    let Db::Pg(conn) = db else { return Ok(false) };
    let floor: Number =
        diesel::sql_query("SELECT numbered_through AS n FROM ledger_head WHERE id = 1").get_result(conn)?;
    diesel::select(diesel::dsl::exists(events::table.filter(below_floor(floor.n)))).get_result(conn)
}

/// The events under provisional numbers above which all are numbered, the floor
/// `numbered_through`: written as a literal, so that the plan uses the partial index
/// `events_unnumbered` (a bound parameter cannot be known to be negative).
fn below_floor(numbered_through: i64) -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql::<diesel::sql_types::Bool>(&format!("seq < {}", -numbered_through))
}

/// Inserts events whose numbers [`reserve`] or [`provisional`] gave.
pub(super) fn insert_many(db: &mut Db, rows: &[EventRow]) -> QueryResult<()> {
    crate::insert_many!(db, events::table, rows)
}

/// A contact's events after `after`, oldest first.
pub fn for_contact(
    db: &mut Db,
    contact_id: &ContactId,
    after: i64,
    limit: i64,
) -> QueryResult<Vec<EventRow>> {
    events::table
        .filter(events::contact_id.eq(contact_id))
        .filter(events::seq.gt(after.max(0)))
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

/// Every event of a contact, oldest first (for an export, and for a write that
/// reads its history): the numbered ones, then those committed and still waiting for
/// their number (PostgreSQL), in the order they will get it.
pub fn all_for_contact(db: &mut Db, contact_id: &ContactId) -> QueryResult<Vec<EventRow>> {
    let mut rows: Vec<EventRow> =
        events::table.filter(events::contact_id.eq(contact_id)).select(EventRow::as_select()).load(db)?;
    rows.sort_unstable_by_key(|e| (e.seq < 0, e.seq.abs()));
    Ok(rows)
}

/// Forgets the client pseudonym and user agent of events older than `before`.
pub fn scrub_clients_before(db: &mut Db, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        events::table
            .filter(events::occurred_at.lt(before))
            .filter(events::client.is_not_null().or(events::user_agent.is_not_null())),
    )
    .set((events::client.eq(None::<String>), events::user_agent.eq(None::<String>)))
    .execute(db)
}

/// Whose events an erasure clears.
pub enum Erased<'a> {
    /// A contact's events.
    Contact(&'a ContactId),
    /// The events about an address that name no contact (its suppressions').
    Address(&'a [u8]),
}

/// Removes every personal field from the events of `whose`; they stay as counts of
/// what happened and when. The transaction's own events are flushed first, so that
/// they are scrubbed too.
pub fn scrub(tx: &mut Tx, whose: Erased) -> Result<usize, crate::error::Error> {
    tx.flush()?;
    let events = match whose {
        Erased::Contact(id) => diesel::update(events::table).filter(events::contact_id.eq(id)).into_boxed(),
        Erased::Address(hash) => diesel::update(events::table)
            .filter(events::address_hash.eq(hash))
            .filter(events::contact_id.is_null())
            .into_boxed(),
    };
    Ok(events
        .set((
            events::contact_id.eq(None::<ContactId>),
            events::address_hash.eq(None::<Vec<u8>>),
            events::previous_address_hash.eq(None::<Vec<u8>>),
            events::client.eq(None::<String>),
            events::user_agent.eq(None::<String>),
            events::message_id.eq(None::<String>),
            events::consent.eq(None::<String>),
            events::legal_basis.eq(None::<String>),
            events::detail.eq(None::<String>),
        ))
        .execute(&mut **tx)?)
}

/// Only the `unsubscribe_reason` events, written as a literal so that the partial
/// index on them (`events_unsubscribe_reasons`) serves the query on both backends.
fn unsubscribe_reason_events() -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql::<diesel::sql_types::Bool>("kind = 'unsubscribe_reason'")
}

/// The answers to "why did you leave?" given since `since`, counted per topic (`None`
/// for all promotional mail) and reason; all promotional mail first, then by topic.
pub fn unsubscribe_reasons(
    db: &mut Db,
    since: Option<NaiveDateTime>,
) -> QueryResult<Vec<(Option<String>, UnsubscribeReason, i64)>> {
    let mut query = events::table
        .filter(unsubscribe_reason_events())
        .group_by((events::topic_key, events::unsubscribe_reason))
        .select((events::topic_key, events::unsubscribe_reason, diesel::dsl::count_star()))
        .into_boxed();
    if let Some(since) = since {
        query = query.filter(events::occurred_at.ge(since));
    }
    let rows: Vec<(Option<String>, Option<UnsubscribeReason>, i64)> = query.load(db)?;
    let mut counts: Vec<_> =
        rows.into_iter().filter_map(|(topic, reason, count)| Some((topic, reason?, count))).collect();
    counts.sort();
    Ok(counts)
}

/// Clears the comments of answers given before `before` (retention); their reasons stay.
pub fn clear_reason_comments_before(db: &mut Db, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        events::table
            .filter(unsubscribe_reason_events())
            .filter(events::occurred_at.lt(before))
            .filter(events::detail.is_not_null()),
    )
    .set(events::detail.eq(None::<String>))
    .execute(db)
}

/// The console's events (those with an operator) before `before`, newest first.
pub fn by_operators(db: &mut Db, before: i64, limit: i64) -> QueryResult<Vec<EventRow>> {
    events::table
        .filter(events::operator.is_not_null())
        .filter(events::seq.lt(before))
        .filter(events::seq.gt(0))
        .order(events::seq.desc())
        .limit(limit)
        .select(EventRow::as_select())
        .load(db)
}

/// What the daily rollup reads of an event: no personal field.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = events)]
pub struct Countable {
    pub seq: i64,
    pub occurred_at: NaiveDateTime,
    pub kind: EventType,
    pub topic_key: Option<String>,
    pub old_status: Option<Status>,
    pub new_status: Option<Status>,
    pub reason: Option<Reason>,
    pub source: String,
    pub unsubscribe_reason: Option<UnsubscribeReason>,
}

/// Up to `limit` events after `after`, oldest first, as the rollup counts them.
pub fn countable_after(db: &mut Db, after: i64, limit: i64) -> QueryResult<Vec<Countable>> {
    events::table
        .filter(events::seq.gt(after))
        .order(events::seq)
        .limit(limit)
        .select(Countable::as_select())
        .load(db)
}
