//! The relay under test: spawned as a child `sotto serve` on a fresh data directory, or an
//! already running one given by URL and pid.

use anyhow::{Context, Result};
use clap::Args;
use sotto_cli::relay_client::{Credentials, RelayClient};
use std::path::PathBuf;
use tokio::process::Child;

#[derive(Debug, Default, Args)]
pub struct TargetArgs {
    /// Benchmark a running relay at this URL instead of starting one (it must run with
    /// --no-rate-limits). Several comma-separated URLs spread the clients over the nodes of
    /// a cluster: device i connects to and sends through node i mod n.
    #[arg(long, requires = "server_pid", value_delimiter = ',')]
    server: Vec<String>,
    /// Process id of the relay given by --server, to read its memory use.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Data directory for the relay the bench starts [default: a fresh temporary directory].
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

/// A relay to benchmark.
pub struct Target {
    /// The first (or only) node.
    pub client: RelayClient,
    /// Every node, the first one included.
    pub nodes: Vec<RelayClient>,
    pub pid: u32,
    _child: Option<Child>,
    _dir: Option<tempfile::TempDir>,
}

impl Target {
    pub async fn start(args: &TargetArgs) -> Result<Target> {
        Self::start_with(args, &[]).await
    }

    /// Like [`Target::start`], with extra `sotto serve` flags for a relay the bench starts.
    pub async fn start_with(args: &TargetArgs, serve: &[String]) -> Result<Target> {
        if let (Some(url), Some(pid)) = (args.server.first(), args.server_pid) {
            return Ok(Target {
                client: RelayClient::new(url),
                nodes: args.server.iter().map(|u| RelayClient::new(u)).collect(),
                pid,
                _child: None,
                _dir: None,
            });
        }
        let (dir, path) = match &args.data_dir {
            Some(path) => (None, path.clone()),
            None => {
                let dir =
                    tempfile::tempdir().context("cannot create a temporary data directory")?;
                let path = dir.path().to_path_buf();
                (Some(dir), path)
            }
        };
        let (child, url) = crate::demo::start_relay_with(&path, serve).await?;
        let pid = child.id().context("sotto serve has no pid")?;
        Ok(Target {
            client: RelayClient::new(&url),
            nodes: vec![RelayClient::new(&url)],
            pid,
            _child: Some(child),
            _dir: dir,
        })
    }

    /// Registers `count` accounts, `parallel` at a time, with a run-unique name prefix.
    pub async fn register_many(
        &self,
        count: usize,
        parallel: usize,
        progress: &indicatif::ProgressBar,
    ) -> Result<Vec<Credentials>> {
        let run = hex::encode(
            sotto_cli::relay_client::random_secret()?
                .get(..4)
                .unwrap_or_default(),
        );
        let mut devices = Vec::with_capacity(count);
        let mut pending = futures_util::stream::FuturesOrdered::new();
        use futures_util::StreamExt as _;
        for i in 0..count {
            let (client, name) = (self.client.clone(), format!("b{run}_{i}"));
            pending.push_back(async move { client.register(&name, 0).await });
            if pending.len() >= parallel {
                devices.push(
                    pending
                        .next()
                        .await
                        .context("registration task vanished")??,
                );
                progress.inc(1);
            }
        }
        while let Some(device) = pending.next().await {
            devices.push(device?);
            progress.inc(1);
        }
        Ok(devices)
    }
}

impl Target {
    /// The node serving device `i`.
    pub fn node(&self, i: usize) -> &RelayClient {
        &self.nodes[i % self.nodes.len()]
    }

    /// The `(commits, writes)` mailbox counters from `/metrics`, summed over the nodes.
    pub async fn commit_counters(&self) -> Result<(u64, u64)> {
        let mut sum = (0, 0);
        for node in &self.nodes {
            let (commits, writes) = Self::node_counters(node).await?;
            sum = (sum.0 + commits, sum.1 + writes);
        }
        Ok(sum)
    }

    async fn node_counters(node: &RelayClient) -> Result<(u64, u64)> {
        let (_, body) = node
            .request(hyper::Method::GET, "/metrics", None, None)
            .await?;
        let text = String::from_utf8_lossy(&body);
        let counter = |name: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(name)?.trim().parse::<u64>().ok())
                .with_context(|| format!("{name} missing from /metrics"))
        };
        Ok((
            counter("sotto_mailbox_commits_total ")?,
            counter("sotto_mailbox_writes_total ")?,
        ))
    }
}

/// Resident and peak resident memory of a process, in KiB, from `/proc/PID/status`.
pub fn memory_kib(pid: u32) -> Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .context("cannot read the relay's memory use")?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse::<u64>().ok())
            .with_context(|| format!("{name} missing in /proc/{pid}/status"))
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

/// CPU time (user + system) a process has used so far, in milliseconds, from
/// `/proc/PID/stat` (`self` for this process). Linux counts it in ticks of 10 ms.
pub fn cpu_ms(pid: &str) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("cannot read /proc/{pid}/stat"))?;
    // The command name (field 2) may contain spaces; the fields after it are plain numbers.
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => Ok((user + system) * 10),
        _ => anyhow::bail!("unexpected format of /proc/{pid}/stat"),
    }
}

/// A progress bar on stderr with a message and a count.
pub fn progress(total: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total);
    let style = indicatif::ProgressStyle::with_template(
        "{msg:>14} [{bar:40}] {pos}/{len} {per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(what.to_owned());
    bar
}
