//! The keys this process has seen, so that authenticating a request costs a map
//! lookup and one keyed hash — never a database read or argon2 once a key is known.
//!
//! - **One read per key.** A key's row is read the first time a secret names it; every
//!   request that names it meanwhile waits for that one read (a single flight), then
//!   checks its own secret against the row's keyed hash.
//! - **No expiry on the request path.** A background task re-reads the cached rows
//!   every `PREFCENTER_API_KEY_REFRESH_MS` (30 s), in one query, to learn of
//!   revocations made through other processes; requests never wait for it, so entries
//!   cannot expire together and stampede, and while the database cannot answer every
//!   key already verified keeps working. A key revoked through this process stops at
//!   once; through another, within one refresh interval while the database answers.
//! - **Legacy rows** (argon2, from before keyed hashes) verify with argon2 once, one at
//!   a time per key and at most [`ARGON2_AT_ONCE`] in the process, then are re-hashed:
//!   in memory at once, in the row by the same request (or, should that write fail, by
//!   the next refresh).
//! - **Failures** are counted per client network before any work (see `failures`);
//!   a right secret is never refused for another's wrong ones.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use prometheus::{IntCounter, IntCounterVec, Opts, Registry};
use tokio::sync::{OnceCell, Semaphore};

use super::failures::{Failures, Reservation};
use super::Caller;
use crate::domain::api_key::{self, Scopes, SecretHasher, Verifier};
use crate::error::Error;
use crate::store::{self, api_keys::ApiKeyRow, Db, Pool};

/// argon2 verifications (19 MiB each) that may run at once in the process.
pub const ARGON2_AT_ONCE: usize = 2;

/// One key as its row last said.
struct Entry {
    key_id: String,
    scopes: Scopes,
    verifier: Verifier,
    /// Held while a legacy hash is checked, so that concurrent requests with the same
    /// key run argon2 once and then find the keyed hash it left.
    upgrade: Arc<tokio::sync::Mutex<()>>,
}

impl Entry {
    fn from_row(row: ApiKeyRow) -> Self {
        Self {
            verifier: Verifier::parse(&row.secret_hash),
            scopes: Scopes::from_stored(&row.scopes),
            key_id: row.id,
            upgrade: Arc::default(),
        }
    }

    fn caller(&self) -> Caller {
        Caller { key_id: self.key_id.clone(), scopes: self.scopes.clone() }
    }
}

/// What a first read of a key gave every request that waited for it.
type Loaded = Result<Option<Arc<Entry>>, Shared>;

/// A database failure, handed to every waiter of one read.
#[derive(Clone)]
enum Shared {
    Unavailable(String),
    Internal(Arc<anyhow::Error>),
}

impl From<Error> for Shared {
    fn from(e: Error) -> Self {
        match e {
            Error::Unavailable(cause) => Shared::Unavailable(cause),
            Error::Internal(cause) => Shared::Internal(Arc::new(cause)),
            other => Shared::Internal(Arc::new(anyhow::Error::msg(other.to_string()))),
        }
    }
}

impl From<Shared> for Error {
    fn from(e: Shared) -> Self {
        match e {
            Shared::Unavailable(cause) => Error::Unavailable(cause),
            Shared::Internal(cause) => Error::Internal(anyhow::Error::new(SharedCause(cause))),
        }
    }
}

/// One fault that several waiters answer with: each logs the same cause and chain.
#[derive(Debug)]
struct SharedCause(Arc<anyhow::Error>);

impl std::fmt::Display for SharedCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The outermost message; its causes follow through `source`.
        std::fmt::Display::fmt(&**self.0, f)
    }
}

impl std::error::Error for SharedCause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// What authentication did, for `/metrics`: the tests read these to see that work
/// happened once, or not at all.
#[derive(Clone)]
pub struct KeyMetrics {
    /// Rows read on the request path: keys this process did not know yet.
    pub lookups: IntCounter,
    /// argon2 verifications of legacy rows.
    pub argon2: IntCounter,
    /// Requests refused (429) because their network failed too often.
    pub refused: IntCounter,
    /// Background re-reads of the cached keys, by outcome (`ok`, `failed`).
    pub refreshes: IntCounterVec,
}

