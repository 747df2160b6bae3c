//! Every setting, its default, and where it comes from: built-in defaults, then an
//! optional TOML file (`--config`), then `PREFCENTER_*` environment variables, which win.

use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use serde::Deserialize;

use crate::store::DatabaseUrl;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone)]
pub struct Config {
    /// `sqlite://PATH`, a bare path, or `postgres://…`.
    pub database_url: DatabaseUrl,
    pub bind: String,
    /// The public origin used in links, without a trailing slash.
    pub base_url: String,
    /// A tracing filter such as `info` or `prefcenter=debug,info`.
    pub log: String,
    pub log_format: LogFormat,
    /// HTTP worker threads; the number of cores when unset.
    pub workers: Option<usize>,
    /// Database connections per process.
    pub pool_size: u32,
    /// `kid:base64secret[,…]`: the first signs links, all verify. Generated once and
    /// kept in the database when unset.
    pub signing_keys: Option<String>,
    /// How long unsubscribe links stay valid (CAN-SPAM asks 30 days; at least 60).
    pub unsubscribe_link_days: i64,
    /// How often the decision index reads the ledger for other processes' writes.
    pub ledger_poll_ms: u64,
    /// How long the index may go without reading the ledger before checks answer 503.
    pub index_stale_ms: u64,
    /// How long a request waits for the database (a connection, then its statements)
    /// before it answers 503: a database that stops answering must not hang callers.
    pub database_timeout_ms: u64,
    /// How long a client may take to send a request's body (and its headers).
    pub body_timeout_ms: u64,
    /// The largest bulk import body, in bytes.
    pub import_limit: usize,
    /// How often each process re-reads the API keys it has cached: the bound on how
    /// long a key revoked through another process keeps working here.
    pub api_key_refresh_ms: u64,
    /// lettre's SMTP URL (`smtp://host:port`, `smtps://user:pass@host`); when unset,
    /// mail is written as `.eml` files to `outbox_dir`.
    pub smtp_url: Option<String>,
    pub outbox_dir: std::path::PathBuf,
    /// The sender of confirmation and preference-link mail.
    pub mail_from: String,
    /// How long preference links (the magic link's) and confirmation links stay valid.
    pub preference_link_days: i64,
    pub confirm_link_days: i64,
    /// Peers whose `X-Forwarded-For` is believed: the client address is otherwise the
    /// socket's.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Days client pseudonyms and user agents stay on events.
    pub retention_days: u64,
    /// Days an expired suppression is kept before it is removed.
    pub expired_suppression_days: u64,
    /// Days a `pending` status waits for its confirmation.
    pub pending_days: u64,
    /// Minutes between two retention runs inside the server.
    pub purge_interval_minutes: u64,
    /// Soft bounces within the window that make a temporary suppression…
    pub soft_bounce_threshold: u64,
    pub soft_bounce_window_days: u64,
    /// …and how long it lasts.
    pub soft_bounce_suppress_days: u64,
    /// A PEM file of SNS signing certificates: SES notifications are then verified.
    pub sns_certificates: Option<std::path::PathBuf>,
    /// SendGrid's signed-webhook verification key: SendGrid events are then verified.
    pub sendgrid_verification_key: Option<String>,
    /// Mailgun's webhook signing key: Mailgun webhooks are then verified.
    pub mailgun_signing_key: Option<String>,
    /// Providers' groups of mail (`provider:group`) whose unsubscribes are topic
    /// unsubscribes, and their topics.
    pub feedback_topics: Vec<FeedbackTopic>,
    /// Outgoing webhooks and feed consumers.
    pub webhooks: WebhookSettings,
    /// The domain of the unsubscribe mailboxes (`u-TOKEN@DOMAIN`), in its ASCII form:
    /// `List-Unsubscribe` then carries a `mailto:` URI too.
    pub unsubscribe_mail_domain: Option<String>,
    /// The SMTP receiver's settings; `None`: no receiver.
    pub smtp_receiver: Option<SmtpReceiver>,
    /// The sender's brand on recipients' pages and mails (see `crate::brand`).
    pub brand: BrandSettings,
    /// How long the link that confirms an erasure asked for on the pages stays valid.
    pub erase_link_minutes: i64,
}

