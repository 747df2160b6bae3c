//! A real browser: headless Chromium, driven through ChromeDriver's W3C WebDriver API
//! (and, for what WebDriver cannot say, Chrome's DevTools commands through the driver).
//! Tests use pages as a person would, look at them in the four ways people see them
//! (desktop and phone, light and dark), check each with axe-core, and save a
//! screenshot of each into `test-output/`.
//!
//! Debian's `chromium` and `chromium-driver` are needed. Without them
//! [`Browser::start`] says so loudly and returns `None`; with
//! `PREFCENTER_REQUIRE_BROWSER` set (CI sets it) it panics instead.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::blocking::Client;
use serde_json::{json, Value};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// axe-core, vendored (MPL-2.0, its licence in `tests/vendor/`): the accessibility
/// rules the pages are held to, injected into each page under test.
const AXE: &str = include_str!("../../vendor/axe-4.14.1.min.js");

/// How wide the screen is and which colour scheme the person prefers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View {
    pub phone: bool,
    pub dark: bool,
}

impl View {
    pub const DESKTOP: View = View { phone: false, dark: false };
    /// Every way a page is looked at: desktop 1280×900 and phone 390×844, light and dark.
    pub const ALL: [View; 4] = [
        View { phone: false, dark: false },
        View { phone: false, dark: true },
        View { phone: true, dark: false },
        View { phone: true, dark: true },
    ];

    fn suffix(self) -> &'static str {
        match (self.phone, self.dark) {
            (false, false) => "desktop-light",
            (false, true) => "desktop-dark",
            (true, false) => "phone-light",
            (true, true) => "phone-dark",
        }
    }
}

pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub fn start() -> Option<Self> {
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
        // The flags keep Chromium from reaching out to the network on its own: this
        // machine's network is closed, and tests must not depend on it.
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
            "--hide-scrollbars".into(),
            "--window-size=1280,900".into(),
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
        let browser = Self { driver, base, session, http, _profile: profile };
        browser.view(View::DESKTOP);
        Some(browser)
    }

    /// One WebDriver command; `Err` with the driver's answer when it refused.
    pub fn try_call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value, Value> {
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

    pub fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body).unwrap_or_else(|reply| panic!("{path}: {reply}"))
    }

    /// A Chrome DevTools command, through the driver.
    pub fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.call(reqwest::Method::POST, "/goog/cdp/execute", Some(json!({"cmd": cmd, "params": params})))
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page.
    pub fn execute(&self, script: &str, args: Value) -> Value {
        self.call(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": args})))
    }

    /// Runs `script` in the page and waits for it to call its last argument.
    pub fn execute_async(&self, script: &str, args: Value) -> Value {
        self.call(reqwest::Method::POST, "/execute/async", Some(json!({"script": script, "args": args})))
    }

    /// An element's text, or `None` while the page is being replaced.
    pub fn try_text(&self, css: &str) -> Option<String> {
        let found = self
            .try_call(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css})))
            .ok()?;
        let id = found[ELEMENT].as_str()?.to_owned();
        let text = self.try_call(reqwest::Method::GET, &format!("/element/{id}/text"), None).ok()?;
        text.as_str().map(str::to_owned)
    }

    pub fn open(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})));
    }

    /// The current page's URL.
    pub fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None).as_str().unwrap_or_default().to_owned()
    }

    pub fn find(&self, css: &str) -> String {
        let found = self.call(
            reqwest::Method::POST,
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        found[ELEMENT].as_str().unwrap().to_owned()
    }

    /// How many elements match `css`.
    pub fn count(&self, css: &str) -> usize {
        self.call(reqwest::Method::POST, "/elements", Some(json!({"using": "css selector", "value": css})))
            .as_array()
            .map_or(0, Vec::len)
    }

    pub fn click(&self, css: &str) {
        let id = self.find(css);
        self.call(reqwest::Method::POST, &format!("/element/{id}/click"), Some(json!({})));
    }

    /// Types `text` into the field `css` (focused first), as a person would.
    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.call(reqwest::Method::POST, &format!("/element/{id}/click"), Some(json!({})));
        self.call(reqwest::Method::POST, &format!("/element/{id}/value"), Some(json!({"text": text})));
    }

    /// Chooses the option with `value` of the `<select>` at `css`.
    pub fn select(&self, css: &str, value: &str) {
        self.click(&format!("{css} option[value=\"{value}\"]"));
    }

    /// Presses keys on whatever has the focus: WebDriver's key codes, e.g. `"\u{E004}"`
    /// for Tab, `"\u{E007}"` for Enter, `" "` for Space.
    pub fn press(&self, keys: &str) {
        let mut actions = Vec::new();
        for key in keys.chars() {
            actions.push(json!({"type": "keyDown", "value": key.to_string()}));
            actions.push(json!({"type": "keyUp", "value": key.to_string()}));
        }
        self.call(
            reqwest::Method::POST,
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        );
        self.call(reqwest::Method::DELETE, "/actions", None);
    }

    /// The `id` of the element that has the focus ("" for none).
    pub fn focused(&self) -> String {
        self.execute("return document.activeElement ? document.activeElement.id : '';", json!([]))
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The languages the browser asks pages in (`Accept-Language`), from now on.
    pub fn languages(&self, accept: &str) {
        let agent = self.execute("return navigator.userAgent;", json!([]));
        self.cdp(
            "Network.setUserAgentOverride",
            json!({"userAgent": agent.as_str().unwrap_or_default(), "acceptLanguage": accept}),
        );
    }

    pub fn property(&self, css: &str, name: &str) -> Value {
        let id = self.find(css);
        self.call(reqwest::Method::GET, &format!("/element/{id}/property/{name}"), None)
    }

    pub fn attribute(&self, css: &str, name: &str) -> Value {
        let id = self.find(css);
        self.call(reqwest::Method::GET, &format!("/element/{id}/attribute/{name}"), None)
    }

    pub fn text(&self, css: &str) -> String {
        let id = self.find(css);
        self.call(reqwest::Method::GET, &format!("/element/{id}/text"), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn wait_until(&self, what: &str, check: impl Fn(&Self) -> bool) {
        let started = Instant::now();
        while !check(self) {
            assert!(started.elapsed() < Duration::from_secs(10), "waited in vain for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Shows pages as `view` says from now on: the viewport's size (a phone's is a
    /// mobile viewport, so the pages' `viewport` meta applies) and the colour scheme
    /// the person prefers.
    pub fn view(&self, view: View) {
        let (width, height) = if view.phone { (390, 844) } else { (1280, 900) };
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": view.phone}),
        );
        let scheme = if view.dark { "dark" } else { "light" };
        self.cdp(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": scheme}]}),
        );
    }

    /// Saves the whole page, not only what fits the viewport, as `test-output/NAME.png`.
    pub fn screenshot(&self, name: &str) {
        let shot =
            self.cdp("Page.captureScreenshot", json!({"format": "png", "captureBeyondViewport": true}));
        let bytes = base64::engine::general_purpose::STANDARD.decode(shot["data"].as_str().unwrap()).unwrap();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test-output");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), bytes).unwrap();
    }

    /// What axe-core finds on the page as it is now, at the `serious` and `critical`
    /// impacts: each as "rule: what is wrong (where)".
    pub fn accessibility_faults(&self) -> Vec<String> {
        // Injected through WebDriver, so the page's own Content-Security-Policy, which
        // forbids any script but its own, does not stop it; once a page (half a megabyte
        // to parse: looking in four views is four runs, not four injections).
        if self.execute("return typeof axe === 'undefined';", json!([])) == json!(true) {
            self.execute(AXE, json!([]));
        }
        let results = self.execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, {resultTypes: ['violations']})
                .then(r => done(r.violations), e => done([{id: 'axe-error', impact: 'critical',
                    help: String(e), nodes: []}]));",
            json!([]),
        );
        results
            .as_array()
            .unwrap_or_else(|| panic!("axe answered {results}"))
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .map(|v| {
                let targets: Vec<String> =
                    v["nodes"].as_array().into_iter().flatten().map(|n| n["target"].to_string()).collect();
                format!("{}: {} ({})", v["id"].as_str().unwrap_or("?"), v["help"], targets.join(", "))
            })
            .collect()
    }

    /// Looks at the page in every [`View`]: axe-core must find nothing serious or
    /// critical in any of them, and each is saved as `test-output/NAME-<view>.png`.
    /// Ends back in the desktop, light view.
    pub fn look(&self, name: &str) {
        for view in View::ALL {
            self.view(view);
            let faults = self.accessibility_faults();
            assert!(faults.is_empty(), "{name} ({}): axe-core found\n{}", view.suffix(), faults.join("\n"));
            self.screenshot(&format!("{name}-{}", view.suffix()));
        }
        self.view(View::DESKTOP);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.http.delete(format!("{}/session/{}", self.base, self.session)).send();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
