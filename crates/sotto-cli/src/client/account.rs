//! `sotto account register` and `sotto account show`.

use std::path::Path;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde_json::json;
use sotto_client::Server;

use super::{profile, say};

/// `sotto account`.
#[derive(Debug, Args)]
pub struct AccountArgs {
    #[command(subcommand)]
    command: AccountCommand,
}

#[derive(Debug, Subcommand)]
enum AccountCommand {
    /// Register a new account on a relay, with this profile as its first device.
    Register {
        /// The relay's URL, e.g. http://127.0.0.1:8080 or https://relay.example.
        #[arg(long)]
        server: String,
        /// PEM file of the CA that signed the relay's certificate (for a self-hosted relay).
        #[arg(long, value_name = "PEM")]
        ca: Option<std::path::PathBuf>,
        /// A registration token, for a relay that requires one.
        #[arg(long)]
        token: Option<String>,
        /// The username to register (3-32 characters of a-z, 0-9, _ and .).
        username: String,
    },
    /// Show this profile's account.
    Show {
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `sotto account`.
pub async fn run(dir: &Path, args: AccountArgs) -> anyhow::Result<()> {
    match args.command {
        AccountCommand::Register {
            server,
            ca,
            token,
            username,
        } => register(dir, server, ca.as_deref(), token, &username).await,
        AccountCommand::Show { json } => show(dir, json).await,
    }
}

async fn register(
    dir: &Path,
    url: String,
    ca: Option<&Path>,
    token: Option<String>,
    username: &str,
) -> anyhow::Result<()> {
    let mut server = Server::new(url);
    if let Some(ca) = ca {
        let pem = std::fs::read(ca).with_context(|| format!("reading {}", ca.display()))?;
        server = server.with_ca_pem(pem);
    }
    let profile = profile::open_new(dir).await?;
    let client = profile
        .register(server, username, token.as_deref())
        .await
        .context("registration failed")?;
    let account = client.account();
    say(format_args!(
        "registered {} (device {}) on {}; profile {}",
        account.username,
        account.device_id,
        account.server_url,
        dir.display()
    ))?;
    client.close().await;
    Ok(())
}

async fn show(dir: &Path, as_json: bool) -> anyhow::Result<()> {
    let client = profile::open_client(dir).await?;
    let account = client.account();
    if as_json {
        say(json!({
            "username": account.username,
            "account_id": account.account_id,
            "device": account.device_id,
            "server": account.server_url,
            "profile": dir.display().to_string(),
        }))?;
    } else {
        say(format_args!("username: {}", account.username))?;
        say(format_args!("device:   {}", account.device_id))?;
        say(format_args!("server:   {}", account.server_url))?;
        say(format_args!("account:  {}", account.account_id))?;
        say(format_args!("profile:  {}", dir.display()))?;
    }
    client.close().await;
    Ok(())
}
