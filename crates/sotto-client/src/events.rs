//! Events for front ends: what arrived, whose identity changed, how far a message got.

/// How far an outgoing message got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeliveryState {
    /// Encrypted and saved in the outbox; the relay has not confirmed it yet.
    Pending,
    /// The relay stored it durably for every device of the recipient.
    Sent,
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
    },
    /// A contact's identity key changed: compare safety numbers again.
    IdentityChanged {
        /// The contact.
        username: String,
        /// Whether they were verified (if so, sending is refused until accepted).
        was_verified: bool,
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
}
