//! Privacy: pseudonymized clients, access, erasure that keeps suppressing, retention.

use std::process::Command;

use serde_json::{json, Value};
use sha2::Digest;

use crate::support::{each_backend, TestApp, TestDb};

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn links(app: &TestApp, email: &str) -> (String, String) {
    let links = app
        .post("/v1/links")
        .json(json!({"email": email, "topic": "news", "message_id": "m-1"}))
        .send()
        .json();
    let strip = |k: &str| links[k].as_str().unwrap().trim_start_matches(app.base()).to_owned();
    (strip("unsubscribe_url"), strip("preferences_url"))
}

/// The client's address behind a trusted proxy, as a real deployment sees it.
fn behind_proxy(db: TestDb) -> TestApp {
    TestApp::start_with(db, |c| c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()])
}

each_backend! {
    fn an_export_holds_everything(app) {
        app.topics().create();
        app.contact("a@example.com", json!({"locale": "fr", "subscriptions": {"news": "subscribed"}, "resubscribe": {"consent": "form v2", "legal_basis": "consent"}}));
        app.put("/v1/suppressions/a%40example.com").json(json!({"reason": "complaint", "note": "fbl"})).send();
        let export = app.get("/v1/contacts/a%40example.com/export").send();
        assert_eq!(export.status, 200, "{}", export.body);
        let export = export.json();
        assert_eq!(export["contact"]["email"], "a@example.com");
        assert_eq!(export["contact"]["subscriptions"], json!({"news": "subscribed"}));
        let kinds: Vec<&str> = export["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["contact_created", "subscription_changed"]);
        assert_eq!(export["events"][1]["consent"], "form v2");
        assert_eq!(export["suppressions"][0]["reason"], "complaint");
        // The person's own copy, with their preference link.
        let (_, preferences) = links(&app, "a@example.com");
        let token = preferences.rsplit('/').next().unwrap();
        let own = app.get("/v1/preferences/export").anonymous().header("authorization", &format!("Bearer {token}")).send();
        assert_eq!(own.status, 200);
        assert_eq!(own.json()["contact"], export["contact"]);
        app.get("/v1/contacts/nobody%40example.com/export").send().problem(404, "not_found");
    }

    fn an_erasure_leaves_no_trace_and_keeps_suppressing(app) {
        app.topics().create();
        let email = "erase.me@example.com";
        app.contact(email, json!({"external_id": "user-7", "subscriptions": {"news": "subscribed"}}));
        app.put("/v1/suppressions/erase.me%40example.com").json(json!({"reason": "hard_bounce", "note": "550 erase.me@example.com unknown"})).send();
        let (unsubscribe, _) = links(&app, email);
        app.post(&unsubscribe).anonymous().body("application/x-www-form-urlencoded", "List-Unsubscribe=One-Click").send();
        assert_eq!(app.delete("/v1/contacts/erase.me%40example.com").send().status, 204);

        let contents = app.database_contents();
        let sha = sha2::Sha256::digest(email.as_bytes());
        assert!(!contains(&contents, email.as_bytes()), "the address remains somewhere");
        assert!(!contains(&contents, hex::encode(sha).as_bytes()), "its SHA-256 (hex) remains");
        assert!(!contains(&contents, &sha), "its SHA-256 remains");
        assert!(!contains(&contents, b"user-7"), "the external id remains");

        for topic in ["news", "receipts"] {
            assert_eq!(app.reason(email, topic), "suppressed:erasure");
        }
        app.get("/v1/contacts/erase.me%40example.com").send().problem(404, "not_found");
        app.get("/v1/contacts/erase.me%40example.com/export").send().problem(404, "not_found");
        let listed = app.get("/v1/suppressions?reason=erasure").send().json();
        assert_eq!(listed["items"][0]["email"], json!(null));
        app.delete("/v1/suppressions/erase.me%40example.com").send().problem(409, "erased");
        app.put("/v1/contacts/erase.me%40example.com").json(json!({})).send().problem(409, "erased");
        let report = app.post("/v1/suppressions/import").body("text/csv", "erase.me@example.com,manual\n").send().json();
        assert_eq!(report["failed"], 1);
        // The events stay, as counts, with nothing personal.
        let events = app.get("/v1/changes?limit=1000").send().json()["events"].as_array().unwrap().clone();
        let subscription = events.iter().find(|e| e["type"] == "subscription_changed").unwrap();
        assert_eq!((subscription["contact_id"].clone(), subscription["email_hash"].clone()), (json!(null), json!(null)));
        assert!(events.iter().any(|e| e["type"] == "contact_erased"));
        // New consent, recorded, stores the address again.
        let back = app.put("/v1/contacts/erase.me%40example.com").json(json!({"resubscribe": {"consent": "signed up again in the shop"}})).send();
        assert_eq!(back.status, 201, "{}", back.body);
        assert_eq!(app.reason(email, "news"), "default_subscribed");
    }

    /// A page's link may have been forwarded with a newsletter: the page warns, mails
    /// a link to the address, and only that link erases.
    fn a_person_erases_themselves_with_a_mailed_link(db: TestDb) {
        let smtp = crate::smtp::SmtpServer::start();
        let url = smtp.url.clone();
        let app = TestApp::start_with(db, move |c| c.smtp_url = Some(url.clone()));
        app.topics().create();
        app.contact("me@example.com", json!({"locale": "fr"}));
        let (_, preferences) = links(&app, "me@example.com");
        // The contact's language, whatever the browser's; the warning says what stops.
        let ask = app.get(&format!("{preferences}/delete")).anonymous().header("accept-language", "en").send();
        assert_eq!(ask.status, 200, "{}", ask.body);
        for words in ["lang=\"fr\"", "pas même les reçus, les réinitialisations de mot de passe", "class=\"danger\"", "<strong>m***@example.com</strong>"] {
            assert!(ask.body.contains(words), "{words}: {}", ask.body);
        }
        let asked = app.post(&format!("{preferences}/delete")).anonymous().body("application/x-www-form-urlencoded", "").send();
        assert_eq!(asked.status, 200, "{}", asked.body);
        assert!(asked.body.contains("Consultez votre boîte de réception"), "{}", asked.body);
        assert_eq!(app.get("/v1/contacts/me%40example.com").send().status, 200, "nothing is deleted yet");
        assert_eq!(app.reason("me@example.com", "receipts"), "transactional");
        let mail = smtp.wait_for(1).pop().expect("the confirmation mail");
        assert_eq!(mail.to, ["me@example.com"]);
        assert_eq!(mail.subject().as_deref(), Some("Confirmez la suppression de vos données"));
        let confirm = mail.link(app.base(), "/d/").expect("a link to confirm").trim_start_matches(app.base()).to_owned();
        let page = app.get(&confirm).anonymous().send();
        assert!(page.status == 200 && page.body.contains("Supprimer mes données maintenant"), "{}", page.body);
        assert_eq!(app.get("/v1/contacts/me%40example.com").send().status, 200, "looking changes nothing");
        let done = app.post(&confirm).anonymous().body("application/x-www-form-urlencoded", "").send();
        assert!(done.status == 200 && done.body.contains("Vos données sont supprimées"), "{}", done.body);
        assert_eq!(app.reason("me@example.com", "receipts"), "suppressed:erasure");
        // The tokens named a contact that is gone: the pages and the API say so.
        assert_eq!(app.post(&confirm).anonymous().body("application/x-www-form-urlencoded", "").send().status, 404);
        let token = preferences.rsplit('/').next().unwrap();
        let gone = app.get("/v1/preferences").anonymous().header("authorization", &format!("Bearer {token}")).send();
        assert!(gone.status == 404 || gone.status == 409, "{}", gone.body);
    }

    fn the_preference_api_erases_in_two_steps(db: TestDb) {
        let smtp = crate::smtp::SmtpServer::start();
        let url = smtp.url.clone();
        let app = TestApp::start_with(db, move |c| c.smtp_url = Some(url.clone()));
        app.topics().create();
        app.contact("me@example.com", json!({}));
        let (_, preferences) = links(&app, "me@example.com");
        let token = preferences.rsplit('/').next().unwrap();
        let asked = app.delete("/v1/preferences").anonymous().header("authorization", &format!("Bearer {token}")).send();
        assert_eq!(asked.status, 202, "{}", asked.body);
        assert_eq!(asked.json(), json!({"status": "confirmation_sent", "to": "m***@example.com"}));
        assert_eq!(app.get("/v1/contacts/me%40example.com").send().status, 200);
        let mail = smtp.wait_for(1).pop().expect("the confirmation mail");
        let erase = mail.link(app.base(), "/d/").unwrap().rsplit('/').next().unwrap().to_owned();
        // The mailed token is no preference token: it reads nothing.
        app.get("/v1/preferences").anonymous().header("authorization", &format!("Bearer {erase}")).send().problem(401, "unauthorized");
        let done = app.delete("/v1/preferences").anonymous().header("authorization", &format!("Bearer {erase}")).send();
        assert_eq!(done.status, 204, "{}", done.body);
        assert_eq!(app.reason("me@example.com", "news"), "suppressed:erasure");
    }
}

each_backend! {
    fn no_raw_client_address(db: TestDb) {
        let app = behind_proxy(db);
        app.topics().create();
        let (unsubscribe, preferences) = links(&app, "a@example.com");
        let client = "198.51.100.77";
        app.post(&unsubscribe)
            .anonymous()
            .header("x-forwarded-for", client)
            .header("user-agent", "Mozilla/5.0 Firefox/121.0")
            .body("application/x-www-form-urlencoded", "List-Unsubscribe=One-Click")
            .send();
        let token = preferences.rsplit('/').next().unwrap();
        app.put("/v1/preferences")
            .anonymous()
            .header("authorization", &format!("Bearer {token}"))
            .header("x-forwarded-for", client)
            .json(json!({"unsubscribed_all": true}))
            .send();
        let contents = app.database_contents();
        for raw in [client, "198.51.100", "Mozilla/5.0", "Firefox/121"] {
            assert!(!contains(&contents, raw.as_bytes()), "{raw} is stored");
        }
        let events = app.events("a@example.com");
        let recorded: Vec<&Value> = events.iter().filter(|e| e["client"].is_string()).collect();
        assert_eq!(recorded.len(), events.len(), "every change the person made carries a pseudonym: {events:?}");
        assert!(recorded.iter().all(|e| e["client"] == recorded[0]["client"]), "one network, one pseudonym");
        assert_eq!(recorded[0]["user_agent"], "Firefox");
    }
}

fn purge(url: &str, as_of: &str) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_prefcenter"))
        .args(["purge", "--as-of", as_of])
        .env("PREFCENTER_DATABASE_URL", url)
        .env("PREFCENTER_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

each_backend! {
    /// Retention, with the clock driven by `purge --as-of`.
    fn retention_removes_exactly_what_expired(db: TestDb) {
        let app = TestApp::start(db);
        app.topics().create();
        let (unsubscribe, _) = links(&app, "clicked@example.com");
        app.post(&unsubscribe)
            .anonymous()
            .body("application/x-www-form-urlencoded", "List-Unsubscribe=One-Click")
            .send();
        let in_a_day = (chrono::Utc::now() + chrono::TimeDelta::days(1)).to_rfc3339();
        app.put("/v1/suppressions/soft%40example.com")
            .json(json!({"reason": "soft_bounce", "expires_at": in_a_day}))
            .send();
        app.put("/v1/suppressions/hard%40example.com").json(json!({"reason": "hard_bounce"})).send();
        app.contact("pending@example.com", json!({"subscriptions": {"offers": "pending"}}));
        app.contact("confirmed@example.com", json!({"subscriptions": {"offers": "subscribed"}}));
        let at = |days: i64| (chrono::Utc::now() + chrono::TimeDelta::days(days)).to_rfc3339();
        let url = app.db.url().to_owned();
        // Ten days on: nothing has reached its term.
        assert_eq!(
            purge(&url, &at(10)),
            json!({"events_scrubbed": 0, "comments_cleared": 0, "suppressions_removed": 0, "pending_removed": 0})
        );
        // Forty days on: the soft bounce expired over 30 days ago; the sign-up was never confirmed.
        assert_eq!(
            purge(&url, &at(40)),
            json!({"events_scrubbed": 0, "comments_cleared": 0, "suppressions_removed": 1, "pending_removed": 1})
        );
        app.get("/v1/suppressions/soft%40example.com").send().problem(404, "not_found");
        assert_eq!(app.get("/v1/suppressions/hard%40example.com").send().status, 200);
        assert_eq!(app.get("/v1/contacts/pending%40example.com").send().json()["subscriptions"], json!({}));
        assert_eq!(
            app.get("/v1/contacts/confirmed%40example.com").send().json()["subscriptions"],
            json!({"offers": "subscribed"})
        );
        // Two years and a day on: the click's client pseudonym and user agent are forgotten.
        let report = purge(&url, &at(731));
        assert_eq!(report["events_scrubbed"], 2, "the contact made by the click, and the click: {report}");
        let clicked = app.events("clicked@example.com");
        assert!(clicked.iter().all(|e| e["client"].is_null() && e["user_agent"].is_null()));
        assert!(clicked.iter().any(|e| e["source"] == "one_click"), "the event itself stays");
    }
}

each_backend! {
    /// After an erasure, only a confirmed double opt-in — the person, from their own
    /// mailbox — lifts the erasure suppression; the sign-up alone does not.
    fn a_confirmed_sign_up_lifts_an_erasure(db: TestDb) {
        let smtp = crate::smtp::SmtpServer::start();
        let url = smtp.url.clone();
        let app = TestApp::start_with(db, move |c| c.smtp_url = Some(url.clone()));
        app.topics().create();
        app.contact("back@example.com", json!({}));
        assert_eq!(app.delete("/v1/contacts/back%40example.com").send().status, 204);
        let reply = app
            .post("/v1/subscribe")
            .anonymous()
            .json(json!({"email": "back@example.com", "topics": ["news"]}))
            .send();
        assert_eq!(reply.status, 202, "{}", reply.body);
        assert_eq!(
            app.reason("back@example.com", "receipts"),
            "suppressed:erasure",
            "a form alone lifts nothing"
        );
        let mail = smtp.wait_for(1).pop().expect("a confirmation mail");
        let confirm = mail.link(app.base(), "/c/").unwrap().trim_start_matches(app.base()).to_owned();
        assert_eq!(
            app.post(&confirm).anonymous().body("application/x-www-form-urlencoded", "").send().status,
            200
        );
        assert_eq!(app.reason("back@example.com", "news"), "subscribed");
        assert_eq!(app.reason("back@example.com", "receipts"), "transactional");
    }
}
