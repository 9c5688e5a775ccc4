//! The end-to-end harness: the real `sotto serve` on a loopback port, profiles in temp dirs.
//!
//! The relay binary is `$SOTTO_BIN` if set, else `sotto` next to this test's target directory
//! (`<target>/debug/sotto`), built with `cargo build -p sotto-cli --bin sotto` if it is missing
//! or older than its sources.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Stdio;

use sotto_client::{Client, Event, Profile, Unlock};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::broadcast;

#[path = "binary.rs"]
mod binary;
pub use binary::sotto_binary;

/// A running relay.
pub struct Relay {
    pub url: String,
    pub data_dir: PathBuf,
    child: Child,
}

impl Relay {
    /// Starts a relay on a free port.
    pub async fn start(data_dir: &Path) -> Self {
        Self::start_on(data_dir, "127.0.0.1:0").await
    }

    /// Starts a relay on `listen`; stderr (the log) goes to `DATA_DIR/relay.log`.
    pub async fn start_on(data_dir: &Path, listen: &str) -> Self {
        Self::start_with(data_dir, listen, &[]).await
    }

    /// Starts a relay with a configuration file holding `config` (TOML).
    pub async fn start_configured(data_dir: &Path, config: &str) -> Self {
        let file = data_dir.join("relay.toml");
        std::fs::write(&file, config).unwrap();
        let file = file.display().to_string();
        Self::start_with(data_dir, "127.0.0.1:0", &["--config", &file]).await
    }

    /// Starts a relay with extra `sotto serve` arguments.
    pub async fn start_with(data_dir: &Path, listen: &str, extra: &[&str]) -> Self {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data_dir.join("relay.log"))
            .unwrap();
        let mut child = Command::new(sotto_binary())
            .args([
                "serve",
                "--listen",
                listen,
                "--no-rate-limits",
                "--data-dir",
            ])
            .arg(data_dir)
            .args(extra)
            .env("SOTTO_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("relay exited early");
            if let Some(url) = line.strip_prefix("listening on ") {
                break url.trim().to_owned();
            }
        };
        Self {
            url,
            data_dir: data_dir.to_owned(),
            child,
        }
    }

    /// `host:port` of the relay.
    pub fn addr(&self) -> String {
        let url = self.url.trim_start_matches("https://");
        url.trim_start_matches("http://").to_owned()
    }

    /// Kills the relay (SIGKILL: a crash, not a clean stop).
    pub async fn kill(mut self) {
        self.child.kill().await.unwrap();
    }

    /// Kills the relay and starts it again on the same address and data dir.
    pub async fn restart(self) -> Self {
        let (addr, dir) = (self.addr(), self.data_dir.clone());
        self.kill().await;
        Self::start_on(&dir, &addr).await
    }
}

/// An unlock method for tests: a key file inside the profile dir (fast, no Argon2).
pub fn key_file(dir: &Path) -> Unlock {
    std::fs::create_dir_all(dir).unwrap();
    Unlock::KeyFile(dir.join(sotto_client::KEY_FILE))
}

/// Registers `username` with a new profile in `dir`.
pub async fn register(relay: &Relay, dir: &Path, username: &str) -> Client {
    Profile::open(dir, &key_file(dir))
        .await
        .unwrap()
        .register(&relay.url, username, None)
        .await
        .unwrap()
}

/// Reopens an existing profile.
pub async fn reopen(dir: &Path) -> Client {
    Profile::open(dir, &key_file(dir))
        .await
        .unwrap()
        .client()
        .await
        .unwrap()
}

/// Every event received so far.
pub fn drain(events: &mut broadcast::Receiver<Event>) -> Vec<Event> {
    let mut out = Vec::new();
    while let Ok(event) = events.try_recv() {
        out.push(event);
    }
    out
}

/// The texts of the message events.
pub fn texts(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

/// The texts of a history.
pub async fn history_texts(client: &Client, peer: &str) -> Vec<String> {
    client
        .history(peer)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.text)
        .collect()
}

/// The `Authorization` header of a device.
pub fn authorization(account: &sotto_client::AccountRecord) -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    let user = format!(
        "{}.{}:{}",
        account.account_id,
        account.device_id,
        STANDARD.encode(&account.auth_secret[..])
    );
    format!("Basic {}", STANDARD.encode(user))
}

