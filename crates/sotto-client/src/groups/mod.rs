//! Group chats on top of the pairwise sessions (docs/client.md, "Groups"; the protocol is
//! docs/protocol.md §15).
//!
//! ```text
//! admin: create/add/remove/admins/rename ─► sign new GroupState ─► Body::Group{state} over the
//!        pairwise session to every member device (and to removed ones, so they know)
//! send:  own Sender Key ─► Body::Group{sender_key} to member devices that lack it (pairwise)
//!        ─► encrypt ONCE ─► deliver_group: the same bytes to every member device
//! receive: group envelope ─► state in force ─► admit(sender) ─► SenderKeyRecord::decrypt
//! ```
//!
//! Membership is taken only from the admin-signed state: devices come from the relay, but a
//! device whose bundle is not signed by the identity the state lists is a ghost, refused and
//! reported as [`Event::GroupRejected`](crate::Event::GroupRejected).

mod admin;
mod control;
mod error;
mod fanout;
mod info;
mod receive;
mod send;
mod state_transfer;

pub(crate) use control::ControlSender;
pub use error::GroupError;
pub use info::{GroupInfo, GroupMemberInfo};

use sotto_core::group::GroupId;

/// First byte of a group envelope: `0x16 || group id (32) || group message (0x14 …)`. The
/// group message does not name its group; this framing does, and the group id is also bound
/// into the message's tag and signature, so a wrong one only makes it fail.
pub const GROUP_ENVELOPE_TYPE: u8 = 0x16;

/// The largest group this SDK is tested with (the protocol allows 2,000 members).
pub const MAX_TESTED_GROUP_MEMBERS: usize = 1_000;

/// The conversation key of a group's history rows (pairwise rows use the peer's account id,
/// which never contains a colon).
pub(crate) fn conversation_key(group_hex: &str) -> String {
    format!("group:{group_hex}")
}

/// A group id in hex, as stored and shown.
pub(crate) fn hex_id(id: &GroupId) -> String {
    hex::encode(id.as_bytes())
}

/// Frames a group message as an envelope's content.
pub(crate) fn frame(id: &GroupId, message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + 32 + message.len());
    out.push(GROUP_ENVELOPE_TYPE);
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(message);
    out
}

/// Splits a group envelope into its group id and group message; `None` if it is not one.
pub fn unframe(content: &[u8]) -> Option<(GroupId, &[u8])> {
    let (&first, rest) = content.split_first()?;
    if first != GROUP_ENVELOPE_TYPE {
        return None;
    }
    let (id, message) = rest.split_first_chunk::<32>()?;
    Some((GroupId::from_bytes(*id), message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_others_are_not_group_envelopes() {
        let id = GroupId::from_bytes([7; 32]);
        let framed = frame(&id, b"\x14body");
        assert_eq!(unframe(&framed), Some((id, &b"\x14body"[..])));
        assert_eq!(unframe(&framed[..20]), None);
        assert_eq!(unframe(b""), None);
        assert_eq!(unframe(b"\x11pairwise"), None);
    }
}
