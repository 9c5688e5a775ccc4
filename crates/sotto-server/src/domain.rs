//! Validated values of the relay's domain: usernames, account and device ids, message ids,
//! device secrets. Each is parsed once at the edge ("parse, don't validate").

use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// Why a value from a request was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidValue {
    /// Username of the wrong length or alphabet.
    #[error("username must be 3–32 characters of a-z, 0-9, '_' and '.'")]
    Username,
    /// Account id that is not 32 lowercase hex digits.
    #[error("account id must be 32 lowercase hex digits")]
    AccountId,
    /// Device id outside 1..=255.
    #[error("device id must be between 1 and 255")]
    DeviceId,
    /// Message id of the wrong length or alphabet.
    #[error("message id must be 16–64 characters of A-Z, a-z, 0-9, '-' and '_'")]
    MessageId,
    /// Device secret that is not exactly 32 bytes.
    #[error("device secret must be exactly 32 bytes")]
    Secret,
    /// Attachment id that is not 32 characters of unpadded base64url.
    #[error("attachment id must be 32 characters of A-Z, a-z, 0-9, '-' and '_'")]
    AttachmentId,
    /// Sealed-sender access key that is not exactly 16 bytes.
    #[error("access key must be exactly 16 bytes")]
    AccessKey,
}

/// A canonical (lowercase) username: 3–32 characters of `a-z0-9_.`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    /// Parses a username, folding ASCII case so `Alice` and `alice` are the same account.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let lower = raw.to_ascii_lowercase();
        let valid_char =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.';
        if !(3..=32).contains(&lower.len()) || !lower.chars().all(valid_char) {
            return Err(InvalidValue::Username);
        }
        Ok(Self(lower))
    }

    /// The canonical form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A server-assigned account id: 128 random bits as 32 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(String);

impl AccountId {
    /// Draws a fresh random id from the operating system's RNG.
    pub fn random() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes)?;
        Ok(Self(hex::encode(bytes)))
    }

    /// Parses an id received from a client or read from storage.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let valid = raw.len() == 32
            && raw
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidValue::AccountId)
        }
    }

    /// The hex form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A device id within an account: 1 (the first device) to 255.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId(u8);

impl DeviceId {
    /// The device created at registration.
    pub const FIRST: DeviceId = DeviceId(1);

    /// Checks the range.
    pub fn new(raw: u32) -> Result<Self, InvalidValue> {
        match u8::try_from(raw) {
            Ok(id) if id >= 1 => Ok(Self(id)),
            _ => Err(InvalidValue::DeviceId),
        }
    }

    /// The numeric id.
    pub fn get(self) -> u32 {
        u32::from(self.0)
    }
}

/// One device of one account: the unit that owns a mailbox and a WebSocket.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceAddress {
    /// The account.
    pub account: AccountId,
    /// The device within it.
    pub device: DeviceId,
}

impl fmt::Display for DeviceAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.account, self.device.get())
    }
}

/// A client-chosen message id, the idempotency key of a send.
///
/// Clients should begin it with its creation time and follow with at least 80 random bits,
/// `{12 hex digits of Unix ms}-{20 hex digits}` as Sotto clients do, or use a UUIDv7: ids
/// are unique per recipient account, and a time first keeps the relay's table of remembered
/// ids growing at one end (see [`MessageId::remembered_for`]). Any other id of 16–64
/// characters works too, at a higher cost per send under load.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageId(String);

/// Label of the hash under which the relay remembers message ids.
const REMEMBERED_LABEL: &[u8] = b"Sotto_relay_remembered_message_id";

impl MessageId {
    /// Parses an id from a request path.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let valid_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if !(16..=64).contains(&raw.len()) || !raw.chars().all(valid_char) {
            return Err(InvalidValue::MessageId);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The id as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form in which the relay remembers this id for `recipient` after delivery, so that a
    /// retry is stored once. The same group message goes to many accounts under one
    /// client-chosen id; remembered per account under different values, the table of
    /// remembered ids does not tell by id which accounts got the same message
    /// (`docs/metadata.md`).
    ///
    /// An id that begins with its creation time ([`MessageId::time_prefix`]) is remembered as
    /// `{that prefix}:{first 128 bits of the hash, in hex}`: new rows then land at the end of
    /// the table's index, a few pages per commit, instead of one random page per send. Any
    /// other id is remembered as the full hash in hex, as before time prefixes existed, so a
    /// retry across an upgrade still finds it. The hash is
    /// `SHA-256(label || recipient || 0x00 || id)` in both forms.
    pub fn remembered_for(&self, recipient: &AccountId) -> String {
        let digest = Sha256::new()
            .chain_update(REMEMBERED_LABEL)
            .chain_update(recipient.as_str().as_bytes())
            .chain_update([0])
            .chain_update(self.0.as_bytes())
            .finalize();
        match self.time_prefix() {
            Some(time) => format!("{time}:{}", hex::encode(&digest[..16])),
            None => hex::encode(digest),
        }
    }

