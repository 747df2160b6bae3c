//! "Why did you leave?": the one optional question after an unsubscribe. An answer is
//! an `unsubscribe_reason` event on the contact — the reason, and an optional comment
//! as its `detail` — and changes no status. The comment is personal data: it goes
//! with the contact in an export and is cleared by an erasure, and by retention once
//! it is older than the retention period. Operators see counts per topic and reason.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::contacts::{self, ContactRef, Evidence};
use crate::domain::text::{self, Shape};
use crate::domain::token::Link;
use crate::domain::{AddressHash, EventType, Source, Status, UnsubscribeReason};
use crate::error::Error;
use crate::service::Context;
use crate::store::events::EventRow;
use crate::store::{self, Db};

/// The most characters a comment may have.
pub const MAX_COMMENT_CHARS: usize = 500;

/// A recipient's answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub reason: UnsubscribeReason,
    /// Trimmed; `None` when left empty.
    pub comment: Option<String>,
}

impl Answer {
    /// The answer from the form's fields; 422 naming the field that is wrong.
    pub fn from_form(reason: Option<&str>, comment: Option<&str>) -> Result<Answer, Error> {
        let reason = reason.and_then(|r| r.trim().parse::<UnsubscribeReason>().ok()).ok_or_else(|| {
            Error::invalid("reason", "must be one of too_frequent, not_relevant, never_signed_up, other")
        })?;
        let comment = comment.map(str::trim).filter(|c| !c.is_empty());
        if let Some(comment) = comment {
            text::check(comment, Shape::Paragraph).map_err(|e| Error::invalid("comment", e))?;
            if comment.chars().count() > MAX_COMMENT_CHARS {
                return Err(Error::invalid(
                    "comment",
                    format!("must be at most {MAX_COMMENT_CHARS} characters"),
                ));
            }
        }
        Ok(Answer { reason, comment: comment.map(str::to_owned) })
    }
}

/// Whether the recipient is unsubscribed from what `event` unsubscribed from.
fn unsubscribes(event: &EventRow, topic: Option<&str>) -> bool {
    match (event.kind, topic) {
        (EventType::SubscriptionChanged, Some(topic)) => {
            event.topic_key.as_deref() == Some(topic) && event.new_status == Some(Status::Unsubscribed)
        }
        (EventType::UnsubscribedAllChanged, _) => event.new_status == Some(Status::Unsubscribed),
        _ => false,
    }
}

/// Records the answer to the question asked after the unsubscribe that `link` made,
/// once: an answer for an unsubscribe already answered, or from someone who is not
/// unsubscribed (they undid it), changes nothing. Returns whether it was recorded.
pub async fn record(cx: &Context, link: Link, answer: Answer, evidence: Evidence) -> Result<bool, Error> {
    let hasher = cx.hasher.clone();
    super::write(cx, move |db| {
        // Under the contact's lock, as every write that changes a contact: its
        // statuses and history cannot change meanwhile, and its events are numbered in
        // the order the writes committed.
        let contact = contacts::lock(db, &hasher, &ContactRef::from(link.recipient), &[])?
            .ok_or_else(|| Error::not_found("there is no unsubscribe to explain"))?;
        let topic = link.topic.as_ref().map(|t| t.as_str());
        let unsubscribed = contact.unsubscribed_all
            || store::subscriptions::for_contact(db, &contact.id)?
                .iter()
                .any(|s| Some(s.topic_key.as_str()) == topic && s.status == Status::Unsubscribed);
        if !unsubscribed {
            return Ok(false);
        }
        // Once per unsubscribe: nothing answered since the last event that unsubscribed.
        // Flushed first, so that the history holds the events of the writes before
        // this one in the same transaction (an answer sent twice at once).
        db.flush()?;
        let history = store::events::all_for_contact(db, &contact.id)?;
        let last_unsubscribe = history.iter().rposition(|e| unsubscribes(e, topic));
        let answered = history
            .iter()
            .skip(last_unsubscribe.map_or(0, |i| i + 1))
            .any(|e| e.kind == EventType::UnsubscribeReason && e.topic_key.as_deref() == topic);
        if answered {
            return Ok(false);
        }
        let hash = AddressHash::from_slice(&contact.address_hash).ok_or_else(|| Error::bug("stored hash"))?;
        store::events::append(
            db,
            EventRow {
                contact_id: Some(contact.id),
                address_hash: Some(hash.0.to_vec()),
                topic_key: topic.map(str::to_owned),
                unsubscribe_reason: Some(answer.reason),
                detail: answer.comment,
                message_id: link.message_id.clone(),
                client: evidence.client,
                user_agent: evidence.user_agent.map(str::to_owned),
                ..EventRow::new(EventType::UnsubscribeReason, store::now(), Source::Page.as_str())
            },
        )?;
        Ok(true)
    })
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CountsQuery {
    /// Only answers given at or after this time (RFC 3339, UTC); all when left out.
    #[serde(default, deserialize_with = "crate::domain::time::optional")]
    #[param(value_type = Option<DateTime<Utc>>, example = "2027-01-01T00:00:00Z")]
    pub since: Option<DateTime<Utc>>,
}

/// How many recipients gave one reason for leaving one topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ReasonCount {
    /// The topic they left; `null` for all promotional mail.
    pub topic: Option<String>,
    #[schema(value_type = String, example = "too_frequent")]
    pub reason: UnsubscribeReason,
    pub count: i64,
}

