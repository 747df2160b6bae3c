//! Queries on `subscriptions`: a contact's explicit status per topic.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::subscriptions;
use super::Db;
use crate::per_backend;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = subscriptions)]
pub struct SubscriptionRow {
    pub contact_id: String,
    pub topic_key: String,
    pub status: String,
    pub source: String,
    pub updated_at: NaiveDateTime,
}

pub fn for_contact(db: &mut Db, contact_id: &str) -> QueryResult<Vec<SubscriptionRow>> {
    subscriptions::table
        .filter(subscriptions::contact_id.eq(contact_id))
        .order(subscriptions::topic_key)
        .select(SubscriptionRow::as_select())
        .load(db)
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
