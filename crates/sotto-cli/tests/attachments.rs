//! End to end with the real `sotto` binary: `send --attach`, `receive --json --save-dir`,
//! `history`, `receive --no-download` then `attachments get`, the size limit's exit code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::Value;

/// Content that does not repeat in any obvious way.
fn content(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[1] ^ seed)
        .collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

fn saved_bytes(file: &Value) -> Vec<u8> {
    std::fs::read(file["saved_as"].as_str().expect("saved_as")).unwrap()
}

#[test]
fn files_sent_with_attach_arrive_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let (alice, bob) = (tmp.path().join("alice"), tmp.path().join("bob"));
    register(&relay, &alice, "alice");
    register(&relay, &bob, "bob");
    let outbox = tmp.path().join("outbox");
    let photo = content(3 << 20, 1);
    let notes = content(1000, 2);
    let photo_path = write(&outbox, "photo.jpg", &photo);
    let notes_path = write(&outbox, "notes.txt", &notes);
    let empty_path = write(&outbox, "empty.bin", b"");

    let sent = json_lines(&ok(
        &alice,
        &[
            "send",
            "bob",
            "--attach",
            &photo_path,
            "--attach",
            &notes_path,
            "--attach",
            &empty_path,
            "--json",
            "the files",
        ],
    ));
    let id = sent[0]["id"].as_str().unwrap().to_owned();

    let save_dir = tmp.path().join("saved");
    let save = save_dir.display().to_string();
    let out = ok(
        &bob,
        &["receive", "--json", "--timeout", "30", "--save-dir", &save],
    );
    let messages: Vec<Value> = json_lines(&out)
        .into_iter()
        .filter(|l| l["type"] == "message")
        .collect();
    assert_eq!(messages.len(), 1, "{out}");
    let message = &messages[0];
    assert_eq!(
        (message["id"].as_str(), message["text"].as_str()),
        (Some(id.as_str()), Some("the files"))
    );
    let files = message["attachments"].as_array().unwrap();
    let summary: Vec<_> = files
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap(),
                f["size"].as_u64().unwrap(),
                f["content_type"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("photo.jpg", 3 << 20, Some("image/jpeg")),
            ("notes.txt", 1000, Some("text/plain")),
            ("empty.bin", 0, None),
        ]
    );
    assert_eq!(saved_bytes(&files[0]), photo);
    assert_eq!(saved_bytes(&files[1]), notes);
    assert_eq!(saved_bytes(&files[2]), b"");
    assert!(files[0]["saved_as"].as_str().unwrap().starts_with(&save));

    // The history shows the files and where they went, on both sides.
    let history = json_lines(&ok(&bob, &["history", "alice", "--json"]));
    assert_eq!(history[0]["attachments"], message["attachments"]);
    let text = ok(&bob, &["history", "alice"]);
    assert!(text.contains("📎 photo.jpg (3.0 MiB) -> "), "{text}");
    let theirs = json_lines(&ok(&alice, &["history", "bob", "--json"]));
    assert_eq!(theirs[0]["attachments"][1]["name"], "notes.txt");

    // Without downloading at once, then fetched on demand into the profile's directory.
    ok(&alice, &["send", "bob", "--attach", &notes_path]);
    let later = json_lines(&ok(
        &bob,
        &["receive", "--json", "--timeout", "30", "--no-download"],
    ));
    let later = later.iter().find(|l| l["type"] == "message").unwrap();
    assert_eq!(later["text"], "");
    assert!(later["attachments"][0].get("saved_as").is_none());
    let later_id = later["id"].as_str().unwrap();
    let got = json_lines(&ok(
        &bob,
        &["attachments", "get", "alice", later_id, "--json"],
    ));
    assert!(
        got[0]["saved_as"]
            .as_str()
            .unwrap()
            .starts_with(&bob.join("attachments").display().to_string())
    );
    assert_eq!(saved_bytes(&got[0]), notes);
}

