//! End-to-end tests of group chats with the real `sotto` binary and relay.
//!
//! | test | checks |
//! |---|---|
//! | `three_users_chat_in_a_group_and_membership_changes` | `group create/show/list`, `send --group` from each member, `receive --json` objects with `"group"`, `history --group`, `group add`, `group remove` (the removed member is told, gets nothing more and cannot send), `group rename`, `group admins`, `group leave` |
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

/// Every line `receive --json` prints.
fn receive_all(profile: &Path) -> Vec<Value> {
    json_lines(&ok(profile, &["receive", "--json", "--timeout", "30"]))
}

/// `(from, text)` of the group messages among `lines`, checking they name `group`.
fn group_messages(lines: &[Value], group: &str) -> Vec<(String, String)> {
    lines
        .iter()
        .filter(|l| l["type"] == "message")
        .map(|l| {
            assert_eq!(l["group"], group, "{l}");
            (
                l["from"].as_str().unwrap().to_owned(),
                l["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pair(from: &str, text: &str) -> (String, String) {
    (from.to_owned(), text.to_owned())
}

#[test]
fn three_users_chat_in_a_group_and_membership_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let [alice, bob, carol, dave] = ["alice", "bob", "carol", "dave"].map(|n| tmp.path().join(n));
    for (profile, name) in [
        (&alice, "alice"),
        (&bob, "bob"),
        (&carol, "carol"),
        (&dave, "dave"),
    ] {
        register(&relay, profile, name);
    }

    let created = json_lines(&ok(
        &alice,
        &[
            "group",
            "create",
            "trio",
            "--members",
            "bob,carol",
            "--json",
        ],
    ));
    let id = created[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(created[0]["members"].as_array().unwrap().len(), 3);
    for profile in [&bob, &carol] {
        let got = receive_all(profile);
        assert!(
            got.iter()
                .any(|l| l["type"] == "group_changed" && l["group"] == id.as_str())
        );
        let listed = json_lines(&ok(profile, &["group", "list", "--json"]));
        assert_eq!(listed[0]["name"], "trio");
    }

    ok(&alice, &["send", "--group", "trio", "hi all"]);
    ok(&bob, &["send", "--group", &id[..10], "hi from bob"]);
    ok(&carol, &["send", "--group", "trio", "hi from carol"]);
    assert_eq!(
        group_messages(&receive_all(&alice), &id),
        [pair("bob", "hi from bob"), pair("carol", "hi from carol")]
    );
    assert_eq!(
        group_messages(&receive_all(&bob), &id),
        [pair("alice", "hi all"), pair("carol", "hi from carol")]
    );
    assert_eq!(
        group_messages(&receive_all(&carol), &id),
        [pair("alice", "hi all"), pair("bob", "hi from bob")]
    );
    let history = json_lines(&ok(&carol, &["history", "--group", "trio", "--json"]));
    let texts: Vec<&str> = history
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    // In the order this profile stored them: carol wrote hers before fetching the others.
    assert_eq!(texts, ["hi from carol", "hi all", "hi from bob"]);
    assert_eq!(history[1]["from"], "alice");

    // Only an admin changes the group.
    let refused = sotto(&bob, &["group", "add", "trio", "dave"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("admin"));

    ok(&alice, &["group", "add", "trio", "dave"]);
    ok(&alice, &["group", "remove", "trio", "carol"]);
    ok(&alice, &["send", "--group", "trio", "carol is gone"]);
    let got = receive_all(&carol);
    assert!(group_messages(&got, &id).is_empty(), "{got:?}");
    assert!(
        got.iter()
            .any(|l| l["type"] == "group_changed" && l["left"] == true)
    );
    let refused = sotto(&carol, &["send", "--group", "trio", "let me in"]);
    assert!(!refused.status.success());
    assert_eq!(
        group_messages(&receive_all(&dave), &id),
        [pair("alice", "carol is gone")]
    );
    assert_eq!(
        group_messages(&receive_all(&bob), &id),
        [pair("alice", "carol is gone")]
    );

    ok(&alice, &["group", "rename", "trio", "quartet"]);
    ok(&alice, &["group", "admins", "quartet", "--add", "bob"]);
    let admins = json_lines(&ok(&alice, &["group", "admins", "quartet", "--json"]));
    let names: Vec<&str> = admins[0]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["username"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2);
    receive_all(&bob);
    let shown = ok(&bob, &["group", "show", "quartet"]);
    assert!(
        shown.contains("quartet") && shown.contains("bob (admin)"),
        "{shown}"
    );

    // Dave leaves: he asks the admins, alice's client removes him when it receives.
    receive_all(&dave);
    ok(&dave, &["group", "leave", "quartet"]);
    receive_all(&alice);
    let shown = json_lines(&ok(&alice, &["group", "show", "quartet", "--json"]));
    let members = shown[0]["members"].as_array().unwrap();
    assert_eq!(members.len(), 2, "{shown:?}");
}
