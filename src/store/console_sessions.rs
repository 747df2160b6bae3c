//! Queries on `console_sessions`: the console's server-side sessions, found by the
//! SHA-256 of the id their cookie carries.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::operators::OperatorRow;
use super::schema::{console_sessions, operators};
use super::Db;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = console_sessions)]
pub struct SessionRow {
    pub id_hash: String,
    pub operator_id: String,
    pub csrf_token: String,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

pub fn insert(db: &mut Db, row: &SessionRow) -> QueryResult<()> {
    diesel::insert_into(console_sessions::table).values(row).execute(db).map(drop)
}

/// The session with this id hash and its operator, revoked or not.
pub fn find(db: &mut Db, id_hash: &str) -> QueryResult<Option<(SessionRow, OperatorRow)>> {
    console_sessions::table
        .inner_join(operators::table)
        .filter(console_sessions::id_hash.eq(id_hash))
        .select((SessionRow::as_select(), OperatorRow::as_select()))
        .first(db)
        .optional()
}

pub fn touch(db: &mut Db, id_hash: &str, at: NaiveDateTime) -> QueryResult<()> {
    diesel::update(console_sessions::table.find(id_hash))
        .set(console_sessions::last_seen_at.eq(at))
        .execute(db)
        .map(drop)
}

pub fn revoke(db: &mut Db, id_hash: &str, at: NaiveDateTime) -> QueryResult<()> {
    diesel::update(console_sessions::table.find(id_hash).filter(console_sessions::revoked_at.is_null()))
        .set(console_sessions::revoked_at.eq(at))
        .execute(db)
        .map(drop)
}

/// Revokes every open session of an operator; how many there were.
pub fn revoke_all(db: &mut Db, operator_id: &str, at: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        console_sessions::table
            .filter(console_sessions::operator_id.eq(operator_id))
            .filter(console_sessions::revoked_at.is_null()),
    )
    .set(console_sessions::revoked_at.eq(at))
    .execute(db)
}

/// Forgets sessions that ended (revoked or not seen) before `before`.
pub fn delete_before(db: &mut Db, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(console_sessions::table.filter(console_sessions::last_seen_at.lt(before))).execute(db)
}
