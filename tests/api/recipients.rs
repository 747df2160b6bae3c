//! What recipients do through their links: one-click unsubscribe, undo, the landing
//! page, the preference page and its API.

use base64::Engine;
use prefcenter::domain::token::{Audience, Link, Recipient, TokenKeys};
use prefcenter::domain::{ContactId, TopicKey};
use serde_json::{json, Value};

use crate::support::{each_backend, TestApp, TestDb};

/// The path of the unsubscribe link /v1/links gives for this address and topic.
fn unsubscribe_path(app: &TestApp, email: &str, topic: &str) -> String {
    let links = app
        .post("/v1/links")
        .json(json!({"email": email, "topic": topic, "message_id": "m-42"}))
        .send()
        .json();
    links["unsubscribe_url"].as_str().unwrap().trim_start_matches(app.base()).to_owned()
}

fn preference_path(app: &TestApp, email: &str) -> String {
    let links = app.post("/v1/links").json(json!({"email": email, "topic": "news"})).send().json();
    links["preferences_url"].as_str().unwrap().trim_start_matches(app.base()).to_owned()
}

fn feed(app: &TestApp) -> Vec<Value> {
    app.get("/v1/changes?limit=10000").send().json()["events"].as_array().unwrap().clone()
}

/// Markup a topic's name or description might carry: the pages must show it as text.
const HOSTILE_NAME: &str = "<script>alert(1)</script> & <b>\"bold\"</b>";
const HOSTILE_DESCRIPTION: &str = "<img src=x onerror=alert(2)> it's";

/// What a browser reads from HTML text: the five characters escaping writes, in any of
/// their usual entity forms, decoded once.
fn unescape(html: &str) -> String {
    let mut text = html.to_owned();
    for (entity, c) in [
        ("&lt;", "<"),
        ("&#60;", "<"),
        ("&gt;", ">"),
        ("&#62;", ">"),
        ("&quot;", "\""),
        ("&#34;", "\""),
        ("&#39;", "'"),
        ("&amp;", "&"),
        ("&#38;", "&"),
    ] {
        text = text.replace(entity, c);
    }
    text
}

/// The text of every element that opens with `open` (e.g. `<strong>`) and closes with
/// `close`, as the page wrote it.
fn between<'a>(body: &'a str, open: &str, close: &str) -> Vec<&'a str> {
    body.split(open).skip(1).filter_map(|rest| rest.split(close).next()).collect()
}

/// The page holds the hostile text, escaped once, and none of its markup.
fn shows_as_text(body: &str, open: &str, close: &str, expected: &str) {
    assert!(
        between(body, open, close).iter().any(|text| unescape(text) == expected),
        "{expected} not shown as text between {open} and {close}: {body}"
    );
    for markup in ["<script>alert", "<b>", "<img"] {
        assert!(!body.contains(markup), "{markup} left unescaped: {body}");
    }
    for twice in ["&amp;#", "&#38;#", "&amp;lt;", "&#38;lt;", "&amp;amp;", "&#38;amp;"] {
        assert!(!body.contains(twice), "escaped twice ({twice}): {body}");
    }
}

