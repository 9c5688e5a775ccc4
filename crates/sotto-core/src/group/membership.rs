//! Membership decisions taken from the verified group state alone, never from the server's
//! fan-out list: who may send to us (and receive our sender key), and who must rotate when the
//! membership changes.

use super::error::MembershipError;
use super::group_state::{GroupState, Member};
use super::verified_group_state::VerifiedGroupState;
use crate::address::Address;
use crate::identity::IdentityKey;

impl VerifiedGroupState {
    /// Whether a device may take part: its account must be a member, under the identity key of
    /// the pairwise session it spoke through. Ask before reading a group message or sender key
    /// distribution from it, and before sending it ours. Every device of a member's account is
    /// admitted (devices share the account's identity).
    ///
    /// # Errors
    /// [`MembershipError::NotAMember`] for a ghost (an account the state does not list), or
    /// [`MembershipError::IdentityMismatch`] for a member speaking under another identity.
    pub fn admit(
        &self,
        device: &Address,
        identity: &IdentityKey,
    ) -> Result<&Member, MembershipError> {
        let member = self
            .state()
            .member(device.account())
            .ok_or(MembershipError::NotAMember)?;
        if member.identity() != identity {
            return Err(MembershipError::IdentityMismatch);
        }
        Ok(member)
    }
}

/// What a change of membership asks of the members' sender keys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rotation {
    /// Accounts that left (or whose identity changed): drop their sender key records, and send
    /// them nothing more.
    pub removed: Vec<Vec<u8>>,
    /// Accounts still in the group that must generate a new [`OwnSenderKey`] and distribute it
    /// to the new membership before their next message, because someone who holds their
    /// current chain left. Empty when nobody left: a new member gets the current chains, which
    /// read only messages from now on.
    ///
    /// [`OwnSenderKey`]: super::OwnSenderKey
    pub must_rotate: Vec<Vec<u8>>,
}

impl Rotation {
    /// Whether the account must rotate its sender key.
    pub fn must_rotate(&self, account: &[u8]) -> bool {
        self.must_rotate.iter().any(|a| a == account)
    }
}

/// The rotation a move from state `old` to state `new` requires.
pub fn rotation_after(old: &GroupState, new: &GroupState) -> Rotation {
    let removed: Vec<Vec<u8>> = old
        .members()
        .iter()
        .filter(|m| {
            new.member(m.account())
                .is_none_or(|n| n.identity() != m.identity())
        })
        .map(|m| m.account().to_vec())
        .collect();
    if removed.is_empty() {
        return Rotation::default();
    }
    let must_rotate = new
        .members()
        .iter()
        .filter(|m| old.member(m.account()).is_some() && !removed.iter().any(|r| r == m.account()))
        .map(|m| m.account().to_vec())
        .collect();
    Rotation {
        removed,
        must_rotate,
    }
}
