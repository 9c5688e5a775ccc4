//! Device linking: the provisioning message that carries an account's identity from an existing
//! device to a new one, encrypted to the new device's ephemeral X25519 key.
//!
//! ```text
//!  new device: ephemeral key pair N, channel id C ──(QR / text: C, N.public)──► old device
//!  old device: ephemeral key pair E;  s = X25519(E, N.public)
//!              key ‖ nonce = HKDF-SHA256(ikm = s, info = "Sotto_v1_Provisioning"
//!                                        ‖ N.public ‖ E.public ‖ len(C) ‖ C)
//!  envelope  = 0x01 ‖ E.public (33 bytes) ‖ AES-256-GCM(key, nonce, aad = 0x01 ‖ C, message)
//!  message   = 0x01 ‖ identity secret (64) ‖ account id ‖ username ‖ link token
//!              (each string a u16 big-endian length then its bytes)
//! ```
//!
//! The relay carries the envelope through channel `C` and never holds `N`'s private key, so it
//! sees only ciphertext. Binding `C` into the key derivation and the associated data means an
//! envelope moved to another channel does not open. `docs/protocol.md` ("Linking a device") is
//! normative.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use rand_core::CryptoRng;
use sha2::Sha256;
use thiserror::Error;
use zeroize::Zeroizing;

use crate::curve::{KeyPair, PublicKey, X25519_ENCODED_LEN};
use crate::identity::{IDENTITY_SECRET_LEN, IdentityKeyPair};
use crate::labels;

/// Version byte of the envelope and of the message inside it.
pub const PROVISIONING_VERSION: u8 = 1;
/// The largest envelope accepted (the relay enforces the same bound).
pub const MAX_PROVISIONING_BYTES: usize = 64 * 1024;
/// The longest account id, username or link token a message may carry.
const MAX_FIELD: usize = 1024;
const TAG_LEN: usize = 16;

/// Why a provisioning envelope or message was refused. Nothing is learnt from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ProvisioningError {
    /// The envelope or message starts with a version this build does not know.
    #[error("unknown provisioning version {0}")]
    UnknownVersion(u8),
    /// The bytes are shorter than their structure or have bytes left over.
    #[error("malformed provisioning message")]
    Malformed,
    /// Larger than [`MAX_PROVISIONING_BYTES`].
    #[error("provisioning message larger than {MAX_PROVISIONING_BYTES} bytes")]
    TooLarge,
    /// The sender's ephemeral key is invalid.
    #[error("invalid ephemeral key in the provisioning envelope")]
    BadKey,
    /// Authentication failed: another key, another channel, or tampering.
    #[error("the provisioning envelope does not decrypt for this channel")]
    Undecryptable,
    /// A text field is not UTF-8.
    #[error("a provisioning field is not UTF-8")]
    NotUtf8,
}

/// What an existing device hands a new one: the account's identity and who it is.
pub struct ProvisioningMessage {
    /// The account's identity key pair (shared by all its devices).
    pub identity: IdentityKeyPair,
    /// The relay's account id.
    pub account_id: String,
    /// The account's username.
    pub username: String,
    /// The one-time token the relay issued to the old device for exactly one new device.
    pub link_token: Zeroizing<String>,
}

impl std::fmt::Debug for ProvisioningMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProvisioningMessage")
            .field("account_id", &self.account_id)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl ProvisioningMessage {
    /// A message for a new device of the account `account_id` named `username`.
    pub fn new(
        identity: IdentityKeyPair,
        account_id: String,
        username: String,
        link_token: String,
    ) -> Self {
        Self {
            identity,
            account_id,
            username,
            link_token: Zeroizing::new(link_token),
        }
    }

    /// The plaintext encoding (zeroized when dropped).
    ///
    /// # Errors
    /// [`ProvisioningError::TooLarge`] if a field is longer than 1024 bytes.
    pub fn encode(&self) -> Result<Zeroizing<Vec<u8>>, ProvisioningError> {
        let mut out = Zeroizing::new(Vec::with_capacity(128));
        out.push(PROVISIONING_VERSION);
        out.extend_from_slice(&self.identity.to_secret_bytes()[..]);
        for field in [
            self.account_id.as_bytes(),
            self.username.as_bytes(),
            self.link_token.as_bytes(),
        ] {
            let len = u16::try_from(field.len())
                .ok()
                .filter(|&n| usize::from(n) <= MAX_FIELD)
                .ok_or(ProvisioningError::TooLarge)?;
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(field);
        }
        Ok(out)
    }

    /// Parses a plaintext message: exact structure, no bytes left over.
    ///
    /// # Errors
    /// [`ProvisioningError::UnknownVersion`], [`ProvisioningError::Malformed`],
    /// [`ProvisioningError::NotUtf8`].
    pub fn decode(bytes: &[u8]) -> Result<Self, ProvisioningError> {
        let (&version, rest) = bytes.split_first().ok_or(ProvisioningError::Malformed)?;
        if version != PROVISIONING_VERSION {
            return Err(ProvisioningError::UnknownVersion(version));
        }
        let (secret, mut rest) = rest
            .split_at_checked(IDENTITY_SECRET_LEN)
            .ok_or(ProvisioningError::Malformed)?;
        let mut secret_bytes = Zeroizing::new([0u8; IDENTITY_SECRET_LEN]);
        secret_bytes.copy_from_slice(secret);
        let account_id = take_string(&mut rest)?;
        let username = take_string(&mut rest)?;
        let link_token = Zeroizing::new(take_string(&mut rest)?);
        if !rest.is_empty() {
            return Err(ProvisioningError::Malformed);
        }
        Ok(Self {
            identity: IdentityKeyPair::from_secret_bytes(&secret_bytes),
            account_id,
            username,
            link_token,
        })
    }
}

