//! Storage through diesel on SQLite or PostgreSQL: the connection enum, its pool,
//! migrations, and the one macro for the statements the two backends compile apart.
//! Queries live in one module per table, as plain functions taking `&mut Db`.

pub mod admin_changes;
pub mod api_keys;
pub mod console_sessions;
pub mod contacts;
pub mod daily_counts;
pub mod events;
pub mod feed_consumers;
pub mod locks;
pub mod login_failures;
pub mod operators;
pub mod schema;
pub mod settings;
pub mod sns_confirmations;
pub mod sql_types;
pub mod subscriptions;
pub mod suppressions;
pub mod topics;
mod tx;
pub mod webhooks;

pub use events::EventRow;
pub use tx::Tx;

use std::time::Duration;

use anyhow::Context as _;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::Error;

/// One database connection, of whichever backend the URL named. SQLite comes last:
/// its `establish` would accept any string.
#[derive(diesel::MultiConnection)]
pub enum Db {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// Runs the same diesel expression on whichever backend `$db` holds, for the few
/// statements MultiConnection cannot express once (upserts, `RETURNING`). Nothing
/// else matches on the backend.
#[macro_export]
macro_rules! per_backend {
    ($db:expr, |$conn:ident| $body:expr) => {
        match $db {
            $crate::store::Db::Pg($conn) => $body,
            $crate::store::Db::Sqlite($conn) => $body,
        }
    };
}

/// Inserts many rows of one table: on PostgreSQL in one binary `COPY` (no statement
/// to parse, no parameters to bind: a tenth of a multi-row INSERT's time there), on
/// SQLite in multi-row INSERTs of 1,000 (in the process, no round trip to save). The
/// rows' `Insertable` derive says `treat_none_as_default_value = false`, as COPY needs.
#[macro_export]
macro_rules! insert_many {
    ($db:expr, $table:expr, $rows:expr) => {
        match $db {
            $crate::store::Db::Pg(conn) => {
                diesel::copy_from($table).from_insertable($rows).execute(conn).map(drop)
            }
            $crate::store::Db::Sqlite(conn) => $rows
                .chunks(1000)
                .try_for_each(|part| diesel::insert_into($table).values(part).execute(conn).map(drop)),
        }
    };
}

pub type Pool = r2d2::Pool<Manager>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// Where the database is, with the backend chosen by the URL's scheme alone: an
/// unreachable PostgreSQL is an error, never a fall-back to a fresh SQLite file.
#[derive(Clone)]
pub struct DatabaseUrl {
    pub backend: Backend,
    /// What the backend's driver is given: the whole URL for PostgreSQL, the file's
    /// path for SQLite.
    target: String,
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self { backend: Backend::Postgres, target: url.to_owned() });
        }
        let path = match url.split_once("://") {
            Some(("sqlite", path)) => path,
            Some((scheme, _)) => {
                anyhow::bail!(
                    "unsupported database URL scheme {scheme:?}: use postgres://, postgresql:// or sqlite://"
                )
            }
            None if url.starts_with("sqlite:") => &url["sqlite:".len()..],
            None => url,
        };
        if path.is_empty() {
            anyhow::bail!("the SQLite database URL names no file");
        }
        if path == ":memory:" {
            anyhow::bail!("an in-memory SQLite database would be one per pooled connection: name a file");
        }
        Ok(Self { backend: Backend::Sqlite, target: path.to_owned() })
    }

    /// For PostgreSQL, the URL with libpq's connect timeout and TCP keepalives added
    /// where it sets none: a server that vanished from the network is then noticed
    /// within seconds rather than at the kernel's retransmission timeout.
    fn with_timeouts(&self, timeout: Duration) -> Self {
        if self.backend != Backend::Postgres {
            return self.clone();
        }
        let Ok(mut url) = url::Url::parse(&self.target) else { return self.clone() };
        let seconds = timeout.as_secs().max(1);
        let set: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
        let defaults = [
            ("connect_timeout", seconds.to_string()),
            ("keepalives", "1".to_owned()),
            ("keepalives_idle", "5".to_owned()),
            ("keepalives_interval", "2".to_owned()),
            ("keepalives_count", "3".to_owned()),
            ("tcp_user_timeout", (seconds * 2000).to_string()),
        ];
        for (key, value) in defaults {
            if !set.iter().any(|k| k == key) {
                url.query_pairs_mut().append_pair(key, &value);
            }
        }
        Self { backend: self.backend, target: url.to_string() }
    }

    /// The URL with any password hidden, for logs and errors.
    pub fn redacted(&self) -> String {
        match url::Url::parse(&self.target) {
            Ok(mut u) if u.password().is_some() => {
                let _ = u.set_password(Some("***"));
                u.to_string()
            }
            _ => self.target.clone(),
        }
    }
}

