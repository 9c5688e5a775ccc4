//! A short-lived cache of device credentials and device lists in front of the store.
//!
//! Every request authenticates and every send checks the recipient's device list; reading
//! both from SQLite each time costs more than the rest of a send. Entries live a few seconds:
//! changes made through this relay (a new device) drop the account's entries at once, and
//! changes made behind its back (`sotto admin disable` in another process) apply within the
//! configured lifetime (`Policy::directory_cache_ms`, 5 s by default).

use super::error::ApiError;
use crate::domain::{AccountId, DeviceAddress, DeviceId};
use crate::store::{DeviceCredentials, SealedSenderAccess, Store};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Past this many entries a map is emptied rather than grown.
const MAX_ENTRIES: usize = 100_000;

/// What a sender needs to know about a recipient account.
#[derive(Debug, Clone)]
pub struct Recipient {
    /// Its current devices.
    pub devices: BTreeSet<DeviceId>,
    /// Each device's registration id.
    pub registration_ids: BTreeMap<DeviceId, u32>,
    /// Who may send it sealed envelopes.
    pub sealed: SealedSenderAccess,
}

struct Timed<V> {
    value: V,
    at: Instant,
}

struct TtlMap<K, V> {
    ttl: Duration,
    map: Mutex<HashMap<K, Timed<V>>>,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlMap<K, V> {
    fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            map: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, key: &K) -> Option<V> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(key)
            .filter(|entry| entry.at.elapsed() < self.ttl)
            .map(|entry| entry.value.clone())
    }

    fn put(&self, key: K, value: V) {
        if self.ttl.is_zero() {
            return;
        }
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(
            key,
            Timed {
                value,
                at: Instant::now(),
            },
        );
    }

    fn remove_where(&self, keep: impl Fn(&K) -> bool) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|k, _| keep(k));
    }
}

/// The cache; cheap to clone.
#[derive(Clone)]
pub struct Directory {
    store: Arc<dyn Store>,
    credentials: Arc<TtlMap<DeviceAddress, DeviceCredentials>>,
    recipients: Arc<TtlMap<AccountId, Option<Recipient>>>,
}

impl Directory {
    /// A cache in front of `store` whose entries live `ttl` (zero: no caching).
    pub fn new(store: Arc<dyn Store>, ttl: Duration) -> Self {
        Self {
            store,
            credentials: Arc::new(TtlMap::new(ttl)),
            recipients: Arc::new(TtlMap::new(ttl)),
        }
    }

    /// Credentials of a device, if it exists.
    pub async fn credentials(
        &self,
        device: &DeviceAddress,
    ) -> Result<Option<DeviceCredentials>, ApiError> {
        if let Some(found) = self.credentials.get(device) {
            return Ok(Some(found));
        }
        let stored = self.store.credentials(device).await?;
        if let Some(credentials) = &stored {
            self.credentials.put(device.clone(), credentials.clone());
        }
        Ok(stored)
    }

    /// Remembers a new last-seen day for a cached device.
    pub fn seen(&self, device: &DeviceAddress, credentials: DeviceCredentials) {
        self.credentials.put(device.clone(), credentials);
    }

    /// Devices of an enabled account; `None` if it does not exist or is disabled.
    pub async fn recipient(&self, account: &AccountId) -> Result<Option<Recipient>, ApiError> {
        if let Some(found) = self.recipients.get(account) {
            return Ok(found);
        }
        let enabled = self.store.account(account).await?.filter(|a| !a.disabled);
        let recipient = match enabled {
            Some(_) => {
                let stored = self.store.devices(account).await?;
                let sealed = self.store.sealed_sender(account).await?.unwrap_or_default();
                Some(Recipient {
                    devices: stored.iter().map(|d| d.id).collect(),
                    registration_ids: stored.iter().map(|d| (d.id, d.registration_id)).collect(),
                    sealed,
                })
            }
            None => None,
        };
        self.recipients.put(account.clone(), recipient.clone());
        Ok(recipient)
    }

    /// Drops everything cached about an account (after it gained or lost a device or changed
    /// its sealed-sender settings).
    pub fn forget(&self, account: &AccountId) {
        self.recipients.remove_where(|k| k != account);
        self.credentials.remove_where(|k| &k.account != account);
    }
}
