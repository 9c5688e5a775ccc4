//! The two encodings of the delivery WebSocket: JSON text frames (the default) and binary
//! frames (`?frames=binary`, see [`sotto_proto::frames`]), on the way out and on the way in.

use crate::store::QueuedEnvelope;
use axum::extract::ws::Message;
use sotto_proto::api::{Base64Bytes, ClientFrame, DeliveredEnvelope, ServerFrame};
use sotto_proto::frames::{
    self, PushedEnvelope, QueueEmpty, SendMessage, SendResult, client_message, server_message,
};

/// How a connection's frames are encoded, chosen by the client at the upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameFormat {
    /// JSON text frames ([`ServerFrame`], [`ClientFrame`]).
    Json,
    /// Binary protobuf frames; also carry sends and batched acks.
    Binary,
}

impl FrameFormat {
    /// Reads the `frames` query parameter: absent or `json`, or `binary`; `None` otherwise.
    pub fn from_query(query: Option<&str>) -> Option<Self> {
        let mut format = FrameFormat::Json;
        for pair in query.unwrap_or_default().split('&') {
            match pair.split_once('=') {
                Some(("frames", "json")) => format = FrameFormat::Json,
                Some(("frames", "binary")) => format = FrameFormat::Binary,
                Some(("frames", _)) => return None,
                _ => {}
            }
        }
        Some(format)
    }
}

/// What the relay sends on a connection.
pub(super) enum Outgoing {
    /// A queued envelope.
    Envelope(QueuedEnvelope),
    /// The backlog present at connect has been sent.
    QueueEmpty,
    /// The answer to a send (binary connections only).
    SendResult(SendResult),
}

/// What a client frame asks for.
pub(super) enum Incoming {
    /// Delete these delivered envelopes.
    Acks(Vec<i64>),
    /// Store a message.
    Send(SendMessage),
}

/// Encodes `outgoing`; `None` for a send result on a JSON connection (which cannot send).
pub(super) fn encode(format: FrameFormat, outgoing: Outgoing) -> Option<Message> {
    match format {
        FrameFormat::Json => {
            let frame = match outgoing {
                Outgoing::Envelope(envelope) => ServerFrame::Envelope(delivered(envelope)),
                Outgoing::QueueEmpty => ServerFrame::QueueEmpty,
                Outgoing::SendResult(_) => return None,
            };
            // Serialising these plain structs into a String cannot fail.
            let text = serde_json::to_string(&frame).ok()?;
            Some(Message::Text(text.into()))
        }
        FrameFormat::Binary => {
            let kind = match outgoing {
                Outgoing::Envelope(envelope) => server_message::Kind::Envelope(pushed(envelope)),
                Outgoing::QueueEmpty => server_message::Kind::QueueEmpty(QueueEmpty {}),
                Outgoing::SendResult(result) => server_message::Kind::SendResult(result),
            };
            Some(Message::Binary(frames::encode_server(kind).into()))
        }
    }
}

/// Decodes a client data frame of the connection's format; the error is the close reason.
pub(super) fn decode(format: FrameFormat, message: &Message) -> Result<Incoming, String> {
    match (format, message) {
        (FrameFormat::Json, Message::Text(text)) => {
            match serde_json::from_str::<ClientFrame>(text.as_str()) {
                Ok(ClientFrame::Ack { id }) => Ok(Incoming::Acks(vec![id])),
                Err(e) => Err(format!("invalid frame: {e}")),
            }
        }
        (FrameFormat::Json, _) => Err("binary frames need ?frames=binary".into()),
        (FrameFormat::Binary, Message::Binary(bytes)) => match frames::decode_client(bytes) {
            Ok(client_message::Kind::Acks(acks)) => Ok(Incoming::Acks(acks.ids)),
            Ok(client_message::Kind::Send(send)) => Ok(Incoming::Send(send)),
            Err(e) => Err(format!("invalid frame: {e}")),
        },
        (FrameFormat::Binary, _) => Err("text frames are not accepted with ?frames=binary".into()),
    }
}

fn delivered(envelope: QueuedEnvelope) -> DeliveredEnvelope {
    DeliveredEnvelope {
        id: envelope.id,
        message_id: envelope.message_id,
        sender_account: envelope.sender.as_ref().map(|s| s.account.to_string()),
        sender_device: envelope.sender.as_ref().map(|s| s.device.get()),
        server_timestamp: envelope.server_timestamp,
        content: Base64Bytes(envelope.content.into()),
    }
}

fn pushed(envelope: QueuedEnvelope) -> PushedEnvelope {
    PushedEnvelope {
        id: envelope.id,
        message_id: envelope.message_id,
        sender_account: envelope.sender.as_ref().map(|s| s.account.to_string()),
        sender_device: envelope.sender.as_ref().map(|s| s.device.get()),
        server_timestamp: envelope.server_timestamp,
        content: envelope.content.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::FrameFormat;

    #[test]
    fn the_query_chooses_the_format() {
        assert_eq!(FrameFormat::from_query(None), Some(FrameFormat::Json));
        assert_eq!(
            FrameFormat::from_query(Some("frames=binary")),
            Some(FrameFormat::Binary)
        );
        assert_eq!(
            FrameFormat::from_query(Some("x=1&frames=json")),
            Some(FrameFormat::Json)
        );
        assert_eq!(FrameFormat::from_query(Some("frames=xml")), None);
    }
}
