//! Queries on `login_failures`: the console's failed logins, counted per key.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::login_failures;
use super::Db;

/// The attempts counted for each of `keys` whose last one came after `since`: (key,
/// count, last attempt).
pub fn recent(
    db: &mut Db,
    keys: &[String],
    since: NaiveDateTime,
) -> QueryResult<Vec<(String, i64, NaiveDateTime)>> {
    login_failures::table
        .filter(login_failures::key.eq_any(keys))
        .filter(login_failures::last_attempt_at.gt(since))
        .select((login_failures::key, login_failures::failures, login_failures::last_attempt_at))
        .load(db)
}

/// Counts an attempt against each of `keys` at `at`, before its password is verified
/// (a success is forgiven afterwards), and returns each key's count with it. Counts
/// whose last attempt came before `forget` start again from one.
pub fn add(db: &mut Db, keys: &[String], at: NaiveDateTime, forget: NaiveDateTime) -> QueryResult<Vec<i64>> {
    forget_before(db, forget)?;
    keys.iter()
        .map(|key| {
            crate::per_backend!(db, |conn| diesel::insert_into(login_failures::table)
                .values((
                    login_failures::key.eq(key),
                    login_failures::failures.eq(1_i64),
                    login_failures::last_attempt_at.eq(at)
                ))
                .on_conflict(login_failures::key)
                .do_update()
                .set((
                    login_failures::failures.eq(login_failures::failures + 1),
                    login_failures::last_attempt_at.eq(at)
                ))
                .returning(login_failures::failures)
                .get_result(conn))
        })
        .collect()
}

/// Dates the last attempt of each of `keys` at `at`: a failure's wait runs from its
/// answer, not from before its password was verified.
pub fn touch(db: &mut Db, keys: &[String], at: NaiveDateTime) -> QueryResult<()> {
    diesel::update(login_failures::table.filter(login_failures::key.eq_any(keys)))
        .set(login_failures::last_attempt_at.eq(at))
        .execute(db)
        .map(drop)
}

/// Forgets the attempts of `key` (the address's, after a successful login).
pub fn clear(db: &mut Db, key: &str) -> QueryResult<()> {
    diesel::delete(login_failures::table.find(key)).execute(db).map(drop)
}

/// Takes back one attempt of `key` (the network's, after a successful login: it was
/// not a failure).
pub fn forgive(db: &mut Db, key: &str) -> QueryResult<()> {
    diesel::update(login_failures::table.find(key).filter(login_failures::failures.gt(0)))
        .set(login_failures::failures.eq(login_failures::failures - 1))
        .execute(db)
        .map(drop)
}

/// Drops every count whose last attempt came at or before `before` (by logins, and by
/// the retention job, so that none outlives its hour on a quiet console).
pub fn forget_before(db: &mut Db, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(login_failures::table.filter(login_failures::last_attempt_at.le(before))).execute(db)
}
