//! Signed group state and its verification: the only way a client's view of a group changes.
//!
//! `0x15 || SignedGroupState (protobuf) { state, signer, signature }`, where `state` is the
//! encoded [`GroupState`] and `signature` is the signer's identity (Ed25519) signature over
//! `"Sotto_v1_GroupState" || 0x15 || state`. An update is accepted only if it is for the same
//! group, has a higher version, and is signed by an admin of the state it replaces; a first
//! state (joining) must be signed by an admin it lists itself and must list us. The signature
//! is checked before any member's identity is parsed, so a forged state costs one verification.

use prost::Message;
use sotto_proto::group as wire;

use super::error::GroupStateError;
use super::group_state::{GroupState, Member, check_member_count, parse_member};
use super::{GROUP_STATE_MESSAGE_TYPE, strip_version_byte, version_byte};
use crate::identity::{IdentityKey, IdentityKeyPair};
use crate::labels;

/// Format version of a stored verified state.
pub const GROUP_STATE_RECORD_VERSION: u8 = 1;

/// A group state whose admin signature was verified, with the signed bytes it came from (to
/// pass on to new members).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedGroupState {
    state: GroupState,
    signer: Vec<u8>,
    signed: Vec<u8>,
}

/// A signed state, decoded but not verified.
struct Unverified {
    body: wire::GroupState,
    state_bytes: Vec<u8>,
    signer: Vec<u8>,
    signature: Vec<u8>,
}

impl GroupState {
    /// Signs this state as the admin `signer_account`, whose identity is `signer`. Whether the
    /// signer is an admin is checked by the receivers, against the state they hold.
    pub fn sign(&self, signer_account: &[u8], signer: &IdentityKeyPair) -> Vec<u8> {
        let state = self.to_wire().encode_to_vec();
        let lead = [version_byte(GROUP_STATE_MESSAGE_TYPE)];
        let signature = signer.sign(labels::GROUP_STATE, &[&lead, &state]);
        let signed = wire::SignedGroupState {
            state,
            signer: signer_account.to_vec(),
            signature: signature.to_vec(),
        };
        let mut out = Vec::with_capacity(1 + signed.encoded_len());
        out.push(lead[0]);
        signed.encode_raw(&mut out);
        out
    }
}

impl Unverified {
    fn decode(bytes: &[u8]) -> Result<Self, GroupStateError> {
        let rest = strip_version_byte(bytes, GROUP_STATE_MESSAGE_TYPE)?;
        let signed = wire::SignedGroupState::decode(rest)
            .map_err(|_| GroupStateError::Malformed("signed group state does not decode"))?;
        let body = wire::GroupState::decode(signed.state.as_slice())
            .map_err(|_| GroupStateError::Malformed("group state does not decode"))?;
        check_member_count(body.members.len())?;
        Ok(Self {
            body,
            state_bytes: signed.state,
            signer: signed.signer,
            signature: signed.signature,
        })
    }

    fn verify_signature(&self, admin: &IdentityKey) -> Result<(), GroupStateError> {
        let lead = [version_byte(GROUP_STATE_MESSAGE_TYPE)];
        admin
            .verify(
                labels::GROUP_STATE,
                &[&lead, &self.state_bytes],
                &self.signature,
            )
            .map_err(|_| GroupStateError::BadSignature)
    }

    /// The signer as listed in this state itself (for a first state).
    fn self_listed_admin(&self) -> Result<Member, GroupStateError> {
        let listed = self
            .body
            .members
            .iter()
            .find(|m| m.account == self.signer)
            .ok_or(GroupStateError::NotAnAdmin)?;
        let member = parse_member(listed, None)?;
        if !member.is_admin() {
            return Err(GroupStateError::NotAnAdmin);
        }
        Ok(member)
    }
}

impl VerifiedGroupState {
    /// Accepts the first state we learn of a group (when we are added to it), received from
    /// the member who added us over its pairwise session.
    ///
    /// # Errors
    /// A malformed state, a signer who is not an admin listed in it, a bad signature, or a
    /// state that does not list `local_account`.
    pub fn verify_initial(bytes: &[u8], local_account: &[u8]) -> Result<Self, GroupStateError> {
        let unverified = Unverified::decode(bytes)?;
        let admin = unverified.self_listed_admin()?;
        unverified.verify_signature(admin.identity())?;
        let state = GroupState::from_wire(&unverified.body, None)?;
        if state.member(local_account).is_none() {
            return Err(GroupStateError::NotListed);
        }
        Ok(Self::new(state, unverified.signer, bytes))
    }