#[test]
fn files_over_the_limit_are_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let alice = tmp.path().join("alice");
    register(&relay, &alice, "alice");
    register(&relay, &tmp.path().join("bob"), "bob");
    let big = write(&tmp.path().join("outbox"), "big.bin", &content(2000, 3));
    let out = Command::new(SOTTO)
        .arg("--profile")
        .arg(&alice)
        .args(["send", "bob", "--attach", &big])
        .env("SOTTO_ATTACHMENT_LIMIT", "1000")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("limited to 1000 bytes"), "{stderr}");
    let missing = sotto(&alice, &["send", "bob", "--attach", "/no/such/file"]);
    assert_eq!(missing.status.code(), Some(1));
    for help in [
        &["attachments", "--help"][..],
        &["attachments", "get", "--help"],
    ] {
        assert!(sotto(&alice, help).status.success());
    }
}

#[test]
fn the_daemon_sends_files_notifies_them_and_saves_them() {
    use std::io::{BufRead as _, BufReader, Write as _};
    use std::os::unix::net::UnixStream;

    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let (alice, bot) = (tmp.path().join("alice"), tmp.path().join("bot"));
    register(&relay, &alice, "alice");
    register(&relay, &bot, "bot");
    let socket = tmp.path().join("bot.sock");
    let mut daemon = Command::new(SOTTO)
        .arg("--profile")
        .arg(&bot)
        .args(["daemon", "--socket"])
        .arg(&socket)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut announced = BufReader::new(daemon.stdout.take().unwrap()).lines();
    assert!(
        announced
            .next()
            .unwrap()
            .unwrap()
            .starts_with("listening on")
    );
    let mut stream = UnixStream::connect(&socket).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut lines = BufReader::new(stream.try_clone().unwrap()).lines();
    let mut call = |id: u64, method: &str, params: Value| -> Vec<Value> {
        let request =
            serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        writeln!(stream, "{request}").unwrap();
        let mut seen = Vec::new();
        loop {
            let line: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
            let done = line["id"] == id;
            seen.push(line);
            if done {
                return seen;
            }
        }
    };
    call(1, "subscribe", serde_json::json!({}));

    let report = content(200_000, 4);
    let path = write(&tmp.path().join("outbox"), "report.pdf", &report);
    let sent = call(
        2,
        "send",
        serde_json::json!({"username": "alice", "attachments": [path]}),
    );
    assert!(sent.last().unwrap()["result"]["id"].is_string(), "{sent:?}");
    let got = json_lines(&ok(
        &alice,
        &[
            "receive",
            "--json",
            "--timeout",
            "30",
            "--save-dir",
            &tmp.path().join("a").display().to_string(),
        ],
    ));
    let message = got.iter().find(|l| l["type"] == "message").unwrap();
    assert_eq!(saved_bytes(&message["attachments"][0]), report);

    ok(&alice, &["send", "bot", "--attach", &path, "for you"]);
    let mut notification = None;
    for n in 3.. {
        // Poll with a cheap call until the event arrives.
        let seen = call(n, "conversations", serde_json::json!({}));
        notification = seen
            .into_iter()
            .find(|l| l["method"] == "event" && l["params"]["type"] == "message");
        if notification.is_some() || n > 300 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let event = notification.expect("a message notification")["params"].clone();
    assert_eq!(event["attachments"][0]["name"], "report.pdf");
    assert_eq!(event["attachments"][0]["size"], 200_000);
    let dir = tmp.path().join("bot-files");
    let saved = call(
        1000,
        "get_attachments",
        serde_json::json!({"username": "alice", "id": event["id"], "save_dir": dir}),
    );
    let result = &saved.last().unwrap()["result"];
    assert_eq!(saved_bytes(&result[0]), report, "{result}");
    daemon.kill().unwrap();
    daemon.wait().unwrap();
}
