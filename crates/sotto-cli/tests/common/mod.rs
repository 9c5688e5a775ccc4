//! The harness of the chat tests: the real `sotto` binary, a relay on a free loopback port.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

pub const SOTTO: &str = env!("CARGO_BIN_EXE_sotto");

/// A relay on a free loopback port, killed on drop.
pub struct Relay {
    pub url: String,
    pub data_dir: PathBuf,
    pub child: Child,
}

impl Relay {
    pub fn start(data_dir: &Path) -> Self {
        Self::start_on(data_dir, "127.0.0.1:0")
    }

    pub fn start_on(data_dir: &Path, listen: &str) -> Self {
        Self::spawn(data_dir, listen, None)
    }

    /// A relay at the default log level (`info`), its log (stderr) written to `log`.
    pub fn start_logged(data_dir: &Path, log: &Path) -> Self {
        Self::spawn(data_dir, "127.0.0.1:0", Some(log))
    }

    fn spawn(data_dir: &Path, listen: &str, log: Option<&Path>) -> Self {
        std::fs::create_dir_all(data_dir).unwrap();
        let mut command = Command::new(SOTTO);
        command.args(["serve", "--no-rate-limits", "--listen", listen]);
        match log {
            Some(log) => command
                .env_remove("SOTTO_LOG")
                .stderr(std::fs::File::create(log).unwrap()),
            None => command.args(["--log", "warn"]).stderr(Stdio::null()),
        };
        let mut child = command
            .arg("--data-dir")
            .arg(data_dir)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = loop {
            let line = lines.next().expect("relay exited early").unwrap();
            if let Some(url) = line.strip_prefix("listening on ") {
                break url.trim().to_owned();
            }
        };
        Self {
            url,
            data_dir: data_dir.to_owned(),
            child,
        }
    }

    /// Kills the relay and starts it again on the same address and data dir.
    pub fn restart(mut self) -> Self {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        let addr = self.url.trim_start_matches("http://").to_owned();
        Self::start_on(&self.data_dir.clone(), &addr)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `sotto --profile DIR ARGS` with `stdin` as its input.
pub fn sotto_in(profile: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(SOTTO)
        .arg("--profile")
        .arg(profile)
        .args(args)
        .env_remove("SOTTO_PASSPHRASE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

pub fn sotto(profile: &Path, args: &[&str]) -> Output {
    sotto_in(profile, args, "")
}

/// Runs a command that must succeed and returns its stdout.
pub fn ok(profile: &Path, args: &[&str]) -> String {
    let out = sotto(profile, args);
    assert!(
        out.status.success(),
        "sotto {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The `message` lines of `receive --json`.
pub fn receive(profile: &Path) -> Vec<Value> {
    let lines = json_lines(&ok(profile, &["receive", "--json", "--timeout", "30"]));
    lines
        .into_iter()
        .filter(|l| l["type"] == "message")
        .collect()
}

pub fn texts(lines: &[Value]) -> Vec<&str> {
    lines.iter().map(|l| l["text"].as_str().unwrap()).collect()
}

pub fn register(relay: &Relay, profile: &Path, name: &str) {
    let url = relay.url.as_str();
    ok(profile, &["account", "register", "--server", url, name]);
}
