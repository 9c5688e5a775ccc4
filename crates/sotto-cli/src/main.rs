//! The `sotto` command: `serve` runs the relay, `admin` inspects and manages its data,
//! `bench` measures it.
//!
//! Exit codes: 0 success, 1 failure (message on stderr), 2 bad usage.

use sotto_cli as _;

mod admin;
mod bench;
mod serve;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Sotto: a self-hostable end-to-end encrypted messenger.
#[derive(Debug, Parser)]
#[command(name = "sotto", version, about, propagate_version = true)]
struct Cli {
    /// Log filter (tracing syntax, e.g. `info`, `sotto_server=debug`).
    #[arg(long, global = true, env = "SOTTO_LOG", default_value = "info")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the relay server.
    Serve(serve::ServeArgs),
    /// Inspect and manage a relay's data (works on the data directory directly).
    Admin(admin::AdminArgs),
    /// Load-test a relay with raw envelopes (no encryption) and report throughput and latency.
    Bench(bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Admin(args) => admin::run(args).await,
            Command::Bench(args) => bench::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
