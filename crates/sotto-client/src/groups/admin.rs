//! Changing a group: an admin signs the next full state, saves it with its consequences
//! (rotation after a removal) in one transaction, and sends it to every member device over the
//! pairwise sessions — removed members included, so they learn they are out.

use sotto_core::IdentityKey;
use sotto_core::group::{
    GroupId, GroupState, GroupStateError, Member, Role, VerifiedGroupState, rotation_after,
};
use sotto_proto::api::Base64Bytes;
use sqlx::SqliteConnection;

use super::error::GroupError;
use super::fanout::MemberTarget;
use super::info::GroupInfo;
use super::{MAX_TESTED_GROUP_MEMBERS, hex_id};
use crate::client::Client;
use crate::content::{
    AttachmentPointer, GroupControl, MAX_GROUP_STATE_ATTACHMENT_BYTES, MAX_GROUP_STATE_BYTES,
    canonical_username,
};
use crate::error::{ClientError, StoreError};
use crate::events::Event;
use crate::send::Recipient;
use crate::store::StoredGroup;

impl Client {
    /// Creates a group named `name` with us as its admin and `members` (usernames), and sends
    /// its signed state to every member device.
    ///
    /// # Errors
    /// [`ClientError::UnknownUser`], [`ClientError::UntrustedIdentity`], [`GroupError::State`]
    /// (name too long, too many members), [`GroupError::StateTooLarge`]; relay or store failures.
    pub async fn create_group(
        &self,
        name: &str,
        members: &[&str],
    ) -> Result<GroupInfo, ClientError> {
        let id = GroupId::generate(&mut rand::rng());
        let own = self.account.account_id.as_bytes();
        let mut list = vec![
            Member::new(own, self.account.identity.public().clone(), Role::Admin)
                .map_err(GroupError::State)?,
        ];
        for member in self.resolve_new_members(members).await? {
            if list.iter().all(|m| m.account() != member.account()) {
                list.push(member);
            }
        }
        let state = GroupState::new(id, 1, name, list).map_err(GroupError::State)?;
        let signed = self.sign_checked(&state)?;
        let verified =
            VerifiedGroupState::verify_initial(&signed, own).map_err(GroupError::State)?;
        let group = StoredGroup {
            id: hex_id(&id),
            state: verified,
            left: false,
        };
        self.commit_own_state(None, &group).await?;
        self.publish(&group, None).await;
        self.group_info(&group).await
    }

    /// Adds `usernames` to the group (admins only).
    ///
    /// # Errors
    /// As [`create_group`](Self::create_group), and [`GroupError::NotAdmin`].
    pub async fn add_members(
        &self,
        group: &str,
        usernames: &[&str],
    ) -> Result<GroupInfo, ClientError> {
        let added = self.resolve_new_members(usernames).await?;
        self.update_group(group, |state| {
            let mut members: Vec<Member> = state.members().to_vec();
            for member in added {
                if state.member(member.account()).is_none() {
                    members.push(member);
                }
            }
            next_state(state, state.name(), members)
        })
        .await
    }

    /// Removes `usernames` from the group (admins only). Every remaining member starts a new
    /// Sender Key before its next message, so the removed ones cannot read later messages.
    ///
    /// # Errors
    /// [`GroupError::NotListed`], [`GroupError::NotAdmin`], [`GroupError::State`] (removing
    /// the last admin); relay or store failures.
    pub async fn remove_members(
        &self,
        group: &str,
        usernames: &[&str],
    ) -> Result<GroupInfo, ClientError> {
        let mut accounts = Vec::new();
        for username in usernames {
            accounts.push(self.account_of(username).await?);
        }
        self.remove_accounts(group, &accounts).await
    }

    /// Removes accounts (by id) from the group (admins only).
    pub(crate) async fn remove_accounts(
        &self,
        group: &str,
        accounts: &[String],
    ) -> Result<GroupInfo, ClientError> {
        self.update_group(group, |state| {
            for account in accounts {
                if state.member(account.as_bytes()).is_none() {
                    return Err(GroupError::NotListed(account.clone()).into());
                }
            }
            let members = state
                .members()
                .iter()
                .filter(|m| !accounts.iter().any(|a| a.as_bytes() == m.account()))
                .cloned()
                .collect();
            next_state(state, state.name(), members)
        })
        .await
    }

