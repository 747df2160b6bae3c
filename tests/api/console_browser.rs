//! An operator uses the console in a real browser (tests/api/support/browser.rs): logs
//! in, reads the dashboard, finds a contact and its history, switches to French, and
//! erases the contact through the confirmation. Every page is looked at in English and
//! French (axe-core in four views, screenshots into `test-output/console-*`) in the
//! SQLite half; what the operator does is checked on both backends. One browser session
//! for the whole story, to keep the suite's time small.

use prefcenter::domain::Role;
use serde_json::json;

use crate::console::{operator, private_webhooks, Console, PASSWORD};
use crate::support::{each_backend, Browser, TestApp};

fn look(app: &TestApp, browser: &Browser, name: &str) {
    if app.db.is_sqlite() {
        browser.look(name);
    }
}

fn wait_for_heading(browser: &Browser, expected: &str) {
    browser
        .wait_until(&format!("the heading {expected:?}"), |b| b.try_text("h1").as_deref() == Some(expected));
}

each_backend! {
    fn an_operator_uses_the_console_in_both_languages(app) with private_webhooks {
        let Some(browser) = Browser::start() else { return };
        operator(&app, "admin@example.org", Role::Admin);
        app.topics().create();
        let created = app.contact("ada@example.com", json!({"external_id": "crm-7", "subscriptions": {"offers": "subscribed"}, "message_id": "m-1"}));
        let id = created["id"].as_str().unwrap().to_owned();
        app.contact("bob@example.com", json!({"subscriptions": {"news": "unsubscribed"}}));
        let reply = app.put("/v1/suppressions/gone%40example.com").json(json!({"reason": "hard_bounce", "note": "mailbox gone"})).send();
        assert_eq!(reply.status, 201, "{}", reply.body);
        // A webhook nothing listens to (its refused deliveries show), a feed consumer,
        // and a change made in the console, so that those pages have rows to look at.
        let hook = app.post("/v1/webhooks").json(json!({"url": "http://127.0.0.1:9/hook", "description": "CRM"})).send();
        assert_eq!(hook.status, 201, "{}", hook.body);
        assert_eq!(app.put("/v1/changes/consumers/warehouse").json(json!({"after": 0})).send().status, 201);
        let made = Console::login(&app, "admin@example.org").post("/console/api-keys", &[("name", "mailer"), ("scope", "check")]);
        assert_eq!(made.status, 200, "{}", made.body);
        let base = app.base().to_owned();

        browser.open(&format!("{base}/console/"));
        wait_for_heading(&browser, "Log in to the console");
        look(&app, &browser, "console-login-en");
        browser.type_into("#email", "admin@example.org");
        browser.type_into("#password", PASSWORD);
        browser.click("button[type=submit]");
        wait_for_heading(&browser, "Dashboard");
        assert_eq!(browser.text("#total-contacts"), "2");
        assert!(browser.count("svg.chart[role=img]") >= 7, "the dashboard's charts are drawn");

        for (lang, dashboard, contacts, audit) in [("en", "Dashboard", "Contacts", "Audit"), ("fr", "Tableau de bord", "Contacts", "Journal")] {
            if lang == "fr" {
                browser.click("form[action='/console/language'] button");
                wait_for_heading(&browser, dashboard);
            }
            look(&app, &browser, &format!("console-dashboard-{lang}"));
            browser.open(&format!("{base}/console/contacts"));
            wait_for_heading(&browser, contacts);
            browser.type_into("#q", "ada@example.com");
            browser.press("\u{E007}");
            browser.wait_until("a result", |b| b.count("#results a") == 1);
            look(&app, &browser, &format!("console-contacts-{lang}"));
            browser.click("#results a");
            browser.wait_until("the contact's page", |b| b.count("#timeline") == 1);
            assert!(browser.text("#timeline").contains("m-1"), "the timeline shows the message id");
            look(&app, &browser, &format!("console-contact-{lang}"));
            browser.open(&format!("{base}/console/contacts/{id}/erase"));
            browser.wait_until("the confirmation", |b| b.count("#erase-confirm") == 1);
            assert_eq!(browser.text("#erase-address"), "ada@example.com");
            look(&app, &browser, &format!("console-erase-{lang}"));
            browser.open(&format!("{base}/console/audit"));
            wait_for_heading(&browser, audit);
            look(&app, &browser, &format!("console-audit-{lang}"));
            for (path, table) in [("topics", "#topics"), ("suppressions", "#suppressions"), ("api-keys", "#keys"), ("webhooks", "#webhooks")] {
                browser.open(&format!("{base}/console/{path}"));
                browser.wait_until(path, |b| b.count(table) == 1);
                look(&app, &browser, &format!("console-{path}-{lang}"));
            }
            browser.open(&format!("{base}/console/"));
            wait_for_heading(&browser, dashboard);
        }

        // In French now: erase through the confirmation; the result shows at once.
        browser.open(&format!("{base}/console/contacts/{id}/erase"));
        browser.wait_until("the confirmation", |b| b.count("#erase-confirm") == 1);
        browser.click("#erase-confirm");
        browser.wait_until("the erasure's outcome", |b| b.count("#erased") == 1);
        assert!(browser.text("#address-suppression").contains("effacement"), "the erasure, in French");
        look(&app, &browser, "console-erased-fr");
        assert_eq!(app.reason("ada@example.com", "offers"), "suppressed:erasure");
    }
}
