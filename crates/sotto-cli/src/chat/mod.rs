//! `sotto chat`: a terminal UI over the client SDK.
//!
//! ```text
//!  keys ──► keys::input ──► App::input ──► Action ──► SDK (send, accept, safety number)
//!  SDK events, answers, link state ──► Update ──► App::update          │
//!  App ──► view::draw (after every change)             ◄── Update ─────┘
//! ```
//!
//! [`app::App`] is a plain state machine; this module does the I/O around it. Receiving runs
//! the same `keep_receiving` loop as the daemon; sending goes through `Client::send` in order,
//! one message at a time, after the outbox left by earlier runs (as `sotto send` does). Files
//! of arriving messages are saved in the background into `<profile>/attachments/`.

pub mod app;
mod changes;
mod commands;
mod files;
mod groups;
pub mod keys;
mod screen;
pub mod state;
pub mod view;

use std::path::Path;

use clap::Args;
use crossterm::event::Event as TermEvent;
use sotto_client::{Client, ClientError, OutgoingMessage};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use self::app::App;
use self::screen::Screen;
use self::state::{Action, Change, Link, SendFailure, Snapshot, Update};
use crate::client::profile;
use crate::client::receive::{Connection, keep_receiving};

/// `sotto chat`.
#[derive(Debug, Args)]
pub struct ChatArgs {}

/// Runs `sotto chat` until the user quits.
pub async fn run(dir: &Path, _args: ChatArgs) -> anyhow::Result<()> {
    // Unlocking may ask for the passphrase: before the terminal goes into raw mode.
    let client = profile::open_client(dir).await?;
    let result = chat(&client).await;
    client.close().await;
    result
}

/// The stored conversations, each with its history.
async fn load(client: &Client) -> Result<Vec<Snapshot>, ClientError> {
    let mut snapshots = Vec::new();
    for contact in client.contacts().await? {
        let history = client.history(&contact.username).await?;
        let timer = client.expire_timer(&contact.username).await?;
        snapshots.push(Snapshot {
            username: contact.username,
            verified: contact.verified,
            identity_changed: contact.identity_changed,
            timer,
            history,
        });
    }
    snapshots.extend(groups::load(client).await?);
    Ok(snapshots)
}

