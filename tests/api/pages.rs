//! The recipients' pages as a product: the sender's brand on pages and mails, pages
//! that know where the recipient stands, a way forward from every dead end, old
//! unsubscribe links that still unsubscribe, and the headers every page carries.

use base64::Engine;
use prefcenter::domain::token::{Audience, Link, Recipient, TokenKeys};
use prefcenter::domain::TopicKey;
use serde_json::json;

use crate::smtp::SmtpServer;
use crate::support::{each_backend, TestApp, TestDb};

fn links(app: &TestApp, email: &str, topic: &str) -> (String, String) {
    let links = app.post("/v1/links").json(json!({"email": email, "topic": topic})).send().json();
    let path = |field: &str| links[field].as_str().unwrap().trim_start_matches(app.base()).to_owned();
    (path("unsubscribe_url"), path("preferences_url"))
}

fn form(app: &TestApp, path: &str, body: &str) -> crate::support::Reply {
    app.post(path).anonymous().body("application/x-www-form-urlencoded", body.to_owned()).send()
}

/// The text of the page's `<h1>`.
fn heading(body: &str) -> &str {
    body.split("<h1>").nth(1).and_then(|rest| rest.split("</h1>").next()).unwrap_or_default()
}

const KEY: [u8; 32] = [42; 32];

fn keys() -> String {
    format!("k:{}", base64::engine::general_purpose::STANDARD.encode(KEY))
}

fn signed(recipient: Recipient, audience: Audience, topic: Option<&str>, expires_in: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    TokenKeys::parse(&keys()).unwrap().sign(&Link {
        recipient,
        audience,
        topic: topic.map(|t| TopicKey::parse(t).unwrap()),
        message_id: None,
        issued_at: now - 100 * 86_400,
        expires_at: now + expires_in,
    })
}

/// A logo with a script in it: served so that it cannot run.
const LOGO: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 32"><script>alert(1)</script><rect width="120" height="32" rx="6" fill="#ffd400"/><text x="12" y="22" font-family="sans-serif" font-size="16" fill="#0d1b33">Acme</text></svg>"##;

fn branded(smtp: String, logo: std::path::PathBuf) -> impl Fn(&mut prefcenter::Config) {
    move |c| {
        c.smtp_url = Some(smtp.clone());
        c.brand.name = Some("Acme & Co".into());
        c.brand.logo = Some(logo.clone());
        c.brand.color = prefcenter::domain::colour::Rgb::parse("#ffd400").unwrap();
        c.brand.privacy_url = Some("https://acme.example/privacy".into());
        c.brand.contact_email = Some("help@acme.example".into());
        c.brand.postal_address = Some("1 Main Street\nSpringfield".into());
        c.mail_from = "news@acme.example".into();
    }
}

