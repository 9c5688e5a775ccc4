//! The cluster bus over Redis: wake-ups for devices connected to other nodes, presence (one
//! connection per device across the cluster), and a fallback to polling when Redis is away.
//!
//! Each node subscribes to one channel, `sotto:node:<node id>`. Presence is a key per
//! connected device, `sotto:presence:<device>` = `"<node id> <connection nonce>"`. A commit
//! for a device connected elsewhere runs a script that looks the key up and publishes a wake
//! to that node's channel; a device connecting on one node claims its key, and the script
//! tells the previous holder's node to close the old connection.
//!
//! Redis holds nothing that cannot be lost. Envelopes are only in the database, and a wake is
//! only "read your mailbox": connections always read the mailbox rather than take envelopes
//! from the bus, because a device's envelopes may be committed by any node and only the
//! mailbox sees them in id order. While the node cannot reach Redis (publishing fails or its
//! subscription drops), every local connection re-reads its mailbox every [`POLL_EVERY`];
//! wakes that could not be published are kept (one per device) and sent on reconnection, and
//! every local connection is woken once when the subscription comes back.

use crate::delivery::{DeliveryBus, LocalBus, Subscription};
use crate::domain::DeviceAddress;
use crate::store::QueuedEnvelope;
use futures_util::StreamExt;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Bounded delivery delay while Redis is unreachable: how often connections poll then.
pub const POLL_EVERY: Duration = Duration::from_millis(500);
/// Wait between reconnection attempts.
const RECONNECT_EVERY: Duration = Duration::from_millis(250);
/// Lifetime of a presence key; refreshed at a third of it for every live connection.
const PRESENCE_TTL_SECS: u64 = 300;
/// Timeout of one Redis command.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// Commands waiting for the publisher; past this, wakes are dropped and the node polls.
const OUTBOX: usize = 65_536;

/// Publishes a wake to the node holding the device, if any node does.
const WAKE: &str = r"
local holder = redis.call('GET', KEYS[1])
if holder then
  local node = string.match(holder, '^(%S+)')
  redis.call('PUBLISH', 'sotto:node:' .. node, ARGV[1])
end
return 0";

/// Claims the device for this connection and tells the previous holder to close its own.
const CLAIM: &str = r"
local old = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
if old and old ~= ARGV[1] then
  local node, nonce = string.match(old, '^(%S+) (%S+)$')
  if node then
    redis.call('PUBLISH', 'sotto:node:' .. node, 's ' .. ARGV[3] .. ' ' .. nonce)
  end
end
return 0";

/// Deletes the presence key if it is still this connection's.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0";

enum Command {
    Wake(DeviceAddress),
    Claim(DeviceAddress, u64),
    Release(DeviceAddress, u64),
}

struct Shared {
    node: String,
    local: LocalBus,
    /// Connection nonce of each device connected here.
    connected: Mutex<HashMap<DeviceAddress, u64>>,
    publishing: AtomicBool,
    subscribed: AtomicBool,
    next_nonce: AtomicU64,
}

impl Shared {
    fn healthy(&self) -> bool {
        self.publishing.load(Ordering::Acquire) && self.subscribed.load(Ordering::Acquire)
    }

    fn connected(&self) -> Vec<(DeviceAddress, u64)> {
        let map = self.connected.lock().unwrap_or_else(|p| p.into_inner());
        map.iter().map(|(d, n)| (d.clone(), *n)).collect()
    }

    fn is_local(&self, device: &DeviceAddress) -> bool {
        let map = self.connected.lock().unwrap_or_else(|p| p.into_inner());
        map.contains_key(device)
    }

    fn wake_all(&self) {
        for (device, _) in self.connected() {
            self.local.notify(&device);
        }
    }
}

/// A [`DeliveryBus`] shared by every node of a cluster through Redis.
pub struct RedisBus {
    shared: Arc<Shared>,
    outbox: mpsc::Sender<Command>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for RedisBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBus")
            .field("node", &self.shared.node)
            .field("healthy", &self.shared.healthy())
            .finish()
    }
}

/// Why the bus could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisBusError {
    /// The URL is not a valid Redis URL.
    #[error("invalid Redis URL: {0}")]
    InvalidUrl(String),
    /// No random node id could be drawn.
    #[error("no randomness for the node id: {0}")]
    Random(String),
}

