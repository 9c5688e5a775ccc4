//! Idle connections: register devices, measure the relay's memory, connect every device and
//! wait for each `queue_empty`, measure again. The difference per connection is the cost of
//! an idle authenticated WebSocket.

use super::server::{Target, TargetArgs, memory_kib, progress};
use anyhow::{Result, bail};
use clap::Args;
use futures_util::StreamExt;
use serde_json::json;
use sotto_proto::api::ServerFrame;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Args)]
pub struct IdleArgs {
    /// Connections to hold (one device each; the open-file limit must allow them).
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    target: TargetArgs,
}

pub async fn run(args: IdleArgs) -> Result<()> {
    let target = Target::start(&args.target).await?;
    let bar = progress(args.connections as u64, "registering");
    let devices = target.register_many(args.connections, 32, &bar).await?;
    bar.finish_and_clear();
    let (before, _) = memory_kib(target.pid)?;
    let bar = progress(args.connections as u64, "connecting");
    let mut sockets = Vec::with_capacity(devices.len());
    for device in &devices {
        let mut socket = target.client.connect(device).await?;
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text)))
                    if matches!(
                        serde_json::from_str(text.as_str()),
                        Ok(ServerFrame::QueueEmpty)
                    ) =>
                {
                    break;
                }
                Some(Ok(_)) => continue,
                other => bail!("connection ended before queue_empty: {other:?}"),
            }
        }
        sockets.push(socket);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let (after, peak) = memory_kib(target.pid)?;
    let per_connection = after.saturating_sub(before) as f64 * 1024.0 / sockets.len().max(1) as f64;
    let report = json!({
        "connections": sockets.len(),
        "server_rss_before_mib": before as f64 / 1024.0,
        "server_rss_after_mib": after as f64 / 1024.0,
        "server_peak_rss_mib": peak as f64 / 1024.0,
        "bytes_per_connection": per_connection.round(),
        "kib_per_connection": (per_connection / 1024.0 * 100.0).round() / 100.0,
    });
    drop(sockets);
    super::print_report(&report, args.json)
}
