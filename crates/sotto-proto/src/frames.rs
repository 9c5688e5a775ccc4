//! Binary frames of the delivery WebSocket, the faster alternative to the JSON text frames of
//! [`crate::api`]. A client asks for them with `GET /v1/websocket?frames=binary`.
//!
//! Every binary frame is one version byte ([`FRAME_VERSION`]) followed by one protobuf message:
//! [`ClientMessage`] from the client, [`ServerMessage`] from the relay. Besides pushes and acks
//! (several ids per frame) the binary mode carries sends, with the same meaning as
//! `PUT /v1/messages/{account_id}/{message_id}`: a [`SendResult`] answers each, after the
//! durable commit, or with the error the HTTP request would have got.

/// The version byte that starts every binary frame.
pub const FRAME_VERSION: u8 = 1;

/// A frame from the client.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ClientMessage {
    /// What the client asks for.
    #[prost(oneof = "client_message::Kind", tags = "1, 2")]
    pub kind: Option<client_message::Kind>,
}

/// The variants of [`ClientMessage`].
pub mod client_message {
    /// What a client frame carries.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Kind {
        /// These delivered envelopes are stored by the client and may be deleted.
        #[prost(message, tag = "1")]
        Acks(super::Acks),
        /// Store a message for an account (as `PUT /v1/messages/...`).
        #[prost(message, tag = "2")]
        Send(super::SendMessage),
    }
}

/// Acks of several delivered envelopes.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Acks {
    /// Delivery ids from [`PushedEnvelope::id`].
    #[prost(int64, repeated, tag = "1")]
    pub ids: Vec<i64>,
}

/// A send: one ciphertext per current device of the recipient account.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SendMessage {
    /// Chosen by the client; the [`SendResult`] repeats it. Not stored.
    #[prost(uint64, tag = "1")]
    pub request_id: u64,
    /// Recipient account id.
    #[prost(string, tag = "2")]
    pub recipient_account: String,
    /// The client-chosen message id (as in the HTTP path).
    #[prost(string, tag = "3")]
    pub message_id: String,
    /// One entry per recipient device.
    #[prost(message, repeated, tag = "4")]
    pub envelopes: Vec<DeviceCiphertext>,
}

/// One ciphertext for one recipient device.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DeviceCiphertext {
    /// Recipient device id.
    #[prost(uint32, tag = "1")]
    pub device_id: u32,
    /// Opaque ciphertext.
    #[prost(bytes = "vec", tag = "2")]
    pub content: Vec<u8>,
}

/// A frame from the relay.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ServerMessage {
    /// What the relay says.
    #[prost(oneof = "server_message::Kind", tags = "1, 2, 3")]
    pub kind: Option<server_message::Kind>,
}

/// The variants of [`ServerMessage`].
pub mod server_message {
    /// What a server frame carries.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Kind {
        /// A queued envelope; ack it by id.
        #[prost(message, tag = "1")]
        Envelope(super::PushedEnvelope),
        /// Every envelope queued when the connection opened has been sent.
        #[prost(message, tag = "2")]
        QueueEmpty(super::QueueEmpty),
        /// The answer to a [`super::SendMessage`].
        #[prost(message, tag = "3")]
        SendResult(super::SendResult),
    }
}

/// An envelope pushed to a device (the binary form of [`crate::api::DeliveredEnvelope`]).
#[derive(Clone, PartialEq, prost::Message)]
pub struct PushedEnvelope {
    /// Server-assigned delivery id, increasing per device; used in the ack.
    #[prost(int64, tag = "1")]
    pub id: i64,
    /// The sender's client-chosen message id.
    #[prost(string, tag = "2")]
    pub message_id: String,
    /// Sender account id, when the send was authenticated.
    #[prost(string, optional, tag = "3")]
    pub sender_account: Option<String>,
    /// Sender device id, when the send was authenticated.
    #[prost(uint32, optional, tag = "4")]
    pub sender_device: Option<u32>,
    /// Server receive time, milliseconds since the Unix epoch.
    #[prost(int64, tag = "5")]
    pub server_timestamp: i64,
    /// Opaque ciphertext.
    #[prost(bytes = "vec", tag = "6")]
    pub content: Vec<u8>,
}

/// The backlog present at connect has been sent.
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct QueueEmpty {}

/// The answer to one send.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SendResult {
    /// The [`SendMessage::request_id`] this answers.
    #[prost(uint64, tag = "1")]
    pub request_id: u64,
    /// Stored (durably) before this answer; true when the message id was stored already.
    #[prost(bool, tag = "2")]
    pub duplicate: bool,
    /// Set when nothing was stored; then `duplicate` is false.
    #[prost(message, optional, tag = "3")]
    pub error: Option<SendError>,
}