impl KeyMetrics {
    fn new() -> Self {
        let counter = |name: &str, help: &str| IntCounter::new(name, help).expect("a valid metric");
        Self {
            lookups: counter(
                "prefcenter_api_key_lookups_total",
                "API-key rows read while authenticating a request (a key not known to this process yet)",
            ),
            argon2: counter(
                "prefcenter_api_key_argon2_total",
                "argon2 verifications of legacy API-key hashes",
            ),
            refused: counter(
                "prefcenter_api_key_refused_total",
                "API-key checks refused before any work because the client network failed too often",
            ),
            refreshes: IntCounterVec::new(
                Opts::new("prefcenter_api_key_refreshes_total", "Background re-reads of the cached API keys"),
                &["outcome"],
            )
            .expect("a valid metric"),
        }
    }

    pub fn register(&self, registry: &Registry) -> prometheus::Result<()> {
        registry.register(Box::new(self.lookups.clone()))?;
        registry.register(Box::new(self.argon2.clone()))?;
        registry.register(Box::new(self.refused.clone()))?;
        registry.register(Box::new(self.refreshes.clone()))
    }
}

/// The known keys by lookup prefix, the reads in flight, and the failure counts.
pub struct KeyCache {
    hasher: SecretHasher,
    entries: RwLock<HashMap<String, Arc<Entry>>>,
    loading: Mutex<HashMap<String, Arc<OnceCell<Loaded>>>>,
    /// Bumped by every eviction: a read that began before one must not cache its row.
    evictions: AtomicU64,
    failures: Failures,
    argon2: Arc<Semaphore>,
    pub metrics: KeyMetrics,
}

impl KeyCache {
    pub fn new(hasher: SecretHasher) -> Self {
        Self {
            hasher,
            entries: RwLock::default(),
            loading: Mutex::default(),
            evictions: AtomicU64::new(0),
            failures: Failures::default(),
            argon2: Arc::new(Semaphore::new(ARGON2_AT_ONCE)),
            metrics: KeyMetrics::new(),
        }
    }

    /// Verifies `presented` for a request from `network` (a client-network pseudonym).
    pub async fn authenticate(
        &self,
        pool: &Pool,
        presented: &str,
        network: impl FnOnce() -> String,
    ) -> Result<Caller, Error> {
        let result = self.verify(pool, presented, network).await;
        if let Err(Error::RateLimited { .. }) = result {
            self.metrics.refused.inc();
        }
        result
    }

    async fn verify(
        &self,
        pool: &Pool,
        presented: &str,
        network: impl FnOnce() -> String,
    ) -> Result<Caller, Error> {
        let lookup = api_key::lookup_of(presented).ok_or(Error::Unauthorized)?;
        // A known key with its right secret is settled by one keyed hash, without I/O:
        // the client's network (a pseudonym, a keyed hash of its own) is worked out
        // only where a failure may be counted against it.
        if let Some(caller) = self.cached(presented) {
            return Ok(caller);
        }
        let network = network();
        let known = self.entry(lookup);
        let compared = known.is_some();
        let (entry, reservation) = match known {
            Some(entry) => (entry, None),
            None => match self.load(pool, lookup, &network).await? {
                (Some(entry), reservation) => (entry, reservation),
                (None, reservation) => return Err(self.refuse(reservation, &network)),
            },
        };
        match &entry.verifier {
            // A key known before this request was compared above: it did not match.
            Verifier::Hmac(tag) => {
                let verified = !compared && self.hasher.matches(presented, tag);
                self.settle(verified, &entry, reservation, &network)
            }
            Verifier::Argon2(_) => {
                self.verify_legacy(pool, lookup, entry, presented, &network, reservation).await
            }
            Verifier::Unusable => Err(self.refuse(reservation, &network)),
        }
    }

    /// The caller of a known key whose secret is `presented`, without any I/O: the
    /// whole cost of authentication once a key is known.
    pub fn cached(&self, presented: &str) -> Option<Caller> {
        let entry = self.entry(api_key::lookup_of(presented)?)?;
        match &entry.verifier {
            Verifier::Hmac(tag) if self.hasher.matches(presented, tag) => Some(entry.caller()),
            _ => None,
        }
    }

    /// Makes `secret` known as `caller`'s key, as a first read of its row would.
    pub fn remember(&self, secret: &str, caller: Caller) {
        let Some(lookup) = api_key::lookup_of(secret) else { return };
        let entry = Entry {
            key_id: caller.key_id,
            scopes: caller.scopes,
            verifier: self.hasher.verifier(secret),
            upgrade: Arc::default(),
        };
        self.write().insert(lookup.to_owned(), Arc::new(entry));
    }

