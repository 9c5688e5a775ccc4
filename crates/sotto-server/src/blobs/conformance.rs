//! The blob storage conformance suite: every backend must pass [`run`] unchanged.

use super::BlobStorage;
use crate::domain::AttachmentId;
use tokio::io::AsyncReadExt;

/// Runs every check on `blobs`, each with fresh ids.
pub(crate) async fn run(blobs: &dyn BlobStorage) {
    a_missing_blob_is_none_and_deletes_quietly(blobs).await;
    appends_resume_where_the_index_says(blobs).await;
    an_empty_blob_exists(blobs).await;
    an_abandoned_writer_leaves_nothing_the_next_one_keeps(blobs).await;
    large_requests_stream_and_resume_inside_them(blobs).await;
    deleted_blobs_are_gone_and_ids_are_separate(blobs).await;
}

/// The blob's bytes from `start`, or `None`.
pub(crate) async fn read(
    blobs: &dyn BlobStorage,
    id: &AttachmentId,
    start: u64,
) -> Option<Vec<u8>> {
    let mut reader = blobs.reader(id, start).await.unwrap()?;
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).await.unwrap();
    Some(bytes)
}

/// Writes `bytes` at `offset` in one writer, in frames of `frame` bytes; the new length.
async fn append(
    blobs: &dyn BlobStorage,
    id: &AttachmentId,
    offset: u64,
    bytes: &[u8],
    frame: usize,
) -> u64 {
    let mut writer = blobs.writer(id, offset).await.unwrap();
    for frame in bytes.chunks(frame) {
        writer.write(frame).await.unwrap();
    }
    writer.finish().await.unwrap()
}

/// `len` bytes that differ at every offset a test looks at.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ seed).collect()
}

async fn a_missing_blob_is_none_and_deletes_quietly(blobs: &dyn BlobStorage) {
    let id = AttachmentId::random().unwrap();
    assert!(blobs.reader(&id, 0).await.unwrap().is_none());
    blobs.delete(&id).await.unwrap();
    assert!(
        blobs.writer(&id, 1).await.is_err(),
        "a missing blob has no byte 0"
    );
}

async fn appends_resume_where_the_index_says(blobs: &dyn BlobStorage) {
    let id = AttachmentId::random().unwrap();
    assert_eq!(append(blobs, &id, 0, b"hello wor", 6).await, 9);
    // Only 6 bytes were recorded: the resumed upload drops the other 3.
    assert_eq!(append(blobs, &id, 6, b"world", 5).await, 11);
    assert_eq!(read(blobs, &id, 0).await.unwrap(), b"hello world");
    // A resume exactly where a request ended, then one more request.
    assert_eq!(append(blobs, &id, 11, b"?", 1).await, 12);
    assert_eq!(append(blobs, &id, 11, b"!!", 1).await, 13);
    assert_eq!(append(blobs, &id, 13, b" ok", 2).await, 16);
    assert_eq!(read(blobs, &id, 0).await.unwrap(), b"hello world!! ok");
    // Reads from any offset, across request boundaries, up to the end.
    assert_eq!(read(blobs, &id, 3).await.unwrap(), b"lo world!! ok");
    assert_eq!(read(blobs, &id, 12).await.unwrap(), b"! ok");
    assert_eq!(read(blobs, &id, 16).await.unwrap(), b"");
    assert!(blobs.writer(&id, 17).await.is_err(), "past the end");
    // Nothing was changed by the refused writer.
    assert_eq!(read(blobs, &id, 0).await.unwrap(), b"hello world!! ok");
}

async fn an_empty_blob_exists(blobs: &dyn BlobStorage) {
    let id = AttachmentId::random().unwrap();
    assert_eq!(append(blobs, &id, 0, b"", 1).await, 0);
    assert_eq!(read(blobs, &id, 0).await.unwrap(), b"");
    // A writer with nothing to say leaves a blob as it was.
    assert_eq!(append(blobs, &id, 0, b"abc", 3).await, 3);
    assert_eq!(append(blobs, &id, 3, b"", 1).await, 3);
    assert_eq!(read(blobs, &id, 0).await.unwrap(), b"abc");
}

async fn an_abandoned_writer_leaves_nothing_the_next_one_keeps(blobs: &dyn BlobStorage) {
    let id = AttachmentId::random().unwrap();
    append(blobs, &id, 0, b"kept", 4).await;
    let mut writer = blobs.writer(&id, 4).await.unwrap();
    writer.write(b" lost").await.unwrap();
    drop(writer);
    assert_eq!(append(blobs, &id, 4, b" then", 5).await, 9);
    assert_eq!(read(blobs, &id, 0).await.unwrap(), b"kept then");
}

/// Requests bigger than a multipart part (8 MiB for S3), read back across part boundaries,
/// and a resume in the middle of one that carries its first bytes over.
async fn large_requests_stream_and_resume_inside_them(blobs: &dyn BlobStorage) {
    let id = AttachmentId::random().unwrap();
    let first = pattern(19 << 20, 0x5a);
    assert_eq!(
        append(blobs, &id, 0, &first, 64 << 10).await,
        first.len() as u64
    );
    let cut = (9 << 20) + 7;
    let second = pattern(3 << 20, 0xa5);
    let end = append(blobs, &id, cut as u64, &second, 100_000).await;
    assert_eq!(end, (cut + second.len()) as u64);
    let mut expected = first[..cut].to_vec();
    expected.extend_from_slice(&second);
    let from = (8 << 20) - 3;
    assert!(read(blobs, &id, from as u64).await.unwrap() == expected[from..]);
    assert!(read(blobs, &id, 0).await.unwrap() == expected);
}

async fn deleted_blobs_are_gone_and_ids_are_separate(blobs: &dyn BlobStorage) {
    let (id, other) = (
        AttachmentId::random().unwrap(),
        AttachmentId::random().unwrap(),
    );
    append(blobs, &id, 0, b"one", 1).await;
    append(blobs, &id, 3, b"two", 2).await;
    append(blobs, &other, 0, b"other", 5).await;
    blobs.delete(&id).await.unwrap();
    blobs.delete(&id).await.unwrap();
    assert!(blobs.reader(&id, 0).await.unwrap().is_none());
    assert!(blobs.writer(&id, 3).await.is_err(), "no bytes are left");
    assert_eq!(read(blobs, &other, 0).await.unwrap(), b"other");
    // The id can start over from nothing.
    assert_eq!(append(blobs, &id, 0, b"new", 3).await, 3);
    assert_eq!(read(blobs, &id, 0).await.unwrap(), b"new");
}
