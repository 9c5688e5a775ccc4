//! The delivery bus: "here is a new envelope for device X" (or just "look at your mailbox"),
//! and "device X connected elsewhere". In-process for one node; a cluster implements
//! [`DeliveryBus`] over Redis.
//!
//! The store hands every committed envelope to the bus ([`BusHook`]), and the bus passes it
//! to the device's connection through a bounded channel, so live traffic needs no mailbox
//! read. When that channel is full the envelope is dropped, the subscription is marked lossy
//! and woken, and the connection re-reads its mailbox: the mailbox stays the source of truth,
//! so nothing is lost, only delayed.

use crate::domain::DeviceAddress;
use crate::store::{CommitHook, QueuedEnvelope};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, mpsc, watch};

/// Envelopes a connection may have waiting before further ones go through the mailbox.
const LIVE_QUEUE: usize = 256;

/// The receiving side held by one connection.
pub struct Subscription {
    /// Signalled when envelopes may be waiting in the mailbox. A signal sent while nobody
    /// waits is kept.
    pub wake: Arc<Notify>,
    /// Becomes true when a newer connection for the same device replaced this one.
    pub superseded: watch::Receiver<bool>,
    /// New envelopes, in commit order. Boxed: the channel preallocates slots, and an idle
    /// connection should not pay for envelope-sized ones.
    pub live: mpsc::Receiver<Box<QueuedEnvelope>>,
    /// Set when an envelope could not be queued on `live`: read the mailbox before trusting
    /// `live` again.
    pub lossy: Arc<AtomicBool>,
    release: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("superseded", &*self.superseded.borrow())
            .finish()
    }
}

impl Subscription {
    /// Runs `extra` too when the subscription ends (after the bus's own release).
    pub fn on_release(mut self, extra: impl FnOnce() + Send + Sync + 'static) -> Self {
        let first = self.release.take();
        self.release = Some(Box::new(move || {
            if let Some(first) = first {
                first();
            }
            extra();
        }));
        self
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(release) = self.release.take() {
            release();
        }
    }
}

/// Wakes device connections, hands them new envelopes, and keeps one connection per device.
pub trait DeliveryBus: Send + Sync {
    /// Registers the connection of `device`, superseding any earlier one.
    fn subscribe(&self, device: &DeviceAddress) -> Subscription;
    /// Wakes the device's connection, if it has one, to read its mailbox.
    fn notify(&self, device: &DeviceAddress);
    /// Hands a just-committed envelope to the device's connection, if it has one. The
    /// default only wakes it, so it reads the envelope from the mailbox.
    fn deliver(&self, device: &DeviceAddress, envelope: QueuedEnvelope) {
        let _ = envelope;
        self.notify(device);
    }
}

/// Connects a store's commits to a bus.
pub struct BusHook(pub Arc<dyn DeliveryBus>);

impl CommitHook for BusHook {
    fn committed(&self, envelopes: Vec<(DeviceAddress, QueuedEnvelope)>) {
        for (device, envelope) in envelopes {
            self.0.deliver(&device, envelope);
        }
    }
}

struct Slot {
    id: u64,
    wake: Arc<Notify>,
    superseded: watch::Sender<bool>,
    live: mpsc::Sender<Box<QueuedEnvelope>>,
    lossy: Arc<AtomicBool>,
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

    /// Closes the device's connection on this node, if any: it connected to another node.
    pub fn supersede(&self, device: &DeviceAddress) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = slots.remove(device) {
            let _ = old.superseded.send(true);
        }
    }
}

impl DeliveryBus for LocalBus {
    fn subscribe(&self, device: &DeviceAddress) -> Subscription {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let wake = Arc::new(Notify::new());
        let (superseded_tx, superseded) = watch::channel(false);
        let (live_tx, live) = mpsc::channel(LIVE_QUEUE);
        let lossy = Arc::new(AtomicBool::new(false));
        let slot = Slot {
            id,
            wake: wake.clone(),
            superseded: superseded_tx,
            live: live_tx,
            lossy: lossy.clone(),
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
            live,
            lossy,
            release: Some(Box::new(release)),
        }
    }

    fn notify(&self, device: &DeviceAddress) {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = slots.get(device) {
            slot.wake.notify_one();
        }
    }

    fn deliver(&self, device: &DeviceAddress, envelope: QueuedEnvelope) {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = slots.get(device)
            && slot.live.try_send(Box::new(envelope)).is_err()
        {
            // Release pairs with the connection's Acquire: it sees the mark no later than
            // any envelope queued after the one dropped here.
            slot.lossy.store(true, Ordering::Release);
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

    #[tokio::test]
    async fn full_live_queue_marks_the_subscription_lossy_and_wakes_it() {
        let bus = LocalBus::new();
        let address = device();
        let mut sub = bus.subscribe(&address);
        let envelope = |id| QueuedEnvelope {
            id,
            message_id: "m".into(),
            sender: None,
            server_timestamp: 0,
            content: vec![1].into(),
        };
        for id in 0..=LIVE_QUEUE as i64 {
            bus.deliver(&address, envelope(id));
        }
        assert!(sub.lossy.load(Ordering::Acquire));
        tokio::time::timeout(std::time::Duration::from_secs(5), sub.wake.notified())
            .await
            .unwrap();
        assert_eq!(sub.live.recv().await.unwrap().id, 0);
        // Without a subscriber, delivering is a no-op.
        bus.deliver(&device(), envelope(1));
    }
}
