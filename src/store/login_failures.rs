//! Queries on `login_failures`: the console's failed logins, counted per key.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::login_failures;
use super::Db;

/// The failures counted for each of `keys` whose last one came after `since`: (key,
/// failures, last failure).
pub fn recent(
    db: &mut Db,
    keys: &[String],
    since: NaiveDateTime,
) -> QueryResult<Vec<(String, i64, NaiveDateTime)>> {
    login_failures::table
        .filter(login_failures::key.eq_any(keys))
        .filter(login_failures::last_failed_at.gt(since))
        .select((login_failures::key, login_failures::failures, login_failures::last_failed_at))
        .load(db)
}

/// Counts a failure of each of `keys` at `at`. Counts whose last failure came before
/// `forget` start again from one (and every such count is dropped, so that the table
/// keeps only the last hour's).
pub fn add(db: &mut Db, keys: &[String], at: NaiveDateTime, forget: NaiveDateTime) -> QueryResult<()> {
    diesel::delete(login_failures::table.filter(login_failures::last_failed_at.le(forget))).execute(db)?;
    for key in keys {
        crate::per_backend!(db, |conn| diesel::insert_into(login_failures::table)
            .values((
                login_failures::key.eq(key),
                login_failures::failures.eq(1_i64),
                login_failures::last_failed_at.eq(at)
            ))
            .on_conflict(login_failures::key)
            .do_update()
            .set((
                login_failures::failures.eq(login_failures::failures + 1),
                login_failures::last_failed_at.eq(at)
            ))
            .execute(conn))?;
    }
    Ok(())
}

/// Forgets the failures of `key` (after a successful login).
pub fn clear(db: &mut Db, key: &str) -> QueryResult<()> {
    diesel::delete(login_failures::table.find(key)).execute(db).map(drop)
}
