//! The console's operators and their sessions: accounts with a role and an argon2id
//! password hash, logging in (rate-limited with a back-off, never telling whether an
//! address is an operator's), and server-side sessions with idle and absolute expiry,
//! each with its own CSRF token.

use std::sync::OnceLock;
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use chrono::{NaiveDateTime, TimeDelta};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::domain::{AddressHasher, NormalizedAddress, Role};
use crate::error::{ConflictCode, Error};
use crate::service::Context;
use crate::store::admin_changes::AdminChangeRow;
use crate::store::console_sessions::{self, SessionRow};
use crate::store::login_failures;
use crate::store::operators::{self, OperatorRow};
use crate::store::{self, Db};

/// A session ends after this long without a request.
pub const IDLE: TimeDelta = TimeDelta::minutes(30);
/// A session ends this long after its login, however busy.
pub const ABSOLUTE: TimeDelta = TimeDelta::hours(12);

/// The shortest password an operator may have.
pub const MIN_PASSWORD: usize = 12;

/// An operator as the console and the command line show one.
#[derive(Debug, Clone)]
pub struct Operator {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub locale: String,
    pub disabled_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

impl From<OperatorRow> for Operator {
    fn from(row: OperatorRow) -> Self {
        Operator {
            id: row.id,
            email: row.email,
            role: row.role,
            locale: row.locale,
            disabled_at: row.disabled_at,
            created_at: row.created_at,
        }
    }
}

/// An operator's address as stored: normalized, so that logging in does not depend on
/// how it is typed.
fn normalize(email: &str) -> Result<String, Error> {
    NormalizedAddress::parse(email.trim())
        .map(|a| a.as_str().to_owned())
        .map_err(|e| Error::invalid("email", e.to_string()))
}

fn check_password(password: &str) -> Result<(), Error> {
    let n = password.chars().count();
    if !(MIN_PASSWORD..=1024).contains(&n) {
        return Err(Error::invalid("password", format!("must be {MIN_PASSWORD} to 1024 characters")));
    }
    Ok(())
}

/// The argon2id hash of `password` (the crate's defaults: 19 MiB, 2 passes), as a PHC
/// string with its own salt.
pub fn hash_password(password: &str) -> Result<String, Error> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::bug(format!("hashing a password: {e}")))
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A hash no password matches, verified against when the address is no operator's
/// (or a disabled one's), so that a login takes as long either way.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        hash_password(&hex::encode(bytes)).unwrap_or_default()
    })
}

/// Creates an operator (`prefcenter operator create`).
pub fn create_on(db: &mut Db, email: &str, role: Role, password: &str) -> Result<Operator, Error> {
    let email = normalize(email)?;
    check_password(password)?;
    if operators::by_email(db, &email)?.is_some() {
        return Err(Error::Conflict {
            code: ConflictCode::Conflict,
            detail: format!("there is already an operator {email}"),
        });
    }
    let now = store::now();
    let row = OperatorRow {
        id: uuid::Uuid::new_v4().to_string(),
        email,
        role,
        password_hash: hash_password(password)?,
        locale: "en".into(),
        disabled_at: None,
        created_at: now,
        updated_at: now,
    };
    operators::insert(db, &row)?;
    Ok(row.into())
}

pub fn list_on(db: &mut Db) -> Result<Vec<Operator>, Error> {
    Ok(operators::list(db)?.into_iter().map(Operator::from).collect())
}

fn existing(db: &mut Db, email: &str) -> Result<OperatorRow, Error> {
    operators::by_email(db, &normalize(email)?)?.ok_or_else(|| Error::not_found("there is no such operator"))
}

/// Disables an operator and revokes every session it has open; how many.
pub fn disable_on(db: &mut Db, email: &str) -> Result<usize, Error> {
    let row = existing(db, email)?;
    let now = store::now();
    operators::disable(db, &row.id, now)?;
    Ok(console_sessions::revoke_all(db, &row.id, now)?)
}

/// Sets an operator's password; its open sessions are revoked, so whoever knew the old
/// one is logged out.
pub fn set_password_on(db: &mut Db, email: &str, password: &str) -> Result<(), Error> {
    check_password(password)?;
    let row = existing(db, email)?;
    let now = store::now();
    operators::set_password(db, &row.id, &hash_password(password)?, now)?;
    console_sessions::revoke_all(db, &row.id, now)?;
    Ok(())
}

/// The console language an operator chose, remembered on their account.
pub async fn set_locale(cx: &Context, operator_id: String, lang: &'static str) -> Result<(), Error> {
    store::run(&cx.pool, move |db| {
        operators::set_locale(db, &operator_id, lang, store::now())?;
        Ok(())
    })
    .await
}

