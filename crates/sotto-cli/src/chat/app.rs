//! The chat screen as a plain state machine: [`App::input`] takes a key already translated to
//! an [`Input`] and may answer with an [`Action`] for the I/O side; [`App::update`] takes what
//! the SDK reported ([`Update`]). Nothing here draws, reads the terminal or touches the network,
//! so every behaviour is testable without either.

use sotto_client::{DeliveryState, Direction, Event, StoredMessage, canonical_username};

use crate::client::attachments;

use super::state::{
    Action, Conversation, Delivery, Input, Line, Link, SendFailure, Snapshot, Update,
};

/// How many messages one PageUp/PageDown moves the history.
pub const PAGE: usize = 10;

/// A line of feedback under the compose line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// The text.
    pub text: String,
    /// Whether it reports a problem.
    pub error: bool,
}

/// Everything the chat screen shows.
#[derive(Clone, Debug)]
pub struct App {
    /// Our own username.
    pub me: String,
    /// Conversations, most recently active first.
    pub conversations: Vec<Conversation>,
    /// The selected conversation's username.
    pub selected: Option<String>,
    /// The text being written.
    pub compose: String,
    /// The username being typed for a new conversation, while asked for.
    pub prompt: Option<String>,
    /// Messages scrolled back from the newest in the selected conversation.
    pub scroll: usize,
    /// The last feedback.
    pub notice: Option<Notice>,
    /// The safety number shown: (contact, digits).
    pub safety_number: Option<(String, String)>,
    /// The relay connection.
    pub link: Link,
    /// Set when the user asked to leave.
    pub quit: bool,
    next_token: u64,
}

impl App {
    /// An empty screen for the user `me`.
    pub fn new(me: &str) -> Self {
        Self {
            me: me.to_owned(),
            conversations: Vec::new(),
            selected: None,
            compose: String::new(),
            prompt: None,
            scroll: 0,
            notice: None,
            safety_number: None,
            link: Link::Receiving,
            quit: false,
            next_token: 1,
        }
    }

    /// The selected conversation.
    pub fn current(&self) -> Option<&Conversation> {
        let name = self.selected.as_deref()?;
        self.conversations.iter().find(|c| c.username == name)
    }

    fn conversation_mut(&mut self, username: &str) -> Option<&mut Conversation> {
        self.conversations
            .iter_mut()
            .find(|c| c.username == username)
    }

    /// The conversation with `username`, created (at the top) when missing.
    fn conversation(&mut self, username: &str) -> &mut Conversation {
        let at = match self
            .conversations
            .iter()
            .position(|c| c.username == username)
        {
            Some(at) => at,
            None => {
                self.conversations.insert(0, Conversation::new(username));
                0
            }
        };
        &mut self.conversations[at]
    }

    /// Moves a conversation to the top (it just had activity).
    fn raise(&mut self, username: &str) {
        if let Some(at) = self
            .conversations
            .iter()
            .position(|c| c.username == username)
        {
            let conversation = self.conversations.remove(at);
            self.conversations.insert(0, conversation);
        }
    }

    fn say(&mut self, text: impl Into<String>, error: bool) {
        self.notice = Some(Notice {
            text: text.into(),
            error,
        });
    }

    /// Takes a key; returns work for the I/O side, if any.
    pub fn input(&mut self, input: Input) -> Option<Action> {
        if self.prompt.is_some() {
            return self.prompt_input(input);
        }
        match input {
            Input::Char(c) => self.compose.push(c),
            Input::Backspace => {
                self.compose.pop();
            }
            Input::Enter => return self.send(),
            Input::Escape => {
                self.notice = None;
                self.safety_number = None;
            }
            Input::Up => self.select_by(-1),
            Input::Down => self.select_by(1),
            Input::PageUp => self.scroll_by(PAGE as isize),
            Input::PageDown => self.scroll_by(-(PAGE as isize)),
            Input::NewConversation => self.prompt = Some(String::new()),
            Input::AcceptIdentity => return self.accept(),
            Input::SafetyNumber => {
                let username = self.selected.clone()?;
                return Some(Action::SafetyNumber { username });
            }
            Input::Quit => self.quit = true,
        }
        None
    }

