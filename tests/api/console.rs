//! The operators' console over HTTP: logging in (and the cookie's flags), sessions
//! that end on logout and on `operator disable`, CSRF tokens, roles, the login rate
//! limit, and a contact found, read, changed and erased — each change an event with
//! source `console` and the operator. The browser's view of the same pages is in
//! `console_browser.rs`.

use prefcenter::domain::Role;
use reqwest::blocking::Client;
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{each_backend, encode, wait_until_ready, Reply, Served, TestApp};

pub const PASSWORD: &str = "correct horse battery staple";

/// Creates an operator straight in the database (the command line has its own tests).
pub fn operator(app: &TestApp, email: &str, role: Role) {
    let mut db = app.pool.get().expect("a connection");
    prefcenter::service::operators::create_on(&mut db, email, role, PASSWORD).expect("an operator");
}

/// A browser's side of a console session: its cookie and the session's CSRF token.
pub struct Console<'a> {
    app: &'a TestApp,
    http: Client,
    pub cookie: String,
    pub csrf: String,
}

fn client() -> Client {
    Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn reply(response: reqwest::blocking::Response) -> Reply {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().unwrap();
    Reply { status, headers, body }
}

/// Posts the login form.
pub fn post_login(app: &TestApp, email: &str, password: &str) -> Reply {
    let body = format!("email={}&password={}", encode(email), encode(password));
    reply(
        client()
            .post(format!("{}/console/login", app.base()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .unwrap(),
    )
}

/// The `name="csrf"` value in a page.
fn csrf_in(page: &str) -> Option<String> {
    let start = page.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    Some(page[start..].split('"').next()?.to_owned())
}

impl<'a> Console<'a> {
    pub fn login(app: &'a TestApp, email: &str) -> Self {
        let login = post_login(app, email, PASSWORD);
        assert_eq!(login.status, 303, "{}", login.body);
        let set = login.header("set-cookie").expect("a session cookie").to_owned();
        let cookie = set.split(';').next().unwrap().strip_prefix("pc_session=").unwrap().to_owned();
        let mut console = Console { app, http: client(), cookie, csrf: String::new() };
        let dashboard = console.get("/console/");
        assert_eq!(dashboard.status, 200, "{}", dashboard.body);
        console.csrf = csrf_in(&dashboard.body).expect("the header's forms carry the token");
        console
    }

    pub fn get(&self, path: &str) -> Reply {
        self.request(Method::GET, path, None)
    }

    /// Posts `fields` as a form, with this session's CSRF token.
    pub fn post(&self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all)
    }

    /// Posts exactly `fields` (no token added).
    pub fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let body: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        self.request(Method::POST, path, Some(body))
    }

    fn request(&self, method: Method, path: &str, body: Option<String>) -> Reply {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.app.base()))
            .header("cookie", format!("pc_session={}", self.cookie));
        if let Some(body) = body {
            request = request.header("content-type", "application/x-www-form-urlencoded").body(body);
        }
        reply(request.send().unwrap())
    }
}

fn assert_to_login(reply: &Reply) {
    assert_eq!(reply.status, 303, "{}", reply.body);
    assert_eq!(reply.header("location"), Some("/console/login"));
}

/// A contact with a history: opted in to `offers`, then unsubscribed from it on the
/// preference page (a recipient's own choice).
fn seeded(app: &TestApp) -> String {
    app.topics().create();
    let created = app.contact(
        "ada@example.com",
        json!({"external_id": "crm-7", "subscriptions": {"offers": "subscribed"}, "message_id": "m-1"}),
    );
    let id = created["id"].as_str().unwrap().to_owned();
    let reply = app
        .put("/v1/contacts/ada%40example.com/subscriptions/offers")
        .json(json!({"status": "unsubscribed", "source": "page"}))
        .send();
    assert_eq!(reply.status, 200, "{}", reply.body);
    id
}

fn last_change(app: &TestApp) -> Value {
    let changes = app.get("/v1/changes?limit=10000").send().json();
    changes["events"].as_array().unwrap().last().unwrap().clone()
}