/// How failed logins slow the next attempt: after `free` failures, each attempt must
/// wait twice as long after the last failure as the one before, up to `cap`. The wait
/// always ends, so the right password is never locked out for good; a success clears
/// the address's count. The counts live in the database (`login_failures`), so that
/// every process serving the console enforces the same wait, and are forgotten an
/// hour after the last failure.
struct Backoff {
    free: i64,
    cap: Duration,
}

/// Per address typed: five free failures; per client network: twenty.
const PER_ADDRESS: Backoff = Backoff { free: 5, cap: Duration::from_secs(900) };
const PER_NETWORK: Backoff = Backoff { free: 20, cap: Duration::from_secs(900) };
/// How long after its last attempt a count is kept.
pub const FORGET: TimeDelta = TimeDelta::hours(1);

impl Backoff {
    fn delay(&self, failures: i64) -> Duration {
        if failures < self.free {
            return Duration::ZERO;
        }
        let doublings = (failures - self.free).min(20);
        Duration::from_secs(1u64 << doublings).min(self.cap)
    }

    /// How long must still pass at `now` after `failures` failures, the last at `last`.
    fn wait(&self, failures: i64, last: NaiveDateTime, now: NaiveDateTime) -> Duration {
        self.delay(failures).saturating_sub((now - last).to_std().unwrap_or_default())
    }
}

/// The keys failures are counted under, for the address typed and the client's
/// network: the server's keyed hash of each (a plain hash of a /24 is undone by trying
/// its 2^24 values), so that neither is kept in clear.
fn failure_keys(hasher: &AddressHasher, email: &str, network: &str) -> [String; 2] {
    let key = |kind: &str, value: &str| {
        // Never a recipient's address, so never a recipient's hash.
        hasher.hash(&NormalizedAddress::from_stored(format!("login\0{kind}\0{value}"))).to_hex()
    };
    [key("address", &email.trim().to_lowercase()), key("network", network)]
}