impl RedisBus {
    /// Starts the bus for `url` (`redis://host:port`). Connecting happens in the background
    /// and is retried forever: a node starts (polling) even while Redis is down.
    pub fn start(url: &str) -> Result<Self, RedisBusError> {
        let client =
            redis::Client::open(url).map_err(|e| RedisBusError::InvalidUrl(e.to_string()))?;
        let mut id = [0u8; 8];
        getrandom::fill(&mut id).map_err(|e| RedisBusError::Random(e.to_string()))?;
        let shared = Arc::new(Shared {
            node: hex::encode(id),
            local: LocalBus::new(),
            connected: Mutex::new(HashMap::new()),
            publishing: AtomicBool::new(false),
            subscribed: AtomicBool::new(false),
            next_nonce: AtomicU64::new(1),
        });
        let (outbox, commands) = mpsc::channel(OUTBOX);
        let tasks = vec![
            tokio::spawn(publish_loop(client.clone(), shared.clone(), commands)),
            tokio::spawn(subscribe_loop(client, shared.clone(), outbox.clone())),
            tokio::spawn(poll_loop(shared.clone(), outbox.clone())),
        ];
        Ok(Self {
            shared,
            outbox,
            tasks,
        })
    }

    /// Whether the node currently both publishes to and listens on Redis.
    pub fn is_healthy(&self) -> bool {
        self.shared.healthy()
    }

    fn send(&self, command: Command) {
        if self.outbox.try_send(command).is_err() {
            // Overloaded or stopped: poll until the publisher catches up.
            self.shared.publishing.store(false, Ordering::Release);
        }
    }
}

impl Drop for RedisBus {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl DeliveryBus for RedisBus {
    fn subscribe(&self, device: &DeviceAddress) -> Subscription {
        let nonce = self.shared.next_nonce.fetch_add(1, Ordering::Relaxed);
        let subscription = self.shared.local.subscribe(device);
        self.shared
            .connected
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(device.clone(), nonce);
        self.send(Command::Claim(device.clone(), nonce));
        let (shared, outbox, device) = (
            Arc::downgrade(&self.shared),
            self.outbox.clone(),
            device.clone(),
        );
        subscription.on_release(move || {
            let Some(shared) = shared.upgrade() else {
                return;
            };
            let mut map = shared.connected.lock().unwrap_or_else(|p| p.into_inner());
            if map.get(&device) == Some(&nonce) {
                map.remove(&device);
                let _ = outbox.try_send(Command::Release(device, nonce));
            }
        })
    }

    fn notify(&self, device: &DeviceAddress) {
        if self.shared.is_local(device) {
            self.shared.local.notify(device);
        } else {
            self.send(Command::Wake(device.clone()));
        }
    }

    fn deliver(&self, device: &DeviceAddress, envelope: QueuedEnvelope) {
        // Only a wake: see the module docs for why envelopes are not handed over.
        let _ = envelope;
        self.notify(device);
    }
}

fn presence_key(device: &DeviceAddress) -> String {
    format!("sotto:presence:{device}")
}

async fn connect(client: &redis::Client) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(COMMAND_TIMEOUT))
        .set_response_timeout(Some(COMMAND_TIMEOUT));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

/// Sends commands in pipelined batches; keeps failed wakes and claims for the next connection.
async fn publish_loop(
    client: redis::Client,
    shared: Arc<Shared>,
    mut commands: mpsc::Receiver<Command>,
) {
    let scripts = Scripts::new();
    let mut backlog: Vec<Command> = Vec::new();
    loop {
        let Ok(mut conn) = connect(&client).await else {
            shared.publishing.store(false, Ordering::Release);
            tokio::time::sleep(RECONNECT_EVERY).await;
            continue;
        };
        shared.publishing.store(true, Ordering::Release);
        loop {
            if backlog.is_empty() {
                match commands.recv().await {
                    Some(command) => backlog.push(command),
                    None => return,
                }
            }
            while backlog.len() < 1024 {
                match commands.try_recv() {
                    Ok(command) => backlog.push(command),
                    Err(_) => break,
                }
            }
            let batch = dedup(std::mem::take(&mut backlog));
            if let Err(e) = scripts.run(&mut conn, &shared, &batch).await {
                tracing::warn!(error = %e, "Redis unreachable: delivery falls back to polling");
                shared.publishing.store(false, Ordering::Release);
                // Wakes and claims are idempotent: send them again once connected.
                backlog = batch;
                break;
            }
            shared.publishing.store(true, Ordering::Release);
            // Until its claim landed, wakes for a device went elsewhere: read once more.
            for command in &batch {
                if let Command::Claim(device, _) = command {
                    shared.local.notify(device);
                }
            }
        }
        tokio::time::sleep(RECONNECT_EVERY).await;
    }
}

