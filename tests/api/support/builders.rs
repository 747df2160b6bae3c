//! Builders and shortcuts that leave a test a few lines of intent: keys, topics,
//! contacts, decisions, events.

use serde_json::{json, Value};

use super::{encode, TestApp};

impl TestApp {
    /// A new API key with these scopes.
    pub fn key(&self, scopes: &[&str]) -> String {
        let reply = self.post("/v1/api-keys").json(json!({"name": "test", "scopes": scopes})).send();
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.json()["secret"].as_str().unwrap().to_owned()
    }

    /// Starts describing a topic to create.
    pub fn topic(&self, key: &str) -> TopicBuilder<'_> {
        TopicBuilder {
            app: self,
            body: json!({"key": key, "name": key.to_uppercase(), "category": "promotional"}),
        }
    }

    /// The topics the stories share, to be created: `news` (opt-out; "Newsletter", in
    /// French "Lettre d'information"), `offers` (opt-in) and `receipts` (transactional).
    pub fn topics(&self) -> Topics<'_> {
        Topics {
            news: self
                .topic("news")
                .opt_out()
                .with("name", json!("Newsletter"))
                .with("translations", json!({"fr": {"name": "Lettre d'information"}})),
            offers: self.topic("offers"),
            receipts: self.topic("receipts").transactional(),
        }
    }

    /// Creates or updates a contact with this body (PUT), expecting success.
    pub fn contact(&self, email: &str, body: Value) -> Value {
        let reply = self.put(&format!("/v1/contacts/{}", encode(email))).json(body).send();
        assert!(reply.status == 200 || reply.status == 201, "{} {}", reply.status, reply.body);
        reply.json()
    }

    /// The `reason` of the send decision for `email` and `topic`.
    pub fn reason(&self, email: &str, topic: &str) -> String {
        let reply = self.post("/v1/check").json(json!({"email": email, "topic": topic})).send();
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()["reason"].as_str().unwrap().to_owned()
    }

    /// A contact's events, oldest first.
    pub fn events(&self, contact: &str) -> Vec<Value> {
        let reply = self.get(&format!("/v1/contacts/{}/events?limit=1000", encode(contact))).send();
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()["events"].as_array().unwrap().clone()
    }
}

pub struct TopicBuilder<'a> {
    app: &'a TestApp,
    body: Value,
}

impl TopicBuilder<'_> {
    pub fn opt_out(mut self) -> Self {
        self.body["default_subscribed"] = json!(true);
        self
    }
    pub fn transactional(mut self) -> Self {
        self.body["category"] = json!("transactional");
        self
    }
    pub fn with(mut self, field: &str, value: Value) -> Self {
        self.body[field] = value;
        self
    }
    pub fn create(self) -> Value {
        let reply = self.app.post("/v1/topics").json(self.body).send();
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.json()
    }
}

/// The shared topics, created in this order by [`Topics::create`].
pub struct Topics<'a> {
    news: TopicBuilder<'a>,
    offers: TopicBuilder<'a>,
    receipts: TopicBuilder<'a>,
}

impl<'a> Topics<'a> {
    /// Changes `offers` before it is created (`TopicBuilder::opt_out`, say).
    pub fn offers(mut self, change: impl FnOnce(TopicBuilder<'a>) -> TopicBuilder<'a>) -> Self {
        self.offers = change(self.offers);
        self
    }

    pub fn create(self) {
        self.news.create();
        self.offers.create();
        self.receipts.create();
    }
}