/// The branding settings, as given (`PREFCENTER_BRAND_*`, `_PRIVACY_URL`,
/// `_CONTACT_EMAIL`, `_POSTAL_ADDRESS`); the logo is read at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrandSettings {
    /// The sender's name: page titles, headings, the mails' display name and footer.
    pub name: Option<String>,
    /// A PNG or SVG file, served at `/brand/logo`.
    pub logo: Option<std::path::PathBuf>,
    /// The accent colour; text on it keeps 4.5:1 in both modes.
    pub color: crate::domain::colour::Rgb,
    /// "Privacy policy" in every page footer and mail.
    pub privacy_url: Option<String>,
    /// "Questions: …" in every page footer and mail.
    pub contact_email: Option<String>,
    /// The sender's postal address in mail footers (CAN-SPAM).
    pub postal_address: Option<String>,
}

/// prefcenter's own SMTP receiver for the unsubscribe mailboxes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpReceiver {
    /// Where it listens, e.g. `0.0.0.0:25`.
    pub listen: String,
    /// A PEM certificate (chain) and its PKCS#8 PEM key: STARTTLS is offered with both.
    pub tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
    /// Sessions served at once; more wait for a free one.
    pub max_sessions: usize,
    /// The largest message accepted, in bytes.
    pub max_message: usize,
    /// How long a client may take for one command or line, and for the whole session.
    pub command_timeout_ms: u64,
    pub session_timeout_ms: u64,
}

/// How webhooks are delivered, and when a consumer of the feed is late.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Whether this process delivers webhooks (`PREFCENTER_WEBHOOK_DELIVERY`); the other
    /// processes on the database do when it does not.
    pub deliver: bool,
    /// Whether receivers on loopback, private and other non-public addresses may be
    /// called: for on-premise receivers and tests.
    pub allow_private: bool,
    /// How long a receiver has to answer an attempt.
    pub timeout: Duration,
    /// How often each webhook looks for new events.
    pub poll: Duration,
    /// The first retry's delay, doubled at each failure up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// How long deliveries may fail before the webhook is disabled.
    pub disable_after: Duration,
    /// How long a process's hold on a webhook lasts unless renewed: how long a
    /// webhook waits after its process died before another takes it over.
    pub lease: Duration,
    /// Days delivery attempts stay in a webhook's log.
    pub log_days: u64,
    /// When a consumer (or a webhook) whose oldest unapplied event is older than this is
    /// logged as late.
    pub late_after: Duration,
}

impl WebhookSettings {
    fn from_sources(file: &FileSettings, env: &impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let number = |name: &str, from_file: Option<u64>, default: u64| match env(name) {
            Some(n) => parse_positive::<u64>(name, &n),
            None => Ok(from_file.unwrap_or(default)),
        };
        let flag =
            |name: &str, from_file: Option<bool>, default: bool| match env(name).as_deref().map(str::trim) {
                Some("true") => Ok(true),
                Some("false") => Ok(false),
                Some(other) => bail!("{name}: {other:?} is neither \"true\" nor \"false\""),
                None => Ok(from_file.unwrap_or(default)),
            };
        let ms = |name: &str, from_file: Option<u64>, default: u64| {
            number(name, from_file, default).map(Duration::from_millis)
        };
        let seconds = |name: &str, from_file: Option<u64>, default: u64| {
            number(name, from_file, default).map(Duration::from_secs)
        };
        let settings = Self {
            deliver: flag("PREFCENTER_WEBHOOK_DELIVERY", file.webhook_delivery, true)?,
            allow_private: flag("PREFCENTER_WEBHOOK_ALLOW_PRIVATE", file.webhook_allow_private, false)?,
            timeout: ms("PREFCENTER_WEBHOOK_TIMEOUT_MS", file.webhook_timeout_ms, 10_000)?,
            poll: ms("PREFCENTER_WEBHOOK_POLL_MS", file.webhook_poll_ms, 1000)?,
            retry_base: ms("PREFCENTER_WEBHOOK_RETRY_BASE_MS", file.webhook_retry_base_ms, 5000)?,
            retry_max: ms("PREFCENTER_WEBHOOK_RETRY_MAX_MS", file.webhook_retry_max_ms, 3_600_000)?,
            disable_after: seconds(
                "PREFCENTER_WEBHOOK_DISABLE_AFTER_SECONDS",
                file.webhook_disable_after_seconds,
                3 * 86_400,
            )?,
            lease: ms("PREFCENTER_WEBHOOK_LEASE_MS", file.webhook_lease_ms, 30_000)?,
            log_days: number("PREFCENTER_WEBHOOK_LOG_DAYS", file.webhook_log_days, 30)?,
            late_after: seconds(
                "PREFCENTER_FEED_CONSUMER_LATE_SECONDS",
                file.feed_consumer_late_seconds,
                86_400,
            )?,
        };
        // A delivery must end well within the lease it began under, or another process
        // could take the webhook over while it is still in flight.
        if settings.lease < settings.timeout * 2 {
            bail!("PREFCENTER_WEBHOOK_LEASE_MS must be at least twice PREFCENTER_WEBHOOK_TIMEOUT_MS");
        }
        Ok(settings)
    }
}