/// Why a send failed: what the HTTP request would have answered.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SendError {
    /// The HTTP status of the same failure (e.g. 409, 413, 429).
    #[prost(uint32, tag = "1")]
    pub status: u32,
    /// The stable error code (as in [`crate::api::ErrorBody::code`]).
    #[prost(string, tag = "2")]
    pub code: String,
    /// Human-readable explanation.
    #[prost(string, tag = "3")]
    pub message: String,
    /// Devices the sender left out (only with code `device_mismatch`).
    #[prost(uint32, repeated, tag = "4")]
    pub missing_devices: Vec<u32>,
    /// Devices the sender addressed that do not exist (only with code `device_mismatch`).
    #[prost(uint32, repeated, tag = "5")]
    pub extra_devices: Vec<u32>,
    /// Seconds to wait before retrying (only with code `rate_limited`).
    #[prost(uint32, tag = "6")]
    pub retry_after_s: u32,
}

/// Why a binary frame could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// The frame has no bytes at all.
    Empty,
    /// The version byte is not [`FRAME_VERSION`].
    UnknownVersion(u8),
    /// The protobuf message after the version byte is malformed.
    Malformed(String),
    /// The message decoded but carries none of the known kinds.
    UnknownKind,
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Empty => f.write_str("empty frame"),
            FrameError::UnknownVersion(v) => write!(f, "unknown frame version {v}"),
            FrameError::Malformed(e) => write!(f, "malformed frame: {e}"),
            FrameError::UnknownKind => f.write_str("frame of unknown kind"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Reads a client frame: version byte, then a [`ClientMessage`] with a known kind.
///
/// Fails with a [`FrameError`] on any other input.
pub fn decode_client(frame: &[u8]) -> Result<client_message::Kind, FrameError> {
    let message: ClientMessage = decode_versioned(frame)?;
    message.kind.ok_or(FrameError::UnknownKind)
}

/// Reads a server frame: version byte, then a [`ServerMessage`] with a known kind.
///
/// Fails with a [`FrameError`] on any other input.
pub fn decode_server(frame: &[u8]) -> Result<server_message::Kind, FrameError> {
    let message: ServerMessage = decode_versioned(frame)?;
    message.kind.ok_or(FrameError::UnknownKind)
}

fn decode_versioned<M: prost::Message + Default>(frame: &[u8]) -> Result<M, FrameError> {
    let (&version, body) = frame.split_first().ok_or(FrameError::Empty)?;
    if version != FRAME_VERSION {
        return Err(FrameError::UnknownVersion(version));
    }
    M::decode(body).map_err(|e| FrameError::Malformed(e.to_string()))
}

/// Writes a client frame (version byte and message).
pub fn encode_client(kind: client_message::Kind) -> Vec<u8> {
    encode_versioned(&ClientMessage { kind: Some(kind) })
}

/// Writes a server frame (version byte and message).
pub fn encode_server(kind: server_message::Kind) -> Vec<u8> {
    encode_versioned(&ServerMessage { kind: Some(kind) })
}

fn encode_versioned<M: prost::Message>(message: &M) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + message.encoded_len());
    out.push(FRAME_VERSION);
    // Encoding into a Vec cannot run out of room.
    message.encode_raw(&mut out);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn frames_round_trip() {
        let send = client_message::Kind::Send(SendMessage {
            request_id: 7,
            recipient_account: "acc".into(),
            message_id: "m-0000000000000001".into(),
            envelopes: vec![DeviceCiphertext {
                device_id: 1,
                content: vec![1, 2, 3],
            }],
        });
        assert_eq!(decode_client(&encode_client(send.clone())).unwrap(), send);
        let acks = client_message::Kind::Acks(Acks { ids: vec![1, 5, 9] });
        assert_eq!(decode_client(&encode_client(acks.clone())).unwrap(), acks);
        let empty = server_message::Kind::QueueEmpty(QueueEmpty {});
        assert_eq!(decode_server(&encode_server(empty.clone())).unwrap(), empty);
    }

    #[test]
    fn bad_frames_are_typed_errors() {
        assert_eq!(decode_client(&[]), Err(FrameError::Empty));
        assert_eq!(decode_client(&[2, 0]), Err(FrameError::UnknownVersion(2)));
        assert_eq!(decode_client(&[1]), Err(FrameError::UnknownKind));
        assert!(matches!(
            decode_client(&[1, 0x0a, 0xff]),
            Err(FrameError::Malformed(_))
        ));
    }
}
