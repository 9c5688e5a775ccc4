//! The storage conformance suite: every backend must pass [`run`] unchanged.
//!
//! A backend's test calls `run` with a factory that makes a fresh, empty store.

use super::*;
use crate::domain::SecretHash;
use sotto_proto::api::{Base64Bytes, PreKey, PreKeyUpload, SignedPreKey};
use std::any::Any;
use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

mod multi;
mod sealed;

/// A fresh store plus whatever must outlive it (a temporary directory, a database handle).
pub(crate) struct Fixture {
    pub store: Arc<dyn Store>,
    _guard: Box<dyn Any + Send>,
}

impl Fixture {
    pub(crate) fn new(store: Arc<dyn Store>, guard: Box<dyn Any + Send>) -> Self {
        Self {
            store,
            _guard: guard,
        }
    }
}

/// Runs every check, each on a fresh store.
pub(crate) async fn run<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Fixture>,
{
    accounts_are_unique_by_folded_username(factory().await).await;
    registration_tokens_are_consumed(factory().await).await;
    devices_are_capped_and_numbered(factory().await).await;
    disabling_shows_in_credentials(factory().await).await;
    one_time_prekeys_are_taken_once(factory().await).await;
    concurrent_takes_never_share_a_key(factory().await).await;
    uploads_replace_keys_of_their_kind(factory().await).await;
    mailbox_orders_dedups_and_acks(factory().await).await;
    full_mailbox_stores_nothing(factory().await).await;
    envelopes_expire(factory().await).await;
    concurrent_retries_store_once(factory().await).await;
    commit_hook_sees_each_stored_envelope_once(factory().await).await;
    super::conformance_linking::run(&factory).await;
    multi::run(&factory).await;
    sealed::run(&factory).await;
}

fn signed(id: u32, tag: u8) -> SignedPreKey {
    SignedPreKey {
        key_id: id,
        public_key: Base64Bytes(vec![tag; 33]),
        signature: Base64Bytes(vec![tag; 64]),
    }
}

pub(crate) fn initial_keys(one_time: u32) -> PreKeyUpload {
    PreKeyUpload {
        signed_prekey: Some(signed(1, 0xA1)),
        last_resort_kem_prekey: Some(signed(2, 0xA2)),
        one_time_prekeys: (0..one_time)
            .map(|i| PreKey {
                key_id: 100 + i,
                public_key: Base64Bytes(vec![5; 33]),
            })
            .collect(),
        one_time_kem_prekeys: (0..one_time).map(|i| signed(200 + i, 6)).collect(),
    }
}

pub(crate) fn device_record(secret: u8, keys: u32) -> NewDeviceRecord {
    NewDeviceRecord {
        secret_hash: SecretHash::of_secret(&[secret; 32]).unwrap(),
        registration_id: 1000 + u32::from(secret),
        prekeys: initial_keys(keys),
    }
}

pub(crate) fn today() -> Day {
    Day("2026-11-26".into())
}

/// Registers `name` with one device holding three one-time keys of each kind.
pub(crate) async fn register(store: &dyn Store, name: &str) -> AccountId {
    let id = AccountId::random().unwrap();
    store
        .create_account(NewAccount {
            id: id.clone(),
            username: Username::parse(name).unwrap(),
            identity_key: vec![9; 65],
            device: device_record(1, 3),
            token_hash: None,
            today: today(),
        })
        .await
        .unwrap();
    id
}

fn first(account: &AccountId) -> DeviceAddress {
    DeviceAddress {
        account: account.clone(),
        device: DeviceId::FIRST,
    }
}

