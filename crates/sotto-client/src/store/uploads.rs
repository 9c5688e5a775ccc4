//! Attachment uploads in progress: which local file goes to which relay blob under which key.
//! Sealed like every other secret of the store; deleted when the upload completes.

use sotto_core::attachment::AttachmentKey;
use sqlx::SqliteConnection;

use super::Store;
use super::fields::{FieldReader, FieldWriter};
use crate::error::StoreError;

const UPLOADS: &str = "uploads";

/// An upload that started: enough to resume it after a crash.
pub(crate) struct PendingUpload {
    /// The store's random id of this row.
    pub(crate) row_id: String,
    /// The file, as an absolute path.
    pub(crate) path: String,
    /// The file's size when the upload started.
    pub(crate) size: u64,
    /// The file's modification time then (ms since the epoch): a changed file starts over.
    pub(crate) modified_ms: i64,
    /// The attachment key (zeroized on drop).
    pub(crate) key: AttachmentKey,
    /// The relay's blob id.
    pub(crate) blob_id: String,
}

impl Store {
    /// Saves a new upload.
    pub(crate) async fn save_upload(
        &self,
        conn: &mut SqliteConnection,
        upload: &PendingUpload,
    ) -> Result<(), StoreError> {
        let plain = FieldWriter::default()
            .bytes(upload.path.as_bytes())
            .bytes(&upload.size.to_be_bytes())
            .bytes(&upload.modified_ms.to_be_bytes())
            .bytes(upload.key.as_bytes())
            .bytes(upload.blob_id.as_bytes())
            .finish();
        let sealed = self.key.seal(UPLOADS, &upload.row_id, &plain)?;
        sqlx::query("INSERT OR REPLACE INTO uploads (row_id, sealed) VALUES (?, ?)")
            .bind(&upload.row_id)
            .bind(sealed)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Every upload in progress.
    pub(crate) async fn uploads(
        &self,
        conn: &mut SqliteConnection,
    ) -> Result<Vec<PendingUpload>, StoreError> {
        let rows: Vec<(String, Vec<u8>)> = sqlx::query_as("SELECT row_id, sealed FROM uploads")
            .fetch_all(conn)
            .await?;
        rows.into_iter()
            .map(|(row_id, sealed)| {
                let plain = self.key.open(UPLOADS, &row_id, &sealed)?;
                let mut r = FieldReader::new(&plain);
                Ok(PendingUpload {
                    path: r.string()?,
                    size: u64::from_be_bytes(r.array()?),
                    modified_ms: i64::from_be_bytes(r.array()?),
                    key: AttachmentKey::from_bytes(r.array()?),
                    blob_id: r.string()?,
                    row_id,
                })
            })
            .collect()
    }

    /// Forgets an upload (completed, or abandoned because the file changed).
    pub(crate) async fn delete_upload(
        &self,
        conn: &mut SqliteConnection,
        row_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM uploads WHERE row_id = ?")
            .bind(row_id)
            .execute(conn)
            .await?;
        Ok(())
    }
}
