//! Group state: the group's id, version, name and members with their identity keys and roles.
//!
//! A state is only data; [`VerifiedGroupState`](super::VerifiedGroupState) is how one signed by
//! an admin is accepted. Members are kept sorted by account id, each once, so a state has one
//! encoding and lookups are binary searches.

use sotto_proto::group as wire;

use super::error::GroupStateError;
use super::{GroupId, MAX_GROUP_MEMBERS, MAX_GROUP_NAME_LEN};
use crate::address::Address;
use crate::identity::IdentityKey;

/// What a member may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// May sign new group states, and send and read.
    Admin,
    /// May send and read.
    Member,
}

/// One member: an account and the identity key all its devices share.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    account: Vec<u8>,
    identity: IdentityKey,
    role: Role,
}

impl Member {
    /// A member.
    ///
    /// # Errors
    /// An account id that is empty or longer than 64 bytes.
    pub fn new(
        account: impl Into<Vec<u8>>,
        identity: IdentityKey,
        role: Role,
    ) -> Result<Self, GroupStateError> {
        let account = account.into();
        Address::new(account.as_slice(), 0)?;
        Ok(Self {
            account,
            identity,
            role,
        })
    }

    /// The account id.
    pub fn account(&self) -> &[u8] {
        &self.account
    }

    /// The identity key the state lists for the account.
    pub fn identity(&self) -> &IdentityKey {
        &self.identity
    }

    /// The member's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether the member may sign new states.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// One version of a group's state (not yet signed, or already verified).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupState {
    group_id: GroupId,
    version: u64,
    name: String,
    members: Vec<Member>,
}

impl GroupState {
    /// A state; `members` may come in any order.
    ///
    /// # Errors
    /// Version 0, a name over [`MAX_GROUP_NAME_LEN`] bytes, more than [`MAX_GROUP_MEMBERS`]
    /// members, an account listed twice, or no admin.
    pub fn new(
        group_id: GroupId,
        version: u64,
        name: impl Into<String>,
        mut members: Vec<Member>,
    ) -> Result<Self, GroupStateError> {
        members.sort_by(|a, b| a.account.cmp(&b.account));
        let state = Self {
            group_id,
            version,
            name: name.into(),
            members,
        };
        state.check()?;
        Ok(state)
    }

    fn check(&self) -> Result<(), GroupStateError> {
        if self.version == 0 {
            return Err(GroupStateError::Malformed("version 0"));
        }
        if self.name.len() > MAX_GROUP_NAME_LEN {
            return Err(GroupStateError::Malformed("name too long"));
        }
        check_member_count(self.members.len())?;
        let sorted = self.members.windows(2).all(|w| w[0].account < w[1].account);
        if !sorted {
            return Err(GroupStateError::UnsortedOrDuplicateMembers);
        }
        if !self.members.iter().any(Member::is_admin) {
            return Err(GroupStateError::NoAdmin);
        }
        Ok(())
    }

    /// The group id.
    pub fn group_id(&self) -> &GroupId {
        &self.group_id
    }

    /// The version.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The members, sorted by account id.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// The member with this account id.
    pub fn member(&self, account: &[u8]) -> Option<&Member> {
        self.members
            .binary_search_by(|m| m.account.as_slice().cmp(account))
            .ok()
            .map(|i| &self.members[i])
    }

    /// The next version with `member` added, or with its identity or role replaced.
    ///
    /// # Errors
    /// As [`GroupState::new`].
    pub fn with_member(&self, member: Member) -> Result<Self, GroupStateError> {
        let mut members = self.members.clone();
        members.retain(|m| m.account != member.account);
        members.push(member);
        self.successor(self.name.clone(), members)
    }

    /// The next version without `account`.
    ///
    /// # Errors
    /// As [`GroupState::new`] (removing the last admin is refused as [`GroupStateError::NoAdmin`]).
    pub fn without_member(&self, account: &[u8]) -> Result<Self, GroupStateError> {
        let mut members = self.members.clone();
        members.retain(|m| m.account != account);
        self.successor(self.name.clone(), members)
    }

    /// The next version under another name.
    ///
    /// # Errors
    /// As [`GroupState::new`].
    pub fn renamed(&self, name: impl Into<String>) -> Result<Self, GroupStateError> {
        self.successor(name.into(), self.members.clone())
    }

    fn successor(&self, name: String, members: Vec<Member>) -> Result<Self, GroupStateError> {
        let version = self
            .version
            .checked_add(1)
            .ok_or(GroupStateError::Malformed("version overflow"))?;
        Self::new(self.group_id, version, name, members)
    }

    /// The protobuf an admin signs.
    pub(crate) fn to_wire(&self) -> wire::GroupState {
        wire::GroupState {
            group_id: self.group_id.as_bytes().to_vec(),
            version: self.version,
            name: self.name.clone(),
            members: self
                .members
                .iter()
                .map(|m| wire::GroupMember {
                    account: m.account.clone(),
                    identity_key: m.identity.encode().to_vec(),
                    role: match m.role {
                        Role::Admin => wire::GroupRole::Admin,
                        Role::Member => wire::GroupRole::Member,
                    } as i32,
                })
                .collect(),
        }
    }

    /// Parses every member of a decoded state. Identities listed unchanged in `known` (the state
    /// in force) are taken from it instead of being verified again.
    pub(crate) fn from_wire(
        body: &wire::GroupState,
        known: Option<&GroupState>,
    ) -> Result<Self, GroupStateError> {
        Self::parse(body, known, IdentityCheck::Full)
    }

