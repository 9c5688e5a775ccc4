//! `sotto demo`: a relay and two profiles in a temporary directory, a short conversation, and
//! side by side what each client shows and what the relay stored for each message (ciphertext:
//! its size and first bytes, read from the relay's own database).

use std::path::Path;
use std::process::Stdio;
use std::str::FromStr as _;
use std::time::Duration;

use anyhow::Context as _;
use sotto_client::{Client, Profile, ReceiveMode, Unlock};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions as _, SqliteConnection};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

use crate::client::say;

/// The conversation: (sender is alice, text).
const SCRIPT: [(bool, &str); 4] = [
    (true, "Hi Bob! Lunch at noon?"),
    (false, "Sure. The usual place?"),
    (true, "Yes. Bring the spare keys."),
    (false, "Will do, see you there."),
];

/// How long the relay may take to start.
const START_PATIENCE: Duration = Duration::from_secs(30);

/// Runs the demo.
pub async fn run() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir().context("making a temporary directory")?;
    let (mut relay, url) = start_relay(&tmp.path().join("relay")).await?;
    say(format_args!(
        "relay listening on {url}, data in {}",
        tmp.path().display()
    ))?;
    let result = converse(tmp.path(), &url).await;
    relay.kill().await.ok();
    result
}

pub(crate) async fn start_relay(data_dir: &Path) -> anyhow::Result<(Child, String)> {
    start_relay_with(data_dir, &[]).await
}

/// Like [`start_relay`], with extra `sotto serve` flags.
pub(crate) async fn start_relay_with(
    data_dir: &Path,
    extra: &[String],
) -> anyhow::Result<(Child, String)> {
    std::fs::create_dir_all(data_dir)?;
    let exe = std::env::current_exe().context("finding the sotto binary")?;
    let mut child = Command::new(exe)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--no-rate-limits",
            "--log",
            "warn",
        ])
        .arg("--data-dir")
        .arg(data_dir)
        .args(extra)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting `sotto serve`")?;
    let stdout = child.stdout.take().context("the relay's stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let url = tokio::time::timeout(START_PATIENCE, async {
        while let Some(line) = lines.next_line().await? {
            if let Some(url) = line.strip_prefix("listening on ") {
                return Ok(url.trim().to_owned());
            }
        }
        anyhow::bail!("the relay exited before listening")
    })
    .await
    .context("the relay did not start in time")??;
    Ok((child, url))
}

pub(crate) async fn register(dir: &Path, url: &str, name: &str) -> anyhow::Result<Client> {
    std::fs::create_dir_all(dir)?;
    let unlock = Unlock::KeyFile(dir.join(sotto_client::KEY_FILE));
    let profile = Profile::open(dir, &unlock).await?;
    Ok(profile.register(url, name, None).await?)
}

async fn converse(tmp: &Path, url: &str) -> anyhow::Result<()> {
    let alice = register(&tmp.join("alice"), url, "alice").await?;
    let bob = register(&tmp.join("bob"), url, "bob").await?;
    say("registered alice and bob (each profile encrypted with its own key file)\n")?;
    let relay_db = tmp.join("relay").join("sotto.db");
    say(format_args!(
        "{:<3}{:<32}{:<32}{}",
        "#", "alice's screen", "bob's screen", "what the relay stored"
    ))?;
    for (n, (from_alice, text)) in SCRIPT.iter().enumerate() {
        let (sender, recipient) = if *from_alice {
            (&alice, &bob)
        } else {
            (&bob, &alice)
        };
        let id = sender.send(&recipient.account().username, text).await?;
        let stored = stored_envelope(&relay_db, &id).await?;
        recipient.receive(ReceiveMode::UntilEmpty).await?;
        let shown = shown_text(recipient, &sender.account().username, &id).await?;
        let mine = format!("me: {text}");
        let theirs = format!("{}: {shown}", sender.account().username);
        let (left, right) = if *from_alice {
            (mine, theirs)
        } else {
            (theirs, mine)
        };
        say(format_args!(
            "{:<3}{:<32}{:<32}{stored}",
            n + 1,
            clip(&left),
            clip(&right)
        ))?;
    }
    let number = alice.safety_number("bob").await?;
    let same = number.digits() == bob.safety_number("alice").await?.digits();
    say(format_args!(
        "\nsafety number alice/bob: {}\n(identical on both sides: {same})",
        number.grouped()
    ))?;
    say("The relay deletes an envelope once it is acknowledged; it never had a key to read it.")?;
    alice.close().await;
    bob.close().await;
    Ok(())
}

/// What the relay's database holds for a message: size and first bytes of the ciphertext.
async fn stored_envelope(db: &Path, message_id: &str) -> anyhow::Result<String> {
    let options =
        SqliteConnectOptions::from_str(&format!("sqlite://{}", db.display()))?.read_only(true);
    let mut conn: SqliteConnection = options
        .connect()
        .await
        .context("opening the relay's database")?;
    let row: Option<(Vec<u8>,)> =
        sqlx::query_as("SELECT content FROM mailbox WHERE message_id = ? LIMIT 1")
            .bind(message_id)
            .fetch_optional(&mut conn)
            .await?;
    let (content,) = row.context("the relay has no envelope for the message just sent")?;
    let prefix = hex::encode(content.get(..12).unwrap_or(&content));
    Ok(format!("{} bytes: {prefix}…", content.len()))
}

async fn shown_text(recipient: &Client, sender: &str, id: &str) -> anyhow::Result<String> {
    let history = recipient.history(sender).await?;
    let message = history.iter().find(|m| m.message_id == id);
    Ok(message.map_or_else(|| "(not received)".to_owned(), |m| m.text.clone()))
}

fn clip(text: &str) -> String {
    if text.chars().count() <= 30 {
        return text.to_owned();
    }
    let mut clipped: String = text.chars().take(29).collect();
    clipped.push('…');
    clipped
}
