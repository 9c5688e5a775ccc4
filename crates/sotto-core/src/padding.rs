//! Length padding: plaintexts grow to a multiple of 160 bytes so that lengths leak less.
//!
//! `padded = plaintext || 0x80 || 0x00*` up to the next multiple of [`PAD_BLOCK`] (there is
//! always at least the 0x80 byte). Padding is removed only after the MAC was verified.

use crate::error::DecryptError;

/// The padding bucket size.
pub const PAD_BLOCK: usize = 160;

/// Length of `plaintext` once padded.
pub(crate) fn padded_len(plaintext_len: usize) -> usize {
    (plaintext_len / PAD_BLOCK + 1) * PAD_BLOCK
}

/// Appends the padded plaintext to `out`.
pub(crate) fn pad_into(plaintext: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(plaintext);
    out.push(0x80);
    out.resize(start + padded_len(plaintext.len()), 0);
}

/// The length of the plaintext inside `padded`.
pub(crate) fn unpadded_len(padded: &[u8]) -> Result<usize, DecryptError> {
    if padded.is_empty() || !padded.len().is_multiple_of(PAD_BLOCK) {
        return Err(DecryptError::BadPadding);
    }
    let end = padded
        .iter()
        .rposition(|&b| b != 0)
        .ok_or(DecryptError::BadPadding)?;
    if padded[end] != 0x80 || padded.len() - end > PAD_BLOCK {
        return Err(DecryptError::BadPadding);
    }
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_to_buckets_and_back() {
        for len in [0, 1, 158, 159, 160, 161, 1024] {
            let plaintext = vec![0u8; len];
            let mut padded = Vec::new();
            pad_into(&plaintext, &mut padded);
            assert_eq!(padded.len() % PAD_BLOCK, 0);
            assert!(padded.len() > len);
            assert_eq!(unpadded_len(&padded), Ok(len));
        }
    }

    #[test]
    fn rejects_bad_padding() {
        assert_eq!(unpadded_len(&[]), Err(DecryptError::BadPadding));
        assert_eq!(unpadded_len(&[0; 160]), Err(DecryptError::BadPadding));
        assert_eq!(unpadded_len(&[0x81; 160]), Err(DecryptError::BadPadding));
        let mut too_much = vec![0u8; 320];
        too_much[0] = 0x80;
        assert_eq!(unpadded_len(&too_much), Err(DecryptError::BadPadding));
    }
}