/// One wake per device is enough; claims and releases keep their order.
fn dedup(commands: Vec<Command>) -> Vec<Command> {
    let mut woken = HashSet::new();
    commands
        .into_iter()
        .filter(|c| match c {
            Command::Wake(device) => woken.insert(device.clone()),
            _ => true,
        })
        .collect()
}

struct Scripts {
    wake: redis::Script,
    claim: redis::Script,
    release: redis::Script,
}

impl Scripts {
    fn new() -> Self {
        Self {
            wake: redis::Script::new(WAKE),
            claim: redis::Script::new(CLAIM),
            release: redis::Script::new(RELEASE),
        }
    }

    async fn run(
        &self,
        conn: &mut redis::aio::MultiplexedConnection,
        shared: &Shared,
        batch: &[Command],
    ) -> redis::RedisResult<()> {
        // Scripts are loaded once per connection; a restarted Redis forgets them, which
        // `invoke_async` handles by loading again.
        let mut pending = Vec::with_capacity(batch.len());
        for command in batch {
            let mut conn = conn.clone();
            let invocation = match command {
                Command::Wake(device) => {
                    let mut i = self.wake.key(presence_key(device));
                    i.arg(format!("w {device}"));
                    i
                }
                Command::Claim(device, nonce) => {
                    let mut i = self.claim.key(presence_key(device));
                    i.arg(format!("{} {nonce}", shared.node))
                        .arg(PRESENCE_TTL_SECS)
                        .arg(device.to_string());
                    i
                }
                Command::Release(device, nonce) => {
                    let mut i = self.release.key(presence_key(device));
                    i.arg(format!("{} {nonce}", shared.node));
                    i
                }
            };
            pending.push(async move { invocation.invoke_async::<i64>(&mut conn).await });
        }
        // Multiplexed: the invocations share one connection's pipeline.
        for result in futures_util::future::join_all(pending).await {
            result?;
        }
        Ok(())
    }
}

/// Listens on this node's channel; wakes everything local after each (re)subscription.
async fn subscribe_loop(client: redis::Client, shared: Arc<Shared>, outbox: mpsc::Sender<Command>) {
    let channel = format!("sotto:node:{}", shared.node);
    loop {
        let subscribed = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        let pubsub = match tokio::time::timeout(COMMAND_TIMEOUT, subscribed).await {
            Ok(Ok(pubsub)) => pubsub,
            _ => {
                shared.subscribed.store(false, Ordering::Release);
                tokio::time::sleep(RECONNECT_EVERY).await;
                continue;
            }
        };
        shared.subscribed.store(true, Ordering::Release);
        tracing::info!("listening on Redis");
        // A restarted Redis lost the presence keys: claim ours again. Anything published
        // while we were not listening is lost: read every mailbox once.
        for (device, nonce) in shared.connected() {
            let _ = outbox.try_send(Command::Claim(device, nonce));
        }
        shared.wake_all();
        let mut messages = pubsub.into_on_message();
        while let Some(message) = messages.next().await {
            on_message(&shared, message.get_payload_bytes());
        }
        shared.subscribed.store(false, Ordering::Release);
        tracing::warn!("lost the Redis subscription: delivery falls back to polling");
        tokio::time::sleep(RECONNECT_EVERY).await;
    }
}

