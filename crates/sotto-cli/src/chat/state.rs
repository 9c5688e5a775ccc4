//! What the chat screen's state machine ([`super::app::App`]) is made of: conversations and
//! their lines, the inputs it takes, the actions it asks for and the updates it gets back.

use sotto_client::{Direction, Event, StoredMessage};

/// How far a line of the history got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// An incoming message.
    Received,
    /// Handed to the SDK; no answer yet.
    Sending,
    /// Encrypted and queued in the profile's outbox; the relay has not confirmed it.
    Queued,
    /// The relay stored it for every device of the recipient.
    Sent,
    /// A device of the recipient has it (their delivery receipt).
    Delivered,
    /// The recipient read it (their read receipt).
    Read,
    /// Sending failed (the reason is in the status line).
    Failed,
}

/// One message shown in a conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// Which way it went.
    pub direction: Direction,
    /// The message id, once known (an outgoing line gets it when the send returns).
    pub id: Option<String>,
    /// The local number of an outgoing line typed in this session (0 for others).
    pub token: u64,
    /// The text.
    pub text: String,
    /// The sender's time, ms since the epoch.
    pub sent_at: i64,
    /// How far it got.
    pub delivery: Delivery,
    /// The start of the message it answers.
    pub quote: Option<String>,
    /// Reactions: (who, emoji), at most one per person.
    pub reactions: Vec<(String, String)>,
    /// Its author changed the text.
    pub edited: bool,
    /// Its author deleted it for everyone.
    pub deleted: bool,
    /// It disappears after the conversation's timer.
    pub disappearing: bool,
}

impl Line {
    /// A line with nothing but its text, direction and time.
    pub fn plain(direction: Direction, id: Option<String>, text: String, sent_at: i64) -> Self {
        Self {
            direction,
            id,
            token: 0,
            text,
            sent_at,
            delivery: match direction {
                Direction::Incoming => Delivery::Received,
                Direction::Outgoing => Delivery::Sent,
            },
            quote: None,
            reactions: Vec::new(),
            edited: false,
            deleted: false,
            disappearing: false,
        }
    }
}

/// A conversation with one contact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conversation {
    /// The contact's username.
    pub username: String,
    /// Its messages, oldest first.
    pub lines: Vec<Line>,
    /// Incoming messages that arrived while another conversation was selected.
    pub unread: usize,
    /// The user marked the contact's identity verified.
    pub verified: bool,
    /// The contact's identity changed since the user last accepted it.
    pub identity_changed: bool,
    /// The contact is typing.
    pub typing: bool,
    /// The disappearing-message timer in seconds, if on.
    pub timer: Option<u32>,
}

impl Conversation {
    pub(super) fn new(username: &str) -> Self {
        Self {
            username: username.to_owned(),
            lines: Vec::new(),
            unread: 0,
            verified: false,
            identity_changed: false,
            typing: false,
            timer: None,
        }
    }

    /// The line of message `id`, either direction.
    pub(super) fn line_mut(&mut self, id: &str) -> Option<&mut Line> {
        self.lines.iter_mut().find(|l| l.id.as_deref() == Some(id))
    }

    /// The id of the newest message in `direction` that has one.
    pub(super) fn last_id(&self, direction: Direction) -> Option<String> {
        self.lines
            .iter()
            .rev()
            .find(|l| l.direction == direction && !l.deleted)
            .and_then(|l| l.id.clone())
    }

    pub(super) fn has(&self, direction: Direction, id: &str) -> bool {
        self.lines
            .iter()
            .any(|l| l.direction == direction && l.id.as_deref() == Some(id))
    }

    /// Adds a line unless one with the same direction and id is there; true when added.
    pub(super) fn push(&mut self, line: Line) -> bool {
        if let Some(id) = &line.id
            && self.has(line.direction, id)
        {
            return false;
        }
        self.lines.push(line);
        true
    }
}

