//! Queries on the daily rollup of the ledger (`daily_counts`) and on how far it has
//! counted (`daily_counts_position`).

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::upsert::excluded;

use super::schema::{daily_counts, daily_counts_position};
use super::Db;
use crate::domain::CountKind;

/// One count: how many events of `kind` with `label` (a source, a reason) concerned
/// `topic_key` ('' for none) on `day` (UTC).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = daily_counts)]
pub struct CountRow {
    pub day: NaiveDate,
    pub topic_key: String,
    pub kind: CountKind,
    pub label: String,
    pub count: i64,
}

/// Takes the position row until the transaction ends and reads it. Another process
/// that rolls up waits here (PostgreSQL's row lock; on SQLite this is the write that
/// takes the database's write lock), then reads the position this one left.
pub fn take_position(db: &mut Db) -> QueryResult<i64> {
    diesel::update(daily_counts_position::table.find(1))
        .set(daily_counts_position::seq.eq(daily_counts_position::seq))
        .execute(db)?;
    position(db)
}

/// The last sequence number counted.
pub fn position(db: &mut Db) -> QueryResult<i64> {
    daily_counts_position::table.find(1).select(daily_counts_position::seq).first(db)
}

/// Moves the position from `from` to `to`; `false` (and nothing changed) when it was
/// no longer at `from`: a compare-and-set, so that counts are never added for events
/// another transaction counted already.
pub fn advance(db: &mut Db, from: i64, to: i64) -> QueryResult<bool> {
    diesel::update(daily_counts_position::table.find(1).filter(daily_counts_position::seq.eq(from)))
        .set(daily_counts_position::seq.eq(to))
        .execute(db)
        .map(|n| n == 1)
}

/// Adds `rows` to the counts held (a new key starts at zero).
pub fn add(db: &mut Db, rows: &[CountRow]) -> QueryResult<()> {
    for row in rows {
        crate::per_backend!(db, |conn| diesel::insert_into(daily_counts::table)
            .values(row)
            .on_conflict((
                daily_counts::day,
                daily_counts::topic_key,
                daily_counts::kind,
                daily_counts::label
            ))
            .do_update()
            .set(daily_counts::count.eq(daily_counts::count + excluded(daily_counts::count)))
            .execute(conn))?;
    }
    Ok(())
}

/// Every count of the days from `from` on, oldest first.
pub fn since(db: &mut Db, from: NaiveDate) -> QueryResult<Vec<CountRow>> {
    daily_counts::table
        .filter(daily_counts::day.ge(from))
        .order((daily_counts::day, daily_counts::topic_key, daily_counts::kind, daily_counts::label))
        .select(CountRow::as_select())
        .load(db)
}