    /// Makes `add` admins and `remove` plain members (admins only).
    ///
    /// # Errors
    /// [`GroupError::NotListed`], [`GroupError::NotAdmin`], [`GroupError::State`] (no admin
    /// left); relay or store failures.
    pub async fn set_admins(
        &self,
        group: &str,
        add: &[&str],
        remove: &[&str],
    ) -> Result<GroupInfo, ClientError> {
        let mut roles = Vec::new();
        for (names, role) in [(add, Role::Admin), (remove, Role::Member)] {
            for username in names {
                roles.push((self.account_of(username).await?, role, *username));
            }
        }
        self.update_group(group, |state| {
            let mut members: Vec<Member> = state.members().to_vec();
            for (account, role, username) in &roles {
                let member = state
                    .member(account.as_bytes())
                    .ok_or_else(|| GroupError::NotListed((*username).to_owned()))?;
                let changed = Member::new(account.as_bytes(), member.identity().clone(), *role)
                    .map_err(GroupError::State)?;
                members.retain(|m| m.account() != account.as_bytes());
                members.push(changed);
            }
            next_state(state, state.name(), members)
        })
        .await
    }

    /// The group's admins.
    ///
    /// # Errors
    /// [`GroupError::Unknown`]; a store failure.
    pub async fn admins(&self, group: &str) -> Result<Vec<super::GroupMemberInfo>, ClientError> {
        let info = self.group(group).await?;
        Ok(info.members.into_iter().filter(|m| m.admin).collect())
    }

    /// Renames the group (admins only).
    ///
    /// # Errors
    /// [`GroupError::NotAdmin`], [`GroupError::State`] (name too long); relay or store failures.
    pub async fn rename_group(&self, group: &str, name: &str) -> Result<GroupInfo, ClientError> {
        self.update_group(group, |state| {
            next_state(state, name, state.members().to_vec())
        })
        .await
    }

    /// Leaves the group. An admin publishes the state without itself (another admin must
    /// remain); a member asks the admins to remove it. Either way this device stops sending and
    /// accepting the group's messages at once, and forgets its Sender Keys.
    ///
    /// # Errors
    /// [`GroupError::NotAMember`], [`GroupError::State`] (the last admin of a group with other
    /// members); relay or store failures.
    pub async fn leave_group(&self, group: &str) -> Result<GroupInfo, ClientError> {
        let stored = self.find_group(group).await?;
        let own = self.account.account_id.clone();
        let state = stored.state.state();
        let me = state
            .member(own.as_bytes())
            .filter(|_| !stored.left)
            .ok_or(GroupError::NotAMember)?;
        if me.is_admin() {
            return self.remove_accounts(&stored.id, &[own]).await;
        }
        for admin in state.members().iter().filter(|m| m.is_admin()) {
            let target = target_of(&stored.id, admin);
            let control = control(state.group_id(), None, None, true);
            if let Err(error) = self.send_control(&target, control).await {
                tracing::warn!(%error, "could not ask an admin to remove us from a group");
            }
        }
        let left = StoredGroup {
            left: true,
            ..stored
        };
        let mut tx = self.store.begin().await?;
        self.store.save_group(&mut tx, &left).await?;
        self.store.rotate_own_sender_key(&mut tx, &left.id).await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.group_info(&left).await
    }

    /// Signs the state `change` makes of the one in force, saves it and sends it out.
    async fn update_group(
        &self,
        group: &str,
        change: impl FnOnce(&GroupState) -> Result<GroupState, ClientError>,
    ) -> Result<GroupInfo, ClientError> {
        let stored = self.find_group(group).await?;
        let own = self.account.account_id.as_bytes();
        let state = stored.state.state();
        match state.member(own) {
            _ if stored.left => return Err(GroupError::NotAMember.into()),
            None => return Err(GroupError::NotAMember.into()),
            Some(me) if !me.is_admin() => return Err(GroupError::NotAdmin.into()),
            Some(_) => {}
        }
        let next = change(state)?;
        let signed = self.sign_checked(&next)?;
        let verified = stored
            .state
            .verify_update(&signed)
            .map_err(GroupError::State)?;
        let left = verified.state().member(own).is_none();
        let updated = StoredGroup {
            id: stored.id.clone(),
            state: verified,
            left,
        };
        self.commit_own_state(Some(&stored.state), &updated).await?;
        self.publish(&updated, Some(stored.state.state())).await;
        self.group_info(&updated).await
    }

