//! The `sotto` command: `serve` runs the relay, `admin` inspects and manages its data,
//! `bench` measures it; `account`, `send`, `receive`, `contacts`, `history` and `verify` chat
//! through a profile with the client SDK, `chat` is its terminal UI and `daemon` its JSON-RPC
//! server; `demo` shows all of it at once.
//!
//! Exit codes (`docs/cli.md`): 0 success, 1 failure, 2 bad usage, 3 relay unreachable,
//! 4 rate limited, 5 untrusted identity, 6 profile locked or wrong passphrase.

use sotto_cli as _;

mod admin;
mod bench;
mod chat;
mod client;
mod daemon;
mod demo;
mod exit;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory as _, Parser, Subcommand};

/// Sotto: a self-hostable end-to-end encrypted messenger.
#[derive(Debug, Parser)]
#[command(name = "sotto", version, about, propagate_version = true)]
struct Cli {
    /// Log filter (tracing syntax, e.g. `info`, `sotto_server=debug`).
    #[arg(long, global = true, env = "SOTTO_LOG", default_value = "info")]
    log: String,
    /// The profile directory [default: `sotto/profile` under the user's data directory].
    #[arg(long, global = true, env = "SOTTO_PROFILE", value_name = "DIR")]
    profile: Option<PathBuf>,
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
    /// Register this profile on a relay, or show its account.
    Account(client::account::AccountArgs),
    /// Link this profile as a new device of an account, approve one, list or remove devices.
    Devices(client::devices::DevicesArgs),
    /// Send a text message and files (end-to-end encrypted to every device of the recipient).
    Send(client::messages::SendArgs),
    /// React to a message with an emoji (or take the reaction back).
    React(client::features::ReactArgs),
    /// Change the text of one of your messages (within 24 hours).
    Edit(client::features::EditArgs),
    /// Delete one of your messages for everyone (within 24 hours).
    Delete(client::features::DeleteArgs),
    /// Show or set a conversation's disappearing-message timer (agreed by both sides).
    Timer(client::features::TimerArgs),
    /// Tell a contact you are typing (never queued: dropped unless they are online).
    Typing(client::features::TypingArgs),
    /// Mark a contact's messages read and send them a read receipt.
    Read(client::features::ReadArgs),
    /// Create, change, list and show group chats.
    Group(client::groups::GroupArgs),
    /// Print the messages waiting on the relay (and, with --follow, new ones as they arrive).
    Receive(client::receive::ReceiveArgs),
    /// List contacts, with their verification state.
    Contacts(client::messages::ContactsArgs),
    /// Show the conversation with a contact.
    History(client::messages::HistoryArgs),
    /// Fetch the files of a received message again (e.g. after a failed download).
    Attachments(client::attachments::AttachmentsArgs),
    /// Show the safety number with a contact; mark it verified or accept a changed identity.
    Verify(client::verify::VerifyArgs),
    /// Chat in a terminal UI: conversations, history, compose, safety-number warnings.
    Chat(chat::ChatArgs),
    /// Serve this profile over JSON-RPC 2.0 on a UNIX socket or TCP (for bots; docs/json-rpc.md).
    Daemon(daemon::DaemonArgs),
    /// Start a relay and two profiles in a temporary directory, chat, and show what the relay
    /// stored (only ciphertext).
    Demo,
    /// Print a shell completion script (e.g. `sotto completions bash > /etc/bash_completion.d/sotto`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    init_logging(&cli);
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
    let result = runtime.block_on(dispatch(cli));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = exit::code_for(&e);
            eprintln!("error: {e:#}");
            if let Some(hint) = exit::hint_for(code) {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(code)
        }
    }
}

fn init_logging(cli: &Cli) {
    // The chat commands talk to people: only warnings unless asked for more.
    let chat = !matches!(
        cli.command,
        Command::Serve(_) | Command::Admin(_) | Command::Bench(_)
    );
    let default = if matches!(cli.command, Command::Chat(_)) && cli.log == "info" {
        // Log lines would scribble over the chat screen.
        "off"
    } else if chat && cli.log == "info" {
        "warn"
    } else {
        &cli.log
    };
    let filter = tracing_subscriber::EnvFilter::try_new(default)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    let dir = || client::profile::profile_dir(cli.profile.as_deref());
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Admin(args) => admin::run(args).await,
        Command::Bench(args) => bench::run(args).await,
        Command::Account(args) => client::account::run(&dir()?, args).await,
        Command::Devices(args) => client::devices::run(&dir()?, args).await,
        Command::Send(args) => client::messages::send(&dir()?, args).await,
        Command::React(args) => client::features::react(&dir()?, args).await,
        Command::Edit(args) => client::features::edit(&dir()?, args).await,
        Command::Delete(args) => client::features::delete(&dir()?, args).await,
        Command::Timer(args) => client::features::timer(&dir()?, args).await,
        Command::Typing(args) => client::features::typing(&dir()?, args).await,
        Command::Read(args) => client::features::read(&dir()?, args).await,
        Command::Receive(args) => client::receive::run(&dir()?, args).await,
        Command::Group(args) => client::groups::run(&dir()?, args).await,
        Command::Contacts(args) => client::messages::contacts(&dir()?, args).await,
        Command::History(args) => client::messages::history(&dir()?, args).await,
        Command::Attachments(args) => client::attachments::run(&dir()?, args).await,
        Command::Verify(args) => client::verify::run(&dir()?, args).await,
        Command::Chat(args) => chat::run(&dir()?, args).await,
        Command::Daemon(args) => daemon::run(&dir()?, args).await,
        Command::Demo => demo::run().await,
        Command::Completions { shell } => completions(shell),
    }
}

fn completions(shell: clap_complete::Shell) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut Cli::command(), "sotto", &mut out);
    Ok(())
}
