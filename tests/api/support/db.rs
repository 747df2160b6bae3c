//! The test database: a fresh one per test on each backend, removed afterwards, and
//! what tests read from or do to it directly.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

use super::TestApp;

/// A fresh database, removed when dropped.
pub enum TestDb {
    Sqlite { _dir: tempfile::TempDir, url: String },
    Postgres { server: String, schema: String, url: String },
}

impl TestDb {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("prefcenter.db").display());
        TestDb::Sqlite { _dir: dir, url }
    }

    /// A fresh schema on the server named by `PREFCENTER_TEST_DATABASE_URL`. A
    /// PostgreSQL test that runs without it fails: it never passes without running.
    pub fn postgres() -> Self {
        let server = std::env::var("PREFCENTER_TEST_DATABASE_URL")
            .expect("a PostgreSQL test runs only with PREFCENTER_TEST_DATABASE_URL set");
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::establish(&server)
            .unwrap_or_else(|e| panic!("PREFCENTER_TEST_DATABASE_URL is set but unreachable: {e}"));
        conn.batch_execute(&format!("CREATE SCHEMA {schema}")).expect("create a test schema");
        let separator = if server.contains('?') { '&' } else { '?' };
        let url = format!("{server}{separator}options=-csearch_path%3D{schema}");
        TestDb::Postgres { server, schema, url }
    }

    pub fn is_sqlite(&self) -> bool {
        matches!(self, TestDb::Sqlite { .. })
    }

    pub fn url(&self) -> &str {
        match self {
            TestDb::Sqlite { url, .. } | TestDb::Postgres { url, .. } => url,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { server, schema, .. } = self {
            if let Ok(mut conn) = PgConnection::establish(server) {
                let _ = conn.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
            }
        }
    }
}

impl TestApp {
    /// Everything the database holds, as text: on SQLite the database files
    /// themselves (with the log), on PostgreSQL every row of every table as JSON. For
    /// tests that must find no trace of something. Not SQLite's `-shm` file: it is the
    /// log's index, holds no row, and every reader writes its read mark into it (the
    /// index's tailer, the webhook deliverer), so it changes when nothing was written.
    pub fn database_contents(&self) -> Vec<u8> {
        match &self.db {
            TestDb::Sqlite { url, .. } => {
                let path = url.trim_start_matches("sqlite://");
                let mut all = Vec::new();
                for suffix in ["", "-wal"] {
                    if let Ok(bytes) = std::fs::read(format!("{path}{suffix}")) {
                        all.extend(bytes);
                    }
                }
                all
            }
            TestDb::Postgres { url, .. } => {
                #[derive(diesel::QueryableByName)]
                struct Dump {
                    #[diesel(sql_type = diesel::sql_types::Text)]
                    text: String,
                }
                let mut conn = PgConnection::establish(url).unwrap();
                // Every table the schema holds, so that a table added later is searched too.
                #[derive(diesel::QueryableByName)]
                struct Table {
                    #[diesel(sql_type = diesel::sql_types::Text)]
                    name: String,
                }
                let tables: Vec<Table> = diesel::RunQueryDsl::load(
                    diesel::sql_query(
                        "SELECT table_name::text AS name FROM information_schema.tables \
                         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
                    ),
                    &mut conn,
                )
                .unwrap();
                assert!(tables.iter().any(|t| t.name == "contacts"), "the dump finds the schema's tables");
                let mut all = String::new();
                for Table { name } in tables {
                    let rows: Vec<Dump> = diesel::RunQueryDsl::load(
                        diesel::sql_query(format!("SELECT coalesce(string_agg(row_to_json(t)::text, E'\\n'), '') AS text FROM \"{name}\" t")),
                        &mut conn,
                    )
                    .unwrap();
                    for row in rows {
                        all.push_str(&row.text);
                    }
                }
                all.into_bytes()
            }
        }
    }

    /// One number that `query` (a `SELECT … AS n`) reads from the test database.
    pub fn count(&self, query: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let url = prefcenter::store::DatabaseUrl::parse(self.db.url()).unwrap();
        let pool = prefcenter::store::connect(&url, 1, Duration::from_secs(5)).expect("a connection");
        let rows: Vec<Count> = diesel::RunQueryDsl::load(diesel::sql_query(query), &mut *pool.get().unwrap())
            .expect("the query runs");
        rows[0].n
    }

    /// Runs one SQL statement on the test database, for tests that break it on purpose.
    pub fn sql(&self, statement: &str) {
        use diesel::connection::SimpleConnection;
        let url = prefcenter::store::DatabaseUrl::parse(self.db.url()).unwrap();
        let pool = prefcenter::store::connect(&url, 1, Duration::from_secs(5)).expect("a connection");
        pool.get().unwrap().batch_execute(statement).expect("the statement runs");
    }
}
