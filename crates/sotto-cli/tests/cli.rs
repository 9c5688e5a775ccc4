//! End-to-end tests of the chat commands: the real `sotto` binary, a relay on port 0, profiles
//! in temp dirs unlocked by key files (stdin is not a terminal) or `SOTTO_PASSPHRASE`.
//!
//! | test | checks |
//! |---|---|
//! | `two_users_chat_both_ways` | register, send (argument and stdin), `receive --json`, history, contacts, account show |
//! | `an_offline_recipient_gets_messages_later_in_order_and_once` | queueing, order, nothing shown twice |
//! | `a_redelivered_envelope_is_shown_once` | an envelope stored but not acked is not printed again |
//! | `a_changed_identity_is_reported_and_blocks_a_verified_contact_until_accepted` | `identity_changed` line, exit code 5, `verify --accept` |
//! | `safety_numbers_are_equal_on_both_sides` | `verify --json`, `--qr`, `--mark-verified` |
//! | `follow_prints_messages_as_they_arrive` | `receive --follow --timeout` |
//! | `relay_and_client_restarts_mid_conversation_lose_and_duplicate_nothing` | `receive --follow` reconnects after a killed relay; a killed client and a relay restarted with a queue lose nothing, show nothing twice |
//! | `exit_codes_say_what_went_wrong` | usage 2, network 3, locked 6, unregistered profile 1 |
//! | `demo_runs` | `sotto demo` exits 0 and shows ciphertext sizes |
//! | `every_command_has_help_and_completions_work` | `--help` of every command, `completions` |
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;
use serde_json::Value;

#[test]
fn two_users_chat_both_ways() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let (alice, bob) = (tmp.path().join("alice"), tmp.path().join("bob"));
    register(&relay, &alice, "alice");
    register(&relay, &bob, "bob");
    assert!(
        alice.join("profile.key").exists(),
        "no terminal: a key file"
    );

    let id = ok(&alice, &["send", "bob", "hello bob"]);
    let got = receive(&bob);
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(
        (m["from"].as_str(), m["device"].as_u64()),
        (Some("alice"), Some(1))
    );
    assert_eq!(
        (m["text"].as_str(), m["id"].as_str()),
        (Some("hello bob"), Some(id.trim()))
    );
    let sent_at = m["sent_at"].as_str().unwrap();
    assert!(sent_at.ends_with('Z') && sent_at.contains('T'), "{sent_at}");

    let out = sotto_in(&bob, &["send", "alice"], "from stdin\nsecond line\n");
    assert!(out.status.success());
    assert_eq!(texts(&receive(&alice)), ["from stdin\nsecond line"]);

    let history = json_lines(&ok(&alice, &["history", "bob", "--json"]));
    assert_eq!(texts(&history), ["hello bob", "from stdin\nsecond line"]);
    assert_eq!(history[0]["from"], "alice");
    // Bob's receive sent a delivery receipt, which Alice's receive applied.
    assert_eq!(history[0]["state"], "delivered");
    assert_eq!(history[1]["from"], "bob");
    assert_eq!(history[1]["state"], "unread");
    let contacts = json_lines(&ok(&alice, &["contacts", "--json"]));
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0]["username"], "bob");
    assert_eq!(contacts[0]["verified"], false);
    let show: Value = serde_json::from_str(&ok(&alice, &["account", "show", "--json"])).unwrap();
    assert_eq!(
        (show["username"].as_str(), show["device"].as_u64()),
        (Some("alice"), Some(1))
    );
    assert!(ok(&alice, &["history", "bob"]).contains("bob: from stdin"));
}

#[test]
fn an_offline_recipient_gets_messages_later_in_order_and_once() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let (alice, bob) = (tmp.path().join("alice"), tmp.path().join("bob"));
    register(&relay, &alice, "alice");
    register(&relay, &bob, "bob");
    for n in 1..=5 {
        ok(&alice, &["send", "bob", &format!("message {n}")]);
    }
    let got = receive(&bob);
    let expected: Vec<String> = (1..=5).map(|n| format!("message {n}")).collect();
    assert_eq!(texts(&got), expected);
    assert!(receive(&bob).is_empty(), "nothing is shown twice");
}

