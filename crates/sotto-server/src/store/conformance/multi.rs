//! The conformance checks of multi-recipient sends (one ciphertext stored once for many
//! devices), run by [`super::run`] against every backend.

use super::*;

/// Runs every multi-recipient check, each on a fresh store.
pub(crate) async fn run<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Fixture>,
{
    multi_send_is_stored_once_and_released_by_the_last_ack(factory().await).await;
    multi_send_to_a_full_mailbox_stores_nothing(factory().await).await;
    multi_send_expires_with_its_payload(factory().await).await;
    multi_send_skips_accounts_that_know_the_id(factory().await).await;
    concurrent_multi_retries_store_once(factory().await).await;
    commit_hook_sees_multi_envelopes_in_order(factory().await).await;
}

fn device(account: &AccountId, id: u32) -> DeviceAddress {
    DeviceAddress {
        account: account.clone(),
        device: DeviceId::new(id).unwrap(),
    }
}

fn multi(id: &str, to: &[(&AccountId, &[u32])], max_queue: u32) -> MultiSubmission {
    MultiSubmission {
        message_id: MessageId::parse(id).unwrap(),
        sender: None,
        content: Bytes::from(format!("group/{id}").into_bytes()),
        recipients: to
            .iter()
            .map(|(account, devices)| RecipientAccount {
                account: (*account).clone(),
                devices: devices.iter().map(|d| DeviceId::new(*d).unwrap()).collect(),
                prefix: Bytes::new(),
            })
            .collect(),
        now_ms: 1_000_000,
        ttl_ms: 1_000,
        max_queue,
    }
}

/// Bob (two devices) and Carol (one device).
async fn bob_and_carol(store: &dyn Store) -> (AccountId, AccountId) {
    let bob = register(store, "bob").await;
    store
        .add_device(&bob, device_record(2, 0), 6, today())
        .await
        .unwrap();
    (bob, register(store, "carol").await)
}

async fn multi_send_is_stored_once_and_released_by_the_last_ack(f: Fixture) {
    let store = f.store.as_ref();
    let (bob, carol) = bob_and_carol(store).await;
    let alice = first(&register(store, "alice").await);
    let before = send(&bob, "single-before-0001", &[1, 2], None, 100);
    store.store(before).await.unwrap();
    let mut group = multi(
        "group-message-0001",
        &[(&bob, &[1, 2]), (&carol, &[1])],
        100,
    );
    group.sender = Some(alice.clone());
    assert_eq!(
        store.store_multi(group.clone()).await.unwrap(),
        SendOutcome::Stored
    );
    store
        .store(send(&bob, "single-after-00001", &[1, 2], None, 100))
        .await
        .unwrap();
    assert_eq!(store.shared_payloads().await.unwrap(), 1);
    assert_eq!(
        store.store_multi(group).await.unwrap(),
        SendOutcome::Duplicate
    );
    assert_eq!(
        store.shared_payloads().await.unwrap(),
        1,
        "a retry stores nothing"
    );
    let queued = store
        .pending(&device(&bob, 2), 0, 10, 1_000_000)
        .await
        .unwrap();
    let order: Vec<_> = queued.iter().map(|e| e.message_id.as_str()).collect();
    assert_eq!(
        order,
        [
            "single-before-0001",
            "group-message-0001",
            "single-after-00001"
        ]
    );
    assert_eq!(&queued[1].content[..], b"group/group-message-0001");
    assert_eq!(&queued[2].content[..], b"single-after-00001/2");
    assert_eq!(queued[1].sender, Some(alice));
    let carols = store
        .pending(&first(&carol), 0, 10, 1_000_000)
        .await
        .unwrap();
    assert_eq!(carols.len(), 1);
    assert_eq!(carols[0].content, queued[1].content);
    let bobs = store.pending(&first(&bob), 0, 10, 1_000_000).await.unwrap();
    assert_eq!(store.ack(&first(&bob), &[bobs[1].id]).await.unwrap(), 1);
    assert_eq!(store.ack(&first(&carol), &[carols[0].id]).await.unwrap(), 1);
    assert_eq!(
        store.shared_payloads().await.unwrap(),
        1,
        "device 2 still holds it"
    );
    assert_eq!(
        store.ack(&device(&bob, 2), &[queued[1].id]).await.unwrap(),
        1
    );
    assert_eq!(
        store.shared_payloads().await.unwrap(),
        0,
        "the last ack released it"
    );
    assert_eq!(store.queue_len(&device(&bob, 2)).await.unwrap(), 2);
}