each_backend! {
    fn the_console_needs_a_session_and_its_cookie_is_strict(app) {
        operator(&app, "admin@example.org", Role::Admin);
        let anonymous = client();
        for path in ["/console/", "/console", "/console/contacts", "/console/audit", "/console/no-such-page"] {
            assert_to_login(&reply(anonymous.get(format!("{}{path}", app.base())).send().unwrap()));
        }
        let forged = reply(anonymous.get(format!("{}/console/", app.base())).header("cookie", "pc_session=forged").send().unwrap());
        assert_to_login(&forged);

        let login_page = reply(anonymous.get(format!("{}/console/login", app.base())).send().unwrap());
        assert_eq!(login_page.status, 200);
        for (name, value) in [
            ("cache-control", "no-store"),
            ("referrer-policy", "no-referrer"),
            ("x-frame-options", "DENY"),
        ] {
            assert_eq!(login_page.header(name), Some(value), "{name}");
        }
        let csp = login_page.header("content-security-policy").unwrap();
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"), "{csp}");

        // The same answer for a wrong password, an unknown address and a bad address.
        let wrong = post_login(&app, "admin@example.org", "not the password at all");
        let unknown = post_login(&app, "nobody@example.org", PASSWORD);
        let junk = post_login(&app, "not an address", PASSWORD);
        for refused in [&wrong, &unknown, &junk] {
            assert_eq!(refused.status, 401, "{}", refused.body);
            assert!(refused.body.contains("do not match an operator’s"), "{}", refused.body);
            assert!(refused.header("set-cookie").is_none());
        }

        let login = post_login(&app, "Admin@Example.org", PASSWORD);
        assert_eq!(login.status, 303, "{}", login.body);
        assert_eq!(login.header("location"), Some("/console/"));
        let cookie = login.header("set-cookie").unwrap();
        let flags: Vec<&str> = cookie.split(';').map(str::trim).collect();
        assert!(flags[0].starts_with("pc_session=") && flags[0].len() > 40, "{cookie}");
        for flag in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
            assert!(flags.contains(&flag), "{flag} in {cookie}");
        }
        assert!(!flags.contains(&"Secure"), "http base URL: no Secure flag ({cookie})");

        let console = Console::login(&app, "admin@example.org");
        let dashboard = console.get("/console/");
        assert!(dashboard.body.contains("admin@example.org"), "{}", dashboard.body);
        assert_eq!(dashboard.header("x-frame-options"), Some("DENY"));
        assert_eq!(console.get("/console/no-such-page").status, 404);
    }

    fn the_cookie_is_secure_on_an_https_base_url(app) with https_base {
        operator(&app, "admin@example.org", Role::Admin);
        let login = post_login(&app, "admin@example.org", PASSWORD);
        assert_eq!(login.status, 303, "{}", login.body);
        let cookie = login.header("set-cookie").unwrap();
        assert!(cookie.split(';').any(|f| f.trim() == "Secure"), "{cookie}");
    }

    fn an_operator_finds_a_contact_and_reads_its_history(app) {
        operator(&app, "viewer@example.org", Role::Viewer);
        let id = seeded(&app);
        let console = Console::login(&app, "viewer@example.org");
        for q in ["ada@example.com", " ADA@example.com ", "crm-7", id.as_str()] {
            let found = console.get(&format!("/console/contacts?q={}", encode(q)));
            assert_eq!(found.status, 200);
            assert!(found.body.contains(&format!("href=\"/console/contacts/{id}\"")), "{q}: {}", found.body);
        }
        let none = console.get("/console/contacts?q=nobody%40example.com");
        assert!(none.body.contains("id=\"no-contact\""), "{}", none.body);

        let page = console.get(&format!("/console/contacts/{id}"));
        assert_eq!(page.status, 200, "{}", page.body);
        let timeline = &page.body[page.body.find("id=\"timeline\"").unwrap()..];
        assert!(timeline.contains("subscription changed · offers · subscribed → unsubscribed"), "{timeline}");
        assert!(timeline.contains("m-1"), "the message id: {timeline}");
        assert!(timeline.contains("<td>preference page</td>") && timeline.contains("<td>API</td>"), "{timeline}");
        assert!(console.get("/console/contacts/not-an-id").status == 404);

        let export = console.get(&format!("/console/contacts/{id}/export"));
        assert_eq!(export.status, 200);
        assert!(export.header("content-disposition").unwrap().starts_with("attachment"));
        let api = app.get(&format!("/v1/contacts/{id}/export")).send().json();
        let mut ours: Value = serde_json::from_str(&export.body).unwrap();
        ours["exported_at"] = api["exported_at"].clone();
        assert_eq!(ours, api, "the same document as the API's export");
    }

    fn the_dashboard_draws_the_ledger_with_the_numbers_behind(app) {
        operator(&app, "viewer@example.org", Role::Viewer);
        seeded(&app);
        let console = Console::login(&app, "viewer@example.org");
        let page = console.get("/console/");
        assert_eq!(page.status, 200, "{}", page.body);
        // Seven pictures of everything, and two a topic (three, and all promotional mail).
        assert_eq!(page.body.matches("<svg").count(), 7 + 2 * 4, "{}", page.body);
        assert_eq!(page.body.matches("role=\"img\"").count(), 7 + 2 * 4);
        let table = |id: &str| -> String {
            let start = page.body.find(&format!("id=\"{id}-table\"")).unwrap_or_else(|| panic!("{id}"));
            page.body[start..].split("</table>").next().unwrap().to_owned()
        };
        let unsubscribes = table("unsubscribes");
        assert!(unsubscribes.contains("<th scope=\"col\">preference page</th>"), "{unsubscribes}");
        assert!(unsubscribes.contains("<td>1</td><td>1</td></tr></tbody>"), "today: one, by the page: {unsubscribes}");
        let subscribes = table("subscribes");
        assert!(subscribes.contains("<th scope=\"col\">API</th>") && subscribes.contains("<td>1</td><td>1</td></tr></tbody>"), "{subscribes}");
        assert!(page.body.matches("<tr><th scope=\"row\">").count() >= 30, "a row a day");
        assert!(page.body.contains("id=\"total-contacts\">1<"), "one contact");
        assert!(console.get("/console/?days=90").body.matches("<tr><th scope=\"row\">").count() >= 90);
    }

    fn an_admin_erases_a_contact_through_the_confirmation(app) {
        operator(&app, "admin@example.org", Role::Admin);
        let id = seeded(&app);
        let console = Console::login(&app, "admin@example.org");
        let page = console.get(&format!("/console/contacts/{id}"));
        assert!(page.body.contains("id=\"erase\""), "an admin has the control");
        let confirm = console.get(&format!("/console/contacts/{id}/erase"));
        assert_eq!(confirm.status, 200);
        assert!(confirm.body.contains("ada@example.com"), "the confirmation names the address");

        // Without the token, or unconfirmed: refused, nothing changed.
        let path = format!("/console/contacts/{id}/erase");
        assert_eq!(console.post_raw(&path, &[("confirm", "yes")]).status, 403);
        assert_eq!(console.post(&path, &[]).status, 422);
        assert_eq!(app.get(&format!("/v1/contacts/{id}")).send().status, 200);

        let erased = console.post(&path, &[("confirm", "yes")]);
        assert_eq!(erased.status, 303, "{}", erased.body);
        let after = erased.header("location").unwrap().to_owned();
        assert_eq!(after, "/console/contacts?q=ada%40example.com&erased=1");
        let shown = console.get(&after);
        assert!(shown.body.contains("id=\"erased\"") && shown.body.contains("id=\"no-contact\""), "{}", shown.body);
        assert!(shown.body.contains("<td>erasure</td>"), "the erasure suppression, at once: {}", shown.body);

        assert_eq!(app.reason("ada@example.com", "offers"), "suppressed:erasure");
        let change = last_change(&app);
        assert_eq!(change["type"], "suppression_added");
        assert_eq!(change["source"], "console");
        assert_eq!(change["operator"], "admin@example.org");
        let audit = console.get("/console/audit");
        assert!(audit.body.contains("contact erased") && audit.body.contains("admin@example.org"), "{}", audit.body);
    }

    fn a_viewer_cannot_erase_nor_change(app) {
        operator(&app, "viewer@example.org", Role::Viewer);
        let id = seeded(&app);
        let console = Console::login(&app, "viewer@example.org");
        let page = console.get(&format!("/console/contacts/{id}"));
        assert!(!page.body.contains("id=\"erase\"") && !page.body.contains("id=\"status-form\""), "no controls");
        assert_eq!(console.get(&format!("/console/contacts/{id}/erase")).status, 403);
        let before = app.events(&id).len();
        let forged = console.post(&format!("/console/contacts/{id}/erase"), &[("confirm", "yes")]);
        assert_eq!(forged.status, 403, "{}", forged.body);
        let status = console.post(&format!("/console/contacts/{id}/status"), &[("topic", "news"), ("status", "unsubscribed")]);
        assert_eq!(status.status, 403);
        assert_eq!(app.events(&id).len(), before, "nothing changed");
        assert_eq!(app.reason("ada@example.com", "news"), "default_subscribed");
    }

    fn a_form_needs_its_own_sessions_token(app) {
        operator(&app, "editor@example.org", Role::Editor);
        operator(&app, "other@example.org", Role::Editor);
        let id = seeded(&app);
        let mine = Console::login(&app, "editor@example.org");
        let other = Console::login(&app, "other@example.org");
        let path = format!("/console/contacts/{id}/status");
        let fields = [("topic", "news"), ("status", "unsubscribed")];
        let before = app.events(&id).len();
        assert_eq!(mine.post_raw(&path, &fields).status, 403, "without a token");
        let mut with_others = vec![("csrf", other.csrf.as_str())];
        with_others.extend_from_slice(&fields);
        assert_eq!(mine.post_raw(&path, &with_others).status, 403, "with another session's token");
        assert_eq!(app.events(&id).len(), before, "nothing changed");

        let done = mine.post(&path, &fields);
        assert_eq!(done.status, 303, "{}", done.body);
        assert_eq!(app.reason("ada@example.com", "news"), "unsubscribed_topic");
        let event = app.events(&id).last().unwrap().clone();
        assert_eq!((event["source"].as_str(), event["operator"].as_str()), (Some("console"), Some("editor@example.org")));
    }

    fn re_subscribing_someone_who_left_needs_a_consent_note(app) {
        operator(&app, "editor@example.org", Role::Editor);
        let id = seeded(&app);
        let console = Console::login(&app, "editor@example.org");
        let path = format!("/console/contacts/{id}/status");
        let refused = console.post(&path, &[("topic", "offers"), ("status", "subscribed")]);
        assert_eq!(refused.status, 409, "{}", refused.body);
        assert_eq!(app.reason("ada@example.com", "offers"), "unsubscribed_topic");
        let done = console.post(&path, &[("topic", "offers"), ("status", "subscribed"), ("consent", "asked by phone, ticket 88")]);
        assert_eq!(done.status, 303, "{}", done.body);
        assert_eq!(app.reason("ada@example.com", "offers"), "subscribed");
        let page = console.get(&format!("/console/contacts/{id}"));
        assert!(page.body.contains("asked by phone, ticket 88") && page.body.contains("(editor@example.org)"), "{}", page.body);

        let corrected = console.post(&format!("/console/contacts/{id}/address"), &[("email", "ada.l@example.com")]);
        assert_eq!(corrected.status, 303, "{}", corrected.body);
        let contact = app.get(&format!("/v1/contacts/{id}")).send().json();
        assert_eq!(contact["email"], "ada.l@example.com");
        assert_eq!(last_change(&app)["operator"], "editor@example.org");
    }

    fn logout_and_disable_end_the_session(app) {
        operator(&app, "admin@example.org", Role::Admin);
        let first = Console::login(&app, "admin@example.org");
        let second = Console::login(&app, "admin@example.org");
        assert_eq!(first.post_raw("/console/logout", &[]).status, 403, "logging out takes the token too");
        let out = first.post("/console/logout", &[]);
        assert_eq!(out.status, 303);
        assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
        assert_to_login(&first.get("/console/"));
        assert_eq!(second.get("/console/").status, 200, "another session goes on");

        let output = std::process::Command::new(env!("CARGO_BIN_EXE_prefcenter"))
            .args(["operator", "disable", "admin@example.org"])
            .env("PREFCENTER_DATABASE_URL", app.db.url())
            .env("PREFCENTER_LOG", "warn")
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        assert_to_login(&second.get("/console/"));
        assert_eq!(post_login(&app, "admin@example.org", PASSWORD).status, 401, "a disabled operator cannot log in");
    }

    fn logins_are_rate_limited_with_a_back_off(app) {
        operator(&app, "admin@example.org", Role::Admin);
        for _ in 0..5 {
            assert_eq!(post_login(&app, "admin@example.org", "a wrong password!").status, 401);
        }
        // Now even the right password waits; the page says when to come back.
        let throttled = post_login(&app, "admin@example.org", PASSWORD);
        assert_eq!(throttled.status, 429, "{}", throttled.body);
        assert!(throttled.header("retry-after").is_some_and(|s| s.parse::<u64>().is_ok()));
        assert!(throttled.header("set-cookie").is_none());
        // Another operator's address from the same network still logs in.
        operator(&app, "editor@example.org", Role::Editor);
        assert_eq!(post_login(&app, "editor@example.org", PASSWORD).status, 303);
    }

    fn the_language_is_the_operators_choice(app) {
        operator(&app, "admin@example.org", Role::Admin);
        let console = Console::login(&app, "admin@example.org");
        assert!(console.get("/console/").body.contains("<html lang=\"en\">"));
        let switched = console.post("/console/language", &[("lang", "fr"), ("back", "/console/audit")]);
        assert_eq!(switched.header("location"), Some("/console/audit"));
        let page = console.get("/console/audit");
        assert!(page.body.contains("<html lang=\"fr\">") && page.body.contains("Journal"), "{}", page.body);
        let elsewhere = console.post("/console/language", &[("lang", "en"), ("back", "https://evil.example/")]);
        assert_eq!(elsewhere.header("location"), Some("/console/"));
    }
}