/// Opens connections for the pool, on the backend the URL chose.
pub struct Manager {
    url: DatabaseUrl,
}

impl ManageConnection for Manager {
    type Connection = Db;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<Db, r2d2::Error> {
        match self.url.backend {
            Backend::Postgres => {
                PgConnection::establish(&self.url.target).map(Db::Pg).map_err(r2d2::Error::ConnectionError)
            }
            Backend::Sqlite => {
                let mut conn =
                    SqliteConnection::establish(&self.url.target).map_err(r2d2::Error::ConnectionError)?;
                // WAL lets readers run beside the one writer; FULL makes a commit
                // durable before it returns (an acknowledged unsubscribe survives a
                // crash); secure_delete overwrites erased rows in the file itself.
                // A page cache of up to 64 MiB a connection (SQLite's default is 2 MiB),
                // filled only as pages are read: large imports change pages all over
                // the address indexes, and re-reading each from the file cost them a
                // tenth of their speed.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 5000;
                     PRAGMA journal_mode = WAL;
                     PRAGMA synchronous = FULL;
                     PRAGMA foreign_keys = ON;
                     PRAGMA secure_delete = ON;
                     PRAGMA cache_size = -65536;",
                )
                .map_err(r2d2::Error::QueryError)?;

                Ok(Db::Sqlite(conn))
            }
        }
    }

    /// Asked of each connection as the pool hands it out. A PostgreSQL connection can
    /// have been cut since its last use (a restart, a network), and a round trip finds
    /// out before a request does. An SQLite connection is a file opened in this
    /// process: nothing can cut it, and a `SELECT 1` there is one more statement to
    /// parse on every read.
    fn is_valid(&self, conn: &mut Db) -> Result<(), r2d2::Error> {
        match conn {
            Db::Pg(conn) => conn.batch_execute("SELECT 1").map_err(r2d2::Error::QueryError),
            Db::Sqlite(_) => Ok(()),
        }
    }

    /// A connection whose transaction could not be rolled back (it was lost
    /// mid-transaction) never goes back to the pool, or every later write on it would
    /// fail.
    fn has_broken(&self, conn: &mut Db) -> bool {
        std::thread::panicking() || diesel::r2d2::R2D2Connection::is_broken(conn)
    }
}

/// One connection, outside any pool: for commands that run a statement or two and
/// exit.
pub fn connect_one(url: &DatabaseUrl) -> anyhow::Result<Db> {
    Manager { url: url.clone() }
        .connect()
        .with_context(|| format!("cannot open the database at {}", url.redacted()))
}

/// Connects (failing at once with the driver's own words when the database cannot be
/// reached) and builds the pool. Connections are opened on demand, in the thread that
/// needs one: a pool that keeps idle connections filled from a background thread can
/// be caught opening one while the process exits, which crashes libpq's TLS set-up.
/// `timeout` bounds both the wait for a pooled connection and, through [`run`], the
/// whole of a request's database work.
pub fn connect(url: &DatabaseUrl, max_size: u32, timeout: Duration) -> anyhow::Result<Pool> {
    let opening = || format!("cannot open the database at {}", url.redacted());
    let manager = Manager { url: url.with_timeouts(timeout) };
    manager.connect().with_context(opening)?;
    r2d2::Pool::builder()
        .max_size(max_size)
        .min_idle(Some(0))
        .connection_timeout(timeout)
        .build(manager)
        .with_context(opening)
}

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Runs pending migrations and returns the versions it applied. Safe when several
/// processes start at once: PostgreSQL takes an advisory lock, SQLite a write lock.
pub fn migrate(db: &mut Db) -> anyhow::Result<Vec<String>> {
    type Boxed = Box<dyn std::error::Error + Send + Sync>;
    let applied: Result<Vec<String>, Boxed> = match db {
        Db::Pg(conn) => {
            const MIGRATION_LOCK: i64 = 0x7072_6566_6365_6e74; // "prefcent"
            diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})")).execute(conn)?;
            let result = conn
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.iter().map(|m| m.to_string()).collect());
            diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})")).execute(conn)?;
            result
        }
        Db::Sqlite(conn) => conn
            .immediate_transaction(|conn| {
                conn.run_pending_migrations(SQLITE_MIGRATIONS)
                    .map(|v| v.iter().map(|m| m.to_string()).collect::<Vec<_>>())
                    .map_err(diesel::result::Error::QueryBuilderError)
            })
            .map_err(|e| Box::new(e) as Boxed),
    };
    applied.map_err(anyhow::Error::from_boxed).context("migration failed")
}

