//! `sotto bench attachments`: one file end to end, as a client sends it. Encrypt it with
//! sotto-core's streaming attachment cipher, upload the blob through a relay in resumable
//! `PATCH` requests, download it, decrypt and compare; MB/s for each step, next to the raw
//! AES-256-GCM speed of this machine. The relay stores blobs in a local directory, and in an
//! S3-compatible bucket too when `--s3` names one. Files go through temporary files, so
//! memory stays flat whatever `--size`.

use super::server::{Target, TargetArgs, memory_kib, progress};
use super::transfer::{Transfer, download, upload};
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use anyhow::{Context, Result, bail, ensure};
use clap::Args;
use serde_json::{Map, Value, json};
use sotto_core::attachment::{
    AttachmentDecryptor, AttachmentDigest, AttachmentEncryptor, AttachmentKey, CHUNK_LEN,
    ciphertext_len,
};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// Bytes the file is read and written in.
const SLICE: usize = 1 << 20;

#[derive(Debug, Args)]
pub struct AttachmentsArgs {
    /// Plaintext size: bytes, or with a KiB, MiB or GiB suffix.
    #[arg(long, default_value = "100MiB", value_parser = parse_size)]
    size: u64,
    /// Bytes per upload request (`PATCH`).
    #[arg(long, default_value = "8MiB", value_parser = parse_size)]
    request: u64,
    /// Also through a relay storing blobs in this bucket: s3://BUCKET[/PREFIX] (credentials
    /// from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).
    #[arg(long)]
    s3: Option<String>,
    /// S3 endpoint URL of a service other than AWS.
    #[arg(long, requires = "s3")]
    s3_endpoint: Option<String>,
    /// Allow a plain-HTTP S3 endpoint.
    #[arg(long, requires = "s3")]
    s3_allow_http: bool,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

/// `100MiB`, `512KiB`, `1GiB` or plain bytes.
fn parse_size(text: &str) -> Result<u64, String> {
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, ""),
    };
    let shift = match unit {
        "" => 0,
        "KiB" => 10,
        "MiB" => 20,
        "GiB" => 30,
        _ => return Err(format!("unknown unit {unit:?} (use KiB, MiB or GiB)")),
    };
    let n: u64 = digits.parse().map_err(|_| format!("not a size: {text}"))?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("too large: {text}"))
}

pub async fn run(args: AttachmentsArgs) -> Result<()> {
    ensure!(args.request > 0, "--request must be at least one byte");
    let work = tempfile::tempdir().context("cannot create a temporary directory")?;
    let (plain, blob) = (work.path().join("plain"), work.path().join("blob"));
    write_plaintext(&plain, args.size)?;
    let raw_gcm = raw_gcm_seconds(args.size.min(256 << 20));
    let key = AttachmentKey::from_bytes(sotto_cli::relay_client::random_secret()?);
    let (encrypt, digest) = encrypt_file(&key, &plain, &blob, args.size)?;
    let blob_len = ciphertext_len(args.size);
    let mut report = Map::new();
    report.insert("plaintext_bytes".into(), json!(args.size));
    report.insert("blob_bytes".into(), json!(blob_len));
    report.insert("request_bytes".into(), json!(args.request));
    report.insert(
        "raw_aes256gcm_mb_s".into(),
        mb_s(args.size.min(256 << 20), raw_gcm),
    );
    report.insert("encrypt_mb_s".into(), mb_s(args.size, encrypt));
    let mut stores = vec![("local", Vec::new())];
    if let Some(bucket) = &args.s3 {
        stores.push(("s3", s3_serve_args(&args, bucket)));
    }
    for (store, serve_args) in stores {
        let fetched = work.path().join(format!("fetched-{store}"));
        let transfer = round_trip(&blob, &fetched, args.request, &serve_args).await?;
        let decrypt = decrypt_and_compare(&key, digest, &fetched, &plain, args.size)?;
        report.insert(
            format!("{store}_upload_mb_s"),
            mb_s(blob_len, transfer.upload),
        );
        report.insert(
            format!("{store}_download_mb_s"),
            mb_s(blob_len, transfer.download),
        );
        report.insert(format!("{store}_requests"), json!(transfer.requests));
        report.insert(
            format!("{store}_relay_peak_rss_mib"),
            json!(transfer.peak_rss_kib / 1024),
        );
        report.insert(format!("{store}_decrypt_mb_s"), mb_s(args.size, decrypt));
    }
    super::print_report(&Value::Object(report), args.json)
}

/// The flags that make the relay store blobs in the bucket.
fn s3_serve_args(args: &AttachmentsArgs, bucket: &str) -> Vec<String> {
    let mut serve = vec!["--attachments".to_owned(), bucket.to_owned()];
    if let Some(endpoint) = &args.s3_endpoint {
        serve.extend(["--s3-endpoint".to_owned(), endpoint.clone()]);
    }
    if args.s3_allow_http {
        serve.push("--s3-allow-http".to_owned());
    }
    serve
}