/// Takes bob's first queued envelope from the relay without acking it, and lets bob's SDK
/// store it: a crash between the commit and the ack.
async fn store_without_ack(relay: &Relay, profile: &Path) {
    use futures_util::StreamExt as _;
    use sotto_cli::relay_client::{Credentials, RelayClient};
    use sotto_proto::api::ServerFrame;
    use tokio_tungstenite::tungstenite::Message;
    let unlock = sotto_client::Unlock::KeyFile(profile.join(sotto_client::KEY_FILE));
    let client = sotto_client::Profile::open(profile, &unlock).await.unwrap();
    let client = client.client().await.unwrap();
    let account = client.account();
    let creds = Credentials::new(
        account.account_id.clone(),
        account.device_id,
        *account.auth_secret,
    );
    let mut socket = RelayClient::new(&relay.url).connect(&creds).await.unwrap();
    let envelope = loop {
        if let Message::Text(text) = socket.next().await.unwrap().unwrap()
            && let ServerFrame::Envelope(envelope) = serde_json::from_str(&text).unwrap()
        {
            break envelope;
        }
    };
    drop(socket);
    assert!(client.process_envelope(&envelope).await.unwrap().stored);
    client.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redelivered_envelope_is_shown_once() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let (alice, bob) = (tmp.path().join("alice"), tmp.path().join("bob"));
    register(&relay, &alice, "alice");
    register(&relay, &bob, "bob");
    ok(&alice, &["send", "bob", "only once"]);
    store_without_ack(&relay, &bob).await;
    let bob2 = bob.clone();
    let again = tokio::task::spawn_blocking(move || receive(&bob2))
        .await
        .unwrap();
    assert!(
        again.is_empty(),
        "the redelivery was shown again: {again:?}"
    );
    let history = json_lines(&ok(&bob, &["history", "alice", "--json"]));
    assert_eq!(texts(&history), ["only once"]);
}

/// Deletes an account from a stopped relay's database, as an operator would.
fn remove_account(relay_dir: &Path, username: &str) {
    let db = relay_dir.join("sotto.db");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        let done = sqlx::query("DELETE FROM accounts WHERE username = ?")
            .bind(username)
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(done.rows_affected(), 1);
        pool.close().await;
    });
}

#[test]
fn a_changed_identity_is_reported_and_blocks_a_verified_contact_until_accepted() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let (alice, bob) = (tmp.path().join("alice"), tmp.path().join("bob"));
    register(&relay, &alice, "alice");
    register(&relay, &bob, "bob");
    ok(&alice, &["send", "bob", "hi"]);
    receive(&bob);
    ok(&alice, &["verify", "bob", "--mark-verified"]);

    // Bob loses his phone; the operator frees the name and bob registers from a new profile.
    let dir = relay.data_dir.clone();
    let mut relay = relay;
    relay.child.kill().unwrap();
    relay.child.wait().unwrap();
    remove_account(&dir, "bob");
    let relay = relay.restart();
    let new_bob = tmp.path().join("bob2");
    register(&relay, &new_bob, "bob");
    ok(&new_bob, &["send", "alice", "new phone"]);

    let lines = json_lines(&ok(&alice, &["receive", "--json", "--timeout", "30"]));
    let changed: Vec<&Value> = lines
        .iter()
        .filter(|l| l["type"] == "identity_changed")
        .collect();
    assert_eq!(changed.len(), 1, "{lines:?}");
    assert_eq!(changed[0]["username"], "bob");
    assert_eq!(changed[0]["was_verified"], true);

    let refused = sotto(&alice, &["send", "bob", "are you really bob?"]);
    assert_eq!(refused.status.code(), Some(5));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("--accept"), "{stderr}");
    ok(&alice, &["verify", "bob", "--accept"]);
    ok(&alice, &["send", "bob", "welcome back"]);
    assert_eq!(texts(&receive(&new_bob)), ["welcome back"]);
}

#[test]
fn safety_numbers_are_equal_on_both_sides() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let (alice, bob) = (tmp.path().join("alice"), tmp.path().join("bob"));
    register(&relay, &alice, "alice");
    register(&relay, &bob, "bob");
    ok(&alice, &["send", "bob", "hi"]);
    receive(&bob);
    let number = |p: &Path, peer: &str| -> Value {
        serde_json::from_str(&ok(p, &["verify", peer, "--json"])).unwrap()
    };
    let (a, b) = (number(&alice, "bob"), number(&bob, "alice"));
    let digits = a["safety_number"].as_str().unwrap();
    assert_eq!(digits.len(), 60);
    assert!(digits.bytes().all(|c| c.is_ascii_digit()));
    assert_eq!(a["safety_number"], b["safety_number"]);
    assert_eq!(a["verified"], false);

    let shown = ok(&alice, &["verify", "bob", "--qr", "--mark-verified"]);
    assert!(
        shown.contains(&digits[..5]) && shown.contains('▀'),
        "{shown}"
    );
    assert_eq!(number(&alice, "bob")["verified"], true);
    assert_eq!(sotto(&alice, &["verify", "carol"]).status.code(), Some(1));
}

#[test]
fn follow_prints_messages_as_they_arrive() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let (alice, bob) = (tmp.path().join("alice"), tmp.path().join("bob"));
    register(&relay, &alice, "alice");
    register(&relay, &bob, "bob");
    let mut follower = Command::new(SOTTO)
        .arg("--profile")
        .arg(&bob)
        .args(["receive", "--follow", "--json", "--timeout", "60"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follower.stdout.take().unwrap()).lines();
    for n in 0..3 {
        let text = format!("live {n}");
        ok(&alice, &["send", "bob", &text]);
        let line: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
        assert_eq!(line["text"].as_str(), Some(text.as_str()));
    }
    follower.kill().unwrap();
    follower.wait().unwrap();
}

