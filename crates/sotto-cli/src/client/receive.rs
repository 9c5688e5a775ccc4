//! `sotto receive`: print what the relay holds for us (and, with `--follow`, what arrives).
//!
//! Events come from the SDK's stream while `Client::receive` runs; the SDK stores each message
//! before acking it, so stopping at any point (timeout, Ctrl-C) loses nothing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use sotto_client::{Client, ClientError, Event, ReceiveMode, RelayError};
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tokio::time::Instant;

use super::{attachments, output, profile, say};

/// The longest wait between reconnection attempts in `--follow` mode.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// `sotto receive`.
#[derive(Debug, Args)]
pub struct ReceiveArgs {
    /// One JSON object per line (`type`: message, identity_changed, delivery, undecryptable,
    /// devices_changed, …; see docs/cli.md).
    #[arg(long)]
    json: bool,
    /// Keep printing messages as they arrive (reconnecting when the connection drops).
    #[arg(long)]
    follow: bool,
    /// Stop after this many seconds, even if more may come.
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<u64>,
    /// Save received files here instead of `<profile>/attachments/`.
    #[arg(long, value_name = "DIR")]
    save_dir: Option<PathBuf>,
    /// Do not download files; `sotto attachments get` fetches them later.
    #[arg(long)]
    no_download: bool,
}

/// Prints events as text or JSON lines.
struct Printer {
    json: bool,
    me: String,
    /// Saves the files of messages, then prints them.
    downloads: Option<attachments::Downloader>,
}

impl Printer {
    fn print(&self, event: &Event) -> anyhow::Result<()> {
        if let Some(downloads) = &self.downloads
            && downloads.take(event)
        {
            return Ok(());
        }
        if self.json {
            if let Some(line) = output::event_json(event, &self.me) {
                say(line)?;
            }
        } else if let Some(line) = output::event_text(event, &self.me) {
            say(line)?;
        }
        Ok(())
    }

    fn received(&self, event: Result<Event, RecvError>) -> anyhow::Result<()> {
        match event {
            Ok(event) => self.print(&event),
            Err(RecvError::Lagged(missed)) => {
                eprintln!("warning: {missed} events were not shown; `sotto history` has them");
                Ok(())
            }
            Err(RecvError::Closed) => anyhow::bail!("the client's event stream closed"),
        }
    }

    fn drain(&self, events: &mut broadcast::Receiver<Event>) -> anyhow::Result<()> {
        loop {
            match events.try_recv() {
                Ok(event) => self.print(&event)?,
                Err(TryRecvError::Lagged(missed)) => {
                    self.received(Err(RecvError::Lagged(missed)))?
                }
                Err(TryRecvError::Empty | TryRecvError::Closed) => return Ok(()),
            }
        }
    }
}

/// Runs `sotto receive`.
pub async fn run(dir: &Path, args: ReceiveArgs) -> anyhow::Result<()> {
    let mut client = profile::open_client(dir).await?;
    attachments::apply_limit(&mut client)?;
    let save_dir = attachments::save_dir(dir, args.save_dir.as_deref());
    let mut printer = Printer {
        json: args.json,
        me: client.account().username.clone(),
        downloads: (!args.no_download)
            .then(|| attachments::Downloader::start(client.clone(), save_dir, args.json)),
    };
    let mut events = client.subscribe();
    let deadline = args
        .timeout
        .map(|s| Instant::now() + Duration::from_secs(s));
    let result = receive_loop(&client, &mut events, &printer, args.follow, deadline).await;
    let drained = printer.drain(&mut events);
    let saved = match printer.downloads.take() {
        Some(downloads) => downloads.finish().await,
        None => Ok(()),
    };
    client.close().await;
    result.and(drained).and(saved)
}

/// Why one connection's receiving ended.
enum Ended {
    /// The relay said the queue is empty, or closed the connection.
    Done,
    /// The connection failed.
    Failed(ClientError),
    /// The deadline passed or the user pressed Ctrl-C.
    Stopped,
}

async fn receive_loop(
    client: &Client,
    events: &mut broadcast::Receiver<Event>,
    printer: &Printer,
    follow: bool,
    deadline: Option<Instant>,
) -> anyhow::Result<()> {
    let mode = if follow {
        ReceiveMode::Follow
    } else {
        ReceiveMode::UntilEmpty
    };
    let mut backoff = Duration::from_secs(1);
    loop {
        match one_connection(client, mode, events, printer, deadline).await? {
            Ended::Stopped => return Ok(()),
            Ended::Done if !follow => return Ok(()),
            Ended::Failed(error) if !follow || !is_transient(&error) => return Err(error.into()),
            Ended::Done => backoff = Duration::from_secs(1),
            Ended::Failed(error) => {
                eprintln!("warning: {error}; reconnecting in {} s", backoff.as_secs());
                if pause(backoff, events, printer, deadline).await? {
                    return Ok(());
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

fn is_transient(error: &ClientError) -> bool {
    matches!(
        error,
        ClientError::Relay(RelayError::Network(_) | RelayError::RateLimited { .. })
    )
}

async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

async fn one_connection(
    client: &Client,
    mode: ReceiveMode,
    events: &mut broadcast::Receiver<Event>,
    printer: &Printer,
    deadline: Option<Instant>,
) -> anyhow::Result<Ended> {
    let receiving = client.receive(mode);
    tokio::pin!(receiving);
    loop {
        tokio::select! {
            done = &mut receiving => {
                return Ok(match done {
                    Ok(_) => Ended::Done,
                    Err(error) => Ended::Failed(error),
                });
            }
            event = events.recv() => printer.received(event)?,
            () = until(deadline) => return Ok(Ended::Stopped),
            _ = tokio::signal::ctrl_c() => return Ok(Ended::Stopped),
        }
    }
}

/// Waits `how_long` before reconnecting, still printing events; true when told to stop.
async fn pause(
    how_long: Duration,
    events: &mut broadcast::Receiver<Event>,
    printer: &Printer,
    deadline: Option<Instant>,
) -> anyhow::Result<bool> {
    let wake = tokio::time::sleep(how_long);
    tokio::pin!(wake);
    loop {
        tokio::select! {
            () = &mut wake => return Ok(false),
            event = events.recv() => printer.received(event)?,
            () = until(deadline) => return Ok(true),
            _ = tokio::signal::ctrl_c() => return Ok(true),
        }
    }
}

/// What [`keep_receiving`] is doing.
pub enum Connection<'a> {
    /// Connecting to the relay (then receiving until the connection ends).
    Connecting,
    /// The connection failed; the next attempt is in `retry_in`.
    Failed {
        /// What went wrong.
        error: &'a ClientError,
        /// The wait before the next attempt.
        retry_in: Duration,
    },
}

/// Receives in `Follow` mode for as long as the caller keeps this future, reconnecting with
/// backoff; `report` hears of each attempt and failure. Events go out through the client's
/// event stream, as with `receive --follow`. Used by `daemon` and `chat`.
pub async fn keep_receiving(client: Client, mut report: impl FnMut(Connection<'_>)) {
    let mut backoff = Duration::from_secs(1);
    loop {
        report(Connection::Connecting);
        match client.receive(ReceiveMode::Follow).await {
            Ok(_) => backoff = Duration::from_secs(1),
            Err(error) => {
                report(Connection::Failed {
                    error: &error,
                    retry_in: backoff,
                });
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}