/// `w <device>` wakes a local connection; `s <device> <nonce>` closes it if it is that one.
fn on_message(shared: &Shared, payload: &[u8]) {
    let Ok(text) = std::str::from_utf8(payload) else {
        return;
    };
    let mut parts = text.split(' ');
    let (kind, device) = (parts.next(), parts.next().and_then(parse_device));
    match (kind, device) {
        (Some("w"), Some(device)) => shared.local.notify(&device),
        (Some("s"), Some(device)) => {
            let nonce = parts.next().and_then(|n| n.parse::<u64>().ok());
            let mut map = shared.connected.lock().unwrap_or_else(|p| p.into_inner());
            if nonce.is_some() && map.get(&device) == nonce.as_ref() {
                map.remove(&device);
                drop(map);
                shared.local.supersede(&device);
            }
        }
        _ => tracing::debug!("ignoring a malformed bus message"),
    }
}

/// Parses `<account>.<device>` as [`DeviceAddress`] displays it.
fn parse_device(text: &str) -> Option<DeviceAddress> {
    let (account, device) = text.split_once('.')?;
    Some(DeviceAddress {
        account: crate::domain::AccountId::parse(account).ok()?,
        device: crate::domain::DeviceId::new(device.parse().ok()?).ok()?,
    })
}

/// Polls while unhealthy; refreshes presence keys of live connections.
async fn poll_loop(shared: Arc<Shared>, outbox: mpsc::Sender<Command>) {
    let mut tick = tokio::time::interval(POLL_EVERY);
    let refresh_every = PRESENCE_TTL_SECS * 1000 / 3 / POLL_EVERY.as_millis().max(1) as u64;
    let mut ticks: u64 = 0;
    loop {
        tick.tick().await;
        ticks += 1;
        if !shared.healthy() {
            shared.wake_all();
        }
        if ticks.is_multiple_of(refresh_every.max(1)) {
            for (device, nonce) in shared.connected() {
                let _ = outbox.try_send(Command::Claim(device, nonce));
            }
        }
    }
}

/// The test Redis from `SOTTO_TEST_REDIS_URL` if set and answering; prints why not otherwise.
#[cfg(test)]
pub(crate) async fn test_url() -> Option<String> {
    let Ok(url) = std::env::var("SOTTO_TEST_REDIS_URL") else {
        eprintln!("SKIPPED: SOTTO_TEST_REDIS_URL is not set, Redis tests did not run");
        return None;
    };
    let reachable = match redis::Client::open(url.as_str()) {
        Ok(client) => connect(&client).await.is_ok(),
        Err(_) => false,
    };
    if !reachable {
        eprintln!("SKIPPED: Redis at SOTTO_TEST_REDIS_URL is unreachable");
        return None;
    }
    Some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bus_messages_parse_or_are_ignored() {
        let device = DeviceAddress {
            account: crate::domain::AccountId::random().unwrap(),
            device: crate::domain::DeviceId::FIRST,
        };
        assert_eq!(parse_device(&device.to_string()), Some(device));
        assert_eq!(parse_device("nonsense"), None);
        assert_eq!(parse_device("abc.1"), None);
    }
}

#[cfg(test)]
mod cluster_tests {
    use super::*;
    use crate::domain::{AccountId, DeviceId};

    async fn healthy(bus: &RedisBus) {
        for _ in 0..200 {
            if bus.is_healthy() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("bus never connected");
    }

    #[tokio::test]
    async fn wakes_and_takeovers_cross_nodes() {
        let Some(url) = test_url().await else { return };
        let (a, b) = (
            RedisBus::start(&url).unwrap(),
            RedisBus::start(&url).unwrap(),
        );
        healthy(&a).await;
        healthy(&b).await;
        let device = DeviceAddress {
            account: AccountId::random().unwrap(),
            device: DeviceId::FIRST,
        };
        let mut on_a = a.subscribe(&device);
        let wait = Duration::from_secs(5);
        // The claim may still be in flight: wake until it lands.
        let woken = async {
            loop {
                b.notify(&device);
                if tokio::time::timeout(Duration::from_millis(100), on_a.wake.notified())
                    .await
                    .is_ok()
                {
                    return;
                }
            }
        };
        tokio::time::timeout(wait, woken).await.unwrap();
        let _on_b = b.subscribe(&device);
        tokio::time::timeout(wait, on_a.superseded.changed())
            .await
            .unwrap()
            .unwrap();
    }
}
