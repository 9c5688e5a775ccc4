//! `sotto daemon`: the profile's client behind JSON-RPC 2.0 on a UNIX socket or TCP, for bots
//! and other front ends (`docs/json-rpc.md`). One JSON object per line each way.
//!
//! The daemon holds the profile (one process at a time) and keeps a `Follow` receive running,
//! reconnecting with backoff; connections that called `subscribe` get every event as a
//! notification.

mod group_methods;
mod methods;
pub mod request;

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use serde_json::{Value, json};
use sotto_client::Client;
use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncWrite, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{mpsc, watch};

use crate::client::{profile, receive, say};

/// The longest request line accepted (a text is at most 32 KiB, JSON-escaped).
const MAX_LINE: usize = 256 * 1024;

/// `sotto daemon`.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct DaemonArgs {
    /// Listen on this UNIX socket (created with mode 0600; removed first if stale).
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Listen on this TCP address (loopback only unless you put TLS in front of it).
    #[arg(long, value_name = "ADDR")]
    tcp: Option<String>,
}

/// Runs the daemon until Ctrl-C.
pub async fn run(dir: &Path, args: DaemonArgs) -> anyhow::Result<()> {
    let client = profile::open_client(dir).await?;
    tokio::spawn(receive::keep_receiving(client.clone(), |state| {
        if let receive::Connection::Failed { error, retry_in } = state {
            tracing::warn!(%error, "receiving failed; reconnecting in {} s", retry_in.as_secs());
        }
    }));
    let served = tokio::select! {
        served = serve(&client, &args) => served,
        _ = tokio::signal::ctrl_c() => Ok(()),
    };
    if let Some(path) = &args.socket {
        let _ = std::fs::remove_file(path);
    }
    client.close().await;
    served
}

async fn serve(client: &Client, args: &DaemonArgs) -> anyhow::Result<()> {
    if let Some(path) = &args.socket {
        let _ = std::fs::remove_file(path);
        let listener =
            UnixListener::bind(path).with_context(|| format!("binding {}", path.display()))?;
        // Only our user may talk to the daemon: it speaks for the profile.
        let owner_only = std::os::unix::fs::PermissionsExt::from_mode(0o600);
        std::fs::set_permissions(path, owner_only)?;
        say(format_args!("listening on {}", path.display()))?;
        loop {
            let (stream, _) = listener.accept().await?;
            tokio::spawn(connection(client.clone(), stream));
        }
    }
    let addr = args
        .tcp
        .as_deref()
        .context("give --socket PATH or --tcp ADDR")?;
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    say(format_args!(
        "listening on tcp://{}",
        listener.local_addr()?
    ))?;
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(connection(client.clone(), stream));
    }
}

/// Serves one connection: requests in, responses and notifications out.
async fn connection<S: AsyncRead + AsyncWrite + Send + 'static>(client: Client, stream: S) {
    let (read, mut write) = tokio::io::split(stream);
    let (out, mut outgoing) = mpsc::channel::<Value>(256);
    let writer = tokio::spawn(async move {
        while let Some(message) = outgoing.recv().await {
            let line = format!("{message}\n");
            if write.write_all(line.as_bytes()).await.is_err() {
                break;
            }
        }
    });
    let mut lines = BufReader::new(read).lines();
    let (stop, stopped) = watch::channel(());
    let mut session = methods::Session {
        subscribed: false,
        out: out.clone(),
        stopped,
    };
    while let Ok(Some(line)) = lines.next_line().await {
        if line.trim().is_empty() {
            continue;
        }
        let reply = if line.len() > MAX_LINE {
            Some(methods::error(
                Value::Null,
                -32600,
                "request too long",
                None,
            ))
        } else {
            methods::handle(&client, &line, &mut session).await
        };
        if let Some(reply) = reply
            && out.send(reply).await.is_err()
        {
            break;
        }
    }
    // Ends the event forwarder, whose sender would otherwise keep the writer alive.
    drop(stop);
    drop(session);
    drop(out);
    let _ = writer.await;
}

/// A notification of an event.
pub(crate) fn notification(event: Value) -> Value {
    json!({"jsonrpc": "2.0", "method": "event", "params": event})
}
