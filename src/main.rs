//! The `prefcenter` command: parses the command line and calls into the library.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context as _};
use clap::{Parser, Subcommand};
use prefcenter::config::LogFormat;
use prefcenter::domain::{KeyScope, Role};
use prefcenter::service::api_keys::{self, NewKey};
use prefcenter::{store, Config};

// A request allocates often (JSON in and out, links); glibc's malloc was a sixth of a
// batch check's time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "prefcenter", version, about = "Email preference center and suppression-list service")]
struct Cli {
    /// A TOML file with settings; PREFCENTER_* environment variables win over it.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate the database, then serve (the default).
    Serve,
    /// Run pending database migrations and exit.
    Migrate,
    /// Manage API keys.
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
    /// Manage the console's operators (people, not API keys).
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// Apply retention now: forget old client data, expired suppressions and
    /// sign-ups never confirmed.
    Purge {
        /// Apply it as of this time (RFC 3339) instead of now.
        #[arg(long, value_name = "TIME")]
        as_of: Option<String>,
    },
}

#[derive(Subcommand)]
enum ApiKeyCommand {
    /// Create a key; its secret is printed alone on the last line of stdout, once.
    Create {
        #[arg(long)]
        name: String,
        /// Comma-separated: check, suppressions, contacts, admin.
        #[arg(long, value_delimiter = ',', required = true)]
        scopes: Vec<String>,
    },
    /// List keys, without their secrets.
    List,
    /// Revoke a key by id.
    Revoke { id: String },
}

