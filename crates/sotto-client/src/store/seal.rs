//! Sealing of sensitive columns: AES-256-GCM under the profile's data key, the row's identity
//! (table and key) as associated data, so a sealed value cannot be moved to another row.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngExt as _;
use zeroize::Zeroizing;

use crate::error::StoreError;

const NONCE_LEN: usize = 12;

/// The sealed-value format version, the first byte of every sealed column.
pub const SEALED_VERSION: u8 = 1;

/// The random 32-byte key that encrypts the profile's sensitive columns.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl DataKey {
    /// Draws a new data key.
    pub fn generate() -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rng().fill(&mut key[..]);
        Self(key)
    }

    /// Wraps raw bytes (from an unwrapped store key).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StoreError> {
        let array: [u8; 32] = bytes
            .try_into()
            .map_err(|_| StoreError::Corrupt("data key length"))?;
        Ok(Self(Zeroizing::new(array)))
    }

    /// The raw key (to wrap it).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Encrypts `plaintext` for the row `table`/`row`: `version || nonce || ciphertext || tag`.
    pub fn seal(&self, table: &str, row: &str, plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
        seal_with(&self.0, &associated_data(table, row), plaintext)
    }

    /// Decrypts what [`seal`](Self::seal) made for the same row.
    ///
    /// # Errors
    /// [`StoreError::UnknownVersion`] for a format this build does not know, and
    /// [`StoreError::Corrupt`] for a value that does not authenticate.
    pub fn open(
        &self,
        table: &str,
        row: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        open_with(&self.0, &associated_data(table, row), sealed).map_err(|e| match e {
            OpenError::UnknownVersion(v) => StoreError::UnknownVersion(v),
            OpenError::NotAuthentic => StoreError::Corrupt("a sealed column does not decrypt"),
        })
    }
}

fn associated_data(table: &str, row: &str) -> Vec<u8> {
    let mut ad = b"sotto-client/v1/".to_vec();
    ad.extend_from_slice(table.as_bytes());
    ad.push(b'/');
    ad.extend_from_slice(row.as_bytes());
    ad
}

/// AES-256-GCM with a random nonce prepended.
pub(crate) fn seal_with(
    key: &[u8; 32],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, StoreError> {
    let cipher = Aes256Gcm::new(key.into());
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill(&mut nonce[..]);
    let body = cipher
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| StoreError::Corrupt("value too long to seal"))?;
    let mut out = Vec::with_capacity(1 + NONCE_LEN + body.len());
    out.push(SEALED_VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&body);
    Ok(out)
}

/// Opens [`seal_with`]'s output; `Err(())` when it does not authenticate.
pub(crate) fn open_with(
    key: &[u8; 32],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    let (&version, rest) = sealed.split_first().ok_or(OpenError::NotAuthentic)?;
    if version != SEALED_VERSION {
        return Err(OpenError::UnknownVersion(version));
    }
    let (nonce, body) = rest
        .split_first_chunk::<NONCE_LEN>()
        .ok_or(OpenError::NotAuthentic)?;
    let cipher = Aes256Gcm::new(key.into());
    cipher
        .decrypt(&Nonce::from(*nonce), Payload { msg: body, aad })
        .map(Zeroizing::new)
        .map_err(|_| OpenError::NotAuthentic)
}

/// Why a sealed value did not open.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// Written in a format this build does not know.
    UnknownVersion(u8),
    /// Wrong key, wrong row, or damaged.
    NotAuthentic,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_in_its_own_row() {
        let key = DataKey::generate();
        let sealed = key.seal("sessions", "a.1", b"secret").unwrap();
        assert_eq!(
            &key.open("sessions", "a.1", &sealed).unwrap()[..],
            b"secret"
        );
        assert!(key.open("sessions", "a.2", &sealed).is_err());
        assert!(key.open("contacts", "a.1", &sealed).is_err());
        assert!(
            DataKey::generate()
                .open("sessions", "a.1", &sealed)
                .is_err()
        );
    }
}
