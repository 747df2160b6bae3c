//! Queries on `subscriptions`: a contact's explicit status per topic.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::subscriptions;
use super::Db;
use crate::domain::{ContactId, Source, Status};
use crate::per_backend;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = subscriptions, treat_none_as_default_value = false)]
pub struct SubscriptionRow {
    pub contact_id: ContactId,
    pub topic_key: String,
    pub status: Status,
    pub source: Source,
    pub updated_at: NaiveDateTime,
}

pub fn for_contact(db: &mut Db, contact_id: &ContactId) -> QueryResult<Vec<SubscriptionRow>> {
    subscriptions::table
        .filter(subscriptions::contact_id.eq(contact_id))
        .order(subscriptions::topic_key)
        .select(SubscriptionRow::as_select())
        .load(db)
}

/// The statuses of these contacts.
pub fn for_contacts(db: &mut Db, ids: &[ContactId]) -> QueryResult<Vec<SubscriptionRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    subscriptions::table
        .filter(subscriptions::contact_id.eq_any(ids))
        .select(SubscriptionRow::as_select())
        .load(db)
}

/// [`upsert`] for many rows: 1,000 a statement on PostgreSQL, one each on SQLite
/// (diesel has no multi-row upsert there; in the process, a statement is no round
/// trip). No two rows may name the same contact and topic.
pub fn upsert_many(db: &mut Db, rows: &[SubscriptionRow]) -> QueryResult<()> {
    use diesel::upsert::excluded;
    match db {
        Db::Pg(conn) => rows.chunks(1000).try_for_each(|part| {
            diesel::insert_into(subscriptions::table)
                .values(part)
                .on_conflict((subscriptions::contact_id, subscriptions::topic_key))
                .do_update()
                .set((
                    subscriptions::status.eq(excluded(subscriptions::status)),
                    subscriptions::source.eq(excluded(subscriptions::source)),
                    subscriptions::updated_at.eq(excluded(subscriptions::updated_at)),
                ))
                .execute(conn)
                .map(drop)
        }),
        Db::Sqlite(_) => rows.iter().try_for_each(|row| upsert(db, row)),
    }
}

/// Inserts the status, or overwrites the one the contact has for that topic.
pub fn upsert(db: &mut Db, row: &SubscriptionRow) -> QueryResult<()> {
    per_backend!(db, |conn| diesel::insert_into(subscriptions::table)
        .values(row)
        .on_conflict((subscriptions::contact_id, subscriptions::topic_key))
        .do_update()
        .set((
            subscriptions::status.eq(&row.status),
            subscriptions::source.eq(&row.source),
            subscriptions::updated_at.eq(row.updated_at),
        ))
        .execute(conn))
    .map(drop)
}

/// One explicit status with its contact's address hash, as the index loads it.
#[derive(Debug, Queryable)]
pub struct IndexedStatus {
    pub contact_id: ContactId,
    pub topic_key: String,
    pub address_hash: Vec<u8>,
    pub status: Status,
}

/// Calls `each` with every explicit status and its contact's address hash, streamed
/// in one query (the index's start-up load; pages would rescan the join).
pub fn for_each_for_index(db: &mut Db, mut each: impl FnMut(IndexedStatus)) -> QueryResult<()> {
    use super::schema::contacts;
    use diesel::connection::DefaultLoadingMode;
    let rows = subscriptions::table
        .inner_join(contacts::table)
        .select((
            subscriptions::contact_id,
            subscriptions::topic_key,
            contacts::address_hash,
            subscriptions::status,
        ))
        .load_iter::<IndexedStatus, DefaultLoadingMode>(db)?;
    for row in rows {
        each(row?);
    }
    Ok(())
}

/// Inserts many statuses in one statement (bulk seeding and imports).
pub fn insert_many(db: &mut Db, rows: &[SubscriptionRow]) -> QueryResult<()> {
    crate::insert_many!(db, subscriptions::table, rows)
}

/// How many contacts have at least one explicit status.
pub fn contacts_with_statuses(db: &mut Db) -> QueryResult<i64> {
    subscriptions::table.select(diesel::dsl::count(subscriptions::contact_id).aggregate_distinct()).first(db)
}

/// `pending` statuses last changed before `before`, with their contact's address hash.
pub fn pending_before(
    db: &mut Db,
    before: chrono::NaiveDateTime,
) -> QueryResult<Vec<(ContactId, String, Vec<u8>)>> {
    use super::schema::contacts;
    subscriptions::table
        .inner_join(contacts::table)
        .filter(subscriptions::status.eq(Status::Pending))
        .filter(subscriptions::updated_at.lt(before))
        .select((subscriptions::contact_id, subscriptions::topic_key, contacts::address_hash))
        .load(db)
}

pub fn delete(db: &mut Db, contact_id: &ContactId, topic_key: &str) -> QueryResult<()> {
    diesel::delete(subscriptions::table.find((contact_id, topic_key))).execute(db).map(drop)
}
