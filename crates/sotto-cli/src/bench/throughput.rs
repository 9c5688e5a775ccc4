//! Throughput and latency: every device is connected; envelopes go round-robin from device
//! i to device i+1; each carries its send time, so the receiver measures send→deliver.
//! With `--wire binary` (the default) sends, pushes and acks share each device's binary
//! WebSocket; with `--wire json` sends are HTTP `PUT`s and the WebSocket speaks JSON.

use super::binary::{self, DeviceLink};
use super::server::{Target, TargetArgs, cpu_ms, memory_kib, progress};
use super::stats::Latencies;
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use futures_util::{FutureExt, SinkExt, StreamExt};
use hyper::StatusCode;
use serde_json::json;
use sotto_cli::relay_client::{Credentials, DeliverySocket, RelayClient};
use sotto_proto::api::ServerFrame;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Args)]
pub struct ThroughputArgs {
    /// Connected devices (each both sends and receives).
    #[arg(long, default_value_t = 100)]
    devices: usize,
    /// Envelopes to send in total.
    #[arg(long, default_value_t = 50_000)]
    messages: u64,
    /// Target send rate in envelopes/s; 0 sends as fast as the concurrency allows.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Envelope size in bytes (at least 8).
    #[arg(long, default_value_t = 1024)]
    size: usize,
    /// Sends in flight at once.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// How the devices talk to the relay.
    #[arg(long, value_enum, default_value_t = Wire::Binary)]
    wire: Wire,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    target: TargetArgs,
}

/// The relay's two wire formats, as the bench uses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Wire {
    /// Binary WebSocket frames for sends, pushes and batched acks.
    Binary,
    /// HTTP `PUT` with a JSON body for sends; JSON text frames, one ack per frame.
    Json,
}

/// Shared delivery counters.
pub(super) struct Delivered {
    count: AtomicU64,
    done: Notify,
    goal: u64,
}

impl Delivered {
    /// Counts one delivered envelope; wakes the waiter at the goal.
    pub(super) fn record(&self, bar: &indicatif::ProgressBar) {
        bar.inc(1);
        if self.count.fetch_add(1, Ordering::Relaxed) + 1 == self.goal {
            self.done.notify_one();
        }
    }
}

/// How sender lanes send.
#[derive(Clone)]
enum Sender {
    /// HTTP `PUT`s through the sender's node.
    Http(Arc<Vec<RelayClient>>),
    /// Each device's binary WebSocket, on its node.
    Binary(Arc<Vec<DeviceLink>>),
}

pub async fn run(args: ThroughputArgs) -> Result<()> {
    if args.size < 8 || args.devices < 2 || args.concurrency == 0 {
        bail!("need --size >= 8, --devices >= 2 and --concurrency >= 1");
    }
    let target = Target::start(&args.target).await?;
    let bar = progress(args.devices as u64, "registering");
    let devices = Arc::new(target.register_many(args.devices, 16, &bar).await?);
    bar.finish_and_clear();
    let clock = Instant::now();
    let delivered = Arc::new(Delivered {
        count: AtomicU64::new(0),
        done: Notify::new(),
        goal: args.messages,
    });
    let bar = progress(args.messages, "delivered");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut receivers = Vec::new();
    let mut links = Vec::new();
    for (i, device) in devices.iter().enumerate() {
        if args.wire == Wire::Binary {
            let (link, task) = binary::open(
                target.node(i),
                device,
                clock,
                delivered.clone(),
                bar.clone(),
                stopped.clone(),
            )
            .await?;
            links.push(link);
            receivers.push(task);
            continue;
        }
        let mut socket = target.node(i).connect(device).await?;
        wait_queue_empty(&mut socket).await?;
        receivers.push(tokio::spawn(receive(
            socket,
            clock,
            delivered.clone(),
            bar.clone(),
            stopped.clone(),
        )));
    }
    let sender = match args.wire {
        Wire::Binary => Sender::Binary(Arc::new(links)),
        Wire::Json => Sender::Http(Arc::new(target.nodes.clone())),
    };
    let commits_before = target.commit_counters().await?;
    let cpu_before = (cpu_ms(&target.pid.to_string())?, cpu_ms("self")?);
    let run = u32::from_le_bytes(sotto_cli::relay_client::random_secret()?[..4].try_into()?);
    let started = clock.elapsed();
    let senders: Vec<_> = (0..args.concurrency)
        .map(|lane| {
            tokio::spawn(send_lane(
                sender.clone(),
                devices.clone(),
                lane,
                clock,
                started,
                args_lane(&args, run),
            ))
        })
        .collect();
    for sender in senders {
        sender.await.context("sender task failed")??;
    }
    let wait = delivered.done.notified();
    if delivered.count.load(Ordering::Relaxed) < args.messages {
        tokio::time::timeout(Duration::from_secs(120), wait)
            .await
            .context("not every envelope was delivered within 120 s")?;
    }
    let elapsed = clock.elapsed() - started;
    let cpu_after = (cpu_ms(&target.pid.to_string())?, cpu_ms("self")?);
    let cpu = (cpu_after.0 - cpu_before.0, cpu_after.1 - cpu_before.1);
    bar.finish_and_clear();
    stop.send_replace(true);
    let mut latencies = Latencies::default();
    for receiver in receivers {
        latencies.merge(receiver.await.context("receiver task failed")??);
    }
    let commits_after = target.commit_counters().await?;
    let batching = (
        commits_after.0 - commits_before.0,
        commits_after.1 - commits_before.1,
    );
    report(
        &args, &target, elapsed, &delivered, latencies, batching, cpu,
    )
}