each_backend! {
    fn looking_at_the_link_changes_nothing(app) {
        app.topics().create();
        let path = unsubscribe_path(&app, "a@example.com", "news");
        let before = feed(&app).len();
        for method in [reqwest::Method::GET, reqwest::Method::HEAD] {
            let reply = app.request(method.clone(), &path).anonymous().header("user-agent", "Proofpoint URL Defense").send();
            assert_eq!(reply.status, 200, "{method}");
            assert_eq!(reply.header("cache-control"), Some("no-store"));
            assert_eq!(reply.header("referrer-policy"), Some("no-referrer"));
            assert!(reply.header("content-security-policy").unwrap().contains("default-src 'none'"));
            assert!(reply.header("set-cookie").is_none());
            if method == reqwest::Method::GET {
                assert!(reply.body.contains("Newsletter") && reply.body.contains("<form method=\"post\""), "{}", reply.body);
                assert!(!reply.body.contains("<script"), "the one-click path needs no script");
            }
        }
        assert_eq!(feed(&app).len(), before, "no event");
        assert_eq!(app.reason("a@example.com", "news"), "default_subscribed");
        app.get("/v1/contacts/a%40example.com").send().problem(404, "not_found");
    }

    fn one_click_unsubscribes_in_both_encodings(app) {
        app.topics().create();
        let path = unsubscribe_path(&app, "a@example.com", "news");
        let reply = app.post(&path).anonymous().header("user-agent", "Mozilla/5.0 Chrome/120.0 Safari/537.36")
            .body("application/x-www-form-urlencoded", "List-Unsubscribe=One-Click").send();
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert!(reply.body.contains("action\" value=\"undo\""), "offers undo: {}", reply.body);
        assert_eq!(app.reason("a@example.com", "news"), "unsubscribed_topic");
        assert_eq!(app.reason("a@example.com", "receipts"), "transactional", "transactional mail still goes");
        let event = feed(&app).into_iter().find(|e| e["type"] == "subscription_changed").unwrap();
        assert_eq!((event["source"].as_str(), event["status"].as_str(), event["topic"].as_str()), (Some("one_click"), Some("unsubscribed"), Some("news")));
        let history = app.events("a@example.com");
        let recorded = history.iter().find(|e| e["type"] == "subscription_changed").unwrap();
        assert_eq!(recorded["message_id"], "m-42");
        assert_eq!(recorded["user_agent"], "Chrome");
        assert_eq!(recorded["client"].as_str().map(str::len), Some(32), "a pseudonym, not an address: {recorded}");
        assert!(!serde_json::to_string(&history).unwrap().contains("127.0.0"));

        let path = unsubscribe_path(&app, "b@example.com", "news");
        let multipart = "--XyZ\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--XyZ--\r\n";
        let reply = app.post(&path).anonymous().body("multipart/form-data; boundary=XyZ", multipart).send();
        assert_eq!(reply.status, 200);
        assert_eq!(app.reason("b@example.com", "news"), "unsubscribed_topic");
    }

    fn a_repeated_post_is_a_200_with_one_event(app) {
        app.topics().create();
        let path = unsubscribe_path(&app, "a@example.com", "news");
        for _ in 0..3 {
            let reply = app.post(&path).anonymous().body("application/x-www-form-urlencoded", "List-Unsubscribe=One-Click").send();
            assert_eq!(reply.status, 200);
        }
        let changes = feed(&app).into_iter().filter(|e| e["type"] == "subscription_changed").count();
        assert_eq!(changes, 1);
    }

    fn the_contact_made_by_a_link_takes_its_address_later(app) {
        app.topics().create();
        let path = unsubscribe_path(&app, "new@example.com", "news");
        app.post(&path).anonymous().body("application/x-www-form-urlencoded", "action=unsubscribe").send();
        let contact = app.contact("new@example.com", json!({"locale": "fr"}));
        assert_eq!(contact["email"], "new@example.com");
        assert_eq!(contact["subscriptions"], json!({"news": "unsubscribed"}));
        // The recipient chose it: an API write cannot turn it back without proof.
        app.put("/v1/contacts/new%40example.com").json(json!({"subscriptions": {"news": "subscribed"}})).send().problem(409, "consent_required");
    }

    fn clicks_that_arrive_together_each_get_their_own_answer(app) {
        // Clicks waiting together are applied together (src/service/clicks.rs): each
        // must still be decided alone — a refused one changes nothing and fails none of
        // the others — and several for one person must compose as if one by one.
        app.topics().create();
        app.topic("gone").create();
        let paths = |email: &str, topic: &str| unsubscribe_path(&app, email, topic);
        let mut clicks: Vec<(String, &str, u16)> = Vec::new();
        for i in 0..12 {
            let known = format!("known{i}@example.com");
            app.contact(&known, json!({}));
            clicks.push((paths(&known, "news"), "List-Unsubscribe=One-Click", 200));
            // A link for an address never stored makes its contact: twice for one address.
            let new = format!("new{i}@example.com");
            clicks.push((paths(&new, "news"), "List-Unsubscribe=One-Click", 200));
            clicks.push((paths(&new, "offers"), "action=unsubscribe", 200));
        }
        let twice = paths("known0@example.com", "news");
        clicks.push((twice.clone(), "List-Unsubscribe=One-Click", 200));
        let erased = paths("erased@example.com", "news");
        app.put("/v1/suppressions/erased%40example.com").json(json!({"reason": "manual"})).send();
        app.sql("UPDATE suppressions SET reason = 'erasure', email = NULL");
        clicks.push((erased, "List-Unsubscribe=One-Click", 409));
        let gone_topic = paths("known1@example.com", "gone");
        app.delete("/v1/topics/gone").send();
        clicks.push((gone_topic, "List-Unsubscribe=One-Click", 404));
        let before = feed(&app).len();
        let app = std::sync::Arc::new(app);
        let threads: Vec<_> = clicks.chunks(3).map(|part| {
            let (app, part) = (app.clone(), part.iter().map(|(p, b, s)| (p.clone(), b.to_string(), *s)).collect::<Vec<_>>());
            std::thread::spawn(move || for (path, body, status) in part {
                let reply = app.post(&path).anonymous().body("application/x-www-form-urlencoded", body).send();
                assert_eq!(reply.status, status, "{path}: {}", reply.body);
            })
        }).collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        for i in 0..12 {
            assert_eq!(app.reason(&format!("known{i}@example.com"), "news"), "unsubscribed_topic");
            assert_eq!(app.reason(&format!("new{i}@example.com"), "news"), "unsubscribed_topic");
            assert_eq!(app.reason(&format!("new{i}@example.com"), "offers"), "unsubscribed_topic");
        }
        let events = feed(&app).split_off(before);
        let count = |kind: &str| events.iter().filter(|e| e["type"] == kind).count();
        assert_eq!(count("contact_created"), 12, "one contact for each new address");
        assert_eq!(count("subscription_changed"), 12 * 3, "one change per person and topic: {events:?}");
        assert_eq!(events.len(), 12 * 4);
        // Each new contact's events come in order: created first.
        for i in 0..12 {
            let history = app.events(&format!("new{i}@example.com"));
            assert_eq!(history[0]["type"], "contact_created", "{history:?}");
        }
    }

    fn undo_resubscribes(app) {
        app.topics().create();
        let path = unsubscribe_path(&app, "a@example.com", "news");
        app.post(&path).anonymous().body("application/x-www-form-urlencoded", "action=unsubscribe").send();
        assert_eq!(app.reason("a@example.com", "news"), "unsubscribed_topic");
        let reply = app.post(&path).anonymous().body("application/x-www-form-urlencoded", "action=undo").send();
        assert_eq!(reply.status, 200);
        assert_eq!(app.reason("a@example.com", "news"), "subscribed");
        let last = app.events("a@example.com").pop().unwrap();
        assert_eq!((last["source"].as_str(), last["status"].as_str()), (Some("page"), Some("subscribed")));
        assert!(last["consent"].as_str().unwrap().contains("undid"));
    }

    fn an_unsubscribe_from_everything(app) {
        app.topics().create();
        let links = app.post("/v1/links").json(json!({"email": "a@example.com", "topic": "news"})).send().json();
        // A link for all promotional mail, as a magic link's page would offer it.
        let preferences = links["preferences_url"].as_str().unwrap();
        let reply = app.put("/v1/preferences").anonymous()
            .header("authorization", &format!("Bearer {}", preferences.rsplit('/').next().unwrap()))
            .json(json!({"unsubscribed_all": true})).send();
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(app.reason("a@example.com", "offers"), "unsubscribed_all");
        assert_eq!(app.reason("a@example.com", "receipts"), "transactional");
    }

    fn bad_links_get_a_page_and_change_nothing(app) {
        app.topics().create();
        let path = unsubscribe_path(&app, "a@example.com", "news");
        let token = path.trim_start_matches("/u/");
        let mut tampered = token.to_owned();
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        let wrong_audience = preference_path(&app, "a@example.com").trim_start_matches("/p/").to_owned();
        let before = feed(&app).len();
        for bad in [tampered.as_str(), "not-a-token", "a.b.c", wrong_audience.as_str()] {
            for reply in [app.get(&format!("/u/{bad}")).anonymous().send(), app.post(&format!("/u/{bad}")).anonymous().body("application/x-www-form-urlencoded", "List-Unsubscribe=One-Click").send()] {
                assert_eq!(reply.status, 400, "{bad}: {}", reply.body);
                assert!(reply.header("content-type").unwrap().starts_with("text/html"));
                assert!(reply.body.contains("not valid"), "{}", reply.body);
            }
        }
        assert_eq!(feed(&app).len(), before);
        assert_eq!(app.reason("a@example.com", "news"), "default_subscribed");
        let french = app.get("/u/not-a-token").anonymous().header("accept-language", "fr-FR,fr;q=0.9").send();
        assert!(french.body.contains("n’est pas valide") && french.body.contains("lang=\"fr\""), "{}", french.body);
    }

    fn the_preference_api_changes_only_what_it_names(app) {
        app.topics().create();
        app.contact("a@example.com", json!({"subscriptions": {"offers": "subscribed"}}));
        let token = preference_path(&app, "a@example.com").trim_start_matches("/p/").to_owned();
        let bearer = format!("Bearer {token}");
        let state = app.get("/v1/preferences").anonymous().header("authorization", &bearer).send().json();
        assert_eq!(state["email"], "a***@example.com");
        let topics: Vec<(String, bool, bool)> = state["topics"].as_array().unwrap().iter()
            .map(|t| (t["key"].as_str().unwrap().to_owned(), t["subscribed"].as_bool().unwrap(), t["editable"].as_bool().unwrap())).collect();
        assert_eq!(topics, [("news".to_owned(), true, true), ("offers".to_owned(), true, true), ("receipts".to_owned(), true, false)]);
        let after = app.put("/v1/preferences").anonymous().header("authorization", &bearer).json(json!({"topics": {"news": false}})).send().json();
        assert_eq!(after["topics"][0]["subscribed"], false);
        assert_eq!(after["topics"][1]["subscribed"], true, "offers was not named and keeps its status");
        app.put("/v1/preferences").anonymous().header("authorization", &bearer).json(json!({"topics": {"receipts": false}})).send().problem(422, "invalid");
        app.get("/v1/preferences").anonymous().send().problem(401, "unauthorized");
        app.get("/v1/preferences").anonymous().header("authorization", "Bearer nope").send().problem(401, "unauthorized");
        let unsubscribe_token = unsubscribe_path(&app, "a@example.com", "news").trim_start_matches("/u/").to_owned();
        app.get("/v1/preferences").anonymous().header("authorization", &format!("Bearer {unsubscribe_token}")).send().problem(401, "unauthorized");
        assert_eq!(app.events("a@example.com").last().unwrap()["source"], "page");
    }

    /// A page posts every box; the ledger records only the boxes the person changed.
    fn a_save_records_only_what_changed(app) {
        app.topics().create();
        app.contact("a@example.com", json!({"locale": "en"}));
        let before = app.events("a@example.com").len();
        let path = preference_path(&app, "a@example.com");
        // news is opt-out and stays ticked; offers (opt-in) is ticked now; the
        // language and "unsubscribe from all" are as they were.
        let form = "shown=news&shown=offers&topic.news=on&topic.offers=on&locale=en";
        let saved = app.post(&path).anonymous().body("application/x-www-form-urlencoded", form).send();
        assert_eq!(saved.status, 303, "{}", saved.body);
        let token = path.trim_start_matches("/p/").to_owned();
        let bearer = format!("Bearer {token}");
        let again = json!({"topics": {"news": true, "offers": true}, "unsubscribed_all": false, "locale": "en"});
        let put = app.put("/v1/preferences").anonymous().header("authorization", &bearer).json(again).send();
        assert_eq!(put.status, 200, "{}", put.body);
        let events = app.events("a@example.com");
        let new: Vec<(String, String)> = events[before..]
            .iter()
            .map(|e| (e["topic"].as_str().unwrap_or("-").to_owned(), e["status"].as_str().unwrap_or("-").to_owned()))
            .collect();
        assert_eq!(new, [("offers".to_owned(), "subscribed".to_owned())], "{events:?}");
        assert_eq!(app.reason("a@example.com", "news"), "default_subscribed");
    }

    fn markup_in_a_topic_is_shown_as_text_on_every_page(app) {
        app.topic("evil")
            .opt_out()
            .with("name", json!(HOSTILE_NAME))
            .with("description", json!(HOSTILE_DESCRIPTION))
            .create();
        let path = unsubscribe_path(&app, "a@example.com", "evil");
        let landing = app.get(&path).anonymous().send();
        assert_eq!(landing.status, 200);
        shows_as_text(&landing.body, "<strong>", "</strong>", HOSTILE_NAME);
        let done = app.post(&path).anonymous().body("application/x-www-form-urlencoded", "action=unsubscribe").send();
        assert_eq!(done.status, 200);
        shows_as_text(&done.body, "<strong>", "</strong>", HOSTILE_NAME);
        let links = app.post("/v1/links").json(json!({"email": "a@example.com", "topic": "evil"})).send().json();
        let preferences = links["preferences_url"].as_str().unwrap().trim_start_matches(app.base()).to_owned();
        let page = app.get(&preferences).anonymous().header("accept-language", "fr").send();
        assert_eq!(page.status, 200);
        shows_as_text(&page.body, "class=\"name\">", "</label>", HOSTILE_NAME);
        shows_as_text(&page.body, "<p class=\"description\" id=\"d-evil\">", "</p>", HOSTILE_DESCRIPTION);
        // The words of the page are escaped once too.
        shows_as_text(&page.body, "<title>", "</title>", "Vos préférences d’e‑mail — Préférences d’e‑mail");
    }

    fn the_preference_page_works_without_javascript(app) {
        app.topics().create();
        let path = preference_path(&app, "a@example.com");
        let page = app.get(&path).anonymous().header("accept-language", "fr").send();
        assert_eq!(page.status, 200);
        assert!(page.body.contains("Lettre d&#39;information") && page.body.contains("Envoi systématique"), "{}", page.body);
        assert!(page.body.contains("/static/preferences.js"));
        // The form as a browser without JavaScript posts it: news unchecked, offers checked.
        let form = "shown=news&shown=offers&topic.offers=on&locale=fr";
        let saved = app.post(&path).anonymous().body("application/x-www-form-urlencoded", form).send();
        assert_eq!(saved.status, 303, "a redirect: reloading the page posts nothing again");
        let shown = app.get(saved.header("location").unwrap()).anonymous().send();
        assert!(shown.body.contains("Vos choix sont enregistrés"), "{}", shown.body);
        assert_eq!(app.reason("a@example.com", "news"), "unsubscribed_topic");
        assert_eq!(app.reason("a@example.com", "offers"), "subscribed");
        for asset in ["/static/style.css", "/static/preferences.js"] {
            assert_eq!(app.get(asset).anonymous().send().status, 200);
        }
        app.get("/static/nope.js").anonymous().send().problem(404, "not_found");
    }
}

