//! Certificates: the trust root certifies server keys, a server key certifies senders.
//!
//! ```text
//!   TrustRootKeyPair ──certify(key_id)──► ServerSigner (key id, Ed25519 key, server certificate)
//!   ServerSigner ──sender_certificate(account, device, identity, expiry)──► SenderCertificate
//!   CertificateValidator { pinned root, revoked key ids, now } ──validate──► accepted or refused
//! ```
//!
//! Each signature covers a context string and the exact encoded body, so a certificate has one
//! meaning and cannot be read as the other kind.

use std::collections::BTreeSet;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use prost::Message as _;
use rand_core::CryptoRng;
use sotto_proto::sealed as wire;
use zeroize::Zeroizing;

use super::error::SealedSenderError;
use crate::address::Address;
use crate::identity::{IdentityKey, signed_message, verifying_key};
use crate::labels;

/// The pinned public key that certifies a server's keys: clients store it at registration.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TrustRoot(VerifyingKey);

impl TrustRoot {
    /// Decodes a pinned 32-byte Ed25519 key.
    ///
    /// # Errors
    /// A key that is not a canonical, strong Ed25519 key.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, crate::KeyError> {
        verifying_key(bytes).map(Self)
    }

    /// The 32 bytes to pin.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }
}

/// The trust root's private key, held by the server operator. Zeroized on drop.
#[derive(Clone)]
pub struct TrustRootKeyPair(SigningKey);

impl TrustRootKeyPair {
    /// A new random root.
    pub fn generate(rng: &mut impl CryptoRng) -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(seed.as_mut());
        Self(SigningKey::from_bytes(&seed))
    }

    /// Rebuilds a root from its stored 32-byte seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(SigningKey::from_bytes(seed))
    }

    /// The 32-byte seed to store.
    pub fn to_seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// The public root clients pin.
    pub fn trust_root(&self) -> TrustRoot {
        TrustRoot(self.0.verifying_key())
    }

    /// A new server key with id `key_id`, certified by this root.
    pub fn certify(&self, rng: &mut impl CryptoRng, key_id: u32) -> ServerSigner {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(seed.as_mut());
        self.certify_seed(key_id, &seed)
    }

    /// Certifies the server key with this seed (a stored key, re-certified).
    pub fn certify_seed(&self, key_id: u32, seed: &[u8; 32]) -> ServerSigner {
        let key = SigningKey::from_bytes(seed);
        let body = wire::ServerCertificateBody {
            key_id,
            key: key.verifying_key().to_bytes().to_vec(),
        }
        .encode_to_vec();
        let signature = sign(&self.0, labels::SERVER_CERTIFICATE, &body);
        let certificate = wire::ServerCertificate { body, signature };
        ServerSigner {
            key_id,
            key,
            certificate,
        }
    }
}

impl core::fmt::Debug for TrustRootKeyPair {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "TrustRootKeyPair({:?})", self.trust_root())
    }
}

/// A server key that signs sender certificates, with the root's certificate for it.
#[derive(Clone)]
pub struct ServerSigner {
    key_id: u32,
    key: SigningKey,
    certificate: wire::ServerCertificate,
}

impl ServerSigner {
    /// The key's id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The 32-byte seed to store (with the key id; re-certify with
    /// [`TrustRootKeyPair::certify_seed`]).
    pub fn to_seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.key.to_bytes())
    }

    /// A certificate saying that `sender` has `identity` until `expires_ms` (Unix ms).
    pub fn sender_certificate(
        &self,
        sender: &Address,
        identity: &IdentityKey,
        expires_ms: u64,
    ) -> SenderCertificate {
        let body = wire::SenderCertificateBody {
            account: sender.account().to_vec(),
            device_id: sender.device(),
            identity_key: identity.encode().to_vec(),
            expires_ms,
            signer: Some(self.certificate.clone()),
        }
        .encode_to_vec();
        let signature = sign(&self.key, labels::SENDER_CERTIFICATE, &body);
        SenderCertificate {
            sender: sender.clone(),
            identity: identity.clone(),
            expires_ms,
            signer_key_id: self.key_id,
            signer_key: self.key.verifying_key(),
            signer_body: self.certificate.body.clone(),
            signer_signature: self.certificate.signature.clone(),
            body,
            signature,
        }
    }
}

impl core::fmt::Debug for ServerSigner {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ServerSigner")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// A decoded sender certificate: well-formed, not yet validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SenderCertificate {
    sender: Address,
    identity: IdentityKey,
    expires_ms: u64,
    signer_key_id: u32,
    signer_key: VerifyingKey,
    signer_body: Vec<u8>,
    signer_signature: Vec<u8>,
    body: Vec<u8>,
    signature: Vec<u8>,
}

