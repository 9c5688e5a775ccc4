//! Sender certificates for sealed sender (`docs/protocol.md` §17): the relay's trust root, its
//! current signing key, and the ids of revoked keys.
//!
//! ```text
//!   <dir>/root.key     32-byte seed of the trust root (clients pin its public key)
//!   <dir>/signing.key  key id (u32, big-endian) || 32-byte seed of the current server key
//!   <dir>/revoked      ids of revoked server keys, one per line
//! ```
//!
//! The directory is created with mode 0700 and the key files with 0600 on first start. Every
//! node of a cluster must use the same directory contents (copy it), or clients would see
//! certificates from a root they did not pin.

use std::io;
use std::path::Path;

use ed25519_dalek::{Signer as _, SigningKey};
use prost::Message as _;
use sotto_proto::sealed as wire;
use zeroize::Zeroizing;

/// Context of the trust root's signature over a server certificate (`docs/protocol.md` §17.1).
const SERVER_CERTIFICATE: &[u8] = b"Sotto_v1_ServerCertificate";
/// Context of the server key's signature over a sender certificate.
const SENDER_CERTIFICATE: &[u8] = b"Sotto_v1_SenderCertificate";
/// Length of an encoded identity key (the relay checks only this; clients verify the key).
const IDENTITY_KEY_LEN: usize = 129;

/// How long a sender certificate is valid by default.
pub const DEFAULT_VALIDITY_MS: u64 = 24 * 3600 * 1000;

/// What signs sender certificates on this relay.
pub struct SenderCertificates {
    root: [u8; 32],
    key_id: u32,
    signer: SigningKey,
    signer_certificate: wire::ServerCertificate,
    revoked: Vec<u32>,
    validity_ms: u64,
}

/// A certificate just issued.
pub struct IssuedCertificate {
    /// The encoded `SenderCertificate`.
    pub certificate: Vec<u8>,
    /// When it expires (Unix ms).
    pub expires_ms: u64,
}

impl SenderCertificates {
    /// Loads the keys under `dir`, creating a root and a first signing key (id 1) if there are
    /// none.
    ///
    /// # Errors
    /// A directory or file that cannot be read or written, or a key file of the wrong length.
    pub fn load_or_create(dir: &Path, validity_ms: u64) -> io::Result<Self> {
        create_private_dir(dir)?;
        let stored = read_or_create(&dir.join("root.key"), 32)?;
        let mut root_seed = Zeroizing::new([0u8; 32]);
        root_seed.copy_from_slice(&stored);
        let root = SigningKey::from_bytes(&root_seed);
        let signing = read_or_create_signing(&dir.join("signing.key"))?;
        let (key_id, seed) = split_signing(&signing)?;
        let signer = SigningKey::from_bytes(&seed);
        let body = wire::ServerCertificateBody {
            key_id,
            key: signer.verifying_key().to_bytes().to_vec(),
        }
        .encode_to_vec();
        let signer_certificate = wire::ServerCertificate {
            signature: sign(&root, SERVER_CERTIFICATE, &body),
            body,
        };
        Ok(Self {
            root: root.verifying_key().to_bytes(),
            key_id,
            signer,
            signer_certificate,
            revoked: read_revoked(&dir.join("revoked"))?,
            validity_ms,
        })
    }

    /// The trust root's public key, which clients pin at registration.
    pub fn trust_root(&self) -> [u8; 32] {
        self.root
    }

    /// The id of the key that signs new certificates.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// Revoked server key ids: clients refuse certificates they signed.
    pub fn revoked(&self) -> &[u32] {
        &self.revoked
    }

    /// A certificate for `device` of `account` with the account's `identity_key`.
    ///
    /// # Errors
    /// An identity key of the wrong length or an account id longer than 64 bytes (an account
    /// registered with a key no client would make). The key itself is not parsed: clients
    /// verify it, the relay only signs what it holds.
    pub fn issue(
        &self,
        account: &str,
        device: u32,
        identity_key: &[u8],
        now_ms: u64,
    ) -> Result<IssuedCertificate, String> {
        if identity_key.len() != IDENTITY_KEY_LEN {
            return Err(format!(
                "the account's identity key has {} bytes, not {IDENTITY_KEY_LEN}",
                identity_key.len()
            ));
        }
        if account.is_empty() || account.len() > 64 {
            return Err("account id length".into());
        }
        let expires_ms = now_ms.saturating_add(self.validity_ms);
        let body = wire::SenderCertificateBody {
            account: account.as_bytes().to_vec(),
            device_id: device,
            identity_key: identity_key.to_vec(),
            expires_ms,
            signer: Some(self.signer_certificate.clone()),
        }
        .encode_to_vec();
        let certificate = wire::SenderCertificate {
            signature: sign(&self.signer, SENDER_CERTIFICATE, &body),
            body,
        }
        .encode_to_vec();
        Ok(IssuedCertificate {
            certificate,
            expires_ms,
        })
    }

    /// Makes a new signing key with the next id under `dir` (certificates of the old key stay
    /// valid until they expire). Returns the new id; the relay uses it after a restart.
    ///
    /// # Errors
    /// As [`load_or_create`](Self::load_or_create).
    pub fn rotate(dir: &Path) -> io::Result<u32> {
        let path = dir.join("signing.key");
        let (old, _) = split_signing(&read_or_create_signing(&path)?)?;
        let next = old
            .checked_add(1)
            .ok_or_else(|| io::Error::other("key ids exhausted"))?;
        write_private(&path, &signing_bytes(next, &*random_seed()?))?;
        Ok(next)
    }

