//! Cluster tests: three real `sotto serve` nodes on one PostgreSQL and one Redis.
//!
//! They run against `SOTTO_TEST_POSTGRES_URL` and `SOTTO_TEST_REDIS_URL`; when either is unset
//! or unreachable each test prints a visible SKIPPED line and passes. Every test gets a fresh
//! database, dropped afterwards; the Redis-outage test runs a private `redis-server`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use futures_util::{SinkExt, StreamExt};
use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use sotto_cli::relay_client::{Credentials, DeliverySocket, RelayClient, sample_prekeys};
use sqlx::Connection;
use std::collections::HashSet;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;

/// Upper bound on every wait, so a bug fails a test instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(30);

/// A fresh database on the test server, dropped with this value.
struct Database {
    admin_url: String,
    name: String,
    url: String,
}

impl Database {
    async fn create(admin_url: &str) -> Database {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).unwrap();
        let name = format!("sotto_cluster_{}", hex::encode(bytes));
        let mut conn = sqlx::PgConnection::connect(admin_url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        let base = admin_url.split('?').next().unwrap();
        let url = format!("{}/{name}", base.rsplit_once('/').unwrap().0);
        Database {
            admin_url: admin_url.to_owned(),
            name,
            url,
        }
    }
}

impl Drop for Database {
    /// Drops the database even when the test panicked (on a thread with its own runtime:
    /// this runs inside the test's).
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&admin_url).await.unwrap();
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await
                    .unwrap();
            });
        });
        let _ = dropped.join();
    }
}

/// Whether something answers Redis's PING at `url` (`redis://host:port`).
async fn redis_answers(url: &str) -> bool {
    let addr = url.trim_start_matches("redis://").trim_end_matches('/');
    let Ok(Ok(mut stream)) =
        tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr)).await
    else {
        return false;
    };
    if stream.write_all(b"PING\r\n").await.is_err() {
        return false;
    }
    let mut reply = [0u8; 7];
    matches!(
        tokio::time::timeout(Duration::from_secs(2), stream.read_exact(&mut reply)).await,
        Ok(Ok(_)) if &reply == b"+PONG\r\n"
    )
}

/// The services of the test machine, or `None` (with a SKIPPED line) when one is missing.
async fn services() -> Option<(String, String)> {
    let (Ok(pg), Ok(redis)) = (
        std::env::var("SOTTO_TEST_POSTGRES_URL"),
        std::env::var("SOTTO_TEST_REDIS_URL"),
    ) else {
        eprintln!(
            "SKIPPED: SOTTO_TEST_POSTGRES_URL or SOTTO_TEST_REDIS_URL unset: cluster tests did not run"
        );
        return None;
    };
    if sqlx::PgConnection::connect(&pg).await.is_err() || !redis_answers(&redis).await {
        eprintln!("SKIPPED: PostgreSQL or Redis unreachable: cluster tests did not run");
        return None;
    }
    Some((pg, redis))
}

struct Node {
    child: Child,
    client: RelayClient,
}

impl Node {
    async fn start(database: &str, redis: &str, data_dir: &std::path::Path) -> Node {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sotto"))
            .args(["serve", "--listen", "127.0.0.1:0", "--no-rate-limits"])
            .args(["--log", "warn", "--database", database, "--redis", redis])
            .arg("--data-dir")
            .arg(data_dir)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(PATIENCE, lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let base = line.strip_prefix("listening on ").unwrap().to_owned();
        Node {
            child,
            client: RelayClient::new(&base),
        }
    }

    async fn kill_9(&mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }
}

/// Three nodes on a fresh database and the given Redis.
struct Cluster {
    nodes: Vec<Node>,
    database: Database,
    _dir: tempfile::TempDir,
}

impl Cluster {
    async fn start(pg: &str, redis: &str, nodes: usize) -> Cluster {
        let database = Database::create(pg).await;
        let dir = tempfile::tempdir().unwrap();
        let mut started = Vec::new();
        for _ in 0..nodes {
            started.push(Node::start(&database.url, redis, dir.path()).await);
        }
        Cluster {
            nodes: started,
            database,
            _dir: dir,
        }
    }