each_backend! {
    fn the_brand_shows_on_pages_and_in_mail(db: TestDb) {
        let smtp = SmtpServer::start();
        let dir = tempfile::tempdir().unwrap();
        let logo = dir.path().join("logo.svg");
        std::fs::write(&logo, LOGO).unwrap();
        let app = TestApp::start_with(db, branded(smtp.url.clone(), logo));
        app.topics().create();
        app.contact("a@example.com", json!({"locale": "en"}));
        let (unsubscribe, preferences) = links(&app, "a@example.com", "news");
        for path in [&unsubscribe, &preferences] {
            let page = app.get(path).anonymous().send();
            for part in ["— Acme &#38; Co</title>", "<img class=\"logo\" src=\"/brand/logo\" alt=\"Acme &#38; Co\">",
                "<a href=\"https://acme.example/privacy\">Privacy policy</a>", "mailto:help@acme.example", "<link rel=\"icon\" href=\"/favicon.svg\""] {
                assert!(page.body.contains(part), "{path}: {part}: {}", page.body);
            }
        }
        // The logo comes from here, and cannot run the script it holds.
        let served = app.get("/brand/logo").anonymous().send();
        assert_eq!(served.status, 200);
        assert_eq!(served.header("content-type"), Some("image/svg+xml"));
        assert_eq!(served.header("content-security-policy"), Some("default-src 'none'; style-src 'unsafe-inline'; sandbox"));
        assert_eq!(served.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(served.body, LOGO);
        // The accent, with dark text that reads on it, and darker links.
        let css = app.get("/static/style.css").anonymous().send().body;
        assert!(css.contains("--accent: #ffd400; --on-accent: #0d1b33;"), "{css}");
        let favicon = app.get("/favicon.svg").anonymous().send();
        assert_eq!(favicon.header("content-type"), Some("image/svg+xml"));
        assert!(favicon.body.contains("fill=\"#ffd400\""), "{}", favicon.body);

        // Mail: the brand's name as the sender's, a Message-ID of its domain, the
        // button first and the link after, the footer.
        assert_eq!(app.post("/v1/preferences/link").anonymous().json(json!({"email": "a@example.com"})).send().status, 202);
        let mail = smtp.wait_for(1).pop().expect("a mail");
        assert!(mail.header("From").unwrap().contains("<news@acme.example>"), "{:?}", mail.header("From"));
        assert_eq!(mail.decoded_header("From").as_deref(), Some("Acme & Co <news@acme.example>"));
        assert!(mail.header("Message-ID").unwrap().ends_with("@acme.example>"), "{:?}", mail.header("Message-ID"));
        let text = mail.body();
        for part in ["<meta name=\"viewport\"", "<title>Your email preferences</title>", "1 Main Street", "Springfield",
            "https://acme.example/privacy", "help@acme.example", "Choose what you receive"] {
            assert!(text.contains(part), "{part}: {text}");
        }
        let html = &text[text.find("<!doctype html>").expect("an HTML part")..];
        let button = html.find(">Choose what you receive</a>").unwrap();
        let written = html.find(&format!(">{}/p/", app.base())).expect("the link written out");
        assert!(button < written, "the button comes first");
    }

    fn without_a_brand_pages_name_what_they_are(app) {
        app.topics().create();
        let (unsubscribe, _) = links(&app, "a@example.com", "news");
        let page = app.get(&unsubscribe).anonymous().send();
        assert!(page.body.contains("<title>Unsubscribe — Email preferences</title>"), "{}", page.body);
        assert!(page.body.contains("<span class=\"sender\">Email preferences</span>"), "{}", page.body);
        app.get("/brand/logo").anonymous().send().problem(404, "not_found");
    }

    fn every_page_carries_noindex_and_a_save_redirects(app) {
        app.topics().create();
        let (unsubscribe, preferences) = links(&app, "a@example.com", "news");
        for path in [unsubscribe.as_str(), preferences.as_str(), "/u/not-a-token", "/link", &format!("{preferences}/delete")] {
            let page = app.get(path).anonymous().send();
            assert_eq!(page.header("x-robots-tag"), Some("noindex, nofollow"), "{path}");
            assert!(page.body.contains("<meta name=\"robots\" content=\"noindex, nofollow\">"), "{path}");
        }
        // The form posted without JavaScript answers with a redirect: a reload posts nothing.
        let saved = form(&app, &preferences, "shown=news&locale=en");
        assert_eq!(saved.status, 303, "{}", saved.body);
        let location = saved.header("location").unwrap().to_owned();
        assert_eq!(location, format!("{preferences}?saved=1"));
        assert_eq!(saved.header("x-robots-tag"), Some("noindex, nofollow"));
        let after = app.get(&location).anonymous().send();
        assert!(after.body.contains("<p class=\"saved\">Your choices are saved.</p>"), "{}", after.body);
        assert!(!app.get(&preferences).anonymous().send().body.contains("class=\"saved\""));
        assert_eq!(app.reason("a@example.com", "news"), "unsubscribed_topic");
    }

    fn the_landing_page_knows_where_the_recipient_stands(app) {
        app.topics().create();
        app.contact("a@example.com", json!({"locale": "fr"}));
        let (unsubscribe, _) = links(&app, "a@example.com", "news");
        let first = app.get(&unsubscribe).anonymous().send();
        assert_eq!(heading(&first.body), "Désinscription");
        assert!(first.body.contains("Ne plus recevoir les e‑mails «\u{a0}<strong>Lettre d&#39;information</strong>\u{a0}»\u{202f}?"), "{}", first.body);
        let done = form(&app, &unsubscribe, "action=unsubscribe");
        assert_eq!(heading(&done.body), "Désinscription enregistrée");
        assert!(done.body.contains("Votre désinscription est enregistrée\u{a0}: vous ne recevrez plus les e‑mails «\u{a0}<strong>Lettre d&#39;information</strong>\u{a0}»."), "{}", done.body);
        assert!(done.body.contains("value=\"undo\"") && done.body.contains("Annuler la désinscription"));
        // Back later: already unsubscribed, so the page offers to resubscribe.
        let again = app.get(&unsubscribe).anonymous().send();
        assert_eq!(heading(&again.body), "Désinscription déjà enregistrée");
        assert!(again.body.contains("value=\"resubscribe\"") && !again.body.contains("value=\"unsubscribe\""), "{}", again.body);
        let back = form(&app, &unsubscribe, "action=resubscribe");
        assert_eq!(heading(&back.body), "Réinscription enregistrée");
        assert!(back.body.contains("vous recevrez de nouveau les e‑mails «\u{a0}<strong>Lettre d&#39;information</strong>"), "{}", back.body);
        assert_eq!(app.reason("a@example.com", "news"), "subscribed");
        let last = app.events("a@example.com").pop().unwrap();
        assert_eq!((last["source"].as_str(), last["status"].as_str()), (Some("page"), Some("subscribed")));

        // Unsubscribed from everything: a topic's link says so, and does not offer to
        // resubscribe to everything.
        app.contact("all@example.com", json!({"unsubscribed_all": true, "source": "page"}));
        let (topic_link, _) = links(&app, "all@example.com", "news");
        let all = app.get(&topic_link).anonymous().header("accept-language", "en").send();
        assert!(all.body.contains("You no longer receive any promotional email from us."), "{}", all.body);
        assert!(!all.body.contains("value=\"resubscribe\""), "{}", all.body);

        // An erased address: nothing at all is sent, and the page promises nothing.
        app.contact("gone@example.com", json!({}));
        let (erased, _) = links(&app, "gone@example.com", "news");
        assert_eq!(app.delete("/v1/contacts/gone%40example.com").send().status, 204);
        let page = app.get(&erased).anonymous().header("accept-language", "en").send();
        assert_eq!(page.status, 200);
        assert_eq!(heading(&page.body), "Address erased");
        assert!(!page.body.contains("<form") && !page.body.contains("receipts"), "{}", page.body);
        let refused = form(&app, &erased, "List-Unsubscribe=One-Click");
        assert_eq!((refused.status, heading(&refused.body)), (409, "Address erased"));
    }

    fn dead_ends_have_a_title_and_a_way_forward(db: TestDb) {
        let smtp = SmtpServer::start();
        let url = smtp.url.clone();
        let app = TestApp::start_with(db, move |c| c.smtp_url = Some(url.clone()));
        app.topics().create();
        app.contact("known@example.com", json!({"locale": "en"}));
        for (path, title) in [("/u/not-a-token", "Unsubscribe link not valid"), ("/p/not-a-token", "Preferences link not valid"),
            ("/c/not-a-token", "Confirmation link not valid"), ("/d/not-a-token", "Deletion link not valid")] {
            let page = app.get(path).anonymous().header("accept-language", "en").send();
            assert_eq!(page.status, 400, "{path}");
            assert_eq!(heading(&page.body), title, "{path}");
            assert!(page.body.contains("<form method=\"post\" action=\"/link\""), "{path}: {}", page.body);
        }
        let french = app.get("/c/not-a-token").anonymous().header("accept-language", "fr").send();
        assert_eq!(heading(&french.body), "Lien de confirmation non valide");
        // The form mails a fresh link to a known address; the page says the same either way.
        let sent = form(&app, "/link", "email=Known%40Example.com");
        assert_eq!(sent.status, 200, "{}", sent.body);
        assert_eq!(heading(&sent.body), "Check your inbox");
        let unknown = form(&app, "/link", "email=stranger%40example.com");
        assert_eq!(heading(&unknown.body), heading(&sent.body));
        let mail = smtp.wait_for(1).pop().expect("a preference link");
        assert_eq!(mail.to, ["known@example.com"]);
        let fresh = mail.link(app.base(), "/p/").unwrap();
        assert_eq!(reqwest::blocking::get(&fresh).unwrap().status(), 200);
        let wrong = form(&app, "/link", "email=not+an+address");
        assert_eq!(wrong.status, 422);
        assert!(wrong.body.contains("That is not an email address") && wrong.body.contains("action=\"/link\""), "{}", wrong.body);
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert_eq!(smtp.wait_for(1).len(), 1, "nothing mailed to an unknown address");
    }

    /// The policy: an unsubscribe link unsubscribes for as long as its key is accepted,
    /// however old; what resubscribes, and the preference link it offers, need a
    /// link within its validity.
    fn old_unsubscribe_links_still_unsubscribe(db: TestDb) {
        let app = TestApp::start_with(db, |c| c.signing_keys = Some(keys()));
        app.topics().create();
        let contact = app.contact("a@example.com", json!({"locale": "en"}));
        let id = Recipient::Contact(contact["id"].as_str().unwrap().parse().unwrap());
        let expired = format!("/u/{}", signed(id, Audience::Unsubscribe, Some("news"), -86_400));
        let page = app.get(&expired).anonymous().send();
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("value=\"unsubscribe\""), "{}", page.body);
        assert!(!page.body.contains("/p/") && page.body.contains("href=\"/link\""), "no preference link from an old link: {}", page.body);
        let one_click = form(&app, &expired, "List-Unsubscribe=One-Click");
        assert_eq!(one_click.status, 200, "{}", one_click.body);
        assert_eq!(app.reason("a@example.com", "news"), "unsubscribed_topic");
        assert!(!one_click.body.contains("value=\"undo\""), "no undo from an old link: {}", one_click.body);
        // Why, still: it follows the unsubscribe.
        assert_eq!(form(&app, &format!("{expired}/reason"), "reason=too_frequent").status, 200);
        // Undo and resubscribe are consent given again: refused, nothing changes.
        for action in ["undo", "resubscribe"] {
            let refused = form(&app, &expired, &format!("action={action}"));
            assert_eq!(refused.status, 410, "{}", refused.body);
            assert_eq!(heading(&refused.body), "Unsubscribe link expired");
        }
        assert_eq!(app.reason("a@example.com", "news"), "unsubscribed_topic");
        // Other links expire as they always did.
        let old_preferences = format!("/p/{}", signed(id, Audience::Preferences, None, -1));
        assert_eq!(app.get(&old_preferences).anonymous().send().status, 410);
        let old_erasure = format!("/d/{}", signed(id, Audience::Erase, None, -1));
        assert_eq!(form(&app, &old_erasure, "").status, 410);
        assert_eq!(app.get("/v1/contacts/a%40example.com").send().status, 200);
        // A fresh link undoes.
        let fresh = format!("/u/{}", signed(id, Audience::Unsubscribe, Some("news"), 86_400));
        assert_eq!(form(&app, &fresh, "action=undo").status, 200);
        assert_eq!(app.reason("a@example.com", "news"), "subscribed");
    }

    fn the_preference_page_says_what_waits_and_what_is_off(app) {
        app.topics().create();
        app.contact("a@example.com", json!({"locale": "en", "subscriptions": {"offers": "pending"}}));
        let (_, preferences) = links(&app, "a@example.com", "news");
        let page = app.get(&preferences).anonymous().send().body;
        assert!(page.contains("<p class=\"pending\" id=\"p-offers\">"), "{page}");
        assert!(page.contains("aria-describedby=\"p-offers\""), "{page}");
        // Transactional mail is text, not a disabled box a keyboard skips.
        assert!(!page.contains("data-topic=\"receipts\""), "{page}");
        assert!(page.contains("<span class=\"name\">Receipts") || page.contains("<span class=\"name\">RECEIPTS"), "{page}");
        // "Unsubscribe from all" greys the topics out, and their statuses stay as they are.
        let saved = form(&app, &preferences, "unsubscribed_all=on&locale=en");
        assert_eq!(saved.status, 303);
        let page = app.get(&preferences).anonymous().send().body;
        assert!(page.contains("class=\"topics off\"") && page.contains("disabled aria-describedby=\"all-note\""), "{page}");
        assert!(!page.contains("name=\"shown\""), "greyed topics are not posted: {page}");
        // Posting that form as it is (no topic boxes) changes no topic.
        let before = app.events("a@example.com").len();
        assert_eq!(form(&app, &preferences, "unsubscribed_all=on&locale=en").status, 303);
        assert_eq!(app.events("a@example.com").len(), before);
        assert_eq!(app.get("/v1/contacts/a%40example.com").send().json()["subscriptions"], json!({"offers": "pending"}));
    }

    fn confirmation_pages_and_mails_name_topics_in_the_recipients_language(db: TestDb) {
        let smtp = SmtpServer::start();
        let url = smtp.url.clone();
        let app = TestApp::start_with(db, move |c| c.smtp_url = Some(url.clone()));
        app.topics().create();
        let reply = app.post("/v1/subscribe").anonymous()
            .json(json!({"email": "new@example.com", "topics": ["news"], "locale": "fr"})).send();
        assert_eq!(reply.status, 202, "{}", reply.body);
        let mail = smtp.wait_for(1).pop().unwrap();
        assert!(mail.body().contains("- Lettre d'information"), "{}", mail.body());
        assert!(mail.body().contains("<li>Lettre d&#39;information</li>"), "{}", mail.body());
        let confirm = mail.link(app.base(), "/c/").unwrap().trim_start_matches(app.base()).to_owned();
        let page = app.get(&confirm).anonymous().send().body;
        assert!(page.contains("<li>Lettre d&#39;information</li>"), "{page}");
        assert!(page.contains("Souhaitez-vous recevoir\u{a0}:"), "{page}");
    }
}
