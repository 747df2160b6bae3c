//! API keys: who may call what, and how authentication holds up under wrong secrets,
//! many clients, legacy hashes and a database that cannot answer.

use std::sync::atomic::{AtomicBool, Ordering};

use prefcenter::service::api_keys::MAX_FAILURES;
use prefcenter::Config;
use serde_json::json;

use crate::support::{each_backend, TestApp};

/// Clients told apart by `X-Forwarded-For`, and cached keys re-read every 100 ms.
fn behind_proxy(config: &mut Config) {
    config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    config.api_key_refresh_ms = 100;
}

/// As `behind_proxy`, with an index that stays usable while the ledger cannot be
/// read, so that a check route answers from memory whatever the database does.
fn outage(config: &mut Config) {
    behind_proxy(config);
    config.index_stale_ms = 600_000;
}

const ATTACKER: &str = "203.0.113.9";
const OWNER: &str = "198.51.100.7";

/// A counter from `/metrics` (0 while a labelled one was never counted).
fn metric(app: &TestApp, name: &str) -> u64 {
    let body = app.get("/metrics").anonymous().send().body;
    body.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok()).unwrap_or(0)
}

const LOOKUPS: &str = "prefcenter_api_key_lookups_total";
const ARGON2: &str = "prefcenter_api_key_argon2_total";
const REFUSED: &str = "prefcenter_api_key_refused_total";

