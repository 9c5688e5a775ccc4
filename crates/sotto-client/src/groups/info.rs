//! What front ends see of a group, and how they name one.

use sotto_core::group::Role;

use crate::client::Client;
use crate::error::ClientError;
use crate::store::StoredGroup;

use super::error::GroupError;

/// A group as this device knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupInfo {
    /// The group id (64 hex digits).
    pub id: String,
    /// Its name.
    pub name: String,
    /// The version of the admin-signed state in force.
    pub version: u64,
    /// Its members, sorted by account id.
    pub members: Vec<GroupMemberInfo>,
    /// We left or were removed: nothing is sent or accepted any more.
    pub left: bool,
}

/// One member of a group.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupMemberInfo {
    /// The relay's account id.
    pub account_id: String,
    /// Their username, if this device knows it (a contact), else `None`.
    pub username: Option<String>,
    /// May change the group.
    pub admin: bool,
}

impl GroupInfo {
    /// Whether `account_id` is an admin.
    pub fn is_admin(&self, account_id: &str) -> bool {
        self.members
            .iter()
            .any(|m| m.admin && m.account_id == account_id)
    }

    /// The name to show for a member: username, else account id.
    pub fn member_name(&self, account_id: &str) -> String {
        self.members
            .iter()
            .find(|m| m.account_id == account_id)
            .and_then(|m| m.username.clone())
            .unwrap_or_else(|| account_id.to_owned())
    }
}

impl Client {
    /// Every group this device knows, the latest changed first.
    ///
    /// # Errors
    /// A store failure.
    pub async fn groups(&self) -> Result<Vec<GroupInfo>, ClientError> {
        let stored = {
            let mut tx = self.store.begin().await?;
            self.store.groups(&mut tx).await?
        };
        let mut out = Vec::with_capacity(stored.len());
        for group in &stored {
            out.push(self.group_info(group).await?);
        }
        Ok(out)
    }

    /// The group named `selector`: its exact name, or a prefix of its hex id.
    ///
    /// # Errors
    /// [`GroupError::Unknown`], [`GroupError::Ambiguous`]; a store failure.
    pub async fn group(&self, selector: &str) -> Result<GroupInfo, ClientError> {
        let group = self.find_group(selector).await?;
        self.group_info(&group).await
    }

    /// The stored group named `selector` (name or id prefix).
    pub(crate) async fn find_group(&self, selector: &str) -> Result<StoredGroup, ClientError> {
        let all = {
            let mut tx = self.store.begin().await?;
            self.store.groups(&mut tx).await?
        };
        let selector_lower = selector.to_lowercase();
        let by_name: Vec<&StoredGroup> = all
            .iter()
            .filter(|g| g.state.state().name() == selector)
            .collect();
        let by_id: Vec<&StoredGroup> = all
            .iter()
            .filter(|g| selector.len() >= 4 && g.id.starts_with(&selector_lower))
            .collect();
        let found = if by_name.is_empty() { by_id } else { by_name };
        match found.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(GroupError::Unknown(selector.to_owned()).into()),
            _ => Err(GroupError::Ambiguous(selector.to_owned()).into()),
        }
    }

    pub(crate) async fn group_info(&self, group: &StoredGroup) -> Result<GroupInfo, ClientError> {
        let state = group.state.state();
        let mut members = Vec::with_capacity(state.members().len());
        let mut tx = self.store.begin().await?;
        for member in state.members() {
            let account_id = String::from_utf8_lossy(member.account()).into_owned();
            let username = if account_id == self.account.account_id {
                Some(self.account.username.clone())
            } else {
                self.store
                    .contact(&mut tx, &account_id)
                    .await?
                    .map(|c| c.username)
            };
            members.push(GroupMemberInfo {
                account_id,
                username,
                admin: member.role() == Role::Admin,
            });
        }
        Ok(GroupInfo {
            id: group.id.clone(),
            name: state.name().to_owned(),
            version: state.version(),
            members,
            left: group.left,
        })
    }
}
