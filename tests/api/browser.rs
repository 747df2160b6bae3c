//! A real browser: headless Chromium, driven through ChromeDriver's W3C WebDriver API,
//! uses the preference page and the unsubscribe page as a person would, and takes a
//! screenshot of each page in both languages into `test-output/`.
//!
//! Debian's `chromium` and `chromium-driver` are needed. Without them the tests say so
//! loudly and stop; with `PREFCENTER_REQUIRE_BROWSER` set (CI sets it) they fail.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::blocking::Client;
use serde_json::{json, Value};

use crate::support::{each_backend, TestApp};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start() -> Option<Self> {
        let found =
            ["/usr/bin/chromedriver", "/usr/bin/chromium"].iter().all(|p| std::path::Path::new(p).exists());
        if !found {
            if std::env::var_os("PREFCENTER_REQUIRE_BROWSER").is_some() {
                panic!("PREFCENTER_REQUIRE_BROWSER is set but chromium or chromedriver is missing");
            }
            eprintln!("\n*** BROWSER TESTS SKIPPED: install Debian's chromium and chromium-driver to run them ***\n");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let http = Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
        let started = Instant::now();
        while http.get(format!("{base}/status")).send().is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--window-size=820,900".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args}}}});
        let session: Value =
            http.post(format!("{base}/session")).json(&capabilities).send().unwrap().json().unwrap();
        let session = session["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {session}"))
            .to_owned();
        Some(Self { driver, base, session, http, _profile: profile })
    }

    /// One WebDriver command; `Err` with the driver's answer when it refused.
    fn try_call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value, Value> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply: Value = request.send().unwrap().json().unwrap();
        match reply["value"].get("error") {
            Some(_) => Err(reply),
            None => Ok(reply["value"].clone()),
        }
    }

    fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body).unwrap_or_else(|reply| panic!("{path}: {reply}"))
    }

    /// An element's text, or `None` while the page is being replaced.
    fn try_text(&self, css: &str) -> Option<String> {
        let found = self
            .try_call(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css})))
            .ok()?;
        let id = found[ELEMENT].as_str()?.to_owned();
        let text = self.try_call(reqwest::Method::GET, &format!("/element/{id}/text"), None).ok()?;
        text.as_str().map(str::to_owned)
    }

    fn open(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})));
    }

    fn find(&self, css: &str) -> String {
        let found = self.call(
            reqwest::Method::POST,
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        found[ELEMENT].as_str().unwrap().to_owned()
    }

    fn click(&self, css: &str) {
        let id = self.find(css);
        self.call(reqwest::Method::POST, &format!("/element/{id}/click"), Some(json!({})));
    }

    fn property(&self, css: &str, name: &str) -> Value {
        let id = self.find(css);
        self.call(reqwest::Method::GET, &format!("/element/{id}/property/{name}"), None)
    }

    fn text(&self, css: &str) -> String {
        let id = self.find(css);
        self.call(reqwest::Method::GET, &format!("/element/{id}/text"), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn wait_until(&self, what: &str, check: impl Fn(&Self) -> bool) {
        let started = Instant::now();
        while !check(self) {
            assert!(started.elapsed() < Duration::from_secs(10), "waited in vain for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn screenshot(&self, name: &str) {
        let png = self.call(reqwest::Method::GET, "/screenshot", None);
        let bytes = base64::engine::general_purpose::STANDARD.decode(png.as_str().unwrap()).unwrap();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test-output");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), bytes).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.http.delete(format!("{}/session/{}", self.base, self.session)).send();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

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
            browser.screenshot(&format!("preferences-{locale}"));
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
            browser.screenshot(&format!("unsubscribe-{locale}"));
            assert_eq!(app.reason(email, "news"), "default_subscribed", "opening the page changes nothing");
            browser.click("button[type=submit]");
            let expected = if locale == "fr" { "Vous êtes désinscrit" } else { "You are unsubscribed" };
            browser.wait_until("the confirmation", |b| b.try_text("h1").as_deref() == Some(expected));
            browser.screenshot(&format!("unsubscribed-{locale}"));
            assert_eq!(app.reason(email, "news"), "unsubscribed_topic");
        }
    }
}
