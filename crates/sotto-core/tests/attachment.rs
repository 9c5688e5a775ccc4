//! Attachment encryption: round trips at the chunk boundaries, streaming with flat memory, and
//! every way a blob can be tampered with.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use sha2::{Digest, Sha256};
use sotto_core::attachment::{
    AttachmentDecryptor, AttachmentDigest, AttachmentEncryptor, AttachmentError, AttachmentKey,
    CHUNK_LEN, HEADER_LEN, TAG_LEN, ciphertext_len,
};

const KEY: [u8; 32] = [0x42; 32];

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed ^ (i >> 8) as u8)
        .collect()
}

/// Encrypts `plaintext` fed in slices of `step` bytes.
fn encrypt(plaintext: &[u8], step: usize) -> (Vec<u8>, AttachmentDigest) {
    let mut enc = AttachmentEncryptor::new(&AttachmentKey::from_bytes(KEY), plaintext.len() as u64);
    let mut blob = Vec::new();
    for slice in plaintext.chunks(step.max(1)) {
        enc.update(slice, &mut blob).unwrap();
    }
    let digest = enc.finish(&mut blob).unwrap();
    (blob, digest)
}

/// Decrypts `blob` fed in slices of `step` bytes; the plaintext so far and the outcome.
fn decrypt(
    blob: &[u8],
    len: u64,
    digest: AttachmentDigest,
    step: usize,
) -> (Vec<u8>, Result<(), AttachmentError>) {
    let mut dec = AttachmentDecryptor::new(&AttachmentKey::from_bytes(KEY), len, digest);
    let mut out = Vec::new();
    for slice in blob.chunks(step.max(1)) {
        if let Err(e) = dec.update(slice, &mut out) {
            return (out, Err(e));
        }
    }
    (out, dec.finish())
}

#[test]
fn round_trips_at_every_boundary() {
    let sizes = [
        0,
        1,
        511,
        512,
        513,
        CHUNK_LEN - 1,
        CHUNK_LEN,
        CHUNK_LEN + 1,
        3 * CHUNK_LEN + 17,
    ];
    for len in sizes {
        let plaintext = pattern(len, len as u8);
        for step in [1_000, 65_537, usize::MAX] {
            let (blob, digest) = encrypt(&plaintext, step.min(plaintext.len().max(1)));
            assert_eq!(blob.len() as u64, ciphertext_len(len as u64), "size {len}");
            assert_eq!(<[u8; 32]>::from(Sha256::digest(&blob)), digest);
            let (out, outcome) = decrypt(&blob, len as u64, digest, step.min(blob.len()));
            assert_eq!(outcome, Ok(()), "size {len} step {step}");
            assert_eq!(out, plaintext, "size {len} step {step}");
        }
    }
}

#[test]
fn one_byte_at_a_time() {
    let plaintext = pattern(700, 9);
    let (blob, digest) = encrypt(&plaintext, 1);
    assert_eq!(blob, encrypt(&plaintext, 700).0);
    let (out, outcome) = decrypt(&blob, 700, digest, 1);
    assert_eq!((out, outcome), (plaintext, Ok(())));
}

#[test]
fn the_same_key_and_file_give_the_same_blob_so_uploads_can_resume() {
    let plaintext = pattern(2 * CHUNK_LEN + 5, 1);
    assert_eq!(encrypt(&plaintext, 4096), encrypt(&plaintext, 77_777));
}

