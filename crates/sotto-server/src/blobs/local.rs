//! Blobs as files in one directory: an upload appends to its file and fsyncs it.

use super::{BlobReader, BlobStorage, BlobWriter};
use crate::domain::AttachmentId;
use async_trait::async_trait;
use std::io;
use std::path::PathBuf;
use tokio::fs::{File, OpenOptions};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

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
        // tokio writes in the background: wait for it, or a writer dropped after an error
        // could still be writing while the next one cuts the file.
        self.file.flush().await?;
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
    use crate::blobs::conformance;

    #[tokio::test]
    async fn local_blobs_pass_the_conformance_suite() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = LocalBlobs::open(dir.path().join("blobs")).unwrap();
        conformance::run(&blobs).await;
    }
}
