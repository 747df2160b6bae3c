//! `decide()`: may this message be sent to this address? A pure function of the
//! address's state and the topic's settings; the order of the checks is the contract
//! (DESIGN.md, "The send decision").

use std::fmt;

use chrono::NaiveDateTime;
use serde::{Serialize, Serializer};

use super::{Category, Reason, Scope, Status};

/// An address-level block, as `decide()` needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suppression {
    pub reason: Reason,
    pub scope: Scope,
    pub expires_at: Option<NaiveDateTime>,
}

impl Suppression {
    pub fn is_active(&self, now: NaiveDateTime) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

/// What is known of one address for one topic. `Default` is an address never seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddressState {
    pub suppression: Option<Suppression>,
    pub unsubscribed_all: bool,
    /// The explicit status on the topic being decided, if any.
    pub status: Option<Status>,
    /// The recipient paused promotional mail until then.
    pub paused_until: Option<NaiveDateTime>,
}

/// The settings of the topic being decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicRules {
    pub category: Category,
    pub default_subscribed: bool,
}

/// Why a send is allowed or denied; serialized as API.md's `reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    Subscribed,
    DefaultSubscribed,
    Transactional,
    UnsubscribedTopic,
    UnsubscribedAll,
    PendingConfirmation,
    NoConsent,
    /// Held back by the recipient's pause; allowed again at the decision's `resumes_at`.
    Paused,
    Suppressed(Reason),
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::Subscribed => f.write_str("subscribed"),
            Why::DefaultSubscribed => f.write_str("default_subscribed"),
            Why::Transactional => f.write_str("transactional"),
            Why::UnsubscribedTopic => f.write_str("unsubscribed_topic"),
            Why::UnsubscribedAll => f.write_str("unsubscribed_all"),
            Why::PendingConfirmation => f.write_str("pending_confirmation"),
            Why::NoConsent => f.write_str("no_consent"),
            Why::Paused => f.write_str("paused"),
            Why::Suppressed(reason) => write!(f, "suppressed:{reason}"),
        }
    }
}

impl Why {
    /// Every value `reason` can take, in the order of the rules.
    pub fn all() -> impl Iterator<Item = Why> {
        [
            Why::Subscribed,
            Why::DefaultSubscribed,
            Why::Transactional,
            Why::UnsubscribedTopic,
            Why::UnsubscribedAll,
            Why::PendingConfirmation,
            Why::NoConsent,
            Why::Paused,
        ]
        .into_iter()
        .chain(Reason::ALL.iter().map(|r| Why::Suppressed(*r)))
    }
}

/// In the OpenAPI document, `reason` is a string with every value listed.
impl utoipa::PartialSchema for Why {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .description(Some("Which rule decided: `suppressed:<reason>` for a suppression"))
            .enum_values(Some(Why::all().map(|w| w.to_string())))
            .into()
    }
}

impl utoipa::ToSchema for Why {}

impl Serialize for Why {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub why: Why,
    /// For [`Why::Paused`]: when the pause ends and the same state would allow.
    pub resumes_at: Option<NaiveDateTime>,
}

impl Decision {
    fn allow(why: Why) -> Self {
        Self { allowed: true, why, resumes_at: None }
    }
    fn deny(why: Why) -> Self {
        Self { allowed: false, why, resumes_at: None }
    }
}

/// The send decision. An expired suppression no longer counts, nor a pause that has
/// ended.
///
/// A pause is weighed last: it holds back only mail that every other rule allows. A
/// recipient who is paused and also unsubscribed, suppressed or never subscribed is
/// told apart by that other reason, which lasts; `paused` with its `resumes_at` then
/// always means "this mail goes again at that time", which a sender can schedule by.
/// An `all` suppression still wins first, and transactional mail is never paused.
pub fn decide(state: &AddressState, topic: &TopicRules, now: NaiveDateTime) -> Decision {
    let decision = decide_without_pause(state, topic, now);
    match state.paused_until.filter(|until| *until > now) {
        Some(until) if decision.allowed && topic.category == Category::Promotional => {
            Decision { allowed: false, why: Why::Paused, resumes_at: Some(until) }
        }
        _ => decision,
    }
}

