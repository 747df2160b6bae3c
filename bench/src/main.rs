//! `prefcenter-bench`: seeds a database, starts prefcenter and a bare actix-web route
//! as separate processes, loads both with `wrk` the same way on loopback, one after
//! the other, and reports each figure with its ratio to the bare route's in the same
//! run, the servers' CPU time a request, and whether the client was the limit.
//!
//! `cargo run --release -p prefcenter-bench -- --quick`

mod baseline;
mod load;
mod seed;
mod writes;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::Parser;
use diesel::connection::SimpleConnection;
use diesel::Connection;
use prefcenter::domain::KeyScope;
use prefcenter::service::api_keys::{self, NewKey};
use prefcenter::Config;
use serde_json::json;

// The service binary's allocator (src/main.rs), for prefcenter and the bare route alike:
// both servers run from this binary, so neither is measured with an advantage.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(about = "Measures prefcenter against a bare actix-web route in the same run")]
struct Args {
    /// 100,000 contacts and 5-second scenarios.
    #[arg(long)]
    quick: bool,
    /// How many contacts to seed (default 1,000,000; 100,000 with --quick).
    #[arg(long)]
    contacts: Option<usize>,
    #[arg(long, value_enum, default_value = "realistic")]
    mix: seed::Mix,
    /// Seconds per scenario (default 10; 5 with --quick).
    #[arg(long)]
    duration: Option<u64>,
    /// Connections for the single-check scenarios, each count its own pair of runs
    /// (the first also for the preference reads and the writes).
    #[arg(long, value_delimiter = ',', default_value = "32,64")]
    connections: Vec<usize>,
    /// Connections for the batch scenarios.
    #[arg(long, default_value_t = 4)]
    batch_connections: usize,
    /// Connections for the one-click write scenario.
    #[arg(long, default_value_t = 64)]
    write_connections: usize,
    /// Lines of the streamed suppression import scenario.
    #[arg(long, default_value_t = 1_000_000)]
    import_lines: usize,
    /// Connections for the one-click writes sent while an import runs.
    #[arg(long, default_value_t = 8)]
    import_click_connections: usize,
    /// Only the write scenarios: seeding, one-click writes, the suppression import, and
    /// on PostgreSQL two processes writing at once.
    #[arg(long)]
    writes: bool,
    /// wrk's threads (its client CPU is reported, and flagged when saturated).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// A PostgreSQL server to run on (a fresh schema is made and dropped); SQLite in a
    /// temporary folder when unset.
    #[arg(long)]
    database_url: Option<String>,
    /// Keep the SQLite database in this folder instead of a temporary one.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<std::path::PathBuf>,
    /// Seed, print the database URL and an admin key, and stop: for profiling the
    /// server by hand (with --data-dir).
    #[arg(long)]
    seed_only: bool,
    /// Where to write the results as JSON.
    #[arg(long, default_value = "bench-results.json")]
    out: String,
    #[arg(long, hide = true)]
    serve_baseline: Option<String>,
    /// The baseline's List-Unsubscribe value: its length, in bytes.
    #[arg(long, hide = true, default_value_t = 0)]
    baseline_link_len: usize,
    /// The baseline's preference document: a JSON file.
    #[arg(long, hide = true)]
    baseline_preferences: Option<String>,
    #[arg(long, hide = true)]
    serve_prefcenter: Option<String>,
}

fn main() {
    let args = Args::parse();
    if let Some(bind) = &args.serve_baseline {
        let preferences = args
            .baseline_preferences
            .as_ref()
            .and_then(|file| std::fs::read_to_string(file).ok())
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        let link = format!("<{}>", "x".repeat(args.baseline_link_len.saturating_sub(2)));
        baseline::serve(bind, baseline::Answers { link, preferences }).expect("the baseline serves");
        return;
    }
    if let Some(bind) = &args.serve_prefcenter {
        serve_prefcenter(bind);
        return;
    }
    if let Err(e) = bench(args) {
        eprintln!("prefcenter-bench: {e}");
        std::process::exit(1);
    }
}