async fn multi_send_to_a_full_mailbox_stores_nothing(f: Fixture) {
    let store = f.store.as_ref();
    let (bob, carol) = bob_and_carol(store).await;
    store
        .store(send(&carol, "fills-carol-00001", &[1], None, 1))
        .await
        .unwrap();
    let group = multi("group-message-0002", &[(&bob, &[1, 2]), (&carol, &[1])], 1);
    let full = store.store_multi(group.clone()).await;
    assert!(matches!(full, Err(StoreError::MailboxFull)), "{full:?}");
    assert_eq!(store.queue_len(&first(&bob)).await.unwrap(), 0);
    assert_eq!(store.remembered_ids(&bob).await.unwrap(), 0);
    assert_eq!(store.shared_payloads().await.unwrap(), 0);
    let roomier = MultiSubmission {
        max_queue: 2,
        ..group
    };
    assert_eq!(
        store.store_multi(roomier).await.unwrap(),
        SendOutcome::Stored
    );
}

async fn multi_send_expires_with_its_payload(f: Fixture) {
    let store = f.store.as_ref();
    let (bob, carol) = bob_and_carol(store).await;
    let group = multi("group-message-0003", &[(&bob, &[1, 2]), (&carol, &[1])], 10);
    store.store_multi(group).await.unwrap();
    let pending = store
        .pending(&first(&carol), 0, 10, 1_001_000)
        .await
        .unwrap();
    assert!(pending.is_empty(), "expired entries are not delivered");
    assert_eq!(store.purge_expired(1_001_000).await.unwrap(), 3);
    assert_eq!(store.shared_payloads().await.unwrap(), 0);
    assert_eq!(store.remembered_ids(&carol).await.unwrap(), 0);
}

async fn multi_send_skips_accounts_that_know_the_id(f: Fixture) {
    let store = f.store.as_ref();
    let (bob, carol) = bob_and_carol(store).await;
    store
        .store(send(&bob, "group-message-0004", &[1, 2], None, 10))
        .await
        .unwrap();
    let group = multi("group-message-0004", &[(&bob, &[1, 2]), (&carol, &[1])], 10);
    assert_eq!(store.store_multi(group).await.unwrap(), SendOutcome::Stored);
    assert_eq!(
        store.queue_len(&first(&bob)).await.unwrap(),
        1,
        "only the first"
    );
    assert_eq!(store.queue_len(&first(&carol)).await.unwrap(), 1);
    let carols = store.pending(&first(&carol), 0, 10, 0).await.unwrap();
    store.ack(&first(&carol), &[carols[0].id]).await.unwrap();
    assert_eq!(
        store.shared_payloads().await.unwrap(),
        0,
        "one reference: carol's"
    );
}

async fn concurrent_multi_retries_store_once(f: Fixture) {
    let (bob, carol) = bob_and_carol(f.store.as_ref()).await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (store, bob, carol) = (f.store.clone(), bob.clone(), carol.clone());
            let group = multi(
                "group-message-0005",
                &[(&bob, &[1, 2]), (&carol, &[1])],
                100,
            );
            tokio::spawn(async move { store.store_multi(group).await.unwrap() })
        })
        .collect();
    let mut stored = 0;
    for task in tasks {
        stored += usize::from(task.await.unwrap() == SendOutcome::Stored);
    }
    assert_eq!(stored, 1);
    assert_eq!(f.store.shared_payloads().await.unwrap(), 1);
    assert_eq!(f.store.queue_len(&device(&bob, 2)).await.unwrap(), 1);
}

async fn commit_hook_sees_multi_envelopes_in_order(f: Fixture) {
    let recorder = Arc::new(Recorder::default());
    f.store.set_commit_hook(recorder.clone());
    let (bob, carol) = bob_and_carol(f.store.as_ref()).await;
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let (store, bob, carol) = (f.store.clone(), bob.clone(), carol.clone());
            tokio::spawn(async move {
                let id = format!("hooked-group-{i:05}");
                if i % 2 == 0 {
                    store.store(send(&bob, &id, &[1, 2], None, 100)).await
                } else {
                    let to: [(&AccountId, &[u32]); 2] = [(&bob, &[1, 2]), (&carol, &[1])];
                    store.store_multi(multi(&id, &to, 100)).await
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let seen = recorder.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 5 * 2 + 5 * 3);
    for address in [first(&bob), device(&bob, 2), first(&carol)] {
        let hooked: Vec<QueuedEnvelope> = seen
            .iter()
            .filter(|(d, _)| *d == address)
            .map(|(_, e)| e.clone())
            .collect();
        let stored = f.store.pending(&address, 0, 100, 0).await.unwrap();
        assert_eq!(
            hooked, stored,
            "hook and mailbox agree on ids, order and content"
        );
    }
}