/// Refreshes PostgreSQL's statistics of `tables` after a bulk write grew them. A
/// table's plans are made from its statistics, which autoanalyze refreshes only where
/// autovacuum is on: without them an import's lookups keep the plan made while the
/// table was small, a scan of the whole table for every chunk (200 lines/s instead of
/// 15,000 at 125,000 suppressions). SQLite plans these lookups by index without
/// statistics, so there it does nothing.
pub fn analyze(db: &mut Db, tables: &[&str]) -> diesel::QueryResult<()> {
    match db {
        Db::Pg(conn) => conn.batch_execute(&format!("ANALYZE {}", tables.join(", "))),
        Db::Sqlite(_) => Ok(()),
    }
}

/// Runs `work` on a pooled connection on the blocking thread pool, off the async
/// workers. A pool that cannot hand out a connection in time is a 503, not a 500.
pub async fn run<T, F>(pool: &Pool, work: F) -> Result<T, Error>
where
    F: FnOnce(&mut Db) -> Result<T, Error> + Send + 'static,
    T: Send + 'static,
{
    let timeout = pool.connection_timeout();
    let pool = pool.clone();
    let work = actix_web::web::block(move || {
        let mut conn = pool.get().map_err(|e| Error::Unavailable(format!("database pool: {e}")))?;
        work(&mut conn)
    });
    // A database that stops answering (frozen, or a network that drops packets) holds
    // the blocking thread, but not the caller: it gets a 503 and may retry.
    match actix_web::rt::time::timeout(timeout, work).await {
        Ok(done) => done.map_err(|e| Error::internal("blocking task failed", e))?,
        Err(_) => Err(Error::Unavailable("the database did not answer in time".into())),
    }
}

/// A write transaction. Its writes' events are inserted at its end ([`Tx::flush`]) and
/// numbered there (SQLite) or right after its commit (PostgreSQL), so that on both
/// backends ledger appends are gap-free and become visible in order (see `tx` and
/// `events`). On SQLite the transaction first takes the database's write lock (SQLite
/// has one writer at a time anyway, and a deferred transaction that reads first can
/// fail to upgrade).
pub fn write<T, F>(db: &mut Db, work: F) -> Result<T, Error>
where
    F: FnOnce(&mut Tx) -> Result<T, Error>,
{
    let (out, own) = write_unrecorded(db, work)?;
    if let Recorded::Unnumbered(e) = record(db, own) {
        // Committed: the ledger tailer numbers its events.
        tracing::warn!(error = %e, "a committed write's events could not be numbered yet");
    }
    Ok(out)
}

/// What a committed write transaction left in the ledger.
#[derive(Debug)]
pub enum Recorded {
    /// Its events, numbered, with whatever else was numbered with them.
    Numbered(events::Numbered),
    /// Its events are committed but could not be numbered after the commit
    /// (PostgreSQL, the connection failed): the ledger tailer numbers them.
    Unnumbered(Error),
}

/// [`write`] without the numbering after the commit: returns also the events the
/// transaction inserted (numbered on SQLite, provisionally on PostgreSQL), for
/// [`record`]. The group commit's writer runs the next transaction meanwhile.
pub fn write_unrecorded<T, F>(db: &mut Db, work: F) -> Result<(T, Vec<EventRow>), Error>
where
    F: FnOnce(&mut Tx) -> Result<T, Error>,
{
    db.transaction(|db| {
        if let Db::Sqlite(_) = db {
            events::lock_ledger(db)?;
        }
        let mut tx = Tx::new(db);
        let out = work(&mut tx)?;
        tx.flush()?;
        Ok((out, tx.take_inserted()))
    })
}

