//! Contacts: upserts, partial writes, the consent rule, corrections and history.

use serde_json::{json, Value};

use crate::support::{each_backend, encode, without_times};

fn statuses(events: &[Value]) -> Vec<(String, Option<String>, Option<String>)> {
    events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_owned(),
                e["topic"].as_str().map(str::to_owned),
                e["status"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

each_backend! {
    fn a_contact_is_created_then_updated(app) {
        app.topic("news").create();
        let created = app.put("/v1/contacts/Alice%40Example.COM")
            .json(json!({"locale": "fr", "external_id": "user-42", "subscriptions": {"news": "subscribed"}}))
            .send();
        assert_eq!(created.status, 201, "{}", created.body);
        let contact = created.json();
        assert_eq!(without_times(contact.clone()), json!({
            "email": "alice@example.com", "locale": "fr", "external_id": "user-42",
            "unsubscribed_all": false, "paused_until": null, "subscriptions": {"news": "subscribed"},
        }));
        let again = app.put("/v1/contacts/alice%40example.com").json(json!({"locale": "en"})).send();
        assert_eq!(again.status, 200);
        assert_eq!(again.json()["id"], contact["id"]);
        assert_eq!(again.json()["locale"], "en");
        // Read back by address and by id.
        let by_id = app.get(&format!("/v1/contacts/{}", contact["id"].as_str().unwrap())).send().json();
        assert_eq!(by_id, app.get("/v1/contacts/ALICE%40example.com").send().json());
    }

    fn a_unicode_domain_and_its_punycode_are_one_contact(app) {
        let contact = app.contact("hans@bücher.example", json!({}));
        assert_eq!(contact["email"], "hans@xn--bcher-kva.example");
        let same = app.get("/v1/contacts/hans%40xn--bcher-kva.example").send();
        assert_eq!(same.json()["id"], contact["id"]);
    }

    fn statuses_not_named_are_left_alone(app) {
        app.topic("news").create();
        app.topic("offers").create();
        app.contact("a@example.com", json!({"locale": "fr", "subscriptions": {"news": "subscribed", "offers": "subscribed"}}));
        let after = app.contact("a@example.com", json!({"subscriptions": {"offers": "unsubscribed"}}));
        assert_eq!(after["subscriptions"], json!({"news": "subscribed", "offers": "unsubscribed"}));
        assert_eq!(after["locale"], "fr", "a field left out keeps its value");
        let cleared = app.contact("a@example.com", json!({"locale": null}));
        assert_eq!(cleared["locale"], json!(null), "null clears a field");
    }

    fn every_change_writes_one_event_and_no_change_writes_none(app) {
        app.topic("news").create();
        app.contact("a@example.com", json!({"subscriptions": {"news": "subscribed"}, "message_id": "m-1"}));
        app.contact("a@example.com", json!({"subscriptions": {"news": "subscribed"}}));
        app.contact("a@example.com", json!({"unsubscribed_all": true}));
        app.put("/v1/contacts/a%40example.com/subscriptions/news").json(json!({"status": "unsubscribed"})).send();
        let events = app.events("a@example.com");
        assert_eq!(statuses(&events), [
            ("contact_created".into(), None, None),
            ("subscription_changed".into(), Some("news".into()), Some("subscribed".into())),
            ("unsubscribed_all_changed".into(), None, Some("unsubscribed".into())),
            ("subscription_changed".into(), Some("news".into()), Some("unsubscribed".into())),
        ]);
        assert_eq!(events[1]["message_id"], "m-1");
        assert_eq!(events[1]["source"], "api");
        assert_eq!(events[3]["old_status"], "subscribed");
        let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    }

    fn events_page_with_a_cursor(app) {
        app.topic("news").create();
        for status in ["subscribed", "unsubscribed", "subscribed", "unsubscribed"] {
            app.contact("a@example.com", json!({"subscriptions": {"news": status}}));
        }
        let first = app.get("/v1/contacts/a%40example.com/events?limit=2").send().json();
        assert_eq!(first["events"].as_array().unwrap().len(), 2);
        let next = first["next"].as_i64().expect("a next cursor");
        let second = app.get(&format!("/v1/contacts/a%40example.com/events?limit=2&after={next}")).send().json();
        let third = app.get(&format!("/v1/contacts/a%40example.com/events?limit=2&after={}", second["next"])).send().json();
        assert_eq!(third["events"].as_array().unwrap().len(), 1);
        assert_eq!(third["next"], json!(null));
        app.get("/v1/contacts/a%40example.com/events?limit=0").send().problem(422, "invalid");
        app.get("/v1/contacts/a%40example.com/events?limit=ten").send().problem(422, "invalid");
    }

    fn a_recipients_unsubscribe_needs_consent_proof_to_reverse(app) {
        app.topic("news").create();
        app.contact("a@example.com", json!({"subscriptions": {"news": "unsubscribed"}, "source": "one_click"}));
        let before = app.events("a@example.com").len();
        for body in [
            json!({"subscriptions": {"news": "subscribed"}}),
            json!({"subscriptions": {"news": "pending"}, "locale": "fr"}),
        ] {
            app.put("/v1/contacts/a%40example.com").json(body).send().problem(409, "consent_required");
        }
        app.put("/v1/contacts/a%40example.com/subscriptions/news").json(json!({"status": "subscribed"}))
            .send().problem(409, "consent_required");
        let contact = app.get("/v1/contacts/a%40example.com").send().json();
        assert_eq!(contact["subscriptions"], json!({"news": "unsubscribed"}));
        assert_eq!(contact["locale"], json!(null), "a refused write changes nothing at all");
        assert_eq!(app.events("a@example.com").len(), before);

        let proof = json!({"consent": "ticked the box at checkout, form v3", "legal_basis": "consent"});
        let after = app.contact("a@example.com", json!({"subscriptions": {"news": "subscribed"}, "resubscribe": proof}));
        assert_eq!(after["subscriptions"], json!({"news": "subscribed"}));
        let last = app.events("a@example.com").pop().unwrap();
        assert_eq!(last["consent"], "ticked the box at checkout, form v3");
        assert_eq!(last["legal_basis"], "consent");
    }

    fn an_operators_unsubscribe_can_be_reversed(app) {
        app.topic("news").create();
        app.contact("a@example.com", json!({"subscriptions": {"news": "unsubscribed"}}));
        let after = app.contact("a@example.com", json!({"subscriptions": {"news": "subscribed"}}));
        assert_eq!(after["subscriptions"], json!({"news": "subscribed"}));
    }

    fn unsubscribe_from_all_follows_the_same_rule(app) {
        app.contact("a@example.com", json!({"unsubscribed_all": true, "source": "page"}));
        app.put("/v1/contacts/a%40example.com").json(json!({"unsubscribed_all": false}))
            .send().problem(409, "consent_required");
        let after = app.contact("a@example.com", json!({"unsubscribed_all": false, "resubscribe": {"consent": "asked by phone"}}));
        assert_eq!(after["unsubscribed_all"], false);
    }

    fn unknown_topics_and_contacts(app) {
        app.topic("news").create();
        let problem = app.put("/v1/contacts/a%40example.com").json(json!({"subscriptions": {"nope": "subscribed"}}))
            .send().problem(422, "invalid");
        assert_eq!(problem["errors"][0]["field"], "subscriptions.nope");
        app.get("/v1/contacts/a%40example.com").send().problem(404, "not_found");
        app.put("/v1/contacts/a%40example.com/subscriptions/nope").json(json!({"status": "subscribed"}))
            .send().problem(404, "not_found");
        let unknown_id = "9b2f4c1e-0000-4000-8000-000000000000";
        app.put(&format!("/v1/contacts/{unknown_id}")).json(json!({})).send().problem(404, "not_found");
        app.get(&format!("/v1/contacts/{unknown_id}/events")).send().problem(404, "not_found");
        let problem = app.put("/v1/contacts/not-an-address").json(json!({})).send().problem(422, "invalid");
        assert_eq!(problem["errors"][0]["field"], "email");
        let problem = app.put("/v1/contacts/a%40example.com").json(json!({"subscriptions": {"news": "maybe"}}))
            .send().problem(422, "invalid");
        assert_eq!(problem["errors"][0]["field"], "subscriptions.news");
    }

    fn setting_one_status_creates_the_contact_when_needed(app) {
        app.topic("news").create();
        let reply = app.put("/v1/contacts/new%40example.com/subscriptions/news")
            .json(json!({"status": "subscribed", "message_id": "m-9"})).send();
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.json()["subscriptions"], json!({"news": "subscribed"}));
    }

    fn an_external_id_names_one_contact(app) {
        app.contact("a@example.com", json!({"external_id": "u-1"}));
        app.put("/v1/contacts/b%40example.com").json(json!({"external_id": "u-1"})).send().problem(409, "external_id_taken");
        app.get("/v1/contacts/b%40example.com").send().problem(404, "not_found");
    }

    fn a_correction_keeps_the_id_and_the_history(app) {
        app.topic("news").create();
        let contact = app.contact("old@example.com", json!({"subscriptions": {"news": "subscribed"}}));
        let corrected = app.patch("/v1/contacts/old%40example.com").json(json!({"email": "New@Example.com", "locale": "fr"})).send();
        assert_eq!(corrected.status, 200, "{}", corrected.body);
        let corrected = corrected.json();
        assert_eq!(corrected["id"], contact["id"]);
        assert_eq!(corrected["email"], "new@example.com");
        assert_eq!(corrected["subscriptions"], json!({"news": "subscribed"}));
        app.get("/v1/contacts/old%40example.com").send().problem(404, "not_found");
        let events = app.events("new@example.com");
        assert_eq!(events.len(), 3);
        assert_eq!(events[2]["type"], "contact_updated");
        assert_eq!(events[2]["detail"], "email,locale");

        app.contact("other@example.com", json!({}));
        app.patch("/v1/contacts/other%40example.com").json(json!({"email": "new@example.com"})).send().problem(409, "email_taken");
        app.patch("/v1/contacts/other%40example.com").json(json!({"email": "broken"})).send().problem(422, "invalid");
        app.patch("/v1/contacts/other%40example.com").json(json!({"subscriptions": {}})).send().problem(422, "invalid");
    }

    fn an_erased_address_needs_consent_proof(app) {
        app.contact("gone@example.com", json!({}));
        assert_eq!(app.delete("/v1/contacts/gone%40example.com").send().status, 204);
        app.put(&format!("/v1/contacts/{}", encode("Gone@example.com"))).json(json!({})).send().problem(409, "erased");
        app.get("/v1/contacts/gone%40example.com").send().problem(404, "not_found");
        let back = app.put("/v1/contacts/gone%40example.com").json(json!({"resubscribe": {"consent": "signed up again"}})).send();
        assert_eq!(back.status, 201, "{}", back.body);
        app.get("/v1/suppressions/gone%40example.com").send().problem(404, "not_found");
        let lifted = app.events("gone@example.com");
        assert_eq!(lifted.len(), 1, "a new contact, with a new history: {lifted:?}");
    }

    fn contacts_are_imported_in_bulk_with_their_events(app) {
        app.topic("news").opt_out().create();
        app.topic("offers").create();
        app.contact("kept@example.com", json!({"subscriptions": {"news": "unsubscribed"}, "source": "one_click"}));
        let lines = [
            json!({"email": "Ann@Example.com", "locale": "fr", "subscriptions": {"news": "subscribed", "offers": "subscribed"}}).to_string(),
            json!({"email": "bob@example.com", "unsubscribed_all": true}).to_string(),
            String::new(),
            json!({"email": "not-an-address", "subscriptions": {}}).to_string(),
            json!({"email": "cy@example.com", "subscriptions": {"nope": "subscribed"}}).to_string(),
            json!({"email": "dee@example.com", "colour": "red"}).to_string(),
            // A recipient's unsubscribe is not reversed without consent proof.
            json!({"email": "kept@example.com", "subscriptions": {"news": "subscribed"}}).to_string(),
            "{broken".to_owned(),
        ];
        let body = lines.join("\n");
        let reply = app.post("/v1/contacts/import").body("application/x-ndjson", body.clone()).send();
        assert_eq!(reply.status, 200, "{}", reply.body);
        let report = reply.json();
        assert_eq!((report["lines"].as_u64(), report["created"].as_u64(), report["failed"].as_u64()), (Some(7), Some(2), Some(5)), "{report}");
        // Lines that cannot be read are reported as read, the others as applied.
        let mut failed: Vec<u64> = report["errors"].as_array().unwrap().iter().map(|e| e["line"].as_u64().unwrap()).collect();
        failed.sort();
        assert_eq!(failed, [4, 5, 6, 7, 8]);
        let kept = report["errors"].as_array().unwrap().iter().find(|e| e["line"] == 7).unwrap();
        assert!(kept["error"].as_str().unwrap().contains("consent"), "{report}");

        let ann = app.get("/v1/contacts/ann%40example.com").send().json();
        assert_eq!((ann["locale"].as_str(), &ann["subscriptions"]), (Some("fr"), &json!({"news": "subscribed", "offers": "subscribed"})));
        assert_eq!(app.reason("bob@example.com", "news"), "unsubscribed_all");
        assert_eq!(app.get("/v1/contacts/kept%40example.com").send().json()["subscriptions"], json!({"news": "unsubscribed"}));
        app.get("/v1/contacts/cy%40example.com").send().problem(404, "not_found");
        let events = app.events("ann@example.com");
        assert_eq!(statuses(&events), [
            ("contact_created".to_owned(), None, None),
            ("subscription_changed".to_owned(), Some("news".to_owned()), Some("subscribed".to_owned())),
            ("subscription_changed".to_owned(), Some("offers".to_owned()), Some("subscribed".to_owned())),
        ]);
        assert!(events.iter().all(|e| e["source"] == "import"), "{events:?}");
        // The bulk path records what one PUT each would.
        let put = json!({"locale": "fr", "unsubscribed_all": true, "subscriptions": {"news": "subscribed"}, "source": "import",
            "resubscribe": {"consent": "form v2"}});
        app.contact("one@example.com", put.clone());
        let mut line = put;
        line["email"] = json!("many@example.com");
        app.post("/v1/contacts/import").body("application/x-ndjson", line.to_string()).send();
        let shape = |email: &str| {
            let contact = app.get(&format!("/v1/contacts/{}", encode(email))).send().json();
            let events: Vec<Value> = app.events(email).into_iter().map(|mut e| {
                for field in ["seq", "occurred_at", "contact_id", "email", "email_hash"] {
                    e.as_object_mut().unwrap().remove(field);
                }
                e
            }).collect();
            (without_times(contact).as_object().unwrap().iter().filter(|(k, _)| *k != "id" && *k != "email").map(|(k, v)| (k.clone(), v.clone())).collect::<Vec<_>>(), events)
        };
        assert_eq!(shape("one@example.com"), shape("many@example.com"));

        // The same file again changes nothing.
        let again = app.post("/v1/contacts/import").body("application/x-ndjson", body).send().json();
        assert_eq!((again["unchanged"].as_u64(), again["created"].as_u64(), again["updated"].as_u64()), (Some(2), Some(0), Some(0)), "{again}");
        assert_eq!(app.events("ann@example.com").len(), 3);
        app.post("/v1/contacts/import").body("text/csv", "email\na@example.com").send().problem(415, "unsupported_media_type");
        app.post("/v1/contacts/import").key(&app.key(&["suppressions"])).body("application/x-ndjson", "").send().problem(403, "forbidden");
    }
}
