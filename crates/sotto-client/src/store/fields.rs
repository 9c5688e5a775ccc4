//! A tiny length-prefixed encoding for the plaintext of sealed columns.

use zeroize::Zeroizing;

use crate::error::StoreError;

/// Builds `len (u32 BE) || bytes` for each field; zeroized when dropped.
#[derive(Default)]
pub(crate) struct FieldWriter(Zeroizing<Vec<u8>>);

impl FieldWriter {
    pub(crate) fn bytes(mut self, field: &[u8]) -> Self {
        // Fields are keys, ids and message texts, far below 4 GiB.
        let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
        self.0.extend_from_slice(&len.to_be_bytes());
        self.0.extend_from_slice(field);
        self
    }

    pub(crate) fn u32(self, value: u32) -> Self {
        self.bytes(&value.to_be_bytes())
    }

    pub(crate) fn finish(self) -> Zeroizing<Vec<u8>> {
        self.0
    }
}

/// Reads what [`FieldWriter`] wrote, in the same order.
pub(crate) struct FieldReader<'a>(&'a [u8]);

impl<'a> FieldReader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self(bytes)
    }

    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], StoreError> {
        let corrupt = StoreError::Corrupt("sealed value layout");
        let (len, rest) = self.0.split_first_chunk::<4>().ok_or(corrupt)?;
        let len = u32::from_be_bytes(*len) as usize;
        if rest.len() < len {
            return Err(StoreError::Corrupt("sealed value layout"));
        }
        let (field, rest) = rest.split_at(len);
        self.0 = rest;
        Ok(field)
    }

    /// The next field, or `None` at the end (for fields added by a later version).
    pub(crate) fn optional_bytes(&mut self) -> Result<Option<&'a [u8]>, StoreError> {
        if self.0.is_empty() {
            Ok(None)
        } else {
            self.bytes().map(Some)
        }
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], StoreError> {
        self.bytes()?
            .try_into()
            .map_err(|_| StoreError::Corrupt("sealed field length"))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, StoreError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn string(&mut self) -> Result<String, StoreError> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| StoreError::Corrupt("sealed text"))
    }
}