fn decide_without_pause(state: &AddressState, topic: &TopicRules, now: NaiveDateTime) -> Decision {
    let suppression = state.suppression.filter(|s| s.is_active(now));
    if let Some(s) = suppression.filter(|s| s.scope == Scope::All) {
        return Decision::deny(Why::Suppressed(s.reason));
    }
    if topic.category == Category::Transactional {
        return Decision::allow(Why::Transactional);
    }
    if let Some(s) = suppression {
        return Decision::deny(Why::Suppressed(s.reason));
    }
    if state.unsubscribed_all {
        return Decision::deny(Why::UnsubscribedAll);
    }
    match state.status {
        Some(Status::Subscribed) => Decision::allow(Why::Subscribed),
        Some(Status::Unsubscribed) => Decision::deny(Why::UnsubscribedTopic),
        Some(Status::Pending) => Decision::deny(Why::PendingConfirmation),
        None if topic.default_subscribed => Decision::allow(Why::DefaultSubscribed),
        None => Decision::deny(Why::NoConsent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use proptest::prelude::*;

    fn now() -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap().naive_utc()
    }

    const PROMO_IN: TopicRules = TopicRules { category: Category::Promotional, default_subscribed: false };
    const PROMO_OUT: TopicRules = TopicRules { category: Category::Promotional, default_subscribed: true };
    const TRANSACTIONAL: TopicRules =
        TopicRules { category: Category::Transactional, default_subscribed: false };

    fn suppressed(reason: Reason, scope: Scope) -> AddressState {
        AddressState {
            suppression: Some(Suppression { reason, scope, expires_at: None }),
            ..AddressState::default()
        }
    }

    fn with_status(status: Status) -> AddressState {
        AddressState { status: Some(status), ..AddressState::default() }
    }

    #[test]
    fn one_case_per_rule_and_per_precedence_pair() {
        let unsubscribed_all = AddressState { unsubscribed_all: true, ..AddressState::default() };
        let expired = AddressState {
            suppression: Some(Suppression {
                reason: Reason::HardBounce,
                scope: Scope::All,
                expires_at: Some(now() - TimeDelta::seconds(1)),
            }),
            ..AddressState::default()
        };
        let paused =
            AddressState { paused_until: Some(now() + TimeDelta::days(7)), ..AddressState::default() };
        let ended = AddressState { paused_until: Some(now()), ..AddressState::default() };
        let cases: &[(&str, AddressState, TopicRules, bool, &str)] = &[
            (
                "rule 2: an `all` suppression denies",
                suppressed(Reason::HardBounce, Scope::All),
                PROMO_OUT,
                false,
                "suppressed:hard_bounce",
            ),
            (
                "a hard bounce beats a transactional topic",
                suppressed(Reason::HardBounce, Scope::All),
                TRANSACTIONAL,
                false,
                "suppressed:hard_bounce",
            ),
            (
                "an erasure blocks everything",
                suppressed(Reason::Erasure, Scope::All),
                TRANSACTIONAL,
                false,
                "suppressed:erasure",
            ),
            (
                "rule 3: transactional is allowed",
                AddressState::default(),
                TRANSACTIONAL,
                true,
                "transactional",
            ),
            (
                "unsubscribe-all never blocks transactional",
                unsubscribed_all,
                TRANSACTIONAL,
                true,
                "transactional",
            ),
            (
                "a topic unsubscribe never blocks transactional",
                with_status(Status::Unsubscribed),
                TRANSACTIONAL,
                true,
                "transactional",
            ),
            (
                "a complaint does not block transactional",
                suppressed(Reason::Complaint, Scope::Promotional),
                TRANSACTIONAL,
                true,
                "transactional",
            ),
            (
                "rule 4: a complaint blocks promotional",
                suppressed(Reason::Complaint, Scope::Promotional),
                PROMO_OUT,
                false,
                "suppressed:complaint",
            ),
            (
                "a promotional suppression beats a subscription",
                AddressState {
                    status: Some(Status::Subscribed),
                    ..suppressed(Reason::Complaint, Scope::Promotional)
                },
                PROMO_IN,
                false,
                "suppressed:complaint",
            ),
            (
                "rule 5: unsubscribe-all denies promotional",
                unsubscribed_all,
                PROMO_OUT,
                false,
                "unsubscribed_all",
            ),
            (
                "unsubscribe-all beats a subscription",
                AddressState { status: Some(Status::Subscribed), ..unsubscribed_all },
                PROMO_IN,
                false,
                "unsubscribed_all",
            ),
            ("rule 6: subscribed allows", with_status(Status::Subscribed), PROMO_IN, true, "subscribed"),
            (
                "rule 6: unsubscribed denies an opt-out topic",
                with_status(Status::Unsubscribed),
                PROMO_OUT,
                false,
                "unsubscribed_topic",
            ),
            (
                "rule 6: pending denies",
                with_status(Status::Pending),
                PROMO_OUT,
                false,
                "pending_confirmation",
            ),
            (
                "rule 7: never seen, opt-out topic",
                AddressState::default(),
                PROMO_OUT,
                true,
                "default_subscribed",
            ),
            ("rule 7: never seen, opt-in topic", AddressState::default(), PROMO_IN, false, "no_consent"),
            ("an expired suppression no longer applies", expired, PROMO_OUT, true, "default_subscribed"),
            ("rule 8: a pause holds back what would be sent", paused, PROMO_OUT, false, "paused"),
            (
                "a pause holds back a subscription",
                AddressState { status: Some(Status::Subscribed), ..paused },
                PROMO_IN,
                false,
                "paused",
            ),
            ("a pause never holds back transactional mail", paused, TRANSACTIONAL, true, "transactional"),
            (
                "an unsubscribe outlasts a pause, and says so",
                AddressState { status: Some(Status::Unsubscribed), ..paused },
                PROMO_OUT,
                false,
                "unsubscribed_topic",
            ),
            (
                "unsubscribe-all outlasts a pause",
                AddressState { unsubscribed_all: true, ..paused },
                PROMO_OUT,
                false,
                "unsubscribed_all",
            ),
            ("no consent is not a pause", paused, PROMO_IN, false, "no_consent"),
            (
                "an all suppression beats a pause",
                AddressState {
                    paused_until: paused.paused_until,
                    ..suppressed(Reason::HardBounce, Scope::All)
                },
                PROMO_OUT,
                false,
                "suppressed:hard_bounce",
            ),
            (
                "a complaint beats a pause",
                AddressState {
                    paused_until: paused.paused_until,
                    ..suppressed(Reason::Complaint, Scope::Promotional)
                },
                PROMO_OUT,
                false,
                "suppressed:complaint",
            ),
            ("a pause that has ended no longer counts", ended, PROMO_OUT, true, "default_subscribed"),
        ];
        for (name, state, topic, allowed, reason) in cases {
            let decision = decide(state, topic, now());
            assert_eq!((decision.allowed, decision.why.to_string().as_str()), (*allowed, *reason), "{name}");
            let resumes = (decision.why == Why::Paused).then_some(state.paused_until).flatten();
            assert_eq!(decision.resumes_at, resumes, "{name}: resumes_at only with paused");
        }
    }

    fn any_status() -> impl Strategy<Value = Option<Status>> {
        prop_oneof![
            Just(None),
            Just(Some(Status::Subscribed)),
            Just(Some(Status::Unsubscribed)),
            Just(Some(Status::Pending))
        ]
    }

    fn any_state() -> impl Strategy<Value = AddressState> {
        let suppression = proptest::option::of(
            (0..Reason::ALL.len(), any::<bool>(), proptest::option::of(-100i64..100)).prop_map(
                |(r, all, expiry)| Suppression {
                    reason: Reason::ALL[r],
                    scope: if all { Scope::All } else { Scope::Promotional },
                    expires_at: expiry.map(|s| now() + TimeDelta::seconds(s)),
                },
            ),
        );
        let pause = proptest::option::of((-100i64..100).prop_map(|s| now() + TimeDelta::seconds(s)));
        (suppression, any::<bool>(), any_status(), pause).prop_map(
            |(suppression, unsubscribed_all, status, paused_until)| AddressState {
                suppression,
                unsubscribed_all,
                status,
                paused_until,
            },
        )
    }

    proptest! {
        #[test]
        fn transactional_is_denied_only_by_an_active_all_suppression(state in any_state(), default in any::<bool>()) {
            let topic = TopicRules { category: Category::Transactional, default_subscribed: default };
            let decision = decide(&state, &topic, now());
            let blocked = state.suppression.is_some_and(|s| s.scope == Scope::All && s.is_active(now()));
            prop_assert_eq!(decision.allowed, !blocked);
        }

        #[test]
        fn unsubscribed_topic_only_for_a_topic_unsubscribed_from(state in any_state(), default in any::<bool>()) {
            let topic = TopicRules { category: Category::Promotional, default_subscribed: default };
            let decision = decide(&state, &topic, now());
            if decision.why == Why::UnsubscribedTopic {
                prop_assert_eq!(state.status, Some(Status::Unsubscribed));
            }
            if decision.allowed {
                prop_assert!(!state.unsubscribed_all);
            }
        }

        #[test]
        fn paused_only_where_the_same_state_unpaused_allows(state in any_state(), default in any::<bool>()) {
            let topic = TopicRules { category: Category::Promotional, default_subscribed: default };
            let decision = decide(&state, &topic, now());
            let unpaused = decide(&AddressState { paused_until: None, ..state }, &topic, now());
            let pausing = state.paused_until.is_some_and(|until| until > now());
            if pausing && unpaused.allowed {
                prop_assert_eq!(decision.why, Why::Paused);
                prop_assert_eq!(decision.resumes_at, state.paused_until);
            } else {
                prop_assert_eq!(decision, unpaused);
            }
        }
    }
}
