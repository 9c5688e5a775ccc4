//! `sotto admin`: operator commands on a relay's data directory (or a cluster's database).

use crate::serve::default_data_dir;
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use sotto_server::admin::disclose;
use sotto_server::domain::{Username, token_hash};
use sotto_server::store::sqlite::SqliteStore;
use sotto_server::store::{Day, Store};
use std::io::Write as _;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The relay's data directory [default: the user's data directory].
    #[arg(long, env = "SOTTO_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// The cluster's PostgreSQL URL, instead of a data directory.
    #[arg(long, env = "SOTTO_DATABASE_URL", global = true)]
    database: Option<String>,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Print, as JSON, everything the relay holds about an account.
    Disclose {
        /// Username.
        username: String,
    },
    /// List accounts.
    Users {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Disable an account: its devices can no longer authenticate, nobody can message it.
    Disable {
        /// Username.
        username: String,
    },
    /// Re-enable a disabled account.
    Enable {
        /// Username.
        username: String,
    },
    /// Create a registration token (for `--registration token`); prints it once.
    Token {
        /// How many registrations it allows.
        #[arg(long, default_value_t = 1)]
        uses: u32,
    },
}

pub async fn run(args: AdminArgs) -> Result<()> {
    if let Some(url) = &args.database {
        let store = sotto_server::store::postgres::PostgresStore::connect(url)
            .await
            .context("cannot open the PostgreSQL database")?;
        let result = command(&store, args.command).await;
        store.close().await;
        return result;
    }
    let dir = match args.data_dir {
        Some(dir) => dir,
        None => default_data_dir()?,
    };
    if !dir
        .join(sotto_server::store::sqlite::DATABASE_FILE)
        .exists()
    {
        bail!("no relay database in {} (pass --data-dir)", dir.display());
    }
    let store = SqliteStore::open(&dir)
        .await
        .with_context(|| format!("cannot open {}", dir.display()))?;
    let result = command(&store, args.command).await;
    store.close().await;
    result
}

fn username(raw: &str) -> Result<Username> {
    Username::parse(raw).with_context(|| format!("'{raw}' is not a valid username"))
}

async fn command(store: &dyn Store, command: AdminCommand) -> Result<()> {
    let mut out = std::io::stdout();
    match command {
        AdminCommand::Disclose { username: name } => {
            let report = disclose(store, &username(&name)?)
                .await?
                .with_context(|| format!("no account '{name}'"))?;
            writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
        }
        AdminCommand::Users { json } => {
            let accounts = store.list_accounts().await?;
            for account in accounts {
                let devices = store.devices(&account.id).await?.len();
                if json {
                    let line = serde_json::json!({"username": account.username.as_str(), "account_id": account.id.as_str(),
                        "created_day": account.created.0, "disabled": account.disabled, "devices": devices});
                    writeln!(out, "{line}")?;
                } else {
                    let state = if account.disabled {
                        "disabled"
                    } else {
                        "active"
                    };
                    writeln!(
                        out,
                        "{:<32} {} {} {state} devices={devices}",
                        account.username.as_str(),
                        account.id,
                        account.created.0
                    )?;
                }
            }
        }
        AdminCommand::Disable { username: name } => set_disabled(store, &name, true).await?,
        AdminCommand::Enable { username: name } => set_disabled(store, &name, false).await?,
        AdminCommand::Token { uses } => {
            let mut bytes = [0u8; 16];
            getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
            let token = hex::encode(bytes);
            let today = Day::from_unix(sotto_server::api::now_ms() / 1000);
            store
                .add_registration_token(token_hash(&token), uses, today)
                .await?;
            writeln!(out, "{token}")?;
        }
    }
    Ok(())
}

async fn set_disabled(store: &dyn Store, name: &str, disabled: bool) -> Result<()> {
    if !store.set_disabled(&username(name)?, disabled).await? {
        bail!("no account '{name}'");
    }
    let mut out = std::io::stdout();
    writeln!(
        out,
        "{} {name}",
        if disabled { "disabled" } else { "enabled" }
    )?;
    Ok(())
}