    /// The creation time this id begins with, as written: 12 hex digits and a dash
    /// (`0194a3b2c1d0-…`, Sotto's form), or the first 13 characters of a UUIDv7
    /// (`0194a3b2-c1d0-7…`). None for any other id.
    pub fn time_prefix(&self) -> Option<&str> {
        let bytes = self.0.as_bytes();
        let hex = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_hexdigit);
        let sotto = bytes.len() > 12 && hex(0..12) && bytes[12] == b'-';
        let uuid_v7 = bytes.len() > 14
            && hex(0..8)
            && bytes[8] == b'-'
            && hex(9..13)
            && bytes[13] == b'-'
            && bytes[14] == b'7';
        match (sotto, uuid_v7) {
            (true, _) => self.0.get(..12),
            (_, true) => self.0.get(..13),
            _ => None,
        }
    }
}

/// SHA-256 of a device's authentication secret, the only form the server stores.
///
/// A plain SHA-256 is enough here, with no salt or slow hash: the secret is 32 bytes drawn
/// by the client from a CSPRNG, so a stolen hash cannot be inverted by guessing (2^256 work),
/// unlike a human password. A slow hash would only cost CPU on every request.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretHash([u8; 32]);

impl SecretHash {
    /// Hashes a secret received from a client; it must be exactly 32 bytes.
    pub fn of_secret(secret: &[u8]) -> Result<Self, InvalidValue> {
        if secret.len() != 32 {
            return Err(InvalidValue::Secret);
        }
        Ok(Self(Sha256::digest(secret).into()))
    }

    /// Rebuilds a hash read from storage.
    pub fn from_stored(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Self)
    }

    /// The stored form.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Compares in constant time, so response timing does not reveal how much matched.
    pub fn matches(&self, other: &SecretHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(..)")
    }
}

/// SHA-256 of an account's 16-byte sealed-sender access key: what a sealed sender must
/// present for the relay to deliver to the account. Only the hash is stored.
#[derive(Clone)]
pub struct AccessKeyHash([u8; 32]);

impl AccessKeyHash {
    /// Length of an access key.
    pub const KEY_LEN: usize = 16;

    /// Hashes a key received from a client; it must be exactly 16 bytes.
    pub fn of_key(key: &[u8]) -> Result<Self, InvalidValue> {
        if key.len() != Self::KEY_LEN {
            return Err(InvalidValue::AccessKey);
        }
        Ok(Self(Sha256::digest(key).into()))
    }

    /// Rebuilds a hash read from storage.
    pub fn from_stored(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Self)
    }

    /// The stored form.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Compares in constant time, so response timing does not reveal how much matched.
    pub fn matches(&self, other: &AccessKeyHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for AccessKeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessKeyHash(..)")
    }
}

/// Hash of a registration token: tokens, like device secrets, are stored only hashed.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A server-assigned attachment id: 192 random bits as 32 characters of unpadded base64url.
/// Knowing it is what entitles a client to download the blob, so it is never logged.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AttachmentId(String);

impl AttachmentId {
    /// Draws a fresh random id from the operating system's RNG.
    pub fn random() -> Result<Self, getrandom::Error> {
        use base64::Engine as _;
        let mut bytes = [0u8; 24];
        getrandom::fill(&mut bytes)?;
        Ok(Self(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
        ))
    }

