//! The consent rules for writes to a contact: what the recipient chose themselves
//! (one-click, the preference page, a provider's unsubscribe) and what was erased on
//! request is not turned back by an operator's write unless the write says how
//! consent was given again. Pure: the service reads the current state, asks here, and
//! refuses the whole write with 409 when a rule says no.

use super::{Reason, Source, Status};

/// Why a write needs proof of new consent it does not carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The address was erased on request.
    Erased,
    /// The recipient unsubscribed from this topic themselves.
    TopicChosen(String),
    /// The recipient unsubscribed from all promotional mail themselves.
    AllChosen,
}

/// A topic's status may go from `current` (with the source that set it) to `new`.
pub fn may_set_status(
    current: Option<(Status, Source)>,
    new: Status,
    proof: bool,
    topic: &str,
) -> Result<(), Refusal> {
    let chosen = current
        .is_some_and(|(status, source)| status == Status::Unsubscribed && source.is_recipients_choice());
    if chosen && new != Status::Unsubscribed && !proof {
        return Err(Refusal::TopicChosen(topic.to_owned()));
    }
    Ok(())
}

/// The "unsubscribed from all promotional mail" flag, set by `source` when it is on,
/// may become `wanted`.
pub fn may_set_unsubscribed_all(
    on: bool,
    source: Option<Source>,
    wanted: Option<bool>,
    proof: bool,
) -> Result<(), Refusal> {
    let lifting = on && wanted == Some(false);
    if lifting && source.is_some_and(Source::is_recipients_choice) && !proof {
        return Err(Refusal::AllChosen);
    }
    Ok(())
}

/// What a new contact's write does to the suppression its address has (`reason`):
/// `true` when an erasure is to be lifted, with the write's proof as its record.
/// `keep` stores the contact but leaves the erasure for a later confirmation to lift.
pub fn lifts_erasure(reason: Option<Reason>, keep: bool, proof: bool) -> Result<bool, Refusal> {
    if reason != Some(Reason::Erasure) || keep {
        return Ok(false);
    }
    if !proof {
        return Err(Refusal::Erased);
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recipients_own_unsubscribe_needs_proof_to_reverse() {
        let chosen = Some((Status::Unsubscribed, Source::OneClick));
        assert_eq!(
            may_set_status(chosen, Status::Subscribed, false, "news"),
            Err(Refusal::TopicChosen("news".into()))
        );
        assert_eq!(
            may_set_status(chosen, Status::Pending, false, "news"),
            Err(Refusal::TopicChosen("news".into()))
        );
        assert_eq!(may_set_status(chosen, Status::Subscribed, true, "news"), Ok(()));
        assert_eq!(may_set_status(chosen, Status::Unsubscribed, false, "news"), Ok(()));
    }

    #[test]
    fn an_operators_unsubscribe_or_no_status_needs_none() {
        let by_api = Some((Status::Unsubscribed, Source::Api));
        assert_eq!(may_set_status(by_api, Status::Subscribed, false, "news"), Ok(()));
        assert_eq!(may_set_status(None, Status::Subscribed, false, "news"), Ok(()));
        let subscribed = Some((Status::Subscribed, Source::Page));
        assert_eq!(may_set_status(subscribed, Status::Pending, false, "news"), Ok(()));
    }

    #[test]
    fn lifting_unsubscribed_all() {
        let page = Some(Source::Page);
        assert_eq!(may_set_unsubscribed_all(true, page, Some(false), false), Err(Refusal::AllChosen));
        assert_eq!(may_set_unsubscribed_all(true, page, Some(false), true), Ok(()));
        assert_eq!(may_set_unsubscribed_all(true, page, Some(true), false), Ok(()));
        assert_eq!(may_set_unsubscribed_all(true, page, None, false), Ok(()));
        assert_eq!(may_set_unsubscribed_all(true, Some(Source::Import), Some(false), false), Ok(()));
        assert_eq!(may_set_unsubscribed_all(true, None, Some(false), false), Ok(()));
        assert_eq!(may_set_unsubscribed_all(false, page, Some(false), false), Ok(()));
    }

    #[test]
    fn an_erased_address_is_stored_again_only_with_proof() {
        let erased = Some(Reason::Erasure);
        assert_eq!(lifts_erasure(erased, false, false), Err(Refusal::Erased));
        assert_eq!(lifts_erasure(erased, false, true), Ok(true));
        assert_eq!(lifts_erasure(erased, true, false), Ok(false));
        assert_eq!(lifts_erasure(Some(Reason::HardBounce), false, false), Ok(false));
        assert_eq!(lifts_erasure(None, false, false), Ok(false));
    }
}