/// A raw authenticated GET against the relay (to play a third party in tests).
pub async fn raw_get(
    relay: &Relay,
    account: &sotto_client::AccountRecord,
    path: &str,
) -> (u16, serde_json::Value) {
    use http_body_util::{BodyExt as _, Empty};
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Empty<bytes::Bytes>>();
    let request = hyper::Request::get(format!("{}{path}", relay.url))
        .header("authorization", authorization(account))
        .body(Empty::new())
        .unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}

/// Takes the first queued envelope of a device from the relay without acking it, as a client
/// that crashes after storing a message and before its ack would.
pub async fn take_without_ack(
    relay: &Relay,
    account: &sotto_client::AccountRecord,
) -> sotto_proto::api::DeliveredEnvelope {
    let mut envelopes = take_envelopes(relay, account, 1).await;
    envelopes.pop().expect("the relay delivered nothing")
}

/// Up to `n` queued envelopes of a device, without acking them (stops at the queue's end).
pub async fn take_envelopes(
    relay: &Relay,
    account: &sotto_client::AccountRecord,
    n: usize,
) -> Vec<sotto_proto::api::DeliveredEnvelope> {
    use futures_util::StreamExt as _;
    use sotto_proto::api::ServerFrame;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let url = format!("{}/v1/websocket", relay.url.replacen("http", "ws", 1));
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", authorization(account).parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let mut out = Vec::new();
    while out.len() < n {
        let Some(frame) = socket.next().await else {
            break;
        };
        if let Message::Text(text) = frame.unwrap() {
            match serde_json::from_str(&text).unwrap() {
                ServerFrame::Envelope(envelope) => out.push(envelope),
                ServerFrame::QueueEmpty => break,
            }
        }
    }
    out
}

/// A raw authenticated POST of JSON against the relay.
pub async fn raw_post(
    relay: &Relay,
    account: &sotto_client::AccountRecord,
    path: &str,
    body: &impl serde::Serialize,
) -> (u16, serde_json::Value) {
    raw_send(relay, account, hyper::Method::POST, path, body).await
}

/// A raw authenticated request with a JSON body.
pub async fn raw_send(
    relay: &Relay,
    account: &sotto_client::AccountRecord,
    method: hyper::Method,
    path: &str,
    body: &impl serde::Serialize,
) -> (u16, serde_json::Value) {
    use http_body_util::{BodyExt as _, Full};
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<bytes::Bytes>>();
    let request = hyper::Request::builder()
        .method(method)
        .uri(format!("{}{path}", relay.url))
        .header("authorization", authorization(account))
        .header("content-type", "application/json")
        .body(Full::new(serde_json::to_vec(body).unwrap().into()))
        .unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}

/// A second device of an account, played by the test with sotto-core directly (the SDK does
/// not link devices yet): its credentials and private prekeys.
pub struct BareDevice {
    pub account: sotto_client::AccountRecord,
    pub pre_keys: sotto_core::InMemoryPreKeyStore,
}