each_backend! {
    fn editors_manage_topics_and_suppressions(app) {
        operator(&app, "editor@example.org", Role::Editor);
        operator(&app, "viewer@example.org", Role::Viewer);
        app.topics().create();
        let editor = Console::login(&app, "editor@example.org");
        let created = editor.post("/console/topics", &[
            ("key", "events"), ("name", "Events"), ("description", "Readings near you"), ("frequency", "monthly"),
            ("category", "promotional"), ("public", "yes"), ("fr_name", "Rencontres"), ("fr_description", "Des lectures"),
        ]);
        assert_eq!(created.status, 303, "{}", created.body);
        let topic = app.get("/v1/topics/events").send().json();
        assert_eq!((topic["name"].as_str(), topic["default_subscribed"].as_bool(), topic["public"].as_bool()), (Some("Events"), Some(false), Some(true)));
        assert_eq!(topic["translations"]["fr"]["name"], "Rencontres");
        assert_eq!(editor.get("/console/topics/events").status, 200);
        let reply = app.patch("/v1/topics/events").json(json!({"translations": {"fr": {"name": "Rencontres"}, "de": {"name": "Lesungen"}}})).send();
        assert_eq!(reply.status, 200, "{}", reply.body);
        let edited = editor.post("/console/topics/events", &[("name", "Readings"), ("category", "promotional"), ("default_subscribed", "yes"), ("fr_name", "Lectures")]);
        assert_eq!(edited.status, 303, "{}", edited.body);
        let topic = app.get("/v1/topics/events").send().json();
        assert_eq!((topic["name"].as_str(), topic["default_subscribed"].as_bool(), topic["public"].as_bool()), (Some("Readings"), Some(true), Some(false)));
        assert_eq!((topic["translations"]["fr"]["name"].as_str(), topic["translations"]["de"]["name"].as_str()), (Some("Lectures"), Some("Lesungen")), "other languages kept");
        let order = |app: &TestApp| -> Vec<String> {
            app.get("/v1/topics").send().json().as_array().unwrap().iter().map(|t| t["key"].as_str().unwrap().to_owned()).collect()
        };
        let before = order(&app);
        let last = before.last().unwrap().clone();
        assert_eq!(editor.post(&format!("/console/topics/{last}/move"), &[("to", "up")]).status, 303);
        let after = order(&app);
        assert_eq!(after[after.len() - 2], last, "{before:?} → {after:?}");
        assert_eq!(editor.post("/console/topics/events/archive", &[("archived", "yes")]).status, 303);
        assert!(app.get("/v1/topics/events").send().json()["archived_at"].is_string());
        assert_eq!(editor.post("/console/topics/events/archive", &[("archived", "no")]).status, 303);
        assert!(app.get("/v1/topics/events").send().json()["archived_at"].is_null());
        assert_eq!(last_change(&app)["source"], "console");

        let added = editor.post("/console/suppressions", &[("email", "Bounced@Example.com"), ("reason", "hard_bounce"), ("note", "mailbox gone")]);
        assert_eq!(added.status, 303, "{}", added.body);
        assert_eq!(app.reason("bounced@example.com", "news"), "suppressed:hard_bounce");
        let held = app.get("/v1/suppressions/bounced%40example.com").send().json();
        assert_eq!((held["source"].as_str(), held["note"].as_str()), (Some("console"), Some("mailbox gone")));
        let page = editor.get("/console/suppressions?q=bounced%40example.com");
        assert!(page.body.contains("id=\"lift\"") && page.body.contains("mailbox gone"), "{}", page.body);
        let lifted = editor.post("/console/suppressions/lift", &[("email", "bounced@example.com"), ("note", "address fixed, ticket 12")]);
        assert_eq!(lifted.status, 303, "{}", lifted.body);
        assert_eq!(app.reason("bounced@example.com", "news"), "default_subscribed");
        let change = last_change(&app);
        assert_eq!((change["type"].as_str(), change["operator"].as_str()), (Some("suppression_removed"), Some("editor@example.org")));

        // A viewer sees, and cannot change.
        let viewer = Console::login(&app, "viewer@example.org");
        for path in ["/console/topics", "/console/suppressions", "/console/api-keys", "/console/webhooks"] {
            let page = viewer.get(path);
            assert_eq!(page.status, 200, "{path}");
            assert!(!page.body.contains("id=\"new-"), "{path}: no creation form for a viewer");
        }
        assert_eq!(viewer.post("/console/suppressions", &[("email", "x@example.com"), ("reason", "manual")]).status, 403);
        assert_eq!(viewer.post("/console/topics/news/archive", &[("archived", "yes")]).status, 403);
        assert_eq!(app.reason("x@example.com", "news"), "default_subscribed");
        // An editor may not touch keys or webhooks.
        assert_eq!(editor.post("/console/api-keys", &[("name", "x"), ("scope", "check")]).status, 403);
    }

    fn suppressions_are_imported_and_exported_from_the_console(app) {
        operator(&app, "editor@example.org", Role::Editor);
        let editor = Console::login(&app, "editor@example.org");
        let upload = |csrf: &str, file: &str| -> Reply {
            let body = format!(
                "--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n\
                 --XyZ\r\nContent-Disposition: form-data; name=\"format\"\r\n\r\ncsv\r\n\
                 --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"s.csv\"\r\nContent-Type: text/csv\r\n\r\n{file}\r\n--XyZ--\r\n"
            );
            reply(
                client()
                    .post(format!("{}/console/suppressions/import", app.base()))
                    .header("cookie", format!("pc_session={}", editor.cookie))
                    .header("content-type", "multipart/form-data; boundary=XyZ")
                    .body(body)
                    .send()
                    .unwrap(),
            )
        };
        let file = "email,reason,scope,note\na@example.com,hard_bounce,all,gone\nnot an address,manual,,\nb@example.com,complaint,,fbl\n";
        assert_eq!(upload("forged", file).status, 403, "the token is checked before the file is read");
        assert_eq!(app.get("/v1/suppressions/a%40example.com").send().status, 404, "nothing imported");
        let imported = upload(&editor.csrf, file);
        assert_eq!(imported.status, 200, "{}", imported.body);
        let report = &imported.body[imported.body.find("id=\"report\"").unwrap()..];
        assert!(report.contains("<th scope=\"row\">created</th><td class=\"num\">2</td>"), "{report}");
        assert!(report.contains("<th scope=\"row\">failed</th><td class=\"num\">1</td>"), "{report}");
        let held = app.get("/v1/suppressions/a%40example.com").send().json();
        assert_eq!((held["reason"].as_str(), held["note"].as_str()), (Some("hard_bounce"), Some("gone")));
        let change = last_change(&app);
        assert_eq!((change["source"].as_str(), change["operator"].as_str()), (Some("console"), Some("editor@example.org")));

        let export = editor.get("/console/suppressions/export");
        assert_eq!(export.status, 200);
        assert!(export.header("content-disposition").unwrap().starts_with("attachment"));
        let api = app.get("/v1/suppressions/export").header("accept", "text/csv").send();
        assert_eq!(export.body, api.body, "the same CSV as the API's export");
        assert!(export.body.contains("a@example.com,hard_bounce"), "{}", export.body);
    }

    fn admins_manage_keys_and_webhooks(app) with private_webhooks {
        operator(&app, "admin@example.org", Role::Admin);
        let admin = Console::login(&app, "admin@example.org");
        let created = admin.post("/console/api-keys", &[("name", "mailer"), ("scope", "check"), ("scope", "contacts")]);
        assert_eq!(created.status, 200, "{}", created.body);
        let start = created.body.find("id=\"secret\">").unwrap() + "id=\"secret\">".len();
        let secret = created.body[start..].split('<').next().unwrap().to_owned();
        assert!(secret.starts_with("pc_"), "{secret}");
        assert_eq!(app.get("/v1/contacts/a%40example.com").key(&secret).send().status, 404, "the key works");
        assert!(!admin.get("/console/api-keys").body.contains(&secret), "shown once");
        let keys = app.get("/v1/api-keys").send().json();
        let id = keys["keys"].as_array().or(keys.as_array()).unwrap().iter().find(|k| k["name"] == "mailer").unwrap()["id"].as_str().unwrap().to_owned();
        assert_eq!(admin.post(&format!("/console/api-keys/{id}/revoke"), &[]).status, 303);
        assert_eq!(app.get("/v1/contacts/a%40example.com").key(&secret).send().status, 401, "revoked");

        let hook = admin.post("/console/webhooks", &[("url", "http://127.0.0.1:9/hook"), ("description", "CRM"), ("types", "suppression_added, contact_erased")]);
        assert_eq!(hook.status, 200, "{}", hook.body);
        assert!(hook.body.contains("whsec_"), "the secret, once");
        let hooks = app.get("/v1/webhooks").send().json();
        let listed = hooks["webhooks"].as_array().or(hooks.as_array()).unwrap()[0].clone();
        assert_eq!(listed["types"], json!(["contact_erased", "suppression_added"]));
        let id = listed["id"].as_str().unwrap().to_owned();
        // Nothing listens on the discard port: the page shows the refused attempt.
        let added = app.put("/v1/suppressions/gone%40example.com").json(json!({"reason": "hard_bounce"})).send();
        assert!(added.status < 300, "{}", added.body);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let page = loop {
            let page = admin.get("/console/webhooks").body;
            if page.contains("class=\"deliveries\"") || std::time::Instant::now() > deadline {
                break page;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        };
        let deliveries = &page[page.find("class=\"deliveries\"").expect("the last deliveries are shown")..];
        assert!(page.contains("Last deliveries: http://127.0.0.1:9/hook"), "{page}");
        assert!(!deliveries.split("</table>").next().unwrap().contains('✓'), "nothing was delivered: {deliveries}");
        assert_eq!(admin.post(&format!("/console/webhooks/{id}/status"), &[("status", "disabled")]).status, 303);
        assert_eq!(app.get(&format!("/v1/webhooks/{id}")).send().json()["status"], "disabled");

        // Each of these changes is in the audit, the operator's; none is in the feed,
        // which carries what senders replicate.
        let audit = admin.get("/console/audit").body;
        let prefix = keys["keys"].as_array().or(keys.as_array()).unwrap().iter().find(|k| k["name"] == "mailer").unwrap()["prefix"].as_str().unwrap().to_owned();
        for line in [
            format!("API key changed · created {prefix} &#34;mailer&#34; check,contacts"),
            format!("API key changed · revoked {prefix} &#34;mailer&#34; check,contacts"),
            format!("webhook changed · created {id}"),
            format!("webhook changed · disabled {id}"),
        ] {
            assert!(audit.contains(&line), "{line} in {audit}");
        }
        assert_eq!(audit.matches("<td>admin@example.org</td>").count(), 4, "{audit}");

        // A new secret, shown once; then the webhook and a retired feed consumer go.
        let rotated = admin.post(&format!("/console/webhooks/{id}/rotate"), &[]);
        assert_eq!(rotated.status, 200, "{}", rotated.body);
        assert!(rotated.body.contains("id=\"secret\">whsec_"), "{}", rotated.body);
        assert!(app.get(&format!("/v1/webhooks/{id}")).send().json()["previous_secret_expires_at"].is_string());
        assert_eq!(app.put("/v1/changes/consumers/old-crm").json(json!({"after": 0})).send().status, 201);
        assert!(admin.get("/console/webhooks").body.contains("/console/consumers/old-crm/delete"));
        assert_eq!(admin.post("/console/consumers/old-crm/delete", &[]).status, 303);
        assert_eq!(app.get("/v1/changes/consumers").send().json(), json!([]));
        assert_eq!(admin.post(&format!("/console/webhooks/{id}/delete"), &[]).status, 303);
        assert_eq!(app.get(&format!("/v1/webhooks/{id}")).send().status, 404);
        let audit = admin.get("/console/audit").body;
        for line in [
            format!("webhook changed · secret rotated {id}"),
            format!("webhook changed · deleted {id}"),
            "feed consumer changed · deleted old-crm".to_owned(),
        ] {
            assert!(audit.contains(&line), "{line} in {audit}");
        }
        assert_eq!(last_change(&app)["type"], "suppression_added", "the feed's last event is still the suppression");
        // A change through the API is not the console's.
        let made = app.post("/v1/api-keys").json(json!({"name": "script", "scopes": ["check"]})).send();
        assert_eq!(made.status, 201, "{}", made.body);
        assert!(!admin.get("/console/audit").body.contains("script"));
    }

    fn ledger_words_are_in_the_operators_language(app) {
        operator(&app, "admin@example.org", Role::Admin);
        let id = seeded(&app);
        let console = Console::login(&app, "admin@example.org");
        assert_eq!(console.post("/console/language", &[("lang", "fr"), ("back", "/console/")]).status, 303);
        let page = console.get(&format!("/console/contacts/{id}")).body;
        let timeline = &page[page.find("id=\"timeline\"").unwrap()..];
        assert!(timeline.contains("abonnement modifié · offers · abonné → désabonné"), "{timeline}");
        assert!(timeline.contains("<td>page de préférences</td>"), "{timeline}");
        let statuses = page[page.find("id=\"statuses\"").unwrap()..].split("</table>").next().unwrap();
        assert!(statuses.contains("Désabonné") && !statuses.contains("unsubscribed"), "{statuses}");
        let added = console.post("/console/suppressions", &[("email", "gone@example.com"), ("reason", "hard_bounce")]);
        assert_eq!(added.status, 303, "{}", added.body);
        let audit = console.get("/console/audit").body;
        assert!(audit.contains("blocage ajouté · rebond définitif"), "{audit}");
        let found = console.get("/console/suppressions?q=gone%40example.com").body;
        assert!(found.contains("<td>rebond définitif</td><td>tous les envois</td><td>console</td>"), "{found}");
    }

    fn guesses_made_at_once_do_not_slip_past_the_back_off(app) {
        operator(&app, "admin@example.org", Role::Admin);
        // Twelve wrong passwords at once: each attempt counts before its password is
        // verified, so only the five free ones are verified, not all that were let in
        // before the first failure was counted.
        let statuses: Vec<u16> = std::thread::scope(|scope| {
            let guesses: Vec<_> = (0..12)
                .map(|_| scope.spawn(|| post_login(&app, "admin@example.org", "a wrong password!").status))
                .collect();
            guesses.into_iter().map(|g| g.join().unwrap()).collect()
        });
        let verified = statuses.iter().filter(|s| **s == 401).count();
        assert!(statuses.iter().all(|s| *s == 401 || *s == 429), "{statuses:?}");
        assert!(verified <= 6, "{verified} of 12 guesses made at once were verified: {statuses:?}");
    }

    fn the_login_back_off_holds_across_processes(app) {
        operator(&app, "admin@example.org", Role::Admin);
        let other = Served::start(app.db.url());
        other.wait_for("prefcenter is serving");
        wait_until_ready(&other.base);
        let login_at = |base: &str, password: &str| {
            client()
                .post(format!("{base}/console/login"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("email=admin%40example.org&password={}", encode(password)))
                .send()
                .unwrap()
                .status()
                .as_u16()
        };
        // Five failures spread over two processes count as five: both then make the
        // right password wait. (Two more, each after its wait, make that wait 4 s: time
        // for the checks however busy the machine.)
        for base in [app.base(), other.base.as_str(), app.base(), other.base.as_str(), app.base()] {
            assert_eq!(login_at(base, "a wrong password!"), 401);
        }
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert_eq!(login_at(&other.base, "a wrong password!"), 401);
        std::thread::sleep(std::time::Duration::from_millis(2100));
        assert_eq!(login_at(app.base(), "a wrong password!"), 401);
        assert_eq!(login_at(&other.base, PASSWORD), 429);
        assert_eq!(login_at(app.base(), PASSWORD), 429);
    }
}

pub fn private_webhooks(config: &mut prefcenter::Config) {
    config.webhooks.allow_private = true;
    config.webhooks.poll = std::time::Duration::from_millis(50);
}

fn https_base(config: &mut prefcenter::Config) {
    config.base_url = "https://prefs.example.com".into();
}
