//! prefcenter's own form: `{"email", "type", "topic"?, "message_id"?, "detail"?, "id"?,
//! "occurred_at"?}`, one object or an array of them.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{Entry, Kind, Notice, Refusal};
use crate::domain::{text, TopicKey};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenericNotice {
    #[schema(example = "bounced@example.com")]
    pub email: String,
    #[serde(rename = "type")]
    pub kind: Kind,
    #[schema(value_type = Option<String>, pattern = "^[a-z0-9][a-z0-9._-]{0,63}$")]
    pub topic: Option<TopicKey>,
    #[serde(default, deserialize_with = "text::optional_identifier")]
    pub message_id: Option<String>,
    #[serde(default, deserialize_with = "text::optional_paragraph")]
    pub detail: Option<String>,
    /// Your id for this notification: sending it again then changes nothing.
    #[serde(default, deserialize_with = "text::optional_identifier")]
    pub id: Option<String>,
    /// When it happened (default: now); soft bounces are counted by it.
    #[serde(default, deserialize_with = "crate::domain::time::optional")]
    pub occurred_at: Option<DateTime<Utc>>,
}

pub fn read(body: &[u8], now: NaiveDateTime) -> Result<Vec<Entry>, Refusal> {
    super::one_or_many(body, |n: GenericNotice| {
        Entry::Notice(Notice {
            id: n.id,
            email: n.email,
            kind: n.kind,
            topic: n.topic,
            group: None,
            message_id: n.message_id,
            detail: n.detail,
            occurred_at: n.occurred_at.map_or(now, |t| t.naive_utc()),
        })
    })
}