impl SenderCertificate {
    /// Decodes a certificate (the signatures are checked by [`CertificateValidator`]).
    ///
    /// # Errors
    /// [`SealedSenderError::MalformedCertificate`] for any field that does not decode.
    pub fn from_wire(bytes: &[u8]) -> Result<Self, SealedSenderError> {
        use SealedSenderError::MalformedCertificate as Bad;
        let outer = wire::SenderCertificate::decode(bytes).map_err(|_| Bad("not a certificate"))?;
        let body =
            wire::SenderCertificateBody::decode(outer.body.as_slice()).map_err(|_| Bad("body"))?;
        check_signature_len(&outer.signature)?;
        let signer = body.signer.ok_or(Bad("no server certificate"))?;
        check_signature_len(&signer.signature)?;
        let server = wire::ServerCertificateBody::decode(signer.body.as_slice())
            .map_err(|_| Bad("server certificate body"))?;
        Ok(Self {
            sender: Address::new(body.account, body.device_id).map_err(|_| Bad("account id"))?,
            identity: IdentityKey::from_wire(&body.identity_key)
                .map_err(|_| Bad("identity key"))?,
            expires_ms: body.expires_ms,
            signer_key_id: server.key_id,
            signer_key: verifying_key(&server.key).map_err(|_| Bad("server key"))?,
            signer_body: signer.body,
            signer_signature: signer.signature,
            body: outer.body,
            signature: outer.signature,
        })
    }

    /// The wire encoding.
    pub fn encode(&self) -> Vec<u8> {
        wire::SenderCertificate {
            body: self.body.clone(),
            signature: self.signature.clone(),
        }
        .encode_to_vec()
    }

    /// The certified sender device.
    pub fn sender(&self) -> &Address {
        &self.sender
    }

    /// The certified identity of the sender's account.
    pub fn identity(&self) -> &IdentityKey {
        &self.identity
    }

    /// When the certificate expires (Unix ms).
    pub fn expires_ms(&self) -> u64 {
        self.expires_ms
    }

    /// Id of the server key that signed it.
    pub fn signer_key_id(&self) -> u32 {
        self.signer_key_id
    }
}

/// What a receiver checks a sender certificate against.
#[derive(Clone, Debug)]
pub struct CertificateValidator {
    root: TrustRoot,
    revoked: BTreeSet<u32>,
    now_ms: u64,
}

impl CertificateValidator {
    /// Checks against the pinned `root` at time `now_ms` (Unix ms), with no revoked keys.
    pub fn new(root: TrustRoot, now_ms: u64) -> Self {
        Self {
            root,
            revoked: BTreeSet::new(),
            now_ms,
        }
    }

    /// Also refuses certificates signed by these server key ids.
    #[must_use]
    pub fn with_revoked(mut self, key_ids: impl IntoIterator<Item = u32>) -> Self {
        self.revoked.extend(key_ids);
        self
    }

    /// The time certificates are checked at.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Accepts `certificate` if the root certified its server key, that key is not revoked,
    /// the key signed it, and it has not expired.
    ///
    /// # Errors
    /// [`SealedSenderError::UntrustedServerKey`], [`SealedSenderError::RevokedServerKey`],
    /// [`SealedSenderError::BadCertificateSignature`] or [`SealedSenderError::Expired`].
    pub fn validate(&self, certificate: &SenderCertificate) -> Result<(), SealedSenderError> {
        verify(
            &self.root.0,
            labels::SERVER_CERTIFICATE,
            &certificate.signer_body,
            &certificate.signer_signature,
        )
        .map_err(|()| SealedSenderError::UntrustedServerKey)?;
        if self.revoked.contains(&certificate.signer_key_id) {
            return Err(SealedSenderError::RevokedServerKey {
                key_id: certificate.signer_key_id,
            });
        }
        verify(
            &certificate.signer_key,
            labels::SENDER_CERTIFICATE,
            &certificate.body,
            &certificate.signature,
        )
        .map_err(|()| SealedSenderError::BadCertificateSignature)?;
        if certificate.expires_ms <= self.now_ms {
            return Err(SealedSenderError::Expired {
                expires_ms: certificate.expires_ms,
                now_ms: self.now_ms,
            });
        }
        Ok(())
    }
}

fn check_signature_len(signature: &[u8]) -> Result<(), SealedSenderError> {
    if signature.len() == 64 {
        Ok(())
    } else {
        Err(SealedSenderError::MalformedCertificate("signature length"))
    }
}

fn sign(key: &SigningKey, context: &[u8], body: &[u8]) -> Vec<u8> {
    key.sign(&signed_message(context, &[body]))
        .to_bytes()
        .to_vec()
}

fn verify(key: &VerifyingKey, context: &[u8], body: &[u8], signature: &[u8]) -> Result<(), ()> {
    let signature: [u8; 64] = signature.try_into().map_err(|_| ())?;
    key.verify_strict(
        &signed_message(context, &[body]),
        &Signature::from_bytes(&signature),
    )
    .map_err(|_| ())
}
