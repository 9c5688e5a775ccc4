//! Linked devices with the real `sotto` binary: `devices link` / `devices add`, chatting from
//! three devices of one account, `devices list` and `devices remove`, the device limit, and
//! what the relay holds of the provisioning (ciphertext only).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::*;
use serde_json::Value;

/// A relay that logs at debug level into a file, so the test can read what it wrote.
fn logged_relay(dir: &Path) -> (Relay, PathBuf) {
    let data_dir = dir.join("relay");
    std::fs::create_dir_all(&data_dir).unwrap();
    let log = dir.join("relay.log");
    let mut child = Command::new(SOTTO)
        .args([
            "serve",
            "--no-rate-limits",
            "--log",
            "debug",
            "--listen",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(&data_dir)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("relay exited early").unwrap();
        if let Some(url) = line.strip_prefix("listening on ") {
            break url.trim().to_owned();
        }
    };
    (
        Relay {
            url,
            data_dir,
            child,
        },
        log,
    )
}

/// Starts `devices link --json` on `new` and returns the process and its linking code.
fn start_link(relay: &Relay, new: &Path) -> (Child, BufReader<std::process::ChildStdout>, String) {
    let mut child = Command::new(SOTTO)
        .arg("--profile")
        .arg(new)
        .args(["devices", "link", "--json", "--server", &relay.url])
        .env_remove("SOTTO_PASSPHRASE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let first: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("{line:?}"));
    assert_eq!(first["type"], "link_code");
    let code = first["code"].as_str().unwrap().to_owned();
    assert!(code.starts_with("sotto-link:"), "{code}");
    (child, out, code)
}

/// Links `new` as a device of the account of `approver`; returns its device id.
fn link(relay: &Relay, approver: &Path, new: &Path) -> u64 {
    let (child, mut out, code) = start_link(relay, new);
    ok(approver, &["devices", "add", code.as_str()]);
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let done = child.wait_with_output().unwrap();
    assert!(
        done.status.success(),
        "link failed: {}",
        String::from_utf8_lossy(&done.stderr)
    );
    let linked: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(linked["type"], "linked");
    linked["device"].as_u64().unwrap()
}

fn history_texts(profile: &Path, peer: &str) -> Vec<String> {
    let mut texts: Vec<String> = json_lines(&ok(profile, &["history", peer, "--json"]))
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect();
    texts.sort();
    texts
}

fn send_json(profile: &Path, to: &str, text: &str) -> Value {
    let out = ok(profile, &["send", "--json", to, text]);
    serde_json::from_str(out.trim()).unwrap()
}

/// The identity's private key of a profile, read through the SDK (the profile is sealed).
fn identity_secret(profile: &Path) -> Vec<u8> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let unlock = sotto_client::Unlock::KeyFile(profile.join(sotto_client::KEY_FILE));
        let client = sotto_client::Profile::open(profile, &unlock)
            .await
            .unwrap()
            .client()
            .await
            .unwrap();
        let secret = client.account().identity.to_secret_bytes().to_vec();
        client.close().await;
        secret
    })
}

/// Every file under `dir`, read whole.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    out
}