/// The server under test, in its own process, as `prefcenter serve` runs it.
fn serve_prefcenter(bind: &str) {
    let config = Config::load(None).expect("a configuration");
    // The index's load is logged at info; requests at the configured level.
    let filter = format!("{},prefcenter::index=info", config.log);
    tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false).with_writer(std::io::stderr).init();
    let listener = TcpListener::bind(bind).expect("a port");
    let app = prefcenter::prepare(config).expect("prefcenter prepares");
    actix_web::rt::System::new()
        .block_on(async move { prefcenter::server(app, listener).expect("a server").0.await })
        .ok();
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Process {
    child: Child,
    base: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    fn pid(&self) -> Option<u32> {
        Some(self.child.id())
    }

    /// Resident memory in bytes, from /proc.
    fn rss(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kb| kb * 1024)
    }
}

fn wait_ready(base: &str, limit: Duration) -> Result<Duration, String> {
    let started = Instant::now();
    let client = reqwest::blocking::Client::new();
    while started.elapsed() < limit {
        if client.get(format!("{base}/readyz")).send().is_ok_and(|r| r.status().is_success()) {
            return Ok(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(format!("{base} was not ready within {limit:?}"))
}

fn spawn_self(
    flag: &str,
    database_url: Option<&str>,
    extra: &[String],
) -> Result<(Process, mpsc::Receiver<String>), String> {
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let mut command = Command::new(std::env::current_exe().map_err(|e| e.to_string())?);
    command.args([flag, &bind]).args(extra).stdout(Stdio::null()).stderr(Stdio::piped());
    if let Some(url) = database_url {
        command
            .env("PREFCENTER_DATABASE_URL", url)
            .env("PREFCENTER_BIND", &bind)
            .env("PREFCENTER_LOG", "warn")
            // The seed posts 100,000 lines a request: over the default 16 MiB.
            .env("PREFCENTER_IMPORT_LIMIT_MB", "256");
    }
    let mut child = command.spawn().map_err(|e| e.to_string())?;
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Ok((Process { child, base: format!("http://{bind}") }, lines))
}

/// The `key=value` of a log line.
fn field(line: &str, name: &str) -> Option<u64> {
    let clean: String = line.chars().filter(|c| !c.is_control()).collect();
    let start = clean.find(&format!("{name}="))? + name.len() + 1;
    clean[start..].chars().take_while(|c| c.is_ascii_digit()).collect::<String>().parse().ok()
}

/// Signed links for the write and preference scenarios, taken from the API as a
/// sender would: one-click requests for distinct addresses (so that each POST is a
/// real write), and preference-API reads.
fn links(base: &str, key: &str, contacts: usize) -> Result<(Vec<load::Request>, Vec<load::Request>), String> {
    let client = reqwest::blocking::Client::new();
    let mut clicks = Vec::new();
    // Each address once (13 is prime to the counts of contacts seeded): a link clicked
    // twice is a write the second time only in name.
    for b in 0..contacts.min(100_000).div_ceil(10_000) {
        let emails: Vec<String> = (b * 10_000..((b + 1) * 10_000).min(contacts))
            .map(|i| seed::address(i * 13 % contacts))
            .collect();
        let reply: serde_json::Value = client
            .post(format!("{base}/v1/check/batch"))
            .bearer_auth(key)
            .json(&json!({"topic": "news", "emails": emails}))
            .send()
            .and_then(|r| r.json())
            .map_err(|e| e.to_string())?;
        for result in reply["results"].as_array().into_iter().flatten() {
            if let Some(header) = result["headers"]["List-Unsubscribe"].as_str() {
                let url = header.trim_matches(['<', '>']);
                let path = url.find("/u/").map_or(url, |at| &url[at..]);
                clicks.push(load::Request {
                    method: "POST",
                    path: path.to_owned(),
                    body: Some("List-Unsubscribe=One-Click".into()),
                    content_type: "application/x-www-form-urlencoded",
                    bearer: None,
                });
            }
        }
    }
    let mut reads = Vec::new();
    for i in 0..500 {
        let reply: serde_json::Value = client
            .post(format!("{base}/v1/links"))
            .bearer_auth(key)
            .json(&json!({"email": seed::address(i * 31 % contacts), "topic": "news"}))
            .send()
            .and_then(|r| r.json())
            .map_err(|e| e.to_string())?;
        let url = reply["preferences_url"].as_str().ok_or("no preference link")?;
        let token = url.rsplit('/').next().unwrap_or_default().to_owned();
        reads.push(load::Request {
            method: "GET",
            path: "/v1/preferences".into(),
            body: None,
            content_type: "application/json",
            bearer: Some(token),
        });
    }
    Ok((clicks, reads))
}

/// What the bare routes answer with, taken from prefcenter's own answers: the
/// longest List-Unsubscribe value of a batch, and one preference document.
fn answers(base: &str, key: &str, batch: &str, read: &load::Request) -> Result<(usize, String), String> {
    let client = reqwest::blocking::Client::new();
    let reply: serde_json::Value = client
        .post(format!("{base}/v1/check/batch"))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(batch.to_owned())
        .send()
        .and_then(|r| r.json())
        .map_err(|e| e.to_string())?;
    let link = reply["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["headers"]["List-Unsubscribe"].as_str())
        .map(str::len)
        .max()
        .unwrap_or(0);
    let document = client
        .get(format!("{base}{}", read.path))
        .bearer_auth(read.bearer.as_deref().unwrap_or_default())
        .send()
        .and_then(|r| r.text())
        .map_err(|e| e.to_string())?;
    Ok((link, document))
}

fn bench(args: Args) -> Result<(), String> {
    let contacts = args.contacts.unwrap_or(if args.quick { 100_000 } else { 1_000_000 });
    let duration = Duration::from_secs(args.duration.unwrap_or(if args.quick { 5 } else { 10 }));
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (url, schema) = match &args.database_url {
        Some(server) => {
            let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
            let mut conn = diesel::PgConnection::establish(server).map_err(|e| e.to_string())?;
            conn.batch_execute(&format!("CREATE SCHEMA {schema}")).map_err(|e| e.to_string())?;
            let separator = if server.contains('?') { '&' } else { '?' };
            (format!("{server}{separator}options=-csearch_path%3D{schema}"), Some((server.clone(), schema)))
        }
        None => {
            let folder = args.data_dir.as_deref().unwrap_or(dir.path());
            (format!("sqlite://{}", folder.join("bench.db").display()), None)
        }
    };
    let result = run(&args, &url, contacts, duration);
    // A seeded schema is kept for whoever asked for it.
    if let Some((server, schema)) = schema.filter(|_| !args.seed_only) {
        if let Ok(mut conn) = diesel::PgConnection::establish(&server) {
            let _ = conn.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
        }
    }
    result
}

fn run(args: &Args, url: &str, contacts: usize, duration: Duration) -> Result<(), String> {
    let backend = if url.starts_with("postgres") { "postgresql" } else { "sqlite" };
    let client = load::check_wrk()?;
    println!(
        "prefcenter-bench: {contacts} contacts ({:?} mix) on {backend}, {}s per scenario, on {} cores shared by the client and the servers; client: {client}",
        args.mix,
        duration.as_secs(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    // 1. Seed.
    let mut config = Config::for_database(url).map_err(|e| format!("{e:#}"))?;
    config.pool_size = 2;
    let app = prefcenter::prepare(config).map_err(|e| format!("{e:#}"))?;
    let mut db = app.pool.get().map_err(|e| e.to_string())?;
    let key = api_keys::create_on(&mut db, &NewKey { name: "bench".into(), scopes: vec![KeyScope::Admin] })
        .map_err(|e| e.to_string())?
        .secret;
    drop(db);
    let (statuses, contacts_rate) = {
        let (server, lines) = spawn_self("--serve-prefcenter", Some(url), &[])?;
        if let Err(e) = wait_ready(&server.base, Duration::from_secs(30)) {
            return Err(format!("{e}: {}", lines.try_iter().collect::<Vec<_>>().join("\n")));
        }
        let client = reqwest::blocking::Client::new();
        for (topic, opt_out, category) in [
            ("news", true, "promotional"),
            ("offers", false, "promotional"),
            ("receipts", false, "transactional"),
        ] {
            client.post(format!("{}/v1/topics", server.base)).bearer_auth(&key)
                .json(&json!({"key": topic, "name": topic, "category": category, "default_subscribed": opt_out}))
                .send().map_err(|e| e.to_string())?;
        }
        seed::contacts(&server.base, &key, contacts, args.mix)?
    };
    println!("seeded {contacts} contacts and {statuses} statuses at {contacts_rate:.0} contacts/s (POST /v1/contacts/import)");
    drop(app);
    if args.seed_only {
        println!("database: {url}\nkey: {key}");
        return Ok(());
    }

    // 2. Start prefcenter (its start-up loads the index) and the baseline.
    let started = Instant::now();
    let (server, lines) = spawn_self("--serve-prefcenter", Some(url), &[])?;
    let ready_after = wait_ready(&server.base, Duration::from_secs(120))?;
    let load_line = lines.try_iter().find(|l| l.contains("decision index loaded")).unwrap_or_default();
    let load_ms = field(&load_line, "ms");
    let index_bytes = field(&load_line, "bytes");
    let index_addresses = field(&load_line, "addresses");
    println!(
        "prefcenter ready {:.2}s after start (index load {} ms, {} addresses, {} bytes)",
        ready_after.as_secs_f64(),
        load_ms.map_or("?".into(), |m| m.to_string()),
        index_addresses.unwrap_or(0),
        index_bytes.unwrap_or(0)
    );
    let _ = started;
    let (suppressed, suppression_rate) = seed::suppressions(&server.base, &key, contacts)?;
    println!(
        "imported {suppressed} suppressions at {suppression_rate:.0} lines/s (POST /v1/suppressions/import)"
    );
    let rss = server.rss().unwrap_or(0);

    // 3. Scenarios.
    let singles: Vec<String> = (0..10_000)
        .map(|i| {
            let topic = ["news", "offers", "receipts"][i % 3];
            json!({"email": seed::address((i * 7919) % contacts), "topic": topic}).to_string()
        })
        .collect();
    let batches: Vec<String> = (0..8)
        .map(|b| {
            let emails: Vec<String> =
                (0..10_000).map(|i| seed::address((b * 10_000 + i * 97) % contacts)).collect();
            json!({"topic": "news", "emails": emails}).to_string()
        })
        .collect();
    let (clicks, preference_reads) = links(&server.base, &key, contacts)?;
    let (link_len, document) = answers(&server.base, &key, &batches[0], &preference_reads[0])?;
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let document_file = work.path().join("preferences.json");
    std::fs::write(&document_file, &document).map_err(|e| e.to_string())?;
    let (bare, _) = spawn_self(
        "--serve-baseline",
        None,
        &[
            "--baseline-link-len".into(),
            link_len.to_string(),
            "--baseline-preferences".into(),
            document_file.display().to_string(),
        ],
    )?;
    wait_ready(&bare.base, Duration::from_secs(30))?;
    // The seeded database reaches the disk before anything is timed: the kernel's
    // write-back would otherwise take CPU from the first scenario (seen on SQLite: the
    // first bare-route figure 40% low, and every ratio against it too high).
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
    std::thread::sleep(Duration::from_secs(2));
    let to = |path: &str, bodies: &[String], key: Option<&str>| -> Vec<load::Request> {
        bodies.iter().map(|b| load::Request::json(path, b.clone(), key)).collect()
    };
    let bare_reads: Vec<load::Request> = (0..1)
        .map(|_| load::Request {
            method: "GET",
            path: "/preferences".into(),
            body: None,
            content_type: "application/json",
            bearer: Some("x".repeat(preference_reads[0].bearer.as_ref().map_or(0, String::len))),
        })
        .collect();
    let load = |connections| load::Load { threads: args.threads, connections, duration };
    let first = args.connections.first().copied().unwrap_or(32);
    let (check_single, check_batch) =
        (to("/v1/check", &singles, Some(&key)), to("/v1/check/batch", &batches, Some(&key)));
    let (bare_single, bare_batch) = (to("/check", &singles, None), to("/check/batch", &batches, None));
    let dir = work.path();
    let (pid, bare_pid) = (server.pid(), bare.pid());
    // Each pair runs bare route first, then prefcenter, back to back.
    let mut results = Vec::new();
    let mut pair = |bare_name: &str,
                    bare_requests: &[load::Request],
                    name: &str,
                    requests: &[load::Request],
                    decisions: usize,
                    load: load::Load|
     -> Result<(), String> {
        let baseline = load::run(bare_name, &bare.base, bare_pid, bare_requests, decisions, load, dir)?;
        let mut measured = load::run(name, &server.base, pid, requests, decisions, load, dir)?;
        measured.ratio = Some(measured.requests_per_second / baseline.requests_per_second);
        results.extend([baseline, measured]);
        Ok(())
    };
    if !args.writes {
        for &connections in &args.connections {
            pair(
                &format!("bare route, single ({connections} connections)"),
                &bare_single,
                &format!("POST /v1/check ({connections} connections)"),
                &check_single,
                1,
                load(connections),
            )?;
        }
        pair(
            &format!("bare route, 10,000 a batch ({} connections)", args.batch_connections),
            &bare_batch,
            "POST /v1/check/batch",
            &check_batch,
            10_000,
            load(args.batch_connections),
        )?;
        pair(
            &format!("bare route, GET of a preference document ({first} connections)"),
            &bare_reads,
            "GET /v1/preferences",
            &preference_reads,
            1,
            load(first),
        )?;
    }

    // 4. Writes, read against the filesystem's fsync rate measured now.
    let fsync_dir = args.data_dir.clone().unwrap_or_else(|| dir.to_owned());
    let fsync = writes::fsync_rate(&fsync_dir, 2.0)?;
    println!(
        "fsync: {fsync:.0} a second on {} (a 4 KiB write, then fdatasync, one after the other)",
        fsync_dir.display()
    );
    let (single_clicks, pair_clicks) = clicks.split_at(clicks.len() / 2);
    let commits_before = commit_totals(&server.base);
    let writes_load = load(args.write_connections);
    let mut unsubscribes = writes::one_click(
        &format!("POST /u/{{token}} (one-click, durable writes, {} connections)", args.write_connections),
        &server.base,
        pid,
        url,
        single_clicks,
        writes_load,
        dir,
    )?;
    // How the writer shared its commits among the one-click writes.
    let sharing = commit_totals(&server.base).zip(commits_before).map(|(after, before)| {
        let commits = (after.0 - before.0).max(1.0);
        ((after.1 - before.1) / commits, (after.2 - before.2) / commits * 1000.0)
    });
    unsubscribes.measured.ratio =
        results.first().map(|bare| unsubscribes.measured.requests_per_second / bare.requests_per_second);
    results.push(unsubscribes.measured.clone());
    println!(
        "one-click: {} acknowledged, {} found in the database afterwards",
        unsubscribes.acknowledged, unsubscribes.found
    );
    let import_rate = writes::suppression_import(&server.base, &key, args.import_lines, 0)?;
    println!("suppression import: {} lines streamed at {import_rate:.0} lines/s", args.import_lines);
    // The last third of the second half of the links: the two processes' run uses
    // well under the rest.
    let (pair_clicks, import_clicks) = pair_clicks.split_at(pair_clicks.len() * 2 / 3);
    // New addresses: the import before numbered its lines from 0.
    let lines = args.import_lines..args.import_lines + args.import_lines / 4;
    let (during_import, import_beside) = one_click_during_import(
        &server,
        url,
        &key,
        import_clicks,
        load(args.import_click_connections),
        lines,
        dir,
    )?;
    println!(
        "one-click during an import: {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} connections); the import meanwhile: {import_beside:.0} lines/s",
        during_import.measured.requests_per_second,
        during_import.measured.p50_ms,
        during_import.measured.p99_ms,
        during_import.measured.max_ms,
        args.import_click_connections
    );
    results.push(during_import.measured.clone());
    let two = match (backend, &args.database_url) {
        ("postgresql", Some(server_url)) => {
            let two = two_processes(url, server_url, &server, pair_clicks, writes_load, dir)?;
            println!(
                "two processes: {:.0} one-click writes/s together ({:.0} + {:.0}), {:.2}× one process's {:.0}",
                two.0 + two.1,
                two.0,
                two.1,
                (two.0 + two.1) / unsubscribes.measured.requests_per_second,
                unsubscribes.measured.requests_per_second
            );
            println!("their database backends while both wrote: {:?}", two.2);
            Some(two)
        }
        _ => None,
    };

    // 4. Report.
    println!();
    println!("| scenario | client | requests/s | decisions/s | p50 ms | p99 ms | ratio to bare | server CPU µs/request | client CPU | errors |");
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for m in &results {
        println!(
            "| {} | {} | {:.0} | {:.0} | {:.2} | {:.2} | {} | {} | {:.0}%{} | {} |",
            m.name,
            m.client,
            m.requests_per_second,
            m.decisions_per_second,
            m.p50_ms,
            m.p99_ms,
            match (m.ratio, m.name.starts_with("bare")) {
                (Some(r), _) => format!("{r:.2}"),
                (None, true) => "1 (baseline)".into(),
                (None, false) => "—".into(),
            },
            m.server_cpu_us_per_request.map_or("?".into(), |us| format!("{us:.1}")),
            m.client_cpu_share * 100.0,
            if m.client_bound { " (client-bound)" } else { "" },
            m.errors
        );
    }
    if results.iter().any(|m| m.client_bound) {
        println!();
        println!("client-bound: wrk used nearly all the CPU its threads can; those figures are the client's limit, not the server's");
    }
    let per_contact = |bytes: u64| bytes as f64 / contacts as f64;
    println!();
    println!(
        "server resident memory after load and import: {:.1} MiB ({:.0} bytes per contact)",
        rss as f64 / 1048576.0,
        per_contact(rss)
    );
    if let Some(bytes) = index_bytes {
        println!(
            "decision index: {:.1} MiB ({:.1} bytes per contact, {:.1} per address it holds)",
            bytes as f64 / 1048576.0,
            per_contact(bytes),
            bytes as f64 / index_addresses.unwrap_or(1).max(1) as f64
        );
    }
    if let Some((writes, ms)) = sharing {
        println!("one-click writes: {writes:.1} a commit on average, {ms:.2} ms a commit (writes included)");
    }
    let report = json!({
        "contacts": contacts,
        "mix": format!("{:?}", args.mix),
        "backend": backend,
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "client": client,
        "seconds_per_scenario": duration.as_secs(),
        "seed": {"contacts_per_second": contacts_rate, "statuses": statuses, "suppressions": suppressed, "suppression_import_lines_per_second": suppression_rate},
        "startup": {"ready_seconds": ready_after.as_secs_f64(), "index_load_ms": load_ms},
        "memory": {"rss_bytes": rss, "index_bytes": index_bytes, "index_addresses": index_addresses},
        "scenarios": results,
        "one_click_commits": sharing.map(|(writes, ms)| json!({"writes_per_commit": writes, "ms_per_commit": ms})),
        "one_click_durable": {"acknowledged": unsubscribes.acknowledged, "found": unsubscribes.found},
        "fsync_per_second": fsync,
        "suppression_import": {"lines": args.import_lines, "lines_per_second": import_rate},
        "one_click_during_import": {"import_lines": args.import_lines / 4, "import_lines_per_second": import_beside},
        "two_processes": two.map(|(a, b, waits)| json!({"writes_per_second": [a, b], "waits": waits})),
    });
    std::fs::write(&args.out, serde_json::to_string_pretty(&report).unwrap()).map_err(|e| e.to_string())?;
    println!("results written to {}", args.out);
    Ok(())
}

/// The writer's totals from the server's metrics: (commits, writes, seconds).
fn commit_totals(base: &str) -> Option<(f64, f64, f64)> {
    let text = reqwest::blocking::get(format!("{base}/metrics")).ok()?.text().ok()?;
    let value = |name: &str| {
        text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse::<f64>().ok())
    };
    Some((
        value("prefcenter_writes_per_commit_count")?,
        value("prefcenter_writes_per_commit_sum")?,
        value("prefcenter_commit_seconds_sum")?,
    ))
}

/// One-click writes while a suppression import of the addresses numbered `lines`
/// streams beside them (it starts a second before the clicks, and lasts longer than
/// they do): how long an import keeps a recipient waiting. The clicks' figures, and
/// the import's rate.
fn one_click_during_import(
    server: &Process,
    url: &str,
    key: &str,
    clicks: &[load::Request],
    load: load::Load,
    lines: std::ops::Range<usize>,
    dir: &std::path::Path,
) -> Result<(writes::Clicks, f64), String> {
    let (base, key) = (server.base.clone(), key.to_owned());
    let import =
        std::thread::spawn(move || writes::suppression_import(&base, &key, lines.len(), lines.start));
    std::thread::sleep(Duration::from_secs(1));
    let name = format!("POST /u/{{token}} during a suppression import ({} connections)", load.connections);
    let clicks = writes::one_click(&name, &server.base, server.pid(), url, clicks, load, dir)?;
    let rate = import.join().map_err(|_| "the import panicked".to_owned())??;
    Ok((clicks, rate))
}

/// Two prefcenter processes on one PostgreSQL, each loaded by a wrk of its own with half
/// the connections and its own half of `clicks`, at once; their write rates, and what
/// the database's backends waited for meanwhile.
fn two_processes(
    url: &str,
    server_url: &str,
    first: &Process,
    clicks: &[load::Request],
    load: load::Load,
    dir: &std::path::Path,
) -> Result<(f64, f64, writes::Waits), String> {
    let (second, _lines) = spawn_self("--serve-prefcenter", Some(url), &[])?;
    wait_ready(&second.base, Duration::from_secs(120))?;
    let half = load::Load { threads: 1, connections: load.connections / 2, duration: load.duration };
    let (a, b) = clicks.split_at(clicks.len() / 2);
    let (dir_a, dir_b) = (dir.join("a"), dir.join("b"));
    std::fs::create_dir_all(&dir_a).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&dir_b).map_err(|e| e.to_string())?;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // The bench's schema is in the URL's options; pg_stat_activity is per database.
    let sampler = {
        let (server_url, stop) = (server_url.to_owned(), stop.clone());
        std::thread::spawn(move || writes::sample_waits(&server_url, stop))
    };
    let (rate_a, rate_b) = std::thread::scope(|scope| {
        let one = scope.spawn(|| {
            writes::one_click("two processes: first", &first.base, first.pid(), url, a, half, &dir_a)
        });
        let two = scope.spawn(|| {
            writes::one_click("two processes: second", &second.base, second.pid(), url, b, half, &dir_b)
        });
        (one.join(), two.join())
    });
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let waits = sampler.join().map_err(|_| "the sampler panicked".to_owned())??;
    let rate = |r: std::thread::Result<Result<writes::Clicks, String>>| -> Result<f64, String> {
        Ok(r.map_err(|_| "a load thread panicked".to_owned())??.measured.requests_per_second)
    };
    Ok((rate(rate_a)?, rate(rate_b)?, waits))
}
