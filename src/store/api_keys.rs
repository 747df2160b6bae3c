//! Queries on `api_keys`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::api_keys;
use super::Db;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_keys)]
pub struct ApiKeyRow {
    pub id: String,
    pub name: String,
    pub lookup: String,
    pub secret_hash: String,
    pub scopes: String,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

pub fn insert(db: &mut Db, row: &ApiKeyRow) -> QueryResult<()> {
    diesel::insert_into(api_keys::table).values(row).execute(db).map(drop)
}

pub fn count(db: &mut Db) -> QueryResult<i64> {
    api_keys::table.count().get_result(db)
}

/// Whether any key, revoked or not, has this lookup prefix (the column is unique).
pub fn lookup_taken(db: &mut Db, lookup: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(api_keys::table.filter(api_keys::lookup.eq(lookup)))).get_result(db)
}

/// The key that `lookup` names, unless it was revoked.
pub fn active_by_lookup(db: &mut Db, lookup: &str) -> QueryResult<Option<ApiKeyRow>> {
    api_keys::table
        .filter(api_keys::lookup.eq(lookup))
        .filter(api_keys::revoked_at.is_null())
        .select(ApiKeyRow::as_select())
        .first(db)
        .optional()
}

pub fn list(db: &mut Db) -> QueryResult<Vec<ApiKeyRow>> {
    api_keys::table.order((api_keys::created_at, api_keys::id)).select(ApiKeyRow::as_select()).load(db)
}

pub fn find(db: &mut Db, id: &str) -> QueryResult<Option<ApiKeyRow>> {
    api_keys::table.find(id).select(ApiKeyRow::as_select()).first(db).optional()
}

/// Marks the key revoked; `false` when there was no active key with that id.
pub fn revoke(db: &mut Db, id: &str, at: NaiveDateTime) -> QueryResult<bool> {
    diesel::update(api_keys::table.find(id).filter(api_keys::revoked_at.is_null()))
        .set(api_keys::revoked_at.eq(at))
        .execute(db)
        .map(|n| n == 1)
}

/// The rows, revoked or not, that these lookups name: what a cache of keys re-reads
/// to learn of revocations made elsewhere.
pub fn by_lookups(db: &mut Db, lookups: &[String]) -> QueryResult<Vec<ApiKeyRow>> {
    let mut rows = Vec::with_capacity(lookups.len());
    // Well below both backends' limits on bound parameters.
    for chunk in lookups.chunks(500) {
        rows.extend(
            api_keys::table.filter(api_keys::lookup.eq_any(chunk)).select(ApiKeyRow::as_select()).load(db)?,
        );
    }
    Ok(rows)
}

/// Replaces a key's stored hash, unless it changed since it was read as `old`;
/// `false` when nothing was replaced.
pub fn replace_hash(db: &mut Db, id: &str, old: &str, new: &str) -> QueryResult<bool> {
    diesel::update(api_keys::table.find(id).filter(api_keys::secret_hash.eq(old)))
        .set(api_keys::secret_hash.eq(new))
        .execute(db)
        .map(|n| n == 1)
}