/// `provider:group=topic` in `PREFCENTER_FEEDBACK_TOPICS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedbackTopic {
    pub provider: crate::domain::Provider,
    pub group: String,
    pub topic: crate::domain::TopicKey,
}

impl FeedbackTopic {
    fn parse(spec: &str) -> anyhow::Result<Self> {
        let wrong = || anyhow!("PREFCENTER_FEEDBACK_TOPICS: {spec:?} is not provider:group=topic");
        let (source, topic) = spec.split_once('=').ok_or_else(wrong)?;
        let (provider, group) = source.split_once(':').ok_or_else(wrong)?;
        let provider = provider
            .trim()
            .parse::<crate::domain::Provider>()
            .ok()
            .filter(|p| p.has_groups() && !group.trim().is_empty())
            .ok_or_else(wrong)?;
        let topic = crate::domain::TopicKey::parse(topic.trim())
            .map_err(|e| anyhow!("PREFCENTER_FEEDBACK_TOPICS: {spec:?}: {e}"))?;
        Ok(Self { provider, group: group.trim().into(), topic })
    }
}

/// The file's keys: the settings' names without the `PREFCENTER_` prefix, in lower case.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    database_url: Option<String>,
    bind: Option<String>,
    base_url: Option<String>,
    log: Option<String>,
    log_format: Option<LogFormat>,
    workers: Option<usize>,
    pool_size: Option<u32>,
    signing_keys: Option<String>,
    unsubscribe_link_days: Option<i64>,
    ledger_poll_ms: Option<u64>,
    index_stale_ms: Option<u64>,
    database_timeout_ms: Option<u64>,
    body_timeout_ms: Option<u64>,
    import_limit_mb: Option<u64>,
    api_key_refresh_ms: Option<u64>,
    smtp_url: Option<String>,
    outbox_dir: Option<String>,
    mail_from: Option<String>,
    preference_link_days: Option<u64>,
    confirm_link_days: Option<u64>,
    trusted_proxies: Option<String>,
    retention_days: Option<u64>,
    expired_suppression_days: Option<u64>,
    pending_days: Option<u64>,
    purge_interval_minutes: Option<u64>,
    soft_bounce_threshold: Option<u64>,
    soft_bounce_window_days: Option<u64>,
    soft_bounce_suppress_days: Option<u64>,
    sns_certificates: Option<String>,
    sendgrid_verification_key: Option<String>,
    mailgun_signing_key: Option<String>,
    feedback_topics: Option<String>,
    webhook_delivery: Option<bool>,
    webhook_allow_private: Option<bool>,
    webhook_timeout_ms: Option<u64>,
    webhook_poll_ms: Option<u64>,
    webhook_retry_base_ms: Option<u64>,
    webhook_retry_max_ms: Option<u64>,
    webhook_disable_after_seconds: Option<u64>,
    webhook_lease_ms: Option<u64>,
    webhook_log_days: Option<u64>,
    feed_consumer_late_seconds: Option<u64>,
    unsubscribe_mail_domain: Option<String>,
    smtp_listen: Option<String>,
    smtp_tls_cert: Option<String>,
    smtp_tls_key: Option<String>,
    smtp_max_sessions: Option<u64>,
    smtp_max_message_kb: Option<u64>,
    smtp_command_timeout_ms: Option<u64>,
    smtp_session_timeout_ms: Option<u64>,
    brand_name: Option<String>,
    brand_logo: Option<String>,
    brand_color: Option<String>,
    privacy_url: Option<String>,
    contact_email: Option<String>,
    postal_address: Option<String>,
    erase_link_minutes: Option<u64>,
}