    /// Keys while the new conversation's username is asked for.
    fn prompt_input(&mut self, input: Input) -> Option<Action> {
        let prompt = self.prompt.get_or_insert_with(String::new);
        match input {
            Input::Char(c) => prompt.push(c),
            Input::Backspace => {
                prompt.pop();
            }
            Input::Escape => self.prompt = None,
            Input::Enter => self.open_prompted(),
            Input::Quit => self.quit = true,
            _ => {}
        }
        None
    }

    fn open_prompted(&mut self) {
        let typed = self.prompt.clone().unwrap_or_default();
        match canonical_username(typed.trim()) {
            Ok(username) => {
                self.prompt = None;
                self.conversation(&username);
                self.select(&username);
                self.say(format!("new conversation with {username}"), false);
            }
            Err(_) => self.say(
                format!("{typed:?} is not a username (3-32 of a-z, 0-9, _ and .)"),
                true,
            ),
        }
    }

    fn select(&mut self, username: &str) {
        if self.selected.as_deref() != Some(username) {
            self.scroll = 0;
            self.safety_number = None;
        }
        self.selected = Some(username.to_owned());
        if let Some(conversation) = self.conversation_mut(username) {
            conversation.unread = 0;
        }
    }

    fn select_by(&mut self, step: isize) {
        let count = self.conversations.len();
        if count == 0 {
            return;
        }
        let at = match self.selected.as_deref() {
            None => 0,
            Some(name) => {
                let now = self.conversations.iter().position(|c| c.username == name);
                let now = now.unwrap_or(0) as isize;
                (now + step).rem_euclid(count as isize) as usize
            }
        };
        let username = self.conversations[at].username.clone();
        self.select(&username);
    }

    fn scroll_by(&mut self, step: isize) {
        let lines = self.current().map_or(0, |c| c.lines.len());
        let wanted = self.scroll.saturating_add_signed(step);
        self.scroll = wanted.min(lines.saturating_sub(1));
    }

    fn send(&mut self) -> Option<Action> {
        if self.compose.trim().is_empty() {
            return None;
        }
        let Some(to) = self.selected.clone() else {
            self.say(
                "choose a conversation first (Up/Down, or Ctrl-N for a new one)",
                true,
            );
            return None;
        };
        let text = std::mem::take(&mut self.compose);
        let token = self.next_token;
        self.next_token += 1;
        let line = Line {
            direction: Direction::Outgoing,
            id: None,
            token,
            text: text.clone(),
            sent_at: 0,
            delivery: Delivery::Sending,
        };
        self.conversation(&to).push(line);
        self.raise(&to);
        self.scroll = 0;
        Some(Action::Send { token, to, text })
    }

    fn accept(&mut self) -> Option<Action> {
        let current = self.current()?;
        if !current.identity_changed {
            let text = format!(
                "{}'s identity has not changed: nothing to accept",
                current.username
            );
            self.say(text, false);
            return None;
        }
        let username = current.username.clone();
        Some(Action::AcceptIdentity { username })
    }

    /// Takes what the SDK side reported.
    pub fn update(&mut self, update: Update) {
        match update {
            Update::Loaded(snapshots) => self.load(snapshots),
            Update::Event(event) => self.event(event),
            Update::Sent { token, result } => self.sent(token, result),
            Update::Accepted { username, result } => self.accepted(&username, result),
            Update::SafetyNumber { username, result } => match result {
                Ok(digits) => self.safety_number = Some((username, digits)),
                Err(why) => self.say(format!("no safety number with {username}: {why}"), true),
            },
            Update::Link(link) => self.link = link,
            Update::Problem(text) => self.say(text, true),
            Update::Notice(text) => self.say(text, false),
        }
    }

    /// Adds a stored conversation: lines already shown stay as they are.
    fn merge(&mut self, snapshot: Snapshot) {
        let conversation = self.conversation(&snapshot.username);
        conversation.verified = snapshot.verified;
        conversation.identity_changed = snapshot.identity_changed;
        for message in &snapshot.history {
            conversation.push(stored_line(message));
        }
    }

    /// Merges stored conversations, sorts by activity and selects the newest if none is.
    fn load(&mut self, snapshots: Vec<Snapshot>) {
        snapshots.into_iter().for_each(|s| self.merge(s));
        // Most recent first, by the newest message's time; the order of equals is kept.
        self.conversations
            .sort_by_key(|c| std::cmp::Reverse(c.lines.last().map_or(0, |l| l.sent_at)));
        if self.selected.is_none()
            && let Some(first) = self.conversations.first()
        {
            let username = first.username.clone();
            self.select(&username);
        }
    }

