//! Files in the CLI: `send --attach` uploads with a progress bar, `receive` saves the files of
//! new messages (into `<profile>/attachments/` or `--save-dir`), `attachments get` fetches
//! one again, and every listing shows a message's files with where they were saved.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};
use sotto_client::content::AttachmentPointer;
use sotto_client::{Client, Event, StoredAttachment};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{output, profile, say};

/// Where received files go unless `--save-dir` says otherwise: this directory of the profile.
pub const DEFAULT_SAVE_DIR: &str = "attachments";

/// Overrides the largest file sent or fetched, in bytes (default 2 GiB).
pub const LIMIT_ENV: &str = "SOTTO_ATTACHMENT_LIMIT";

/// Applies [`LIMIT_ENV`] to a client.
pub fn apply_limit(client: &mut Client) -> anyhow::Result<()> {
    if let Ok(value) = std::env::var(LIMIT_ENV) {
        let bytes = value
            .trim()
            .parse()
            .with_context(|| format!("{LIMIT_ENV} must be a number of bytes, not {value:?}"))?;
        client.set_attachment_limit(bytes);
    }
    Ok(())
}

/// The directory received files are saved to.
pub fn save_dir(profile: &Path, given: Option<&Path>) -> PathBuf {
    given.map_or_else(|| profile.join(DEFAULT_SAVE_DIR), Path::to_owned)
}

/// A size for people: `512 B`, `1.5 KiB`, `20.0 MiB`, `2.0 GiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

fn display_name(pointer: &AttachmentPointer) -> &str {
    pointer.name.as_deref().unwrap_or("(unnamed file)")
}

/// The JSON of one file of a message.
pub fn attachment_json(index: usize, file: &StoredAttachment) -> Value {
    let mut value = json!({
        "index": index,
        "name": file.pointer.name,
        "size": file.pointer.size,
        "content_type": file.pointer.content_type,
    });
    if let Some(saved) = &file.saved_as {
        value["saved_as"] = json!(saved);
    }
    value
}

/// The JSON array of a message's files.
pub fn list_json(files: &[StoredAttachment]) -> Value {
    files
        .iter()
        .enumerate()
        .map(|(n, f)| attachment_json(n, f))
        .collect()
}

/// One line per file: `  📎 name (size) -> saved path`.
pub fn list_text(files: &[StoredAttachment]) -> String {
    files
        .iter()
        .map(|file| {
            let mut line = format!(
                "\n  📎 {} ({})",
                display_name(&file.pointer),
                human_size(file.pointer.size)
            );
            if let Some(saved) = &file.saved_as {
                line.push_str(" -> ");
                line.push_str(saved);
            }
            line
        })
        .collect()
}

/// A progress bar on stderr for one file, hidden when stderr is no terminal or `quiet`.
fn bar(name: &str, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{msg:20!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(name.to_owned());
    bar
}

/// The SDK's progress reports, shown on `bar`.
fn report(bar: &ProgressBar) -> impl Fn(u64, u64) + Send + Sync + '_ {
    move |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    }
}

/// Uploads each file (resuming an interrupted upload of the same file), with progress bars.
pub async fn upload_all(
    client: &Client,
    paths: &[PathBuf],
    quiet: bool,
) -> anyhow::Result<Vec<AttachmentPointer>> {
    let mut pointers = Vec::with_capacity(paths.len());
    for path in paths {
        let bar = bar(&path.display().to_string(), quiet);
        let uploaded = client.upload_attachment(path, &report(&bar)).await;
        bar.finish_and_clear();
        let pointer = uploaded.with_context(|| format!("uploading {}", path.display()))?;
        pointers.push(pointer);
    }
    Ok(pointers)
}

/// Saves file `index` of a message into `dir`, with a progress bar.
async fn save_one(
    client: &Client,
    peer: &str,
    message_id: &str,
    index: usize,
    file: &StoredAttachment,
    dir: &Path,
    quiet: bool,
) -> Result<PathBuf, sotto_client::ClientError> {
    let bar = bar(display_name(&file.pointer), quiet);
    let saved = client
        .save_attachment(peer, message_id, index, dir, &report(&bar))
        .await;
    bar.finish_and_clear();
    saved
}

/// Saves the files of messages as `receive` prints them, one message at a time in the
/// background, and prints each such message once its files are saved (or failed).
pub struct Downloader {
    queue: mpsc::UnboundedSender<Event>,
    worker: JoinHandle<anyhow::Result<()>>,
}

impl Downloader {
    /// Starts saving into `dir`; lines are JSON when `json`.
    pub fn start(client: Client, dir: PathBuf, json: bool) -> Self {
        let (queue, mut events) = mpsc::unbounded_channel::<Event>();
        let worker = tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                save_and_print(&client, &event, &dir, json).await?;
            }
            Ok(())
        });
        Self { queue, worker }
    }

    /// Takes a message with files (true): it is printed once they are saved.
    pub fn take(&self, event: &Event) -> bool {
        let with_files =
            matches!(event, Event::Message { details, .. } if !details.attachments.is_empty());
        with_files && self.queue.send(event.clone()).is_ok()
    }

    /// Waits until every message taken is saved and printed.
    pub async fn finish(self) -> anyhow::Result<()> {
        drop(self.queue);
        self.worker.await.context("the download task failed")?
    }
}

