//! End to end: identity changes, the store's locks, and what the relay's disk holds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::*;
use rand::RngExt as _;
use sotto_client::{
    ClientError, Event, Profile, ReceiveMode, RelayError, Server, StoreError, Unlock,
};

#[tokio::test]
async fn a_reregistered_user_changes_identity_and_a_verified_contact_is_blocked_until_accepted() {
    let tmp = tempfile::tempdir().unwrap();
    let relay_dir = tmp.path().join("relay");
    std::fs::create_dir_all(&relay_dir).unwrap();
    let relay = Relay::start(&relay_dir).await;
    let alice = register(&relay, &tmp.path().join("alice"), "alice").await;
    let bob = register(&relay, &tmp.path().join("bob"), "bob").await;
    let carol = register(&relay, &tmp.path().join("carol"), "carol").await;
    alice.send("bob", "hello").await.unwrap();
    bob.receive(ReceiveMode::UntilEmpty).await.unwrap();
    alice.send("carol", "hello carol").await.unwrap();
    carol.receive(ReceiveMode::UntilEmpty).await.unwrap();
    let old_number = alice.safety_number("bob").await.unwrap();
    alice.mark_verified("bob").await.unwrap();

    // The operator removes bob's and carol's accounts; both register again from new profiles.
    let addr = relay.addr();
    relay.kill().await;
    remove_account(&relay_dir, "bob").await;
    remove_account(&relay_dir, "carol").await;
    let relay = Relay::start_on(&relay_dir, &addr).await;
    let new_bob = register(&relay, &tmp.path().join("bob2"), "bob").await;
    let new_carol = register(&relay, &tmp.path().join("carol2"), "carol").await;
    new_bob.send("alice", "it's me, new phone").await.unwrap();

    let mut events = alice.subscribe();
    assert_eq!(
        alice.receive(ReceiveMode::UntilEmpty).await.unwrap().stored,
        1
    );
    let seen = drain(&mut events);
    assert!(seen.contains(&Event::IdentityChanged {
        username: "bob".into(),
        was_verified: true
    }));
    assert_eq!(texts(&seen), ["it's me, new phone"]);
    let contact = alice.contact("bob").await.unwrap().unwrap();
    assert!(contact.verified && contact.identity_changed);
    assert_ne!(alice.safety_number("bob").await.unwrap(), old_number);

    let refused = alice.send("bob", "are you really bob?").await;
    assert!(
        matches!(refused, Err(ClientError::UntrustedIdentity { ref username }) if username == "bob"),
        "{refused:?}"
    );
    // Nothing went out while refused.
    assert_eq!(
        new_bob
            .receive(ReceiveMode::UntilEmpty)
            .await
            .unwrap()
            .envelopes,
        0
    );

    alice.accept_identity("bob").await.unwrap();
    alice.send("bob", "welcome back").await.unwrap();
    assert_eq!(
        new_bob
            .receive(ReceiveMode::UntilEmpty)
            .await
            .unwrap()
            .stored,
        1
    );
    assert_eq!(
        history_texts(&new_bob, "alice").await,
        ["it's me, new phone", "welcome back"]
    );
    // Alice keeps the whole conversation under the username.
    assert_eq!(
        history_texts(&alice, "bob").await,
        ["hello", "it's me, new phone", "welcome back"]
    );

    // Carol was never verified: the change is reported and sending goes on.
    let mut events = alice.subscribe();
    alice.send("carol", "new keys?").await.unwrap();
    assert_eq!(
        drain(&mut events).first(),
        Some(&Event::IdentityChanged {
            username: "carol".into(),
            was_verified: false
        })
    );
    assert_eq!(
        new_carol
            .receive(ReceiveMode::UntilEmpty)
            .await
            .unwrap()
            .stored,
        1
    );
    assert_eq!(history_texts(&new_carol, "alice").await, ["new keys?"]);
}

