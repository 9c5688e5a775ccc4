//! The chat screen as a plain state machine: [`App::input`] takes a key already translated to
//! an [`Input`] and may answer with an [`Action`] for the I/O side; [`App::update`] takes what
//! the SDK reported ([`Update`]). Nothing here draws, reads the terminal or touches the network,
//! so every behaviour is testable without either.

use sotto_client::{DeliveryState, Direction, Event, StoredMessage, canonical_username};

use super::commands::{self, Command, Targets};
use crate::client::attachments;

use super::state::{
    Action, Change, Conversation, Delivery, Input, Line, Link, SendFailure, Snapshot, Update,
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

    pub(super) fn conversation_mut(&mut self, username: &str) -> Option<&mut Conversation> {
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
            Input::Char(c) => {
                self.compose.push(c);
                if self.compose.len() == c.len_utf8() && c != '/' {
                    return self.change(Change::Typing { started: true });
                }
            }
            Input::Backspace => {
                self.compose.pop();
                if self.compose.is_empty() {
                    return self.change(Change::Typing { started: false });
                }
            }
            Input::Enter => return self.send(),
            Input::Escape => {
                self.notice = None;
                self.safety_number = None;
            }
            Input::Up => return self.select_by(-1),
            Input::Down => return self.select_by(1),
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
                // A new conversation has nothing unread.
                let _ = self.select(&username);
                self.say(format!("new conversation with {username}"), false);
            }
            Err(_) => self.say(
                format!("{typed:?} is not a username (3-32 of a-z, 0-9, _ and .)"),
                true,
            ),
        }
    }

    /// Selects a conversation; asks to mark its messages read if some were unread.
    fn select(&mut self, username: &str) -> Option<Action> {
        if self.selected.as_deref() != Some(username) {
            self.scroll = 0;
            self.safety_number = None;
        }
        self.selected = Some(username.to_owned());
        let conversation = self.conversation_mut(username)?;
        let unread = std::mem::take(&mut conversation.unread);
        (unread > 0).then(|| Action::Change {
            to: username.to_owned(),
            change: Change::MarkRead,
        })
    }

    /// A change to the selected conversation.
    fn change(&self, change: Change) -> Option<Action> {
        let to = self.selected.clone()?;
        Some(Action::Change { to, change })
    }

    fn select_by(&mut self, step: isize) -> Option<Action> {
        let count = self.conversations.len();
        if count == 0 {
            return None;
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
        self.select(&username)
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
        let conversation = self.conversation(&to);
        let targets = Targets {
            theirs: conversation.last_id(Direction::Incoming),
            ours: conversation.last_id(Direction::Outgoing),
        };
        let (text, reply_to, attach) = match commands::parse(&self.compose, &targets) {
            Ok(Command::Send {
                text,
                reply_to,
                attach,
            }) => (text, reply_to, attach),
            Ok(Command::Change(change)) => {
                self.compose.clear();
                return Some(Action::Change { to, change });
            }
            Err(why) => {
                self.say(why, true);
                return None;
            }
        };
        self.compose.clear();
        let token = self.next_token;
        self.next_token += 1;
        let conversation = self.conversation(&to);
        let quote = reply_to
            .as_deref()
            .and_then(|id| conversation.line_mut(id))
            .map(|l| l.text.clone());
        let shown = match &attach {
            Some(path) => format!("📎 {}", path.display()),
            None => text.clone(),
        };
        let mut line = Line::plain(Direction::Outgoing, None, shown, 0);
        line.token = token;
        line.delivery = Delivery::Sending;
        line.quote = quote;
        conversation.push(line);
        self.raise(&to);
        self.scroll = 0;
        Some(Action::Send {
            token,
            to,
            text,
            reply_to,
            attach,
        })
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

    /// Takes what the SDK side reported; may answer with work (a read receipt for messages
    /// arriving in the conversation on screen).
    pub fn update(&mut self, update: Update) -> Option<Action> {
        match update {
            Update::Loaded(snapshots) => self.load(snapshots),
            Update::Event(event) => return self.event(event),
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
        None
    }

    /// Adds a stored conversation: lines already shown stay as they are.
    fn merge(&mut self, snapshot: Snapshot) {
        let me = self.me.clone();
        let conversation = self.conversation(&snapshot.username);
        conversation.verified = snapshot.verified;
        conversation.identity_changed = snapshot.identity_changed;
        conversation.timer = snapshot.timer;
        let peer = snapshot.username.clone();
        for message in &snapshot.history {
            conversation.push(stored_line(message, &peer, &me));
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
            // Loaded history counts as seen only once the user opens it.
            let _ = self.select(&username);
        }
    }

    fn event(&mut self, event: Event) -> Option<Action> {
        match event {
            Event::Message {
                peer,
                direction,
                message_id,
                text,
                sent_at,
                details,
                expires_at,
                ..
            } => {
                let text = text + &attachments::list_text(&details.attachments);
                let mut line = Line::plain(direction, Some(message_id), text, sent_at);
                line.quote = details.quote.map(|q| q.text);
                line.disappearing = expires_at.is_some();
                return self.arrived(&peer, line);
            }
            Event::IdentityChanged {
                username,
                was_verified,
            } => self.identity_changed(&username, was_verified),
            Event::Delivery {
                peer,
                message_id,
                state,
            } => self.delivered(&peer, &message_id, state),
            Event::Undecryptable { reason, .. } => {
                self.say(format!("a message could not be decrypted: {reason}"), true);
            }
            Event::GroupMessage {
                group,
                author,
                direction,
                message_id,
                text,
                sent_at,
                details,
                ..
            } => {
                let text = super::groups::line_text(direction, &author, &text, &details);
                let line = Line::plain(direction, Some(message_id), text, sent_at);
                return self.arrived(&super::groups::conversation_name(&group), line);
            }
            Event::GroupChanged {
                ref group,
                left: false,
                ..
            } => {
                // A group we were just added to shows up in the list at once.
                self.conversation(&super::groups::conversation_name(group));
                if let Some(text) = crate::client::group_output::event_text(&event) {
                    self.say(text, false);
                }
            }
            other @ (Event::GroupChanged { .. } | Event::GroupRejected { .. }) => {
                if let Some(text) = crate::client::group_output::event_text(&other) {
                    let warning = matches!(other, Event::GroupRejected { .. });
                    self.say(text, warning);
                }
            }
            other => self.feature_event(other),
        }
        None
    }

    /// A receipt: moves an outgoing line forward, never back.
    fn delivered(&mut self, peer: &str, message_id: &str, state: DeliveryState) {
        let delivery = match state {
            DeliveryState::Sent => Delivery::Sent,
            DeliveryState::Delivered => Delivery::Delivered,
            DeliveryState::Read => Delivery::Read,
            _ => return,
        };
        if let Some(conversation) = self.conversation_mut(peer)
            && let Some(line) = conversation.line_mut(message_id)
            && line.direction == Direction::Outgoing
            && rank(&line.delivery) < rank(&delivery)
        {
            line.delivery = delivery;
        }
    }

    fn arrived(&mut self, peer: &str, line: Line) -> Option<Action> {
        let incoming = line.direction == Direction::Incoming;
        let selected = self.selected.as_deref() == Some(peer);
        let conversation = self.conversation(peer);
        if incoming {
            conversation.typing = false;
        }
        if !conversation.push(line) {
            return None;
        }
        if incoming && !selected {
            conversation.unread += 1;
        }
        self.raise(peer);
        if selected && self.scroll > 0 {
            // Keep the lines the user scrolled to in place.
            self.scroll += 1;
        }
        (incoming && selected).then(|| Action::Change {
            to: peer.to_owned(),
            change: Change::MarkRead,
        })
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

/// How far a delivery state is along the way (failures and receipts of incoming lines
/// rank lowest, so a receipt never moves a line back).
fn rank(delivery: &Delivery) -> u8 {
    match delivery {
        Delivery::Received | Delivery::Failed => 0,
        Delivery::Sending => 1,
        Delivery::Queued => 2,
        Delivery::Sent => 3,
        Delivery::Delivered => 4,
        Delivery::Read => 5,
    }
}

/// A stored message as a line.
fn stored_line(message: &StoredMessage, peer: &str, me: &str) -> Line {
    let delivery = match (message.direction, message.state) {
        (Direction::Incoming, _) => Delivery::Received,
        (Direction::Outgoing, DeliveryState::Pending) => Delivery::Queued,
        (Direction::Outgoing, DeliveryState::Delivered) => Delivery::Delivered,
        (Direction::Outgoing, DeliveryState::Read) => Delivery::Read,
        (Direction::Outgoing, _) => Delivery::Sent,
    };
    let details = &message.details;
    let mut line = Line::plain(
        message.direction,
        Some(message.message_id.clone()),
        message.text.clone() + &attachments::list_text(&details.attachments),
        message.sent_at,
    );
    line.delivery = delivery;
    line.quote = details.quote.as_ref().map(|q| q.text.clone());
    line.reactions = details
        .reactions
        .iter()
        .map(|r| {
            let who = if r.author == message.peer_account {
                peer
            } else {
                me
            };
            (who.to_owned(), r.emoji.clone())
        })
        .collect();
    line.edited = details.edited_at.is_some();
    line.deleted = details.deleted;
    line.disappearing = message.expires_at.is_some();
    line
}
