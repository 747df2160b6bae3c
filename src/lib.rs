//! prefcenter: an email preference center and suppression-list service.
//!
//! [`prepare`] opens the database, migrates it, loads the keys and builds the
//! [`service::Context`] the use cases share; [`server`] serves the HTTP API around that
//! context on a listener, with the background threads that keep it current. `main.rs`
//! only parses the command line around these.

pub mod brand;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod i18n;
pub mod index;
pub mod mailer;
pub mod service;
pub mod smtp;
pub mod store;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use base64::Engine;
use rand::RngCore;

pub use config::Config;
use domain::pseudonym::Pseudonymizer;
use domain::token::TokenKeys;
use domain::AddressHasher;
use error::Error;
use mailer::Mailer;
use service::api_keys::KeyCache;
use service::Context;

/// Opens the database, runs pending migrations, loads (or on first start generates)
/// the hashing keys, and on a database without API keys creates an `admin` key and
/// logs its secret once.
pub fn prepare(config: Config) -> anyhow::Result<Context> {
    use anyhow::Context as _;
    let timeout = Duration::from_millis(config.database_timeout_ms);
    let pool = store::connect(&config.database_url, config.pool_size, timeout)?;
    let mut db = pool.get().context("database")?;
    let applied = store::migrate(&mut db)?;
    if !applied.is_empty() {
        tracing::info!(migrations = ?applied, "applied database migrations");
    }
    let ((hash_key, client_key, signing, key_hasher), first_admin) = store::write(&mut db, |db| {
        let key = store::settings::get_or_init(db, "address_hash_key", random_key)?;
        // Kept apart from the address key: pseudonyms of clients and hashes of
        // addresses must not be linkable through a shared key.
        let client_key = store::settings::get_or_init(db, "client_hash_key", random_key)?;
        let signing = match &config.signing_keys {
            Some(spec) => spec.clone(),
            None => store::settings::get_or_init(db, "signing_keys", TokenKeys::generate_spec)?,
        };
        let key_hasher = service::api_keys::hasher_on(db)?;
        let admin = service::api_keys::create_first_admin(db)?;
        Ok::<_, Error>(((key, client_key, signing, key_hasher), admin))
    })
    .context("cannot initialise the database")?;
    drop(db);
    let hash_key = decode_key("address_hash_key", &hash_key)?;
    let client_key = decode_key("client_hash_key", &client_key)?;
    if let Some(secret) = first_admin {
        tracing::warn!(
            "created the first API key, named \"admin\" with the admin scope; its secret is shown only now: {secret}"
        );
    }
    let tokens = TokenKeys::parse(&signing).map_err(|e| anyhow::anyhow!("signing keys: {e}"))?;
    let index = Arc::new(index::Index::new(Duration::from_millis(config.index_stale_ms)));
    let (mailer, mail_from) = Mailer::from_config(&config)?;
    let providers = service::feedback::Providers::from_config(&config)?;
    let brand = brand::Brand::load(&config.brand)?;
    let writer = service::group_commit::Writer::start(pool.clone(), index.clone())
        .context("cannot start the writer thread")?;
    Ok(Context {
        config,
        pool,
        hasher: AddressHasher::new(hash_key),
        pseudonymizer: Pseudonymizer::new(client_key),
        tokens,
        mailer,
        mail_from,
        mail_limits: Default::default(),
        keys: KeyCache::new(key_hasher),
        index,
        purged: service::privacy::PurgeMetrics::new(),
        providers,
        writer,
        clicks: Default::default(),
        webhooks: Default::default(),
        lag: Default::default(),
        brand,
    })
}

/// How often the daily rollup looks for new events: the dashboard counts the newest
/// itself when it is asked, so this only keeps that work small.
const ROLLUP_POLL: Duration = Duration::from_secs(2);

fn random_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn decode_key(name: &str, stored: &str) -> anyhow::Result<[u8; 32]> {
    base64::engine::general_purpose::STANDARD
        .decode(stored.trim())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| anyhow::anyhow!("the stored {name} setting is not 32 bytes of base64"))
}

/// Where the server listens: HTTP, and the SMTP receiver's socket when the caller
/// binds it (otherwise [`server`] binds `PREFCENTER_SMTP_LISTEN` itself, when set).
pub struct Listeners {
    pub http: TcpListener,
    pub smtp: Option<TcpListener>,
}