    /// Forgets the key `key_id` (it was revoked here).
    pub fn evict(&self, key_id: &str) {
        let mut entries = self.write();
        self.evictions.fetch_add(1, Ordering::SeqCst);
        entries.retain(|_, entry| entry.key_id != key_id);
    }

    fn entry(&self, lookup: &str) -> Option<Arc<Entry>> {
        self.entries.read().unwrap_or_else(|e| e.into_inner()).get(lookup).cloned()
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<Entry>>> {
        self.entries.write().unwrap_or_else(|e| e.into_inner())
    }

    /// A verification's end: the caller, or the answer to a wrong secret (the
    /// reservation, when the request held one, becomes the failure).
    fn settle(
        &self,
        verified: bool,
        entry: &Entry,
        reservation: Option<Reservation<'_>>,
        network: &str,
    ) -> Result<Caller, Error> {
        if !verified {
            return Err(self.refuse(reservation, network));
        }
        if let Some(reservation) = reservation {
            reservation.release();
        }
        Ok(entry.caller())
    }

    fn refuse(&self, reservation: Option<Reservation<'_>>, network: &str) -> Error {
        match reservation {
            // Dropping it counts the failure.
            Some(_) => Error::Unauthorized,
            None => self.failures.fail(network),
        }
    }

    /// Reads the row `lookup` names, once for every request that asks meanwhile. The
    /// request that does the read holds a reservation for it, returned here.
    async fn load<'a>(
        &'a self,
        pool: &Pool,
        lookup: &str,
        network: &str,
    ) -> Result<(Option<Arc<Entry>>, Option<Reservation<'a>>), Error> {
        let cell = {
            let mut loading = self.loading.lock().unwrap_or_else(|e| e.into_inner());
            // Checked again under the lock a finished read takes to leave: a request
            // either finds the read in flight or the entry it left.
            if let Some(entry) = self.entry(lookup) {
                return Ok((Some(entry), None));
            }
            loading.entry(lookup.to_owned()).or_default().clone()
        };
        let _leave = LoadSlot { cache: self, lookup, cell: &cell };
        let mut reservation = None;
        let loaded = cell
            .get_or_try_init(|| async {
                // A refused reservation leaves the cell empty: another waiter, from
                // another network, may then try.
                reservation = Some(self.failures.reserve(network)?);
                Ok::<_, Error>(self.read(pool, lookup).await)
            })
            .await?
            .clone();
        match loaded {
            Ok(entry) => Ok((entry, reservation)),
            Err(fault) => {
                // The database's fault, not the caller's.
                if let Some(reservation) = reservation {
                    reservation.release();
                }
                Err(fault.into())
            }
        }
    }

    async fn read(&self, pool: &Pool, lookup: &str) -> Loaded {
        self.metrics.lookups.inc();
        let evictions = self.evictions.load(Ordering::SeqCst);
        let wanted = lookup.to_owned();
        let row = store::run(pool, move |db| Ok(store::api_keys::active_by_lookup(db, &wanted)?)).await?;
        let Some(row) = row else { return Ok(None) };
        let entry = Arc::new(Entry::from_row(row));
        let mut entries = self.write();
        if self.evictions.load(Ordering::SeqCst) == evictions {
            entries.insert(lookup.to_owned(), entry.clone());
        }
        Ok(Some(entry))
    }

