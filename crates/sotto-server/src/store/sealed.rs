//! Sealed-sender settings of accounts: the hash of the access key sealed senders must present,
//! and whether the account takes sealed envelopes from anyone.

use crate::domain::{AccessKeyHash, AccountId};
use crate::store::StoreError;
use async_trait::async_trait;

/// Who may send sealed envelopes to an account.
#[derive(Debug, Clone, Default)]
pub struct SealedSenderAccess {
    /// SHA-256 of the account's access key; `None` until the account sets one.
    pub access_key_hash: Option<AccessKeyHash>,
    /// Sealed envelopes from anyone are accepted, with or without the key.
    pub unrestricted: bool,
}

impl SealedSenderAccess {
    /// Whether a sealed sender presenting `presented` (the hash of its key, if it gave one)
    /// may deliver. The hashes are compared in constant time.
    pub fn admits(&self, presented: Option<&AccessKeyHash>) -> bool {
        if self.unrestricted {
            return true;
        }
        match (&self.access_key_hash, presented) {
            (Some(stored), Some(presented)) => stored.matches(presented),
            _ => false,
        }
    }
}

/// Sealed-sender settings, stored with the account.
#[async_trait]
pub trait SealedSenderStore: Send + Sync {
    /// Replaces the account's access key hash and unrestricted flag; `NotFound` if there is
    /// no such account.
    async fn set_sealed_sender(
        &self,
        account: &AccountId,
        access_key_hash: &AccessKeyHash,
        unrestricted: bool,
    ) -> Result<(), StoreError>;
    /// The account's settings; `None` if there is no such account.
    async fn sealed_sender(
        &self,
        account: &AccountId,
    ) -> Result<Option<SealedSenderAccess>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_right_key_or_unrestricted_admits() {
        let key = AccessKeyHash::of_key(&[1; 16]).unwrap();
        let wrong = AccessKeyHash::of_key(&[2; 16]).unwrap();
        let none = SealedSenderAccess::default();
        assert!(!none.admits(None) && !none.admits(Some(&key)));
        let keyed = SealedSenderAccess {
            access_key_hash: Some(key.clone()),
            unrestricted: false,
        };
        assert!(keyed.admits(Some(&key)));
        assert!(!keyed.admits(Some(&wrong)) && !keyed.admits(None));
        let open = SealedSenderAccess {
            unrestricted: true,
            ..keyed
        };
        assert!(open.admits(None) && open.admits(Some(&wrong)));
    }
}
