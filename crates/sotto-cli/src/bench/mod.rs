//! `sotto bench`: load tests of the relay with raw envelopes (no encryption, so the numbers
//! are the relay's), and the raw SQLite floor to compare them with; attachments end to end.

mod attachments;
mod binary;
mod chat;
mod floor;
mod idle;
mod server;
mod stats;
mod throughput;
mod transfer;

use anyhow::Result;
use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Send envelopes between connected devices; report delivered msgs/s and latency.
    Throughput(throughput::ThroughputArgs),
    /// Hold many authenticated, idle WebSockets; report server memory per connection.
    Idle(idle::IdleArgs),
    /// Raw SQLite insert+delete rate with the relay's schema and durability (the floor).
    Sqlite(floor::FloorArgs),
    /// End to end with real encryption: `sotto send` to `receive --follow` latency, and
    /// messages/s between two SDK clients through one relay.
    Chat(chat::ChatArgs),
    /// One file end to end: encrypt, upload in resumable requests, download, decrypt; MB/s
    /// of each step next to raw AES-256-GCM, with blobs in a directory and optionally in S3.
    Attachments(attachments::AttachmentsArgs),
}

pub async fn run(args: BenchArgs) -> Result<()> {
    match args.command {
        BenchCommand::Throughput(args) => throughput::run(args).await,
        BenchCommand::Idle(args) => idle::run(args).await,
        BenchCommand::Sqlite(args) => floor::run(args).await,
        BenchCommand::Chat(args) => chat::run(args).await,
        BenchCommand::Attachments(args) => attachments::run(args).await,
    }
}

/// Prints a report as JSON or as aligned `key: value` lines.
fn print_report(report: &serde_json::Value, json: bool) -> Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout();
    if json {
        writeln!(out, "{report}")?;
    } else if let Some(fields) = report.as_object() {
        for (key, value) in fields {
            writeln!(out, "{key:>28}: {value}")?;
        }
    }
    Ok(())
}

/// A message id in the form Sotto clients choose: the time in Unix ms as 12 hex digits, a
/// dash, then 80 bits as 20 hex digits, here the low 80 bits of `unique` (the relay hashes
/// the id, so they need not be random to cost what a client's random ones cost).
fn time_first_id(unique: u128) -> String {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("{now_ms:012x}-{:020x}", unique & ((1 << 80) - 1))
}