/// Brings the committed events `own` (of one or several transactions, in commit
/// order) into the ledger: on PostgreSQL numbers them, with whatever else waits for a
/// number; on SQLite they are numbered already.
pub fn record(db: &mut Db, own: Vec<EventRow>) -> Recorded {
    match db {
        Db::Sqlite(_) => {
            Recorded::Numbered(events::Numbered { head: own.last().map_or(0, |e| e.seq), events: own })
        }
        Db::Pg(_) if own.is_empty() => Recorded::Numbered(events::Numbered::default()),
        Db::Pg(_) => match events::number(db) {
            Ok(numbered) => Recorded::Numbered(numbered),
            Err(e) => Recorded::Unnumbered(e.into()),
        },
    }
}

/// After an erasure on SQLite, copies the WAL back into the database file and
/// truncates it, so that the erased rows do not linger in the log (`secure_delete`
/// has already zeroed them in the file). Nothing to do on PostgreSQL.
pub fn checkpoint(db: &mut Db) -> Result<(), Error> {
    if let Db::Sqlite(conn) = db {
        conn.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)")?;
    }
    Ok(())
}

pub(super) const LEDGER_CHANNEL: &str = "prefcenter_ledger";

/// A PostgreSQL connection that `LISTEN`s for ledger writes. `LISTEN` does not work on
/// hot standbys or through PgBouncer in transaction mode, so it only ever hastens the
/// tailer's polling; it never replaces it.
pub struct Listener {
    conn: PgConnection,
}

impl Listener {
    /// `None` on SQLite, or when the connection or the `LISTEN` fails.
    pub fn open(url: &DatabaseUrl) -> Option<Self> {
        if url.backend != Backend::Postgres {
            return None;
        }
        let mut conn = PgConnection::establish(&url.target).ok()?;
        conn.batch_execute(&format!("LISTEN {LEDGER_CHANNEL}")).ok()?;
        Some(Self { conn })
    }

    /// Whether a notification arrived since the last call (without blocking);
    /// `None` when the connection broke.
    pub fn notified(&mut self) -> Option<bool> {
        let mut any = false;
        for notification in self.conn.notifications_iter() {
            notification.ok()?;
            any = true;
        }
        Some(any)
    }
}

/// The current time in the precision both backends keep (microseconds), so that a
/// value read back equals the value written.
pub fn now() -> chrono::NaiveDateTime {
    let now = chrono::Utc::now().naive_utc();
    chrono::DurationRound::duration_trunc(now, chrono::TimeDelta::microseconds(1)).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `.cargo/config.toml` builds SQLite with the query planner stability guarantee:
    /// without it, a statement with `LIMIT ?` is parsed and planned again each time
    /// it runs, at twice the cost of a preference read.
    #[test]
    fn sqlite_plans_do_not_depend_on_bound_values() {
        #[derive(diesel::QueryableByName)]
        struct CompileOption {
            #[diesel(sql_type = diesel::sql_types::Text)]
            compile_options: String,
        }
        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        let options: Vec<CompileOption> =
            diesel::sql_query("PRAGMA compile_options").load(&mut conn).unwrap();
        assert!(
            options.iter().any(|o| o.compile_options == "ENABLE_QPSG"),
            "SQLite was built without ENABLE_QPSG"
        );
    }

    #[test]
    fn backend_is_chosen_by_scheme() {
        assert_eq!(DatabaseUrl::parse("postgres://u@h/db").unwrap().backend, Backend::Postgres);
        assert_eq!(DatabaseUrl::parse("postgresql://u@h/db").unwrap().backend, Backend::Postgres);
        let sqlite = DatabaseUrl::parse("sqlite://prefcenter.db").unwrap();
        assert_eq!((sqlite.backend, sqlite.target.as_str()), (Backend::Sqlite, "prefcenter.db"));
        assert_eq!(DatabaseUrl::parse("sqlite:///var/lib/p.db").unwrap().target, "/var/lib/p.db");
        assert_eq!(DatabaseUrl::parse("data/p.db").unwrap().target, "data/p.db");
        assert!(DatabaseUrl::parse("mysql://u@h/db").is_err());
        assert!(DatabaseUrl::parse("postgress://u@h/db").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
        assert!(DatabaseUrl::parse("sqlite://:memory:").is_err());
    }

    #[test]
    fn passwords_are_redacted() {
        let url = DatabaseUrl::parse("postgres://user:secret@db.example:5432/prefs").unwrap();
        assert!(!url.redacted().contains("secret"));
        assert!(url.redacted().contains("user"));
    }
}