fn take_string(rest: &mut &[u8]) -> Result<String, ProvisioningError> {
    let (len, tail) = rest
        .split_first_chunk::<2>()
        .ok_or(ProvisioningError::Malformed)?;
    let len = usize::from(u16::from_be_bytes(*len));
    if len > MAX_FIELD {
        return Err(ProvisioningError::Malformed);
    }
    let (field, tail) = tail
        .split_at_checked(len)
        .ok_or(ProvisioningError::Malformed)?;
    *rest = tail;
    String::from_utf8(field.to_vec()).map_err(|_| ProvisioningError::NotUtf8)
}

/// The new device's side: an ephemeral key pair that lives only while it waits to be linked.
pub struct ProvisioningKeys(KeyPair);

impl std::fmt::Debug for ProvisioningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProvisioningKeys(<redacted>)")
    }
}

impl ProvisioningKeys {
    /// A fresh ephemeral key pair.
    pub fn generate(rng: &mut impl CryptoRng) -> Self {
        Self(KeyPair::generate(rng))
    }

    /// The public key to show the old device.
    pub fn public(&self) -> &PublicKey {
        &self.0.public
    }

    /// Opens an envelope received through channel `channel_id`.
    ///
    /// # Errors
    /// Any [`ProvisioningError`]: nothing about the contents is revealed on failure.
    pub fn open(
        &self,
        channel_id: &[u8],
        envelope: &[u8],
    ) -> Result<ProvisioningMessage, ProvisioningError> {
        if envelope.len() > MAX_PROVISIONING_BYTES {
            return Err(ProvisioningError::TooLarge);
        }
        let (&version, rest) = envelope.split_first().ok_or(ProvisioningError::Malformed)?;
        if version != PROVISIONING_VERSION {
            return Err(ProvisioningError::UnknownVersion(version));
        }
        let (sender, sealed) = rest
            .split_at_checked(X25519_ENCODED_LEN)
            .ok_or(ProvisioningError::Malformed)?;
        let sender = PublicKey::from_wire(sender).map_err(|_| ProvisioningError::BadKey)?;
        let (body, tag) = sealed
            .split_at_checked(sealed.len().saturating_sub(TAG_LEN))
            .filter(|(_, tag)| tag.len() == TAG_LEN)
            .ok_or(ProvisioningError::Malformed)?;
        let shared = self
            .0
            .private
            .agree(&sender)
            .map_err(|_| ProvisioningError::BadKey)?;
        let (cipher, nonce) = derive(&shared, &self.0.public, &sender, channel_id);
        let mut plaintext = Zeroizing::new(body.to_vec());
        let tag = aes_gcm::aead::Tag::<Aes256Gcm>::try_from(tag)
            .map_err(|_| ProvisioningError::Malformed)?;
        cipher
            .decrypt_inout_detached(
                &Nonce::from(nonce),
                &associated_data(channel_id),
                plaintext.as_mut_slice().into(),
                &tag,
            )
            .map_err(|_| ProvisioningError::Undecryptable)?;
        ProvisioningMessage::decode(&plaintext)
    }
}