    /// Parses an id from a request path or from storage.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let valid = raw.len() == 32
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidValue::AttachmentId)
        }
    }

    /// The id's text (safe as a file or object name).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AttachmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AttachmentId(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_without_a_time_are_remembered_as_before_time_prefixes() {
        // Pinned: rows written by earlier releases must still match their retries.
        let id = MessageId::parse("0123456789abcdef0123").unwrap();
        let a = AccountId::parse(&"a".repeat(32)).unwrap();
        assert_eq!(id.time_prefix(), None);
        assert_eq!(
            id.remembered_for(&a),
            "cef7c70c7124e0f33ab1fa50f3d0b885c5b07f563089178b832035b5b26f516d"
        );
    }

    #[test]
    fn ids_that_begin_with_a_time_are_remembered_in_time_order() {
        let a = AccountId::parse(&"a".repeat(32)).unwrap();
        let sotto = |ms: u64, rest: &str| MessageId::parse(&format!("{ms:012x}-{rest}")).unwrap();
        let earlier = sotto(0x0194_a3b2_c1d0, "ffffffffffffffffffff");
        let later = sotto(0x0194_a3b2_c1d1, "00000000000000000000");
        assert_eq!(earlier.time_prefix(), Some("0194a3b2c1d0"));
        assert!(earlier.remembered_for(&a) < later.remembered_for(&a));
        assert!(earlier.remembered_for(&a).starts_with("0194a3b2c1d0:"));
        assert_eq!(earlier.remembered_for(&a).len(), 12 + 1 + 32);
        assert!(!earlier.remembered_for(&a).contains("ffffffffffffffffffff"));
        let uuid = MessageId::parse("0194a3b2-c1d0-7abc-8def-0123456789ab").unwrap();
        assert_eq!(uuid.time_prefix(), Some("0194a3b2-c1d0"));
        let uuid_v4 = MessageId::parse("0194a3b2-c1d0-4abc-8def-0123456789ab").unwrap();
        assert_eq!(uuid_v4.time_prefix(), None);
        let not_hex = MessageId::parse("0194a3b2c1dz-00000000000000000000").unwrap();
        assert_eq!(not_hex.time_prefix(), None);
    }

    #[test]
    fn any_valid_id_has_one_remembered_form() {
        // Ids assembled from the characters that matter to `time_prefix`, at every length the
        // relay accepts: no panic, and a time prefix only in the two documented shapes.
        let alphabet = b"0af7-_Zz";
        let a = AccountId::parse(&"a".repeat(32)).unwrap();
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for n in 0..20_000 {
            let len = 16 + n % 49;
            let raw: String = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    char::from(alphabet[(state % alphabet.len() as u64) as usize])
                })
                .collect();
            let id = MessageId::parse(&raw).unwrap();
            let remembered = id.remembered_for(&a);
            match id.time_prefix() {
                Some(time) => {
                    assert!(raw.starts_with(time) && (time.len() == 12 || time.len() == 13));
                    assert_eq!(remembered.len(), time.len() + 33, "{raw}");
                }
                None => assert_eq!(remembered.len(), 64, "{raw}"),
            }
        }
    }

    #[test]
    fn remembered_ids_differ_per_recipient() {
        let a = AccountId::parse(&"a".repeat(32)).unwrap();
        let b = AccountId::parse(&"b".repeat(32)).unwrap();
        for raw in ["0123456789abcdef0123", "0194a3b2c1d0-0123456789abcdef0123"] {
            let id = MessageId::parse(raw).unwrap();
            assert_ne!(id.remembered_for(&a), id.remembered_for(&b));
            assert_eq!(id.remembered_for(&a), id.remembered_for(&a));
            assert!(!id.remembered_for(&a).contains(id.as_str()));
        }
    }

    #[test]
    fn usernames_fold_case_and_reject_bad_ones() {
        assert_eq!(Username::parse("Alice_1.x").unwrap().as_str(), "alice_1.x");
        for bad in ["ab", "a b", "ålice", &"a".repeat(33), "al-ice", ""] {
            assert_eq!(Username::parse(bad), Err(InvalidValue::Username), "{bad}");
        }
        assert!(Username::parse(&"a".repeat(32)).is_ok());
    }

    #[test]
    fn ids_are_checked() {
        assert!(AccountId::parse(AccountId::random().unwrap().as_str()).is_ok());
        assert!(AccountId::parse("ABCDEF0123456789abcdef0123456789").is_err());
        assert!(DeviceId::new(0).is_err() && DeviceId::new(256).is_err());
        assert_eq!(DeviceId::new(255).unwrap().get(), 255);
        assert!(MessageId::parse("0123456789abcdef").is_ok());
        assert!(MessageId::parse("short").is_err());
        assert!(MessageId::parse("0123456789abcdef/..").is_err());
    }

    #[test]
    fn secrets_hash_and_compare() {
        let a = SecretHash::of_secret(&[1; 32]).unwrap();
        assert!(a.matches(&SecretHash::of_secret(&[1; 32]).unwrap()));
        assert!(!a.matches(&SecretHash::of_secret(&[2; 32]).unwrap()));
        assert_eq!(SecretHash::of_secret(&[1; 31]), Err(InvalidValue::Secret));
    }

    #[test]
    fn access_keys_are_16_bytes_and_compare() {
        let a = AccessKeyHash::of_key(&[1; 16]).unwrap();
        assert!(a.matches(&AccessKeyHash::of_key(&[1; 16]).unwrap()));
        assert!(!a.matches(&AccessKeyHash::of_key(&[2; 16]).unwrap()));
        assert!(a.matches(&AccessKeyHash::from_stored(a.as_bytes()).unwrap()));
        for len in [0, 15, 17, 32] {
            assert_eq!(
                AccessKeyHash::of_key(&vec![1; len]).err(),
                Some(InvalidValue::AccessKey)
            );
        }
    }
}
