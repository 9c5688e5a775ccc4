//! End-to-end tests of the message features with the real `sotto` binary and relay: replies,
//! reactions, edits, delete-for-everyone, receipts, typing indicators and disappearing
//! messages, each checked on both sides (events from `receive --json`, state in `history`).
//!
//! | test | checks |
//! |---|---|
//! | `replies_reactions_edits_and_deletes_reach_both_sides` | `send --reply-to`, `react` (+ `--remove`), `edit`, `delete`; nobody edits another's message |
//! | `receipts_and_typing_indicators` | automatic delivery receipts, `read`, `typing` to an online device, a typing indicator to an offline one dropped |
//! | `disappearing_messages_vanish_from_both_stores` | `timer` agreed by both sides, the message gone from both histories and both database files, `timer off` |
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;

/// Every line `receive --json` prints.
fn receive_all(profile: &Path) -> Vec<Value> {
    json_lines(&ok(profile, &["receive", "--json", "--timeout", "30"]))
}

fn of_type<'a>(lines: &'a [Value], kind: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["type"] == kind).collect()
}

fn history(profile: &Path, peer: &str) -> Vec<Value> {
    json_lines(&ok(profile, &["history", peer, "--json"]))
}

fn find<'a>(history: &'a [Value], id: &str) -> &'a Value {
    history
        .iter()
        .find(|m| m["id"] == id)
        .unwrap_or_else(|| panic!("no message {id} in {history:?}"))
}

