//! Queries on `contacts`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{contacts, subscriptions};
use super::Db;
use crate::domain::{ContactId, Source, Status};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = contacts, treat_none_as_default_value = false)]
pub struct ContactRow {
    pub id: ContactId,
    /// `None` for a contact known only by its address hash.
    pub email: Option<String>,
    pub address_hash: Vec<u8>,
    pub locale: Option<String>,
    pub external_id: Option<String>,
    pub unsubscribed_all: bool,
    pub unsubscribed_all_source: Option<Source>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Promotional mail is held back until then (the recipient's pause); a past time
    /// is no pause.
    pub paused_until: Option<NaiveDateTime>,
}

pub fn insert(db: &mut Db, row: &ContactRow) -> QueryResult<()> {
    diesel::insert_into(contacts::table).values(row).execute(db).map(drop)
}

/// Writes back every column but the id.
pub fn update(db: &mut Db, row: &ContactRow) -> QueryResult<()> {
    diesel::update(contacts::table.find(&row.id))
        .set((
            contacts::email.eq(&row.email),
            contacts::address_hash.eq(&row.address_hash),
            contacts::locale.eq(&row.locale),
            contacts::external_id.eq(&row.external_id),
            contacts::unsubscribed_all.eq(row.unsubscribed_all),
            contacts::unsubscribed_all_source.eq(&row.unsubscribed_all_source),
            contacts::updated_at.eq(row.updated_at),
            contacts::paused_until.eq(row.paused_until),
        ))
        .execute(db)
        .map(drop)
}

/// Writes back what a status change may change of many contacts — the time of their
/// last change and their "unsubscribed from all" flag — in one statement on
/// PostgreSQL (a join with the new values), one short statement each on SQLite (in the
/// process, no round trip).
pub fn update_flags_many(db: &mut Db, rows: &[ContactRow]) -> QueryResult<()> {
    use diesel::sql_types::{Array, Bool, Nullable, Text, Timestamp};
    if rows.is_empty() {
        return Ok(());
    }
    match db {
        Db::Pg(conn) => {
            let ids: Vec<String> = rows.iter().map(|r| r.id.to_string()).collect();
            let times: Vec<NaiveDateTime> = rows.iter().map(|r| r.updated_at).collect();
            let all: Vec<bool> = rows.iter().map(|r| r.unsubscribed_all).collect();
            let sources: Vec<Option<String>> =
                rows.iter().map(|r| r.unsubscribed_all_source.map(|s| s.as_str().to_owned())).collect();
            diesel::sql_query(
                "UPDATE contacts AS c SET updated_at = v.updated_at, unsubscribed_all = v.unsubscribed_all, \
                 unsubscribed_all_source = v.source \
                 FROM unnest($1, $2, $3, $4) AS v(id, updated_at, unsubscribed_all, source) WHERE c.id = v.id",
            )
            .bind::<Array<Text>, _>(ids)
            .bind::<Array<Timestamp>, _>(times)
            .bind::<Array<Bool>, _>(all)
            .bind::<Array<Nullable<Text>>, _>(sources)
            .execute(conn)
            .map(drop)
        }
        Db::Sqlite(_) => rows.iter().try_for_each(|row| {
            diesel::update(contacts::table.find(&row.id))
                .set((
                    contacts::updated_at.eq(row.updated_at),
                    contacts::unsubscribed_all.eq(row.unsubscribed_all),
                    contacts::unsubscribed_all_source.eq(&row.unsubscribed_all_source),
                ))
                .execute(db)
                .map(drop)
        }),
    }
}

pub fn by_id(db: &mut Db, id: &ContactId) -> QueryResult<Option<ContactRow>> {
    contacts::table.find(id).select(ContactRow::as_select()).first(db).optional()
}

pub fn by_hash(db: &mut Db, hash: &[u8]) -> QueryResult<Option<ContactRow>> {
    contacts::table
        .filter(contacts::address_hash.eq(hash))
        .select(ContactRow::as_select())
        .first(db)
        .optional()
}

/// How a contact is looked up.
pub enum Lookup<'a> {
    Id(&'a ContactId),
    Hash(&'a [u8]),
}

/// A contact's statuses: topic key and status.
pub type Statuses = Vec<(String, Status)>;

/// The contact `by` names, with its statuses by topic: one query rather than two, for
/// the preference page, which is read far more often than written.
pub fn with_statuses(db: &mut Db, by: Lookup) -> QueryResult<Option<(ContactRow, Statuses)>> {
    let query = contacts::table
        .left_join(subscriptions::table)
        .select((ContactRow::as_select(), (subscriptions::topic_key, subscriptions::status).nullable()))
        .into_boxed();
    let query = match by {
        Lookup::Id(id) => query.filter(contacts::id.eq(id)),
        Lookup::Hash(hash) => query.filter(contacts::address_hash.eq(hash)),
    };
    let rows: Vec<(ContactRow, Option<(String, Status)>)> = query.load(db)?;
    let mut rows = rows.into_iter();
    let Some((contact, first)) = rows.next() else { return Ok(None) };
    let statuses = first.into_iter().chain(rows.filter_map(|(_, status)| status)).collect();
    Ok(Some((contact, statuses)))
}

pub fn by_external_id(db: &mut Db, external_id: &str) -> QueryResult<Option<ContactRow>> {
    contacts::table
        .filter(contacts::external_id.eq(external_id))
        .select(ContactRow::as_select())
        .first(db)
        .optional()
}

/// The address hashes of every contact unsubscribed from all promotional mail.
pub fn unsubscribed_all_hashes(db: &mut Db) -> QueryResult<Vec<Vec<u8>>> {
    contacts::table.filter(contacts::unsubscribed_all.eq(true)).select(contacts::address_hash).load(db)
}

/// The address hashes of the contacts paused after `now`, and until when.
pub fn paused_after(db: &mut Db, now: NaiveDateTime) -> QueryResult<Vec<(Vec<u8>, Option<NaiveDateTime>)>> {
    contacts::table
        .filter(contacts::paused_until.gt(now))
        .select((contacts::address_hash, contacts::paused_until))
        .load(db)
}

/// The current addresses of the contacts with these hashes, for the change feed.
pub fn emails(db: &mut Db, hashes: &[Vec<u8>]) -> QueryResult<Vec<(Vec<u8>, Option<String>)>> {
    contacts::table
        .filter(contacts::address_hash.eq_any(hashes))
        .select((contacts::address_hash, contacts::email))
        .load(db)
}

/// The current addresses of these contacts, for the change feed.
pub fn emails_by_id(db: &mut Db, ids: &[ContactId]) -> QueryResult<Vec<(ContactId, Option<String>)>> {
    contacts::table.filter(contacts::id.eq_any(ids)).select((contacts::id, contacts::email)).load(db)
}

/// Inserts many contacts in one statement (bulk seeding and imports).
pub fn insert_many(db: &mut Db, rows: &[ContactRow]) -> QueryResult<()> {
    crate::insert_many!(db, contacts::table, rows)
}

pub fn delete(db: &mut Db, id: &ContactId) -> QueryResult<()> {
    diesel::delete(contacts::table.find(id)).execute(db).map(drop)
}

/// How many contacts are held.
pub fn count(db: &mut Db) -> QueryResult<i64> {
    contacts::table.count().get_result(db)
}
