//! A person uses the recipients' pages in a real browser (tests/api/support/browser.rs),
//! in both languages: a branded preference page (one toggled topic is one event, every
//! save announced, a language switch without reload, a pause, "unsubscribe from all"),
//! the unsubscribe link (unsubscribe, why, come back, undo), the dead ends (each with a
//! new link mailed through the SMTP server on loopback), double opt-in, and deletion
//! (warned, in the contact's language, confirmed by a mailed link).
//!
//! Every page state is looked at (`Browser::look`: axe-core in four views, screenshots
//! into `test-output/`) in the SQLite half of each test: the pages are the same on both
//! backends, and looking is most of these tests' time. What the person does is checked
//! on both.

use base64::Engine;
use prefcenter::domain::token::{Audience, Link, Recipient, TokenKeys};
use serde_json::{json, Value};

use crate::smtp::SmtpServer;
use crate::support::{each_backend, Browser, TestApp, TestDb};

/// English and French: the address, its locale, and the other language.
const PEOPLE: [(&str, &str, &str); 2] = [("en@example.com", "en", "fr"), ("fr@example.com", "fr", "en")];

fn accept(lang: &str) -> &'static str {
    if lang == "fr" {
        "fr-FR,fr;q=0.9"
    } else {
        "en-GB,en;q=0.9"
    }
}

/// A logo as a sender would have one: an SVG, served by prefcenter itself.
const LOGO: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="168" height="40" viewBox="0 0 168 40"><rect width="40" height="40" rx="9" fill="#0f766e"/><path d="M11 27 20 11l9 16z" fill="#fff"/><text x="50" y="27" font-family="Georgia, serif" font-size="20" font-weight="700" fill="#134e4a">Acme Books</text></svg>"##;

/// The topics of the stories, with how often each is sent, in both languages.
fn topics(app: &TestApp) {
    app.topic("news")
        .opt_out()
        .with("name", json!("Newsletter"))
        .with("description", json!("New books and events, once a month."))
        .with("frequency", json!("monthly"))
        .with(
            "translations",
            json!({"fr": {"name": "Lettre d’information", "description": "Nouveaux livres et rencontres, une fois par mois.", "frequency": "chaque mois"}}),
        )
        .create();
    app.topic("offers")
        .with("name", json!("Special offers"))
        .with("description", json!("Discounts for readers."))
        .with("frequency", json!("weekly"))
        .with("translations", json!({"fr": {"name": "Offres spéciales", "description": "Des remises pour les lecteurs.", "frequency": "chaque semaine"}}))
        .create();
    app.topic("receipts")
        .transactional()
        .with("name", json!("Receipts and account messages"))
        .with("translations", json!({"fr": {"name": "Reçus et messages du compte"}}))
        .create();
}

fn links(app: &TestApp, email: &str) -> Value {
    app.post("/v1/links").json(json!({"email": email, "topic": "news"})).send().json()
}

fn url(links: &Value, field: &str) -> String {
    links[field].as_str().unwrap().to_owned()
}

/// The heading, once the page shows `expected` there.
fn wait_for_heading(browser: &Browser, expected: &str) {
    browser
        .wait_until(&format!("the heading {expected:?}"), |b| b.try_text("h1").as_deref() == Some(expected));
}

/// Looks at the page in the SQLite half of a test (see the module's comment).
fn look(app: &TestApp, browser: &Browser, name: &str) {
    if app.db.is_sqlite() {
        browser.look(name);
    }
}

fn with_brand(smtp: String, logo: std::path::PathBuf) -> impl Fn(&mut prefcenter::Config) {
    move |c| {
        c.smtp_url = Some(smtp.clone());
        c.brand.name = Some("Acme Books".into());
        c.brand.logo = Some(logo.clone());
        c.brand.color = prefcenter::domain::colour::Rgb::parse("#0f766e").unwrap();
        c.brand.privacy_url = Some("https://books.example/privacy".into());
        c.brand.contact_email = Some("help@books.example".into());
        c.brand.postal_address = Some("12 Rue des Livres\n75005 Paris".into());
        c.mail_from = "news@books.example".into();
        c.signing_keys = Some(format!("k:{}", base64::engine::general_purpose::STANDARD.encode(KEY)));
    }
}

const KEY: [u8; 32] = [9; 32];

/// An app with the brand, mail to `smtp`, and signing keys the test knows.
fn start(db: TestDb, smtp: &SmtpServer, logo_dir: &tempfile::TempDir) -> TestApp {
    let logo = logo_dir.path().join("logo.svg");
    std::fs::write(&logo, LOGO).unwrap();
    let app = TestApp::start_with(db, with_brand(smtp.url.clone(), logo));
    topics(&app);
    app
}

