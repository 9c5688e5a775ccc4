//! Operator views of stored data, most importantly the disclosure report: everything the
//! relay holds about one account, which is all that a lawful request could obtain from it.

use crate::domain::{DeviceAddress, Username};
use crate::store::{Store, StoreError};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;

/// What the relay holds about one device.
#[derive(Debug, Serialize)]
pub struct DeviceReport {
    /// Device id.
    pub device_id: u32,
    /// Registration id.
    pub registration_id: u32,
    /// Day the device was added.
    pub created_day: String,
    /// Last day it connected (a day, never a time).
    pub last_seen_day: String,
    /// One-time X25519 prekeys held (public).
    pub one_time_prekeys: u32,
    /// One-time ML-KEM prekeys held (public).
    pub one_time_kem_prekeys: u32,
    /// Undelivered envelopes: end-to-end encrypted, unreadable to the relay.
    pub queued_envelopes: u64,
}

/// An account's attachments, counted.
#[derive(Debug, Serialize)]
pub struct AttachmentReport {
    /// Attachments not yet expired.
    pub count: u64,
    /// Their sizes in bytes, summed.
    pub bytes: u64,
}

/// An account's sealed-sender settings: whether an access key is set (never its hash) and
/// whether sealed envelopes from anyone are accepted.
#[derive(Debug, Serialize)]
pub struct SealedSenderReport {
    /// An access key hash is stored.
    pub access_key_set: bool,
    /// Sealed envelopes are accepted from anyone.
    pub unrestricted: bool,
}

/// Everything the relay holds about one account.
#[derive(Debug, Serialize)]
pub struct DisclosureReport {
    /// Account id.
    pub account_id: String,
    /// Username.
    pub username: String,
    /// Public identity key, base64.
    pub identity_key: String,
    /// Day of registration.
    pub created_day: String,
    /// Disabled by the operator.
    pub disabled: bool,
    /// Sealed-sender settings.
    pub sealed_sender: SealedSenderReport,
    /// Devices.
    pub devices: Vec<DeviceReport>,
    /// Message ids remembered (without content or sender) so retried sends are not stored twice;
    /// each is forgotten when the envelope would have expired.
    pub remembered_message_ids: u64,
    /// Encrypted attachments uploaded and not yet expired: how many, and their sizes summed
    /// (the relay cannot read them and does not know who downloads them).
    pub attachments: AttachmentReport,
    /// What the relay never stores, for the reader of the report.
    pub never_stored: &'static [&'static str],
}

/// Data categories the relay does not keep at all.
pub const NEVER_STORED: &[&str] = &[
    "IP addresses",
    "message contents in readable form (only end-to-end ciphertext, deleted on delivery)",
    "a log of who messaged whom (sender ids are deleted with each envelope)",
    "the sender of a sealed-sender envelope (it is never known to the relay)",
    "contact lists or group memberships",
    "times of activity finer than a day",
    "device secrets (only their SHA-256)",
];

/// Builds the report for `username`; `None` if there is no such account.
pub async fn disclose(
    store: &dyn Store,
    username: &Username,
) -> Result<Option<DisclosureReport>, StoreError> {
    let Some(account) = store.account_by_username(username).await? else {
        return Ok(None);
    };
    let mut devices = Vec::new();
    for device in store.devices(&account.id).await? {
        let address = DeviceAddress {
            account: account.id.clone(),
            device: device.id,
        };
        let counts = store.prekey_counts(&address).await?;
        devices.push(DeviceReport {
            device_id: device.id.get(),
            registration_id: device.registration_id,
            created_day: device.created.0,
            last_seen_day: device.last_seen.0,
            one_time_prekeys: counts.one_time,
            one_time_kem_prekeys: counts.one_time_kem,
            queued_envelopes: store.queue_len(&address).await?,
        });
    }
    Ok(Some(DisclosureReport {
        account_id: account.id.to_string(),
        username: account.username.to_string(),
        identity_key: STANDARD.encode(&account.identity_key),
        created_day: account.created.0,
        disabled: account.disabled,
        sealed_sender: {
            let sealed = store.sealed_sender(&account.id).await?.unwrap_or_default();
            SealedSenderReport {
                access_key_set: sealed.access_key_hash.is_some(),
                unrestricted: sealed.unrestricted,
            }
        },
        devices,
        remembered_message_ids: store.remembered_ids(&account.id).await?,
        attachments: {
            let usage = store.attachment_usage(&account.id).await?;
            AttachmentReport {
                count: usage.count,
                bytes: usage.bytes,
            }
        },
        never_stored: NEVER_STORED,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SealedSenderStore as _;
    use crate::store::conformance::register;
    use crate::store::sqlite::SqliteStore;

    #[tokio::test]
    async fn report_holds_exactly_the_documented_fields() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).await.unwrap();
        let id = register(&store, "alice").await;
        let report = disclose(&store, &Username::parse("alice").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(report.account_id, id.to_string());
        let json = serde_json::to_value(&report).unwrap();
        let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "account_id",
                "attachments",
                "created_day",
                "devices",
                "disabled",
                "identity_key",
                "never_stored",
                "remembered_message_ids",
                "sealed_sender",
                "username"
            ]
        );
        assert_eq!(
            json["sealed_sender"],
            serde_json::json!({"access_key_set": false, "unrestricted": false})
        );
        let key = crate::domain::AccessKeyHash::of_key(&[3; 16]).unwrap();
        store.set_sealed_sender(&id, &key, true).await.unwrap();
        let report = disclose(&store, &Username::parse("alice").unwrap())
            .await
            .unwrap()
            .unwrap();
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(
            json["sealed_sender"],
            serde_json::json!({"access_key_set": true, "unrestricted": true}),
            "a flag, never the hash"
        );
        assert!(!json.to_string().contains(&hex::encode(key.as_bytes())));
        let device = json["devices"][0].as_object().unwrap();
        assert_eq!(device.len(), 7, "{device:?}");
        assert_eq!(
            json["devices"][0]["last_seen_day"].as_str().unwrap().len(),
            10,
            "a day, not a time"
        );
        assert!(
            disclose(&store, &Username::parse("nobody").unwrap())
                .await
                .unwrap()
                .is_none()
        );
    }
}
