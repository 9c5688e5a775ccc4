//! Signed group states too large for one envelope (about 370 members and up) travel as an
//! encrypted attachment: uploaded once by the admin, the pointer sent to every member over the
//! pairwise sessions, fetched and checked (digest, then the state's own signature) by each.

use std::path::PathBuf;

use sotto_proto::api::Base64Bytes;

use crate::attachments::NoProgress;
use crate::client::Client;
use crate::content::{AttachmentPointer, Body, Content, MAX_GROUP_STATE_ATTACHMENT_BYTES};
use crate::error::ClientError;
use crate::events::Event;

/// Where states are written for upload and fetched into, under the profile (0700).
const STATE_DIR: &str = "group-states";

impl Client {
    /// Uploads a signed state as an attachment and returns its pointer.
    pub(crate) async fn upload_state(
        &self,
        group_hex: &str,
        signed: &[u8],
    ) -> Result<AttachmentPointer, ClientError> {
        let dir = self.state_dir()?;
        let path = dir.join(format!("{group_hex}.state"));
        write_private(&path, signed)?;
        let uploaded = self.upload_attachment(&path, &NoProgress).await;
        let _ = std::fs::remove_file(&path);
        uploaded
    }

    /// If `content` is a group control carrying its state as an attachment, fetches it and
    /// puts the bytes in place, so the control applies as if they had come inline. A state
    /// that cannot be fetched is reported and left out (the rest of the control applies).
    pub(crate) async fn fetch_group_state(&self, content: &mut Option<Content>) {
        let Some(Content {
            body: Body::Group(control),
            ..
        }) = content
        else {
            return;
        };
        let Some(pointer) = control
            .state_attachment
            .clone()
            .filter(|_| control.state.is_none())
        else {
            return;
        };
        match self.download_state(&pointer).await {
            Ok(bytes) => control.state = Some(Base64Bytes(bytes)),
            Err(error) => self.emit(Event::GroupRejected {
                group_id: Some(hex::encode(&control.group_id.0)),
                sender_account: None,
                reason: format!("the group state could not be fetched: {error}"),
            }),
        }
    }

    async fn download_state(&self, pointer: &AttachmentPointer) -> Result<Vec<u8>, ClientError> {
        if pointer.size > MAX_GROUP_STATE_ATTACHMENT_BYTES as u64 {
            return Err(ClientError::AttachmentTooLarge {
                size: pointer.size,
                limit: MAX_GROUP_STATE_ATTACHMENT_BYTES as u64,
            });
        }
        let dir = self.state_dir()?;
        let path = self.download_attachment(pointer, &dir, &NoProgress).await?;
        let read = std::fs::read(&path).map_err(|source| ClientError::File {
            path: path.display().to_string(),
            source,
        });
        let _ = std::fs::remove_file(&path);
        read
    }

    fn state_dir(&self) -> Result<PathBuf, ClientError> {
        use std::os::unix::fs::DirBuilderExt as _;
        let dir = self.store.dir().join(STATE_DIR);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|source| ClientError::File {
                path: dir.display().to_string(),
                source,
            })?;
        Ok(dir)
    }
}

/// Writes a file readable by its owner only.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> Result<(), ClientError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let file_error = |source| ClientError::File {
        path: path.display().to_string(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(file_error)?;
    file.write_all(bytes).map_err(file_error)
}
