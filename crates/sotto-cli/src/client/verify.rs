//! `sotto verify`: the safety number with a contact, as digits or a QR code; marking a contact
//! verified; accepting a changed identity.

use std::path::Path;

use anyhow::Context as _;
use clap::Args;
use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;
use serde_json::json;

use super::{profile, say};

/// `sotto verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The contact.
    username: String,
    /// Also show the safety number as a QR code (for the other phone or terminal to scan).
    #[arg(long)]
    qr: bool,
    /// Accept the contact's new identity after it changed (unblocks sending to a verified
    /// contact; the contact is then no longer marked verified).
    #[arg(long)]
    accept: bool,
    /// Mark the contact verified after comparing the numbers (in person or on a trusted call).
    #[arg(long)]
    mark_verified: bool,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `sotto verify`.
pub async fn run(dir: &Path, args: VerifyArgs) -> anyhow::Result<()> {
    let client = profile::open_client(dir).await?;
    let result = verify(&client, &args).await;
    client.close().await;
    result
}

async fn verify(client: &sotto_client::Client, args: &VerifyArgs) -> anyhow::Result<()> {
    let name = args.username.as_str();
    if args.accept {
        client
            .accept_identity(name)
            .await
            .with_context(|| format!("accepting the new identity of {name}"))?;
    }
    if args.mark_verified {
        let contact = known(client, name).await?;
        if contact.identity_changed && !args.accept {
            anyhow::bail!(crate::exit::UsageError(format!(
                "the identity of {name} changed: compare the new number, then use --accept --mark-verified"
            )));
        }
        client.mark_verified(name).await?;
    }
    let contact = known(client, name).await?;
    let number = client.safety_number(name).await?;
    if args.json {
        return say(json!({
            "username": contact.username,
            "safety_number": number.digits(),
            "verified": contact.verified,
            "identity_changed": contact.identity_changed,
        }));
    }
    say(format_args!("Safety number with {name}:"))?;
    for line in number.grouped().split(' ').collect::<Vec<_>>().chunks(4) {
        say(format_args!("  {}", line.join(" ")))?;
    }
    if args.qr {
        let code = QrCode::new(number.qr_payload()).context("making the QR code")?;
        say(code.render::<Dense1x2>().quiet_zone(true).build())?;
    }
    say(status_line(&contact))
}

async fn known(client: &sotto_client::Client, name: &str) -> anyhow::Result<sotto_client::Contact> {
    client
        .contact(name)
        .await?
        .with_context(|| format!("{name} is not a contact yet: send or receive a message first"))
}

fn status_line(contact: &sotto_client::Contact) -> String {
    let name = &contact.username;
    if contact.identity_changed {
        format!(
            "The identity of {name} CHANGED. Compare the number, then `sotto verify {name} --accept`."
        )
    } else if contact.verified {
        format!("{name} is verified.")
    } else {
        format!(
            "{name} is not verified. Compare these digits with {name}'s, then `sotto verify {name} --mark-verified`."
        )
    }
}