    fn client(&self, n: usize) -> RelayClient {
        self.nodes[n].client.clone()
    }

    async fn stop(mut self) {
        for node in &mut self.nodes {
            let _ = node.child.start_kill();
            let _ = node.child.wait().await;
        }
    }
}

/// The next envelope or `queue_empty` frame, or `None` if the connection ended.
async fn next_frame(socket: &mut DeliverySocket) -> Option<Value> {
    loop {
        match tokio::time::timeout(PATIENCE, socket.next()).await.ok()?? {
            Ok(Message::Text(text)) => return Some(serde_json::from_str(text.as_str()).unwrap()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

async fn ack(socket: &mut DeliverySocket, frame: &Value) -> bool {
    let text = json!({"type": "ack", "id": frame["id"]}).to_string();
    socket.send(Message::Text(text.into())).await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_chat_in_real_time_share_presence_and_hand_out_each_prekey_once() {
    let Some((pg, redis)) = services().await else {
        return;
    };
    let cluster = Cluster::start(&pg, &redis, 3).await;
    let alice = cluster.client(0).register("alice", 0).await.unwrap();
    let bob = cluster.client(1).register("bob", 0).await.unwrap();

    // Alice sends through node 0; Bob listens on node 2 and gets it pushed.
    let mut on_2 = cluster.client(2).connect(&bob).await.unwrap();
    assert_eq!(next_frame(&mut on_2).await.unwrap()["type"], "queue_empty");
    for n in 0..5 {
        let id = format!("cross-node-{n:06}");
        let sent = Instant::now();
        let (status, _) = cluster
            .client(0)
            .send(&alice, &bob.account_id, &id, vec![(1, vec![n])])
            .await
            .unwrap();
        assert_eq!(status, StatusCode::OK);
        let frame = next_frame(&mut on_2).await.unwrap();
        assert_eq!(frame["message_id"], id.as_str());
        eprintln!("cross-node delivery {n}: {:?}", sent.elapsed());
        assert!(ack(&mut on_2, &frame).await);
    }

    // Bob connecting on node 0 closes his connection on node 2. The last ack may not have
    // been applied yet: then that envelope comes again, and nothing else does.
    let mut on_0 = cluster.client(0).connect(&bob).await.unwrap();
    let mut frame = next_frame(&mut on_0).await.unwrap();
    if frame["type"] == "envelope" {
        assert_eq!(frame["message_id"], "cross-node-000004");
        frame = next_frame(&mut on_0).await.unwrap();
    }
    assert_eq!(frame["type"], "queue_empty");
    let closed = loop {
        match tokio::time::timeout(PATIENCE, on_2.next()).await.unwrap() {
            Some(Ok(Message::Close(frame))) => break frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => continue,
            other => panic!("node 2 connection ended without a close frame: {other:?}"),
        }
    };
    assert_eq!(closed, Some(sotto_proto::api::CLOSE_CONNECTED_ELSEWHERE));

    // Thirty concurrent bundle fetches over three nodes: each of ten keys handed out once.
    let (status, _) = cluster
        .client(1)
        .json(
            Method::PUT,
            "/v1/keys",
            Some(&bob),
            &sample_prekeys(700, 10),
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::NO_CONTENT);
    let path = format!("/v1/keys/{}/1", bob.account_id);
    let fetches: Vec<_> = (0..30)
        .map(|i| {
            let (client, alice, path) = (cluster.client(i % 3), alice.clone(), path.clone());
            tokio::spawn(
                async move { client.request(Method::GET, &path, Some(&alice), None).await },
            )
        })
        .collect();
    let mut taken = Vec::new();
    for fetch in fetches {
        let (status, body) = fetch.await.unwrap().unwrap();
        assert_eq!(status, StatusCode::OK);
        let bundle: Value = serde_json::from_slice(&body).unwrap();
        taken.extend(bundle["devices"][0]["one_time_prekey"]["key_id"].as_u64());
    }
    taken.sort_unstable();
    assert_eq!(taken, (700..710).collect::<Vec<u64>>());

    // `sotto admin --database` sees the cluster's accounts.
    let users = Command::new(env!("CARGO_BIN_EXE_sotto"))
        .args([
            "admin",
            "--database",
            &cluster.database.url,
            "users",
            "--json",
        ])
        .output()
        .await
        .unwrap();
    assert!(users.status.success(), "{users:?}");
    let names: Vec<String> = String::from_utf8(users.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["username"].to_string())
        .collect();
    assert_eq!(names, ["\"alice\"", "\"bob\""]);
    cluster.stop().await;
}

/// What the receiving side saw: message ids of delivered envelopes, in order.
type Seen = Arc<Mutex<Vec<String>>>;

/// The message sent after the load, last in Bob's mailbox: the receiver stops there.
const FINAL: &str = "load-final-000000";

/// Bob's client: listens on the given nodes in turn, moving on when a connection ends, and
/// acks everything, until the final message arrives.
async fn receive_until_final(nodes: Vec<RelayClient>, bob: Credentials, seen: Seen) {
    let mut turn = 0;
    loop {
        let client = &nodes[turn % nodes.len()];
        turn += 1;
        let Ok(mut socket) = client.connect(&bob).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        while let Some(frame) = next_frame(&mut socket).await {
            if frame["type"] == "queue_empty" {
                continue;
            }
            let id = frame["message_id"].as_str().unwrap().to_owned();
            seen.lock().unwrap().push(id.clone());
            if !ack(&mut socket, &frame).await {
                break;
            }
            if id == FINAL {
                return;
            }
        }
    }
}

/// Alice's client: sends numbered messages, moving to the next node when one fails and
/// retrying the same id there; returns the ids acknowledged.
async fn send_until(
    nodes: Vec<RelayClient>,
    lane: usize,
    alice: Credentials,
    bob: String,
    stop: tokio::sync::watch::Receiver<bool>,
) -> HashSet<String> {
    let mut acknowledged = HashSet::new();
    let mut node = lane;
    let mut n = 0u32;
    while !*stop.borrow() {
        let id = format!("load-{lane}-{n:010}");
        let client = &nodes[node % nodes.len()];
        match client
            .send(&alice, &bob, &id, vec![(1, id.clone().into_bytes())])
            .await
        {
            Ok((StatusCode::OK, _)) => {
                acknowledged.insert(id);
                n += 1;
            }
            Ok((status, answer)) if status.is_client_error() => panic!("{status} {answer}"),
            other => {
                eprintln!(
                    "send {id} through node {} failed: {other:?}",
                    node % nodes.len()
                );
                node += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    acknowledged
}

/// Waits until at least `count` deliveries were seen.
async fn seen_at_least(seen: &Seen, count: usize) {
    let deadline = Instant::now() + PATIENCE;
    while seen.lock().unwrap().len() < count {
        let now = seen.lock().unwrap().len();
        assert!(
            Instant::now() < deadline,
            "deliveries stalled at {now} of {count}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every acknowledged id delivered; to the application (deduplicating by message id, as the
/// client does) each exactly once, and nothing that was not sent.
fn check_exactly_once(acknowledged: &HashSet<String>, seen: &[String]) {
    let delivered: HashSet<&String> = seen.iter().collect();
    let missing: Vec<_> = acknowledged
        .iter()
        .filter(|id| !delivered.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged but never delivered: {missing:?}"
    );
    assert!(delivered.iter().all(|id| id.starts_with("load-")));
    let redelivered = seen.len() - delivered.len();
    eprintln!(
        "{} acknowledged, {} delivered, {redelivered} redelivered (acks lost with a node)",
        acknowledged.len(),
        delivered.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_a_node_under_load_loses_and_duplicates_nothing() {
    let Some((pg, redis)) = services().await else {
        return;
    };
    let mut cluster = Cluster::start(&pg, &redis, 3).await;
    let alice = cluster.client(0).register("alice", 0).await.unwrap();
    let bob = cluster.client(0).register("bob", 0).await.unwrap();
    let all: Vec<RelayClient> = (0..3).map(|n| cluster.client(n)).collect();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let seen: Seen = Arc::default();
    // Bob starts on node 2, the one that dies; senders start on every node.
    let receiver = {
        let nodes = vec![all[2].clone(), all[0].clone(), all[1].clone()];
        tokio::spawn(receive_until_final(nodes, bob.clone(), seen.clone()))
    };
    let senders: Vec<_> = (0..3)
        .map(|lane| {
            let (nodes, alice, bob) = (all.clone(), alice.clone(), bob.account_id.clone());
            tokio::spawn(send_until(nodes, lane, alice, bob, stop.clone()))
        })
        .collect();
    seen_at_least(&seen, 150).await;
    cluster.nodes[2].kill_9().await;
    let before = seen.lock().unwrap().len();
    seen_at_least(&seen, before + 150).await;
    stop_tx.send_replace(true);
    let mut acknowledged = HashSet::new();
    for sender in senders {
        acknowledged.extend(sender.await.unwrap());
    }
    let (status, _) = all[0]
        .send(&alice, &bob.account_id, FINAL, vec![(1, vec![0])])
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    acknowledged.insert(FINAL.into());
    tokio::time::timeout(PATIENCE, receiver)
        .await
        .unwrap()
        .unwrap();
    check_exactly_once(&acknowledged, &seen.lock().unwrap());
    cluster.stop().await;
}

/// A private `redis-server` on a free port, stopped and restarted by the test.
struct PrivateRedis {
    port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    async fn start() -> Option<PrivateRedis> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let mut redis = PrivateRedis { port, child: None };
        redis.resume().await.then_some(redis)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn resume(&mut self) -> bool {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn();
        let Ok(child) = child else {
            return false;
        };
        self.child = Some(child);
        let deadline = Instant::now() + PATIENCE;
        while !redis_answers(&self.url()).await {
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_under_load_delays_delivery_but_loses_nothing() {
    let Some((pg, _)) = services().await else {
        return;
    };
    let Some(mut redis) = PrivateRedis::start().await else {
        eprintln!("SKIPPED: redis-server could not be started: Redis outage test did not run");
        return;
    };
    let cluster = Cluster::start(&pg, &redis.url(), 3).await;
    let alice = cluster.client(0).register("alice", 0).await.unwrap();
    let bob = cluster.client(0).register("bob", 0).await.unwrap();
    let all: Vec<RelayClient> = (0..3).map(|n| cluster.client(n)).collect();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let seen: Seen = Arc::default();
    // Bob listens on node 2; Alice sends through nodes 0 and 1 only.
    let receiver = tokio::spawn(receive_until_final(
        vec![all[2].clone()],
        bob.clone(),
        seen.clone(),
    ));
    let senders: Vec<_> = (0..2)
        .map(|lane| {
            let (nodes, alice, bob) = (all[..2].to_vec(), alice.clone(), bob.account_id.clone());
            tokio::spawn(send_until(nodes, lane, alice, bob, stop.clone()))
        })
        .collect();
    seen_at_least(&seen, 100).await;
    redis.stop().await;
    let during = seen.lock().unwrap().len();
    // Delivery goes on through polling while Redis is down.
    seen_at_least(&seen, during + 100).await;
    assert!(redis.resume().await, "redis-server did not come back");
    let after = seen.lock().unwrap().len();
    seen_at_least(&seen, after + 100).await;
    stop_tx.send_replace(true);
    let mut acknowledged = HashSet::new();
    for sender in senders {
        acknowledged.extend(sender.await.unwrap());
    }
    let (status, _) = all[0]
        .send(&alice, &bob.account_id, FINAL, vec![(1, vec![0])])
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    acknowledged.insert(FINAL.into());
    tokio::time::timeout(PATIENCE, receiver)
        .await
        .unwrap()
        .unwrap();
    check_exactly_once(&acknowledged, &seen.lock().unwrap());
    cluster.stop().await;
    redis.stop().await;
}