    fn event(&mut self, event: Event) {
        match event {
            Event::Message {
                peer,
                direction,
                message_id,
                text,
                sent_at,
                details,
                ..
            } => {
                let text = text + &attachments::list_text(&details.attachments);
                let delivery = match direction {
                    Direction::Incoming => Delivery::Received,
                    Direction::Outgoing => Delivery::Sent,
                };
                let line = Line {
                    direction,
                    id: Some(message_id),
                    token: 0,
                    text,
                    sent_at,
                    delivery,
                };
                self.arrived(&peer, line);
            }
            Event::IdentityChanged {
                username,
                was_verified,
            } => self.identity_changed(&username, was_verified),
            Event::Delivery {
                peer,
                message_id,
                state,
            } => {
                if state == DeliveryState::Sent
                    && let Some(conversation) = self.conversation_mut(&peer)
                    && let Some(line) = conversation.lines.iter_mut().find(|l| {
                        l.direction == Direction::Outgoing
                            && l.id.as_deref() == Some(message_id.as_str())
                    })
                {
                    line.delivery = Delivery::Sent;
                }
            }
            Event::Undecryptable { reason, .. } => {
                self.say(format!("a message could not be decrypted: {reason}"), true);
            }
            _ => {}
        }
    }

    fn arrived(&mut self, peer: &str, line: Line) {
        let incoming = line.direction == Direction::Incoming;
        let selected = self.selected.as_deref() == Some(peer);
        let conversation = self.conversation(peer);
        if !conversation.push(line) {
            return;
        }
        if incoming && !selected {
            conversation.unread += 1;
        }
        self.raise(peer);
        if selected && self.scroll > 0 {
            // Keep the lines the user scrolled to in place.
            self.scroll += 1;
        }
    }

    fn identity_changed(&mut self, username: &str, was_verified: bool) {
        let conversation = self.conversation(username);
        conversation.identity_changed = true;
        conversation.verified |= was_verified;
        let mut text = format!("{username}'s safety number changed: Ctrl-S shows it");
        if was_verified {
            text.push_str("; sending waits until you accept it with Ctrl-A");
        }
        self.say(text, true);
    }

    fn sent(&mut self, token: u64, result: Result<(String, i64), SendFailure>) {
        let found = self.conversations.iter_mut().find_map(|c| {
            let at = c.lines.iter().position(|l| l.token == token)?;
            Some((c, at))
        });
        let Some((conversation, at)) = found else {
            return;
        };
        let username = conversation.username.clone();
        match result {
            Ok((id, sent_at)) => {
                if conversation.has(Direction::Outgoing, &id) {
                    // A reload showed the stored copy already: one line per message.
                    conversation.lines.remove(at);
                    return;
                }
                let line = &mut conversation.lines[at];
                line.id = Some(id);
                line.sent_at = sent_at;
                line.delivery = Delivery::Sent;
            }
            Err(failure) => {
                conversation.lines[at].delivery = Delivery::Failed;
                if failure.untrusted_identity {
                    conversation.identity_changed = true;
                }
                self.say(format!("not sent to {username}: {}", failure.message), true);
            }
        }
    }

    fn accepted(&mut self, username: &str, result: Result<(), String>) {
        match result {
            Ok(()) => {
                if let Some(conversation) = self.conversation_mut(username) {
                    conversation.identity_changed = false;
                    conversation.verified = false;
                }
                self.say(
                    format!(
                        "accepted {username}'s new identity; compare safety numbers and run `sotto verify {username} --mark-verified`"
                    ),
                    false,
                );
            }
            Err(why) => self.say(
                format!("could not accept {username}'s identity: {why}"),
                true,
            ),
        }
    }
}

/// A stored message as a line.
fn stored_line(message: &StoredMessage) -> Line {
    let delivery = match (message.direction, message.state) {
        (Direction::Incoming, _) => Delivery::Received,
        (Direction::Outgoing, DeliveryState::Pending) => Delivery::Queued,
        (Direction::Outgoing, _) => Delivery::Sent,
    };
    Line {
        direction: message.direction,
        id: Some(message.message_id.clone()),
        token: 0,
        text: message.text.clone() + &attachments::list_text(&message.details.attachments),
        sent_at: message.sent_at,
        delivery,
    }
}