#[derive(Subcommand)]
enum OperatorCommand {
    /// Create an operator; the password is read from stdin (one line, at least 12
    /// characters) and only its argon2id hash is stored.
    Create {
        #[arg(long)]
        email: String,
        /// admin, editor or viewer.
        #[arg(long)]
        role: String,
    },
    /// List operators.
    List,
    /// Disable an operator and end its console sessions.
    Disable { email: String },
    /// Set an operator's password, read from stdin; its sessions end.
    Password { email: String },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("prefcenter: {e:#}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config),
        Command::Migrate => migrate(&config),
        Command::ApiKey(command) => api_key(&config, command),
        Command::Operator(command) => operator(&config, command),
        Command::Purge { as_of } => purge(&config, as_of.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `{:#}`: the error and its causes on one line, "context: cause: …".
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("prefcenter: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr, so that stdout carries only what a command prints for scripts.
fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log).unwrap_or_else(|_| {
        eprintln!("prefcenter: PREFCENTER_LOG {:?} is not a valid filter; using \"info\"", config.log);
        tracing_subscriber::EnvFilter::new("info")
    });
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn serve(config: Config) -> anyhow::Result<()> {
    let bind = config.bind.clone();
    let listener = TcpListener::bind(&bind).with_context(|| format!("cannot listen on {bind}"))?;
    let backend = config.database_url.redacted();
    let app = prefcenter::prepare(config)?;
    let tailer = actix_web::rt::System::new()
        .block_on(async move {
            let (server, tailer) = prefcenter::server(app, listener)?;
            stop_on_signals(server.handle())?;
            tracing::info!(address = %bind, database = %backend, "prefcenter is serving");
            server.await.map(|()| tailer)
        })
        .context("server")?;
    // The tailer and the webhook deliverer end once the context is gone; let them close
    // their connections (and hand their webhooks back) before the process exits.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while !tailer.is_finished() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    tracing::info!("prefcenter stopped");
    Ok(())
}

/// Stops the server gracefully on SIGTERM or SIGINT. The handlers are in place before
/// "serving" is logged, so a supervisor's SIGTERM is never the default, abrupt one.
fn stop_on_signals(server: actix_web::dev::ServerHandle) -> std::io::Result<()> {
    use actix_web::rt::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    actix_web::rt::spawn(async move {
        let name = first_signal(terminate.recv(), interrupt.recv()).await;
        tracing::info!(signal = name, "stopping: finishing requests in flight");
        server.stop(true).await;
    });
    Ok(())
}

/// Which of two signal streams fired first.
async fn first_signal(
    terminate: impl std::future::Future<Output = Option<()>>,
    interrupt: impl std::future::Future<Output = Option<()>>,
) -> &'static str {
    use futures_util::future::{select, Either};
    match select(std::pin::pin!(terminate), std::pin::pin!(interrupt)).await {
        Either::Left(_) => "SIGTERM",
        Either::Right(_) => "SIGINT",
    }
}

fn open(config: &Config) -> anyhow::Result<store::Db> {
    let mut db = store::connect_one(&config.database_url)?;
    store::migrate(&mut db)?;
    Ok(db)
}

fn migrate(config: &Config) -> anyhow::Result<()> {
    let mut db = store::connect_one(&config.database_url)?;
    let applied = store::migrate(&mut db)?;
    if applied.is_empty() {
        println!("the database is up to date");
    } else {
        for version in applied {
            println!("applied {version}");
        }
    }
    Ok(())
}

fn purge(config: &Config, as_of: Option<&str>) -> anyhow::Result<()> {
    let now = match as_of {
        Some(t) => {
            chrono::DateTime::parse_from_rfc3339(t).with_context(|| format!("--as-of {t:?}"))?.naive_utc()
        }
        None => store::now(),
    };
    let mut db = open(config)?;
    let retention = prefcenter::service::privacy::Retention::from_config(config);
    let report = prefcenter::service::privacy::purge_on(&mut db, retention, now)?;
    tracing::info!(?report, "retention applied");
    println!("{}", serde_json::to_string(&report).unwrap_or_default());
    Ok(())
}

fn api_key(config: &Config, command: ApiKeyCommand) -> anyhow::Result<()> {
    let mut db = open(config)?;
    match command {
        ApiKeyCommand::Create { name, scopes } => {
            let scopes = scopes
                .iter()
                .map(|s| s.trim().parse::<KeyScope>().map_err(|e| anyhow!("--scopes: {e}")))
                .collect::<Result<Vec<_>, _>>()?;
            // In a write transaction: on a database no server has prepared yet, it also
            // makes the key API-key hashes are keyed with.
            let created = store::write(&mut db, |db| api_keys::create_on(db, &NewKey { name, scopes }))?;
            let scopes: Vec<&str> = created.key.scopes.iter().map(|s| s.as_str()).collect();
            println!(
                "created API key {} ({}) with scopes {}",
                created.key.id,
                created.key.name,
                scopes.join(",")
            );
            println!("the secret is shown only now:");
            println!("{}", created.secret);
        }
        ApiKeyCommand::List => {
            println!("{:<36}  {:<13}  {:<24}  {:<32}  status", "id", "prefix", "name", "scopes");
            for key in api_keys::list_on(&mut db)? {
                let scopes: Vec<&str> = key.scopes.iter().map(|s| s.as_str()).collect();
                let status = match key.revoked_at {
                    Some(at) => format!("revoked {}", at.to_rfc3339()),
                    None => "active".into(),
                };
                println!(
                    "{:<36}  {:<13}  {:<24}  {:<32}  {status}",
                    key.id,
                    key.prefix,
                    key.name,
                    scopes.join(",")
                );
            }
        }
        ApiKeyCommand::Revoke { id } => {
            api_keys::revoke_on(&mut db, &id)?;
            println!("revoked {id}");
        }
    }
    Ok(())
}

/// One line of stdin, without its line ending: a password, never an argument (which
/// other users of the machine could read in the process list).
fn password_from_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).context("reading the password from stdin")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn operator(config: &Config, command: OperatorCommand) -> anyhow::Result<()> {
    use prefcenter::service::operators;
    let mut db = open(config)?;
    match command {
        OperatorCommand::Create { email, role } => {
            let role =
                role.trim().parse::<Role>().map_err(|e| anyhow!("--role: {e} (admin, editor or viewer)"))?;
            let password = password_from_stdin()?;
            let created = operators::create_on(&mut db, &email, role, &password)?;
            println!("created operator {} ({})", created.email, created.role);
        }
        OperatorCommand::List => {
            println!("{:<40}  {:<7}  {:<6}  status", "email", "role", "locale");
            for operator in operators::list_on(&mut db)? {
                let status = match operator.disabled_at {
                    Some(at) => format!("disabled {}", at.and_utc().to_rfc3339()),
                    None => "active".into(),
                };
                println!(
                    "{:<40}  {:<7}  {:<6}  {status}",
                    operator.email,
                    operator.role.as_str(),
                    operator.locale
                );
            }
        }
        OperatorCommand::Disable { email } => {
            let ended = operators::disable_on(&mut db, &email)?;
            println!("disabled {email}; {ended} console session(s) ended");
        }
        OperatorCommand::Password { email } => {
            let password = password_from_stdin()?;
            operators::set_password_on(&mut db, &email, &password)?;
            println!("set the password of {email}; its console sessions ended");
        }
    }
    Ok(())
}
