//! How the chat screen follows the message features: reactions, edits, deletions, typing,
//! timer changes and expired messages, each applied to the lines already shown.

use sotto_client::Event;

use super::app::App;
use crate::client::features::show_duration;

impl App {
    /// Applies a feature event (anything but messages, receipts and identity changes).
    pub(super) fn feature_event(&mut self, event: Event) {
        match event {
            Event::Reaction {
                peer,
                author,
                target,
                emoji,
            } => {
                if let Some(line) = self.line(&peer, &target.id) {
                    line.reactions.retain(|(who, _)| *who != author);
                    if let Some(emoji) = emoji {
                        line.reactions.push((author, emoji));
                    }
                }
            }
            Event::Edited {
                peer,
                message_id,
                text,
                ..
            } => {
                if let Some(line) = self.line(&peer, &message_id) {
                    line.text = text;
                    line.edited = true;
                }
            }
            Event::Deleted {
                peer, message_id, ..
            } => {
                if let Some(line) = self.line(&peer, &message_id) {
                    line.text.clear();
                    line.quote = None;
                    line.reactions.clear();
                    line.deleted = true;
                }
            }
            Event::Typing { peer, started } => {
                if let Some(conversation) = self.conversation_mut(&peer) {
                    conversation.typing = started;
                }
            }
            Event::TimerChanged { peer, by, seconds } => self.timer_changed(&peer, &by, seconds),
            Event::Expired { peer, message_ids } => {
                if let Some(conversation) = self.conversation_mut(&peer) {
                    conversation
                        .lines
                        .retain(|l| l.id.as_ref().is_none_or(|id| !message_ids.contains(id)));
                }
            }
            _ => {}
        }
    }

    fn line(&mut self, peer: &str, id: &str) -> Option<&mut super::state::Line> {
        self.conversation_mut(peer)?.line_mut(id)
    }

    fn timer_changed(&mut self, peer: &str, by: &str, seconds: Option<u32>) {
        if let Some(conversation) = self.conversation_mut(peer) {
            conversation.timer = seconds;
        }
        let text = match seconds {
            Some(s) => format!(
                "{by} set disappearing messages with {peer} to {}",
                show_duration(s)
            ),
            None => format!("{by} turned disappearing messages with {peer} off"),
        };
        self.notice = Some(super::app::Notice { text, error: false });
    }
}
