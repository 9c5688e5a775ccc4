//! Attachments of the history: fetching one into a directory and remembering where it was
//! saved in the message's row, so deleting the message (for everyone, or by its timer) also
//! removes the file.

use std::path::{Path, PathBuf};

use super::Progress;
use crate::client::Client;
use crate::error::{ClientError, StoreError};
use crate::store::StoredAttachment;

impl Client {
    /// The profile directory (front ends save received files under it by default).
    pub fn profile_dir(&self) -> &Path {
        self.store.dir()
    }

    /// The files of a message of the conversation with `username`, and where each was saved.
    ///
    /// # Errors
    /// [`ClientError::UnknownMessage`], a store failure.
    pub async fn attachments_of(
        &self,
        username: &str,
        message_id: &str,
    ) -> Result<Vec<StoredAttachment>, ClientError> {
        let (_, message) = self.find_message(username, message_id).await?;
        Ok(message.details.attachments)
    }

    /// Downloads file `index` of a message into `dir` (see
    /// [`download_attachment`](Self::download_attachment)) and records the path in the
    /// message's history row. A file already saved and still there is not fetched again.
    ///
    /// # Errors
    /// [`ClientError::UnknownMessage`] (also when the message was deleted meanwhile: the file
    /// is then removed again), [`ClientError::InvalidInput`] for an index past the files, and
    /// every error of [`download_attachment`](Self::download_attachment).
    pub async fn save_attachment(
        &self,
        username: &str,
        message_id: &str,
        index: usize,
        dir: &Path,
        progress: &dyn Progress,
    ) -> Result<PathBuf, ClientError> {
        let (peer, message) = self.find_message(username, message_id).await?;
        let gone = || ClientError::UnknownMessage {
            peer: username.to_owned(),
            id: message_id.to_owned(),
        };
        if message.details.deleted {
            return Err(gone());
        }
        let stored = message
            .details
            .attachments
            .get(index)
            .ok_or(ClientError::InvalidInput("attachment number"))?;
        if let Some(saved) = &stored.saved_as
            && Path::new(saved).is_file()
        {
            return Ok(PathBuf::from(saved));
        }
        let path = self
            .download_attachment(&stored.pointer, dir, progress)
            .await?;
        let mut tx = self.store.begin().await?;
        let current = self
            .store
            .message(&mut tx, &peer, message.direction, message_id)
            .await?;
        let Some(mut current) = current.filter(|m| !m.details.deleted) else {
            drop(tx);
            let _ = std::fs::remove_file(&path);
            return Err(gone());
        };
        if let Some(slot) = current.details.attachments.get_mut(index) {
            slot.saved_as = Some(path.display().to_string());
        }
        self.store.update_message(&mut tx, &current).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(path)
    }
}
