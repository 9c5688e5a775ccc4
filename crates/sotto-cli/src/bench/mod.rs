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
