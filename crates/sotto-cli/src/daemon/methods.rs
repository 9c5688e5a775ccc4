//! The JSON-RPC methods: parse a request, call the SDK, build the response.

use serde_json::{Value, json};
use sotto_client::{Client, OutgoingMessage};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{mpsc, watch};

use super::request::{self, Call};
use crate::client::{attachments, output};

/// What one connection holds.
pub struct Session {
    /// Whether events are forwarded already.
    pub subscribed: bool,
    /// Responses and notifications to write.
    pub out: mpsc::Sender<Value>,
    /// Changes (closes) when the connection ends.
    pub stopped: watch::Receiver<()>,
}

/// An error response. `data` carries the CLI exit code of an SDK failure.
pub fn error(id: Value, code: i64, message: &str, data: Option<Value>) -> Value {
    let mut error = json!({"code": code, "message": message});
    if let Some(data) = data {
        error["data"] = data;
    }
    json!({"jsonrpc": "2.0", "error": error, "id": id})
}

/// Answers one request line; `None` for a notification.
pub async fn handle(client: &Client, line: &str, session: &mut Session) -> Option<Value> {
    let request = match request::decode(line) {
        Ok(request) => request,
        Err(e) => return Some(error(e.answer_id()?, e.code(), &e.message(), None)),
    };
    let result = call(client, request.call, session).await;
    let id = request.id?;
    Some(match result {
        Ok(value) => json!({"jsonrpc": "2.0", "result": value, "id": id}),
        Err(e) => {
            let code = crate::exit::code_for(&e);
            error(
                id,
                -32000,
                &format!("{e:#}"),
                Some(json!({"exit_code": code})),
            )
        }
    })
}

async fn call(client: &Client, call: Call, session: &mut Session) -> anyhow::Result<Value> {
    let me = client.account().username.as_str();
    match call {
        Call::Send {
            username,
            text,
            reply_to,
            attachments: paths,
        } => {
            let files = attachments::upload_all(client, &paths, true).await?;
            let mut message = OutgoingMessage::text(text).with_attachments(files);
            if let Some(id) = reply_to {
                message = message.reply_to(id);
            }
            let id = client.send_message(&username, message).await?;
            Ok(json!({"id": id}))
        }
        Call::React {
            username,
            message_id,
            emoji,
        } => {
            let id = client
                .react(&username, &message_id, emoji.as_deref())
                .await?;
            Ok(json!({"id": id}))
        }
        Call::Edit {
            username,
            message_id,
            text,
        } => {
            let id = client.edit(&username, &message_id, &text).await?;
            Ok(json!({"id": id}))
        }
        Call::Delete {
            username,
            message_id,
        } => {
            let id = client.delete_for_everyone(&username, &message_id).await?;
            Ok(json!({"id": id}))
        }
        Call::Timer { username, seconds } => {
            client.set_expire_timer(&username, seconds).await?;
            Ok(json!({"seconds": seconds}))
        }
        Call::Typing { username, started } => {
            client.send_typing(&username, started).await?;
            Ok(json!(true))
        }
        Call::Read { username } => {
            let ids = client.mark_read(&username).await?;
            Ok(json!({"read": ids}))
        }
        Call::GetAttachments {
            username,
            id,
            save_dir,
        } => {
            let dir = attachments::save_dir(client.profile_dir(), save_dir.as_deref());
            attachments::save_all_json(client, &username, &id, &dir).await
        }
        Call::Conversations => {
            let contacts = client.contacts().await?;
            Ok(contacts.iter().map(output::contact_json).collect())
        }
        Call::History { username } => {
            let history = client.history(&username).await?;
            Ok(history
                .iter()
                .map(|m| output::history_json(m, &username, me))
                .collect())
        }
        Call::Verify {
            username,
            mark_verified,
            accept,
        } => verify(client, &username, mark_verified, accept).await,
        Call::SendGroup {
            group,
            text,
            attachments: paths,
        } => {
            let files = attachments::upload_all(client, &paths, true).await?;
            let message = OutgoingMessage::text(text).with_attachments(files);
            let id = client.send_group_message(&group, message).await?;
            Ok(json!({"id": id, "group": group}))
        }
        Call::Group(call) => super::group_methods::call(client, call).await,
        Call::Subscribe => {
            if !session.subscribed {
                session.subscribed = true;
                let (out, stopped) = (session.out.clone(), session.stopped.clone());
                tokio::spawn(forward_events(client.clone(), out, stopped));
            }
            Ok(json!(true))
        }
    }
}

async fn verify(
    client: &Client,
    username: &str,
    mark_verified: bool,
    accept: bool,
) -> anyhow::Result<Value> {
    if accept {
        client.accept_identity(username).await?;
    }
    if mark_verified {
        client.mark_verified(username).await?;
    }
    let number = client.safety_number(username).await?;
    let contact = client.contact(username).await?;
    Ok(json!({
        "username": username,
        "safety_number": number.digits(),
        "verified": contact.as_ref().is_some_and(|c| c.verified),
        "identity_changed": contact.as_ref().is_some_and(|c| c.identity_changed),
    }))
}

/// Sends every event to a subscribed connection until it goes away.
async fn forward_events(
    client: Client,
    out: mpsc::Sender<Value>,
    mut stopped: watch::Receiver<()>,
) {
    let me = client.account().username.clone();
    let mut events = client.subscribe();
    drop(client);
    loop {
        let received = tokio::select! {
            received = events.recv() => received,
            _ = stopped.changed() => return,
        };
        let event = match received {
            Ok(event) => event,
            Err(RecvError::Lagged(missed)) => {
                let note = json!({"type": "lagged", "missed": missed});
                if out.send(super::notification(note)).await.is_err() {
                    return;
                }
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        if let Some(event) = output::event_json(&event, &me)
            && out.send(super::notification(event)).await.is_err()
        {
            return;
        }
    }
}
