//! The test harness: a real prefcenter server on an ephemeral loopback port, on a
//! fresh database of each backend, driven over HTTP.
//!
//! SQLite runs always, on a temporary file. PostgreSQL runs when
//! `PREFCENTER_TEST_DATABASE_URL` was set when the tests were built (`build.rs` turns
//! on `cfg(postgres_tests)`); each test then gets its own schema, dropped afterwards.
//! Without it, the PostgreSQL half of each test is compiled as ignored, so the summary
//! counts it as ignored, never as passed. When the variable is set and the server
//! cannot be reached, the tests fail.
//!
//! `db` holds the test database, `app` the server under test, `http` the calls to it
//! and its replies, `builders` the shortcuts tests are written with, `process` the
//! binary run as a separate process.

mod app;
mod builders;
mod db;
mod http;
mod process;

pub use app::{wait_until_ready, TestApp};
pub use db::TestDb;
pub use http::{encode, without_times, Reply};
pub use process::Served;

/// Declares a test that runs once per backend: `mod name { fn sqlite(); fn postgres(); }`.
/// `fn name(app) with adjust { … }` starts the server with `adjust(&mut Config)` applied;
/// `fn name(TestDb);` runs the function `name(db: TestDb)` on each backend's database.
macro_rules! each_backend {
    ($(fn $name:ident(TestDb);)+) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name($crate::support::TestDb::sqlite());
            }
            #[test]
            #[cfg_attr(not(postgres_tests), ignore = "PREFCENTER_TEST_DATABASE_URL was not set at build time")]
            fn postgres() {
                super::$name($crate::support::TestDb::postgres());
            }
        }
    )+};
    ($($(#[$meta:meta])* fn $name:ident($app:pat) $(with $settings:path)? $body:block)*) => {$(
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[test]
            fn sqlite() {
                let $app = $crate::support::TestApp::start_with(
                    $crate::support::TestDb::sqlite(),
                    |_config: &mut prefcenter::Config| { $($settings(_config);)? },
                );
                $body
            }
            #[test]
            #[cfg_attr(not(postgres_tests), ignore = "PREFCENTER_TEST_DATABASE_URL was not set at build time")]
            fn postgres() {
                let $app = $crate::support::TestApp::start_with(
                    $crate::support::TestDb::postgres(),
                    |_config: &mut prefcenter::Config| { $($settings(_config);)? },
                );
                $body
            }
        }
    )*};
}
pub(crate) use each_backend;
