//! The console's current totals: contacts, suppressed addresses, and each topic's
//! explicit statuses. A few `COUNT`s on indexed tables, no scan of the ledger.

use crate::domain::Status;
use crate::error::Error;
use crate::service::Context;
use crate::store;

#[derive(Debug, Clone)]
pub struct TopicTotals {
    pub key: String,
    pub name: String,
    pub default_subscribed: bool,
    pub subscribed: i64,
    pub unsubscribed: i64,
    pub pending: i64,
}

#[derive(Debug, Clone)]
pub struct Totals {
    pub contacts: i64,
    pub suppressed: i64,
    /// The topics not archived, in their order.
    pub topics: Vec<TopicTotals>,
}

pub async fn now(cx: &Context) -> Result<Totals, Error> {
    let topics = super::topics::list(cx, false).await?;
    store::run(&cx.pool, move |db| {
        let contacts = store::contacts::count(db)?;
        let suppressed = store::suppressions::count(db)?;
        let counts = store::subscriptions::counts_by_topic(db)?;
        let topics = topics
            .into_iter()
            .map(|t| {
                let count = |status: Status| {
                    counts
                        .iter()
                        .filter(|(k, s, _)| *k == t.key && *s == status)
                        .map(|(_, _, n)| n)
                        .sum::<i64>()
                };
                TopicTotals {
                    subscribed: count(Status::Subscribed),
                    unsubscribed: count(Status::Unsubscribed),
                    pending: count(Status::Pending),
                    key: t.key,
                    name: t.name,
                    default_subscribed: t.default_subscribed,
                }
            })
            .collect();
        Ok(Totals { contacts, suppressed, topics })
    })
    .await
}
