//! The write scenarios: durable one-click unsubscribes driven by `wrk` (each request a
//! link not clicked before, and afterwards every 2xx counted back in the database), a
//! streamed suppression import, two processes writing to one PostgreSQL at once, and
//! the filesystem's fsync rate measured in the same run, the physical limit a durable
//! write is read against.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use prefcenter::store::{self, DatabaseUrl};
use serde::Serialize;

use crate::load::{self, Load, Measured, Request};

/// How many fsyncs a second the filesystem holding `dir` completes, one after the
/// other, each after a 4 KiB write (what a commit waits for), over `seconds`.
pub fn fsync_rate(dir: &Path, seconds: f64) -> Result<f64, String> {
    let path = dir.join("fsync-probe");
    let mut file = std::fs::File::create(&path).map_err(|e| e.to_string())?;
    let block = [0u8; 4096];
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed().as_secs_f64() < seconds {
        file.write_all(&block).map_err(|e| e.to_string())?;
        file.sync_data().map_err(|e| e.to_string())?;
        n += 1;
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    drop(file);
    let _ = std::fs::remove_file(&path);
    Ok(rate)
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The unsubscribes recipients made in one click, as the database holds them now.
pub fn one_click_unsubscribes(url: &str) -> Result<i64, String> {
    let url = DatabaseUrl::parse(url).map_err(|e| e.to_string())?;
    let mut db = store::connect_one(&url).map_err(|e| format!("{e:#}"))?;
    let counted: Count = diesel::sql_query(
        "SELECT COUNT(*) AS n FROM subscriptions WHERE status = 'unsubscribed' AND source = 'one_click'",
    )
    .get_result(&mut db)
    .map_err(|e| e.to_string())?;
    Ok(counted.n)
}

/// One-click writes and what became of them.
#[derive(Debug, Serialize)]
pub struct Clicks {
    pub measured: Measured,
    /// Answers with a 2xx: each a durable unsubscribe, if the service keeps its word.
    pub acknowledged: u64,
    /// One-click unsubscribes the database holds that it did not hold before the run:
    /// at least `acknowledged` (a request still in flight when wrk stopped may have
    /// been applied without wrk counting its answer).
    pub found: i64,
}

/// Loads `base` with `clicks` (each sent once: wrk's threads take disjoint parts, and
/// there are more than the run can send) and counts the acknowledged ones back.
pub fn one_click(
    name: &str,
    base: &str,
    server: Option<u32>,
    url: &str,
    clicks: &[Request],
    load: Load,
    dir: &Path,
) -> Result<Clicks, String> {
    let before = one_click_unsubscribes(url)?;
    let measured = load::run(name, base, server, clicks, 1, load, dir)?;
    let found = one_click_unsubscribes(url)? - before;
    let acknowledged = measured.requests - measured.errors;
    if measured.requests as usize > clicks.len() {
        return Err(format!(
            "{name}: wrk sent {} requests but there are {} links: some were sent twice",
            measured.requests,
            clicks.len()
        ));
    }
    if found < acknowledged as i64 {
        return Err(format!(
            "{name}: {acknowledged} unsubscribes were acknowledged but only {found} are in the database"
        ));
    }
    Ok(Clicks { measured, acknowledged, found })
}

/// Streams `lines` suppressions to the import route in one request; lines a second.
pub fn suppression_import(base: &str, key: &str, lines: usize, offset: usize) -> Result<f64, String> {
    let mut body = Vec::with_capacity(lines * 64);
    for i in 0..lines {
        let reason = if i % 3 == 0 { "hard_bounce" } else { "complaint" };
        writeln!(body, r#"{{"email": "imported{}@example.net", "reason": "{reason}"}}"#, offset + i)
            .map_err(|e| e.to_string())?;
    }
    let client = reqwest::blocking::Client::builder().timeout(None).build().map_err(|e| e.to_string())?;
    let started = Instant::now();
    // Sent without a length, as a large upload is streamed.
    let reply = client
        .post(format!("{base}/v1/suppressions/import"))
        .bearer_auth(key)
        .header("content-type", "application/x-ndjson")
        .body(reqwest::blocking::Body::new(std::io::Cursor::new(body)))
        .send()
        .map_err(|e| e.to_string())?;
    let seconds = started.elapsed().as_secs_f64();
    let status = reply.status();
    let report: serde_json::Value = reply.json().map_err(|e| e.to_string())?;
    if !status.is_success() || report["created"].as_u64() != Some(lines as u64) {
        return Err(format!("the suppression import answered {status}: {report}"));
    }
    Ok(lines as f64 / seconds)
}

/// What the backends of the bench's database were waiting for while two processes
/// wrote at once, from `pg_stat_activity` sampled every 20 ms.
#[derive(Debug, Default, Serialize)]
pub struct Waits {
    pub samples: u64,
    /// Backends seen active (running a statement or waiting), summed over the samples.
    pub active: u64,
    /// Of those, waiting for a heavyweight lock, by what kind (`advisory`,
    /// `transactionid`, `tuple`, …) and whether the statement waiting was the
    /// ledger's numbering (which takes the head row; its statements name the ledger)
    /// or another, named by its first words.
    pub on_locks: Vec<(String, u64)>,
    /// Of those, waiting for the WAL to reach the disk (a commit's fsync).
    pub on_wal_flush: u64,
}

#[derive(QueryableByName)]
struct Activity {
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = Text)]
    wait: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    numbering: bool,
    /// The statement's first words, to name what a write waiting on a lock ran.
    #[diesel(sql_type = Text)]
    statement: String,
}

/// Samples `pg_stat_activity` until `stop` is set.
pub fn sample_waits(server: &str, stop: Arc<AtomicBool>) -> Result<Waits, String> {
    let mut conn = diesel::PgConnection::establish(server).map_err(|e| e.to_string())?;
    let mut waits = Waits::default();
    let mut locks: std::collections::BTreeMap<String, u64> = Default::default();
    while !stop.load(Ordering::SeqCst) {
        let rows: Vec<Activity> = diesel::sql_query(
            "SELECT coalesce(state, '') AS state, coalesce(wait_event_type, '') || ':' || coalesce(wait_event, '') AS wait, \
             coalesce(query LIKE '%ledger%', false) AS numbering, left(coalesce(query, ''), 40) AS statement \
             FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() \
             AND backend_type = 'client backend'",
        )
        .load(&mut conn)
        .map_err(|e| e.to_string())?;
        waits.samples += 1;
        for row in rows.iter().filter(|r| r.state == "active") {
            waits.active += 1;
            match row.wait.split_once(':') {
                Some(("Lock", kind)) => {
                    let by = if row.numbering {
                        "numbering".to_owned()
                    } else {
                        format!("other: {}", row.statement)
                    };
                    *locks.entry(format!("{kind} ({by})")).or_default() += 1
                }
                Some(("IO", "WalSync" | "WalWrite")) | Some(("LWLock", "WALWrite")) => {
                    waits.on_wal_flush += 1
                }
                _ => {}
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    waits.on_locks = locks.into_iter().collect();
    Ok(waits)
}
