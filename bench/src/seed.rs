//! Fills a fresh database with contacts, statuses and suppressions.

use std::time::Instant;

use serde_json::json;

/// What share of contacts get which state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mix {
    /// 5% unsubscribed from all, 10% with two topic statuses, 2% suppressed.
    Realistic,
    /// Every contact has two explicit statuses: the index's memory goal.
    TwoStatuses,
}

pub fn address(i: usize) -> String {
    format!("user{i}@example.com")
}

/// Imports the contacts with their statuses through the running server's import
/// route (`POST /v1/contacts/import`), 100,000 lines a request.
pub fn contacts(base: &str, key: &str, n: usize, mix: Mix) -> Result<(usize, f64), String> {
    let client = reqwest::blocking::Client::builder().timeout(None).build().map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut statuses = 0;
    for chunk_start in (0..n).step_by(100_000) {
        let mut body = String::new();
        for i in chunk_start..(chunk_start + 100_000).min(n) {
            let with_statuses = match mix {
                Mix::Realistic => i % 10 == 3,
                Mix::TwoStatuses => true,
            };
            let mut line = json!({"email": address(i)});
            if with_statuses {
                let news = if i % 3 == 0 { "unsubscribed" } else { "subscribed" };
                line["subscriptions"] = json!({"news": news, "offers": "subscribed"});
                statuses += 2;
            }
            if mix == Mix::Realistic && i % 20 == 7 {
                line["unsubscribed_all"] = json!(true);
            }
            body.push_str(&line.to_string());
            body.push('\n');
        }
        let report = import(&client, &format!("{base}/v1/contacts/import"), key, body)?;
        if report["failed"].as_u64() != Some(0) {
            return Err(format!("the contact import failed lines: {report}"));
        }
    }
    Ok((statuses, n as f64 / started.elapsed().as_secs_f64()))
}

/// Suppresses 2% of the addresses through the running server's import route.
pub fn suppressions(base: &str, key: &str, n: usize) -> Result<(usize, f64), String> {
    let mut body = String::new();
    let mut count = 0;
    for i in (11..n).step_by(50) {
        let reason = if i % 100 == 11 { "hard_bounce" } else { "complaint" };
        body.push_str(&json!({"email": address(i), "reason": reason}).to_string());
        body.push('\n');
        count += 1;
    }
    let client = reqwest::blocking::Client::builder().timeout(None).build().map_err(|e| e.to_string())?;
    let started = Instant::now();
    import(&client, &format!("{base}/v1/suppressions/import"), key, body)?;
    Ok((count, count as f64 / started.elapsed().as_secs_f64()))
}

/// Posts an NDJSON body to an import route; its report.
fn import(
    client: &reqwest::blocking::Client,
    url: &str,
    key: &str,
    body: String,
) -> Result<serde_json::Value, String> {
    let reply = client
        .post(url)
        .bearer_auth(key)
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .map_err(|e| e.to_string())?;
    if !reply.status().is_success() {
        let status = reply.status();
        return Err(format!("{url} answered {status}: {}", reply.text().unwrap_or_default()));
    }
    reply.json().map_err(|e| e.to_string())
}
