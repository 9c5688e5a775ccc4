//! Events for front ends: what arrived, whose identity changed, how far a message got.

/// How far an outgoing message got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeliveryState {
    /// Encrypted and saved in the outbox; the relay has not confirmed it yet.
    Pending,
    /// The relay stored it durably for every device of the recipient.
    Sent,
    /// A device of the recipient stored it (it said so in a receipt). For an incoming
    /// message: stored here, not yet read.
    Delivered,
    /// The recipient read it (it said so in a receipt). For an incoming message: read here.
    Read,
}

/// Something a front end may want to show.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A new message was stored (shown once, even if the relay delivers it again).
    Message {
        /// The contact's username (for a message from another of our devices, the recipient).
        peer: String,
        /// Which way it went (outgoing when another of our devices sent it).
        direction: crate::Direction,
        /// The sending device.
        device_id: u32,
        /// The sender's message id.
        message_id: String,
        /// The text.
        text: String,
        /// The sender's time (ms since the epoch).
        sent_at: i64,
        /// Quote, files and timer.
        details: crate::store::MessageDetails,
        /// When it disappears from this device (ms since the epoch).
        expires_at: Option<i64>,
    },
    /// Someone reacted to a message of a conversation, or took a reaction back.
    Reaction {
        /// The conversation (the contact's username).
        peer: String,
        /// Who reacted: the contact's username, or ours.
        author: String,
        /// The message reacted to.
        target: crate::content::MessageRef,
        /// The emoji, or `None` when the reaction was removed.
        emoji: Option<String>,
    },
    /// A message's author changed its text.
    Edited {
        /// The conversation.
        peer: String,
        /// Which way the edited message went.
        direction: crate::Direction,
        /// The edited message.
        message_id: String,
        /// Its new text.
        text: String,
    },
    /// A message's author deleted it for everyone.
    Deleted {
        /// The conversation.
        peer: String,
        /// Which way the deleted message went.
        direction: crate::Direction,
        /// The deleted message.
        message_id: String,
    },
    /// The contact started or stopped typing.
    Typing {
        /// The contact.
        peer: String,
        /// True when they started.
        started: bool,
    },
    /// The conversation's disappearing-message timer changed.
    TimerChanged {
        /// The conversation.
        peer: String,
        /// Who changed it: the contact's username, or ours.
        by: String,
        /// The new timer in seconds (`None`: off).
        seconds: Option<u32>,
    },
    /// Disappearing messages whose time came were deleted from this device.
    Expired {
        /// The conversation.
        peer: String,
        /// The deleted messages.
        message_ids: Vec<String>,
    },
    /// A contact's identity key changed: compare safety numbers again.
    IdentityChanged {
        /// The contact.
        username: String,
        /// Whether they were verified (if so, sending is refused until accepted).
        was_verified: bool,
    },
    /// An account's devices changed since we last sent to it (or looked it up): a device was
    /// linked, removed, or removed and its id given to a newly linked one. Messages go to the
    /// new list; a re-linked device gets a new session.
    DevicesChanged {
        /// Whose devices (a contact, or our own username for our own account).
        username: String,
        /// New device ids.
        added: Vec<u32>,
        /// Device ids gone.
        removed: Vec<u32>,
        /// Device ids now held by another, newly linked device.
        replaced: Vec<u32>,
    },
    /// A message went out identified: the relay learned that this account sent it, because
    /// it could not be sealed (see [`Unsealable`](crate::sealed::Unsealable)).
    SentIdentified {
        /// The recipient account's username (ours for the copy to our other devices; the
        /// group name for a group message).
        peer: String,
        /// The message id.
        message_id: String,
        /// Why it was not sealed.
        reason: crate::sealed::Unsealable,
    },
    /// An outgoing message changed state.
    Delivery {
        /// The recipient.
        peer: String,
        /// The message id.
        message_id: String,
        /// The new state.
        state: DeliveryState,
    },
    /// An envelope could not be decrypted and was dropped (no state changed).
    Undecryptable {
        /// The sender's account id, if the relay named one.
        sender_account: Option<String>,
        /// Why.
        reason: String,
    },
    /// A new message in a group (shown once).
    GroupMessage {
        /// The group id (hex).
        group_id: String,
        /// The group's name.
        group: String,
        /// The author's username (ours for a message from another of our devices).
        author: String,
        /// Which way it went.
        direction: crate::Direction,
        /// The sending device.
        device_id: u32,
        /// The sender's message id.
        message_id: String,
        /// The text.
        text: String,
        /// The sender's time (ms since the epoch).
        sent_at: i64,
        /// Files (boxed: it keeps the event small).
        details: Box<crate::store::MessageDetails>,
    },
    /// A group's admin-signed state changed (or we learnt of a new group).
    GroupChanged {
        /// The group id (hex).
        group_id: String,
        /// The group's name (the new one after a rename).
        group: String,
        /// The admin who signed the change (username if known, else account id).
        by: String,
        /// Members added (usernames if known, else account ids).
        added: Vec<String>,
        /// Members removed.
        removed: Vec<String>,
        /// We are no longer in the group.
        left: bool,
    },
    /// A group message, Sender Key or group state was refused: a sender the verified state
    /// does not list (a ghost), a forged or replayed state, or a bad signature. Nothing changed.
    GroupRejected {
        /// The group id (hex), if known.
        group_id: Option<String>,
        /// The sending account as the relay named it.
        sender_account: Option<String>,
        /// Why.
        reason: String,
    },
}