    /// A legacy row: argon2 once, then the keyed hash in memory and in the row.
    async fn verify_legacy(
        &self,
        pool: &Pool,
        lookup: &str,
        entry: Arc<Entry>,
        presented: &str,
        network: &str,
        reservation: Option<Reservation<'_>>,
    ) -> Result<Caller, Error> {
        let _turn = entry.upgrade.clone().lock_owned().await;
        // Another request may have verified the key while this one waited; a key
        // revoked meanwhile is gone.
        let Some(current) = self.entry(lookup).filter(|e| e.key_id == entry.key_id) else {
            return Err(self.refuse(reservation, network));
        };
        let phc = match &current.verifier {
            Verifier::Hmac(tag) => {
                return self.settle(self.hasher.matches(presented, tag), &current, reservation, network)
            }
            Verifier::Argon2(phc) => phc.clone(),
            Verifier::Unusable => return Err(self.refuse(reservation, network)),
        };
        let reservation = match reservation {
            Some(reservation) => reservation,
            None => self.failures.reserve(network)?,
        };
        let permit = self.argon2.clone().acquire_owned().await.expect("the semaphore is never closed");
        self.metrics.argon2.inc();
        let (secret, old) = (presented.to_owned(), phc.clone());
        let verified = actix_web::web::block(move || {
            let _permit = permit;
            api_key::argon2_matches(&secret, &old)
        })
        .await
        .map_err(|e| Error::internal("blocking task failed", e))?;
        if !verified {
            drop(reservation);
            return Err(Error::Unauthorized);
        }
        reservation.release();
        let upgraded = self.hasher.verifier(presented);
        let new = upgraded.to_stored().expect("a keyed hash has a stored form");
        {
            let mut entries = self.write();
            if entries.get(lookup).is_some_and(|e| Arc::ptr_eq(e, &current)) {
                let entry = Entry {
                    key_id: current.key_id.clone(),
                    scopes: current.scopes.clone(),
                    verifier: upgraded,
                    upgrade: current.upgrade.clone(),
                };
                entries.insert(lookup.to_owned(), Arc::new(entry));
            }
        }
        // Written through now; should it fail, the row keeps its argon2 hash (which
        // still verifies) and the next refresh writes it. The request succeeds either way.
        let id = current.key_id.clone();
        let rehashed =
            store::run(pool, move |db| Ok(store::api_keys::replace_hash(db, &id, &phc, &new)?)).await;
        match rehashed {
            Ok(_) => tracing::info!(key_id = %current.key_id, "re-hashed a legacy API key"),
            Err(e) => {
                tracing::warn!(key_id = %current.key_id, error = %e, "could not re-hash a legacy API key yet")
            }
        }
        Ok(current.caller())
    }

    /// Re-reads every cached key in one query: revoked keys are forgotten, scopes
    /// follow their rows, and keyed hashes that a legacy row is still waiting for are
    /// written. Returns how many keys it checked.
    pub fn refresh(&self, db: &mut Db) -> Result<usize, Error> {
        let seen: Vec<(String, Arc<Entry>)> = {
            let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
            entries.iter().map(|(lookup, entry)| (lookup.clone(), entry.clone())).collect()
        };
        if seen.is_empty() {
            return Ok(0);
        }
        let lookups: Vec<String> = seen.iter().map(|(lookup, _)| lookup.clone()).collect();
        let mut rows: HashMap<String, ApiKeyRow> = store::api_keys::by_lookups(db, &lookups)?
            .into_iter()
            .map(|row| (row.lookup.clone(), row))
            .collect();
        let mut rehash = Vec::new();
        {
            let mut entries = self.write();
            for (lookup, before) in &seen {
                // Changed since it was read here (re-hashed, evicted): the next round.
                if !entries.get(lookup).is_some_and(|e| Arc::ptr_eq(e, before)) {
                    continue;
                }
                let Some(row) = rows.remove(lookup).filter(|row| row.revoked_at.is_none()) else {
                    entries.remove(lookup);
                    continue;
                };
                let verifier = match (Verifier::parse(&row.secret_hash), &before.verifier) {
                    (Verifier::Argon2(old), Verifier::Hmac(_)) => {
                        let new = before.verifier.to_stored().expect("a keyed hash has a stored form");
                        rehash.push((row.id.clone(), old, new));
                        before.verifier.clone()
                    }
                    (stored, _) => stored,
                };
                let scopes = Scopes::from_stored(&row.scopes);
                if verifier != before.verifier || scopes != before.scopes {
                    let entry = Entry { key_id: row.id, scopes, verifier, upgrade: before.upgrade.clone() };
                    entries.insert(lookup.clone(), Arc::new(entry));
                }
            }
        }
        for (id, old, new) in rehash {
            store::api_keys::replace_hash(db, &id, &old, &new)?;
            tracing::info!(key_id = %id, "re-hashed a legacy API key");
        }
        Ok(seen.len())
    }
}

/// Takes a finished (or abandoned) read out of the map of reads in flight.
struct LoadSlot<'a> {
    cache: &'a KeyCache,
    lookup: &'a str,
    cell: &'a Arc<OnceCell<Loaded>>,
}

impl Drop for LoadSlot<'_> {
    fn drop(&mut self) {
        let mut loading = self.cache.loading.lock().unwrap_or_else(|e| e.into_inner());
        // A read that did not happen (its reservation was refused) stays while others
        // wait on it: one of them does it.
        let done = self.cell.initialized() || Arc::strong_count(self.cell) <= 2;
        if done && loading.get(self.lookup).is_some_and(|c| Arc::ptr_eq(c, self.cell)) {
            loading.remove(self.lookup);
        }
    }
}
