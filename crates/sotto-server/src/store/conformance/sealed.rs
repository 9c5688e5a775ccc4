//! The conformance checks of sealed sender: access-key settings, and multi-recipient sends
//! whose devices receive their account's header before the shared part, with no sender.

use super::*;
use crate::domain::AccessKeyHash;

/// Runs every sealed-sender check, each on a fresh store.
pub(crate) async fn run<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Fixture>,
{
    access_settings_start_empty_and_are_replaced(factory().await).await;
    sealed_multi_send_delivers_prefix_then_payload(factory().await).await;
}

async fn access_settings_start_empty_and_are_replaced(f: Fixture) {
    let store = f.store.as_ref();
    let bob = register(store, "bob").await;
    let fresh = store.sealed_sender(&bob).await.unwrap().unwrap();
    assert!(fresh.access_key_hash.is_none() && !fresh.unrestricted);
    let key = AccessKeyHash::of_key(&[7; 16]).unwrap();
    store.set_sealed_sender(&bob, &key, false).await.unwrap();
    let set = store.sealed_sender(&bob).await.unwrap().unwrap();
    assert!(set.access_key_hash.unwrap().matches(&key) && !set.unrestricted);
    let other = AccessKeyHash::of_key(&[8; 16]).unwrap();
    store.set_sealed_sender(&bob, &other, true).await.unwrap();
    let replaced = store.sealed_sender(&bob).await.unwrap().unwrap();
    assert!(replaced.access_key_hash.unwrap().matches(&other) && replaced.unrestricted);
    let nobody = AccountId::random().unwrap();
    assert!(store.sealed_sender(&nobody).await.unwrap().is_none());
    assert!(matches!(
        store.set_sealed_sender(&nobody, &key, true).await,
        Err(StoreError::NotFound)
    ));
}

fn recipient(account: &AccountId, devices: &[u32], prefix: &[u8]) -> RecipientAccount {
    RecipientAccount {
        account: account.clone(),
        devices: devices.iter().map(|d| DeviceId::new(*d).unwrap()).collect(),
        prefix: Bytes::copy_from_slice(prefix),
    }
}

async fn sealed_multi_send_delivers_prefix_then_payload(f: Fixture) {
    let store = f.store.as_ref();
    let bob = register(store, "bob").await;
    store
        .add_device(&bob, device_record(2, 0), 6, today())
        .await
        .unwrap();
    let carol = register(store, "carol").await;
    let hook = Arc::new(Recorder::default());
    store.set_commit_hook(hook.clone());
    // Bytes that are not UTF-8, so a backend joining them as text would show.
    let shared = Bytes::from_static(&[0x12, 0x03, 0xff, 0x00, 0x80]);
    let send = MultiSubmission {
        message_id: MessageId::parse("sealed-group-0001").unwrap(),
        sender: None,
        content: shared.clone(),
        recipients: vec![
            recipient(&bob, &[1, 2], &[0x19, 0xb0, 0x0b]),
            recipient(&carol, &[1], &[0x19, 0xca, 0xfe, 0x00]),
        ],
        now_ms: 1_000_000,
        ttl_ms: 1_000,
        max_queue: 100,
    };
    assert_eq!(
        store.store_multi(send.clone()).await.unwrap(),
        SendOutcome::Stored
    );
    assert_eq!(
        store.store_multi(send).await.unwrap(),
        SendOutcome::Duplicate
    );
    assert_eq!(store.shared_payloads().await.unwrap(), 1, "stored once");
    let bob_expects = [&[0x19, 0xb0, 0x0b][..], &shared].concat();
    let carol_expects = [&[0x19, 0xca, 0xfe, 0x00][..], &shared].concat();
    let mut ids = Vec::new();
    for (device, expected) in [
        (first(&bob), &bob_expects),
        (
            DeviceAddress {
                account: bob.clone(),
                device: DeviceId::new(2).unwrap(),
            },
            &bob_expects,
        ),
        (first(&carol), &carol_expects),
    ] {
        let queued = store.pending(&device, 0, 10, 1_000_000).await.unwrap();
        assert_eq!(queued.len(), 1, "one entry, the retry stored nothing");
        assert_eq!(&queued[0].content[..], &expected[..]);
        assert_eq!(queued[0].sender, None);
        ids.push((device, queued[0].id));
    }
    let pushed = hook.0.lock().unwrap().clone();
    assert_eq!(pushed.len(), 3);
    for (device, envelope) in &pushed {
        let expected = if device.account == bob {
            &bob_expects
        } else {
            &carol_expects
        };
        assert_eq!(&envelope.content[..], &expected[..]);
        assert_eq!(envelope.sender, None);
    }
    for (device, id) in ids {
        assert_eq!(store.shared_payloads().await.unwrap(), 1);
        assert_eq!(store.ack(&device, &[id]).await.unwrap(), 1);
    }
    assert_eq!(
        store.shared_payloads().await.unwrap(),
        0,
        "the last ack released it"
    );
}