async fn chat(client: &Client) -> anyhow::Result<()> {
    // First, so that nothing starts when there is no terminal to show it on.
    let mut screen = Screen::open()?;
    // Subscribed before loading: nothing falls between the two (the app drops duplicates).
    let mut events = client.subscribe();
    let mut app = App::new(&client.account().username);
    // Nothing is unread on the first screen until the user opens a conversation.
    let _ = app.update(Update::Loaded(load(client).await?));
    let (updates, mut updated) = mpsc::unbounded_channel();
    let link = updates.clone();
    let receiving = tokio::spawn(keep_receiving(client.clone(), move |state| {
        let _ = link.send(Update::Link(link_state(state)));
    }));
    let (sends, queue) = mpsc::unbounded_channel();
    let courier = tokio::spawn(courier(client.clone(), queue, updates.clone()));
    let mut keys = screen::terminal_events();
    let result = loop {
        screen.terminal.draw(|frame| view::draw(frame, &app))?;
        if app.quit {
            break Ok(());
        }
        tokio::select! {
            key = keys.recv() => match key {
                Some(Ok(TermEvent::Key(key))) => {
                    if let Some(action) = keys::input(key).and_then(|input| app.input(input)) {
                        perform(client, action, &sends, &updates);
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => break Err(error.into()),
                None => break Ok(()),
            },
            event = events.recv() => {
                let update = match event {
                    Ok(event) => {
                        files::save_in_background(client, &event, &updates);
                        Update::Event(event)
                    }
                    // Too slow to keep up: the store has everything, merge it in again.
                    Err(RecvError::Lagged(_)) => Update::Loaded(load(client).await?),
                    Err(RecvError::Closed) => break Ok(()),
                };
                if let Some(action) = app.update(update) {
                    perform(client, action, &sends, &updates);
                }
            }
            Some(update) = updated.recv() => {
                if let Some(action) = app.update(update) {
                    perform(client, action, &sends, &updates);
                }
            }
        }
    };
    drop(screen);
    receiving.abort();
    courier.abort();
    result
}

/// The time now in ms since the epoch (when a sent message gets its time in the screen).
fn now_ms() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn link_state(state: Connection<'_>) -> Link {
    match state {
        Connection::Connecting => Link::Receiving,
        Connection::Failed { error, retry_in } => Link::Retrying {
            error: error.to_string(),
            retry_secs: retry_in.as_secs(),
        },
    }
}

/// A message waiting for the courier.
struct Outgoing {
    token: u64,
    to: String,
    text: String,
    reply_to: Option<String>,
    attach: Option<std::path::PathBuf>,
}

fn perform(
    client: &Client,
    action: Action,
    sends: &mpsc::UnboundedSender<Outgoing>,
    updates: &mpsc::UnboundedSender<Update>,
) {
    let client = client.clone();
    let updates = updates.clone();
    match action {
        Action::Send {
            token,
            to,
            text,
            reply_to,
            attach,
        } => {
            let _ = sends.send(Outgoing {
                token,
                to,
                text,
                reply_to,
                attach,
            });
        }
        Action::Change { to, change } => {
            tokio::spawn(async move {
                // A typing indicator that does not get through is not worth a notice.
                let quiet = matches!(change, Change::Typing { .. });
                if let Err(error) = apply_change(&client, &to, change).await
                    && !quiet
                {
                    let _ = updates.send(Update::Problem(format!("{to}: {error}")));
                }
            });
        }
        Action::AcceptIdentity { username } => {
            tokio::spawn(async move {
                let result = client.accept_identity(&username).await;
                let result = result.map_err(|e| e.to_string());
                let _ = updates.send(Update::Accepted { username, result });
            });
        }
        Action::SafetyNumber { username } => {
            tokio::spawn(async move {
                let result = client.safety_number(&username).await;
                let result = result.map(|n| n.grouped()).map_err(|e| e.to_string());
                let _ = updates.send(Update::SafetyNumber { username, result });
            });
        }
    }
}

/// Sends queued messages one at a time, in the order typed, after what earlier runs left in
/// the outbox.
async fn courier(
    client: Client,
    mut queue: mpsc::UnboundedReceiver<Outgoing>,
    updates: mpsc::UnboundedSender<Update>,
) {
    if let Err(error) = client.flush_outbox().await {
        let note = format!("earlier unsent messages are still queued: {error}");
        let _ = updates.send(Update::Problem(note));
    }
    while let Some(outgoing) = queue.recv().await {
        let token = outgoing.token;
        let result = match send_one(&client, outgoing).await {
            Ok(id) => Ok((id, now_ms())),
            Err(error) => Err(SendFailure {
                untrusted_identity: error
                    .downcast_ref::<ClientError>()
                    .is_some_and(|e| matches!(e, ClientError::UntrustedIdentity { .. })),
                message: format!("{error:#}"),
            }),
        };
        let _ = updates.send(Update::Sent { token, result });
    }
}

/// Uploads the file, if any (no progress bar: the screen is the terminal), then sends.
async fn send_one(client: &Client, outgoing: Outgoing) -> anyhow::Result<String> {
    let files: Vec<_> = outgoing.attach.into_iter().collect();
    let pointers = crate::client::attachments::upload_all(client, &files, true).await?;
    let mut message = OutgoingMessage::text(outgoing.text).with_attachments(pointers);
    if let Some(group) = groups::group_of(&outgoing.to) {
        return Ok(client.send_group_message(group, message).await?);
    }
    if let Some(id) = outgoing.reply_to {
        message = message.reply_to(id);
    }
    Ok(client.send_message(&outgoing.to, message).await?)
}

/// Sends one message-feature change.
async fn apply_change(client: &Client, to: &str, change: Change) -> Result<(), ClientError> {
    if groups::group_of(to).is_some() {
        return groups::change(change);
    }
    match change {
        Change::React { message_id, emoji } => {
            client.react(to, &message_id, emoji.as_deref()).await?;
        }
        Change::Edit { message_id, text } => {
            client.edit(to, &message_id, &text).await?;
        }
        Change::Delete { message_id } => {
            client.delete_for_everyone(to, &message_id).await?;
        }
        Change::Timer { seconds } => {
            client.set_expire_timer(to, seconds).await?;
        }
        Change::MarkRead => {
            client.mark_read(to).await?;
        }
        Change::Typing { started } => client.send_typing(to, started).await?,
    }
    Ok(())
}

#[cfg(test)]
mod tests;