/// Deletes an account from a stopped relay's database, as an operator would.
async fn remove_account(relay_dir: &Path, username: &str) {
    let url = format!("sqlite://{}", relay_dir.join("sotto.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let done = sqlx::query("DELETE FROM accounts WHERE username = ?")
        .bind(username)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 1);
    pool.close().await;
}

#[tokio::test]
async fn garbage_from_a_peer_is_dropped_without_harm() {
    let tmp = tempfile::tempdir().unwrap();
    let relay_dir = tmp.path().join("relay");
    std::fs::create_dir_all(&relay_dir).unwrap();
    let relay = Relay::start(&relay_dir).await;
    let alice = register(&relay, &tmp.path().join("alice"), "alice").await;
    let bob = register(&relay, &tmp.path().join("bob"), "bob").await;
    alice.send("bob", "before").await.unwrap();
    bob.receive(ReceiveMode::UntilEmpty).await.unwrap();

    // Alice's device, bypassing the SDK, sends bytes that are no Sotto message.
    let path = format!(
        "/v1/messages/{}/{}",
        bob.account().account_id,
        "0123456789abcdef0123"
    );
    let garbage = serde_json::json!({"envelopes": [{"device_id": 1, "content": "AQIDBAUGBwg="}]});
    let (status, answer) =
        raw_send(&relay, alice.account(), hyper::Method::PUT, &path, &garbage).await;
    assert_eq!(status, 200, "{answer}");
    let mut events = bob.subscribe();
    let summary = bob.receive(ReceiveMode::UntilEmpty).await.unwrap();
    assert_eq!((summary.envelopes, summary.stored), (1, 0));
    assert!(matches!(
        drain(&mut events).as_slice(),
        [Event::Undecryptable { .. }]
    ));

    // It was acked, and the session with alice still works both ways.
    assert_eq!(
        bob.receive(ReceiveMode::UntilEmpty).await.unwrap().stored,
        0
    );
    alice.send("bob", "after").await.unwrap();
    bob.send("alice", "still here").await.unwrap();
    assert_eq!(
        bob.receive(ReceiveMode::UntilEmpty).await.unwrap().stored,
        1
    );
    assert_eq!(
        alice.receive(ReceiveMode::UntilEmpty).await.unwrap().stored,
        1
    );
    // Bob wrote "still here" before he fetched "after".
    assert_eq!(
        history_texts(&bob, "alice").await,
        ["before", "still here", "after"]
    );
}

#[tokio::test]
async fn chat_over_tls_trusts_only_the_pinned_certificate_authority() {
    let tmp = tempfile::tempdir().unwrap();
    let relay_dir = tmp.path().join("relay");
    std::fs::create_dir_all(&relay_dir).unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert, key) = (tmp.path().join("cert.pem"), tmp.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    let tls_args = ["--tls-cert", cert.as_str(), "--tls-key", key.as_str()];
    let relay = Relay::start_with(&relay_dir, "127.0.0.1:0", &tls_args).await;
    assert!(relay.url.starts_with("https://"), "{}", relay.url);
    let url = format!(
        "https://localhost:{}",
        relay.addr().rsplit(':').next().unwrap()
    );
    let server = Server::new(url.clone()).with_ca_pem(certified.cert.pem());

    let register_at = |dir: &str, name: &'static str, server: Server| {
        let dir = tmp.path().join(dir);
        async move {
            Profile::open(&dir, &key_file(&dir))
                .await
                .unwrap()
                .register(server, name, None)
                .await
        }
    };
    let alice = register_at("alice", "alice", server.clone()).await.unwrap();
    let bob = register_at("bob", "bob", server.clone()).await.unwrap();
    alice.send("bob", "over TLS").await.unwrap();
    assert_eq!(
        bob.receive(ReceiveMode::UntilEmpty).await.unwrap().stored,
        1
    );
    // The pinned CA is part of the profile.
    bob.close().await;
    drop(bob);
    let bob = reopen(&tmp.path().join("bob")).await;
    bob.send("alice", "still over TLS").await.unwrap();
    assert_eq!(
        alice.receive(ReceiveMode::UntilEmpty).await.unwrap().stored,
        1
    );

    // Without the pin (system roots) or with another CA, the relay is refused.
    let unpinned = register_at("carol", "carol", Server::new(url.clone())).await;
    assert!(
        matches!(unpinned, Err(ClientError::Relay(RelayError::Tls(_)))),
        "{unpinned:?}"
    );
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let wrong_ca = Server::new(url).with_ca_pem(other.cert.pem());
    let wrong = register_at("dave", "dave", wrong_ca).await;
    assert!(
        matches!(wrong, Err(ClientError::Relay(RelayError::Tls(_)))),
        "{wrong:?}"
    );
}

#[tokio::test]
async fn a_profile_is_used_by_one_process_at_a_time() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("profile");
    let first = Profile::open(&dir, &key_file(&dir)).await.unwrap();
    let second = Profile::open(&dir, &key_file(&dir)).await;
    assert!(matches!(second, Err(StoreError::InUse)), "{second:?}");
    drop(first);
    Profile::open(&dir, &key_file(&dir)).await.unwrap();
}