impl From<TcpListener> for Listeners {
    fn from(http: TcpListener) -> Self {
        Self { http, smtp: None }
    }
}

/// The HTTP server on `listeners`, and the SMTP receiver when it is configured. It
/// installs no signal handlers: whoever runs it decides when to stop it through its
/// handle (`main` does so on SIGTERM and SIGINT, letting requests in flight finish for
/// up to 30 s); the receiver stops with it.
/// Also returns a thread that ends once the ledger tailer and the webhook deliverer
/// have, soon after the server and the context are gone.
pub fn server(
    cx: Context,
    listeners: impl Into<Listeners>,
) -> std::io::Result<(actix_web::dev::Server, std::thread::JoinHandle<()>)> {
    let Listeners { http: listener, smtp } = listeners.into();
    let workers = cx.config.workers;
    let poll = Duration::from_millis(cx.config.ledger_poll_ms);
    let cx = Arc::new(cx);
    if let (Some(settings), Some(domain)) = (&cx.config.smtp_receiver, &cx.config.unsubscribe_mail_domain) {
        let listener = match smtp {
            Some(listener) => listener,
            None => TcpListener::bind(&settings.listen).map_err(|e| {
                std::io::Error::new(e.kind(), format!("cannot listen for SMTP on {}: {e}", settings.listen))
            })?,
        };
        let address = listener.local_addr()?;
        let receiver =
            smtp::Receiver::new(domain, settings).map_err(|e| std::io::Error::other(format!("{e:#}")))?;
        smtp::spawn(Arc::downgrade(&cx), receiver, listener, settings.max_sessions)?;
        tracing::info!(%address, domain, "the SMTP receiver takes unsubscribe mail");
    }
    // The tailer loads the index, then keeps it current; it ends with the context.
    let tailer = index::spawn_tailer(Arc::downgrade(&cx), poll);
    let metrics = web::Data::new(http::metrics()?);
    cx.index.gauges.register(&metrics.registry).map_err(std::io::Error::other)?;
    cx.purged.register(&metrics.registry).map_err(std::io::Error::other)?;
    cx.writer.metrics.register(&metrics.registry).map_err(std::io::Error::other)?;
    cx.keys.metrics.register(&metrics.registry).map_err(std::io::Error::other)?;
    cx.webhooks.register(&metrics.registry).map_err(std::io::Error::other)?;
    cx.lag.register(&metrics.registry).map_err(std::io::Error::other)?;
    service::api_keys::spawn_refresher(
        Arc::downgrade(&cx),
        Duration::from_millis(cx.config.api_key_refresh_ms),
    );
    service::privacy::spawn_purger(
        Arc::downgrade(&cx),
        Duration::from_secs(cx.config.purge_interval_minutes * 60),
    );
    // Delivers webhooks and keeps the lag gauges current; it ends with the context,
    // handing its webhooks back to the other processes.
    let deliverer = service::webhooks::spawn_deliverer(Arc::downgrade(&cx))?;
    // Counts the ledger into the dashboard's daily series; it ends with the context.
    let rollup = service::rollup::spawn(Arc::downgrade(&cx), ROLLUP_POLL)?;
    let background = std::thread::Builder::new().name("background".into()).spawn(move || {
        let _ = tailer.join();
        let _ = deliverer.join();
        let _ = rollup.join();
    })?;
    let body_timeout =
        web::Data::new(http::deadline::BodyTimeout(Duration::from_millis(cx.config.body_timeout_ms)));
    let cx = web::Data::from(cx);
    let mut server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(cx.clone())
            .app_data(body_timeout.clone())
            .app_data(metrics.clone())
            .configure(http::configure)
            .wrap(actix_web::middleware::from_fn(http::deadline::bound_body))
            .wrap(actix_web::middleware::from_fn(http::edge::edge))
            .wrap(actix_web::middleware::from_fn(http::observe::observe))
    })
    .shutdown_timeout(30)
    .disable_signals()
    .listen(listener)?;
    if let Some(n) = workers {
        server = server.workers(n);
    }
    Ok((server.run(), background))
}
