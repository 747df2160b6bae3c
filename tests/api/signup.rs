//! Links by mail, delivered to a real SMTP server on loopback: the magic preference
//! link and double opt-in.

use serde_json::json;

use crate::smtp::SmtpServer;
use crate::support::{each_backend, TestApp, TestDb};

fn app_with_mail(db: TestDb) -> (TestApp, SmtpServer) {
    let smtp = SmtpServer::start();
    let url = smtp.url.clone();
    let app = TestApp::start_with(db, move |c| c.smtp_url = Some(url.clone()));
    (app, smtp)
}

each_backend! {
    fn magic_link(db: TestDb) {
        let (app, smtp) = app_with_mail(db);
        app.topic("news").opt_out().create();
        app.contact("known@example.com", json!({"locale": "fr"}));
        for email in ["known@example.com", "unknown@example.com"] {
            let reply = app.post("/v1/preferences/link").anonymous().json(json!({"email": email})).send();
            assert_eq!(
                (reply.status, reply.json()),
                (202, json!({"status": "accepted"})),
                "the same answer for {email}"
            );
        }
        // A later request for another known address: its mail arriving, with none for the
        // unknown address before it, shows the unknown one got none (without waiting out a
        // timeout).
        app.contact("later@example.com", json!({}));
        assert_eq!(
            app.post("/v1/preferences/link")
                .anonymous()
                .json(json!({"email": "later@example.com"}))
                .send()
                .status,
            202
        );
        let mails = smtp.wait_for(2);
        let mut recipients: Vec<_> = mails.iter().map(|m| m.to.join(",")).collect();
        recipients.sort();
        assert_eq!(recipients, ["known@example.com", "later@example.com"], "nothing for an unknown address");
        let mail = mails.iter().find(|m| m.to == ["known@example.com"]).unwrap();
        assert_eq!(mail.subject().as_deref(), Some("Vos préférences d’e‑mail"), "in the contact's language");
        let other = mails.iter().find(|m| m.to == ["later@example.com"]).unwrap();
        assert_eq!(other.subject().as_deref(), Some("Your email preferences"), "in English by default");
        assert!(mail.header("List-Unsubscribe").is_none(), "only the confirmation carries List-Unsubscribe");
        let link = mail.link(app.base(), "/p/").expect("a preference link in the mail");
        let page = reqwest::blocking::get(&link).unwrap();
        assert_eq!(page.status(), 200);
        let token = link.rsplit('/').next().unwrap();
        let prefs =
            app.get("/v1/preferences").anonymous().header("authorization", &format!("Bearer {token}")).send();
        assert_eq!(prefs.json()["email"], "k***@example.com");
        // Per address: three a window, then 429.
        for _ in 0..2 {
            assert_eq!(
                app.post("/v1/preferences/link")
                    .anonymous()
                    .json(json!({"email": "known@example.com"}))
                    .send()
                    .status,
                202
            );
        }
        let limited =
            app.post("/v1/preferences/link").anonymous().json(json!({"email": "known@example.com"})).send();
        limited.problem(429, "rate_limited");
        assert!(limited.header("retry-after").is_some());
        app.post("/v1/preferences/link")
            .anonymous()
            .json(json!({"email": "nope"}))
            .send()
            .problem(422, "invalid");
    }

    fn double_opt_in(db: TestDb) {
        let (app, smtp) = app_with_mail(db);
        app.topic("offers").with("name", json!("Special offers")).create();
        app.topic("news").opt_out().create();
        app.contact("a@example.com", json!({"unsubscribed_all": true, "source": "one_click"}));
        let reply = app
            .post("/v1/subscribe")
            .anonymous()
            .json(json!({"email": "A@example.com", "topics": ["offers"], "locale": "en"}))
            .send();
        assert_eq!(reply.status, 202, "{}", reply.body);
        assert_eq!(
            app.reason("a@example.com", "offers"),
            "unsubscribed_all",
            "nothing is sent before confirmation"
        );
        assert_eq!(
            app.get("/v1/contacts/a%40example.com").send().json()["subscriptions"],
            json!({"offers": "pending"})
        );
        let mail = smtp.wait_for(1).pop().expect("a confirmation mail");
        assert_eq!(mail.to, ["a@example.com"]);
        assert!(mail.text().contains("Special offers"));
        let cancel = mail.header("List-Unsubscribe").expect("List-Unsubscribe on the confirmation");
        assert!(cancel.starts_with(&format!("<{}/u/", app.base())), "{cancel}");
        assert_eq!(mail.header("List-Unsubscribe-Post").as_deref(), Some("List-Unsubscribe=One-Click"));
        let confirm = mail.link(app.base(), "/c/").expect("a confirmation link");
        let path = confirm.trim_start_matches(app.base()).to_owned();
        let page = app.get(&path).anonymous().send();
        assert!(page.status == 200 && page.body.contains("Special offers"), "{}", page.body);
        assert_eq!(app.reason("a@example.com", "offers"), "unsubscribed_all", "looking changes nothing");
        let done = app.post(&path).anonymous().body("application/x-www-form-urlencoded", "").send();
        assert_eq!(done.status, 200);
        assert!(done.body.contains("confirmed"));
        assert_eq!(app.reason("a@example.com", "offers"), "subscribed");
        assert_eq!(
            app.reason("a@example.com", "news"),
            "default_subscribed",
            "the confirmed opt-in lifts unsubscribe-all"
        );
        let last =
            app.events("a@example.com").into_iter().rev().find(|e| e["type"] == "subscription_changed").unwrap();
        assert_eq!(
            (last["source"].as_str(), last["consent"].as_str()),
            (Some("confirmation"), Some("confirmed by double opt-in"))
        );
        app.post("/v1/subscribe")
            .anonymous()
            .json(json!({"email": "b@example.com", "topics": ["nope"]}))
            .send()
            .problem(422, "invalid");

        // The confirmation's own List-Unsubscribe cancels the request in one click.
        app.post("/v1/subscribe")
            .anonymous()
            .json(json!({"email": "c@example.com", "topics": ["offers"]}))
            .send();
        let mail = smtp.wait_for(2).pop().unwrap();
        assert_eq!(mail.to, ["c@example.com"]);
        let cancel = mail.header("List-Unsubscribe").unwrap();
        let cancel_path = cancel.trim_matches(['<', '>']).trim_start_matches(app.base()).to_owned();
        let reply = app
            .post(&cancel_path)
            .anonymous()
            .body("application/x-www-form-urlencoded", "List-Unsubscribe=One-Click")
            .send();
        assert_eq!(reply.status, 200);
        assert_eq!(app.reason("c@example.com", "offers"), "unsubscribed_topic");
        let confirm = mail.link(app.base(), "/c/").unwrap().trim_start_matches(app.base()).to_owned();
        app.post(&confirm).anonymous().body("application/x-www-form-urlencoded", "").send();
        assert_eq!(
            app.reason("c@example.com", "offers"),
            "unsubscribed_topic",
            "nothing pending is left to confirm"
        );
    }

    fn a_mail_failure_loses_nothing(db: TestDb) {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let app = TestApp::start_with(db, move |c| c.smtp_url = Some(format!("smtp://{closed}")));
        app.topic("offers").create();
        let reply = app
            .post("/v1/subscribe")
            .anonymous()
            .json(json!({"email": "a@example.com", "topics": ["offers"]}))
            .send();
        reply.problem(503, "unavailable");
        assert_eq!(
            app.get("/v1/contacts/a%40example.com").send().json()["subscriptions"],
            json!({"offers": "pending"})
        );
    }
}
