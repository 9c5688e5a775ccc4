//! The JSON-RPC daemon end to end: `sotto daemon --socket` on a real relay, a bot talking to it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

/// A line-delimited JSON-RPC connection.
struct Rpc {
    lines: std::io::Lines<BufReader<UnixStream>>,
    stream: UnixStream,
    next_id: u64,
}

impl Rpc {
    fn line(&mut self) -> Value {
        serde_json::from_str(&self.lines.next().unwrap().unwrap()).unwrap()
    }

    fn raw(&mut self, text: &str) -> Value {
        writeln!(self.stream, "{text}").unwrap();
        self.line()
    }

    /// Calls a method and returns its response (notifications in between are skipped).
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let request =
            json!({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params});
        writeln!(self.stream, "{request}").unwrap();
        loop {
            let line = self.line();
            if line["id"] == self.next_id {
                return line;
            }
        }
    }
}

#[test]
fn a_bot_chats_through_the_daemon() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    let (alice, bot) = (tmp.path().join("alice"), tmp.path().join("bot"));
    register(&relay, &alice, "alice");
    register(&relay, &bot, "bot");
    let socket = tmp.path().join("bot.sock");
    let mut daemon = Command::new(SOTTO)
        .arg("--profile")
        .arg(&bot)
        .arg("daemon")
        .arg("--socket")
        .arg(&socket)
        .stdout(Stdio::piped())
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
    let stream = UnixStream::connect(&socket).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut rpc = Rpc {
        lines: BufReader::new(stream.try_clone().unwrap()).lines(),
        stream,
        next_id: 0,
    };
    assert_eq!(rpc.call("subscribe", json!({}))["result"], true);

    ok(&alice, &["send", "bot", "ping"]);
    let event = rpc.line();
    assert_eq!(event["method"], "event");
    assert!(event.get("id").is_none(), "a notification has no id");
    assert_eq!(event["params"]["type"], "message");
    assert_eq!(
        (
            event["params"]["from"].as_str(),
            event["params"]["text"].as_str()
        ),
        (Some("alice"), Some("ping"))
    );

    let sent = rpc.call("send", json!({"username": "alice", "text": "pong"}));
    assert_eq!(
        sent["result"]["id"].as_str().unwrap().as_bytes()[12],
        b'-',
        "a time-first id"
    );
    assert_eq!(texts(&receive(&alice)), ["pong"]);

    let conversations = rpc.call("conversations", json!({}));
    assert_eq!(conversations["result"][0]["username"], "alice");
    let history = rpc.call("history", json!({"username": "alice"}));
    assert_eq!(
        texts(history["result"].as_array().unwrap()),
        ["ping", "pong"]
    );
    let verify = rpc.call("verify", json!({"username": "alice"}));
    assert_eq!(
        verify["result"]["safety_number"].as_str().unwrap().len(),
        60
    );

    assert_eq!(rpc.call("fly", json!({}))["error"]["code"], -32601);
    assert_eq!(
        rpc.call("send", json!({"text": "no one"}))["error"]["code"],
        -32602
    );
    let unknown = rpc.call("send", json!({"username": "nobody", "text": "x"}));
    assert_eq!(unknown["error"]["code"], -32000);
    assert_eq!(rpc.raw("{not json")["error"]["code"], -32700);
    daemon.kill().unwrap();
    daemon.wait().unwrap();
}