#[test]
fn a_hundred_mebibytes_stream_through_fixed_buffers() {
    const LEN: usize = 100 * 1024 * 1024;
    const SLICE: usize = 1024 * 1024;
    let key = AttachmentKey::from_bytes(KEY);
    let mut enc = AttachmentEncryptor::new(&key, LEN as u64);
    let (mut blob_hash, mut plain_hash) = (Sha256::new(), Sha256::new());
    let mut buf = Vec::with_capacity(SLICE + CHUNK_LEN + HEADER_LEN);
    let mut blob_len = 0u64;
    let slice = pattern(SLICE, 3);
    for _ in 0..LEN / SLICE {
        plain_hash.update(&slice);
        enc.update(&slice, &mut buf).unwrap();
        blob_len += buf.len() as u64;
        blob_hash.update(&buf);
        buf.clear();
    }
    let digest = enc.finish(&mut buf).unwrap();
    blob_hash.update(&buf);
    blob_len += buf.len() as u64;
    assert_eq!(<[u8; 32]>::from(blob_hash.finalize()), digest);
    assert_eq!(blob_len, ciphertext_len(LEN as u64));
    // The output buffer never had to grow: memory stays flat whatever the file size.
    assert!(buf.capacity() <= SLICE + CHUNK_LEN + HEADER_LEN);

    // Decrypt by re-encrypting on the fly: the decryptor sees the blob a slice at a time.
    let mut enc = AttachmentEncryptor::new(&key, LEN as u64);
    let mut dec = AttachmentDecryptor::new(&key, LEN as u64, digest);
    let (mut out, mut check) = (Vec::new(), Sha256::new());
    for _ in 0..LEN / SLICE {
        enc.update(&slice, &mut buf).unwrap();
        dec.update(&buf, &mut out).unwrap();
        check.update(&out);
        buf.clear();
        out.clear();
    }
    enc.finish(&mut buf).unwrap();
    dec.update(&buf, &mut out).unwrap();
    check.update(&out);
    dec.finish().unwrap();
    assert_eq!(check.finalize(), plain_hash.finalize());
}

/// A three-chunk blob and its digest.
fn three_chunks() -> (Vec<u8>, u64, AttachmentDigest) {
    let len = 2 * CHUNK_LEN + 1000;
    let (blob, digest) = encrypt(&pattern(len, 5), 10_000);
    (blob, len as u64, digest)
}

fn chunk_range(index: usize) -> std::ops::Range<usize> {
    let start = HEADER_LEN + index * (CHUNK_LEN + TAG_LEN);
    start..start + CHUNK_LEN + TAG_LEN
}

#[test]
fn a_tampered_chunk_is_rejected_and_not_output() {
    let (mut blob, len, digest) = three_chunks();
    blob[chunk_range(1).start + 100] ^= 1;
    let (out, outcome) = decrypt(&blob, len, digest, 4096);
    assert_eq!(outcome, Err(AttachmentError::ChunkNotAuthentic(1)));
    assert_eq!(out.len(), CHUNK_LEN, "only chunk 0 came out");
}

#[test]
fn a_tampered_tag_is_rejected() {
    let (mut blob, len, digest) = three_chunks();
    let last = blob.len() - 1;
    blob[last] ^= 0x80;
    let (_, outcome) = decrypt(&blob, len, digest, usize::MAX);
    assert_eq!(outcome, Err(AttachmentError::ChunkNotAuthentic(2)));
}

#[test]
fn reordered_chunks_are_rejected() {
    let (blob, len, digest) = three_chunks();
    let mut swapped = blob[..HEADER_LEN].to_vec();
    swapped.extend_from_slice(&blob[chunk_range(1)]);
    swapped.extend_from_slice(&blob[chunk_range(0)]);
    swapped.extend_from_slice(&blob[chunk_range(2).start..]);
    let (_, outcome) = decrypt(&swapped, len, digest, usize::MAX);
    assert_eq!(outcome, Err(AttachmentError::ChunkNotAuthentic(0)));
}

#[test]
fn truncation_is_rejected() {
    let (blob, len, digest) = three_chunks();
    for cut in [blob.len() - 1, chunk_range(2).start, HEADER_LEN, 10, 0] {
        let (_, outcome) = decrypt(&blob[..cut], len, digest, usize::MAX);
        assert_eq!(outcome, Err(AttachmentError::Truncated), "cut at {cut}");
    }
}

#[test]
fn a_blob_cut_to_its_first_chunks_fails_even_with_a_matching_size_and_digest() {
    // The attacker announces a size whose blob ends after chunk 0, with that prefix's digest:
    // chunk 0 was not sealed as a last chunk, so it does not open as one.
    let (blob, _, _) = three_chunks();
    let prefix = &blob[..chunk_range(0).end];
    let digest: AttachmentDigest = Sha256::digest(prefix).into();
    let (_, outcome) = decrypt(prefix, CHUNK_LEN as u64, digest, usize::MAX);
    assert_eq!(outcome, Err(AttachmentError::ChunkNotAuthentic(0)));
}

