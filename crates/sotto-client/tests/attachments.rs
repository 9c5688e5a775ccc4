//! Attachments end to end through the real relay: round trips of edge sizes, the size limit,
//! uploads and downloads cut mid-way and resumed (also after reopening the profile),
//! tampered blobs or digests refused without leaving plaintext behind, and saved files removed
//! with their message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "common/proxy.rs"]
mod proxy;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use common::*;
use proxy::Proxy;
use sotto_client::content::AttachmentPointer;
use sotto_client::{
    Client, ClientError, Event, NoProgress, OutgoingMessage, Profile, ReceiveMode, RelayError,
};
use sotto_core::attachment::{AttachmentError, ciphertext_len};

const MIB: usize = 1 << 20;

/// Deterministic, non-repeating-looking content.
fn content(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0] ^ seed)
        .collect()
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Registers `username` at `url` (the relay, or a proxy in front of it).
async fn register_at(url: &str, dir: &Path, username: &str) -> Client {
    Profile::open(dir, &key_file(dir))
        .await
        .unwrap()
        .register(url, username, None)
        .await
        .unwrap()
}

/// Files directly in `dir` (none if it does not exist).
fn files_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| entries.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

/// The relay's stored blob of attachment `id`.
fn relay_blob(relay: &Relay, id: &str) -> PathBuf {
    let mut stack = vec![relay.data_dir.clone()];
    while let Some(dir) = stack.pop() {
        for path in files_in(&dir) {
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == id) {
                return path;
            }
        }
    }
    panic!("no blob {id} under the relay's data dir");
}

/// Sends `pointers` from `from` to `bob`, lets `to` receive, returns the message id.
async fn deliver(from: &Client, to: &Client, pointers: Vec<AttachmentPointer>) -> String {
    let id = from
        .send_message(
            "bob",
            OutgoingMessage::text("files").with_attachments(pointers),
        )
        .await
        .unwrap();
    to.receive(ReceiveMode::UntilEmpty).await.unwrap();
    id
}

#[tokio::test]
async fn files_of_edge_sizes_round_trip_and_are_recorded_in_the_history() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay").tap_dir()).await;
    let alice = register(&relay, &tmp.path().join("alice"), "alice").await;
    let bob = register(&relay, &tmp.path().join("bob"), "bob").await;
    let mut bob_events = bob.subscribe();
    let sizes = [0, 1, 64 * 1024 - 1, 64 * 1024, 64 * 1024 + 1, 20 * MIB];
    let mut originals = Vec::new();
    let mut pointers = Vec::new();
    for (n, size) in sizes.into_iter().enumerate() {
        let bytes = content(size, n as u8);
        let path = write_file(&tmp.path().join("out"), &format!("file{n}.bin"), &bytes);
        let pointer = alice.upload_attachment(&path, &NoProgress).await.unwrap();
        assert_eq!(
            (pointer.size, pointer.name.as_deref()),
            (size as u64, Some(format!("file{n}.bin").as_str()))
        );
        originals.push(bytes);
        pointers.push(pointer);
    }
    let id = deliver(&alice, &bob, pointers.clone()).await;
    let announced = drain(&mut bob_events).into_iter().find_map(|e| match e {
        Event::Message { details, .. } => Some(details.attachments),
        _ => None,
    });
    assert_eq!(announced.map(|a| a.len()), Some(sizes.len()));

    let save_dir = tmp.path().join("saved");
    let last = std::sync::Mutex::new((0, 0));
    let report = |done: u64, total: u64| *last.lock().unwrap() = (done, total);
    for (n, original) in originals.iter().enumerate() {
        let path = bob
            .save_attachment("alice", &id, n, &save_dir, &report)
            .await
            .unwrap();
        assert_eq!(path, save_dir.join(format!("file{n}.bin")));
        assert_eq!(
            &std::fs::read(&path).unwrap(),
            original,
            "size {}",
            sizes[n]
        );
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let total = ciphertext_len(original.len() as u64);
        assert_eq!(*last.lock().unwrap(), (total, total));
    }
    assert_eq!(
        files_in(&save_dir).len(),
        sizes.len(),
        "no temporary file left"
    );
    let saved = bob.attachments_of("alice", &id).await.unwrap();
    assert!(
        saved.iter().enumerate().all(|(n, a)| a.saved_as
            == Some(save_dir.join(format!("file{n}.bin")).display().to_string()))
    );

    // Fetching again without the history never clobbers: the copy gets a new name.
    let again = bob
        .download_attachment(&pointers[1], &save_dir, &NoProgress)
        .await
        .unwrap();
    assert_eq!(again, save_dir.join("file1 (1).bin"));
    assert_eq!(std::fs::read(again).unwrap(), originals[1]);
}

