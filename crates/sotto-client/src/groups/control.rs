//! Group control messages received over a pairwise session: a signed state (first or newer),
//! a member device's Sender Key, or a member's request to leave. Applied in the receive's one
//! transaction; anything refused becomes an [`Event::GroupRejected`] and changes nothing.

use sotto_core::IdentityKey;
use sotto_core::group::{
    GroupId, GroupStateError, SenderKeyDistribution, SenderKeyRecord, VerifiedGroupState,
};
use sqlx::SqliteConnection;

use super::hex_id;
use crate::apply::Applied;
use crate::client::{Client, address};
use crate::content::GroupControl;
use crate::error::ClientError;
use crate::events::Event;
use crate::store::StoredGroup;

/// Who sent a control message, authenticated by the pairwise session.
pub(crate) struct ControlSender<'a> {
    pub(crate) account_id: &'a str,
    pub(crate) device_id: u32,
    pub(crate) identity: &'a IdentityKey,
}

/// What applying a control message did.
#[derive(Default)]
pub(crate) struct ControlOutcome {
    pub(crate) applied: Applied,
    /// A member asked us, an admin, to remove it: `(group hex id, account id)`.
    pub(crate) leave_request: Option<(String, String)>,
}

impl Client {
    /// Applies a group control message (in the caller's transaction).
    pub(crate) async fn apply_group_control(
        &self,
        tx: &mut SqliteConnection,
        from: &ControlSender<'_>,
        control: &GroupControl,
    ) -> Result<ControlOutcome, ClientError> {
        let mut outcome = ControlOutcome::default();
        let Some(group_id) = <[u8; 32]>::try_from(control.group_id.0.as_slice())
            .ok()
            .map(GroupId::from_bytes)
        else {
            return Ok(outcome);
        };
        let hex = hex_id(&group_id);
        let mut group = self.store.group(&mut *tx, &hex).await?;
        let reject = |reason: String, outcome: &mut ControlOutcome| {
            outcome.applied.events.push(Event::GroupRejected {
                group_id: Some(hex.clone()),
                sender_account: Some(from.account_id.to_owned()),
                reason,
            });
        };
        if let Some(state) = &control.state {
            match self
                .accept_state(&mut *tx, group.as_ref(), &hex, &state.0)
                .await?
            {
                Ok(Some((updated, event))) => {
                    outcome.applied.events.push(event);
                    group = Some(updated);
                }
                Ok(None) => {}
                Err(error) => reject(format!("group state refused: {error}"), &mut outcome),
            }
        }
        let Some(group) = group.filter(|g| !g.left) else {
            if control.sender_key.is_some() || control.leave {
                reject("control for a group we are not in".to_owned(), &mut outcome);
            }
            return Ok(outcome);
        };
        let sender = address(from.account_id, from.device_id)?;
        if let Err(error) = group.state.admit(&sender, from.identity) {
            if control.sender_key.is_some() || control.leave {
                reject(
                    format!("sender refused by the group state: {error}"),
                    &mut outcome,
                );
            }
            return Ok(outcome);
        }
        if let Some(key) = &control.sender_key {
            let distribution = SenderKeyDistribution::try_from(key.0.as_slice())
                .map_err(|e| e.to_string())
                .and_then(|d| {
                    (*d.group_id() == group_id)
                        .then_some(d)
                        .ok_or_else(|| "sender key for another group".to_owned())
                });
            match distribution {
                Ok(distribution) => {
                    self.store_sender_key(tx, &group, from, &distribution)
                        .await?
                }
                Err(reason) => reject(format!("sender key refused: {reason}"), &mut outcome),
            }
        }
        let own = self.account.account_id.as_bytes();
        if control.leave
            && group
                .state
                .state()
                .member(own)
                .is_some_and(|m| m.is_admin())
        {
            outcome.leave_request = Some((group.id.clone(), from.account_id.to_owned()));
        }
        Ok(outcome)
    }

    /// Verifies a signed state against the one in force (or as the first one). `Ok(None)`:
    /// the state in force again (a resend), ignored.
    async fn accept_state(
        &self,
        tx: &mut SqliteConnection,
        current: Option<&StoredGroup>,
        hex: &str,
        signed: &[u8],
    ) -> Result<Result<Option<(StoredGroup, Event)>, GroupStateError>, ClientError> {
        let verified = match verify(current, hex, signed, self.account.account_id.as_bytes()) {
            Ok(Some(verified)) => verified,
            Ok(None) => return Ok(Ok(None)),
            Err(error) => return Ok(Err(error)),
        };
        let own = self.account.account_id.as_bytes();
        // A member that asked to leave stays out until a state without it arrives, even if
        // an admin signs another change first; one removed and added again is back in.
        let asked_to_leave =
            current.is_some_and(|c| c.left && c.state.state().member(own).is_some());
        let left = verified.state().member(own).is_none() || asked_to_leave;
        let updated = StoredGroup {
            id: hex.to_owned(),
            state: verified,
            left,
        };
        let old = current.map(|c| &c.state);
        let event = self.commit_state(tx, old, &updated).await?;
        Ok(Ok(Some((updated, event))))
    }

    async fn store_sender_key(
        &self,
        tx: &mut SqliteConnection,
        group: &StoredGroup,
        from: &ControlSender<'_>,
        distribution: &SenderKeyDistribution,
    ) -> Result<(), ClientError> {
        let (account, device) = (from.account_id, from.device_id);
        let mut record = match self
            .store
            .sender_key_record(&mut *tx, &group.id, account, device)
            .await?
        {
            Some(record) => record,
            None => {
                SenderKeyRecord::new(*group.state.state().group_id(), address(account, device)?)
            }
        };
        if record.process(distribution).is_ok() {
            self.store
                .save_sender_key_record(tx, &group.id, account, device, &record)
                .await?;
        }
        Ok(())
    }
}

/// Verifies a signed state against the one in force, or as the first one; `Ok(None)` for the
/// state in force sent again.
fn verify(
    current: Option<&StoredGroup>,
    hex: &str,
    signed: &[u8],
    own: &[u8],
) -> Result<Option<VerifiedGroupState>, GroupStateError> {
    let verified = match current {
        None => VerifiedGroupState::verify_initial(signed, own)?,
        Some(current) => match current.state.verify_update(signed) {
            Err(GroupStateError::VersionNotNewer { current, offered }) if current == offered => {
                return Ok(None);
            }
            other => other?,
        },
    };
    if hex_id(verified.state().group_id()) != hex {
        return Err(GroupStateError::UnknownGroup);
    }
    Ok(Some(verified))
}
