//! The command line, run as the built binary.

use std::process::{Command, Output};

use crate::support::{each_backend, Served, TestDb};

fn prefcenter(db: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_prefcenter"))
        .args(args)
        .env("PREFCENTER_DATABASE_URL", db)
        .env("PREFCENTER_LOG", "warn")
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn secret_in(lines: &[String]) -> Option<String> {
    lines.iter().find_map(|line| {
        let start = line.find("shown only now: ")? + "shown only now: ".len();
        Some(line[start..].split_whitespace().next()?.to_owned())
    })
}

each_backend! {
    fn api_key_create_prints_a_working_secret(app) {
        let out = stdout(&prefcenter(app.db.url(), &["api-key", "create", "--name", "mailer", "--scopes", "check,contacts"]));
        let secret = out.lines().last().unwrap().to_owned();
        assert!(secret.starts_with("pc_") && !secret.contains(' '), "the last line is the secret alone: {out}");
        app.get("/v1/contacts/a%40example.com").key(&secret).send().problem(404, "not_found");
        app.get("/v1/topics").key(&secret).send().problem(403, "forbidden");
        let bad = prefcenter(app.db.url(), &["api-key", "create", "--name", "x", "--scopes", "root"]);
        assert!(!bad.status.success());
    }

    fn keys_are_listed_without_secrets_and_revoked(app) {
        let out = stdout(&prefcenter(app.db.url(), &["api-key", "create", "--name", "mailer", "--scopes", "check"]));
        let secret = out.lines().last().unwrap().to_owned();
        let id = out.split_whitespace().nth(3).unwrap().to_owned();
        let listed = stdout(&prefcenter(app.db.url(), &["api-key", "list"]));
        assert!(listed.contains(&id) && listed.contains("mailer") && !listed.contains(&secret), "{listed}");
        stdout(&prefcenter(app.db.url(), &["api-key", "revoke", &id]));
        assert!(stdout(&prefcenter(app.db.url(), &["api-key", "list"])).contains("revoked"));
        app.get("/v1/contacts/a%40example.com").key(&secret).send().problem(401, "unauthorized");
        assert!(!prefcenter(app.db.url(), &["api-key", "revoke", &id]).status.success(), "a second revoke fails");
    }
}

each_backend! {
    fn migrate_is_idempotent(db: TestDb) {
        let first = stdout(&prefcenter(db.url(), &["migrate"]));
        assert!(first.contains("applied"), "{first}");
        let second = stdout(&prefcenter(db.url(), &["migrate"]));
        assert!(second.contains("up to date"), "{second}");
    }
}

each_backend! {
    /// First start on an empty database: an admin key is created and logged once; the
    /// server answers with it, and SIGTERM stops it cleanly. A second start logs no key.
    fn first_start_then_graceful_stop(db: TestDb) {
        let served = Served::start(db.url());
        let lines = served.wait_for("prefcenter is serving");
        let secret = secret_in(&lines).expect("the first start logs an admin key");
        let reply = reqwest::blocking::Client::new()
            .get(format!("{}/v1/api-keys", served.base))
            .bearer_auth(&secret)
            .send()
            .unwrap();
        assert_eq!(reply.status(), 200);
        assert!(served.terminate().success(), "SIGTERM is a clean stop");

        let again = Served::start(db.url());
        let lines = again.wait_for("prefcenter is serving");
        assert_eq!(secret_in(&lines), None, "the admin key is created only once");
        assert!(again.terminate().success());
    }
}

#[test]
fn an_unreachable_postgres_fails_start_up_clearly() {
    let url = "postgres://root:hunter2@127.0.0.1:1/prefcenter";
    for args in [&["migrate"][..], &["serve"][..]] {
        let out = prefcenter(url, args);
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("cannot open the database at postgres://root:***@127.0.0.1:1/prefcenter"),
            "{stderr}"
        );
        assert!(!stderr.contains("hunter2"), "the password is never printed");
    }
}

#[test]
fn an_unknown_database_scheme_is_refused() {
    let out = prefcenter("mysql://root@127.0.0.1/prefcenter", &["migrate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported database URL scheme"));
}

#[test]
fn help_lists_the_commands() {
    let out = Command::new(env!("CARGO_BIN_EXE_prefcenter")).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for command in ["serve", "migrate", "api-key"] {
        assert!(help.contains(command), "{help}");
    }
}

/// Runs `prefcenter args…` with `stdin` as its standard input.
fn prefcenter_with_input(db: &str, args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_prefcenter"))
        .args(args)
        .env("PREFCENTER_DATABASE_URL", db)
        .env("PREFCENTER_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary runs");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

each_backend! {
    /// The first operator comes from the command line: the password from stdin, at
    /// least 12 characters, only its argon2id hash stored; then listed, given a new
    /// password, and disabled.
    fn operators_are_made_listed_and_disabled_from_the_command_line(app) {
        let url = app.db.url();
        let short = prefcenter_with_input(url, &["operator", "create", "--email", "ops@example.org", "--role", "admin"], "too short\n");
        assert!(!short.status.success() && String::from_utf8_lossy(&short.stderr).contains("12"), "{short:?}");
        let role = prefcenter_with_input(url, &["operator", "create", "--email", "ops@example.org", "--role", "root"], "long enough password\n");
        assert!(!role.status.success());
        let created = stdout(&prefcenter_with_input(url, &["operator", "create", "--email", "Ops@Example.org", "--role", "admin"], "long enough password\n"));
        assert!(created.contains("ops@example.org") && created.contains("admin"), "{created}");
        let again = prefcenter_with_input(url, &["operator", "create", "--email", "ops@example.org", "--role", "viewer"], "long enough password\n");
        assert!(!again.status.success(), "one operator per address");
        stdout(&prefcenter_with_input(url, &["operator", "create", "--email", "view@example.org", "--role", "viewer"], "another long password\r\n"));

        let listed = stdout(&prefcenter(url, &["operator", "list"]));
        assert!(listed.contains("ops@example.org") && listed.contains("view@example.org") && listed.contains("viewer"), "{listed}");
        assert!(!listed.contains("long enough password") && !listed.contains("argon2"), "{listed}");

        assert_eq!(crate::console::post_login(&app, "ops@example.org", "long enough password").status, 303);
        assert_eq!(crate::console::post_login(&app, "view@example.org", "another long password").status, 303, "CRLF is not part of the password");
        stdout(&prefcenter_with_input(url, &["operator", "password", "ops@example.org"], "a brand new password\n"));
        assert_eq!(crate::console::post_login(&app, "ops@example.org", "long enough password").status, 401);
        assert_eq!(crate::console::post_login(&app, "ops@example.org", "a brand new password").status, 303);

        stdout(&prefcenter(url, &["operator", "disable", "ops@example.org"]));
        assert!(stdout(&prefcenter(url, &["operator", "list"])).contains("disabled"));
        assert_eq!(crate::console::post_login(&app, "ops@example.org", "a brand new password").status, 401);
        assert!(!prefcenter(url, &["operator", "disable", "nobody@example.org"]).status.success());
    }
}