#[test]
fn trailing_data_is_rejected() {
    let (mut blob, len, digest) = three_chunks();
    blob.push(0);
    let (_, outcome) = decrypt(&blob, len, digest, usize::MAX);
    assert_eq!(outcome, Err(AttachmentError::TrailingData));
}

#[test]
fn a_wrong_digest_is_rejected() {
    let (blob, len, mut digest) = three_chunks();
    digest[0] ^= 1;
    let (_, outcome) = decrypt(&blob, len, digest, usize::MAX);
    assert_eq!(outcome, Err(AttachmentError::DigestMismatch));
}

#[test]
fn another_key_is_caught_by_the_commitment() {
    let (blob, len, digest) = three_chunks();
    let mut dec = AttachmentDecryptor::new(&AttachmentKey::from_bytes([1; 32]), len, digest);
    let outcome = dec.update(&blob, &mut Vec::new());
    assert_eq!(outcome, Err(AttachmentError::KeyMismatch));
    assert_eq!(
        dec.update(&[], &mut Vec::new()),
        Err(AttachmentError::Poisoned)
    );
}

#[test]
fn bad_headers_are_rejected() {
    let (blob, len, digest) = three_chunks();
    let cases: [(usize, AttachmentError); 4] = [
        (0, AttachmentError::BadHeader),
        (4, AttachmentError::UnsupportedVersion(0)),
        (7, AttachmentError::BadHeader),
        (20, AttachmentError::KeyMismatch),
    ];
    for (at, expected) in cases {
        let mut bad = blob.clone();
        bad[at] ^= 1;
        if at == 4 {
            bad[at] = 0;
        }
        assert_eq!(decrypt(&bad, len, digest, 5).1, Err(expected), "byte {at}");
    }
}

#[test]
fn a_size_in_another_bucket_is_rejected() {
    let (blob, digest) = encrypt(&pattern(1000, 2), 1000);
    let (_, outcome) = decrypt(&blob, 2000, digest, usize::MAX);
    assert_eq!(outcome, Err(AttachmentError::Truncated));
}

#[test]
fn a_smaller_size_in_the_same_bucket_meets_nonzero_padding() {
    let (blob, digest) = encrypt(&pattern(1000, 2), 1000);
    let (out, outcome) = decrypt(&blob, 995, digest, usize::MAX);
    assert_eq!(outcome, Err(AttachmentError::BadPadding));
    assert!(out.is_empty(), "nothing from a rejected chunk comes out");
}

#[test]
fn the_encryptor_insists_on_the_announced_size() {
    let key = AttachmentKey::from_bytes(KEY);
    let mut blob = Vec::new();
    let mut enc = AttachmentEncryptor::new(&key, 10);
    let err = enc.update(&[0; 11], &mut blob).unwrap_err();
    assert_eq!(
        err,
        AttachmentError::LengthMismatch {
            expected: 10,
            actual: 11
        }
    );
    assert_eq!(enc.finish(&mut blob), Err(AttachmentError::Poisoned));
    let mut enc = AttachmentEncryptor::new(&key, 10);
    enc.update(&[0; 9], &mut blob).unwrap();
    assert!(matches!(
        enc.finish(&mut blob),
        Err(AttachmentError::LengthMismatch { actual: 9, .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn any_file_and_any_slicing_round_trips(
        len in 0usize..(3 * CHUNK_LEN),
        seed: u8,
        enc_step in 1usize..100_000,
        dec_step in 1usize..100_000,
    ) {
        let plaintext = pattern(len, seed);
        let (blob, digest) = encrypt(&plaintext, enc_step);
        let (out, outcome) = decrypt(&blob, len as u64, digest, dec_step);
        prop_assert_eq!(outcome, Ok(()));
        prop_assert_eq!(out, plaintext);
    }
}
