//! A person uses the recipients' pages in a real browser (tests/api/support/browser.rs):
//! the preference page and the unsubscribe page, in both languages, with a screenshot
//! of each page into `test-output/`.

use serde_json::{json, Value};

use crate::support::{each_backend, Browser, TestApp};

fn setup(app: &TestApp, email: &str, locale: &str) -> Value {
    app.topic("news")
        .opt_out()
        .with("name", json!("Newsletter"))
        .with("description", json!("Our monthly news"))
        .with(
            "translations",
            json!({"fr": {"name": "Lettre d'information", "description": "Nos nouvelles du mois"}}),
        )
        .create();
    app.topic("offers")
        .with("name", json!("Special offers"))
        .with("translations", json!({"fr": {"name": "Offres spéciales"}}))
        .create();
    app.topic("receipts")
        .with("name", json!("Receipts"))
        .transactional()
        .with("translations", json!({"fr": {"name": "Reçus"}}))
        .create();
    app.contact(email, json!({"locale": locale}));
    app.post("/v1/links").json(json!({"email": email, "topic": "news"})).send().json()
}

each_backend! {
    fn a_person_uses_the_preference_page(app) {
        let Some(browser) = Browser::start() else { return };
        for (email, locale) in [("en@example.com", "en"), ("fr@example.com", "fr")] {
            let links = if locale == "en" { setup(&app, email, locale) } else {
                app.contact(email, json!({"locale": locale}));
                app.post("/v1/links").json(json!({"email": email, "topic": "news"})).send().json()
            };
            browser.open(links["preferences_url"].as_str().unwrap());
            assert_eq!(browser.property("input[data-topic=news]", "checked"), json!(true));
            assert_eq!(browser.property("input[data-topic=receipts]", "disabled"), json!(true));
            assert_eq!(browser.attribute("html", "lang"), json!(locale));
            assert_eq!(browser.count("input[data-topic]"), 3, "every public topic, transactional included");
            browser.look(&format!("preferences-{locale}"));
            browser.click("input[data-topic=news]");
            browser.click("input[data-topic=offers]");
            browser.click("button[type=submit]");
            browser.wait_until("the saved message", |b| b.property(".saved", "hidden") == json!(false));
            assert_eq!(app.reason(email, "news"), "unsubscribed_topic");
            assert_eq!(app.reason(email, "offers"), "subscribed");
            // A reload shows what was saved.
            browser.open(links["preferences_url"].as_str().unwrap());
            assert_eq!(browser.property("input[data-topic=news]", "checked"), json!(false));
            assert_eq!(browser.property("input[data-topic=offers]", "checked"), json!(true));
            let heading = browser.text("h1");
            assert_eq!(heading, if locale == "fr" { "Vos préférences d'e-mail" } else { "Your email preferences" });
        }
    }

    fn a_person_unsubscribes_with_the_button(app) {
        let Some(browser) = Browser::start() else { return };
        for (email, locale) in [("en@example.com", "en"), ("fr@example.com", "fr")] {
            let links = if locale == "en" { setup(&app, email, locale) } else {
                app.contact(email, json!({"locale": locale}));
                app.post("/v1/links").json(json!({"email": email, "topic": "news"})).send().json()
            };
            browser.open(links["unsubscribe_url"].as_str().unwrap());
            browser.look(&format!("unsubscribe-{locale}"));
            assert_eq!(app.reason(email, "news"), "default_subscribed", "opening the page changes nothing");
            browser.click("button[type=submit]");
            let expected = if locale == "fr" { "Vous êtes désinscrit" } else { "You are unsubscribed" };
            browser.wait_until("the confirmation", |b| b.try_text("h1").as_deref() == Some(expected));
            assert_eq!(browser.url(), links["unsubscribe_url"].as_str().unwrap(), "no redirect after the POST");
            browser.look(&format!("unsubscribed-{locale}"));
            assert_eq!(app.reason(email, "news"), "unsubscribed_topic");
        }
    }
}