/// Waits until the cached keys were re-read `rounds` more times with this outcome.
fn wait_for_refreshes(app: &TestApp, outcome: &str, rounds: u64) {
    let name = format!("prefcenter_api_key_refreshes_total{{outcome=\"{outcome}\"}}");
    let target = metric(app, &name) + rounds;
    for _ in 0..3000 {
        if metric(app, &name) >= target {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("the API keys were never re-read ({outcome})");
}

/// The same secret with its random part replaced.
fn wrong(secret: &str) -> String {
    let (known, _) = secret.rsplit_once('_').unwrap();
    format!("{known}_{}", "x".repeat(32))
}

/// A well-formed secret for a key nobody made.
fn unknown_secret() -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("pc_{}_{}", &random[..10], uuid::Uuid::new_v4().simple())
}

/// A key as versions before keyed hashes stored it, with an argon2id hash: its id and
/// its secret.
fn legacy_key(app: &TestApp) -> (String, String) {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let id = uuid::Uuid::new_v4().to_string();
    let lookup = uuid::Uuid::new_v4().simple().to_string()[..10].to_owned();
    let secret = format!("pc_{lookup}_{}", uuid::Uuid::new_v4().simple());
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let phc = argon2::Argon2::default().hash_password(secret.as_bytes(), &salt).unwrap().to_string();
    app.sql(&format!(
        "INSERT INTO api_keys (id, name, lookup, secret_hash, scopes, created_at) \
         VALUES ('{id}', 'legacy', '{lookup}', '{phc}', 'admin', '2026-11-01 00:00:00')"
    ));
    (id, secret)
}

fn stored_hash(app: &TestApp, id: &str) -> String {
    let mut db = app.pool.get().unwrap();
    prefcenter::store::api_keys::find(&mut db, id).unwrap().unwrap().secret_hash
}

/// `n` requests at once to `GET /v1/topics` with `secret` from `client`: their statuses.
fn burst(app: &TestApp, n: usize, secret: impl Fn() -> String + Sync, client: &str) -> Vec<u16> {
    std::thread::scope(|s| {
        let calls: Vec<_> = (0..n)
            .map(|_| {
                s.spawn(|| {
                    app.get("/v1/topics").key(&secret()).header("x-forwarded-for", client).send().status
                })
            })
            .collect();
        calls.into_iter().map(|c| c.join().unwrap()).collect()
    })
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

each_backend! {
    fn scopes_are_enforced_per_route(app) {
        app.topic("news").create();
        let check = app.key(&["check"]);
        let contacts = app.key(&["contacts"]);
        let admin = app.key(&["admin"]);
        // Topics and keys need admin.
        app.get("/v1/topics").key(&check).send().problem(403, "forbidden");
        app.get("/v1/topics").key(&contacts).send().problem(403, "forbidden");
        assert_eq!(app.get("/v1/topics").key(&admin).send().status, 200);
        app.get("/v1/api-keys").key(&contacts).send().problem(403, "forbidden");
        // Contacts need contacts (or admin, which implies every scope).
        app.put("/v1/contacts/a%40example.com").key(&check).json(json!({})).send().problem(403, "forbidden");
        assert_eq!(app.put("/v1/contacts/a%40example.com").key(&contacts).json(json!({})).send().status, 201);
        assert_eq!(app.get("/v1/contacts/a%40example.com").key(&admin).send().status, 200);
    }

    fn missing_or_wrong_credentials_are_401(app) {
        let reply = app.get("/v1/topics").anonymous().send();
        reply.problem(401, "unauthorized");
        assert_eq!(reply.header("www-authenticate"), Some("Bearer, Basic realm=\"prefcenter\""));
        app.get("/v1/topics").key("pc_0000000000_00000000000000000000000000000000").send().problem(401, "unauthorized");
        app.get("/v1/topics").key("not-even-a-key").send().problem(401, "unauthorized");
        app.get("/v1/topics").anonymous().header("authorization", "Basic YTpi").send().problem(401, "unauthorized");
        // Authentication comes before the body is read.
        app.post("/v1/topics").anonymous().body("application/json", "{broken").send().problem(401, "unauthorized");
        app.post("/v1/topics").key(&app.key(&["check"])).body("application/json", "{broken").send().problem(403, "forbidden");
    }

    fn a_created_key_works_and_its_secret_is_never_listed(app) {
        let created = app.post("/v1/api-keys").json(json!({"name": "mailer", "scopes": ["check", "suppressions"]})).send();
        assert_eq!(created.status, 201, "{}", created.body);
        let created = created.json();
        let secret = created["secret"].as_str().unwrap();
        assert!(secret.starts_with(created["prefix"].as_str().unwrap()));
        assert_eq!(created["scopes"], json!(["check", "suppressions"]));
        let listed = app.get("/v1/api-keys").send();
        assert!(!listed.body.contains(secret), "a listing never holds a secret");
        assert!(listed.json().as_array().unwrap().iter().any(|k| k["id"] == created["id"]));
        app.post("/v1/api-keys").json(json!({"name": "x", "scopes": []})).send().problem(422, "invalid");
        app.post("/v1/api-keys").json(json!({"name": "", "scopes": ["check"]})).send().problem(422, "invalid");
        app.post("/v1/api-keys").json(json!({"name": "x", "scopes": ["root"]})).send().problem(422, "invalid");
    }

    fn a_revoked_key_stops_working_at_once(app) {
        let secret = app.key(&["admin"]);
        assert_eq!(app.get("/v1/topics").key(&secret).send().status, 200, "verified and cached");
        let id = app.get("/v1/api-keys").send().json().as_array().unwrap().iter()
            .find(|k| secret.starts_with(k["prefix"].as_str().unwrap())).unwrap()["id"].as_str().unwrap().to_owned();
        assert_eq!(app.delete(&format!("/v1/api-keys/{id}")).send().status, 204);
        app.get("/v1/topics").key(&secret).send().problem(401, "unauthorized");
        app.delete(&format!("/v1/api-keys/{id}")).send().problem(404, "not_found");
        let listed = app.get("/v1/api-keys").send().json();
        let revoked = listed.as_array().unwrap().iter().find(|k| k["id"] == id.as_str()).unwrap();
        assert!(revoked["revoked_at"].is_string());
    }

    fn repeated_wrong_secrets_from_one_network_are_rate_limited(app) {
        let secret = app.key(&["check"]);
        for _ in 0..MAX_FAILURES {
            app.get("/v1/topics").key(&wrong(&secret)).send().problem(401, "unauthorized");
        }
        let limited = app.get("/v1/topics").key(&wrong(&secret)).send();
        limited.problem(429, "rate_limited");
        assert!(limited.header("retry-after").unwrap().parse::<u64>().unwrap() > 0);
        // The right secret is never refused for wrong ones.
        assert_eq!(app.get("/v1/topics").key(&app.admin).send().status, 200);
    }

    fn wrong_secrets_from_another_network_never_lock_out_the_right_secret(app) with behind_proxy {
        let secret = app.key(&["admin"]);
        // The lookup prefix is listed to every admin; guesses with it come from elsewhere.
        for _ in 0..MAX_FAILURES + 5 {
            app.get("/v1/topics").key(&wrong(&secret)).header("x-forwarded-for", ATTACKER).send();
        }
        app.get("/v1/topics").key(&wrong(&secret)).header("x-forwarded-for", ATTACKER).send()
            .problem(429, "rate_limited");
        let owner = |client: &str| app.get("/v1/topics").key(&secret).header("x-forwarded-for", client).send().status;
        assert_eq!(owner(OWNER), 200);
        // …also after the cached keys were re-read, which is when the lock-out used to begin…
        wait_for_refreshes(&app, "ok", 2);
        assert_eq!(owner(OWNER), 200);
        // …and even from the guessing network itself, for a key this process knows.
        assert_eq!(owner(ATTACKER), 200);
    }

    fn a_burst_of_wrong_secrets_is_refused_before_any_work(app) with behind_proxy {
        assert_eq!(app.get("/v1/topics").header("x-forwarded-for", ATTACKER).send().status, 200);
        let (lookups, refused) = (metric(&app, LOOKUPS), metric(&app, REFUSED));
        // Each names a key this process does not know: each would cost a database read.
        let statuses = burst(&app, 32, unknown_secret, ATTACKER);
        let limit = MAX_FAILURES as usize;
        assert_eq!((count(&statuses, 401), count(&statuses, 429)), (limit, 32 - limit), "{statuses:?}");
        assert_eq!(metric(&app, LOOKUPS) - lookups, limit as u64, "only reserved reads ran");
        assert_eq!(metric(&app, REFUSED) - refused, (32 - limit) as u64);
        // Others, and the right secret from the same network, are unaffected.
        assert_eq!(count(&burst(&app, 4, unknown_secret, OWNER), 401), 4);
        assert_eq!(app.get("/v1/topics").header("x-forwarded-for", ATTACKER).send().status, 200);
    }

    fn a_legacy_argon2_key_keeps_working_and_is_rehashed_once(app) with behind_proxy {
        let (id, secret) = legacy_key(&app);
        assert!(stored_hash(&app, &id).starts_with("$argon2id$"));
        let (lookups, argon2) = (metric(&app, LOOKUPS), metric(&app, ARGON2));
        // Many requests at once with the right secret: one read, one argon2, all pass.
        let statuses = burst(&app, 16, || secret.clone(), OWNER);
        assert_eq!(count(&statuses, 200), 16, "{statuses:?}");
        assert_eq!(metric(&app, LOOKUPS) - lookups, 1);
        assert_eq!(metric(&app, ARGON2) - argon2, 1);
        let rehashed = stored_hash(&app, &id);
        assert!(rehashed.starts_with("hmac-sha256:"), "{rehashed}");
        // From now on a keyed hash verifies it, also after a refresh.
        wait_for_refreshes(&app, "ok", 2);
        assert_eq!(app.get("/v1/topics").key(&secret).send().status, 200);
        app.get("/v1/topics").key(&wrong(&secret)).send().problem(401, "unauthorized");
        assert_eq!(metric(&app, ARGON2) - argon2, 1);
        assert_eq!(stored_hash(&app, &id), rehashed);
    }

    fn wrong_secrets_for_a_legacy_key_run_argon2_only_within_the_limit(app) with behind_proxy {
        let (id, secret) = legacy_key(&app);
        let argon2 = metric(&app, ARGON2);
        let statuses = burst(&app, 32, || wrong(&secret), ATTACKER);
        let limit = MAX_FAILURES as usize;
        assert_eq!((count(&statuses, 401), count(&statuses, 429)), (limit, 32 - limit), "{statuses:?}");
        assert_eq!(metric(&app, ARGON2) - argon2, limit as u64, "argon2 ran only for reserved attempts");
        assert!(stored_hash(&app, &id).starts_with("$argon2id$"), "wrong secrets re-hash nothing");
        // The owner, elsewhere, still gets in, and then so does the key from anywhere.
        assert_eq!(app.get("/v1/topics").key(&secret).header("x-forwarded-for", OWNER).send().status, 200);
        assert_eq!(app.get("/v1/topics").key(&secret).header("x-forwarded-for", ATTACKER).send().status, 200);
        assert_eq!(metric(&app, ARGON2) - argon2, limit as u64 + 1);
    }

    fn many_clients_across_cache_refreshes_read_the_database_once(app) with behind_proxy {
        app.topic("news").opt_out().create();
        let secret = app.key(&["check"]);
        let lookups = metric(&app, LOOKUPS);
        let done = AtomicBool::new(false);
        let statuses: Vec<u16> = std::thread::scope(|s| {
            let clients: Vec<_> = (0..64)
                .map(|_| {
                    s.spawn(|| {
                        let mut statuses = Vec::new();
                        while statuses.len() < 3 || !done.load(Ordering::SeqCst) {
                            let reply = app.post("/v1/check").key(&secret)
                                .json(json!({"email": "a@example.com", "topic": "news"})).send();
                            statuses.push(reply.status);
                        }
                        statuses
                    })
                })
                .collect();
            // The cached key is re-read several times while the clients keep asking.
            wait_for_refreshes(&app, "ok", 3);
            done.store(true, Ordering::SeqCst);
            clients.into_iter().flat_map(|c| c.join().unwrap()).collect()
        });
        assert!(statuses.iter().all(|s| *s == 200), "{:?}", statuses.iter().filter(|s| **s != 200).collect::<Vec<_>>());
        assert_eq!(metric(&app, LOOKUPS) - lookups, 1, "one read for {} requests", statuses.len());
    }

    fn verified_keys_keep_working_while_the_database_cannot_answer(app) with outage {
        app.topic("news").opt_out().create();
        let secret = app.key(&["check"]);
        let check = || app.post("/v1/check").key(&secret).json(json!({"email": "a@example.com", "topic": "news"})).send();
        assert_eq!(check().status, 200);
        let lookups = metric(&app, LOOKUPS);
        // Every connection of the server's pool taken: the database answers nobody.
        let held: Vec<_> = (0..app.pool.max_size())
            .map(|_| app.pool.get_timeout(std::time::Duration::from_secs(30)).expect("a connection"))
            .collect();
        wait_for_refreshes(&app, "failed", 1);
        for _ in 0..20 {
            let reply = check();
            assert_eq!(reply.status, 200, "{}", reply.body);
        }
        assert_eq!(metric(&app, LOOKUPS), lookups, "authentication read nothing");
        drop(held);
    }

    fn a_key_revoked_through_another_process_stops_within_one_refresh(app) with behind_proxy {
        let secret = app.key(&["admin"]);
        assert_eq!(app.get("/v1/topics").key(&secret).send().status, 200, "verified and cached");
        let id = app.get("/v1/api-keys").send().json().as_array().unwrap().iter()
            .find(|k| secret.starts_with(k["prefix"].as_str().unwrap())).unwrap()["id"].as_str().unwrap().to_owned();
        // What another process's revocation writes; this one learns of it by re-reading.
        app.sql(&format!("UPDATE api_keys SET revoked_at = '2026-12-01 00:00:00' WHERE id = '{id}'"));
        wait_for_refreshes(&app, "ok", 2);
        app.get("/v1/topics").key(&secret).send().problem(401, "unauthorized");
    }

    fn key_names_cannot_forge_log_lines(app) {
        for name in ["mailer\nINFO prefcenter: created API key name=admin", "nul\u{0}", "tab\tbed", "rtl\u{202E}txt", "x".repeat(101).as_str()] {
            let reply = app.post("/v1/api-keys").json(json!({"name": name, "scopes": ["check"]})).send();
            let problem = reply.problem(422, "invalid");
            assert_eq!(problem["errors"][0]["field"], "name", "{name:?}");
        }
        let created = app.post("/v1/api-keys").json(json!({"name": "Lettre d'information (été)", "scopes": ["check"]})).send();
        assert_eq!(created.status, 201, "{}", created.body);
    }
}