#[tokio::test]
async fn files_over_the_limit_are_refused_before_any_upload() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay").tap_dir()).await;
    let mut alice = register(&relay, &tmp.path().join("alice"), "alice").await;
    alice.set_attachment_limit(1000);
    let path = write_file(&tmp.path().join("out"), "big.bin", &content(1001, 1));
    let refused = alice.upload_attachment(&path, &NoProgress).await;
    assert!(
        matches!(
            refused,
            Err(ClientError::AttachmentTooLarge {
                size: 1001,
                limit: 1000
            })
        ),
        "{refused:?}"
    );
    let blobs = files_in(&relay.data_dir.join("attachments"));
    assert!(
        blobs.iter().all(|p| p.is_dir()),
        "nothing uploaded: {blobs:?}"
    );
    let small = write_file(&tmp.path().join("out"), "small.bin", &content(1000, 1));
    alice.upload_attachment(&small, &NoProgress).await.unwrap();
}

#[tokio::test]
async fn an_interrupted_upload_resumes_after_reopening_the_profile() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay").tap_dir()).await;
    let proxy = Proxy::start(relay.addr()).await;
    let alice_dir = tmp.path().join("alice");
    let alice = register_at(&proxy.url, &alice_dir, "alice").await;
    let bob = register(&relay, &tmp.path().join("bob"), "bob").await;
    alice.send("bob", "hi").await.unwrap();
    let original = content(8 * MIB, 7);
    let path = write_file(&tmp.path().join("out"), "movie.mp4", &original);
    let total = ciphertext_len(original.len() as u64);

    proxy.up.limit(3 * MIB as u64);
    let cut = alice.upload_attachment(&path, &NoProgress).await;
    assert!(
        matches!(cut, Err(ClientError::Relay(RelayError::Network(_)))),
        "{cut:?}"
    );
    alice.close().await;
    drop(alice);

    // The relay kept what arrived; the reopened profile knows the upload and continues it.
    let blob = files_in(&relay.data_dir.join("attachments"))
        .into_iter()
        .find(|p| p.is_file())
        .or_else(|| {
            files_in(&relay.data_dir.join("attachments"))
                .into_iter()
                .flat_map(|d| files_in(&d))
                .find(|p| p.is_file())
        })
        .expect("a partial blob on the relay");
    let held = std::fs::metadata(&blob).unwrap().len();
    assert!(held > 0 && held < total, "held {held} of {total}");
    proxy.up.unlimit();
    let alice = reopen(&alice_dir).await;
    let pointer = alice.upload_attachment(&path, &NoProgress).await.unwrap();
    let resent = proxy.up.carried();
    assert!(
        resent < total - held + 64 * 1024,
        "sent {resent} bytes again; the relay already held {held} of {total}"
    );
    assert_eq!(pointer.id, blob.file_name().unwrap().to_str().unwrap());

    let id = deliver(&alice, &bob, vec![pointer]).await;
    let saved = bob
        .save_attachment("alice", &id, 0, &tmp.path().join("saved"), &NoProgress)
        .await
        .unwrap();
    assert!(std::fs::read(saved).unwrap() == original);
}

#[tokio::test]
async fn an_interrupted_download_resumes_from_its_partial_file() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay").tap_dir()).await;
    let proxy = Proxy::start(relay.addr()).await;
    let alice = register(&relay, &tmp.path().join("alice"), "alice").await;
    let bob_dir = tmp.path().join("bob");
    let bob = register_at(&proxy.url, &bob_dir, "bob").await;
    let original = content(6 * MIB, 3);
    let path = write_file(&tmp.path().join("out"), "archive.tar", &original);
    let pointer = alice.upload_attachment(&path, &NoProgress).await.unwrap();
    let id = deliver(&alice, &bob, vec![pointer.clone()]).await;
    let total = ciphertext_len(original.len() as u64);
    let save_dir = tmp.path().join("saved");

    proxy.down.limit(2 * MIB as u64);
    let cut = bob
        .save_attachment("alice", &id, 0, &save_dir, &NoProgress)
        .await;
    assert!(
        matches!(cut, Err(ClientError::Relay(RelayError::Network(_)))),
        "{cut:?}"
    );
    assert!(files_in(&save_dir).is_empty(), "no plaintext yet");
    let partial = bob_dir.join("partial").join(&pointer.id);
    let have = std::fs::metadata(&partial).unwrap().len();
    assert!(have > MIB as u64 && have < total, "have {have} of {total}");

    proxy.down.unlimit();
    let saved = bob
        .save_attachment("alice", &id, 0, &save_dir, &NoProgress)
        .await
        .unwrap();
    let fetched = proxy.down.carried();
    assert!(
        fetched < total - have + 64 * 1024,
        "fetched {fetched} bytes; {have} of {total} were already here"
    );
    assert!(std::fs::read(saved).unwrap() == original);
    assert!(!partial.exists(), "the partial blob is removed once saved");
}