const K1: [u8; 32] = [11; 32];
const K2: [u8; 32] = [22; 32];

fn spec(keys: &[(&str, [u8; 32])]) -> String {
    keys.iter()
        .map(|(kid, k)| format!("{kid}:{}", base64::engine::general_purpose::STANDARD.encode(k)))
        .collect::<Vec<_>>()
        .join(",")
}

fn unsubscribe_link(signer: &TokenKeys, recipient: Recipient, issued: i64, expires: i64) -> String {
    signer.sign(&Link {
        recipient,
        audience: Audience::Unsubscribe,
        topic: Some(TopicKey::parse("news").unwrap()),
        message_id: None,
        issued_at: issued,
        expires_at: expires,
    })
}

each_backend! {
    fn rotated_and_expired_keys(db: TestDb) {
        let app = TestApp::start_with(db, |c| c.signing_keys = Some(spec(&[("k2", K2), ("k1", K1)])));
        app.topic("news").opt_out().create();
        let contact = app.contact("a@example.com", json!({}));
        let id: ContactId = contact["id"].as_str().unwrap().parse().unwrap();
        let now = chrono::Utc::now().timestamp();
        let old_key = TokenKeys::parse(&spec(&[("k1", K1)])).unwrap();
        let removed_key = TokenKeys::parse(&spec(&[("k0", [33; 32])])).unwrap();
        // Signed by a key that no longer signs but is still accepted: it works.
        let accepted = unsubscribe_link(&old_key, Recipient::Contact(id), now, now + 3600);
        assert_eq!(app.get(&format!("/u/{accepted}")).anonymous().send().status, 200);
        // A removed key: refused, nothing changes.
        let removed = unsubscribe_link(&removed_key, Recipient::Contact(id), now, now + 3600);
        assert_eq!(
            app.post(&format!("/u/{removed}"))
                .anonymous()
                .body("application/x-www-form-urlencoded", "List-Unsubscribe=One-Click")
                .send()
                .status,
            400
        );
        assert_eq!(app.get("/v1/contacts/a%40example.com").send().json()["subscriptions"], json!({}));
        // A link for a contact that is no longer held (erased, say) leads nowhere.
        let unknown = unsubscribe_link(&old_key, Recipient::Contact(ContactId::new()), now, now + 3600);
        assert_eq!(
            app.post(&format!("/u/{unknown}"))
                .anonymous()
                .body("application/x-www-form-urlencoded", "List-Unsubscribe=One-Click")
                .send()
                .status,
            404
        );
        // An expired link still unsubscribes (the policy: tests/api/pages.rs).
        let expired = unsubscribe_link(&old_key, Recipient::Contact(id), now - 7200, now - 3600);
        let old = app
            .post(&format!("/u/{expired}"))
            .anonymous()
            .body("application/x-www-form-urlencoded", "List-Unsubscribe=One-Click")
            .send();
        assert_eq!(old.status, 200, "{}", old.body);
        // The accepted old link unsubscribes.
        let reply = app
            .post(&format!("/u/{accepted}"))
            .anonymous()
            .body("application/x-www-form-urlencoded", "List-Unsubscribe=One-Click")
            .send();
        assert_eq!(reply.status, 200);
        assert_eq!(
            app.get("/v1/contacts/a%40example.com").send().json()["subscriptions"],
            json!({"news": "unsubscribed"})
        );
    }
}