    /// Signs a state and checks that it can be sent (inline or as an attachment).
    fn sign_checked(&self, state: &GroupState) -> Result<Vec<u8>, ClientError> {
        if state.members().len() > MAX_TESTED_GROUP_MEMBERS {
            return Err(
                GroupError::State(GroupStateError::TooManyMembers(state.members().len())).into(),
            );
        }
        let signed = state.sign(self.account.account_id.as_bytes(), &self.account.identity);
        if signed.len() > MAX_GROUP_STATE_ATTACHMENT_BYTES {
            return Err(GroupError::StateTooLarge {
                size: signed.len(),
                limit: MAX_GROUP_STATE_ATTACHMENT_BYTES,
            }
            .into());
        }
        Ok(signed)
    }

    /// Saves a state we signed, with its consequences, and reports the change.
    async fn commit_own_state(
        &self,
        old: Option<&VerifiedGroupState>,
        group: &StoredGroup,
    ) -> Result<(), ClientError> {
        let mut tx = self.store.begin().await?;
        let event = self.commit_state(&mut tx, old, group).await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.emit(event);
        Ok(())
    }

    /// Saves a verified state (in the caller's transaction): records of removed members are
    /// dropped, and our own Sender Key is rotated if someone who held it left (§15.5).
    /// Returns the event to emit once committed.
    pub(crate) async fn commit_state(
        &self,
        tx: &mut SqliteConnection,
        old: Option<&VerifiedGroupState>,
        group: &StoredGroup,
    ) -> Result<Event, ClientError> {
        let new = group.state.state();
        let (added, removed) = match old {
            Some(old) => {
                let rotation = rotation_after(old.state(), new);
                for account in &rotation.removed {
                    let account = String::from_utf8_lossy(account);
                    self.store
                        .forget_group_member(&mut *tx, &group.id, &account)
                        .await?;
                }
                if rotation.must_rotate(self.account.account_id.as_bytes()) || group.left {
                    self.store
                        .rotate_own_sender_key(&mut *tx, &group.id)
                        .await?;
                }
                let added = accounts_not_in(new, old.state());
                (added, accounts_not_in(old.state(), new))
            }
            None => (
                new.members()
                    .iter()
                    .map(|m| String::from_utf8_lossy(m.account()).into_owned())
                    .collect(),
                Vec::new(),
            ),
        };
        self.store.save_group(&mut *tx, group).await?;
        let by = String::from_utf8_lossy(group.state.signer()).into_owned();
        Ok(Event::GroupChanged {
            group_id: group.id.clone(),
            group: new.name().to_owned(),
            by: self.display_name(&mut *tx, &by).await?,
            added: self.display_names(&mut *tx, &added).await?,
            removed: self.display_names(&mut *tx, &removed).await?,
            left: group.left,
        })
    }

    /// Sends the state in force to every member device (and to members `previous` had that
    /// it lacks). A member that cannot be reached is logged; it gets the state with the next
    /// change or from another admin.
    async fn publish(&self, group: &StoredGroup, previous: Option<&GroupState>) {
        let state = group.state.state();
        let signed = group.state.signed_bytes().to_vec();
        let (inline, attached) = if signed.len() > MAX_GROUP_STATE_BYTES {
            match self.upload_state(&group.id, &signed).await {
                Ok(pointer) => (None, Some(pointer)),
                Err(error) => {
                    tracing::warn!(%error, "could not upload a large group state");
                    return;
                }
            }
        } else {
            (Some(signed), None)
        };
        let mut targets: Vec<&Member> = state.members().iter().collect();
        if let Some(previous) = previous {
            targets.extend(
                previous
                    .members()
                    .iter()
                    .filter(|m| state.member(m.account()).is_none()),
            );
        }
        for member in targets {
            let target = target_of(&group.id, member);
            let mut control = control(state.group_id(), inline.clone(), None, false);
            control.state_attachment.clone_from(&attached);
            if let Err(error) = self.send_control(&target, control).await {
                tracing::warn!(%error, "could not send a group state to a member");
            }
        }
    }