    /// Verifies an update against this (current) state and returns the new state; `self` stays
    /// valid, so a rejected update changes nothing.
    ///
    /// # Errors
    /// [`GroupStateError::UnknownGroup`], [`GroupStateError::VersionNotNewer`],
    /// [`GroupStateError::NotAnAdmin`] (of this state), [`GroupStateError::BadSignature`], or a
    /// malformed state.
    pub fn verify_update(&self, bytes: &[u8]) -> Result<Self, GroupStateError> {
        let unverified = Unverified::decode(bytes)?;
        if unverified.body.group_id.as_slice() != self.state.group_id().as_bytes() {
            return Err(GroupStateError::UnknownGroup);
        }
        if unverified.body.version <= self.state.version() {
            return Err(GroupStateError::VersionNotNewer {
                current: self.state.version(),
                offered: unverified.body.version,
            });
        }
        let admin = self
            .state
            .member(&unverified.signer)
            .filter(|m| m.is_admin())
            .ok_or(GroupStateError::NotAnAdmin)?;
        unverified.verify_signature(admin.identity())?;
        let state = GroupState::from_wire(&unverified.body, Some(&self.state))?;
        Ok(Self::new(state, unverified.signer, bytes))
    }

    fn new(state: GroupState, signer: Vec<u8>, signed: &[u8]) -> Self {
        Self {
            state,
            signer,
            signed: signed.to_vec(),
        }
    }

    /// The state.
    pub fn state(&self) -> &GroupState {
        &self.state
    }

    /// The account id of the admin who signed it.
    pub fn signer(&self) -> &[u8] {
        &self.signer
    }

    /// The signed wire bytes, to hand to a member being added.
    pub fn signed_bytes(&self) -> &[u8] {
        &self.signed
    }

    /// The stored form: `0x01 || signed wire bytes`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + self.signed.len());
        out.push(GROUP_STATE_RECORD_VERSION);
        out.extend_from_slice(&self.signed);
        out
    }

    /// Loads a stored state. The signatures were verified when the state arrived and the record
    /// comes from our own encrypted store, so neither the admin's signature (its signer may no
    /// longer be an admin of the state it signed) nor the members' identity binding signatures
    /// are checked again; every field and key still is.
    ///
    /// # Errors
    /// An unknown record version, or a malformed state.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, GroupStateError> {
        let (&version, signed) = bytes.split_first().ok_or(GroupStateError::Empty)?;
        if version != GROUP_STATE_RECORD_VERSION {
            return Err(GroupStateError::UnknownRecordVersion(version));
        }
        let unverified = Unverified::decode(signed)?;
        let state = GroupState::from_stored(&unverified.body)?;
        Ok(Self::new(state, unverified.signer, signed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::{GroupId, Role};
    use rand_core::SeedableRng;

    /// A state signed by its admin whose second member's identity has a broken binding
    /// signature (as only a careless or hostile admin could produce).
    fn with_broken_member() -> Vec<u8> {
        let mut rng = chacha20::ChaCha20Rng::seed_from_u64(3);
        let admin = IdentityKeyPair::generate(&mut rng);
        let other = IdentityKeyPair::generate(&mut rng);
        let state = GroupState::new(
            GroupId::from_bytes([2; 32]),
            1,
            "g",
            vec![
                Member::new("a", admin.public().clone(), Role::Admin).unwrap(),
                Member::new("b", other.public().clone(), Role::Member).unwrap(),
            ],
        )
        .unwrap();
        let mut body = state.to_wire();
        body.members[1].identity_key[100] ^= 1;
        let state = body.encode_to_vec();
        let lead = [version_byte(GROUP_STATE_MESSAGE_TYPE)];
        let signed = wire::SignedGroupState {
            signature: admin.sign(labels::GROUP_STATE, &[&lead, &state]).to_vec(),
            state,
            signer: b"a".to_vec(),
        };
        let mut out = lead.to_vec();
        signed.encode_raw(&mut out);
        out
    }

    #[test]
    fn member_identities_are_verified_on_arrival_only() {
        let signed = with_broken_member();
        assert_eq!(
            VerifiedGroupState::verify_initial(&signed, b"a"),
            Err(GroupStateError::Key(crate::error::KeyError::BadSignature))
        );
        let mut stored = vec![GROUP_STATE_RECORD_VERSION];
        stored.extend_from_slice(&signed);
        assert!(VerifiedGroupState::from_bytes(&stored).is_ok());
        stored[0] = 2;
        assert_eq!(
            VerifiedGroupState::from_bytes(&stored),
            Err(GroupStateError::UnknownRecordVersion(2))
        );
    }
}
