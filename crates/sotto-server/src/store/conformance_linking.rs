//! The conformance checks of [`LinkingStore`]: provisioning channels, link tokens, removal.
//! Run from [`super::conformance::run`], so every backend passes them.

use super::conformance::{Fixture, device_record, register, send, today};
use super::*;
use std::future::Future;

pub(crate) async fn run<F, Fut>(factory: &F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Fixture>,
{
    a_channel_carries_one_message_to_its_secret(factory().await).await;
    channels_expire(factory().await).await;
    a_link_token_adds_exactly_one_device(factory().await).await;
    a_full_account_keeps_the_token(factory().await).await;
    a_removed_device_loses_credentials_keys_and_queue(factory().await).await;
}

fn hash(byte: u8) -> SecretHash {
    SecretHash::of_secret(&[byte; 32]).unwrap()
}

async fn a_channel_carries_one_message_to_its_secret(f: Fixture) {
    let store = f.store.as_ref();
    store
        .open_channel("chan", &hash(1), 2_000, 1_000)
        .await
        .unwrap();
    let read = store.read_channel("chan", &hash(1), 1_100).await.unwrap();
    assert_eq!(read, ChannelContents::Empty);
    assert!(matches!(
        store.read_channel("chan", &hash(2), 1_100).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.fill_channel("nope", b"x", 1_100).await,
        Err(StoreError::NotFound)
    ));
    store.fill_channel("chan", b"sealed", 1_200).await.unwrap();
    assert!(matches!(
        store.fill_channel("chan", b"again", 1_300).await,
        Err(StoreError::ChannelFilled)
    ));
    // A wrong secret neither reads nor consumes the message.
    assert!(matches!(
        store.read_channel("chan", &hash(2), 1_300).await,
        Err(StoreError::NotFound)
    ));
    let read = store.read_channel("chan", &hash(1), 1_300).await.unwrap();
    assert_eq!(read, ChannelContents::Message(b"sealed".to_vec()));
    assert!(matches!(
        store.read_channel("chan", &hash(1), 1_400).await,
        Err(StoreError::NotFound)
    ));
}

async fn channels_expire(f: Fixture) {
    let store = f.store.as_ref();
    store
        .open_channel("old", &hash(1), 2_000, 1_000)
        .await
        .unwrap();
    assert!(matches!(
        store.fill_channel("old", b"late", 2_000).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.read_channel("old", &hash(1), 2_001).await,
        Err(StoreError::NotFound)
    ));
    // Opening another channel sweeps the expired one; its id may be used again.
    store
        .open_channel("new", &hash(2), 9_000, 5_000)
        .await
        .unwrap();
    store
        .open_channel("old", &hash(3), 9_000, 5_000)
        .await
        .unwrap();
    assert_eq!(
        store.read_channel("old", &hash(3), 5_001).await.unwrap(),
        ChannelContents::Empty
    );
}

fn link(token: u8, secret: u8, max_devices: u32, now_ms: i64) -> LinkRequest {
    LinkRequest {
        token_hash: [token; 32],
        device: device_record(secret, 1),
        max_devices,
        today: today(),
        now_ms,
    }
}

async fn a_link_token_adds_exactly_one_device(f: Fixture) {
    let store = f.store.as_ref();
    let id = register(store, "linker").await;
    store.create_link_token([7; 32], &id, 10_000).await.unwrap();
    store.create_link_token([8; 32], &id, 10_000).await.unwrap();
    let linked = store.link_device(link(7, 2, 6, 5_000)).await.unwrap();
    assert_eq!(
        (linked.account.clone(), linked.device.get()),
        (id.clone(), 2)
    );
    assert!(store.credentials(&linked).await.unwrap().is_some());
    assert!(matches!(
        store.link_device(link(7, 3, 6, 5_000)).await,
        Err(StoreError::InvalidToken)
    ));
    assert!(matches!(
        store.link_device(link(9, 3, 6, 5_000)).await,
        Err(StoreError::InvalidToken)
    ));
    // Expired: refused, and nothing added.
    assert!(matches!(
        store.link_device(link(8, 3, 6, 10_000)).await,
        Err(StoreError::InvalidToken)
    ));
    assert_eq!(store.devices(&id).await.unwrap().len(), 2);
}

async fn a_full_account_keeps_the_token(f: Fixture) {
    let store = f.store.as_ref();
    let id = register(store, "fuller").await;
    store.create_link_token([7; 32], &id, 10_000).await.unwrap();
    assert!(matches!(
        store.link_device(link(7, 2, 1, 5_000)).await,
        Err(StoreError::TooManyDevices(1))
    ));
    let linked = store.link_device(link(7, 2, 2, 5_000)).await.unwrap();
    assert_eq!(linked.device.get(), 2);
}

async fn a_removed_device_loses_credentials_keys_and_queue(f: Fixture) {
    let store = f.store.as_ref();
    let id = register(store, "remover").await;
    let second = store
        .add_device(&id, device_record(2, 1), 6, today())
        .await
        .unwrap();
    let address = DeviceAddress {
        account: id.clone(),
        device: second,
    };
    store
        .store(send(&id, "0123456789abcdef", &[1, 2], None, 10))
        .await
        .unwrap();
    assert_eq!(store.queue_len(&address).await.unwrap(), 1);
    store.remove_device(&address).await.unwrap();
    assert!(store.credentials(&address).await.unwrap().is_none());
    assert!(store.take_prekeys(&address).await.unwrap().is_none());
    assert_eq!(store.queue_len(&address).await.unwrap(), 0);
    let first = DeviceAddress {
        account: id.clone(),
        device: DeviceId::FIRST,
    };
    assert_eq!(store.queue_len(&first).await.unwrap(), 1);
    assert!(matches!(
        store.remove_device(&address).await,
        Err(StoreError::NotFound)
    ));
    // The id is free again: the next device takes it, with an empty queue.
    let again = store
        .add_device(&id, device_record(3, 1), 6, today())
        .await
        .unwrap();
    assert_eq!(again, second);
    assert_eq!(store.queue_len(&address).await.unwrap(), 0);
}