/// Adds a device to `owner`'s account through the relay's API, with real prekeys.
pub async fn add_device(relay: &Relay, owner: &sotto_client::AccountRecord) -> BareDevice {
    use rand::RngExt as _;
    use sotto_core::{KemPreKeyKind, KemPreKeyPair, OneTimePreKeyPair, SignedPreKeyPair};
    use sotto_proto::api::{Base64Bytes, NewDevice, PreKey, PreKeyUpload, SignedPreKey};
    let mut rng = rand::rng();
    let identity = &owner.identity;
    let signed = SignedPreKeyPair::generate(identity, 1, &mut rng);
    let last_resort = KemPreKeyPair::generate(identity, 2, KemPreKeyKind::LastResort, &mut rng);
    let one_time = OneTimePreKeyPair::generate(3, &mut rng);
    let kem = KemPreKeyPair::generate(identity, 4, KemPreKeyKind::OneTime, &mut rng);
    let signed_api = |id, public: Vec<u8>, signature: &[u8; 64]| SignedPreKey {
        key_id: id,
        public_key: Base64Bytes(public),
        signature: Base64Bytes(signature.to_vec()),
    };
    let mut secret = [0u8; 32];
    rng.fill(&mut secret[..]);
    let device = NewDevice {
        auth_secret: Base64Bytes(secret.to_vec()),
        registration_id: 77,
        prekeys: PreKeyUpload {
            signed_prekey: Some(signed_api(
                1,
                signed.key_pair.public.encode().to_vec(),
                &signed.signature,
            )),
            last_resort_kem_prekey: Some(signed_api(
                2,
                last_resort.key_pair.public.encode(),
                &last_resort.signature,
            )),
            one_time_prekeys: vec![PreKey {
                key_id: 3,
                public_key: Base64Bytes(one_time.key_pair.public.encode().to_vec()),
            }],
            one_time_kem_prekeys: vec![signed_api(4, kem.key_pair.public.encode(), &kem.signature)],
        },
    };
    let (status, answer) = raw_post(relay, owner, "/v1/devices", &device).await;
    assert_eq!(status, 201, "{answer}");
    let mut account = owner.clone();
    account.device_id = u32::try_from(answer["device_id"].as_u64().unwrap()).unwrap();
    account.auth_secret = zeroize::Zeroizing::new(secret);
    let mut pre_keys = sotto_core::InMemoryPreKeyStore::default();
    pre_keys.signed.insert(1, signed);
    pre_keys.kem.insert(2, last_resort);
    pre_keys.one_time.insert(3, one_time);
    pre_keys.kem.insert(4, kem);
    BareDevice { account, pre_keys }
}

impl BareDevice {
    /// Opens a sealed envelope with the trust root of the relay whose data dir is `relay_dir`,
    /// returning it as if the certified sender had sent it identified.
    pub fn unseal(
        &self,
        relay_dir: &std::path::Path,
        envelope: &sotto_proto::api::DeliveredEnvelope,
    ) -> sotto_proto::api::DeliveredEnvelope {
        use sotto_core::sealed::{CertificateValidator, TrustRootKeyPair, unseal};
        assert_eq!(
            envelope.sender_account, None,
            "the relay must not know the sender"
        );
        let seed: [u8; 32] = std::fs::read(relay_dir.join("sealed-sender/root.key"))
            .unwrap()
            .try_into()
            .unwrap();
        let root = TrustRootKeyPair::from_seed(&seed).trust_root();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let us =
            sotto_core::Address::new(self.account.account_id.as_bytes(), self.account.device_id)
                .unwrap();
        let opened = unseal(
            &self.account.identity,
            &us,
            &CertificateValidator::new(root, now),
            &envelope.content.0,
        )
        .unwrap();
        let sender = opened.certificate.sender();
        sotto_proto::api::DeliveredEnvelope {
            sender_account: Some(String::from_utf8(sender.account().to_vec()).unwrap()),
            sender_device: Some(sender.device()),
            content: sotto_proto::api::Base64Bytes(opened.message),
            ..envelope.clone()
        }
    }

    /// Decrypts a first (prekey) message from `from` and parses its content.
    pub fn decrypt_first(
        &self,
        from: &sotto_client::AccountRecord,
        envelope: &sotto_proto::api::DeliveredEnvelope,
    ) -> sotto_client::content::Content {
        let local =
            sotto_core::Address::new(self.account.account_id.as_bytes(), self.account.device_id)
                .unwrap();
        let remote = sotto_core::Address::new(from.account_id.as_bytes(), from.device_id).unwrap();
        let parties = sotto_core::Parties {
            local_identity: &self.account.identity,
            local_address: &local,
            remote_address: &remote,
        };
        let mut record = sotto_core::SessionRecord::new();
        let decrypted = record
            .decrypt(parties, &envelope.content.0, &self.pre_keys)
            .unwrap();
        sotto_client::content::Content::decode(&decrypted.plaintext).unwrap()
    }
}

/// Creates the directory and returns it (the relay's data dir must exist for its log).
pub trait TapDir {
    fn tap_dir(self) -> Self;
}

impl TapDir for PathBuf {
    fn tap_dir(self) -> Self {
        std::fs::create_dir_all(&self).unwrap();
        self
    }
}
