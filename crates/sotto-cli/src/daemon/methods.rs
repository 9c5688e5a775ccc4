//! The JSON-RPC methods: parse a request, call the SDK, build the response.

use serde::Deserialize;
use serde_json::{Value, json};
use sotto_client::Client;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{mpsc, watch};

use crate::client::output;

/// A JSON-RPC 2.0 request (a notification has no id and gets no answer).
#[derive(Deserialize)]
struct Request {
    jsonrpc: String,
    method: String,
    #[serde(default)]
    params: Value,
    id: Option<Value>,
}

#[derive(Deserialize)]
struct UserParams {
    username: String,
}

#[derive(Deserialize)]
struct SendParams {
    username: String,
    text: String,
}

#[derive(Deserialize)]
struct VerifyParams {
    username: String,
    #[serde(default)]
    mark_verified: bool,
    #[serde(default)]
    accept: bool,
}

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
    let request: Request = match serde_json::from_str(line) {
        Ok(request) => request,
        Err(e) if e.is_data() => {
            return Some(error(Value::Null, -32600, "invalid request", None));
        }
        Err(_) => return Some(error(Value::Null, -32700, "parse error", None)),
    };
    let id = request.id.clone();
    if request.jsonrpc != "2.0" {
        return Some(error(
            id.unwrap_or(Value::Null),
            -32600,
            "jsonrpc must be \"2.0\"",
            None,
        ));
    }
    let result = call(client, &request, session).await;
    let id = id?;
    Some(match result {
        Ok(value) => json!({"jsonrpc": "2.0", "result": value, "id": id}),
        Err(Failure::Method) => error(id, -32601, "method not found", None),
        Err(Failure::Params(why)) => error(id, -32602, &format!("invalid params: {why}"), None),
        Err(Failure::Sdk(e)) => {
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

enum Failure {
    Method,
    Params(String),
    Sdk(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(error: E) -> Self {
        Self::Sdk(error.into())
    }
}

fn params<T: serde::de::DeserializeOwned>(value: &Value) -> Result<T, Failure> {
    serde_json::from_value(value.clone()).map_err(|e| Failure::Params(e.to_string()))
}

async fn call(client: &Client, request: &Request, session: &mut Session) -> Result<Value, Failure> {
    let me = client.account().username.as_str();
    match request.method.as_str() {
        "send" => {
            let p: SendParams = params(&request.params)?;
            let id = client.send(&p.username, &p.text).await?;
            Ok(json!({"id": id}))
        }
        "conversations" => {
            let contacts = client.contacts().await?;
            Ok(contacts.iter().map(output::contact_json).collect())
        }
        "history" => {
            let p: UserParams = params(&request.params)?;
            let history = client.history(&p.username).await?;
            Ok(history
                .iter()
                .map(|m| output::history_json(m, &p.username, me))
                .collect())
        }
        "verify" => verify(client, params(&request.params)?).await,
        "subscribe" => {
            if !session.subscribed {
                session.subscribed = true;
                let (out, stopped) = (session.out.clone(), session.stopped.clone());
                tokio::spawn(forward_events(client.clone(), out, stopped));
            }
            Ok(json!(true))
        }
        _ => Err(Failure::Method),
    }
}

async fn verify(client: &Client, p: VerifyParams) -> Result<Value, Failure> {
    if p.accept {
        client.accept_identity(&p.username).await?;
    }
    if p.mark_verified {
        client.mark_verified(&p.username).await?;
    }
    let number = client.safety_number(&p.username).await?;
    let contact = client.contact(&p.username).await?;
    Ok(json!({
        "username": p.username,
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
