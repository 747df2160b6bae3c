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
//! binary run as a separate process, `browser` headless Chromium with axe-core,
//! `receiver` a webhook receiver.

mod app;
mod browser;
mod builders;
mod db;
mod http;
mod process;
mod receiver;

pub use app::{wait_until_ready, TestApp};
pub use browser::Browser;
pub use builders::TopicBuilder;
pub use db::TestDb;
pub use http::{encode, without_times, Reply};
pub use process::Served;
pub use receiver::{Delivery, Receiver};

/// Declares a test that runs once per backend: `mod name { fn sqlite(); fn postgres(); }`,
/// each given what the test's one parameter asks for:
///
/// - `fn name(app) { … }` (or `mut app`): a [`TestApp`] started on a fresh database;
///   `fn name(app) with adjust { … }` starts it with `adjust(&mut Config)` applied;
/// - `fn name(db: TestDb) { … }`: the fresh database alone, for tests that start
///   servers or processes of their own.
macro_rules! each_backend {
    (@given $db:expr, [], $arg:ident : $ty:ty) => {
        let $arg: $ty = $db;
    };
    (@given $db:expr, [$settings:path], $arg:ident : $ty:ty) => {
        compile_error!("a test given a bare database has no server to configure: take `app` instead");
    };
    (@given $db:expr, [$($settings:path)?], $app:pat) => {
        let $app = $crate::support::TestApp::start_with(
            $db,
            |_config: &mut prefcenter::Config| { $($settings(_config);)? },
        );
    };
    ($($(#[$meta:meta])* fn $name:ident($($param:tt)+) $(with $settings:path)? $body:block)*) => {$(
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[test]
            fn sqlite() {
                $crate::support::each_backend!(@given $crate::support::TestDb::sqlite(), [$($settings)?], $($param)+);
                $body
            }
            #[test]
            #[cfg_attr(not(postgres_tests), ignore = "PREFCENTER_TEST_DATABASE_URL was not set at build time")]
            fn postgres() {
                $crate::support::each_backend!(@given $crate::support::TestDb::postgres(), [$($settings)?], $($param)+);
                $body
            }
        }
    )*};
}
pub(crate) use each_backend;