/// A key, translated from the terminal's events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// A printable character.
    Char(char),
    /// Delete the last character.
    Backspace,
    /// Send the compose line (or confirm the new conversation's username).
    Enter,
    /// Cancel the prompt, hide the safety number, clear the status.
    Escape,
    /// The previous conversation.
    Up,
    /// The next conversation.
    Down,
    /// Scroll the history back.
    PageUp,
    /// Scroll the history forward.
    PageDown,
    /// Ask for the username of a new conversation.
    NewConversation,
    /// Accept the selected contact's changed identity.
    AcceptIdentity,
    /// Show the safety number with the selected contact.
    SafetyNumber,
    /// Leave.
    Quit,
}

/// Work for the I/O side; its outcome comes back as an [`Update`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send `text` to `to`; answer with [`Update::Sent`] carrying `token`.
    Send {
        /// Matches the answer to the line.
        token: u64,
        /// The recipient's username.
        to: String,
        /// The text.
        text: String,
        /// The message it answers.
        reply_to: Option<String>,
        /// A file to upload and attach first.
        attach: Option<std::path::PathBuf>,
    },
    /// A change to the conversation with `to`: reaction, edit, delete, timer, receipt,
    /// typing. Failures come back as [`Update::Problem`].
    Change {
        /// The contact.
        to: String,
        /// What to send.
        change: Change,
    },
    /// Accept the changed identity of `username`; answer with [`Update::Accepted`].
    AcceptIdentity {
        /// The contact.
        username: String,
    },
    /// Compute the safety number with `username`; answer with [`Update::SafetyNumber`].
    SafetyNumber {
        /// The contact.
        username: String,
    },
}

/// A message-feature change the user asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// React to a message (or, with `None`, take our reaction back).
    React {
        /// The message.
        message_id: String,
        /// The emoji.
        emoji: Option<String>,
    },
    /// New text for one of our messages.
    Edit {
        /// The message.
        message_id: String,
        /// The new text.
        text: String,
    },
    /// Delete one of our messages for everyone.
    Delete {
        /// The message.
        message_id: String,
    },
    /// Set the disappearing timer (`None`: off).
    Timer {
        /// Seconds.
        seconds: Option<u32>,
    },
    /// Mark the contact's messages read (sends a read receipt).
    MarkRead,
    /// We started or stopped typing.
    Typing {
        /// Started (true) or stopped.
        started: bool,
    },
}

/// Why a send failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendFailure {
    /// What to tell the user.
    pub message: String,
    /// The contact is verified and its identity changed: sending waits for an accept.
    pub untrusted_identity: bool,
}

/// A conversation as stored in the profile.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The contact's username.
    pub username: String,
    /// The user marked the contact's identity verified.
    pub verified: bool,
    /// The contact's identity changed since the user last accepted it.
    pub identity_changed: bool,
    /// The disappearing-message timer in seconds, if on.
    pub timer: Option<u32>,
    /// Its history, oldest first.
    pub history: Vec<StoredMessage>,
}

/// The state of the connection to the relay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Link {
    /// Connected or connecting: messages arrive as they come.
    Receiving,
    /// The connection failed; the next attempt is in `retry_secs` seconds.
    Retrying {
        /// What went wrong.
        error: String,
        /// Seconds to the next attempt.
        retry_secs: u64,
    },
}

/// What the SDK side reports.
// An event (with its message details) is the largest variant; updates pass one at a time
// through a channel, so boxing it would only add an allocation per event.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Update {
    /// The stored conversations (at start, and again after missing events); merged, not
    /// replacing what is shown.
    Loaded(Vec<Snapshot>),
    /// An event of the SDK's stream.
    Event(Event),
    /// The answer to [`Action::Send`]: the message id or why it failed.
    Sent {
        /// The action's token.
        token: u64,
        /// The message id and when it was sent (ms since the epoch), or the failure.
        result: Result<(String, i64), SendFailure>,
    },
    /// The answer to [`Action::AcceptIdentity`].
    Accepted {
        /// The contact.
        username: String,
        /// Failure message, if any.
        result: Result<(), String>,
    },
    /// The answer to [`Action::SafetyNumber`]: the 60 digits, or why not.
    SafetyNumber {
        /// The contact.
        username: String,
        /// The digits, or a failure message.
        result: Result<String, String>,
    },
    /// The connection's state changed.
    Link(Link),
    /// Something went wrong in the background: tell the user.
    Problem(String),
    /// Something worth knowing happened in the background (a file was saved).
    Notice(String),
}