/// A relay of its own, one device, the blob up and down again.
async fn round_trip(
    blob: &Path,
    fetched: &Path,
    request: u64,
    serve: &[String],
) -> Result<Transfer> {
    let target = Target::start_with(&TargetArgs::default(), serve).await?;
    let bar = progress(1, "registering");
    let device = target.register_many(1, 1, &bar).await?.remove(0);
    bar.finish_and_clear();
    let mut transfer = upload(&target.client, &device, blob, request).await?;
    transfer.download = download(&target.client, &transfer.id, fetched).await?;
    transfer.peak_rss_kib = memory_kib(target.pid)?.1;
    Ok(transfer)
}

/// `len` bytes that do not repeat within a file: a random MiB, varied per MiB.
fn write_plaintext(path: &Path, len: u64) -> Result<()> {
    let mut block = vec![0u8; SLICE];
    getrandom::fill(&mut block).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let mut out = BufWriter::new(File::create(path)?);
    let mut left = len;
    let mut index = 0u64;
    while left > 0 {
        block[..8].copy_from_slice(&index.to_be_bytes());
        let n = left.min(SLICE as u64) as usize;
        out.write_all(&block[..n])?;
        left -= n as u64;
        index += 1;
    }
    out.flush()?;
    Ok(())
}

/// AES-256-GCM alone over `len` bytes in the scheme's 64 KiB chunks, in place.
fn raw_gcm_seconds(len: u64) -> Duration {
    let cipher = Aes256Gcm::new(&[7u8; 32].into());
    let mut chunk = vec![0x5au8; CHUNK_LEN];
    let started = Instant::now();
    for i in 0..len.div_ceil(CHUNK_LEN as u64) {
        let mut nonce = [0u8; 12];
        nonce[..8].copy_from_slice(&i.to_be_bytes());
        let tag =
            cipher.encrypt_inout_detached(&Nonce::from(nonce), b"header", (&mut chunk[..]).into());
        // Chunk i encrypts chunk i-1's output: no work can be skipped or hoisted.
        std::hint::black_box(tag.ok());
    }
    let elapsed = started.elapsed();
    std::hint::black_box(&chunk);
    elapsed
}

/// Encrypts `plain` into `blob`; the time spent in the encryptor (not in file I/O).
fn encrypt_file(
    key: &AttachmentKey,
    plain: &Path,
    blob: &Path,
    len: u64,
) -> Result<(Duration, AttachmentDigest)> {
    let bar = bytes_bar(len, "encrypting");
    let mut input = BufReader::new(File::open(plain)?);
    let mut output = BufWriter::new(File::create(blob)?);
    let mut encryptor = AttachmentEncryptor::new(key, len);
    let (mut slice, mut out) = (vec![0u8; SLICE], Vec::with_capacity(2 * SLICE));
    let mut spent = Duration::ZERO;
    loop {
        let n = input.read(&mut slice)?;
        if n == 0 {
            break;
        }
        let started = Instant::now();
        encryptor.update(&slice[..n], &mut out)?;
        spent += started.elapsed();
        output.write_all(&out)?;
        out.clear();
        bar.inc(n as u64);
    }
    let started = Instant::now();
    let digest = encryptor.finish(&mut out)?;
    spent += started.elapsed();
    output.write_all(&out)?;
    output.flush()?;
    bar.finish_and_clear();
    Ok((spent, digest))
}

/// Decrypts the downloaded blob and compares it with the original; the time spent in the
/// decryptor.
fn decrypt_and_compare(
    key: &AttachmentKey,
    digest: AttachmentDigest,
    fetched: &Path,
    plain: &Path,
    len: u64,
) -> Result<Duration> {
    let bar = bytes_bar(len, "decrypting");
    let mut blob = BufReader::new(File::open(fetched)?);
    let mut original = BufReader::new(File::open(plain)?);
    let mut decryptor = AttachmentDecryptor::new(key, len, digest);
    let (mut slice, mut out) = (vec![0u8; SLICE], Vec::with_capacity(2 * SLICE));
    let mut expected = vec![0u8; 2 * SLICE];
    let mut spent = Duration::ZERO;
    loop {
        let n = blob.read(&mut slice)?;
        if n == 0 {
            break;
        }
        let started = Instant::now();
        decryptor.update(&slice[..n], &mut out)?;
        spent += started.elapsed();
        original.read_exact(&mut expected[..out.len()])?;
        if out[..] != expected[..out.len()] {
            bail!("the decrypted file differs from the original");
        }
        bar.inc(out.len() as u64);
        out.clear();
    }
    let started = Instant::now();
    decryptor.finish()?;
    spent += started.elapsed();
    ensure!(
        original.read(&mut expected)? == 0,
        "the decrypted file is short"
    );
    bar.finish_and_clear();
    Ok(spent)
}

/// A progress bar counting bytes.
pub(super) fn bytes_bar(len: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    let style = indicatif::ProgressStyle::with_template(
        "{msg:>14} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(what.to_owned());
    bar
}

/// Megabytes (10^6 bytes) per second, one decimal.
fn mb_s(bytes: u64, time: Duration) -> Value {
    let rate = bytes as f64 / time.as_secs_f64().max(1e-9) / 1e6;
    json!((rate * 10.0).round() / 10.0)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(parse_size("100MiB"), Ok(100 << 20));
        assert_eq!(parse_size("3KiB"), Ok(3072));
        assert_eq!(parse_size("17"), Ok(17));
        assert!(parse_size("1MB").is_err());
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("99999999999GiB").is_err());
    }
}