#[tokio::test]
async fn a_wrong_passphrase_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("profile");
    let profile = Profile::open(&dir, &Unlock::passphrase("correct horse"))
        .await
        .unwrap();
    drop(profile);
    let wrong = Profile::open(&dir, &Unlock::passphrase("battery staple")).await;
    assert!(
        matches!(wrong, Err(StoreError::WrongPassphrase)),
        "{wrong:?}"
    );
    let other_method = Profile::open(&dir, &key_file(&dir)).await;
    assert!(
        matches!(other_method, Err(StoreError::WrongUnlockMethod { .. })),
        "{other_method:?}"
    );
    Profile::open(&dir, &Unlock::passphrase("correct horse"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_key_file_readable_by_others_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("profile");
    let unlock = key_file(&dir);
    drop(Profile::open(&dir, &unlock).await.unwrap());
    let path = dir.join(sotto_client::KEY_FILE);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let open = Profile::open(&dir, &unlock).await;
    assert!(
        matches!(open, Err(StoreError::KeyFileTooOpen { mode: 0o644, .. })),
        "{open:?}"
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    Profile::open(&dir, &unlock).await.unwrap();

    // Another profile's key file does not open this one.
    let other = tmp.path().join("other");
    let other_unlock = key_file(&other);
    drop(Profile::open(&other, &other_unlock).await.unwrap());
    let wrong = Profile::open(&dir, &other_unlock).await;
    assert!(matches!(wrong, Err(StoreError::WrongKeyFile)), "{wrong:?}");
}

#[tokio::test]
async fn wiretap_the_relay_and_the_profiles_hold_no_plaintext() {
    let tmp = tempfile::tempdir().unwrap();
    let relay_dir = tmp.path().join("relay");
    std::fs::create_dir_all(&relay_dir).unwrap();
    let relay = Relay::start(&relay_dir).await;
    let (alice_dir, bob_dir) = (tmp.path().join("alice"), tmp.path().join("bob"));
    let alice = register(&relay, &alice_dir, "alice").await;
    let bob = register(&relay, &bob_dir, "bob").await;
    let secrets: Vec<String> = (0..12).map(|_| random_text()).collect();
    for pair in secrets.chunks(2) {
        alice.send("bob", &pair[0]).await.unwrap();
        bob.receive(ReceiveMode::UntilEmpty).await.unwrap();
        bob.send("alice", &pair[1]).await.unwrap();
        alice.receive(ReceiveMode::UntilEmpty).await.unwrap();
    }
    // The last two messages are still queued on the relay when it is killed.
    let queued = [random_text(), random_text()];
    for text in &queued {
        alice.send("bob", text).await.unwrap();
    }
    assert_eq!(history_texts(&bob, "alice").await.len(), 12);
    alice.close().await;
    bob.close().await;
    relay.kill().await;

    let all: Vec<&String> = secrets.iter().chain(&queued).collect();
    // The scanner works: the relay does hold usernames in the clear.
    assert!(!find_in_files(&relay_dir, &["alice".to_owned()]).is_empty());
    for dir in [&relay_dir, &alice_dir, &bob_dir] {
        let texts: Vec<String> = all.iter().map(|s| s.to_string()).collect();
        let found = find_in_files(dir, &texts);
        assert!(
            found.is_empty(),
            "plaintext found under {}: {found:?}",
            dir.display()
        );
    }
}

fn random_text() -> String {
    const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    (0..24)
        .map(|_| LETTERS[rng.random_range(0..LETTERS.len())] as char)
        .collect()
}

/// Every encoding of `text` we look for: raw, hex, UTF-16 and base64 at each alignment.
fn encodings(text: &str) -> Vec<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = vec![
        bytes.to_vec(),
        hex::encode(bytes).into_bytes(),
        hex::encode_upper(bytes).into_bytes(),
        text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
    ];
    // Embedded at any offset of a base64 stream, the whole 3-byte groups of one of these
    // suffixes are encoded verbatim.
    for skip in 0..3 {
        let whole = (bytes.len() - skip) / 3 * 3;
        out.push(STANDARD.encode(&bytes[skip..skip + whole]).into_bytes());
    }
    out
}

/// `(file, text)` for each text found in any encoding in a file under `dir`.
fn find_in_files(dir: &Path, texts: &[String]) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(find_in_files(&path, texts));
            continue;
        }
        let data = std::fs::read(&path).unwrap();
        for text in texts {
            if encodings(text).iter().any(|needle| contains(&data, needle)) {
                found.push((path.display().to_string(), text.clone()));
            }
        }
    }
    found
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
