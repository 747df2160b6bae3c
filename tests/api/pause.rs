//! What recipients added to their choices: a pause of promotional mail (a decision
//! rule the index holds, on every process), the answer to "why did you leave?" (an
//! event, counted for operators, its comment kept no longer than the retention
//! period), and how often each topic is sent.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::{json, Value};

use crate::support::{each_backend, encode, wait_until_ready, Served, TestApp, TestDb};

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn check(app: &TestApp, email: &str, topic: &str) -> Value {
    let reply = app.post("/v1/check").json(json!({"email": email, "topic": topic})).send();
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

fn preference_token(app: &TestApp, email: &str) -> String {
    let links = app.post("/v1/links").json(json!({"email": email, "topic": "news"})).send().json();
    links["preferences_url"].as_str().unwrap().rsplit('/').next().unwrap().to_owned()
}

fn unsubscribe_path(app: &TestApp, email: &str, topic: &str) -> String {
    let links = app.post("/v1/links").json(json!({"email": email, "topic": topic})).send().json();
    links["unsubscribe_url"].as_str().unwrap().trim_start_matches(app.base()).to_owned()
}

fn form(app: &TestApp, path: &str, body: &str) -> crate::support::Reply {
    app.post(path).anonymous().body("application/x-www-form-urlencoded", body.to_owned()).send()
}

each_backend! {
    fn a_pause_holds_back_promotional_mail_until_it_ends(app) {
        app.topics().create();
        let until = Utc::now() + TimeDelta::days(30);
        let contact = app.contact("a@example.com", json!({"paused_until": rfc3339(until)}));
        assert_eq!(contact["paused_until"], rfc3339(until));
        let paused = check(&app, "a@example.com", "news");
        assert_eq!((paused["allowed"].as_bool(), paused["reason"].as_str()), (Some(false), Some("paused")));
        assert_eq!(paused["resumes_at"], rfc3339(until));
        assert_eq!(paused["headers"], json!({}));
        assert_eq!(app.reason("a@example.com", "receipts"), "transactional", "a pause never stops a receipt");
        let batch = app.post("/v1/check/batch").json(json!({"topic": "news", "emails": ["a@example.com", "b@example.com"]})).send().json();
        assert_eq!(batch["results"][0]["reason"], "paused");
        assert_eq!(batch["results"][0]["resumes_at"], rfc3339(until));
        assert_eq!(batch["results"][1]["reason"], "default_subscribed");
        assert!(batch["results"][1].get("resumes_at").is_none(), "{}", batch["results"][1]);
        // A reason that lasts is the one given: an unsubscribe outlives the pause.
        app.contact("a@example.com", json!({"subscriptions": {"offers": "unsubscribed"}}));
        assert_eq!(app.reason("a@example.com", "offers"), "unsubscribed_topic");
        // The pause is an event, with its end.
        let event = app.events("a@example.com").into_iter().find(|e| e["type"] == "pause_changed").unwrap();
        assert_eq!((event["expires_at"].as_str(), event["source"].as_str()), (Some(rfc3339(until).as_str()), Some("api")));

        // At most a year ahead, in the future, in UTC.
        for wrong in [rfc3339(Utc::now() + TimeDelta::days(366)), rfc3339(Utc::now() - TimeDelta::hours(1)), "2030-01-01T00:00:00+02:00".into(), "soon".into()] {
            let reply = app.put("/v1/contacts/a%40example.com").json(json!({"paused_until": wrong})).send();
            let problem = reply.problem(422, "invalid");
            assert_eq!(problem["errors"][0]["field"], "paused_until", "{wrong}: {problem}");
        }
        // `null` resumes now; a second `null` changes nothing.
        app.contact("a@example.com", json!({"paused_until": null}));
        let before = app.events("a@example.com").len();
        let resumed = app.contact("a@example.com", json!({"paused_until": null}));
        assert_eq!(resumed["paused_until"], Value::Null);
        assert_eq!(app.events("a@example.com").len(), before, "nothing to resume");
        assert_eq!(app.reason("a@example.com", "news"), "default_subscribed");

        // Mail resumes by itself when the pause ends, with no write.
        let soon = Utc::now() + TimeDelta::milliseconds(1500);
        app.contact("a@example.com", json!({"paused_until": soon.to_rfc3339_opts(SecondsFormat::Millis, true)}));
        assert_eq!(app.reason("a@example.com", "news"), "paused");
        let events = app.events("a@example.com").len();
        std::thread::sleep((soon - Utc::now()).to_std().unwrap_or_default() + std::time::Duration::from_millis(100));
        assert_eq!(app.reason("a@example.com", "news"), "default_subscribed");
        assert_eq!(app.events("a@example.com").len(), events, "nothing was written");
        assert_eq!(app.get("/v1/contacts/a%40example.com").send().json()["paused_until"], Value::Null, "an ended pause is none");
    }

    fn a_pause_survives_a_restart(mut app) {
        app.topics().create();
        let until = Utc::now() + TimeDelta::days(7);
        app.contact("a@example.com", json!({"paused_until": rfc3339(until)}));
        app.restart();
        assert_eq!(check(&app, "a@example.com", "news")["resumes_at"], rfc3339(until), "loaded with the index");
    }

    fn a_pause_reaches_every_process(db: TestDb) {
        let a = TestApp::start(db);
        a.topics().create();
        let b = Served::start(a.db.url());
        b.wait_for("prefcenter is serving");
        wait_until_ready(&b.base);
        let until = Utc::now() + TimeDelta::days(7);
        a.contact("a@example.com", json!({"paused_until": rfc3339(until)}));
        let client = reqwest::blocking::Client::new();
        let started = std::time::Instant::now();
        loop {
            let body: Value = client.post(format!("{}/v1/check", b.base)).bearer_auth(&a.admin)
                .json(&json!({"email": "a@example.com", "topic": "news"})).send().unwrap().json().unwrap();
            if body["reason"] == "paused" {
                assert_eq!(body["resumes_at"], rfc3339(until));
                break;
            }
            assert!(started.elapsed() < std::time::Duration::from_secs(10), "the other process still says {body}");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(b.terminate().success());
    }

    fn recipients_pause_and_resume_from_their_page(app) {
        app.topics().create();
        app.contact("a@example.com", json!({"locale": "fr"}));
        let token = preference_token(&app, "a@example.com");
        let bearer = format!("Bearer {token}");
        let until = Utc::now() + TimeDelta::days(90);
        let state = app.put("/v1/preferences").anonymous().header("authorization", &bearer)
            .json(json!({"paused_until": rfc3339(until)})).send();
        assert_eq!(state.status, 200, "{}", state.body);
        assert_eq!(state.json()["paused_until"], rfc3339(until));
        assert_eq!(app.reason("a@example.com", "news"), "paused");
        let far = app.put("/v1/preferences").anonymous().header("authorization", &bearer)
            .json(json!({"paused_until": rfc3339(Utc::now() + TimeDelta::days(400))})).send();
        far.problem(422, "invalid");
        app.put("/v1/preferences").anonymous().header("authorization", &bearer).json(json!({"paused_until": null})).send();
        assert_eq!(app.reason("a@example.com", "news"), "default_subscribed");

        // The page's own form, without JavaScript: a month, then resume.
        let path = format!("/p/{token}");
        let saved = form(&app, &path, "pause=month");
        assert_eq!(saved.status, 303, "{}", saved.body);
        assert_eq!(saved.header("location"), Some(format!("{path}?saved=1").as_str()));
        let paused = check(&app, "a@example.com", "news");
        assert_eq!(paused["reason"], "paused");
        let resumes: DateTime<Utc> = paused["resumes_at"].as_str().unwrap().parse().unwrap();
        assert!(resumes > Utc::now() + TimeDelta::days(27) && resumes < Utc::now() + TimeDelta::days(32), "{resumes}");
        let page = app.get(&format!("{path}?saved=1")).anonymous().send();
        assert!(page.body.contains("Les e‑mails promotionnels sont suspendus jusqu’au"), "{}", page.body);
        assert!(page.body.contains("Vos choix sont enregistrés.") && page.body.contains("Reprendre maintenant"), "{}", page.body);
        assert_eq!(form(&app, &path, "pause=resume").status, 303);
        assert_eq!(app.reason("a@example.com", "news"), "default_subscribed");
        // A word the page does not offer changes nothing.
        let before = app.events("a@example.com").len();
        assert_eq!(form(&app, &path, "pause=forever").status, 303);
        assert_eq!(app.events("a@example.com").len(), before);
    }

    fn why_recipients_leave_is_recorded_once_counted_and_forgotten(app) {
        app.topics().create();
        app.contact("a@example.com", json!({"locale": "en"}));
        let path = unsubscribe_path(&app, "a@example.com", "news");
        // Nothing to explain before the unsubscribe.
        assert_eq!(form(&app, &format!("{path}/reason"), "reason=too_frequent").status, 200);
        assert!(app.events("a@example.com").iter().all(|e| e["type"] != "unsubscribe_reason"));

        let done = form(&app, &path, "action=unsubscribe");
        assert!(done.body.contains(&format!("action=\"{path}/reason\"")) && done.body.contains("value=\"never_signed_up\""), "{}", done.body);
        // Hostile or unknown answers: the form again, 422, nothing recorded.
        for bad in ["reason=bored", "reason=other&comment=a%00b", "reason=other&comment=a%1B%5B2J", &format!("reason=other&comment={}", "x".repeat(501)), ""] {
            let reply = form(&app, &format!("{path}/reason"), bad);
            assert_eq!(reply.status, 422, "{bad}: {}", reply.body);
            assert!(reply.body.contains("role=\"alert\"") && reply.body.contains("value=\"too_frequent\""), "{}", reply.body);
        }
        let thanks = form(&app, &format!("{path}/reason"), "reason=too_frequent&comment=Weekly+would+do%0Athanks");
        assert_eq!(thanks.status, 200, "{}", thanks.body);
        assert!(thanks.body.contains("Thank you"), "{}", thanks.body);
        assert_eq!(form(&app, &format!("{path}/reason"), "reason=other").status, 200, "answered already");
        let answers: Vec<Value> = app.events("a@example.com").into_iter().filter(|e| e["type"] == "unsubscribe_reason").collect();
        assert_eq!(answers.len(), 1, "once per unsubscribe: {answers:?}");
        assert_eq!((answers[0]["topic"].as_str(), answers[0]["reason"].as_str(), answers[0]["detail"].as_str()),
            (Some("news"), Some("too_frequent"), Some("Weekly would do\nthanks")));
        assert_eq!(app.reason("a@example.com", "news"), "unsubscribed_topic", "no status changed");

        // An unsubscribe from everything, answered too; another contact's answer.
        let all = app.put("/v1/preferences").anonymous()
            .header("authorization", &format!("Bearer {}", preference_token(&app, "b@example.com")))
            .json(json!({"unsubscribed_all": true})).send();
        assert_eq!(all.status, 200);
        let path_b = unsubscribe_path(&app, "b@example.com", "news");
        assert_eq!(form(&app, &format!("{path_b}/reason"), "reason=too_frequent").status, 200);

        let counts = app.get("/v1/unsubscribe-reasons").send();
        assert_eq!(counts.status, 200, "{}", counts.body);
        assert_eq!(counts.json()["counts"], json!([{"topic": "news", "reason": "too_frequent", "count": 2}]));
        assert_eq!(counts.json()["total"], 2);
        let later = app.get(&format!("/v1/unsubscribe-reasons?since={}", encode(&rfc3339(Utc::now() + TimeDelta::hours(1))))).send().json();
        assert_eq!(later["counts"], json!([]));
        app.get("/v1/unsubscribe-reasons?since=yesterday").send().problem(422, "invalid");
        let checker = app.key(&["check"]);
        app.get("/v1/unsubscribe-reasons").key(&checker).send().problem(403, "forbidden");
        let contacts = app.key(&["contacts"]);
        assert_eq!(app.get("/v1/unsubscribe-reasons").key(&contacts).send().status, 200);

        // The comment goes with the contact: in its export, and out with its erasure.
        let export = app.get("/v1/contacts/a%40example.com/export").send().body;
        assert!(export.contains("Weekly would do"), "{export}");
        assert_eq!(app.delete("/v1/contacts/a%40example.com").send().status, 204);
        assert!(!app.get("/v1/changes?limit=1000").send().body.contains("Weekly"));
        assert_eq!(app.get("/v1/unsubscribe-reasons").send().json()["total"], 2, "the answer still counts");
    }

    fn comments_are_cleared_after_the_retention_period(app) {
        app.topics().create();
        app.contact("a@example.com", json!({}));
        let path = unsubscribe_path(&app, "a@example.com", "news");
        form(&app, &path, "action=unsubscribe");
        form(&app, &format!("{path}/reason"), "reason=not_relevant&comment=too+many+recipes");
        let purged = std::process::Command::new(env!("CARGO_BIN_EXE_prefcenter"))
            .env("PREFCENTER_DATABASE_URL", app.db.url())
            .args(["purge", "--as-of", &rfc3339(Utc::now() + TimeDelta::days(731))])
            .output()
            .unwrap();
        assert!(purged.status.success(), "{}", String::from_utf8_lossy(&purged.stderr));
        let answer = app.events("a@example.com").into_iter().find(|e| e["type"] == "unsubscribe_reason").unwrap();
        assert_eq!((answer["reason"].as_str(), answer["detail"].as_str()), (Some("not_relevant"), None), "{answer}");
        let report: Value = serde_json::from_slice(&purged.stdout).unwrap();
        assert_eq!(report["comments_cleared"], 1, "{report}");
    }

    fn topics_say_how_often_they_are_sent(app) {
        let topic = app.topic("news").opt_out()
            .with("frequency", json!("weekly"))
            .with("translations", json!({"fr": {"name": "Lettre", "frequency": "chaque semaine"}}))
            .create();
        assert_eq!(topic["frequency"], "weekly");
        assert_eq!(topic["translations"]["fr"], json!({"name": "Lettre", "description": "", "frequency": "chaque semaine"}));
        app.topic("offers").create();
        assert_eq!(app.get("/v1/topics/offers").send().json()["frequency"], Value::Null);
        app.contact("a@example.com", json!({"locale": "fr"}));
        let token = preference_token(&app, "a@example.com");
        let state = app.get("/v1/preferences").anonymous().header("authorization", &format!("Bearer {token}")).send().json();
        assert_eq!((state["topics"][0]["frequency"].as_str(), state["topics"][1]["frequency"].as_str()), (Some("chaque semaine"), None));
        let page = app.get(&format!("/p/{token}")).anonymous().send().body;
        assert!(page.contains("<span class=\"frequency\" id=\"f-news\">chaque semaine</span>"), "{page}");
        assert!(page.contains("aria-describedby=\"f-news\""), "{page}");
        for wrong in [json!("x".repeat(41)), json!("  "), json!("a\u{0}b"), json!(7)] {
            app.patch("/v1/topics/news").json(json!({"frequency": wrong})).send().problem(422, "invalid");
        }
        app.patch("/v1/topics/news").json(json!({"frequency": null})).send();
        assert_eq!(app.get("/v1/topics/news").send().json()["frequency"], Value::Null);
    }
}