async fn accounts_are_unique_by_folded_username(f: Fixture) {
    let store = f.store.as_ref();
    let id = register(store, "alice").await;
    let found = store
        .account_by_username(&Username::parse("ALICE").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.id.clone(), found.identity_key.len(), found.disabled),
        (id.clone(), 65, false)
    );
    assert_eq!(store.account(&id).await.unwrap(), Some(found));
    let again = NewAccount {
        id: AccountId::random().unwrap(),
        username: Username::parse("Alice").unwrap(),
        identity_key: vec![1],
        device: device_record(2, 0),
        token_hash: None,
        today: today(),
    };
    assert!(matches!(
        store.create_account(again).await,
        Err(StoreError::UsernameTaken)
    ));
    assert_eq!(store.list_accounts().await.unwrap().len(), 1);
    let devices = store.devices(&id).await.unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(
        (devices[0].id, devices[0].registration_id),
        (DeviceId::FIRST, 1001)
    );
    let creds = store.credentials(&first(&id)).await.unwrap().unwrap();
    assert!(
        creds
            .secret_hash
            .matches(&SecretHash::of_secret(&[1; 32]).unwrap())
    );
    store
        .touch_device(&first(&id), &Day("2026-11-27".into()))
        .await
        .unwrap();
    assert_eq!(
        store.devices(&id).await.unwrap()[0].last_seen.0,
        "2026-11-27"
    );
    assert!(
        store
            .account_by_username(&Username::parse("bob").unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

async fn registration_tokens_are_consumed(f: Fixture) {
    let store = f.store.as_ref();
    store
        .add_registration_token([7; 32], 1, today())
        .await
        .unwrap();
    let with_token = |name: &str, token: [u8; 32]| NewAccount {
        id: AccountId::random().unwrap(),
        username: Username::parse(name).unwrap(),
        identity_key: vec![1],
        device: device_record(1, 0),
        token_hash: Some(token),
        today: today(),
    };
    assert!(matches!(
        store.create_account(with_token("carol", [8; 32])).await,
        Err(StoreError::InvalidToken)
    ));
    store
        .create_account(with_token("carol", [7; 32]))
        .await
        .unwrap();
    assert!(matches!(
        store.create_account(with_token("dave", [7; 32])).await,
        Err(StoreError::InvalidToken)
    ));
    assert!(
        store
            .account_by_username(&Username::parse("dave").unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

async fn devices_are_capped_and_numbered(f: Fixture) {
    let store = f.store.as_ref();
    let id = register(store, "erin").await;
    let second = store
        .add_device(&id, device_record(2, 1), 3, today())
        .await
        .unwrap();
    let third = store
        .add_device(&id, device_record(3, 1), 3, today())
        .await
        .unwrap();
    assert_eq!((second.get(), third.get()), (2, 3));
    let over = store.add_device(&id, device_record(4, 1), 3, today()).await;
    assert!(
        matches!(over, Err(StoreError::TooManyDevices(3))),
        "{over:?}"
    );
    let nobody = AccountId::random().unwrap();
    assert!(matches!(
        store
            .add_device(&nobody, device_record(5, 1), 3, today())
            .await,
        Err(StoreError::NotFound)
    ));
    let address = DeviceAddress {
        account: id,
        device: third,
    };
    assert_eq!(
        store.prekey_counts(&address).await.unwrap(),
        PreKeyCounts {
            one_time: 1,
            one_time_kem: 1
        }
    );
}

async fn disabling_shows_in_credentials(f: Fixture) {
    let store = f.store.as_ref();
    let id = register(store, "frank").await;
    let name = Username::parse("frank").unwrap();
    assert!(store.set_disabled(&name, true).await.unwrap());
    assert!(
        store
            .credentials(&first(&id))
            .await
            .unwrap()
            .unwrap()
            .disabled
    );
    assert!(store.set_disabled(&name, false).await.unwrap());
    assert!(
        !store
            .credentials(&first(&id))
            .await
            .unwrap()
            .unwrap()
            .disabled
    );
    assert!(
        !store
            .set_disabled(&Username::parse("nobody").unwrap(), true)
            .await
            .unwrap()
    );
    let missing = DeviceAddress {
        account: id,
        device: DeviceId::new(9).unwrap(),
    };
    assert!(store.credentials(&missing).await.unwrap().is_none());
}

async fn one_time_prekeys_are_taken_once(f: Fixture) {
    let store = f.store.as_ref();
    let device = first(&register(store, "grace").await);
    let mut seen = HashSet::new();
    for _ in 0..3 {
        let taken = store.take_prekeys(&device).await.unwrap().unwrap();
        assert!(!taken.kem_is_last_resort);
        assert_eq!(taken.signed_prekey, signed(1, 0xA1));
        assert!(seen.insert(taken.one_time.unwrap().key_id));
        assert!(seen.insert(taken.kem.key_id));
    }
    assert_eq!(
        store.prekey_counts(&device).await.unwrap(),
        PreKeyCounts::default()
    );
    let dry = store.take_prekeys(&device).await.unwrap().unwrap();
    assert_eq!(
        (dry.one_time, dry.kem_is_last_resort, dry.kem),
        (None, true, signed(2, 0xA2))
    );
    let nobody = DeviceAddress {
        account: AccountId::random().unwrap(),
        device: DeviceId::FIRST,
    };
    assert!(store.take_prekeys(&nobody).await.unwrap().is_none());
}

async fn concurrent_takes_never_share_a_key(f: Fixture) {
    let device = first(&register(f.store.as_ref(), "heidi").await);
    let takers = (0..12).map(|_| {
        let (store, device) = (f.store.clone(), device.clone());
        tokio::spawn(async move { store.take_prekeys(&device).await.unwrap().unwrap() })
    });
    let mut ec = Vec::new();
    let mut kem = Vec::new();
    for taker in takers.collect::<Vec<_>>() {
        let taken = taker.await.unwrap();
        ec.extend(taken.one_time.map(|k| k.key_id));
        if !taken.kem_is_last_resort {
            kem.push(taken.kem.key_id);
        }
    }
    ec.sort_unstable();
    kem.sort_unstable();
    assert_eq!((ec, kem), (vec![100, 101, 102], vec![200, 201, 202]));
}

async fn uploads_replace_keys_of_their_kind(f: Fixture) {
    let store = f.store.as_ref();
    let device = first(&register(store, "ivan").await);
    let upload = PreKeyUpload {
        one_time_prekeys: (0..5)
            .map(|i| PreKey {
                key_id: 500 + i,
                public_key: Base64Bytes(vec![1]),
            })
            .collect(),
        signed_prekey: Some(signed(9, 0xB1)),
        ..PreKeyUpload::default()
    };
    store.store_prekeys(&device, &upload).await.unwrap();
    assert_eq!(
        store.prekey_counts(&device).await.unwrap(),
        PreKeyCounts {
            one_time: 5,
            one_time_kem: 3
        }
    );
    let taken = store.take_prekeys(&device).await.unwrap().unwrap();
    assert_eq!(
        (taken.one_time.unwrap().key_id, taken.signed_prekey.key_id),
        (500, 9)
    );
}

pub(crate) fn send(
    to: &AccountId,
    id: &str,
    devices: &[u32],
    from: Option<DeviceAddress>,
    max_queue: u32,
) -> Submission {
    Submission {
        recipient: to.clone(),
        message_id: MessageId::parse(id).unwrap(),
        sender: from,
        envelopes: devices
            .iter()
            .map(|d| NewEnvelope {
                device: DeviceId::new(*d).unwrap(),
                content: format!("{id}/{d}").into_bytes(),
            })
            .collect(),
        now_ms: 1_000_000,
        ttl_ms: 1_000,
        max_queue,
    }
}

async fn mailbox_orders_dedups_and_acks(f: Fixture) {
    let store = f.store.as_ref();
    let bob = register(store, "bob").await;
    let alice = first(&register(store, "alice").await);
    store
        .add_device(&bob, device_record(2, 0), 6, today())
        .await
        .unwrap();
    let (b1, b2) = (
        first(&bob),
        DeviceAddress {
            account: bob.clone(),
            device: DeviceId::new(2).unwrap(),
        },
    );
    let ids = [
        "message-0000000001",
        "message-0000000002",
        "message-0000000003",
    ];
    for id in ids {
        let outcome = store
            .store(send(&bob, id, &[1, 2], Some(alice.clone()), 100))
            .await
            .unwrap();
        assert_eq!(outcome, SendOutcome::Stored);
    }
    let retry = store
        .store(send(&bob, ids[0], &[1, 2], Some(alice.clone()), 100))
        .await
        .unwrap();
    assert_eq!(retry, SendOutcome::Duplicate);
    let queued = store.pending(&b1, 0, 10, 1_000_000).await.unwrap();
    let order: Vec<_> = queued.iter().map(|e| e.message_id.as_str()).collect();
    assert_eq!(order, ids);
    assert_eq!(&queued[0].content[..], b"message-0000000001/1");
    assert_eq!(
        (queued[0].sender.clone(), queued[0].server_timestamp),
        (Some(alice.clone()), 1_000_000)
    );
    assert!(queued.windows(2).all(|w| w[0].id < w[1].id));
    let later = store
        .pending(&b1, queued[0].id, 10, 1_000_000)
        .await
        .unwrap();
    assert_eq!(later.len(), 2);
    // Acking with the other device's address deletes nothing.
    assert_eq!(store.ack(&b2, &[queued[0].id]).await.unwrap(), 0);
    assert_eq!(
        store.ack(&b1, &[queued[0].id, queued[1].id]).await.unwrap(),
        2
    );
    assert_eq!(store.queue_len(&b1).await.unwrap(), 1);
    assert_eq!(store.queue_len(&b2).await.unwrap(), 3);
    // A retry after delivery and ack is still not stored again.
    let late_retry = store
        .store(send(&bob, ids[0], &[1, 2], Some(alice), 100))
        .await
        .unwrap();
    assert_eq!(late_retry, SendOutcome::Duplicate);
    assert_eq!(store.queue_len(&b1).await.unwrap(), 1);
    assert_eq!(store.remembered_ids(&bob).await.unwrap(), 3);
    // The same envelope acked twice at once (e.g. by a client retrying) is deleted once.
    let last = queued[2].id;
    let (twice, once) = ([last, last], [last]);
    let (first_ack, second_ack) = tokio::join!(store.ack(&b1, &twice), store.ack(&b1, &once));
    assert_eq!(first_ack.unwrap() + second_ack.unwrap(), 1);
    assert_eq!(store.queue_len(&b1).await.unwrap(), 0);
}

async fn full_mailbox_stores_nothing(f: Fixture) {
    let store = f.store.as_ref();
    let bob = register(store, "bob").await;
    store
        .add_device(&bob, device_record(2, 0), 6, today())
        .await
        .unwrap();
    store
        .store(send(&bob, "fill-000000000001", &[2], None, 1))
        .await
        .unwrap();
    let full = store
        .store(send(&bob, "fill-000000000002", &[1, 2], None, 1))
        .await;
    assert!(matches!(full, Err(StoreError::MailboxFull)), "{full:?}");
    assert_eq!(store.queue_len(&first(&bob)).await.unwrap(), 0);
    // The failed id was not remembered: a retry once there is room is stored.
    let device2 = DeviceAddress {
        account: bob.clone(),
        device: DeviceId::new(2).unwrap(),
    };
    let queued = store.pending(&device2, 0, 10, 0).await.unwrap();
    store.ack(&device2, &[queued[0].id]).await.unwrap();
    let retry = store
        .store(send(&bob, "fill-000000000002", &[1, 2], None, 1))
        .await
        .unwrap();
    assert_eq!(retry, SendOutcome::Stored);
}

async fn envelopes_expire(f: Fixture) {
    let store = f.store.as_ref();
    let bob = register(store, "bob").await;
    store
        .store(send(&bob, "expiring-00000001", &[1], None, 10))
        .await
        .unwrap();
    assert_eq!(
        store
            .pending(&first(&bob), 0, 10, 1_000_999)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .pending(&first(&bob), 0, 10, 1_001_000)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.purge_expired(1_001_000).await.unwrap(), 1);
    assert_eq!(
        (
            store.queue_len(&first(&bob)).await.unwrap(),
            store.remembered_ids(&bob).await.unwrap()
        ),
        (0, 0)
    );
}

async fn concurrent_retries_store_once(f: Fixture) {
    let bob = register(f.store.as_ref(), "bob").await;
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let (store, bob) = (f.store.clone(), bob.clone());
            let id = if i % 2 == 0 {
                "same-message-0001"
            } else {
                "same-message-0002"
            };
            tokio::spawn(async move { store.store(send(&bob, id, &[1], None, 100)).await.unwrap() })
        })
        .collect();
    let mut stored = 0;
    for task in tasks {
        stored += usize::from(task.await.unwrap() == SendOutcome::Stored);
    }
    assert_eq!(stored, 2);
    assert_eq!(f.store.queue_len(&first(&bob)).await.unwrap(), 2);
}

#[derive(Default)]
struct Recorder(std::sync::Mutex<Vec<(DeviceAddress, QueuedEnvelope)>>);

impl CommitHook for Recorder {
    fn committed(&self, envelopes: Vec<(DeviceAddress, QueuedEnvelope)>) {
        self.0.lock().unwrap().extend(envelopes);
    }
}

async fn commit_hook_sees_each_stored_envelope_once(f: Fixture) {
    let recorder = Arc::new(Recorder::default());
    f.store.set_commit_hook(recorder.clone());
    let bob = register(f.store.as_ref(), "bob").await;
    f.store
        .add_device(&bob, device_record(2, 0), 6, today())
        .await
        .unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (store, bob) = (f.store.clone(), bob.clone());
            tokio::spawn(async move {
                let id = format!("hooked-message-{:04}", i % 10);
                store
                    .store(send(&bob, &id, &[1, 2], None, 100))
                    .await
                    .unwrap()
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let seen = recorder.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 20, "10 distinct ids x 2 devices");
    for device in [
        first(&bob),
        DeviceAddress {
            account: bob.clone(),
            device: DeviceId::new(2).unwrap(),
        },
    ] {
        let hooked: Vec<QueuedEnvelope> = seen
            .iter()
            .filter(|(d, _)| *d == device)
            .map(|(_, e)| e.clone())
            .collect();
        let stored = f.store.pending(&device, 0, 100, 0).await.unwrap();
        assert_eq!(
            hooked, stored,
            "hook and mailbox agree on ids, order and content"
        );
    }
}

/// The attachment index's contract; every backend's tests call it with a fresh store.
pub(crate) async fn attachments(store: &dyn Store) {
    use crate::domain::AttachmentId;
    use crate::store::{AttachmentUsage, NewAttachment};
    let owner = register(store, "uploader").await;
    let other = register(store, "bystander").await;
    let new = |account: &AccountId, size: u64, day: &str| NewAttachment {
        id: AttachmentId::random().unwrap(),
        account: account.clone(),
        size,
        expires: Day(day.to_owned()),
    };
    let first = new(&owner, 600, "2026-01-10");
    store.create_attachment(&first, 1000).await.unwrap();
    let over = new(&owner, 401, "2026-01-10");
    let refused = store.create_attachment(&over, 1000).await;
    assert!(
        matches!(refused, Err(StoreError::QuotaExceeded)),
        "{refused:?}"
    );
    assert_eq!(store.attachment(&over.id).await.unwrap(), None);
    // Another account's quota is its own.
    store
        .create_attachment(&new(&other, 1000, "2026-01-20"), 1000)
        .await
        .unwrap();
    let second = new(&owner, 400, "2026-01-20");
    store.create_attachment(&second, 1000).await.unwrap();

    let record = store.attachment(&first.id).await.unwrap().unwrap();
    assert_eq!(
        (record.size, record.received, record.complete),
        (600, 0, false)
    );
    assert_eq!(record.account, owner);
    store.set_received(&first.id, 250, false).await.unwrap();
    store.set_received(&first.id, 600, true).await.unwrap();
    let record = store.attachment(&first.id).await.unwrap().unwrap();
    assert_eq!((record.received, record.complete), (600, true));
    let missing = AttachmentId::random().unwrap();
    assert!(matches!(
        store.set_received(&missing, 1, false).await,
        Err(StoreError::NotFound)
    ));
    let usage = store.attachment_usage(&owner).await.unwrap();
    assert_eq!(
        usage,
        AttachmentUsage {
            count: 2,
            bytes: 1000
        }
    );

    // The last day is still kept; the day after, the record goes.
    assert!(
        store
            .purge_expired_attachments(&Day("2026-01-10".into()))
            .await
            .unwrap()
            .is_empty()
    );
    let purged = store
        .purge_expired_attachments(&Day("2026-01-11".into()))
        .await
        .unwrap();
    assert_eq!(purged, vec![first.id.clone()]);
    assert_eq!(store.attachment(&first.id).await.unwrap(), None);
    // Purging frees quota.
    store
        .create_attachment(&new(&owner, 600, "2026-02-01"), 1000)
        .await
        .unwrap();
}
