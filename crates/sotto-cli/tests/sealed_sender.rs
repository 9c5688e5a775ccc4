//! Sealed sender end to end, with the real `sotto` binary and relay: a 1:1 conversation and a
//! group conversation go out sealed once the access keys have travelled, and then the relay's
//! whole data directory and its log are searched for what they must not hold.
//!
//! | test | checks |
//! |---|---|
//! | `sealed_conversations_leave_no_sender_on_the_relay` | the first message goes identified and says why (`no_access_key`); replies and later messages (1:1 and group) go sealed (`"sealed": true`); their mailbox rows and shared payloads hold no sender account, device or username; no plaintext in any file of the data directory; no client address in any file or in the log; the messages arrive from the right senders; the disclosure report names no contact |
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::Value;
use sqlx::{Connection as _, Row as _};

fn send_json(profile: &Path, args: &[&str]) -> Value {
    let mut all = vec!["send", "--json"];
    all.extend_from_slice(args);
    json_lines(&ok(profile, &all)).pop().unwrap()
}

fn receive_all(profile: &Path) -> Vec<Value> {
    json_lines(&ok(profile, &["receive", "--json", "--timeout", "30"]))
}

fn account_id(profile: &Path) -> String {
    let info = json_lines(&ok(profile, &["account", "show", "--json"]));
    info[0]["account_id"].as_str().unwrap().to_owned()
}

/// `(sender_account, sender_device, bytes)` of the mailbox rows of one message; `bytes` is
/// the row's own content followed by its shared payload, if it has one.
async fn mailbox_rows(db: &Path, message_id: &str) -> Vec<(Option<String>, Option<i64>, Vec<u8>)> {
    let url = format!("sqlite://{}?mode=ro", db.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query(
        "SELECT m.sender_account, m.sender_device, m.content, p.content \
         FROM mailbox m LEFT JOIN shared_payloads p ON p.id = m.payload_id WHERE m.message_id = ?",
    )
    .bind(message_id)
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .map(|row| {
        let mut bytes: Vec<u8> = row.get(2);
        bytes.extend(row.get::<Option<Vec<u8>>, _>(3).unwrap_or_default());
        (row.get(0), row.get(1), bytes)
    })
    .collect()
}

/// The text's sender among `receive --json` lines.
fn from(lines: &[Value], text: &str) -> Option<Value> {
    lines
        .iter()
        .find(|l| l["text"] == text)
        .map(|l| l["from"].clone())
}

/// The relay holds `message_id` for `devices` devices, and no row of it names the sender.
async fn assert_no_sender(db: &Path, message_id: &Value, devices: usize, sender_id: &str) {
    let rows = mailbox_rows(db, message_id.as_str().unwrap()).await;
    assert_eq!(rows.len(), devices, "one row per recipient device");
    for (sender_account, sender_device, bytes) in rows {
        assert_eq!((sender_account, sender_device), (None, None));
        for leak in [sender_id, "alice"] {
            assert!(!contains(&bytes, leak), "the envelope names {leak}");
        }
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Every file under `dir`, read whole.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_conversations_leave_no_sender_on_the_relay() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("relay");
    let log = tmp.path().join("relay.log");
    let relay = Relay::start_logged(&data, &log);
    let url = relay.url.clone();
    let [alice, bob, carol] = ["alice", "bob", "carol"].map(|n| tmp.path().join(n));
    for (profile, name) in [(&alice, "alice"), (&bob, "bob"), (&carol, "carol")] {
        ok(profile, &["account", "register", "--server", &url, name]);
    }
    let alice_id = account_id(&alice);

    // Alice does not know bob's access key yet: identified, and she is told why.
    let first = send_json(&alice, &["bob", "first"]);
    assert_eq!(first["sealed"], false, "{first}");
    assert_eq!(first["sent_identified"][0]["reason"], "no_access_key");
    let got = receive_all(&bob);
    assert!(
        got.iter()
            .any(|l| l["text"] == "first" && l["from"] == "alice")
    );
    // Bob learned alice's key from her message, and alice learns his from the reply.
    assert_eq!(send_json(&bob, &["alice", "reply"])["sealed"], true);
    receive_all(&alice);
    let secret = send_json(&alice, &["bob", "the sealed secret"]);
    assert_eq!(secret["sealed"], true, "{secret}");
    let db = data.join("sotto.db");
    assert_no_sender(&db, &secret["id"], 1, &alice_id).await;
    let at_bob = receive_all(&bob);
    assert_eq!(from(&at_bob, "the sealed secret"), Some("alice".into()));

    // A group whose members all share keys over the pairwise sessions.
    ok(
        &alice,
        &["group", "create", "trio", "--members", "bob,carol"],
    );
    receive_all(&bob);
    receive_all(&carol);
    send_json(&carol, &["--group", "trio", "carol here"]);
    send_json(&bob, &["--group", "trio", "bob here"]);
    for profile in [&alice, &bob, &carol] {
        receive_all(profile);
    }
    let group_secret = send_json(&alice, &["--group", "trio", "sealed group secret"]);
    assert_eq!(group_secret["sealed"], true, "{group_secret}");

    assert_no_sender(&db, &group_secret["id"], 2, &alice_id).await;
    for (path, bytes) in files(&data) {
        for plaintext in ["the sealed secret", "sealed group secret", "carol here"] {
            assert!(!contains(&bytes, plaintext), "{path} holds {plaintext:?}");
        }
        assert!(!contains(&bytes, "127.0.0.1"), "{path} holds an IP address");
    }

    // It arrives, from the right sender.
    for profile in [&bob, &carol] {
        let got = receive_all(profile);
        assert_eq!(from(&got, "sealed group secret"), Some("alice".into()));
    }

    // The log names no client address: the only one in it may be the relay's own.
    drop(relay); // Stopped, so its log is complete.
    let logged = std::fs::read_to_string(&log).unwrap();
    let own = url.trim_start_matches("http://");
    assert_eq!(
        logged.matches("127.0.0.1").count(),
        logged.matches(own).count(),
        "the log holds a client address:\n{logged}"
    );

    // The disclosure report holds no contact.
    let report = Command::new(SOTTO)
        .args(["admin", "--data-dir"])
        .arg(&data)
        .args(["disclose", "alice"])
        .output()
        .unwrap();
    assert!(report.status.success());
    let report = String::from_utf8(report.stdout).unwrap();
    let words = words_of(&serde_json::from_str(&report).unwrap());
    for contact in ["bob", "carol", &account_id(&bob), &account_id(&carol)] {
        assert!(
            !words.contains(contact),
            "the report names {contact}:\n{report}"
        );
    }
}

/// Every key and every word of every string in a JSON value, split where a username or an
/// account id could not continue. Base64 in the report (the identity key) can hold "bob" by
/// chance, but not as a word of its own short of "+bob/"-like luck.
fn words_of(value: &Value) -> std::collections::HashSet<String> {
    let split = |text: &str| -> Vec<String> {
        text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .map(str::to_owned)
            .collect()
    };
    match value {
        Value::String(text) => split(text).into_iter().collect(),
        Value::Array(items) => items.iter().flat_map(words_of).collect(),
        Value::Object(fields) => fields
            .iter()
            .flat_map(|(key, value)| split(key).into_iter().chain(words_of(value)))
            .collect(),
        _ => Default::default(),
    }
}
