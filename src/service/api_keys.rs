//! API keys: creating, listing and revoking them, and authenticating a presented
//! secret without paying argon2 on every request.

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use super::utc;
use crate::domain::api_key::{self, NewSecret, Scopes};
use crate::domain::KeyScope;
use crate::error::Error;
use crate::store::{self, api_keys::ApiKeyRow, Db};
use crate::App;

/// How long a verified secret is trusted without asking the database again. It bounds
/// how long a key revoked through another process keeps working there.
const CACHE_TTL: Duration = Duration::from_secs(30);
/// Failed verifications allowed per key per window before the key answers 429: a
/// flood of wrong secrets must not become a flood of argon2 work.
const MAX_FAILURES: u32 = 5;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);

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
    pub name: String,
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
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid("name", "a name of 1 to 100 characters is required"));
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
    let mut secret = NewSecret::generate();
    while store::api_keys::lookup_taken(db, &secret.lookup)? {
        secret = NewSecret::generate();
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
    tracing::info!(key_id = %row.id, name = %row.name, scopes = %row.scopes, "created API key");
    Ok(CreatedKey { key: row.into(), secret: secret.secret })
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

pub async fn create(app: &App, input: NewKey) -> Result<CreatedKey, Error> {
    validate(&input)?;
    store::run(&app.pool, move |db| create_on(db, &input)).await
}

pub fn list_on(db: &mut Db) -> Result<Vec<KeyView>, Error> {
    Ok(store::api_keys::list(db)?.into_iter().map(KeyView::from).collect())
}

pub async fn list(app: &App) -> Result<Vec<KeyView>, Error> {
    store::run(&app.pool, list_on).await
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

pub async fn revoke(app: &App, id: String) -> Result<(), Error> {
    let revoked = id.clone();
    store::run(&app.pool, move |db| revoke_on(db, &id)).await?;
    app.keys.evict(&revoked);
    Ok(())
}

/// Verifies a presented secret: from the cache when it was verified lately, else by
/// its lookup prefix and argon2 on the blocking pool.
pub async fn authenticate(app: &App, presented: &str) -> Result<Caller, Error> {
    let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
    if let Some(caller) = app.keys.get(&digest) {
        return Ok(caller);
    }
    let lookup = api_key::lookup_of(presented).ok_or(Error::Unauthorized)?.to_owned();
    app.keys.check_failures(&lookup)?;
    let secret = presented.to_owned();
    let lookup_for_db = lookup.clone();
    let verified = store::run(&app.pool, move |db| {
        let row = store::api_keys::active_by_lookup(db, &lookup_for_db)?;
        Ok(row.filter(|row| api_key::verify(&secret, &row.secret_hash)))
    })
    .await?;
    match verified {
        Some(row) => {
            let caller = Caller { key_id: row.id, scopes: Scopes::from_stored(&row.scopes) };
            app.keys.insert(digest, caller.clone());
            Ok(caller)
        }
        None => {
            app.keys.record_failure(lookup);
            Err(Error::Unauthorized)
        }
    }
}

/// Verified secrets by SHA-256 digest (never the secret itself), and recent failures
/// per lookup prefix.
#[derive(Default)]
pub struct KeyCache {
    verified: RwLock<HashMap<[u8; 32], (Caller, Instant)>>,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl KeyCache {
    /// The cached verification of `secret`, if it is fresh: the whole cost of a
    /// request's authentication after its key's first use.
    pub fn cached(&self, secret: &str) -> Option<Caller> {
        self.get(&Sha256::digest(secret.as_bytes()).into())
    }

    /// Remembers that `secret` verified as `caller` (as `authenticate` does).
    pub fn remember(&self, secret: &str, caller: Caller) {
        self.insert(Sha256::digest(secret.as_bytes()).into(), caller);
    }

    fn get(&self, digest: &[u8; 32]) -> Option<Caller> {
        let verified = self.verified.read().unwrap_or_else(|e| e.into_inner());
        verified.get(digest).filter(|(_, at)| at.elapsed() < CACHE_TTL).map(|(caller, _)| caller.clone())
    }

    fn insert(&self, digest: [u8; 32], caller: Caller) {
        let mut verified = self.verified.write().unwrap_or_else(|e| e.into_inner());
        if verified.len() >= 10_000 {
            verified.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
        }
        verified.insert(digest, (caller, Instant::now()));
    }

    /// Forgets every cached verification of the key `key_id`.
    fn evict(&self, key_id: &str) {
        let mut verified = self.verified.write().unwrap_or_else(|e| e.into_inner());
        verified.retain(|_, (caller, _)| caller.key_id != key_id);
    }

    fn check_failures(&self, lookup: &str) -> Result<(), Error> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match failures.get(lookup) {
            Some((count, since)) if *count >= MAX_FAILURES && since.elapsed() < FAILURE_WINDOW => {
                let retry_after = (FAILURE_WINDOW - since.elapsed()).as_secs().max(1);
                Err(Error::RateLimited { retry_after })
            }
            _ => Ok(()),
        }
    }

    fn record_failure(&self, lookup: String) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= 10_000 {
            failures.retain(|_, (_, since)| since.elapsed() < FAILURE_WINDOW);
        }
        let entry = failures.entry(lookup).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= FAILURE_WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }
}