async fn save_and_print(
    client: &Client,
    event: &Event,
    dir: &Path,
    json: bool,
) -> anyhow::Result<()> {
    let Event::Message {
        peer,
        message_id,
        details,
        ..
    } = event
    else {
        return Ok(());
    };
    let me = client.account().username.clone();
    let mut saved_event = event.clone();
    let mut errors = Vec::new();
    if let Event::Message { details: saved, .. } = &mut saved_event {
        for (index, file) in details.attachments.iter().enumerate() {
            match save_one(client, peer, message_id, index, file, dir, json).await {
                Ok(path) => saved.attachments[index].saved_as = Some(path.display().to_string()),
                Err(error) => errors.push((index, error.to_string())),
            }
        }
    }
    if json {
        if let Some(mut line) = output::event_json(&saved_event, &me) {
            for (index, error) in &errors {
                line["attachments"][*index]["error"] = json!(error);
            }
            say(line)?;
        }
        return Ok(());
    }
    if let Some(line) = output::event_text(&saved_event, &me) {
        say(line)?;
    }
    for (index, error) in errors {
        let name = display_name(&details.attachments[index].pointer);
        eprintln!(
            "! {name} was not saved: {error}; retry with `sotto attachments get {peer} {message_id}`"
        );
    }
    Ok(())
}

/// Saves every file of a message (quietly) and answers one JSON object per file, with
/// `saved_as` or `error`: the daemon's `get_attachments`.
pub async fn save_all_json(
    client: &Client,
    username: &str,
    message_id: &str,
    dir: &Path,
) -> anyhow::Result<Value> {
    let files = client.attachments_of(username, message_id).await?;
    let mut answer = Vec::with_capacity(files.len());
    for (index, file) in files.iter().enumerate() {
        let saved = save_one(client, username, message_id, index, file, dir, true).await;
        let mut shown = file.clone();
        let error = saved
            .map(|path| shown.saved_as = Some(path.display().to_string()))
            .err();
        let mut line = attachment_json(index, &shown);
        if let Some(error) = error {
            line["error"] = json!(error.to_string());
        }
        answer.push(line);
    }
    Ok(Value::Array(answer))
}

/// `sotto attachments`.
#[derive(Debug, Args)]
pub struct AttachmentsArgs {
    #[command(subcommand)]
    command: AttachmentsCommand,
}

#[derive(Debug, Subcommand)]
enum AttachmentsCommand {
    /// Download (again) the files of a message, e.g. after `receive` failed to save one.
    /// Files already saved and still present are not fetched again.
    Get {
        /// The contact of the conversation.
        username: String,
        /// The message id (as `history --json` shows it).
        message_id: String,
        /// Only this file of the message (0 is the first).
        #[arg(long)]
        index: Option<usize>,
        /// Save here instead of `<profile>/attachments/`.
        #[arg(long, value_name = "DIR")]
        save_dir: Option<PathBuf>,
        /// One JSON object per file, no progress bar.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `sotto attachments`.
pub async fn run(dir: &Path, args: AttachmentsArgs) -> anyhow::Result<()> {
    let AttachmentsCommand::Get {
        username,
        message_id,
        index,
        save_dir: given,
        json,
    } = args.command;
    let mut client = profile::open_client(dir).await?;
    let result = get(
        &mut client,
        &username,
        &message_id,
        index,
        &save_dir(dir, given.as_deref()),
        json,
    )
    .await;
    client.close().await;
    result
}

async fn get(
    client: &mut Client,
    username: &str,
    message_id: &str,
    only: Option<usize>,
    dir: &Path,
    json: bool,
) -> anyhow::Result<()> {
    apply_limit(client)?;
    let files = client.attachments_of(username, message_id).await?;
    if files.is_empty() || only.is_some_and(|n| n >= files.len()) {
        anyhow::bail!("message {message_id} has no such file");
    }
    let mut failed = 0;
    for (index, file) in files.iter().enumerate() {
        if only.is_some_and(|n| n != index) {
            continue;
        }
        let saved = save_one(client, username, message_id, index, file, dir, json).await;
        let mut shown = file.clone();
        let error = match saved {
            Ok(path) => {
                shown.saved_as = Some(path.display().to_string());
                None
            }
            Err(error) => {
                failed += 1;
                Some(error.to_string())
            }
        };
        if json {
            let mut line = attachment_json(index, &shown);
            if let Some(error) = &error {
                line["error"] = json!(error);
            }
            say(line)?;
        } else {
            match (&shown.saved_as, &error) {
                (_, Some(error)) => eprintln!("! {}: {error}", display_name(&shown.pointer)),
                (Some(path), None) => say(path)?,
                (None, None) => {}
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} file(s) could not be saved");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_shown_in_binary_units() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(20 << 20), "20.0 MiB");
        assert_eq!(human_size(2 << 30), "2.0 GiB");
    }
}