/// What a list of things the page announced in its live region holds so far.
fn announced(browser: &Browser) -> Vec<String> {
    serde_json::from_value(browser.execute("return window.announced || [];", json!([]))).unwrap_or_default()
}

each_backend! {
    fn a_person_uses_a_branded_preference_page(db: TestDb) {
        let Some(browser) = Browser::start() else { return };
        let (smtp, dir) = (SmtpServer::start(), tempfile::tempdir().unwrap());
        let app = start(db, &smtp, &dir);
        for (email, lang, other) in PEOPLE {
            app.contact(email, json!({"locale": lang, "subscriptions": {"offers": "pending"}}));
            browser.languages(accept(other));
            let preferences = url(&links(&app, email), "preferences_url");
            browser.open(&preferences);
            let (title, saved) = if lang == "fr" {
                ("Vos préférences d’e‑mail", "Vos choix sont enregistrés.")
            } else {
                ("Your email preferences", "Your choices are saved.")
            };
            wait_for_heading(&browser, title);
            assert_eq!(browser.attribute("html", "lang"), json!(lang), "the contact's language, not the browser's");
            // The brand: the logo shows, from this origin, as does everything the page loads.
            let brand = browser.execute(
                "const logo = document.querySelector('img.logo');
                 const elsewhere = performance.getEntriesByType('resource').map(e => e.name)
                     .filter(n => new URL(n).origin !== location.origin);
                 return [logo.complete && logo.naturalWidth > 0, new URL(logo.src).origin === location.origin, elsewhere, document.title];",
                json!([]),
            );
            assert_eq!(brand.as_array().unwrap()[0..3], [json!(true), json!(true), json!([])], "{brand}");
            assert_eq!(brand[3], format!("{title} — Acme Books"));
            assert_eq!(browser.count("#p-offers"), 1, "the topic awaiting confirmation says so");
            assert_eq!(browser.count("input[data-topic]"), 2, "transactional mail is text, not a box");
            look(&app, &browser, &format!("preferences-{lang}"));

            // Every announcement of the live region, as a screen reader would hear it.
            browser.execute(
                "window.announced = [];
                 new MutationObserver(() => { const t = document.getElementById('status').textContent;
                     if (t) window.announced.push(t); })
                     .observe(document.getElementById('status'), {childList: true, characterData: true, subtree: true});",
                json!([]),
            );
            // One toggled topic is one event, and the save is announced.
            let before = app.events(email).len();
            browser.click("#t-news");
            browser.click("#save");
            browser.wait_until("the save announced", |b| announced(b).len() == 1);
            let events = app.events(email);
            assert_eq!(events.len(), before + 1, "exactly one event: {:?}", &events[before..]);
            assert_eq!((events[before]["topic"].as_str(), events[before]["status"].as_str()), (Some("news"), Some("unsubscribed")));
            assert_eq!(announced(&browser), [saved]);
            assert_eq!(browser.focused(), "save", "the focus stays where it was");
            // The second save is announced too; this time by keyboard alone: Space ticks
            // the box, Tab goes past the other topic (transactional mail is text, no
            // stop), "unsubscribe from all" and the language to the button.
            browser.execute("document.getElementById('t-news').focus();", json!([]));
            browser.press(" ");
            browser.press("\u{E004}\u{E004}\u{E004}\u{E004}");
            assert_eq!(browser.focused(), "save");
            browser.press("\u{E007}");
            browser.wait_until("the second save announced", |b| announced(b).len() == 2);
            assert_eq!(app.events(email).len(), before + 2);
            assert_eq!(app.reason(email, "news"), "subscribed");

            // A pause: the decision says so, the page says until when.
            browser.click("#pause-month");
            browser.wait_until("the pause shown", |b| b.count("#resume") == 1 && announced(b).len() == 3);
            assert_eq!(app.reason(email, "news"), "paused");
            assert_eq!(app.reason(email, "receipts"), "transactional");
            assert_eq!(browser.focused(), "resume");
            look(&app, &browser, &format!("preferences-paused-{lang}"));
            browser.click("#resume");
            browser.wait_until("the pause lifted", |b| b.count("#pause-week") == 1 && announced(b).len() == 4);
            assert_eq!(app.reason(email, "news"), "subscribed");

            // "Unsubscribe from all" greys the topics out at once, and after the save.
            browser.click("#unsubscribed_all");
            assert_eq!(browser.property("#t-news", "disabled"), json!(true));
            browser.click("#save");
            browser.wait_until("the topics greyed out", |b| b.count(".topics.off") == 1 && announced(b).len() == 5);
            assert_eq!(app.reason(email, "news"), "unsubscribed_all");
            look(&app, &browser, &format!("preferences-all-{lang}"));
            browser.click("#unsubscribed_all");
            browser.click("#save");
            browser.wait_until("the topics back", |b| announced(b).len() == 6);
            assert_eq!(browser.count(".topics.off"), 0);

            // The other language, without a reload.
            browser.execute("window.kept = true;", json!([]));
            browser.select("#locale", other);
            browser.click("#save");
            browser.wait_until("the page in the other language", |b| b.attribute("html", "lang") == json!(other));
            assert_eq!(browser.execute("return window.kept === true;", json!([])), json!(true), "no reload");
            let other_title = if other == "fr" { "Vos préférences d’e‑mail" } else { "Your email preferences" };
            wait_for_heading(&browser, other_title);
            let other_saved = if other == "fr" { "Vos choix sont enregistrés." } else { "Your choices are saved." };
            browser.wait_until("announced in the new language", |b| announced(b).last().map(String::as_str) == Some(other_saved));
            let topic = app.get(&format!("/v1/contacts/{}", crate::support::encode(email))).send().json();
            assert_eq!(topic["locale"], other);
            // And back.
            browser.select("#locale", lang);
            browser.click("#save");
            browser.wait_until("the page back in its language", |b| b.attribute("html", "lang") == json!(lang));
        }
    }

    fn a_person_unsubscribes_says_why_and_comes_back(db: TestDb) {
        let Some(browser) = Browser::start() else { return };
        let (smtp, dir) = (SmtpServer::start(), tempfile::tempdir().unwrap());
        let app = start(db, &smtp, &dir);
        for (email, lang, _) in PEOPLE {
            app.contact(email, json!({"locale": lang}));
            browser.languages(accept(lang));
            let unsubscribe = url(&links(&app, email), "unsubscribe_url");
            let fr = lang == "fr";
            browser.open(&unsubscribe);
            wait_for_heading(&browser, if fr { "Désinscription" } else { "Unsubscribe" });
            look(&app, &browser, &format!("unsubscribe-{lang}"));
            assert_eq!(app.reason(email, "news"), "default_subscribed", "looking changes nothing");
            browser.click("button[type=submit]");
            wait_for_heading(&browser, if fr { "Désinscription enregistrée" } else { "Unsubscribed" });
            assert_eq!(browser.url(), unsubscribe, "no redirect after the POST");
            assert_eq!(app.reason(email, "news"), "unsubscribed_topic");
            look(&app, &browser, &format!("unsubscribed-{lang}"));
            // Why? One answer and a comment.
            browser.click("input[value=too_frequent]");
            browser.type_into("#comment", "Once a month would do.");
            browser.click(".reason button[type=submit]");
            wait_for_heading(&browser, if fr { "Merci" } else { "Thank you" });
            let answers: Vec<Value> = app.events(email).into_iter().filter(|e| e["type"] == "unsubscribe_reason").collect();
            assert_eq!(answers.len(), 1);
            assert_eq!((answers[0]["reason"].as_str(), answers[0]["detail"].as_str()), (Some("too_frequent"), Some("Once a month would do.")));
            look(&app, &browser, &format!("reason-thanks-{lang}"));
            // Back later: already unsubscribed, so the page offers to resubscribe.
            browser.open(&unsubscribe);
            wait_for_heading(&browser, if fr { "Désinscription déjà enregistrée" } else { "Already unsubscribed" });
            look(&app, &browser, &format!("already-unsubscribed-{lang}"));
            browser.click("button[type=submit]");
            wait_for_heading(&browser, if fr { "Réinscription enregistrée" } else { "Resubscribed" });
            assert_eq!(app.reason(email, "news"), "subscribed");
            look(&app, &browser, &format!("resubscribed-{lang}"));
            // Unsubscribe, then undo at once.
            browser.open(&unsubscribe);
            browser.click("button[type=submit]");
            wait_for_heading(&browser, if fr { "Désinscription enregistrée" } else { "Unsubscribed" });
            browser.click("input[value=undo] + button");
            wait_for_heading(&browser, if fr { "Réinscription enregistrée" } else { "Resubscribed" });
            assert_eq!(app.reason(email, "news"), "subscribed");
        }
    }

    fn dead_ends_lead_to_a_new_link(db: TestDb) {
        let Some(browser) = Browser::start() else { return };
        let (smtp, dir) = (SmtpServer::start(), tempfile::tempdir().unwrap());
        let app = start(db, &smtp, &dir);
        let keys = TokenKeys::parse(&format!("k:{}", base64::engine::general_purpose::STANDARD.encode(KEY))).unwrap();
        let mut mails = 0;
        for (email, lang, _) in PEOPLE {
            let fr = lang == "fr";
            let contact = app.contact(email, json!({"locale": lang}));
            browser.languages(accept(lang));
            browser.open(&format!("{}/u/not-a-token", app.base()));
            wait_for_heading(&browser, if fr { "Lien de désinscription non valide" } else { "Unsubscribe link not valid" });
            look(&app, &browser, &format!("link-invalid-{lang}"));
            let now = chrono::Utc::now().timestamp();
            let expired = keys.sign(&Link {
                recipient: Recipient::Contact(contact["id"].as_str().unwrap().parse().unwrap()),
                audience: Audience::Preferences,
                topic: None,
                message_id: None,
                issued_at: now - 40 * 86_400,
                expires_at: now - 86_400,
            });
            browser.open(&format!("{}/p/{expired}", app.base()));
            wait_for_heading(&browser, if fr { "Lien de préférences expiré" } else { "Preferences link expired" });
            look(&app, &browser, &format!("link-expired-{lang}"));
            // The way forward: a fresh link, mailed.
            browser.type_into("#email", email);
            browser.click(".link-form button");
            wait_for_heading(&browser, if fr { "Consultez votre boîte de réception" } else { "Check your inbox" });
            look(&app, &browser, &format!("link-sent-{lang}"));
            mails += 1;
            let mail = smtp.wait_for(mails).pop().expect("a new link");
            assert_eq!(mail.to, [email]);
            browser.open(&mail.link(app.base(), "/p/").expect("a preference link"));
            wait_for_heading(&browser, if fr { "Vos préférences d’e‑mail" } else { "Your email preferences" });

            // Double opt-in: the confirmation page, and its answer.
            let new = format!("new-{lang}@example.com");
            let reply = app.post("/v1/subscribe").anonymous().json(json!({"email": new, "topics": ["offers"], "locale": lang})).send();
            assert_eq!(reply.status, 202, "{}", reply.body);
            mails += 1;
            let mail = smtp.wait_for(mails).pop().expect("a confirmation");
            browser.open(&mail.link(app.base(), "/c/").expect("a confirmation link"));
            wait_for_heading(&browser, if fr { "Confirmez votre inscription" } else { "Confirm your subscription" });
            assert!(browser.text("li").contains(if fr { "Offres spéciales" } else { "Special offers" }));
            look(&app, &browser, &format!("confirm-{lang}"));
            browser.click("button[type=submit]");
            browser.wait_until("confirmed", |b| b.count(".done") == 1);
            assert_eq!(app.reason(&new, "offers"), "subscribed");
            look(&app, &browser, &format!("confirmed-{lang}"));
        }
    }

    fn a_person_deletes_their_data_with_a_mailed_link(db: TestDb) {
        let Some(browser) = Browser::start() else { return };
        let (smtp, dir) = (SmtpServer::start(), tempfile::tempdir().unwrap());
        let app = start(db, &smtp, &dir);
        for (n, (email, lang, other)) in PEOPLE.into_iter().enumerate() {
            let fr = lang == "fr";
            app.contact(email, json!({"locale": lang}));
            // The browser asks for the other language: the contact's wins.
            browser.languages(accept(other));
            let links = links(&app, email);
            browser.open(&url(&links, "preferences_url"));
            browser.click("a.danger");
            wait_for_heading(&browser, if fr { "Supprimer mes données" } else { "Delete my data" });
            assert_eq!(browser.attribute("html", "lang"), json!(lang));
            let warning = browser.text(".warning");
            assert!(warning.contains(if fr { "réinitialisations de mot de passe" } else { "password resets" }), "{warning}");
            look(&app, &browser, &format!("erase-warning-{lang}"));
            browser.click("button.danger");
            wait_for_heading(&browser, if fr { "Consultez votre boîte de réception" } else { "Check your inbox" });
            assert_eq!(app.reason(email, "receipts"), "transactional", "nothing deleted yet");
            look(&app, &browser, &format!("erase-sent-{lang}"));
            let mail = smtp.wait_for(n + 1).pop().expect("the confirmation mail");
            browser.open(&mail.link(app.base(), "/d/").expect("a deletion link"));
            wait_for_heading(&browser, if fr { "Supprimer mes données" } else { "Delete my data" });
            look(&app, &browser, &format!("erase-confirm-{lang}"));
            browser.click("button.danger");
            browser.wait_until("deleted", |b| b.count(".done") == 1);
            assert_eq!(app.reason(email, "receipts"), "suppressed:erasure");
            look(&app, &browser, &format!("erased-{lang}"));
            // The address's unsubscribe link now says it was erased, and offers nothing.
            browser.open(&url(&links, "unsubscribe_url"));
            wait_for_heading(&browser, if other == "fr" { "Adresse effacée" } else { "Address erased" });
            assert_eq!(browser.count("form"), 0);
            // Its language is the browser's now: the contact, and its locale, are gone.
            look(&app, &browser, &format!("erased-address-{other}"));
        }
    }
}