    /// Resolves usernames to members (plain role), checking each identity as a send would.
    async fn resolve_new_members(&self, usernames: &[&str]) -> Result<Vec<Member>, ClientError> {
        let mut members = Vec::with_capacity(usernames.len());
        for username in usernames {
            let username = canonical_username(username)?;
            if username == self.account.username {
                continue;
            }
            let info = self
                .relay
                .account(&username)
                .await?
                .ok_or_else(|| ClientError::UnknownUser(username.clone()))?;
            let identity = IdentityKey::from_wire(&info.identity_key.0)?;
            self.check_trust(&Recipient {
                username: &username,
                account_id: &info.account_id,
                identity: &identity,
            })
            .await?;
            members.push(
                Member::new(info.account_id.as_bytes(), identity, Role::Member)
                    .map_err(GroupError::State)?,
            );
        }
        Ok(members)
    }

    /// The account id of a username: ours, a contact's, or the relay's answer.
    async fn account_of(&self, username: &str) -> Result<String, ClientError> {
        let username = canonical_username(username)?;
        if username == self.account.username {
            return Ok(self.account.account_id.clone());
        }
        if let Some(contact) = self.contact(&username).await? {
            return Ok(contact.account_id);
        }
        let info = self.relay.account(&username).await?;
        info.map(|i| i.account_id)
            .ok_or(ClientError::UnknownUser(username))
    }

    /// A member's username if known, else its account id.
    pub(crate) async fn display_name(
        &self,
        tx: &mut SqliteConnection,
        account_id: &str,
    ) -> Result<String, ClientError> {
        if account_id == self.account.account_id {
            return Ok(self.account.username.clone());
        }
        let contact = self.store.contact(tx, account_id).await?;
        Ok(contact.map_or_else(|| account_id.to_owned(), |c| c.username))
    }

    async fn display_names(
        &self,
        tx: &mut SqliteConnection,
        accounts: &[String],
    ) -> Result<Vec<String>, ClientError> {
        let mut names = Vec::with_capacity(accounts.len());
        for account in accounts {
            names.push(self.display_name(&mut *tx, account).await?);
        }
        Ok(names)
    }
}

/// The next version of `state` with this name and these members.
fn next_state(
    state: &GroupState,
    name: &str,
    members: Vec<Member>,
) -> Result<GroupState, ClientError> {
    let version =
        state
            .version()
            .checked_add(1)
            .ok_or(GroupError::State(GroupStateError::Malformed(
                "version overflow",
            )))?;
    Ok(GroupState::new(*state.group_id(), version, name, members).map_err(GroupError::State)?)
}

/// Account ids listed in `a` and not in `b`.
fn accounts_not_in(a: &GroupState, b: &GroupState) -> Vec<String> {
    a.members()
        .iter()
        .filter(|m| b.member(m.account()).is_none())
        .map(|m| String::from_utf8_lossy(m.account()).into_owned())
        .collect()
}

/// Where to send a member's control messages.
pub(crate) fn target_of(group_hex: &str, member: &Member) -> MemberTarget {
    MemberTarget {
        account_id: String::from_utf8_lossy(member.account()).into_owned(),
        identity: member.identity().clone(),
        group_hex: group_hex.to_owned(),
    }
}

/// A control body for `group`.
pub(crate) fn control(
    group: &GroupId,
    state: Option<Vec<u8>>,
    sender_key: Option<Vec<u8>>,
    leave: bool,
) -> GroupControl {
    GroupControl {
        group_id: Base64Bytes(group.as_bytes().to_vec()),
        state: state.map(Base64Bytes),
        state_attachment: None::<AttachmentPointer>,
        sender_key: sender_key.map(Base64Bytes),
        leave,
    }
}
