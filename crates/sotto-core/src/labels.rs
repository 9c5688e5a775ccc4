//! Every domain-separation string Sotto uses, in one place so that no two sub-protocols can share
//! one by accident. `docs/protocol.md` lists the same strings; they are normative.

/// Context of the Ed25519 signature binding an identity's X25519 key to its Ed25519 key.
pub const IDENTITY_BINDING: &[u8] = b"Sotto_v1_IdentityBinding";
/// Context of the signature over a signed X25519 prekey.
pub const SIGNED_PRE_KEY: &[u8] = b"Sotto_v1_SignedPreKey";
/// Context of the signature over an ML-KEM-1024 prekey.
pub const KEM_PRE_KEY: &[u8] = b"Sotto_v1_KemPreKey";
/// HKDF info prefix of the PQXDH key derivation (followed by the 32-byte transcript hash).
pub const PQXDH_INFO: &[u8] = b"Sotto_PQXDH_X25519_SHA-256_ML-KEM-1024";
/// Prefix of the PQXDH transcript hash.
pub const PQXDH_TRANSCRIPT: &[u8] = b"Sotto_PQXDH_Transcript_v1";
/// HKDF info of the Double Ratchet root KDF.
pub const RATCHET_ROOT: &[u8] = b"Sotto_Ratchet_Root_v1";
/// HKDF info of the per-message key derivation.
pub const MESSAGE_KEYS: &[u8] = b"Sotto_Ratchet_MessageKeys_v1";
/// HKDF info deriving an attachment's chunk key and key commitment from its key.
pub const ATTACHMENT: &[u8] = b"Sotto_v1_Attachment";
/// HKDF info of a group (Sender Key) message's key derivation.
pub const GROUP_MESSAGE_KEYS: &[u8] = b"Sotto_Group_MessageKeys_v1";
/// Prefix of a group message's associated data hash (group id and sender address follow).
pub const GROUP_MESSAGE_AD: &[u8] = b"Sotto_v1_GroupMessage";
/// Context of the Sender Key signature over a whole group message.
pub const SENDER_KEY_SIGNATURE: &[u8] = b"Sotto_v1_SenderKeySignature";
/// Context of an admin's signature over a group state.
pub const GROUP_STATE: &[u8] = b"Sotto_v1_GroupState";
/// HKDF info prefix of a provisioning envelope's key (both public keys and the channel id follow).
pub const PROVISIONING: &[u8] = b"Sotto_v1_Provisioning";
/// Prefix of the per-party safety-number hash (format version 1).
pub const SAFETY_NUMBER_VERSION: [u8; 2] = [0x00, 0x01];
/// Context of the trust root's signature over a server certificate.
pub const SERVER_CERTIFICATE: &[u8] = b"Sotto_v1_ServerCertificate";
/// Context of a server key's signature over a sender certificate.
pub const SENDER_CERTIFICATE: &[u8] = b"Sotto_v1_SenderCertificate";
/// HKDF info prefix of a sealed envelope's outer layer (ephemeral and recipient keys follow).
pub const SEALED_OUTER: &[u8] = b"Sotto_v1_SealedSender_Outer";
/// HKDF info prefix of a sealed envelope's inner layer.
pub const SEALED_INNER: &[u8] = b"Sotto_v1_SealedSender_Inner";
/// HKDF info of the keys a multi-recipient message key derives.
pub const SEALED_MULTI: &[u8] = b"Sotto_v1_SealedSender_Multi";
/// HKDF info prefix of a recipient's pad of a multi-recipient message key.
pub const SEALED_MULTI_KEY: &[u8] = b"Sotto_v1_SealedSender_MultiKey";
/// HKDF info deriving an account's sealed-sender access key from its identity secret.
pub const ACCESS_KEY: &[u8] = b"Sotto_v1_SealedSender_AccessKey";
/// HKDF info prefix of the sender's tag in a multi-recipient header.
pub const SEALED_MULTI_AUTH: &[u8] = b"Sotto_v1_SealedSender_MultiAuth";
