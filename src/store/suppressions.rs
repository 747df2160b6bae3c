//! Queries on `suppressions`, keyed by the keyed address hash.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::suppressions;
use super::Db;
use crate::domain::{Provider, Reason, Scope};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = suppressions, treat_none_as_default_value = false)]
pub struct SuppressionRow {
    pub address_hash: Vec<u8>,
    pub email: Option<String>,
    pub reason: Reason,
    pub scope: Scope,
    pub source: String,
    pub note: Option<String>,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
}

pub fn find(db: &mut Db, hash: &[u8]) -> QueryResult<Option<SuppressionRow>> {
    suppressions::table.find(hash).select(SuppressionRow::as_select()).first(db).optional()
}

/// The suppressions of these addresses.
pub fn find_many(db: &mut Db, hashes: &[&[u8]]) -> QueryResult<Vec<SuppressionRow>> {
    if hashes.is_empty() {
        return Ok(Vec::new());
    }
    suppressions::table
        .filter(suppressions::address_hash.eq_any(hashes))
        .select(SuppressionRow::as_select())
        .load(db)
}

/// Removes the suppressions of these addresses, 1,000 a statement.
pub fn delete_many(db: &mut Db, hashes: &[&[u8]]) -> QueryResult<()> {
    hashes.chunks(1000).try_for_each(|part| {
        diesel::delete(suppressions::table.filter(suppressions::address_hash.eq_any(part)))
            .execute(db)
            .map(drop)
    })
}

/// Inserts many suppressions.
pub fn insert_many(db: &mut Db, rows: &[SuppressionRow]) -> QueryResult<()> {
    crate::insert_many!(db, suppressions::table, rows)
}

pub fn delete(db: &mut Db, hash: &[u8]) -> QueryResult<()> {
    diesel::delete(suppressions::table.find(hash)).execute(db).map(drop)
}

/// Every suppression, for loading the index.
pub fn all(db: &mut Db) -> QueryResult<Vec<SuppressionRow>> {
    suppressions::table.select(SuppressionRow::as_select()).load(db)
}

pub fn insert(db: &mut Db, row: &SuppressionRow) -> QueryResult<()> {
    diesel::insert_into(suppressions::table).values(row).execute(db).map(drop)
}

/// Writes back every column but the hash and the creation time.
pub fn update(db: &mut Db, row: &SuppressionRow) -> QueryResult<()> {
    diesel::update(suppressions::table.find(&row.address_hash))
        .set((
            suppressions::email.eq(&row.email),
            suppressions::reason.eq(&row.reason),
            suppressions::scope.eq(&row.scope),
            suppressions::source.eq(&row.source),
            suppressions::note.eq(&row.note),
            suppressions::expires_at.eq(row.expires_at),
        ))
        .execute(db)
        .map(drop)
}

/// A page in address-hash order after `after`: rows never move in this order, so a
/// cursor neither skips nor repeats a row while others are added.
pub fn page(
    db: &mut Db,
    reason: Option<Reason>,
    after: &[u8],
    limit: i64,
) -> QueryResult<Vec<SuppressionRow>> {
    let mut query = suppressions::table
        .filter(suppressions::address_hash.gt(after))
        .order(suppressions::address_hash)
        .limit(limit)
        .select(SuppressionRow::as_select())
        .into_boxed();
    if let Some(reason) = reason {
        query = query.filter(suppressions::reason.eq(reason));
    }
    query.load(db)
}

/// The stored addresses of these hashes, for the change feed.
pub fn emails(db: &mut Db, hashes: &[Vec<u8>]) -> QueryResult<Vec<(Vec<u8>, Option<String>)>> {
    suppressions::table
        .filter(suppressions::address_hash.eq_any(hashes))
        .select((suppressions::address_hash, suppressions::email))
        .load(db)
}

/// Suppressions that expired before `before`.
pub fn expired_before(db: &mut Db, before: NaiveDateTime) -> QueryResult<Vec<SuppressionRow>> {
    suppressions::table
        .filter(suppressions::expires_at.lt(before))
        .select(SuppressionRow::as_select())
        .load(db)
}

/// Records one soft bounce of an address.
pub fn record_soft_bounce(
    db: &mut Db,
    hash: &[u8],
    at: NaiveDateTime,
    provider: Provider,
) -> QueryResult<()> {
    use super::schema::soft_bounces;
    diesel::insert_into(soft_bounces::table)
        .values((
            soft_bounces::address_hash.eq(hash),
            soft_bounces::occurred_at.eq(at),
            soft_bounces::provider.eq(provider),
        ))
        .execute(db)
        .map(drop)
}

/// How many soft bounces an address had in `[since, until]`.
pub fn soft_bounces_between(
    db: &mut Db,
    hash: &[u8],
    since: NaiveDateTime,
    until: NaiveDateTime,
) -> QueryResult<i64> {
    use super::schema::soft_bounces;
    soft_bounces::table
        .filter(soft_bounces::address_hash.eq(hash))
        .filter(soft_bounces::occurred_at.ge(since))
        .filter(soft_bounces::occurred_at.le(until))
        .count()
        .get_result(db)
}

/// Notes a provider's notification as applied; `false` when it already was. One
/// insert that does nothing on a conflict: of two deliveries of one notification in
/// flight at once (two processes), the second waits for the first and finds it.
pub fn first_receipt(db: &mut Db, provider: Provider, id: &str, at: NaiveDateTime) -> QueryResult<bool> {
    use super::schema::feedback_receipts;
    let row = (
        feedback_receipts::provider.eq(provider),
        feedback_receipts::notification_id.eq(id),
        feedback_receipts::received_at.eq(at),
    );
    let inserted = crate::per_backend!(db, |conn| diesel::insert_into(feedback_receipts::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(conn))?;
    Ok(inserted == 1)
}
