//! Integration tests: the real server over a real socket, on SQLite and (when
//! `PREFCENTER_TEST_DATABASE_URL` is set) PostgreSQL. One binary, one module per
//! capability, so the suite links once.

mod proxy;
mod support;

mod api_keys;
mod browser;
mod changes;
mod check;
mod cli;
mod consistency;
mod console;
mod console_browser;
mod contacts;
mod contract;
mod errors;
mod faults;
mod feedback;
mod fuzz;
mod hostile;
mod mailto;
mod ops;
mod pages;
mod pause;
mod privacy;
mod processes;
mod providers;
mod recipients;
mod server_faults;
mod signup;
mod smtp;
mod stats;
mod suppressions;
mod topics;
mod webhooks;
