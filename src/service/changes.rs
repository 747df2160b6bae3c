//! The change feed: the ledger in sequence order, with what a sender needs to keep a
//! local copy of decisions in sync.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::utc;
use crate::domain::{ContactId, EventType, Scope, Status};
use crate::error::Error;
use crate::service::Context;
use crate::store::events::EventRow;
use crate::store::{self, Db};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    /// Events after this sequence number (0, the default, for all).
    #[param(minimum = 0, example = 0)]
    pub after: Option<i64>,
    /// At most this many (default 100, at most 10,000).
    #[param(minimum = 1, maximum = 10000, example = 100)]
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Change {
    pub seq: i64,
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub kind: EventType,
    pub occurred_at: DateTime<Utc>,
    #[schema(value_type = Option<String>)]
    pub contact_id: Option<ContactId>,
    /// The address as held now; `null` once erased (or never held).
    pub email: Option<String>,
    /// The keyed hash of the address the event concerns, in hex; stable across
    /// erasure, so a sender can match it against hashes it keeps.
    pub email_hash: Option<String>,
    pub topic: Option<String>,
    #[schema(value_type = Option<String>)]
    pub status: Option<Status>,
    /// A suppression's reason; on an `unsubscribe_reason` event, the recipient's
    /// answer (`too_frequent`, `not_relevant`, `never_signed_up`, `other`).
    pub reason: Option<String>,
    #[schema(value_type = Option<String>)]
    pub scope: Option<Scope>,
    /// When a suppression expires; on a `pause_changed` event, when the pause ends
    /// (`null`: mail resumed).
    pub expires_at: Option<DateTime<Utc>>,
    pub source: String,
    /// The console operator's address, on a change made in the console (source
    /// `console`); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// The ledger's particulars of the event (which topic setting, key or webhook):
    /// for the console's pages, not part of the feed.
    #[serde(skip)]
    pub detail: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChangePage {
    pub events: Vec<Change>,
    /// The `after` for the next call: the last sequence number returned, or the
    /// request's `after` when there was nothing new.
    pub next: i64,
}

pub async fn list(cx: &Context, query: ChangesQuery) -> Result<ChangePage, Error> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=10_000).contains(&limit) {
        return Err(Error::invalid("limit", "must be between 1 and 10000"));
    }
    let after = query.after.unwrap_or(0);
    if after < 0 {
        return Err(Error::invalid("after", "must not be negative"));
    }
    store::run(&cx.pool, move |db| {
        let rows = store::events::after(db, after, limit)?;
        let next = rows.last().map_or(after, |r| r.seq);
        Ok(ChangePage { events: view(db, rows)?, next })
    })
    .await
}

/// Events as the feed shows them (and webhooks deliver them): each with the address
/// its contact, or its hash, names now.
pub fn view(db: &mut Db, rows: Vec<EventRow>) -> Result<Vec<Change>, Error> {
    // A contact's event names the contact's address now (it may have been
    // corrected since); any other, the address its hash names now.
    let mut ids: Vec<ContactId> = rows.iter().filter_map(|r| r.contact_id).collect();
    ids.sort();
    ids.dedup();
    let mut by_contact: HashMap<ContactId, String> = HashMap::new();
    for chunk in ids.chunks(500) {
        by_contact.extend(
            store::contacts::emails_by_id(db, chunk)?.into_iter().filter_map(|(id, e)| Some((id, e?))),
        );
    }
    let mut hashes: Vec<Vec<u8>> =
        rows.iter().filter(|r| r.contact_id.is_none()).filter_map(|r| r.address_hash.clone()).collect();
    hashes.sort();
    hashes.dedup();
    let mut by_hash: HashMap<Vec<u8>, String> = HashMap::new();
    for chunk in hashes.chunks(500) {
        by_hash
            .extend(store::suppressions::emails(db, chunk)?.into_iter().filter_map(|(h, e)| Some((h, e?))));
        by_hash.extend(store::contacts::emails(db, chunk)?.into_iter().filter_map(|(h, e)| Some((h, e?))));
    }
    Ok(rows
        .into_iter()
        .map(|r| Change {
            seq: r.seq,
            occurred_at: utc(r.occurred_at),
            email: match &r.contact_id {
                Some(id) => by_contact.get(id).cloned(),
                None => r.address_hash.as_ref().and_then(|h| by_hash.get(h).cloned()),
            },
            email_hash: r.address_hash.as_ref().map(hex::encode),
            kind: r.kind,
            contact_id: r.contact_id,
            topic: r.topic_key,
            status: r.new_status,
            reason: r.reason.map(|r| r.to_string()).or(r.unsubscribe_reason.map(|r| r.to_string())),
            scope: r.scope,
            expires_at: r.expires_at.map(utc),
            source: r.source,
            operator: r.operator,
            detail: r.detail,
        })
        .collect())
}