    /// Adds `key_id` to the revoked ids under `dir`.
    ///
    /// # Errors
    /// As [`load_or_create`](Self::load_or_create).
    pub fn revoke(dir: &Path, key_id: u32) -> io::Result<()> {
        let path = dir.join("revoked");
        let mut ids = read_revoked(&path)?;
        if !ids.contains(&key_id) {
            ids.push(key_id);
        }
        let text: String = ids.iter().map(|id| format!("{id}\n")).collect();
        write_private(&path, text.as_bytes())
    }
}

/// `Sign(key, context || body)`, 64 bytes.
fn sign(key: &SigningKey, context: &[u8], body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(context.len() + body.len());
    message.extend_from_slice(context);
    message.extend_from_slice(body);
    key.sign(&message).to_bytes().to_vec()
}

fn bad_length<E>(_: E) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "key file of the wrong length")
}

fn random_seed() -> io::Result<Zeroizing<[u8; 32]>> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut()).map_err(io::Error::other)?;
    Ok(seed)
}

fn signing_bytes(key_id: u32, seed: &[u8; 32]) -> Zeroizing<Vec<u8>> {
    let mut bytes = Zeroizing::new(key_id.to_be_bytes().to_vec());
    bytes.extend_from_slice(seed);
    bytes
}

fn split_signing(bytes: &[u8]) -> io::Result<(u32, Zeroizing<[u8; 32]>)> {
    if bytes.len() != 36 {
        return Err(bad_length(()));
    }
    let key_id = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let mut seed = Zeroizing::new([0u8; 32]);
    seed.copy_from_slice(&bytes[4..]);
    Ok((key_id, seed))
}

fn read_or_create_signing(path: &Path) -> io::Result<Zeroizing<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Zeroizing::new(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let bytes = signing_bytes(1, &*random_seed()?);
            write_private(path, &bytes)?;
            Ok(bytes)
        }
        Err(e) => Err(e),
    }
}

fn read_or_create(path: &Path, len: usize) -> io::Result<Zeroizing<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) if bytes.len() == len => Ok(Zeroizing::new(bytes)),
        Ok(_) => Err(bad_length(())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let seed = random_seed()?;
            write_private(path, seed.as_ref())?;
            Ok(Zeroizing::new(seed.to_vec()))
        }
        Err(e) => Err(e),
    }
}

fn read_revoked(path: &Path) -> io::Result<Vec<u32>> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(|line| {
                line.parse().map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("revoked key id {line:?}"),
                    )
                })
            })
            .collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Writes `bytes` to `path` with mode 0600, replacing it atomically.
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write as _;
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotto_core::sealed::{CertificateValidator, SenderCertificate, TrustRoot};

    fn identity() -> Vec<u8> {
        sotto_core::IdentityKeyPair::from_secret_bytes(&[7; 64])
            .public()
            .encode()
            .to_vec()
    }

    #[test]
    fn keys_persist_and_certificates_validate_against_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let keys = SenderCertificates::load_or_create(dir.path(), 1000).unwrap();
        let again = SenderCertificates::load_or_create(dir.path(), 1000).unwrap();
        assert_eq!(keys.trust_root(), again.trust_root());
        assert_eq!(keys.key_id(), 1);
        let issued = again.issue("0123", 2, &identity(), 5_000).unwrap();
        assert_eq!(issued.expires_ms, 6_000);
        let certificate = SenderCertificate::from_wire(&issued.certificate).unwrap();
        assert_eq!(certificate.sender().device(), 2);
        let root = TrustRoot::from_bytes(&keys.trust_root()).unwrap();
        assert!(
            CertificateValidator::new(root, 5_999)
                .validate(&certificate)
                .is_ok()
        );
        assert!(
            CertificateValidator::new(root, 6_000)
                .validate(&certificate)
                .is_err()
        );
    }

    #[test]
    fn rotation_and_revocation_are_kept_in_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let first = SenderCertificates::load_or_create(dir.path(), 1000).unwrap();
        assert_eq!(SenderCertificates::rotate(dir.path()).unwrap(), 2);
        SenderCertificates::revoke(dir.path(), 1).unwrap();
        SenderCertificates::revoke(dir.path(), 1).unwrap();
        let second = SenderCertificates::load_or_create(dir.path(), 1000).unwrap();
        assert_eq!(second.key_id(), 2);
        assert_eq!(second.revoked(), [1]);
        assert_eq!(second.trust_root(), first.trust_root());
    }

    #[test]
    fn a_bad_identity_key_gets_an_error_not_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let keys = SenderCertificates::load_or_create(dir.path(), 1000).unwrap();
        assert!(keys.issue("0123", 1, b"not a key", 0).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn key_files_are_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        SenderCertificates::load_or_create(&dir.path().join("keys"), 1000).unwrap();
        for name in ["root.key", "signing.key"] {
            let mode = std::fs::metadata(dir.path().join("keys").join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{name}");
        }
    }
}