#[test]
fn replies_reactions_edits_and_deletes_reach_both_sides() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let (alice, bob) = (tmp.path().join("alice"), tmp.path().join("bob"));
    register(&relay, &alice, "alice");
    register(&relay, &bob, "bob");

    let first = ok(&alice, &["send", "bob", "first"]).trim().to_owned();
    receive_all(&bob);
    let answer = ok(&bob, &["send", "alice", "answer", "--reply-to", &first]);
    let answer = answer.trim();
    let got = receive_all(&alice);
    let message = of_type(&got, "message")[0];
    assert_eq!(message["quote"]["id"], first.as_str());
    assert_eq!(message["quote"]["text"], "first");

    ok(&alice, &["react", "bob", answer, "👍"]);
    let got = receive_all(&bob);
    let reaction = of_type(&got, "reaction")[0];
    assert_eq!(
        (reaction["from"].as_str(), reaction["emoji"].as_str()),
        (Some("alice"), Some("👍"))
    );
    assert_eq!(reaction["target"], answer);
    let bob_history = history(&bob, "alice");
    assert_eq!(find(&bob_history, answer)["reactions"][0]["from"], "alice");
    ok(&alice, &["react", "bob", answer, "--remove"]);
    let got = receive_all(&bob);
    assert!(of_type(&got, "reaction")[0]["emoji"].is_null());
    assert!(
        find(&history(&bob, "alice"), answer)
            .get("reactions")
            .is_none()
    );

    ok(&alice, &["edit", "bob", &first, "first (fixed)"]);
    let got = receive_all(&bob);
    assert_eq!(of_type(&got, "edit")[0]["text"], "first (fixed)");
    for (profile, peer) in [(&alice, "bob"), (&bob, "alice")] {
        let edited = history(profile, peer);
        let edited = find(&edited, &first);
        assert_eq!(edited["text"], "first (fixed)");
        assert!(edited["edited_at"].is_string());
    }
    // Bob cannot edit or delete Alice's message.
    let refused = sotto(&bob, &["edit", "alice", &first, "forged"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no message"));

    ok(&alice, &["delete", "bob", &first]);
    let got = receive_all(&bob);
    assert_eq!(of_type(&got, "delete")[0]["id"], first.as_str());
    for (profile, peer) in [(&alice, "bob"), (&bob, "alice")] {
        let gone = history(profile, peer);
        let gone = find(&gone, &first);
        assert_eq!(
            (gone["deleted"].as_bool(), gone["text"].as_str()),
            (Some(true), Some(""))
        );
    }
    let again = sotto(&alice, &["edit", "bob", &first, "back"]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "a deleted message stays deleted"
    );
}

#[test]
fn receipts_and_typing_indicators() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let (alice, bob) = (tmp.path().join("alice"), tmp.path().join("bob"));
    register(&relay, &alice, "alice");
    register(&relay, &bob, "bob");

    let id = ok(&alice, &["send", "bob", "did you get this?"])
        .trim()
        .to_owned();
    receive_all(&bob);
    assert_eq!(find(&history(&bob, "alice"), &id)["state"], "unread");
    let got = receive_all(&alice);
    let delivery = of_type(&got, "delivery");
    assert_eq!(
        (delivery[0]["id"].as_str(), delivery[0]["state"].as_str()),
        (Some(id.as_str()), Some("delivered"))
    );
    assert_eq!(find(&history(&alice, "bob"), &id)["state"], "delivered");

    let read: Value = serde_json::from_str(&ok(&bob, &["read", "alice", "--json"])).unwrap();
    assert_eq!(read["read"][0], id.as_str());
    assert_eq!(find(&history(&bob, "alice"), &id)["state"], "read");
    let got = receive_all(&alice);
    assert_eq!(of_type(&got, "delivery")[0]["state"], "read");
    assert_eq!(find(&history(&alice, "bob"), &id)["state"], "read");

    // Typing reaches a device that is online…
    let mut follower = Command::new(SOTTO)
        .arg("--profile")
        .arg(&bob)
        .args(["receive", "--follow", "--json", "--timeout", "60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follower.stdout.take().unwrap()).lines();
    let mut next = || -> Value { serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap() };
    ok(&alice, &["send", "bob", "ping"]);
    assert_eq!(next()["text"], "ping", "the follower is connected");
    ok(&alice, &["typing", "bob"]);
    let typing = next();
    assert_eq!(
        (typing["type"].as_str(), typing["started"].as_bool()),
        (Some("typing"), Some(true))
    );
    ok(&alice, &["typing", "bob", "--stop"]);
    assert_eq!(next()["started"], false);
    follower.kill().unwrap();
    follower.wait().unwrap();

    // …and is dropped for one that is not online within seconds: it is never queued.
    ok(&alice, &["typing", "bob"]);
    std::thread::sleep(Duration::from_millis(5_500));
    ok(&alice, &["send", "bob", "after the pause"]);
    let got = receive_all(&bob);
    assert!(of_type(&got, "typing").is_empty(), "{got:?}");
    assert_eq!(
        texts(
            &of_type(&got, "message")
                .into_iter()
                .cloned()
                .collect::<Vec<_>>()
        ),
        ["after the pause"]
    );
}

#[test]
fn disappearing_messages_vanish_from_both_stores() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let (alice, bob) = (tmp.path().join("alice"), tmp.path().join("bob"));
    register(&relay, &alice, "alice");
    register(&relay, &bob, "bob");

    ok(&alice, &["timer", "bob", "3s"]);
    let got = receive_all(&bob);
    let timer = of_type(&got, "timer")[0];
    assert_eq!(
        (timer["by"].as_str(), timer["seconds"].as_u64()),
        (Some("alice"), Some(3))
    );
    let shown: Value = serde_json::from_str(&ok(&bob, &["timer", "alice", "--json"])).unwrap();
    assert_eq!(shown["seconds"], 3, "both sides agree on the timer");

    let id = ok(&alice, &["send", "bob", "this will self-destruct"])
        .trim()
        .to_owned();
    let got = receive_all(&bob);
    assert!(of_type(&got, "message")[0]["expires_at"].is_string());
    let bob_reply = ok(&bob, &["send", "alice", "so will this"])
        .trim()
        .to_owned();
    receive_all(&alice);
    assert!(find(&history(&bob, "alice"), &id)["expires_at"].is_string());

    std::thread::sleep(Duration::from_millis(3_500));
    for (profile, peer) in [(&alice, "bob"), (&bob, "alice")] {
        let left = history(profile, peer);
        assert!(
            left.iter()
                .all(|m| m["id"] != id.as_str() && m["id"] != bob_reply.as_str()),
            "{left:?}"
        );
        for file in std::fs::read_dir(profile).unwrap() {
            let bytes = std::fs::read(file.unwrap().path()).unwrap();
            for gone in [&id, &bob_reply] {
                assert!(
                    !bytes.windows(gone.len()).any(|w| w == gone.as_bytes()),
                    "the id of an expired message is still in {profile:?}"
                );
            }
        }
    }

    ok(&bob, &["timer", "alice", "off"]);
    receive_all(&alice);
    ok(&alice, &["send", "bob", "this one stays"]);
    let got = receive_all(&bob);
    assert!(of_type(&got, "message")[0].get("expires_at").is_none());
    let off: Value = serde_json::from_str(&ok(&alice, &["timer", "bob", "--json"])).unwrap();
    assert!(off["seconds"].is_null());
}
