//! The delivery bus: "a new envelope is queued for device X", and "device X connected
//! elsewhere". In-process for one node; a cluster implements [`DeliveryBus`] over Redis.
//!
//! A wake-up carries no data: the subscriber re-reads its mailbox, so a lost wake-up delays
//! delivery until the next one or a reconnect but loses nothing.

use crate::domain::DeviceAddress;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, watch};

/// The receiving side held by one connection.
pub struct Subscription {
    /// Signalled when envelopes may be waiting. A signal sent while nobody waits is kept.
    pub wake: Arc<Notify>,
    /// Becomes true when a newer connection for the same device replaced this one.
    pub superseded: watch::Receiver<bool>,
    release: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("superseded", &*self.superseded.borrow())
            .finish()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(release) = self.release.take() {
            release();
        }
    }
}

/// Wakes device connections and enforces one connection per device.
pub trait DeliveryBus: Send + Sync {
    /// Registers the connection of `device`, superseding any earlier one.
    fn subscribe(&self, device: &DeviceAddress) -> Subscription;
    /// Wakes the device's connection, if it has one.
    fn notify(&self, device: &DeviceAddress);
}

struct Slot {
    id: u64,
    wake: Arc<Notify>,
    superseded: watch::Sender<bool>,
}

/// The single-node bus.
#[derive(Default)]
pub struct LocalBus {
    slots: Arc<Mutex<HashMap<DeviceAddress, Slot>>>,
    next_id: AtomicU64,
}

impl LocalBus {
    /// An empty bus.
    pub fn new() -> Self {
        Self::default()
    }
}

impl DeliveryBus for LocalBus {
    fn subscribe(&self, device: &DeviceAddress) -> Subscription {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let wake = Arc::new(Notify::new());
        let (superseded_tx, superseded) = watch::channel(false);
        let slot = Slot {
            id,
            wake: wake.clone(),
            superseded: superseded_tx,
        };
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = slots.insert(device.clone(), slot) {
            let _ = old.superseded.send(true);
        }
        drop(slots);
        let (slots, device) = (Arc::downgrade(&self.slots), device.clone());
        let release = move || {
            if let Some(slots) = slots.upgrade() {
                let mut slots = slots.lock().unwrap_or_else(|p| p.into_inner());
                if slots.get(&device).is_some_and(|slot| slot.id == id) {
                    slots.remove(&device);
                }
            }
        };
        Subscription {
            wake,
            superseded,
            release: Some(Box::new(release)),
        }
    }

    fn notify(&self, device: &DeviceAddress) {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = slots.get(device) {
            slot.wake.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AccountId, DeviceId};

    fn device() -> DeviceAddress {
        DeviceAddress {
            account: AccountId::random().unwrap(),
            device: DeviceId::FIRST,
        }
    }

    #[tokio::test]
    async fn wake_up_sent_before_waiting_is_kept() {
        let bus = LocalBus::new();
        let address = device();
        let sub = bus.subscribe(&address);
        bus.notify(&address);
        tokio::time::timeout(std::time::Duration::from_secs(5), sub.wake.notified())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn second_subscription_supersedes_the_first() {
        let bus = LocalBus::new();
        let address = device();
        let mut first = bus.subscribe(&address);
        let second = bus.subscribe(&address);
        first.superseded.changed().await.unwrap();
        assert!(*first.superseded.borrow());
        drop(first);
        // Dropping the old one must not unregister the new one.
        bus.notify(&address);
        tokio::time::timeout(std::time::Duration::from_secs(5), second.wake.notified())
            .await
            .unwrap();
        drop(second);
        assert!(bus.slots.lock().unwrap().is_empty());
    }
}
