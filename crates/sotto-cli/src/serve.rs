//! `sotto serve`: settings from flags, environment and an optional TOML file, in that order
//! of precedence, then the relay on embedded SQLite (or PostgreSQL and Redis for a cluster).

mod attachments;
mod cluster;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use serde::Deserialize;
use sotto_server::config::{Limits, Policy, RateLimitConfig, RegistrationMode};
use sotto_server::relay::Listener;
use sotto_server::sealed_sender::{self, SenderCertificates};
use sotto_server::tls::{TlsListener, acceptor};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Default listen address: loopback only, so a fresh install is not exposed by accident.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7443";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the bound address is printed).
    #[arg(long, env = "SOTTO_LISTEN")]
    listen: Option<SocketAddr>,
    /// Directory holding the database [default: the user's data directory, e.g. ~/.local/share/sotto].
    #[arg(long, env = "SOTTO_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// TOML configuration file (flags and environment override it).
    #[arg(long, env = "SOTTO_CONFIG")]
    config: Option<PathBuf>,
    /// PEM certificate chain: serve HTTPS (needs --tls-key).
    #[arg(long, env = "SOTTO_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "SOTTO_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Who may register: anyone, or holders of a token from `sotto admin token`.
    #[arg(long, env = "SOTTO_REGISTRATION", value_enum)]
    registration: Option<Registration>,
    /// Turn rate limits off (benchmarks and trusted test setups only).
    #[arg(long, env = "SOTTO_NO_RATE_LIMITS")]
    no_rate_limits: bool,
    /// PostgreSQL URL (postgres://user@host/db) instead of SQLite in --data-dir: for clusters.
    #[arg(long, env = "SOTTO_DATABASE_URL")]
    database: Option<String>,
    /// Redis URL (redis://host:port): cross-node wake-ups, presence and rate limits. Needs
    /// --database, since every node must share the mailboxes.
    #[arg(long, env = "SOTTO_REDIS_URL", requires = "database")]
    redis: Option<String>,
    /// Directory of the sealed-sender keys (trust root, signing key, revoked ids), created on
    /// first start [default: DATA_DIR/sealed-sender]. Every node of a cluster needs a copy of
    /// the same directory.
    #[arg(long, env = "SOTTO_SEALED_SENDER_KEYS")]
    sealed_sender_keys: Option<PathBuf>,
    #[command(flatten)]
    attachments: attachments::AttachmentArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Registration {
    Open,
    Token,
}

/// The configuration file's keys (all optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    registration: Option<Registration>,
    limits: Option<Limits>,
    rate_limits: Option<RateLimitConfig>,
    directory_cache_ms: Option<u64>,
    websocket_ping_ms: Option<u64>,
    /// A directory or `s3://bucket/prefix`.
    attachments: Option<String>,
    s3: Option<attachments::S3File>,
    sealed_sender_keys: Option<PathBuf>,
}

fn read_config(path: &Path) -> Result<ConfigFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
}

/// The data directory used when none is given.
pub fn default_data_dir() -> Result<PathBuf> {
    directories::ProjectDirs::from("", "", "sotto")
        .map(|dirs| dirs.data_dir().to_path_buf())
        .context("no home directory to put data in; pass --data-dir")
}

/// Settings after merging flags, environment, file and defaults.
struct Settings {
    listen: SocketAddr,
    data_dir: PathBuf,
    tls: Option<(PathBuf, PathBuf)>,
    policy: Policy,
    blobs: attachments::BlobLocation,
    sealed_sender_keys: PathBuf,
}

fn settings(args: ServeArgs) -> Result<Settings> {
    let file = match &args.config {
        Some(path) => read_config(path)?,
        None => ConfigFile::default(),
    };
    let listen = match args.listen.or(file.listen) {
        Some(addr) => addr,
        None => DEFAULT_LISTEN.parse().context("default listen address")?,
    };
    let data_dir = match args.data_dir.or(file.data_dir) {
        Some(dir) => dir,
        None => default_data_dir()?,
    };
    let tls = match (
        args.tls_cert.or(file.tls_cert),
        args.tls_key.or(file.tls_key),
    ) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        _ => bail!("TLS needs both a certificate and a key (--tls-cert and --tls-key)"),
    };
    let mut rate_limits = file.rate_limits.unwrap_or_default();
    if args.no_rate_limits {
        rate_limits.enabled = false;
    }
    let registration = match args.registration.or(file.registration) {
        Some(Registration::Token) => RegistrationMode::Token,
        Some(Registration::Open) | None => RegistrationMode::Open,
    };
    let defaults = Policy::default();
    let policy = Policy {
        directory_cache_ms: file
            .directory_cache_ms
            .unwrap_or(defaults.directory_cache_ms),
        websocket_ping_ms: file.websocket_ping_ms.unwrap_or(defaults.websocket_ping_ms),
        registration,
        limits: file.limits.unwrap_or_default(),
        rate_limits,
    };
    let blobs =
        attachments::BlobLocation::merge(args.attachments, file.attachments, file.s3, &data_dir)?;
    let sealed_sender_keys = args
        .sealed_sender_keys
        .or(file.sealed_sender_keys)
        .unwrap_or_else(|| data_dir.join("sealed-sender"));
    Ok(Settings {
        listen,
        data_dir,
        tls,
        policy,
        blobs,
        sealed_sender_keys,
    })
}

async fn bind(settings: &Settings) -> Result<Listener> {
    let tcp = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    Ok(match &settings.tls {
        Some((cert, key)) => Listener::Tls(TlsListener::new(tcp, acceptor(cert, key)?)?),
        None => Listener::Plain(tcp),
    })
}

pub async fn run(args: ServeArgs) -> Result<()> {
    let (database, redis) = (args.database.clone(), args.redis.clone());
    let settings = settings(args)?;
    let store = cluster::open_store(database.as_deref(), &settings.data_dir).await?;
    let blobs = settings.blobs.open().await?;
    let certificates = SenderCertificates::load_or_create(
        &settings.sealed_sender_keys,
        sealed_sender::DEFAULT_VALIDITY_MS,
    )
    .with_context(|| {
        format!(
            "cannot load or create the sealed-sender keys in {}",
            settings.sealed_sender_keys.display()
        )
    })?;
    let listener = bind(&settings).await?;
    let addr = listener.local_addr()?;
    let scheme = if settings.tls.is_some() {
        "https"
    } else {
        "http"
    };
    if settings.tls.is_none() && !addr.ip().is_loopback() {
        tracing::warn!(
            "serving plain HTTP on {addr}, a non-loopback address: use --tls-cert/--tls-key or a TLS-terminating reverse proxy"
        );
    }
    tracing::info!(database = store.describe(), attachments = settings.blobs.describe(), registration = ?settings.policy.registration, "relay starting");
    // Announced on stdout so scripts and tests can find a port chosen by the OS.
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on {scheme}://{addr}")?;
    stdout.flush()?;
    let relay = cluster::relay(&store, redis.as_deref(), settings.policy)?
        .with_attachments(blobs)
        .with_sender_certificates(Arc::new(certificates));
    relay.serve(listener, shutdown_signal()).await?;
    store.close().await;
    tracing::info!("relay stopped");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down");
}