impl Config {
    /// Reads the file (when given) and the process environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let settings = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the config file {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("config file {}", path.display()))?
            }
            None => FileSettings::default(),
        };
        Self::from_sources(settings, |name| std::env::var(name).ok())
    }

    /// Defaults, for one database: what tests and embedders start from.
    pub fn for_database(url: &str) -> anyhow::Result<Self> {
        Self::from_sources(
            FileSettings { database_url: Some(url.to_owned()), ..FileSettings::default() },
            |_| None,
        )
    }

    fn from_sources(file: FileSettings, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let webhooks = WebhookSettings::from_sources(&file, &env)?;
        let pick = |name: &str, from_file: Option<String>| env(&format!("PREFCENTER_{name}")).or(from_file);
        let brand = brand_settings(&pick, &file)?;
        let database_url =
            pick("DATABASE_URL", file.database_url).unwrap_or_else(|| "sqlite://prefcenter.db".into());
        let database_url = DatabaseUrl::parse(&database_url).context("PREFCENTER_DATABASE_URL")?;
        let bind = pick("BIND", file.bind).unwrap_or_else(|| "127.0.0.1:8080".into());
        let base_url = pick("BASE_URL", file.base_url).unwrap_or_else(|| format!("http://{bind}"));
        let base_url = parse_base_url(&base_url)?;
        let log = pick("LOG", file.log).unwrap_or_else(|| "info".into());
        let log_format = match env("PREFCENTER_LOG_FORMAT").as_deref() {
            Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => bail!("PREFCENTER_LOG_FORMAT: {other:?} is neither \"text\" nor \"json\""),
            None => file.log_format.unwrap_or(LogFormat::Text),
        };
        let workers = match env("PREFCENTER_WORKERS") {
            Some(n) => Some(parse_positive("PREFCENTER_WORKERS", &n)?),
            None => file.workers,
        };
        let pool_size = match env("PREFCENTER_POOL_SIZE") {
            Some(n) => parse_positive("PREFCENTER_POOL_SIZE", &n)?,
            None => file.pool_size.unwrap_or(10),
        };
        let signing_keys = pick("SIGNING_KEYS", file.signing_keys);
        if let Some(spec) = &signing_keys {
            crate::domain::token::TokenKeys::parse(spec)
                .map_err(|e| anyhow!("PREFCENTER_SIGNING_KEYS: {e}"))?;
        }
        let number =
            |name: &str, from_file: Option<u64>, default: u64| match env(&format!("PREFCENTER_{name}")) {
                Some(n) => parse_positive::<u64>(&format!("PREFCENTER_{name}"), &n),
                None => Ok(from_file.unwrap_or(default)),
            };
        let unsubscribe_link_days =
            number("UNSUBSCRIBE_LINK_DAYS", file.unsubscribe_link_days.map(|d| d.max(0) as u64), 90)?;
        if unsubscribe_link_days < 60 {
            bail!("PREFCENTER_UNSUBSCRIBE_LINK_DAYS: unsubscribe links must stay valid at least 60 days");
        }
        let ledger_poll_ms = number("LEDGER_POLL_MS", file.ledger_poll_ms, 250)?;
        let index_stale_ms = number("INDEX_STALE_MS", file.index_stale_ms, 5000)?;
        let database_timeout_ms = number("DATABASE_TIMEOUT_MS", file.database_timeout_ms, 5000)?;
        let body_timeout_ms = number("BODY_TIMEOUT_MS", file.body_timeout_ms, 30_000)?;
        let import_limit = number("IMPORT_LIMIT_MB", file.import_limit_mb, 16)? as usize * 1024 * 1024;
        let api_key_refresh_ms = number("API_KEY_REFRESH_MS", file.api_key_refresh_ms, 30_000)?;
        let smtp_url = pick("SMTP_URL", file.smtp_url).filter(|u| !u.trim().is_empty());
        if let Some(url) = &smtp_url {
            // lettre's message already ends with its cause: a context would say it twice.
            lettre::SmtpTransport::from_url(url).map_err(|e| anyhow!("PREFCENTER_SMTP_URL: {e}"))?;
        }
        let outbox_dir = pick("OUTBOX_DIR", file.outbox_dir).unwrap_or_else(|| "outbox".into()).into();
        let mail_from = pick("MAIL_FROM", file.mail_from).unwrap_or_else(|| default_sender(&base_url));
        mail_from
            .parse::<lettre::message::Mailbox>()
            .with_context(|| format!("PREFCENTER_MAIL_FROM {mail_from:?}"))?;
        let erase_link_minutes = number("ERASE_LINK_MINUTES", file.erase_link_minutes, 60)? as i64;
        let preference_link_days = number("PREFERENCE_LINK_DAYS", file.preference_link_days, 30)? as i64;
        let confirm_link_days = number("CONFIRM_LINK_DAYS", file.confirm_link_days, 7)? as i64;
        let trusted_proxies = pick("TRUSTED_PROXIES", file.trusted_proxies)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| p.parse().map_err(|_| anyhow!("PREFCENTER_TRUSTED_PROXIES: {p:?} is not an IP address")))
            .collect::<Result<Vec<_>, _>>()?;
        let retention_days = number("RETENTION_DAYS", file.retention_days, 730)?;
        let expired_suppression_days = number("EXPIRED_SUPPRESSION_DAYS", file.expired_suppression_days, 30)?;
        let pending_days = number("PENDING_DAYS", file.pending_days, 30)?;
        let purge_interval_minutes = number("PURGE_INTERVAL_MINUTES", file.purge_interval_minutes, 60)?;
        let soft_bounce_threshold = number("SOFT_BOUNCE_THRESHOLD", file.soft_bounce_threshold, 3)?;
        let soft_bounce_window_days = number("SOFT_BOUNCE_WINDOW_DAYS", file.soft_bounce_window_days, 7)?;
        let soft_bounce_suppress_days =
            number("SOFT_BOUNCE_SUPPRESS_DAYS", file.soft_bounce_suppress_days, 7)?;
        let sns_certificates = pick("SNS_CERTIFICATES", file.sns_certificates).map(Into::into);
        let sendgrid_verification_key = pick("SENDGRID_VERIFICATION_KEY", file.sendgrid_verification_key);
        let mailgun_signing_key = pick("MAILGUN_SIGNING_KEY", file.mailgun_signing_key);
        let feedback_topics = pick("FEEDBACK_TOPICS", file.feedback_topics)
            .unwrap_or_default()
            .split(',')
            .filter(|spec| !spec.trim().is_empty())
            .map(FeedbackTopic::parse)
            .collect::<Result<Vec<_>, _>>()?;
        let unsubscribe_mail_domain = pick("UNSUBSCRIBE_MAIL_DOMAIN", file.unsubscribe_mail_domain)
            .filter(|d| !d.trim().is_empty())
            .map(|d| parse_mail_domain(&d))
            .transpose()?;
        let smtp_receiver = match pick("SMTP_LISTEN", file.smtp_listen).filter(|l| !l.trim().is_empty()) {
            None => None,
            Some(listen) => {
                if unsubscribe_mail_domain.is_none() {
                    bail!("PREFCENTER_SMTP_LISTEN: the receiver needs PREFCENTER_UNSUBSCRIBE_MAIL_DOMAIN, the domain it takes mail for");
                }
                let tls = match (
                    pick("SMTP_TLS_CERT", file.smtp_tls_cert),
                    pick("SMTP_TLS_KEY", file.smtp_tls_key),
                ) {
                    (Some(cert), Some(key)) => Some((cert.into(), key.into())),
                    (None, None) => None,
                    _ => bail!("PREFCENTER_SMTP_TLS_CERT and PREFCENTER_SMTP_TLS_KEY go together"),
                };
                Some(SmtpReceiver {
                    listen: listen.trim().to_owned(),
                    tls,
                    max_sessions: number("SMTP_MAX_SESSIONS", file.smtp_max_sessions, 100)? as usize,
                    max_message: number("SMTP_MAX_MESSAGE_KB", file.smtp_max_message_kb, 1024)? as usize
                        * 1024,
                    command_timeout_ms: number(
                        "SMTP_COMMAND_TIMEOUT_MS",
                        file.smtp_command_timeout_ms,
                        60_000,
                    )?,
                    session_timeout_ms: number(
                        "SMTP_SESSION_TIMEOUT_MS",
                        file.smtp_session_timeout_ms,
                        300_000,
                    )?,
                })
            }
        };
        Ok(Self {
            webhooks,
            unsubscribe_mail_domain,
            smtp_receiver,
            brand,
            erase_link_minutes,
            sns_certificates,
            sendgrid_verification_key,
            mailgun_signing_key,
            feedback_topics,
            soft_bounce_threshold,
            soft_bounce_window_days,
            soft_bounce_suppress_days,
            retention_days,
            expired_suppression_days,
            pending_days,
            purge_interval_minutes,
            smtp_url,
            outbox_dir,
            mail_from,
            preference_link_days,
            confirm_link_days,
            trusted_proxies,
            database_url,
            bind,
            base_url,
            log,
            log_format,
            workers,
            pool_size,
            signing_keys,
            unsubscribe_link_days: unsubscribe_link_days as i64,
            ledger_poll_ms,
            index_stale_ms,
            database_timeout_ms,
            body_timeout_ms,
            import_limit,
            api_key_refresh_ms,
        })
    }
}

