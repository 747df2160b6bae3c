//! API keys: creating, listing and revoking them, and authenticating a presented
//! secret with a keyed hash from memory (see `cache`), never argon2 on the request path.

mod cache;
mod failures;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::utc;
use crate::domain::api_key::{self, NewSecret, Scopes, SecretHasher};
use crate::domain::KeyScope;
use crate::error::Error;
use crate::service::Context;
use crate::store::{self, api_keys::ApiKeyRow, Db, Tx};

pub use cache::{KeyCache, KeyMetrics, ARGON2_AT_ONCE};
pub use failures::{Failures, FAILURE_WINDOW, MAX_FAILURES};

/// Who is calling, once their key has been verified.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key_id: String,
    pub scopes: Scopes,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// What the key is for, e.g. "campaign-mailer".
    #[schema(min_length = 1, max_length = 100, pattern = "\\S", example = "campaign-mailer")]
    pub name: String,
    #[schema(min_items = 1, example = json!(["check"]))]
    pub scopes: Vec<KeyScope>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    pub id: String,
    pub name: String,
    /// The first characters of the secret, to recognise it by.
    pub prefix: String,
    pub scopes: Vec<KeyScope>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A new key with its secret, which is shown only this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKey {
    #[serde(flatten)]
    pub key: KeyView,
    pub secret: String,
}

impl From<ApiKeyRow> for KeyView {
    fn from(row: ApiKeyRow) -> Self {
        Self {
            prefix: format!("pc_{}", row.lookup),
            scopes: Scopes::from_stored(&row.scopes).iter().collect(),
            id: row.id,
            name: row.name,
            created_at: utc(row.created_at),
            revoked_at: row.revoked_at.map(utc),
        }
    }
}

fn validate(input: &NewKey) -> Result<Scopes, Error> {
    if let Some(problem) = api_key::name_problem(input.name.trim()) {
        return Err(Error::invalid("name", problem));
    }
    let scopes = Scopes::new(input.scopes.iter().copied());
    if scopes.is_empty() {
        return Err(Error::invalid("scopes", "at least one scope is required"));
    }
    Ok(scopes)
}

/// Creates a key on a connection (the CLI's path, and the API's through [`create`]).
pub fn create_on(db: &mut Db, input: &NewKey) -> Result<CreatedKey, Error> {
    let scopes = validate(input)?;
    // Lookup prefixes are unique: draw again rather than fail on the rare repeat.
    let hasher = hasher_on(db)?;
    let mut secret = NewSecret::generate(&hasher);
    while store::api_keys::lookup_taken(db, &secret.lookup)? {
        secret = NewSecret::generate(&hasher);
    }
    let row = ApiKeyRow {
        id: Uuid::new_v4().to_string(),
        name: input.name.trim().to_owned(),
        lookup: secret.lookup,
        secret_hash: secret.hash,
        scopes: scopes.to_stored(),
        created_at: store::now(),
        revoked_at: None,
    };
    store::api_keys::insert(db, &row)?;
    // The name is logged quoted and escaped: whatever it holds stays on one line.
    tracing::info!(key_id = %row.id, name = ?row.name, scopes = %row.scopes, "created API key");
    Ok(CreatedKey { key: row.into(), secret: secret.secret })
}

/// The server key of API-key hashes: made on first use and kept in `settings`, like
/// the address-hashing key. Call inside `store::write` where two processes may start
/// at once.
pub fn hasher_on(db: &mut Db) -> Result<SecretHasher, Error> {
    let stored = store::settings::get_or_init(db, "api_key_hmac_key", SecretHasher::generate_setting)?;
    SecretHasher::from_setting(&stored).map_err(Error::bug)
}

/// On a database with no key at all, creates the `admin` key and returns its secret.
/// Runs inside `store::write`, so two processes starting together create one.
pub fn create_first_admin(db: &mut Db) -> Result<Option<String>, Error> {
    if store::api_keys::count(db)? > 0 {
        return Ok(None);
    }
    let input = NewKey { name: "admin".into(), scopes: vec![KeyScope::Admin] };
    create_on(db, &input).map(|created| Some(created.secret))
}

/// Creates a key through the API or the console, recording it for the audit
/// (`admin_changes`; the command line's [`create_on`] records nothing).
pub async fn create(cx: &Context, input: NewKey) -> Result<CreatedKey, Error> {
    validate(&input)?;
    super::write(cx, move |tx| {
        let created = create_on(tx, &input)?;
        record(tx, "created", &created.key)?;
        Ok(created)
    })
    .await
}

/// Records a change of a key for the audit: what happened, then the key's prefix and
/// name, so that the audit names the key an operator recognises (never its secret).
fn record(tx: &mut Tx, what: &str, key: &KeyView) -> Result<(), Error> {
    let scopes: Vec<&str> = key.scopes.iter().map(|s| s.as_str()).collect();
    let detail = format!("{what} {} {:?} {}", key.prefix, key.name, scopes.join(","));
    Ok(store::admin_changes::record(tx, "api_key_changed", &detail)?)
}

pub fn list_on(db: &mut Db) -> Result<Vec<KeyView>, Error> {
    Ok(store::api_keys::list(db)?.into_iter().map(KeyView::from).collect())
}

pub async fn list(cx: &Context) -> Result<Vec<KeyView>, Error> {
    store::run(&cx.pool, list_on).await
}

/// Revokes a key; 404 when no active key has that id.
pub fn revoke_on(db: &mut Db, id: &str) -> Result<(), Error> {
    if store::api_keys::revoke(db, id, store::now())? {
        tracing::info!(key_id = %id, "revoked API key");
        Ok(())
    } else {
        Err(Error::not_found(format!("no active API key has the id {id:?}")))
    }
}

pub async fn revoke(cx: &Context, id: String) -> Result<(), Error> {
    let revoked = id.clone();
    super::write(cx, move |tx| {
        revoke_on(tx, &id)?;
        if let Some(row) = store::api_keys::find(tx, &id)? {
            record(tx, "revoked", &row.into())?;
        }
        Ok(())
    })
    .await?;
    cx.keys.evict(&revoked);
    Ok(())
}

/// Verifies a presented secret for a request from `network` (the pseudonym of the
/// client's network, which failures count against; worked out only when a failure may
/// have to be counted).
pub async fn authenticate(
    cx: &Context,
    presented: &str,
    network: impl FnOnce() -> String,
) -> Result<Caller, Error> {
    cx.keys.authenticate(&cx.pool, presented, network).await
}

/// Re-reads the cached keys every `interval` (see `cache`), so that a key revoked
/// through another process stops working here within that bound. Ends when the
/// context is dropped.
pub fn spawn_refresher(cx: std::sync::Weak<Context>, interval: Duration) {
    std::thread::Builder::new()
        .name("api-key-refresh".into())
        .spawn(move || {
            let mut last = std::time::Instant::now();
            loop {
                std::thread::sleep(interval.min(Duration::from_millis(200)));
                let Some(cx) = cx.upgrade() else { return };
                if last.elapsed() < interval {
                    continue;
                }
                last = std::time::Instant::now();
                let result = cx
                    .pool
                    .get()
                    .map_err(|e| Error::Unavailable(format!("database pool: {e}")))
                    .and_then(|mut db| cx.keys.refresh(&mut db));
                let outcome = match result {
                    Ok(_) => "ok",
                    Err(e) => {
                        // Keys already verified keep working meanwhile.
                        tracing::warn!(error = %e, "could not re-read the API keys");
                        "failed"
                    }
                };
                cx.keys.metrics.refreshes.with_label_values(&[outcome]).inc();
            }
        })
        .expect("a thread for API-key refreshes");
}