/// A session just opened: the cookie's value (shown only now) and its CSRF token.
#[derive(Debug)]
pub struct Opened {
    pub cookie: String,
    pub csrf: String,
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What the sessions table keeps of a cookie's value.
fn id_hash(cookie: &str) -> String {
    hex::encode(Sha256::digest(cookie.as_bytes()))
}

/// Why a login failed: the same for an unknown address, a disabled operator and a wrong
/// password (`Refused`), or too many attempts.
#[derive(Debug)]
pub enum LoginError {
    Refused,
    Throttled { retry_after: u64 },
    Fault(Error),
}

impl From<Error> for LoginError {
    fn from(e: Error) -> Self {
        LoginError::Fault(e)
    }
}

/// What a login attempt came to, inside its transaction.
enum Attempt {
    Opened(Opened),
    Refused,
    Throttled(Duration),
}

/// Logs in from `network` (the client's /24 or /64): checks the back-offs, verifies the
/// password (against a dummy hash when there is no such enabled operator, so that the
/// answer takes as long), and opens a session.
pub async fn login(
    cx: &Context,
    email: &str,
    password: String,
    network: String,
) -> Result<Opened, LoginError> {
    let keys = failure_keys(&cx.hasher, email, &network);
    let email = normalize(email).ok();
    let attempt = store::run(&cx.pool, move |db| {
        let now = store::now();
        let recent = login_failures::recent(db, &keys, now - FORGET)?;
        let policy = |key: &str| if key == keys[0] { &PER_ADDRESS } else { &PER_NETWORK };
        let wait =
            recent.iter().map(|(key, n, last)| policy(key).wait(*n, *last, now)).max().unwrap_or_default();
        if !wait.is_zero() {
            return Ok(Attempt::Throttled(wait));
        }
        // The attempt counts before its password is verified: attempts made at once
        // would otherwise all pass the check above before any failure was counted.
        // One that finds others counted since that check is one of such a burst.
        let before = |key: &str| recent.iter().find(|(k, _, _)| k == key).map_or(0, |(_, n, _)| *n);
        let counts = login_failures::add(db, &keys, now, now - FORGET)?;
        let burst = keys.iter().zip(&counts).map(|(key, n)| {
            let others = n - 1 - before(key);
            if others > 0 {
                policy(key).delay(n - 1)
            } else {
                Duration::ZERO
            }
        });
        let wait = burst.max().unwrap_or_default();
        if !wait.is_zero() {
            return Ok(Attempt::Throttled(wait));
        }
        let row = match &email {
            Some(email) => operators::by_email(db, email)?.filter(|r| r.disabled_at.is_none()),
            None => None,
        };
        let hash = row.as_ref().map_or(dummy_hash(), |r| r.password_hash.as_str());
        let matches = verify_password(&password, hash);
        let now = store::now();
        let Some(row) = row.filter(|_| matches) else {
            login_failures::touch(db, &keys, now)?;
            return Ok(Attempt::Refused);
        };
        login_failures::clear(db, &keys[0])?;
        login_failures::forgive(db, &keys[1])?;
        let opened = Opened { cookie: random_token(), csrf: random_token() };
        console_sessions::insert(
            db,
            &SessionRow {
                id_hash: id_hash(&opened.cookie),
                operator_id: row.id,
                csrf_token: opened.csrf.clone(),
                created_at: now,
                last_seen_at: now,
                revoked_at: None,
            },
        )?;
        // Sessions that ended long ago are forgotten as new ones open.
        console_sessions::delete_before(db, now - ABSOLUTE - TimeDelta::days(1))?;
        Ok(Attempt::Opened(opened))
    })
    .await?;
    match attempt {
        Attempt::Opened(opened) => Ok(opened),
        Attempt::Refused => Err(LoginError::Refused),
        Attempt::Throttled(wait) => Err(LoginError::Throttled { retry_after: wait.as_secs().max(1) }),
    }
}

/// An open session and whose it is.
#[derive(Debug, Clone)]
pub struct Session {
    pub id_hash: String,
    pub csrf: String,
    pub operator: Operator,
}

/// Whether a session that began at `created` and was last used at `seen` is still open
/// at `now`.
pub fn is_live(created: NaiveDateTime, seen: NaiveDateTime, now: NaiveDateTime) -> bool {
    now - seen < IDLE && now - created < ABSOLUTE
}

/// The open session a cookie names, if any: not revoked, not expired, its operator not
/// disabled. Notes the use (at most once a minute, to spare the database a write per
/// page).
pub async fn session(cx: &Context, cookie: String) -> Result<Option<Session>, Error> {
    store::run(&cx.pool, move |db| {
        let hash = id_hash(&cookie);
        let Some((session, operator)) = console_sessions::find(db, &hash)? else { return Ok(None) };
        let now = store::now();
        if session.revoked_at.is_some() || operator.disabled_at.is_some() {
            return Ok(None);
        }
        if !is_live(session.created_at, session.last_seen_at, now) {
            console_sessions::revoke(db, &hash, now)?;
            return Ok(None);
        }
        if now - session.last_seen_at > TimeDelta::minutes(1) {
            console_sessions::touch(db, &hash, now)?;
        }
        Ok(Some(Session { id_hash: hash, csrf: session.csrf_token, operator: operator.into() }))
    })
    .await
}

/// Ends a session (logging out).
pub async fn logout(cx: &Context, id_hash: String) -> Result<(), Error> {
    store::run(&cx.pool, move |db| Ok(console_sessions::revoke(db, &id_hash, store::now())?)).await
}

/// The console's latest `limit` changes of each kind, newest first: the ledger's
/// events (with the operator who made each, as the change feed shows them), and the
/// changes of API keys and webhooks.
pub async fn audit(
    cx: &Context,
    limit: i64,
) -> Result<(Vec<crate::service::changes::Change>, Vec<AdminChangeRow>), Error> {
    store::run(&cx.pool, move |db| {
        let rows = store::events::by_operators(db, i64::MAX, limit)?;
        let events = crate::service::changes::view(db, rows)?;
        Ok((events, store::admin_changes::by_operators(db, limit)?))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_end_when_idle_or_old() {
        let t = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap().naive_utc();
        assert!(is_live(t, t, t + TimeDelta::minutes(29)));
        assert!(!is_live(t, t, t + TimeDelta::minutes(30)));
        let busy = t + TimeDelta::hours(12) - TimeDelta::minutes(1);
        assert!(is_live(t, busy, busy + TimeDelta::seconds(59)));
        assert!(!is_live(t, busy, t + TimeDelta::hours(12)));
    }

    #[test]
    fn the_back_off_doubles_and_is_capped() {
        let b = Backoff { free: 5, cap: Duration::from_secs(900) };
        assert_eq!(b.delay(4), Duration::ZERO);
        assert_eq!(b.delay(5), Duration::from_secs(1));
        assert_eq!(b.delay(8), Duration::from_secs(8));
        assert_eq!(b.delay(40), Duration::from_secs(900));
        let t = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap().naive_utc();
        assert_eq!(b.wait(8, t, t + TimeDelta::seconds(3)), Duration::from_secs(5));
        assert!(b.wait(8, t, t + TimeDelta::seconds(8)).is_zero());
        assert!(b.wait(4, t, t).is_zero());
    }

    #[test]
    fn passwords_verify_against_their_hash_only() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse battery!", &hash));
        assert!(!verify_password("correct horse battery", dummy_hash()));
    }
}
