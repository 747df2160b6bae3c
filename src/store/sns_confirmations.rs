//! SNS subscriptions waiting for the operator to confirm them.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::sns_confirmations;
use super::Db;

#[derive(Debug, Queryable)]
pub struct SnsConfirmation {
    pub topic_arn: String,
    pub subscribe_url: String,
    pub received_at: NaiveDateTime,
}

/// Keeps the newest request for a topic (SNS sends it again until confirmed).
pub fn record(db: &mut Db, topic_arn: &str, subscribe_url: &str, at: NaiveDateTime) -> QueryResult<()> {
    crate::per_backend!(db, |conn| diesel::insert_into(sns_confirmations::table)
        .values((
            sns_confirmations::topic_arn.eq(topic_arn),
            sns_confirmations::subscribe_url.eq(subscribe_url),
            sns_confirmations::received_at.eq(at),
        ))
        .on_conflict(sns_confirmations::topic_arn)
        .do_update()
        .set((sns_confirmations::subscribe_url.eq(subscribe_url), sns_confirmations::received_at.eq(at)))
        .execute(conn))
    .map(drop)
}

/// Forgets a topic's request: it was confirmed, or the subscription is gone.
pub fn settle(db: &mut Db, topic_arn: &str) -> QueryResult<usize> {
    diesel::delete(sns_confirmations::table.find(topic_arn)).execute(db)
}

pub fn pending(db: &mut Db) -> QueryResult<Vec<SnsConfirmation>> {
    sns_confirmations::table.order(sns_confirmations::received_at.desc()).load(db)
}
