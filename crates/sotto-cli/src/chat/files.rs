//! Files of messages arriving while the chat is open: saved in the background into
//! `<profile>/attachments/` (as `sotto receive` does), each outcome reported as a notice.

use sotto_client::{Client, Event};
use tokio::sync::mpsc::UnboundedSender;

use super::state::Update;
use crate::client::attachments;

/// Starts saving the files of `event`, if it is a message with files.
pub fn save_in_background(client: &Client, event: &Event, updates: &UnboundedSender<Update>) {
    let Event::Message {
        peer,
        message_id,
        details,
        ..
    } = event
    else {
        return;
    };
    if details.attachments.is_empty() {
        return;
    }
    let (client, updates) = (client.clone(), updates.clone());
    let (peer, message_id) = (peer.clone(), message_id.clone());
    let files = details.attachments.clone();
    tokio::spawn(async move {
        let dir = attachments::save_dir(client.profile_dir(), None);
        for (index, file) in files.iter().enumerate() {
            let name = file.pointer.name.as_deref().unwrap_or("a file");
            let saved = client
                .save_attachment(&peer, &message_id, index, &dir, &sotto_client::NoProgress)
                .await;
            let update = match saved {
                Ok(path) => Update::Notice(format!("📎 saved {}", path.display())),
                Err(error) => Update::Problem(format!(
                    "📎 {name} was not saved: {error} (`sotto attachments get {peer} {message_id}` after the chat)"
                )),
            };
            if updates.send(update).is_err() {
                return;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use sotto_client::content::AttachmentPointer;
    use sotto_client::{Direction, Event, MessageDetails, StoredAttachment};
    use sotto_proto::api::Base64Bytes;

    use super::super::app::App;
    use super::super::state::Update;

    #[test]
    fn a_message_with_files_shows_each_with_its_size() {
        let mut details = MessageDetails::default();
        details.attachments.push(StoredAttachment {
            pointer: AttachmentPointer {
                id: "blob".into(),
                key: Base64Bytes(vec![0; 32]),
                digest: Base64Bytes(vec![0; 32]),
                size: 1536,
                name: Some("photo.jpg".into()),
                content_type: None,
            },
            saved_as: None,
        });
        let mut app = App::new("bob");
        app.update(Update::Event(Event::Message {
            peer: "alice".into(),
            direction: Direction::Incoming,
            device_id: 1,
            message_id: "m1".into(),
            text: "look".into(),
            sent_at: 0,
            details,
            expires_at: None,
        }));
        let line = &app.conversations[0].lines[0];
        assert_eq!(line.text, "look\n  📎 photo.jpg (1.5 KiB)");
    }
}