/// The old device's side: encrypts `message` to the new device's key for channel `channel_id`.
///
/// # Errors
/// [`ProvisioningError::TooLarge`] for an oversized field; [`ProvisioningError::BadKey`] if the
/// agreement fails (impossible for a validated key).
pub fn seal(
    message: &ProvisioningMessage,
    channel_id: &[u8],
    recipient: &PublicKey,
    rng: &mut impl CryptoRng,
) -> Result<Vec<u8>, ProvisioningError> {
    let ephemeral = KeyPair::generate(rng);
    let shared = ephemeral
        .private
        .agree(recipient)
        .map_err(|_| ProvisioningError::BadKey)?;
    let (cipher, nonce) = derive(&shared, recipient, &ephemeral.public, channel_id);
    let mut body = message.encode()?;
    let tag = cipher
        .encrypt_inout_detached(
            &Nonce::from(nonce),
            &associated_data(channel_id),
            body.as_mut_slice().into(),
        )
        .map_err(|_| ProvisioningError::TooLarge)?;
    let mut out = Vec::with_capacity(1 + X25519_ENCODED_LEN + body.len() + TAG_LEN);
    out.push(PROVISIONING_VERSION);
    out.extend_from_slice(&ephemeral.public.encode());
    out.extend_from_slice(&body);
    out.extend_from_slice(&tag);
    if out.len() > MAX_PROVISIONING_BYTES {
        return Err(ProvisioningError::TooLarge);
    }
    Ok(out)
}

fn associated_data(channel_id: &[u8]) -> Vec<u8> {
    let mut ad = Vec::with_capacity(1 + channel_id.len());
    ad.push(PROVISIONING_VERSION);
    ad.extend_from_slice(channel_id);
    ad
}

/// The one-time AES-256-GCM key and nonce of an envelope (the ephemeral key is never reused,
/// so a fixed derivation per envelope is safe).
fn derive(
    shared: &[u8; 32],
    recipient: &PublicKey,
    sender: &PublicKey,
    channel_id: &[u8],
) -> (Aes256Gcm, [u8; 12]) {
    let mut info = Vec::with_capacity(labels::PROVISIONING.len() + 2 * 33 + 2 + channel_id.len());
    info.extend_from_slice(labels::PROVISIONING);
    info.extend_from_slice(&recipient.encode());
    info.extend_from_slice(&sender.encode());
    // Channel ids come from the relay and are short; the length keeps the encoding unambiguous.
    info.extend_from_slice(
        &u16::try_from(channel_id.len())
            .unwrap_or(u16::MAX)
            .to_be_bytes(),
    );
    info.extend_from_slice(channel_id);
    let mut okm = Zeroizing::new([0u8; 44]);
    // 44 bytes is far below HKDF-SHA256's limit of 8160: expand cannot fail.
    let _ = Hkdf::<Sha256>::new(None, shared).expand(&info, okm.as_mut());
    let key: [u8; 32] = okm[..32].try_into().unwrap_or([0; 32]);
    let key = Zeroizing::new(key);
    let nonce: [u8; 12] = okm[32..].try_into().unwrap_or([0; 12]);
    (Aes256Gcm::new((&*key).into()), nonce)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn message() -> ProvisioningMessage {
        ProvisioningMessage {
            identity: IdentityKeyPair::from_secret_bytes(&[7; IDENTITY_SECRET_LEN]),
            account_id: "0123456789abcdef0123456789abcdef".into(),
            username: "alice".into(),
            link_token: Zeroizing::new("token".into()),
        }
    }

    #[test]
    fn a_sealed_message_opens_only_for_its_key_and_channel() {
        let mut rng = <chacha20::ChaCha20Rng as rand_core::SeedableRng>::seed_from_u64(9);
        let keys = ProvisioningKeys::generate(&mut rng);
        let envelope = seal(&message(), b"chan", keys.public(), &mut rng).unwrap();
        let opened = keys.open(b"chan", &envelope).unwrap();
        assert_eq!(opened.username, "alice");
        assert_eq!(opened.identity.public(), message().identity.public());
        assert_eq!(
            keys.open(b"other", &envelope).unwrap_err(),
            ProvisioningError::Undecryptable
        );
        let stranger = ProvisioningKeys::generate(&mut rng);
        assert_eq!(
            stranger.open(b"chan", &envelope).unwrap_err(),
            ProvisioningError::Undecryptable
        );
        let mut flipped = envelope.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(keys.open(b"chan", &flipped).is_err());
        // The identity's secret bytes never appear in the envelope.
        let secret = message().identity.to_secret_bytes();
        assert!(!envelope.windows(32).any(|w| w == &secret[..32]));
    }

    #[test]
    fn malformed_messages_are_refused() {
        let encoded = message().encode().unwrap();
        assert!(ProvisioningMessage::decode(&encoded).is_ok());
        for cut in 0..encoded.len() {
            assert!(ProvisioningMessage::decode(&encoded[..cut]).is_err());
        }
        let mut longer = encoded.to_vec();
        longer.push(0);
        assert_eq!(
            ProvisioningMessage::decode(&longer).unwrap_err(),
            ProvisioningError::Malformed
        );
        let mut version = encoded.to_vec();
        version[0] = 9;
        assert_eq!(
            ProvisioningMessage::decode(&version).unwrap_err(),
            ProvisioningError::UnknownVersion(9)
        );
    }
}
