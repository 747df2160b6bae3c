//! After a random sequence of writes, every answer from the index equals `decide()`
//! evaluated on state read fresh from the database.

use prefcenter::domain::decision::{decide, AddressState, Suppression, TopicRules};
use prefcenter::domain::{Category, Reason, Scope, Status};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::support::{each_backend, encode, TestApp};

const TOPICS: [&str; 3] = ["news", "offers", "receipts"];
const STATUSES: [&str; 3] = ["subscribed", "unsubscribed", "pending"];
const REASONS: [&str; 5] = ["hard_bounce", "soft_bounce", "complaint", "manual", "unsubscribe"];

fn address(i: usize) -> String {
    format!("person{i}@example.com")
}

fn random_write(app: &TestApp, rng: &mut StdRng) {
    let email = address(rng.gen_range(0..8));
    let proof = json!({"consent": "asked again"});
    let reply = match rng.gen_range(0..6) {
        0 | 1 => {
            let topic = TOPICS[rng.gen_range(0..3)];
            let status = STATUSES[rng.gen_range(0..3)];
            let source = ["api", "one_click", "page"][rng.gen_range(0..3)];
            app.put(&format!("/v1/contacts/{}", encode(&email)))
                .json(json!({"subscriptions": {topic: status}, "source": source, "resubscribe": proof}))
                .send()
        }
        2 => app
            .put(&format!("/v1/contacts/{}", encode(&email)))
            .json(json!({"unsubscribed_all": rng.gen_bool(0.5), "resubscribe": proof}))
            .send(),
        3 => {
            let mut body = json!({"reason": REASONS[rng.gen_range(0..5)]});
            if rng.gen_bool(0.5) {
                body["scope"] = json!(["all", "promotional"][rng.gen_range(0..2)]);
            }
            app.put(&format!("/v1/suppressions/{}", encode(&email))).json(body).send()
        }
        4 => app.delete(&format!("/v1/suppressions/{}", encode(&email))).send(),
        _ => {
            let topic = TOPICS[rng.gen_range(0..2)];
            app.patch(&format!("/v1/topics/{topic}"))
                .json(json!({"default_subscribed": rng.gen_bool(0.5)}))
                .send()
        }
    };
    assert!(matches!(reply.status, 200 | 201 | 204 | 404), "{} {}", reply.status, reply.body);
}

/// `decide()` on state read through the API's database-backed reads.
fn expected(app: &TestApp, email: &str, topic: &str) -> (bool, String) {
    let t = app.get(&format!("/v1/topics/{topic}")).send().json();
    let rules = TopicRules {
        category: t["category"].as_str().unwrap().parse::<Category>().unwrap(),
        default_subscribed: t["default_subscribed"].as_bool().unwrap(),
    };
    let contact = app.get(&format!("/v1/contacts/{}", encode(email))).send();
    let suppression = app.get(&format!("/v1/suppressions/{}", encode(email))).send();
    let mut state = AddressState::default();
    if contact.status == 200 {
        let c: Value = contact.json();
        state.unsubscribed_all = c["unsubscribed_all"].as_bool().unwrap();
        state.status = c["subscriptions"][topic].as_str().map(|s| s.parse::<Status>().unwrap());
    }
    if suppression.status == 200 {
        let s: Value = suppression.json();
        state.suppression = Some(Suppression {
            reason: s["reason"].as_str().unwrap().parse::<Reason>().unwrap(),
            scope: s["scope"].as_str().unwrap().parse::<Scope>().unwrap(),
            expires_at: None,
        });
    }
    let d = decide(&state, &rules, prefcenter::store::now());
    (d.allowed, d.why.to_string())
}

each_backend! {
    fn index_answers_equal_decisions_on_fresh_state(app) {
        app.topic("news").opt_out().create();
        app.topic("offers").create();
        app.topic("receipts").transactional().create();
        let mut rng = StdRng::seed_from_u64(20261129);
        for round in 0..4 {
            for _ in 0..40 {
                random_write(&app, &mut rng);
            }
            for i in 0..9 {
                for topic in TOPICS {
                    let email = address(i);
                    let answer = app.post("/v1/check").json(json!({"email": email, "topic": topic})).send().json();
                    let got = (answer["allowed"].as_bool().unwrap(), answer["reason"].as_str().unwrap().to_owned());
                    assert_eq!(got, expected(&app, &email, topic), "round {round}, {email}, {topic}");
                }
            }
        }
    }
}