/// The sender when none is set: `no-reply@` the domain of the public origin, or
/// `prefcenter@localhost` when that is an address or `localhost` (a local set-up).
fn default_sender(base_url: &str) -> String {
    match url::Url::parse(base_url).ok().and_then(|u| u.domain().map(str::to_owned)) {
        Some(domain) if domain != "localhost" && domain.contains('.') => format!("no-reply@{domain}"),
        _ => "prefcenter@localhost".into(),
    }
}

/// The branding settings, each checked: a name of one line, a colour `#rrggbb`, an
/// http(s) privacy URL, a mail address, a postal address of a few lines.
fn brand_settings(
    pick: &impl Fn(&str, Option<String>) -> Option<String>,
    file: &FileSettings,
) -> anyhow::Result<BrandSettings> {
    use crate::domain::text::{check, Shape};
    let text = |name: &str,
                from_file: &Option<String>,
                shape: Shape,
                max: usize|
     -> anyhow::Result<Option<String>> {
        let Some(value) =
            pick(name, from_file.clone()).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
        else {
            return Ok(None);
        };
        check(&value, shape).map_err(|e| anyhow!("PREFCENTER_{name}: {e}"))?;
        if value.chars().count() > max {
            bail!("PREFCENTER_{name}: must be at most {max} characters");
        }
        Ok(Some(value))
    };
    let color = pick("BRAND_COLOR", file.brand_color.clone()).unwrap_or_else(|| "#1f5fbf".into());
    let color =
        crate::domain::colour::Rgb::parse(&color).map_err(|e| anyhow!("PREFCENTER_BRAND_COLOR: {e}"))?;
    let privacy_url = text("PRIVACY_URL", &file.privacy_url, Shape::Identifier, 2000)?;
    if let Some(u) = &privacy_url {
        let parsed = url::Url::parse(u).with_context(|| format!("PREFCENTER_PRIVACY_URL {u:?}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            bail!("PREFCENTER_PRIVACY_URL {u:?}: an http:// or https:// URL is needed");
        }
    }
    let contact_email = text("CONTACT_EMAIL", &file.contact_email, Shape::Identifier, 254)?;
    if let Some(e) = &contact_email {
        crate::domain::NormalizedAddress::parse(e)
            .map_err(|err| anyhow!("PREFCENTER_CONTACT_EMAIL {e:?}: {err}"))?;
    }
    Ok(BrandSettings {
        name: text("BRAND_NAME", &file.brand_name, Shape::Line, 100)?,
        logo: pick("BRAND_LOGO", file.brand_logo.clone()).filter(|p| !p.trim().is_empty()).map(Into::into),
        color,
        privacy_url,
        contact_email,
        // Several lines, as an address is written; `\n` in a one-line setting is a line break.
        postal_address: text("POSTAL_ADDRESS", &file.postal_address, Shape::Paragraph, 500)?
            .map(|a| a.replace("\\n", "\n")),
    })
}

fn parse_base_url(input: &str) -> anyhow::Result<String> {
    let parsed = url::Url::parse(input).with_context(|| format!("PREFCENTER_BASE_URL {input:?}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        bail!("PREFCENTER_BASE_URL {input:?}: an http:// or https:// origin is needed");
    }
    Ok(input.trim_end_matches('/').to_owned())
}

/// A domain for mailboxes, in its ASCII form: what may follow the @ of an address.
fn parse_mail_domain(input: &str) -> anyhow::Result<String> {
    let domain = input.trim().trim_end_matches('.');
    crate::domain::NormalizedAddress::parse(&format!("u@{domain}"))
        .map(|address| address.domain().to_owned())
        .map_err(|_| {
            anyhow!("PREFCENTER_UNSUBSCRIBE_MAIL_DOMAIN {input:?} is not a domain mail can be sent to")
        })
}

fn parse_positive<T: std::str::FromStr + PartialOrd + Default>(name: &str, value: &str) -> anyhow::Result<T> {
    match value.trim().parse::<T>() {
        Ok(n) if n > T::default() => Ok(n),
        _ => bail!("{name}: {value:?} is not a positive whole number"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(file: &str, env: &[(&str, &str)]) -> anyhow::Result<Config> {
        let env: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let file: FileSettings = toml::from_str(file)?;
        Config::from_sources(file, |k| env.get(k).cloned())
    }

    /// What `main` prints for a setting that stops the start.
    fn refusal(env: &[(&str, &str)]) -> String {
        format!("{:#}", load("", env).err().expect("the setting is refused"))
    }

    #[test]
    fn defaults_are_the_embedded_setup() {
        let c = load("", &[]).unwrap();
        assert_eq!(c.database_url.backend, crate::store::Backend::Sqlite);
        assert_eq!(c.bind, "127.0.0.1:8080");
        assert_eq!(c.base_url, "http://127.0.0.1:8080");
        assert_eq!(c.log, "info");
    }

    #[test]
    fn the_environment_wins_over_the_file() {
        let c = load(
            "bind = \"0.0.0.0:9000\"\nlog = \"debug\"",
            &[("PREFCENTER_BIND", "127.0.0.1:7000"), ("PREFCENTER_BASE_URL", "https://prefs.example.com/")],
        )
        .unwrap();
        assert_eq!(c.bind, "127.0.0.1:7000");
        assert_eq!(c.log, "debug");
        assert_eq!(c.base_url, "https://prefs.example.com");
    }

    #[test]
    fn bad_settings_are_start_up_errors() {
        assert!(load("", &[("PREFCENTER_DATABASE_URL", "mysql://x")]).is_err());
        assert!(load("", &[("PREFCENTER_BASE_URL", "ftp://x")]).is_err());
        assert!(load("", &[("PREFCENTER_WORKERS", "0")]).is_err());
        assert!(load("bindd = \"x\"", &[]).is_err(), "a mistyped key in the file is an error");
    }

    #[test]
    fn a_refused_setting_reads_as_one_line_naming_it() {
        assert_eq!(
            refusal(&[("PREFCENTER_DATABASE_URL", "mysql://x")]),
            "PREFCENTER_DATABASE_URL: unsupported database URL scheme \"mysql\": use postgres://, postgresql:// or sqlite://"
        );
        assert_eq!(
            refusal(&[("PREFCENTER_WORKERS", "0")]),
            "PREFCENTER_WORKERS: \"0\" is not a positive whole number"
        );
        assert_eq!(
            refusal(&[("PREFCENTER_BASE_URL", "ftp://x")]),
            "PREFCENTER_BASE_URL \"ftp://x\": an http:// or https:// origin is needed"
        );
        assert_eq!(
            refusal(&[("PREFCENTER_MAIL_FROM", "not an address")]),
            "PREFCENTER_MAIL_FROM \"not an address\": Invalid input"
        );
        assert_eq!(
            refusal(&[("PREFCENTER_SMTP_URL", "bogus://")]),
            "PREFCENTER_SMTP_URL: Connection error: smtp host undefined"
        );
    }

    #[test]
    fn webhook_settings_have_their_defaults_and_are_checked() {
        let c = load("", &[]).unwrap().webhooks;
        assert!(c.deliver && !c.allow_private);
        assert_eq!(
            (c.timeout, c.poll, c.lease),
            (Duration::from_secs(10), Duration::from_secs(1), Duration::from_secs(30))
        );
        assert_eq!((c.retry_base, c.retry_max), (Duration::from_secs(5), Duration::from_secs(3600)));
        assert_eq!(
            (c.disable_after, c.late_after),
            (Duration::from_secs(3 * 86_400), Duration::from_secs(86_400))
        );
        let c = load(
            "webhook_allow_private = true\nwebhook_poll_ms = 50",
            &[("PREFCENTER_WEBHOOK_DELIVERY", "false")],
        )
        .unwrap()
        .webhooks;
        assert!(c.allow_private && !c.deliver);
        assert_eq!(c.poll, Duration::from_millis(50));
        assert_eq!(
            refusal(&[("PREFCENTER_WEBHOOK_ALLOW_PRIVATE", "yes")]),
            "PREFCENTER_WEBHOOK_ALLOW_PRIVATE: \"yes\" is neither \"true\" nor \"false\""
        );
        assert_eq!(
            refusal(&[("PREFCENTER_WEBHOOK_LEASE_MS", "15000")]),
            "PREFCENTER_WEBHOOK_LEASE_MS must be at least twice PREFCENTER_WEBHOOK_TIMEOUT_MS"
        );
        assert!(load("", &[("PREFCENTER_WEBHOOK_TIMEOUT_MS", "0")]).is_err());
    }

    #[test]
    fn the_unsubscribe_mailbox_settings() {
        let c = load("", &[]).unwrap();
        assert_eq!((c.unsubscribe_mail_domain, c.smtp_receiver), (None, None));
        let c = load("unsubscribe_mail_domain = \"Unsub.Bücher.example.\"", &[]).unwrap();
        assert_eq!(c.unsubscribe_mail_domain.as_deref(), Some("unsub.xn--bcher-kva.example"));
        assert_eq!(c.smtp_receiver, None);
        let c = load(
            "",
            &[
                ("PREFCENTER_UNSUBSCRIBE_MAIL_DOMAIN", "unsub.example.com"),
                ("PREFCENTER_SMTP_LISTEN", "0.0.0.0:25"),
            ],
        )
        .unwrap();
        let receiver = c.smtp_receiver.unwrap();
        assert_eq!(
            (receiver.listen.as_str(), receiver.max_sessions, receiver.max_message),
            ("0.0.0.0:25", 100, 1 << 20)
        );
        assert_eq!(receiver.tls, None);
        assert_eq!(
            refusal(&[("PREFCENTER_SMTP_LISTEN", "0.0.0.0:25")]),
            "PREFCENTER_SMTP_LISTEN: the receiver needs PREFCENTER_UNSUBSCRIBE_MAIL_DOMAIN, the domain it takes mail for"
        );
        assert!(load("", &[("PREFCENTER_UNSUBSCRIBE_MAIL_DOMAIN", "not a domain")]).is_err());
        assert!(load("", &[("PREFCENTER_UNSUBSCRIBE_MAIL_DOMAIN", "localhost")]).is_err(), "a TLD is needed");
        let half_tls = [
            ("PREFCENTER_UNSUBSCRIBE_MAIL_DOMAIN", "unsub.example.com"),
            ("PREFCENTER_SMTP_LISTEN", "0.0.0.0:25"),
            ("PREFCENTER_SMTP_TLS_CERT", "cert.pem"),
        ];
        assert_eq!(refusal(&half_tls), "PREFCENTER_SMTP_TLS_CERT and PREFCENTER_SMTP_TLS_KEY go together");
    }

    #[test]
    fn branding_is_checked_and_the_default_sender_follows_the_origin() {
        let c = load("", &[]).unwrap();
        assert_eq!(c.mail_from, "prefcenter@localhost");
        assert_eq!(c.brand.color.to_string(), "#1f5fbf");
        assert_eq!(c.brand.name, None);
        let c = load(
            "brand_name = \"Acme\"\npostal_address = \"1 Main St\\\\nSpringfield\"",
            &[("PREFCENTER_BASE_URL", "https://prefs.acme.example/"), ("PREFCENTER_BRAND_COLOR", "#FFD400")],
        )
        .unwrap();
        assert_eq!(c.mail_from, "no-reply@prefs.acme.example");
        assert_eq!(c.brand.name.as_deref(), Some("Acme"));
        assert_eq!(c.brand.postal_address.as_deref(), Some("1 Main St\nSpringfield"));
        assert_eq!(c.brand.color.to_string(), "#ffd400");
        assert_eq!(
            refusal(&[("PREFCENTER_BRAND_COLOR", "blue")]),
            "PREFCENTER_BRAND_COLOR: \"blue\" is not a colour written #rrggbb"
        );
        assert!(load("", &[("PREFCENTER_PRIVACY_URL", "javascript:alert(1)")]).is_err());
        assert!(load("", &[("PREFCENTER_CONTACT_EMAIL", "not an address")]).is_err());
        assert!(load("", &[("PREFCENTER_BRAND_NAME", "Acme\u{0}")]).is_err());
        assert!(load("", &[("PREFCENTER_BRAND_NAME", &"x".repeat(101))]).is_err());
    }

    #[test]
    fn feedback_topics_map_providers_groups() {
        let config = load("feedback_topics = \"sendgrid:123=news, postmark:broadcast=offers\"", &[]).unwrap();
        let mapped: Vec<_> = config
            .feedback_topics
            .iter()
            .map(|t| (t.provider.as_str(), t.group.as_str(), t.topic.as_str()))
            .collect();
        assert_eq!(mapped, [("sendgrid", "123", "news"), ("postmark", "broadcast", "offers")]);
        for wrong in ["sendgrid=news", "ses:1=news", "sendgrid:1=Not A Key", "sendgrid:=news"] {
            assert!(load("", &[("PREFCENTER_FEEDBACK_TOPICS", wrong)]).is_err(), "{wrong}");
        }
    }
}
