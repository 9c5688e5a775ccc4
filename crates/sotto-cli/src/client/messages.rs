//! `sotto send`, `sotto contacts` and `sotto history`.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use serde_json::json;
use sotto_client::OutgoingMessage;

use super::{attachments, output, profile, say};
use crate::exit::UsageError;

/// `sotto send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// The recipient's username (with --group, leave it out: the first argument is the text).
    #[arg(required_unless_present = "group")]
    username: Option<String>,
    /// The text; read from stdin when absent and no file is attached (a trailing newline is
    /// dropped).
    text: Option<String>,
    /// Quote and answer this message of the conversation (ids are in `sotto history --json`).
    #[arg(long, value_name = "MESSAGE_ID")]
    reply_to: Option<String>,
    /// Attach a file (repeat for several). Each is encrypted while it is read and uploaded
    /// with a progress bar; an interrupted upload resumes when the same command runs again.
    #[arg(long = "attach", value_name = "FILE")]
    attach: Vec<PathBuf>,
    /// Send to a group (its name or id prefix) instead: encrypted once for every member device.
    #[arg(long, value_name = "GROUP")]
    group: Option<String>,
    /// Print `{"id": …}` instead of the bare message id (and no progress bar).
    #[arg(long)]
    json: bool,
}

/// The recipient and the text given on the command line.
fn recipient_and_text(args: &mut SendArgs) -> anyhow::Result<String> {
    if args.group.is_none() {
        return args
            .username
            .clone()
            .ok_or_else(|| UsageError("give USERNAME or --group GROUP".into()).into());
    }
    if args.reply_to.is_some() {
        return Err(UsageError("--reply-to is not supported in groups yet".into()).into());
    }
    match (args.username.take(), args.text.is_some()) {
        (Some(_), true) => Err(UsageError("with --group give only TEXT".into()).into()),
        (first, _) => {
            if first.is_some() {
                args.text = first;
            }
            Ok(args.group.clone().unwrap_or_default())
        }
    }
}

/// Runs `sotto send`: encrypts for every device of the recipient and stores it on the relay.
pub async fn send(dir: &Path, mut args: SendArgs) -> anyhow::Result<()> {
    let to = recipient_and_text(&mut args)?;
    let text = match args.text {
        Some(text) => text,
        None if args.attach.is_empty() => read_stdin()?,
        None => String::new(),
    };
    if text.is_empty() && args.attach.is_empty() {
        return Err(UsageError(
            "nothing to send: give TEXT, pipe it on stdin, or --attach FILE".into(),
        )
        .into());
    }
    let mut client = profile::open_client(dir).await?;
    attachments::apply_limit(&mut client)?;
    let mut events = client.subscribe();
    // Messages left in the outbox by an earlier failure go first, with their original ids.
    if let Err(error) = client.flush_outbox().await {
        tracing::warn!(%error, "earlier unsent messages are still queued");
    }
    let sent = match attachments::upload_all(&client, &args.attach, args.json).await {
        Ok(files) if args.group.is_some() => {
            let message = OutgoingMessage::text(text).with_attachments(files);
            let sent = super::groups::send(&client, &to, message, args.json).await;
            client.close().await;
            return sent.with_context(|| format!("sending to group {to} failed"));
        }
        Ok(files) => {
            let mut message = OutgoingMessage::text(text).with_attachments(files);
            if let Some(id) = args.reply_to {
                message = message.reply_to(id);
            }
            client.send_message(&to, message).await.map_err(Into::into)
        }
        Err(error) => Err(error),
    };
    client.close().await;
    let notices = super::devices::device_notices(&mut events);
    let id: String = sent.with_context(|| format!("sending to {to} failed"))?;
    say_sent(json!({"id": id, "to": to}), &id, &notices, args.json)
}

/// Prints what a send did: its id (text) or `line` (JSON) with `"sealed"` — false when any
/// copy went out identified, listed in `"sent_identified"` — and any device changes.
pub fn say_sent(
    mut line: serde_json::Value,
    id: &str,
    notices: &[(serde_json::Value, String)],
    json: bool,
) -> anyhow::Result<()> {
    if !json {
        for (_, text) in notices {
            eprintln!("{text}");
        }
        return say(id);
    }
    let of_type = |kind: &str| -> Vec<serde_json::Value> {
        notices
            .iter()
            .filter(|(notice, _)| notice["type"] == kind)
            .map(|(notice, _)| notice.clone())
            .collect()
    };
    let devices = of_type("devices_changed");
    let identified = of_type("sent_identified");
    line["sealed"] = identified.is_empty().into();
    if !identified.is_empty() {
        line["sent_identified"] = identified.into();
    }
    if !devices.is_empty() {
        line["devices_changed"] = devices.into();
    }
    say(line)
}

fn read_stdin() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .take(sotto_client::MAX_TEXT_BYTES as u64 + 2)
        .read_to_string(&mut text)
        .context("reading the text from stdin (it must be UTF-8)")?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(text)
}

/// `sotto contacts`.
#[derive(Debug, Args)]
pub struct ContactsArgs {
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
}

/// Runs `sotto contacts`.
pub async fn contacts(dir: &Path, args: ContactsArgs) -> anyhow::Result<()> {
    let client = profile::open_client(dir).await?;
    let contacts = client.contacts().await;
    client.close().await;
    for contact in contacts? {
        if args.json {
            say(output::contact_json(&contact))?;
        } else {
            say(output::contact_text(&contact))?;
        }
    }
    Ok(())
}

/// `sotto history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The contact.
    #[arg(required_unless_present = "group", conflicts_with = "group")]
    username: Option<String>,
    /// Show a group's conversation instead (its name or id prefix).
    #[arg(long, value_name = "GROUP")]
    group: Option<String>,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
}

/// Runs `sotto history`: the conversation with a contact, oldest first.
pub async fn history(dir: &Path, args: HistoryArgs) -> anyhow::Result<()> {
    let client = profile::open_client(dir).await?;
    if let Some(group) = &args.group {
        let shown = super::groups::history(&client, group, args.json).await;
        client.close().await;
        return shown;
    }
    let username = args.username.unwrap_or_default();
    let me = client.account().username.clone();
    let history = client.history(&username).await;
    client.close().await;
    for message in history? {
        if args.json {
            say(output::history_json(&message, &username, &me))?;
        } else {
            say(output::history_text(&message, &username, &me))?;
        }
    }
    Ok(())
}
