//! `sotto chat` end to end: the real binary in a real terminal (a tmux pane on a private tmux
//! server), chatting with a second profile that uses `send`/`receive`. The screen's state logic
//! and drawing are unit-tested in `src/chat/`; this checks the wiring: loading, live
//! receiving, sending, keys, slash commands (a reaction, a file), and that quitting restores
//! the terminal and exits 0.
//!
//! Needs `tmux`; where it is missing the test says so on stderr and does nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

/// A private tmux server (its own socket), killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn available() -> bool {
        Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "tmux {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "chat"])
    }

    /// Waits until the screen shows `text` (30 s at most).
    fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "no {text:?} on the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "chat"];
        args.extend(keys);
        self.run(&args);
    }

    fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "chat", "-l", text]);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

#[test]
fn chat_receives_live_sends_and_restores_the_terminal() {
    if !Tmux::available() {
        eprintln!("SKIPPED: tmux is not installed, so `sotto chat` is not run in a terminal");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let (alice, bob) = (tmp.path().join("alice"), tmp.path().join("bob"));
    register(&relay, &alice, "alice");
    register(&relay, &bob, "bob");
    ok(&bob, &["send", "alice", "waiting for you"]);

    let tmux = Tmux {
        socket: format!("sotto-chat-test-{}", std::process::id()),
    };
    let command = format!(
        "'{SOTTO}' --profile '{}' chat; echo \"chat exited $?\"; sleep 60",
        alice.display()
    );
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "chat",
        "-x",
        "100",
        "-y",
        "20",
        &command,
    ]);
    tmux.wait_for("bob (1)");
    tmux.wait_for("receiving live");
    tmux.keys(&["Down"]);
    tmux.wait_for("bob: waiting for you");

    tmux.type_text("here I am");
    tmux.keys(&["Enter"]);
    tmux.wait_for("alice: here I am  ✓");
    assert_eq!(texts(&receive(&bob)), ["here I am"]);

    ok(&bob, &["send", "alice", "live now"]);
    tmux.wait_for("bob: live now");

    // Slash commands: a reaction to Bob's newest message, and a file.
    tmux.type_text("/react 👍");
    tmux.keys(&["Enter"]);
    let file = tmp.path().join("from-chat.txt");
    std::fs::write(&file, "a file sent from the chat").unwrap();
    tmux.type_text(&format!("/attach {}", file.display()));
    tmux.keys(&["Enter"]);
    let saved = tmp.path().join("saved");
    let (mut reacted, mut attached) = (false, None);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(reacted && attached.is_some()) {
        assert!(
            Instant::now() < deadline,
            "the reaction or the file never came"
        );
        let dir = saved.display().to_string();
        let out = ok(
            &bob,
            &["receive", "--json", "--timeout", "30", "--save-dir", &dir],
        );
        for line in json_lines(&out) {
            reacted |= line["type"] == "reaction" && line["emoji"] == "👍";
            if let Some(path) = line["attachments"][0]["saved_as"].as_str() {
                attached = Some(path.to_owned());
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let received = std::fs::read_to_string(attached.unwrap()).unwrap();
    assert_eq!(received, "a file sent from the chat");

    tmux.keys(&["C-n"]);
    tmux.type_text("no body");
    tmux.keys(&["Enter"]);
    tmux.wait_for("is not a username");
    // Separate key presses: an Escape directly followed by a key reads as Alt+key.
    tmux.keys(&["Escape"]);
    tmux.wait_for("Message to bob");
    tmux.keys(&["C-s"]);
    tmux.wait_for("Safety number with bob");

    tmux.keys(&["C-q"]);
    let screen = tmux.wait_for("chat exited 0");
    assert!(
        !screen.contains("Conversations"),
        "screen not restored:\n{screen}"
    );
}

#[test]
fn chat_without_a_terminal_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let alice = tmp.path().join("alice");
    register(&relay, &alice, "alice");
    let out = sotto(&alice, &["chat"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("needs a terminal"), "{stderr}");
}