/// A `receive --follow --json` of `profile`, killed on drop.
struct Follower {
    child: std::process::Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Follower {
    fn start(profile: &Path) -> Self {
        let mut child = Command::new(SOTTO)
            .arg("--profile")
            .arg(profile)
            .args(["receive", "--follow", "--json", "--timeout", "120"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Self { child, lines }
    }

    /// The text of the next message printed (other events are skipped).
    fn next_text(&mut self) -> String {
        loop {
            let line = self.lines.next().expect("follower ended").unwrap();
            let line: Value = serde_json::from_str(&line).unwrap();
            if line["type"] == "message" {
                return line["text"].as_str().unwrap().to_owned();
            }
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn history_texts(profile: &Path, peer: &str) -> Vec<String> {
    json_lines(&ok(profile, &["history", peer, "--json"]))
        .iter()
        .map(|l| l["text"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn relay_and_client_restarts_mid_conversation_lose_and_duplicate_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let (alice, bob) = (tmp.path().join("alice"), tmp.path().join("bob"));
    register(&relay, &alice, "alice");
    register(&relay, &bob, "bob");

    let mut follower = Follower::start(&bob);
    ok(&alice, &["send", "bob", "one"]);
    assert_eq!(follower.next_text(), "one");
    // The relay is killed (no clean shutdown) and comes back on the same port and data dir:
    // the follower reconnects by itself.
    let relay = relay.restart();
    ok(&alice, &["send", "bob", "two"]);
    assert_eq!(follower.next_text(), "two");
    // Bob's client is killed, possibly before its last ack; alice writes while he is away and
    // the relay is killed again with that message queued.
    drop(follower);
    ok(&alice, &["send", "bob", "three"]);
    let relay = relay.restart();
    assert_eq!(texts(&receive(&bob)), ["three"]);
    ok(&bob, &["send", "alice", "four"]);
    assert_eq!(texts(&receive(&alice)), ["four"]);
    assert!(receive(&bob).is_empty());
    drop(relay);

    let all = ["one", "two", "three", "four"];
    assert_eq!(history_texts(&bob, "alice"), all);
    assert_eq!(history_texts(&alice, "bob"), all);
}

#[test]
fn exit_codes_say_what_went_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let alice = tmp.path().join("alice");
    assert_eq!(sotto(&alice, &["send"]).status.code(), Some(2));
    assert_eq!(
        sotto(&alice, &["receive", "--bogus"]).status.code(),
        Some(2)
    );
    let missing = sotto(&alice, &["receive"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("account register"));

    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let down = sotto(&alice, &["account", "register", "--server", &url, "alice"]);
    assert_eq!(
        down.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );

    // A passphrase profile opened with the wrong passphrase.
    let carol = tmp.path().join("carol");
    let with_pass = |pass: &str, args: &[&str]| {
        Command::new(SOTTO)
            .arg("--profile")
            .arg(&carol)
            .args(args)
            .env("SOTTO_PASSPHRASE", pass)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let url = relay.url.as_str();
    assert!(
        with_pass(
            "right horse",
            &["account", "register", "--server", url, "carol"]
        )
        .status
        .success()
    );
    assert!(!carol.join("profile.key").exists());
    assert!(
        with_pass("right horse", &["account", "show"])
            .status
            .success()
    );
    let wrong = with_pass("wrong horse", &["account", "show"]);
    assert_eq!(wrong.status.code(), Some(6));
    assert!(
        !String::from_utf8_lossy(&wrong.stderr).contains("horse"),
        "no secret printed"
    );
    assert_eq!(sotto(&carol, &["account", "show"]).status.code(), Some(6));
    register(&relay, &alice, "alice");
    let empty = sotto(&alice, &["send", "carol"]);
    assert_eq!(
        empty.status.code(),
        Some(2),
        "empty stdin is nothing to send"
    );
    assert_eq!(
        sotto(&alice, &["send", "Not Valid!", "x"]).status.code(),
        Some(2)
    );
}

#[test]
fn demo_runs() {
    let out = Command::new(SOTTO).arg("demo").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Hi Bob! Lunch at noon?"), "{stdout}");
    assert_eq!(stdout.matches(" bytes: ").count(), 4, "{stdout}");
    assert!(stdout.contains("identical on both sides: true"), "{stdout}");
}

#[test]
fn every_command_has_help_and_completions_work() {
    let commands: &[&[&str]] = &[
        &[],
        &["account"],
        &["account", "register"],
        &["account", "show"],
        &["devices"],
        &["devices", "link"],
        &["devices", "add"],
        &["devices", "list"],
        &["devices", "remove"],
        &["send"],
        &["react"],
        &["edit"],
        &["delete"],
        &["timer"],
        &["typing"],
        &["read"],
        &["receive"],
        &["contacts"],
        &["history"],
        &["verify"],
        &["demo"],
        &["completions"],
        &["daemon"],
        &["bench", "chat"],
        &["serve"],
        &["admin"],
        &["bench"],
    ];
    for command in commands {
        let out = Command::new(SOTTO)
            .args(*command)
            .arg("--help")
            .output()
            .unwrap();
        assert!(out.status.success(), "{command:?} --help");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage: sotto"),
            "{command:?}"
        );
    }
    let out = Command::new(SOTTO)
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("receive"));
}