/// The answers to "why did you leave?", counted.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReasonCounts {
    pub since: Option<DateTime<Utc>>,
    /// By topic (all promotional mail first), then by reason.
    pub counts: Vec<ReasonCount>,
    pub total: i64,
}

/// Counts the answers given since `since`, per topic and reason. Answers of erased
/// contacts still count: erasure clears who gave them and their comments, not that
/// they were given.
pub fn counts_on(db: &mut Db, since: Option<NaiveDateTime>) -> Result<ReasonCounts, Error> {
    let rows = store::events::unsubscribe_reasons(db, since)?;
    let counts: Vec<ReasonCount> =
        rows.into_iter().map(|(topic, reason, count)| ReasonCount { topic, reason, count }).collect();
    let total = counts.iter().map(|c| c.count).sum();
    Ok(ReasonCounts { since: since.map(super::utc), counts, total })
}

/// The counts for the API and the operators' console.
pub async fn counts(cx: &Context, query: CountsQuery) -> Result<ReasonCounts, Error> {
    let since = query.since.map(|t| t.naive_utc());
    store::run(&cx.pool, move |db| counts_on(db, since)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_from_the_form_as_the_text_rules_say() {
        let ok = Answer::from_form(Some("too_frequent"), Some("  weekly would do \n ")).unwrap();
        assert_eq!(
            (ok.reason, ok.comment.as_deref()),
            (UnsubscribeReason::TooFrequent, Some("weekly would do"))
        );
        assert_eq!(Answer::from_form(Some("other"), Some("   ")).unwrap().comment, None);
        assert_eq!(
            Answer::from_form(Some("other"), Some("a\nb\tc")).unwrap().comment.as_deref(),
            Some("a\nb\tc")
        );
        for (reason, comment, field) in [
            (None, None, "reason"),
            (Some("bored"), None, "reason"),
            (Some("Other"), None, "reason"),
            (Some("other"), Some("nul\u{0}"), "comment"),
            (Some("other"), Some("esc\u{1b}[2J"), "comment"),
        ] {
            match Answer::from_form(reason, comment) {
                Err(Error::Invalid { errors, .. }) => {
                    assert_eq!(errors[0].field, field, "{reason:?} {comment:?}")
                }
                other => panic!("{reason:?} {comment:?}: {other:?}"),
            }
        }
        assert!(Answer::from_form(Some("other"), Some(&"é".repeat(500))).is_ok());
        assert!(Answer::from_form(Some("other"), Some(&"é".repeat(501))).is_err());
    }
}
