//! `sotto bench chat`: the client end to end, with real encryption.
//!
//! 1. Latency: the time from starting `sotto send` (a new process: profile unlock, directory
//!    lookup, encryption, relay PUT) to the recipient's `sotto receive --follow --json`
//!    printing the message, one message at a time.
//! 2. Throughput: two SDK clients in this process, one sending with `--concurrency` tasks,
//!    the other following; messages decrypted and stored per second.
//!
//! Both start their own relay (`sotto serve` on 127.0.0.1:0, rate limits off) in a temp dir.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, ensure};
use clap::Args;
use serde_json::{Value, json};
use sotto_client::{Client, Event, ReceiveMode};
use tokio::io::{AsyncBufReadExt as _, BufReader, Lines};
use tokio::process::{ChildStdout, Command};
use tokio::sync::broadcast::error::RecvError;

use super::stats::Latencies;
use crate::demo::{register, start_relay};

/// The longest wait for one message.
const PATIENCE: Duration = Duration::from_secs(30);

/// `sotto bench chat`.
#[derive(Debug, Args)]
pub struct ChatArgs {
    /// Messages for the latency part (one `sotto send` process each).
    #[arg(long, default_value_t = 1000)]
    latency_messages: usize,
    /// Messages for the throughput part.
    #[arg(long, default_value_t = 5000)]
    messages: usize,
    /// Concurrent sending tasks in the throughput part.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// One JSON object instead of lines.
    #[arg(long)]
    json: bool,
}

/// Runs both parts and prints one report.
pub async fn run(args: ChatArgs) -> Result<()> {
    ensure!(args.concurrency > 0, "--concurrency must be at least 1");
    let tmp = tempfile::tempdir()?;
    let (mut relay, url) = start_relay(&tmp.path().join("relay")).await?;
    let latency = latency(tmp.path(), &url, args.latency_messages).await;
    let throughput = throughput(tmp.path(), &url, args.messages, args.concurrency).await;
    relay.kill().await.ok();
    let mut report = latency?;
    if let (Some(report), Value::Object(more)) = (report.as_object_mut(), throughput?) {
        report.extend(more);
    }
    super::print_report(&report, args.json)
}

async fn latency(tmp: &Path, url: &str, n: usize) -> Result<Value> {
    let (alice, bob) = (tmp.join("alice"), tmp.join("bob"));
    register(&alice, url, "alice").await?.close().await;
    register(&bob, url, "bob").await?.close().await;
    let exe = std::env::current_exe()?;
    let mut follower = Command::new(&exe)
        .arg("--profile")
        .arg(&bob)
        .args(["receive", "--follow", "--json"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = BufReader::new(follower.stdout.take().context("follower stdout")?).lines();
    let (mut end_to_end, mut send_process) = (Latencies::default(), Latencies::default());
    // Message 0 sets up the session and shows the follower is connected; it is not counted.
    for i in 0..=n {
        let text = format!("bench message {i}");
        let start = Instant::now();
        let status = Command::new(&exe)
            .arg("--profile")
            .arg(&alice)
            .args(["send", "bob", &text])
            .stdout(Stdio::null())
            .status()
            .await?;
        ensure!(status.success(), "sotto send failed");
        let sent = start.elapsed();
        printed(&mut lines, &text).await?;
        if i > 0 {
            send_process.record(sent);
            end_to_end.record(start.elapsed());
        }
    }
    follower.kill().await.ok();
    Ok(json!({
        "latency_messages": end_to_end.len(),
        "send_to_printed_median_ms": end_to_end.quantile_ms(0.5),
        "send_to_printed_p99_ms": end_to_end.quantile_ms(0.99),
        "send_process_median_ms": send_process.quantile_ms(0.5),
    }))
}

/// Waits until the follower prints the message with `text`.
async fn printed(lines: &mut Lines<BufReader<ChildStdout>>, text: &str) -> Result<()> {
    loop {
        let line = tokio::time::timeout(PATIENCE, lines.next_line())
            .await
            .context("the message was not printed in time")??
            .context("the follower exited")?;
        let line: Value = serde_json::from_str(&line)?;
        if line["type"] == "message" && line["text"] == text {
            return Ok(());
        }
    }
}

async fn throughput(tmp: &Path, url: &str, n: usize, concurrency: usize) -> Result<Value> {
    let carol = register(&tmp.join("carol"), url, "carol").await?;
    let dave = register(&tmp.join("dave"), url, "dave").await?;
    carol.send("dave", "hello").await?;
    dave.receive(ReceiveMode::UntilEmpty).await?;
    let mut events = dave.subscribe();
    let follower = tokio::spawn({
        let dave = dave.clone();
        async move { dave.receive(ReceiveMode::Follow).await }
    });
    let start = Instant::now();
    let senders: Vec<_> = (0..concurrency)
        .map(|task| tokio::spawn(send_share(carol.clone(), task, n, concurrency)))
        .collect();
    let mut received = 0;
    while received < n {
        match tokio::time::timeout(PATIENCE, events.recv()).await {
            Ok(Ok(Event::Message { .. })) => received += 1,
            Ok(Err(RecvError::Lagged(missed))) => received += usize::try_from(missed)?,
            Ok(Ok(_)) => {}
            Ok(Err(RecvError::Closed)) | Err(_) => anyhow::bail!("only {received} of {n} arrived"),
        }
    }
    let elapsed = start.elapsed();
    for sender in senders {
        sender.await??;
    }
    follower.abort();
    carol.close().await;
    dave.close().await;
    Ok(json!({
        "throughput_messages": n,
        "throughput_concurrency": concurrency,
        "messages_per_s": (n as f64 / elapsed.as_secs_f64()).round(),
    }))
}

/// Sends this task's share of the `n` messages.
async fn send_share(client: Client, task: usize, n: usize, tasks: usize) -> Result<()> {
    for i in (task..n).step_by(tasks) {
        client.send("dave", &format!("throughput {i}")).await?;
    }
    Ok(())
}