/// What one sender lane needs from the arguments.
#[derive(Clone, Copy)]
struct Lane {
    run: u32,
    messages: u64,
    rate: u64,
    size: usize,
    lanes: u64,
}

fn args_lane(args: &ThroughputArgs, run: u32) -> Lane {
    Lane {
        run,
        messages: args.messages,
        rate: args.rate,
        size: args.size,
        lanes: args.concurrency as u64,
    }
}

/// Sends envelopes number `lane`, `lane + lanes`, … ; at a fixed rate, envelope k is due at
/// k / rate seconds and carries that due time (so queueing delay in the generator counts).
/// Envelope k goes through the node of its sender, device k: with several nodes, the
/// recipient k+1 is on another node, so every delivery crosses nodes.
async fn send_lane(
    sender: Sender,
    devices: Arc<Vec<Credentials>>,
    lane: usize,
    clock: Instant,
    started: Duration,
    cfg: Lane,
) -> Result<()> {
    let mut k = lane as u64;
    while k < cfg.messages {
        let stamp = if cfg.rate > 0 {
            let due = started + Duration::from_secs_f64(k as f64 / cfg.rate as f64);
            tokio::time::sleep_until((clock + due).into()).await;
            due
        } else {
            clock.elapsed()
        };
        let from = &devices[(k as usize) % devices.len()];
        let to = &devices[(k as usize + 1) % devices.len()];
        let mut content = vec![0u8; cfg.size];
        content[..8].copy_from_slice(
            &u64::try_from(stamp.as_micros())
                .unwrap_or(u64::MAX)
                .to_le_bytes(),
        );
        // Unique per run (32 bits) and envelope (48 bits).
        let id = super::time_first_id(u128::from(cfg.run) << 48 | u128::from(k));
        match &sender {
            Sender::Http(nodes) => {
                let client = &nodes[(k as usize) % devices.len() % nodes.len()];
                let (status, answer) = client
                    .send(from, &to.account_id, &id, vec![(1, content)])
                    .await?;
                if status != StatusCode::OK {
                    bail!("send failed: {status} {answer}");
                }
            }
            Sender::Binary(links) => {
                // Device k's link, on device k's node.
                links[(k as usize) % links.len()]
                    .send(&to.account_id, id, content)
                    .await?;
            }
        }
        k += cfg.lanes;
    }
    Ok(())
}

async fn wait_queue_empty(socket: &mut DeliverySocket) -> Result<()> {
    while let Some(message) = socket.next().await {
        if let Message::Text(text) = message?
            && let Ok(ServerFrame::QueueEmpty) = serde_json::from_str(text.as_str())
        {
            return Ok(());
        }
    }
    bail!("connection closed before queue_empty")
}

/// Reads envelopes, records latency, acks them (flushing once per burst).
async fn receive(
    mut socket: DeliverySocket,
    clock: Instant,
    delivered: Arc<Delivered>,
    bar: indicatif::ProgressBar,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<Latencies> {
    let mut latencies = Latencies::default();
    loop {
        let message = tokio::select! {
            _ = stop.wait_for(|stop| *stop) => break,
            message = socket.next() => match message {
                Some(message) => message,
                None => break,
            },
        };
        let mut next = Some(message);
        while let Some(message) = next.take() {
            if let Message::Text(text) = message?
                && let Ok(ServerFrame::Envelope(envelope)) = serde_json::from_str(text.as_str())
            {
                latencies.record(clock.elapsed().saturating_sub(sent_at(&envelope.content.0)));
                let ack = json!({"type": "ack", "id": envelope.id}).to_string();
                socket.feed(Message::Text(ack.into())).await?;
                delivered.record(&bar);
            }
            next = socket.next().now_or_never().flatten();
        }
        socket.flush().await?;
    }
    Ok(latencies)
}

/// The send time stamped in an envelope's first 8 bytes.
pub(super) fn sent_at(content: &[u8]) -> Duration {
    let micros = content
        .get(..8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_le_bytes);
    Duration::from_micros(micros.unwrap_or_default())
}

fn report(
    args: &ThroughputArgs,
    target: &Target,
    elapsed: Duration,
    delivered: &Delivered,
    mut latencies: Latencies,
    (commits, writes): (u64, u64),
    (relay_cpu_ms, generator_cpu_ms): (u64, u64),
) -> Result<()> {
    let (rss, peak) = memory_kib(target.pid)?;
    let count = delivered.count.load(Ordering::Relaxed);
    let per_envelope_us = |ms: u64| (ms as f64 * 1000.0 / count.max(1) as f64).round();
    let report = json!({
        "devices": args.devices,
        "envelope_bytes": args.size,
        "target_rate_per_s": if args.rate == 0 { json!("max") } else { json!(args.rate) },
        "concurrency": args.concurrency,
        "wire": format!("{:?}", args.wire).to_lowercase(),
        "delivered": count,
        "server_commits": commits,
        "server_writes_per_commit": (writes as f64 / commits.max(1) as f64 * 10.0).round() / 10.0,
        "seconds": (elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
        "delivered_per_s": (count as f64 / elapsed.as_secs_f64()).round(),
        "latency_samples": latencies.len(),
        "p50_ms": latencies.quantile_ms(0.50),
        "p99_ms": latencies.quantile_ms(0.99),
        "p999_ms": latencies.quantile_ms(0.999),
        "max_ms": latencies.quantile_ms(1.0),
        "server_cpu_us_per_envelope": per_envelope_us(relay_cpu_ms),
        "generator_cpu_us_per_envelope": per_envelope_us(generator_cpu_ms),
        "server_rss_mib": rss as f64 / 1024.0,
        "server_peak_rss_mib": peak as f64 / 1024.0,
    });
    super::print_report(&report, args.json)
}
