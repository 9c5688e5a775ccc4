//! `sotto devices`: link this profile as a new device of an account (`link`), approve a new
//! device from an existing one (`add`), list the account's devices and remove one.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;
use serde_json::{Value, json};
use sotto_client::{Event, Server};
use tokio::sync::broadcast;

use super::{output, profile, say};

/// `sotto devices`.
#[derive(Debug, Args)]
pub struct DevicesArgs {
    #[command(subcommand)]
    command: DevicesCommand,
}

#[derive(Debug, Subcommand)]
enum DevicesCommand {
    /// On a NEW device: show a linking code (text and QR) and wait until an existing device
    /// of the account approves it with `sotto devices add CODE` (at most 10 minutes).
    Link {
        /// The relay's URL (the one the account is registered on).
        #[arg(long)]
        server: String,
        /// PEM file of the CA that signed the relay's certificate (for a self-hosted relay).
        #[arg(long, value_name = "PEM")]
        ca: Option<PathBuf>,
        /// JSON lines (`link_code`, then `linked`) instead of text and a QR code.
        #[arg(long)]
        json: bool,
    },
    /// On an EXISTING device: approve the new device showing CODE. It receives the account's
    /// identity end-to-end encrypted; the relay sees only ciphertext.
    Add {
        /// The linking code (`sotto-link:…`) shown by `sotto devices link`.
        code: String,
    },
    /// List the account's devices (id, added, last seen, which one is this).
    List {
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove another device of the account: it can no longer sign in, its queued messages
    /// are dropped, and contacts stop encrypting to it.
    Remove {
        /// The device id (see `sotto devices list`).
        device_id: u32,
    },
}

/// Runs `sotto devices`.
pub async fn run(dir: &Path, args: DevicesArgs) -> anyhow::Result<()> {
    match args.command {
        DevicesCommand::Link { server, ca, json } => link(dir, server, ca.as_deref(), json).await,
        DevicesCommand::Add { code } => add(dir, &code).await,
        DevicesCommand::List { json } => list(dir, json).await,
        DevicesCommand::Remove { device_id } => remove(dir, device_id).await,
    }
}

async fn link(dir: &Path, url: String, ca: Option<&Path>, as_json: bool) -> anyhow::Result<()> {
    let mut server = Server::new(url);
    if let Some(ca) = ca {
        let pem = std::fs::read(ca).with_context(|| format!("reading {}", ca.display()))?;
        server = server.with_ca_pem(pem);
    }
    let profile = profile::open_new(dir).await?;
    let pending = profile
        .start_link(server)
        .await
        .context("opening a linking channel on the relay")?;
    let code = pending.code();
    if as_json {
        say(json!({"type": "link_code", "code": code}))?;
    } else {
        say(&code)?;
        let qr = QrCode::new(code.as_bytes()).context("making the QR code")?;
        say(qr.render::<Dense1x2>().quiet_zone(true).build())?;
        say(
            "Waiting for approval: on a device of the account run `sotto devices add CODE` with the code above.",
        )?;
    }
    let client = pending.finish().await.context("linking failed")?;
    let account = client.account();
    if as_json {
        say(json!({"type": "linked", "username": account.username,
                   "account_id": account.account_id, "device": account.device_id}))?;
    } else {
        say(format_args!(
            "linked as device {} of {}; profile {}",
            account.device_id,
            account.username,
            dir.display()
        ))?;
    }
    client.close().await;
    Ok(())
}

async fn add(dir: &Path, code: &str) -> anyhow::Result<()> {
    let client = profile::open_client(dir).await?;
    let result = client.approve_link(code).await;
    client.close().await;
    result.context("approving the new device failed")?;
    say("approved: the new device finishes linking on its own")
}

async fn list(dir: &Path, as_json: bool) -> anyhow::Result<()> {
    let client = profile::open_client(dir).await?;
    let devices = client.devices().await;
    let me = client.account().device_id;
    client.close().await;
    let devices = devices.context("listing devices")?;
    if !as_json {
        say("id  added       last seen")?;
    }
    for device in devices {
        let this = device.device_id == me;
        if as_json {
            say(
                json!({"id": device.device_id, "created": device.created_day,
                       "last_seen": device.last_seen_day, "this_device": this}),
            )?;
        } else {
            let marker = if this { "  (this device)" } else { "" };
            say(format_args!(
                "{:<3} {}  {}{marker}",
                device.device_id, device.created_day, device.last_seen_day
            ))?;
        }
    }
    Ok(())
}

async fn remove(dir: &Path, device_id: u32) -> anyhow::Result<()> {
    let client = profile::open_client(dir).await?;
    let result = client.remove_device(device_id).await;
    client.close().await;
    match result {
        Err(sotto_client::ClientError::CannotRemoveSelf) => Err(crate::exit::UsageError(format!(
            "device {device_id} is this device: remove it from another device of the account"
        ))
        .into()),
        other => other.with_context(|| format!("removing device {device_id}")),
    }?;
    say(format_args!("removed device {device_id}"))
}

/// The notices a send shows among the events received so far, as (JSON, text): device
/// changes, and messages that went out identified instead of sealed.
pub fn device_notices(events: &mut broadcast::Receiver<Event>) -> Vec<(Value, String)> {
    let mut notices = Vec::new();
    while let Ok(event) = events.try_recv() {
        if matches!(
            event,
            Event::DevicesChanged { .. } | Event::SentIdentified { .. }
        ) && let (Some(json), Some(text)) = (
            output::event_json(&event, ""),
            output::event_text(&event, ""),
        ) {
            notices.push((json, text));
        }
    }
    notices
}