#[test]
fn three_linked_devices_chat_in_sync_and_a_removed_one_is_locked_out() {
    let tmp = tempfile::tempdir().unwrap();
    let (relay, log) = logged_relay(tmp.path());
    let [a1, a2, a3, bob] = ["a1", "a2", "a3", "bob"].map(|n| tmp.path().join(n));
    register(&relay, &a1, "alice");
    register(&relay, &bob, "bob");
    send_json(&bob, "alice", "before linking");
    assert_eq!(texts(&receive(&a1)), ["before linking"]);

    assert_eq!(link(&relay, &a1, &a2), 2);
    // Any device of the account can approve the next one.
    assert_eq!(link(&relay, &a2, &a3), 3);
    let show: Value = serde_json::from_str(&ok(&a3, &["account", "show", "--json"])).unwrap();
    assert_eq!(show["username"], "alice");
    assert_eq!(show["device"], 3);

    // Bob's next send reaches all three and tells him alice's devices changed.
    let sent = send_json(&bob, "alice", "hi all");
    assert_eq!(sent["devices_changed"][0]["username"], "alice");
    assert_eq!(
        sent["devices_changed"][0]["added"],
        serde_json::json!([2, 3])
    );
    for (device, text) in [(&a1, "from 1"), (&a2, "from 2"), (&a3, "from 3")] {
        send_json(device, "bob", text);
    }
    assert_eq!(texts(&receive(&bob)).len(), 3);
    for device in [&a1, &a2, &a3] {
        receive(device);
    }
    let expected = ["from 1", "from 2", "from 3", "hi all"];
    for device in [&a2, &a3] {
        assert_eq!(
            history_texts(device, "bob"),
            expected,
            "{}",
            device.display()
        );
    }
    let mut with_before = vec!["before linking"];
    with_before.extend(expected);
    with_before.sort();
    assert_eq!(history_texts(&a1, "bob"), with_before);

    let listed = json_lines(&ok(&a1, &["devices", "list", "--json"]));
    let ids: Vec<u64> = listed.iter().map(|d| d["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [1, 2, 3]);
    assert_eq!(listed[0]["this_device"], true);
    assert_eq!(listed[1]["this_device"], false);
    assert_eq!(listed[2]["last_seen"].as_str().unwrap().len(), 10);

    // A device cannot remove itself; another can remove it.
    let own = sotto(&a3, &["devices", "remove", "3"]);
    assert_eq!(
        own.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&own.stderr)
    );
    assert!(ok(&a1, &["devices", "remove", "3"]).contains("removed device 3"));
    let locked = sotto(&a3, &["receive", "--json", "--timeout", "10"]);
    assert!(!locked.status.success());
    let error = String::from_utf8_lossy(&locked.stderr);
    assert!(
        error.contains("401") || error.contains("unauthorized"),
        "{error}"
    );
    // Bob's next send goes to devices 1 and 2 only, and says so.
    let after = send_json(&bob, "alice", "after removal");
    assert_eq!(
        after["devices_changed"][0]["removed"],
        serde_json::json!([3])
    );
    for device in [&a1, &a2] {
        assert_eq!(texts(&receive(device)), ["after removal"]);
    }

    // The relay stored and logged only ciphertext of the identity it carried.
    let secret = identity_secret(&a1);
    assert_eq!(identity_secret(&a2), secret);
    let mut stored = files_under(&relay.data_dir);
    stored.push((log.clone(), std::fs::read(&log).unwrap()));
    for (path, bytes) in &stored {
        for half in secret.chunks(32) {
            assert!(
                !bytes.windows(32).any(|w| w == half),
                "{} holds identity key bytes",
                path.display()
            );
        }
    }
}

#[test]
fn a_seventh_device_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let first = tmp.path().join("d1");
    register(&relay, &first, "carol");
    for n in 2..=6u64 {
        assert_eq!(link(&relay, &first, &tmp.path().join(format!("d{n}"))), n);
    }
    let (child, _out, code) = start_link(&relay, &tmp.path().join("d7"));
    ok(&first, &["devices", "add", code.as_str()]);
    let refused = child.wait_with_output().unwrap();
    assert!(!refused.status.success());
    let error = String::from_utf8_lossy(&refused.stderr);
    assert!(error.contains("too_many_devices"), "{error}");
    let listed = json_lines(&ok(&first, &["devices", "list", "--json"]));
    assert_eq!(listed.len(), 6);
}

#[test]
fn a_bad_linking_code_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let alice = tmp.path().join("alice");
    register(&relay, &alice, "alice");
    let out = sotto(&alice, &["devices", "add", "sotto-link:abc:not-a-key"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a linking code"));
    let unknown_channel = "sotto-link:nosuchchannel:BQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJ";
    let out = sotto(&alice, &["devices", "add", unknown_channel]);
    assert!(!out.status.success());
}
