//! Addresses: which device of which account a session belongs to.

use crate::error::AddressError;

/// The longest account id, in bytes.
pub const MAX_ACCOUNT_ID_LEN: usize = 64;

/// One device of one account. The account id is opaque to the protocol (the server's stable
/// account identifier); the device id is the server-assigned number of the device.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    account: Vec<u8>,
    device: u32,
}

impl Address {
    /// Makes an address.
    ///
    /// # Errors
    /// An account id that is empty or longer than 64 bytes.
    pub fn new(account: impl Into<Vec<u8>>, device: u32) -> Result<Self, AddressError> {
        let account = account.into();
        if account.is_empty() || account.len() > MAX_ACCOUNT_ID_LEN {
            return Err(AddressError::AccountIdLength(account.len()));
        }
        Ok(Self { account, device })
    }

    /// The account id.
    pub fn account(&self) -> &[u8] {
        &self.account
    }

    /// The device id.
    pub fn device(&self) -> u32 {
        self.device
    }

    /// Appends the unambiguous encoding `len(u8) || account || device (u32 BE)`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        // The length fits: `new` bounds it by 64.
        out.push(self.account.len() as u8);
        out.extend_from_slice(&self.account);
        out.extend_from_slice(&self.device.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_length_is_bounded() {
        assert!(Address::new(Vec::new(), 1).is_err());
        assert!(Address::new(vec![b'a'; 65], 1).is_err());
        assert!(Address::new(vec![b'a'; 64], 1).is_ok());
    }

    #[test]
    fn encoding_is_unambiguous() {
        let mut a = Vec::new();
        Address::new("ab", 1).unwrap().encode_into(&mut a);
        let mut b = Vec::new();
        Address::new("a", 1).unwrap().encode_into(&mut b);
        assert_ne!(a, b);
        assert_eq!(a, [2, b'a', b'b', 0, 0, 0, 1]);
    }
}
