//! Attachment blobs: opaque ciphertext by id, in a local directory (one file per blob).
//!
//! An upload appends to its blob and makes the bytes durable before the attachment index
//! records them; a resumed upload first cuts the blob back to what the index recorded, so a
//! crash in the middle of a request never leaves bytes the client was not told about.

use crate::domain::AttachmentId;
use async_trait::async_trait;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use tokio::fs::{File, OpenOptions};
use tokio::io::{AsyncRead, AsyncSeekExt, AsyncWriteExt};

/// A blob opened for reading from some offset.
pub type BlobReader = Pin<Box<dyn AsyncRead + Send>>;

/// Where blobs live.
#[async_trait]
pub trait BlobStorage: Send + Sync {
    /// Opens the blob for appending at `offset`, dropping any bytes past it (left by an
    /// interrupted request). Fails if the blob holds fewer than `offset` bytes.
    async fn writer(&self, id: &AttachmentId, offset: u64) -> io::Result<Box<dyn BlobWriter>>;
    /// Opens the blob for reading from `start`; `None` if there is no such blob.
    async fn reader(&self, id: &AttachmentId, start: u64) -> io::Result<Option<BlobReader>>;
    /// Deletes the blob (nothing if it does not exist).
    async fn delete(&self, id: &AttachmentId) -> io::Result<()>;
}

/// An upload in progress.
#[async_trait]
pub trait BlobWriter: Send {
    /// Appends bytes.
    async fn write(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Makes every appended byte durable; returns the blob's length.
    async fn finish(self: Box<Self>) -> io::Result<u64>;
}

/// Blobs as files in one directory.
#[derive(Debug, Clone)]
pub struct LocalBlobs {
    dir: PathBuf,
}

impl LocalBlobs {
    /// Uses `dir`, creating it if needed.
    ///
    /// Fails if the directory cannot be created.
    pub fn open(dir: impl Into<PathBuf>) -> io::Result<LocalBlobs> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(LocalBlobs { dir })
    }

    fn path(&self, id: &AttachmentId) -> PathBuf {
        // Ids are base64url: safe as file names.
        self.dir.join(id.as_str())
    }
}

#[async_trait]
impl BlobStorage for LocalBlobs {
    async fn writer(&self, id: &AttachmentId, offset: u64) -> io::Result<Box<dyn BlobWriter>> {
        let path = self.path(id);
        let created = !tokio::fs::try_exists(&path).await?;
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .await?;
        if file.metadata().await?.len() < offset {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "blob is shorter than its recorded upload offset",
            ));
        }
        file.set_len(offset).await?;
        file.seek(io::SeekFrom::Start(offset)).await?;
        Ok(Box::new(LocalWriter {
            file,
            len: offset,
            dir: created.then(|| self.dir.clone()),
        }))
    }

    async fn reader(&self, id: &AttachmentId, start: u64) -> io::Result<Option<BlobReader>> {
        let mut file = match File::open(self.path(id)).await {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        file.seek(io::SeekFrom::Start(start)).await?;
        Ok(Some(Box::pin(file)))
    }

    async fn delete(&self, id: &AttachmentId) -> io::Result<()> {
        match tokio::fs::remove_file(self.path(id)).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

struct LocalWriter {
    file: File,
    len: u64,
    /// The directory to fsync, when this writer created the file (its entry must be durable).
    dir: Option<PathBuf>,
}

#[async_trait]
impl BlobWriter for LocalWriter {
    async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes).await?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> io::Result<u64> {
        self.file.flush().await?;
        self.file.sync_all().await?;
        if let Some(dir) = &self.dir {
            File::open(dir).await?.sync_all().await?;
        }
        Ok(self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn append_resume_read_delete() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = LocalBlobs::open(dir.path().join("blobs")).unwrap();
        let id = AttachmentId::random().unwrap();
        let mut writer = blobs.writer(&id, 0).await.unwrap();
        writer.write(b"hello ").await.unwrap();
        writer.write(b"wor").await.unwrap();
        assert_eq!(writer.finish().await.unwrap(), 9);
        // Only 6 bytes were recorded: the resumed upload drops the other 3.
        let mut writer = blobs.writer(&id, 6).await.unwrap();
        writer.write(b"world").await.unwrap();
        assert_eq!(writer.finish().await.unwrap(), 11);
        assert!(blobs.writer(&id, 12).await.is_err(), "past the end");
        let mut text = String::new();
        let mut reader = blobs.reader(&id, 6).await.unwrap().unwrap();
        reader.read_to_string(&mut text).await.unwrap();
        assert_eq!(text, "world");
        blobs.delete(&id).await.unwrap();
        blobs.delete(&id).await.unwrap();
        assert!(blobs.reader(&id, 0).await.unwrap().is_none());
    }
}
