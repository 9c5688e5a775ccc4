//! Attachment encryption and decryption against the raw cipher on the same bytes.
//!
//! ```text
//! cargo bench -p sotto-bench --bench attachment
//! ```
//!
//! Each group handles one 8 MiB file: `sotto` through sotto-core's streaming
//! encryptor/decryptor (fed 1 MiB at a time), `floor_gcm` only AES-256-GCM over the same
//! 64 KiB chunks, `floor_gcm_sha256` that plus the SHA-256 digest the scheme needs.
//! MB/s = 8.39 MB / time. Times are the thread's CPU time; `docs/benchmarks.md` holds results.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../protocol/cpu_time.rs"]
mod cpu_time;

use std::hint::black_box;
use std::time::Duration;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use criterion::{Criterion, criterion_group, criterion_main};
use sha2::{Digest, Sha256};
use sotto_core::attachment::{
    AttachmentDecryptor, AttachmentEncryptor, AttachmentKey, CHUNK_LEN, TAG_LEN,
};

use cpu_time::CpuTime;

const FILE: usize = 8 * 1024 * 1024;
const SLICE: usize = 1024 * 1024;

fn key() -> AttachmentKey {
    AttachmentKey::from_bytes([9; 32])
}

fn encrypt(plaintext: &[u8], buf: &mut Vec<u8>) -> [u8; 32] {
    let mut enc = AttachmentEncryptor::new(&key(), plaintext.len() as u64);
    for slice in plaintext.chunks(SLICE) {
        enc.update(slice, buf).unwrap();
        black_box(&buf);
        buf.clear();
    }
    enc.finish(buf).unwrap()
}

/// AES-256-GCM over 64 KiB chunks in place, optionally hashing the result.
fn floor(cipher: &Aes256Gcm, data: &mut [u8], hash: bool) {
    let mut hasher = Sha256::new();
    for (i, chunk) in data.chunks_mut(CHUNK_LEN).enumerate() {
        let mut nonce = [0u8; 12];
        nonce[..8].copy_from_slice(&(i as u64).to_be_bytes());
        let tag = cipher
            .encrypt_inout_detached(&Nonce::from(nonce), b"header", chunk.into())
            .unwrap();
        if hash {
            hasher.update(&*chunk);
            hasher.update(tag);
        }
    }
    black_box(hasher.finalize());
}

fn attachment_encrypt(c: &mut Criterion<CpuTime>) {
    let plaintext = vec![0x5a; FILE];
    let mut buf = Vec::with_capacity(SLICE + CHUNK_LEN + TAG_LEN + 64);
    let mut group = c.benchmark_group("attachment_encrypt_8MiB");
    group.bench_function("sotto", |b| b.iter(|| encrypt(&plaintext, &mut buf)));
    let cipher = Aes256Gcm::new(&[7u8; 32].into());
    let mut data = plaintext.clone();
    group.bench_function("floor_gcm", |b| b.iter(|| floor(&cipher, &mut data, false)));
    group.bench_function("floor_gcm_sha256", |b| {
        b.iter(|| floor(&cipher, &mut data, true))
    });
    group.finish();
}

fn attachment_decrypt(c: &mut Criterion<CpuTime>) {
    let plaintext = vec![0x5a; FILE];
    let mut blob = Vec::new();
    let mut enc = AttachmentEncryptor::new(&key(), FILE as u64);
    enc.update(&plaintext, &mut blob).unwrap();
    let digest = enc.finish(&mut blob).unwrap();
    let mut out = Vec::with_capacity(SLICE + CHUNK_LEN);
    let mut group = c.benchmark_group("attachment_decrypt_8MiB");
    group.bench_function("sotto", |b| {
        b.iter(|| {
            let mut dec = AttachmentDecryptor::new(&key(), FILE as u64, digest);
            for slice in blob.chunks(SLICE) {
                dec.update(slice, &mut out).unwrap();
                black_box(&out);
                out.clear();
            }
            dec.finish().unwrap();
        })
    });
    group.finish();
}

fn config() -> Criterion<CpuTime> {
    Criterion::default()
        .with_measurement(CpuTime)
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .configure_from_args()
}

criterion_group! {
    name = attachments;
    config = config();
    targets = attachment_encrypt, attachment_decrypt
}
criterion_main!(attachments);
