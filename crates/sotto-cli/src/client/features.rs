//! `sotto react`, `edit`, `delete`, `timer`, `typing` and `read`: the message features beside
//! plain sending, each a typed, end-to-end encrypted message to the contact's devices (and, but
//! for typing and receipts, to our own other devices).

use std::path::Path;

use anyhow::Context as _;
use clap::Args;
use serde_json::json;

use super::{profile, say};
use crate::exit::UsageError;

/// `sotto react`.
#[derive(Debug, Args)]
pub struct ReactArgs {
    /// The contact whose conversation holds the message.
    username: String,
    /// The message reacted to (ids are in `sotto history --json`).
    message_id: String,
    /// One emoji; omit it with --remove.
    emoji: Option<String>,
    /// Take our reaction back.
    #[arg(long, conflicts_with = "emoji")]
    remove: bool,
    /// Print `{"id": …}` instead of the bare id of the reaction message.
    #[arg(long)]
    json: bool,
}

/// Runs `sotto react`.
pub async fn react(dir: &Path, args: ReactArgs) -> anyhow::Result<()> {
    if args.emoji.is_none() && !args.remove {
        return Err(UsageError("give an EMOJI, or --remove to take a reaction back".into()).into());
    }
    let client = profile::open_client(dir).await?;
    let sent = client
        .react(&args.username, &args.message_id, args.emoji.as_deref())
        .await;
    client.close().await;
    let id = sent.with_context(|| format!("reacting in the chat with {}", args.username))?;
    print_id(&id, &args.username, args.json)
}

/// `sotto edit`.
#[derive(Debug, Args)]
pub struct EditArgs {
    /// The contact the message went to.
    username: String,
    /// One of our messages, sent at most 24 hours ago.
    message_id: String,
    /// Its new text.
    text: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `sotto edit`.
pub async fn edit(dir: &Path, args: EditArgs) -> anyhow::Result<()> {
    let client = profile::open_client(dir).await?;
    let sent = client
        .edit(&args.username, &args.message_id, &args.text)
        .await;
    client.close().await;
    let id = sent.with_context(|| format!("editing message {}", args.message_id))?;
    print_id(&id, &args.username, args.json)
}

/// `sotto delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The contact the message went to.
    username: String,
    /// One of our messages, sent at most 24 hours ago: deleted on every device of both sides.
    message_id: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `sotto delete`.
pub async fn delete(dir: &Path, args: DeleteArgs) -> anyhow::Result<()> {
    let client = profile::open_client(dir).await?;
    let sent = client
        .delete_for_everyone(&args.username, &args.message_id)
        .await;
    client.close().await;
    let id = sent.with_context(|| format!("deleting message {}", args.message_id))?;
    print_id(&id, &args.username, args.json)
}

/// `sotto timer`.
#[derive(Debug, Args)]
pub struct TimerArgs {
    /// The contact.
    username: String,
    /// New timer: `30s`, `5m`, `1h`, `1d`, `1w` (at most `4w`), or `off`. Without it, the
    /// current timer is shown.
    duration: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `sotto timer`: shows or sets the conversation's disappearing-message timer.
pub async fn timer(dir: &Path, args: TimerArgs) -> anyhow::Result<()> {
    let seconds = args.duration.as_deref().map(parse_duration).transpose()?;
    let client = profile::open_client(dir).await?;
    let result = match seconds {
        Some(seconds) => client
            .set_expire_timer(&args.username, seconds)
            .await
            .map(|_| seconds),
        None => client.expire_timer(&args.username).await,
    };
    client.close().await;
    let seconds = result.with_context(|| format!("the timer with {}", args.username))?;
    if args.json {
        say(json!({"with": args.username, "seconds": seconds}))
    } else {
        match seconds {
            Some(s) => say(format!(
                "messages with {} disappear {} after they arrive",
                args.username,
                show_duration(s)
            )),
            None => say(format!(
                "disappearing messages with {} are off",
                args.username
            )),
        }
    }
}

/// `sotto typing`.
#[derive(Debug, Args)]
pub struct TypingArgs {
    /// The contact.
    username: String,
    /// Say that we stopped typing.
    #[arg(long)]
    stop: bool,
}

/// Runs `sotto typing`: never queued; dropped unless a device of the contact is online.
pub async fn typing(dir: &Path, args: TypingArgs) -> anyhow::Result<()> {
    let client = profile::open_client(dir).await?;
    let sent = client.send_typing(&args.username, !args.stop).await;
    client.close().await;
    sent.with_context(|| format!("telling {} about typing", args.username))
}

/// `sotto read`.
#[derive(Debug, Args)]
pub struct ReadArgs {
    /// The contact whose messages were read.
    username: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `sotto read`: marks the contact's messages read and sends them a read receipt.
pub async fn read(dir: &Path, args: ReadArgs) -> anyhow::Result<()> {
    let client = profile::open_client(dir).await?;
    let marked = client.mark_read(&args.username).await;
    client.close().await;
    let ids = marked.with_context(|| format!("marking messages from {} read", args.username))?;
    if args.json {
        say(json!({"with": args.username, "read": ids}))
    } else {
        say(format!(
            "{} message(s) from {} marked read",
            ids.len(),
            args.username
        ))
    }
}

fn print_id(id: &str, to: &str, json: bool) -> anyhow::Result<()> {
    if json {
        say(json!({"id": id, "to": to}))
    } else {
        say(id)
    }
}

/// `30s`, `5m`, `2h`, `1d`, `1w` or `off` (`None`) as seconds.
pub fn parse_duration(text: &str) -> anyhow::Result<Option<u32>> {
    if text == "off" || text == "0" {
        return Ok(None);
    }
    let bad = || {
        UsageError(format!(
            "{text:?} is not a duration: use e.g. 30s, 5m, 1h, 1d, 1w or off"
        ))
    };
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let number: u32 = number.parse().map_err(|_| bad())?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(bad().into()),
    };
    let seconds = number
        .checked_mul(scale)
        .filter(|&s| s > 0)
        .ok_or_else(bad)?;
    Ok(Some(seconds))
}

/// Seconds as the largest whole unit (`90` → `90s`, `3600` → `1h`).
pub fn show_duration(seconds: u32) -> String {
    for (unit, scale) in [("w", 604_800), ("d", 86_400), ("h", 3600), ("m", 60)] {
        if seconds.is_multiple_of(scale) {
            return format!("{}{unit}", seconds / scale);
        }
    }
    format!("{seconds}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_show() {
        assert_eq!(parse_duration("30s").unwrap(), Some(30));
        assert_eq!(parse_duration("2h").unwrap(), Some(7200));
        assert_eq!(parse_duration("off").unwrap(), None);
        for bad in ["", "s", "10", "5x", "-1s", "0s", "99999999w"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(show_duration(3600), "1h");
        assert_eq!(show_duration(90), "90s");
        assert_eq!(show_duration(1_209_600), "2w");
    }
}
