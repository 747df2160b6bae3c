//! Queries on `feed_consumers`, and the positions in the ledger that consumers and
//! webhooks are measured against.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{events, feed_consumers};
use super::Db;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = feed_consumers)]
pub struct ConsumerRow {
    pub name: String,
    pub after_seq: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn find(db: &mut Db, name: &str) -> QueryResult<Option<ConsumerRow>> {
    feed_consumers::table.find(name).select(ConsumerRow::as_select()).first(db).optional()
}

pub fn list(db: &mut Db) -> QueryResult<Vec<ConsumerRow>> {
    feed_consumers::table.order(feed_consumers::name).select(ConsumerRow::as_select()).load(db)
}

/// Records how far the consumer has applied the feed, naming it the first time.
pub fn upsert(db: &mut Db, row: &ConsumerRow) -> QueryResult<()> {
    crate::per_backend!(db, |conn| diesel::insert_into(feed_consumers::table)
        .values(row)
        .on_conflict(feed_consumers::name)
        .do_update()
        .set((feed_consumers::after_seq.eq(row.after_seq), feed_consumers::updated_at.eq(row.updated_at)))
        .execute(conn))
    .map(drop)
}

pub fn delete(db: &mut Db, name: &str) -> QueryResult<bool> {
    diesel::delete(feed_consumers::table.find(name)).execute(db).map(|n| n == 1)
}

/// How many events come after `after`.
pub fn events_after(db: &mut Db, after: i64) -> QueryResult<i64> {
    events::table.filter(events::seq.gt(after)).count().get_result(db)
}
