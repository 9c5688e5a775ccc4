//! Trust on first use, and what happens when a contact's identity key changes.

use sotto_core::IdentityKey;
use sqlx::SqliteConnection;

use crate::error::ClientError;
use crate::store::{Contact, Store};

/// What [`observe`] found.
pub(crate) struct Observation {
    /// The contact as now stored.
    pub(crate) contact: Contact,
    /// Its identity differs from the one stored before (the caller emits an event).
    pub(crate) changed: bool,
    /// It was verified before the change.
    pub(crate) was_verified: bool,
}

/// Records that `username` is `account_id` with `identity`, in the caller's transaction.
///
/// A new contact is trusted on first use. A different identity for a known account, or a known
/// username now held by another account (re-registration), marks the contact changed; the
/// verified flag is kept so that sending stays refused until the user accepts the change.
pub(crate) async fn observe(
    store: &Store,
    conn: &mut SqliteConnection,
    username: &str,
    account_id: &str,
    identity: &IdentityKey,
) -> Result<Observation, ClientError> {
    let known = match store.contact(&mut *conn, account_id).await? {
        Some(contact) => Some(contact),
        None => store.contact_named(&mut *conn, username).await?,
    };
    let Some(known) = known else {
        let contact = Contact {
            account_id: account_id.to_owned(),
            username: username.to_owned(),
            identity: identity.clone(),
            verified: false,
            identity_changed: false,
        };
        store.save_contact(&mut *conn, &contact).await?;
        return Ok(Observation {
            contact,
            changed: false,
            was_verified: false,
        });
    };
    let changed = known.identity != *identity;
    if known.account_id != account_id {
        store.delete_contact(&mut *conn, &known.account_id).await?;
        store
            .move_history(&mut *conn, &known.account_id, account_id)
            .await?;
    }
    let contact = Contact {
        account_id: account_id.to_owned(),
        username: username.to_owned(),
        identity: identity.clone(),
        verified: known.verified,
        identity_changed: known.identity_changed || changed,
    };
    if changed || known.account_id != account_id || known.username != username {
        store.save_contact(&mut *conn, &contact).await?;
    }
    Ok(Observation {
        contact,
        changed,
        was_verified: known.verified,
    })
}

/// Refuses to send to a verified contact whose identity changed and was not accepted.
pub(crate) fn ensure_trusted(contact: &Contact) -> Result<(), ClientError> {
    if contact.verified && contact.identity_changed {
        return Err(ClientError::UntrustedIdentity {
            username: contact.username.clone(),
        });
    }
    Ok(())
}