#[tokio::test]
async fn tampered_blobs_and_wrong_digests_leave_no_plaintext() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay").tap_dir()).await;
    let alice = register(&relay, &tmp.path().join("alice"), "alice").await;
    let bob_dir = tmp.path().join("bob");
    let bob = register(&relay, &bob_dir, "bob").await;
    let original = content(200_000, 9);
    let path = write_file(&tmp.path().join("out"), "secret.pdf", &original);
    let pointer = alice.upload_attachment(&path, &NoProgress).await.unwrap();
    let save_dir = tmp.path().join("saved");

    // A wrong digest in the message.
    let mut wrong = pointer.clone();
    wrong.digest.0[0] ^= 1;
    let refused = bob
        .download_attachment(&wrong, &save_dir, &NoProgress)
        .await;
    assert!(
        matches!(
            refused,
            Err(ClientError::Attachment(AttachmentError::DigestMismatch))
        ),
        "{refused:?}"
    );
    assert!(files_in(&save_dir).is_empty());
    assert!(files_in(&bob_dir.join("partial")).is_empty());

    // One flipped byte in the relay's copy.
    let blob = relay_blob(&relay, &pointer.id);
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[100_000] ^= 0x40;
    std::fs::write(&blob, bytes).unwrap();
    let refused = bob
        .download_attachment(&pointer, &save_dir, &NoProgress)
        .await;
    assert!(
        matches!(
            refused,
            Err(ClientError::Attachment(AttachmentError::DigestMismatch))
        ),
        "{refused:?}"
    );
    assert!(files_in(&save_dir).is_empty(), "no plaintext file left");
    assert!(files_in(&bob_dir.join("partial")).is_empty());

    // A key that is not the blob's: refused by the key commitment, nothing kept.
    let id = deliver(&alice, &bob, vec![pointer.clone()]).await;
    let _ = id;
    let other = write_file(&tmp.path().join("out"), "other.pdf", &original);
    let mut forged = alice.upload_attachment(&other, &NoProgress).await.unwrap();
    forged.key = pointer.key.clone();
    let refused = bob
        .download_attachment(&forged, &save_dir, &NoProgress)
        .await;
    assert!(
        matches!(
            refused,
            Err(ClientError::Attachment(AttachmentError::KeyMismatch))
        ),
        "{refused:?}"
    );
    assert!(files_in(&save_dir).is_empty());
}

#[tokio::test]
async fn a_saved_file_goes_when_its_message_is_deleted_for_everyone() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay").tap_dir()).await;
    let alice = register(&relay, &tmp.path().join("alice"), "alice").await;
    let bob = register(&relay, &tmp.path().join("bob"), "bob").await;
    let path = write_file(&tmp.path().join("out"), "oops.png", &content(5000, 5));
    let pointer = alice.upload_attachment(&path, &NoProgress).await.unwrap();
    let id = deliver(&alice, &bob, vec![pointer]).await;
    let saved = bob
        .save_attachment("alice", &id, 0, &tmp.path().join("saved"), &NoProgress)
        .await
        .unwrap();
    assert!(saved.is_file());

    alice.delete_for_everyone("bob", &id).await.unwrap();
    bob.receive(ReceiveMode::UntilEmpty).await.unwrap();
    assert!(!saved.exists(), "the deleted message's file is removed");
    let again = bob
        .save_attachment("alice", &id, 0, &tmp.path().join("saved"), &NoProgress)
        .await;
    assert!(
        matches!(again, Err(ClientError::UnknownMessage { .. })),
        "{again:?}"
    );
    assert!(files_in(&tmp.path().join("saved")).is_empty());
}

trait TapDir {
    fn tap_dir(self) -> Self;
}

impl TapDir for PathBuf {
    fn tap_dir(self) -> Self {
        std::fs::create_dir_all(&self).unwrap();
        self
    }
}
