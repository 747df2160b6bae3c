//! Fills a fresh database with contacts, statuses and suppressions.

use std::time::Instant;

use prefcenter::domain::{AddressHasher, NormalizedAddress};
use prefcenter::store::contacts::ContactRow;
use prefcenter::store::subscriptions::SubscriptionRow;
use prefcenter::store::{self, Db};
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

/// Inserts contacts and statuses straight through the store, 1,000 rows a statement
/// (there is no bulk contact import route yet).
pub fn contacts(db: &mut Db, hasher: &AddressHasher, n: usize, mix: Mix) -> Result<(usize, f64), String> {
    let started = Instant::now();
    let now = store::now();
    let mut statuses = 0;
    for chunk_start in (0..n).step_by(1000) {
        let range = chunk_start..(chunk_start + 1000).min(n);
        let mut contacts = Vec::with_capacity(range.len());
        let mut subscriptions = Vec::new();
        for i in range {
            let address = NormalizedAddress::parse(&address(i)).map_err(|e| e.to_string())?;
            let id = uuid::Uuid::new_v4().to_string();
            let with_statuses = match mix {
                Mix::Realistic => i % 10 == 3,
                Mix::TwoStatuses => true,
            };
            if with_statuses {
                for (topic, status) in [
                    ("news", if i % 3 == 0 { "unsubscribed" } else { "subscribed" }),
                    ("offers", "subscribed"),
                ] {
                    subscriptions.push(SubscriptionRow {
                        contact_id: id.clone(),
                        topic_key: topic.into(),
                        status: status.into(),
                        source: "import".into(),
                        updated_at: now,
                    });
                }
            }
            contacts.push(ContactRow {
                id,
                email: Some(address.to_string()),
                address_hash: hasher.hash(&address).0.to_vec(),
                locale: None,
                external_id: None,
                unsubscribed_all: mix == Mix::Realistic && i % 20 == 7,
                unsubscribed_all_source: None,
                created_at: now,
                updated_at: now,
            });
        }
        statuses += subscriptions.len();
        store::write(db, |db| {
            store::contacts::insert_many(db, &contacts)?;
            for part in subscriptions.chunks(1000) {
                store::subscriptions::insert_many(db, part)?;
            }
            Ok(())
        })
        .map_err(|e| e.to_string())?;
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
    let started = Instant::now();
    let reply = reqwest::blocking::Client::builder()
        .timeout(None)
        .build()
        .map_err(|e| e.to_string())?
        .post(format!("{base}/v1/suppressions/import"))
        .bearer_auth(key)
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .map_err(|e| e.to_string())?;
    if !reply.status().is_success() {
        return Err(format!("import answered {}", reply.status()));
    }
    Ok((count, count as f64 / started.elapsed().as_secs_f64()))
}