    /// Parses a state from our own store: identities were verified when the state arrived, so
    /// their binding signatures are not checked again (every key is still validated).
    pub(crate) fn from_stored(body: &wire::GroupState) -> Result<Self, GroupStateError> {
        Self::parse(body, None, IdentityCheck::Stored)
    }

    fn parse(
        body: &wire::GroupState,
        known: Option<&GroupState>,
        check: IdentityCheck,
    ) -> Result<Self, GroupStateError> {
        check_member_count(body.members.len())?;
        let group_id = GroupId::from_wire(&body.group_id)
            .ok_or(GroupStateError::Malformed("group id is not 32 bytes"))?;
        let members = body
            .members
            .iter()
            .map(|m| parse_member_as(m, known, check))
            .collect::<Result<Vec<_>, _>>()?;
        let state = Self {
            group_id,
            version: body.version,
            name: body.name.clone(),
            members,
        };
        state.check()?;
        Ok(state)
    }
}

pub(crate) fn check_member_count(count: usize) -> Result<(), GroupStateError> {
    if count > MAX_GROUP_MEMBERS {
        return Err(GroupStateError::TooManyMembers(count));
    }
    Ok(())
}

pub(crate) fn parse_role(role: i32) -> Result<Role, GroupStateError> {
    match wire::GroupRole::try_from(role) {
        Ok(wire::GroupRole::Admin) => Ok(Role::Admin),
        Ok(wire::GroupRole::Member) => Ok(Role::Member),
        _ => Err(GroupStateError::Malformed("unknown member role")),
    }
}

/// How much of a member's identity key to check.
#[derive(Clone, Copy)]
enum IdentityCheck {
    /// Everything, binding signature included: the key came from the wire.
    Full,
    /// Every key, but not the binding signature: verified on arrival, stored by us since.
    Stored,
}

/// Parses one member from the wire; its identity is verified unless `known` lists the same bytes.
pub(crate) fn parse_member(
    member: &wire::GroupMember,
    known: Option<&GroupState>,
) -> Result<Member, GroupStateError> {
    parse_member_as(member, known, IdentityCheck::Full)
}

fn parse_member_as(
    member: &wire::GroupMember,
    known: Option<&GroupState>,
    check: IdentityCheck,
) -> Result<Member, GroupStateError> {
    let role = parse_role(member.role)?;
    let unchanged = known
        .and_then(|state| state.member(&member.account))
        .filter(|m| m.identity.encode().as_slice() == member.identity_key.as_slice());
    let identity = match (unchanged, check) {
        (Some(m), _) => m.identity.clone(),
        (None, IdentityCheck::Full) => IdentityKey::from_wire(&member.identity_key)?,
        (None, IdentityCheck::Stored) => IdentityKey::from_stored(&member.identity_key)?,
    };
    Member::new(member.account.clone(), identity, role)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::IdentityKeyPair;
    use rand_core::SeedableRng;

    fn member(account: &str, role: Role) -> Member {
        let mut rng = chacha20::ChaCha20Rng::seed_from_u64(account.len() as u64);
        let identity = IdentityKeyPair::generate(&mut rng);
        Member::new(account, identity.public().clone(), role).unwrap()
    }

    fn group() -> GroupId {
        GroupId::from_bytes([1; 32])
    }

    #[test]
    fn members_are_sorted_and_found() {
        let state = GroupState::new(
            group(),
            1,
            "g",
            vec![member("carol", Role::Member), member("al", Role::Admin)],
        )
        .unwrap();
        let accounts: Vec<&[u8]> = state.members().iter().map(Member::account).collect();
        assert_eq!(accounts, [b"al".as_slice(), b"carol"]);
        assert!(state.member(b"carol").is_some() && state.member(b"bob").is_none());
    }

    #[test]
    fn invalid_states_are_refused() {
        let admin = member("al", Role::Admin);
        let new = |version, name: &str, members| GroupState::new(group(), version, name, members);
        assert_eq!(
            new(1, "g", vec![admin.clone(), admin.clone()]),
            Err(GroupStateError::UnsortedOrDuplicateMembers)
        );
        assert_eq!(
            new(1, "g", vec![member("bo", Role::Member)]),
            Err(GroupStateError::NoAdmin)
        );
        assert_eq!(
            new(0, "g", vec![admin.clone()]),
            Err(GroupStateError::Malformed("version 0"))
        );
        let long = "x".repeat(MAX_GROUP_NAME_LEN + 1);
        assert_eq!(
            new(1, &long, vec![admin]),
            Err(GroupStateError::Malformed("name too long"))
        );
        assert!(
            Member::new(
                Vec::new(),
                member("x", Role::Member).identity.clone(),
                Role::Member
            )
            .is_err()
        );
    }

    #[test]
    fn successors_step_the_version() {
        let state = GroupState::new(group(), 7, "g", vec![member("al", Role::Admin)]).unwrap();
        let next = state.with_member(member("bo", Role::Member)).unwrap();
        assert_eq!((next.version(), next.members().len()), (8, 2));
        let renamed = next.renamed("h").unwrap().without_member(b"bo").unwrap();
        assert_eq!((renamed.version(), renamed.name()), (10, "h"));
        assert_eq!(renamed.without_member(b"al"), Err(GroupStateError::NoAdmin));
        let max = GroupState::new(group(), u64::MAX, "g", vec![member("al", Role::Admin)]).unwrap();
        assert_eq!(
            max.renamed("x"),
            Err(GroupStateError::Malformed("version overflow"))
        );
    }
}
