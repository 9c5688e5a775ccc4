//! Contacts: username and identity key sealed; trust flags in the clear.
//!
//! Lookups by username decrypt every contact: address books are small, and no username is
//! stored in a form that could be matched without the data key.

use sotto_core::IdentityKey;
use sqlx::SqliteConnection;

use super::Store;
use super::fields::{FieldReader, FieldWriter};
use crate::error::StoreError;

const TABLE: &str = "contacts";

/// Someone this profile has written to or heard from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contact {
    /// The relay's account id.
    pub account_id: String,
    /// Their username.
    pub username: String,
    /// The identity key last seen for them.
    pub identity: IdentityKey,
    /// The user compared safety numbers and marked this identity verified.
    pub verified: bool,
    /// The identity changed since the user last accepted it.
    pub identity_changed: bool,
}

type ContactRow = (String, bool, bool, Vec<u8>);

impl Store {
    /// Every contact.
    pub(crate) async fn contacts(
        &self,
        conn: &mut SqliteConnection,
    ) -> Result<Vec<Contact>, StoreError> {
        let rows: Vec<ContactRow> =
            sqlx::query_as("SELECT account_id, verified, identity_changed, sealed FROM contacts")
                .fetch_all(conn)
                .await?;
        let mut contacts = rows
            .into_iter()
            .map(|row| self.contact_from_row(row))
            .collect::<Result<Vec<_>, _>>()?;
        contacts.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(contacts)
    }

    fn contact_from_row(
        &self,
        (account_id, verified, changed, sealed): ContactRow,
    ) -> Result<Contact, StoreError> {
        let plain = self.key.open(TABLE, &account_id, &sealed)?;
        let mut r = FieldReader::new(&plain);
        let username = r.string()?;
        let identity = IdentityKey::from_wire(r.bytes()?)
            .map_err(|_| StoreError::Corrupt("contact identity"))?;
        Ok(Contact {
            account_id,
            username,
            identity,
            verified,
            identity_changed: changed,
        })
    }

    /// The contact with this username.
    pub(crate) async fn contact_named(
        &self,
        conn: &mut SqliteConnection,
        username: &str,
    ) -> Result<Option<Contact>, StoreError> {
        let contacts = self.contacts(conn).await?;
        Ok(contacts.into_iter().find(|c| c.username == username))
    }

    /// The contact with this account id.
    pub(crate) async fn contact(
        &self,
        conn: &mut SqliteConnection,
        account_id: &str,
    ) -> Result<Option<Contact>, StoreError> {
        let row: Option<ContactRow> = sqlx::query_as(
            "SELECT account_id, verified, identity_changed, sealed FROM contacts WHERE account_id = ?",
        )
        .bind(account_id)
        .fetch_optional(conn)
        .await?;
        row.map(|row| self.contact_from_row(row)).transpose()
    }

    /// Inserts or replaces a contact.
    pub(crate) async fn save_contact(
        &self,
        conn: &mut SqliteConnection,
        contact: &Contact,
    ) -> Result<(), StoreError> {
        let plain = FieldWriter::default()
            .bytes(contact.username.as_bytes())
            .bytes(&contact.identity.encode())
            .finish();
        let sealed = self.key.seal(TABLE, &contact.account_id, &plain)?;
        sqlx::query(
            "INSERT INTO contacts (account_id, verified, identity_changed, sealed) VALUES (?, ?, ?, ?) \
             ON CONFLICT (account_id) DO UPDATE SET verified = excluded.verified, \
             identity_changed = excluded.identity_changed, sealed = excluded.sealed",
        )
        .bind(&contact.account_id)
        .bind(contact.verified)
        .bind(contact.identity_changed)
        .bind(sealed)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Removes a contact (its username now belongs to another account).
    pub(crate) async fn delete_contact(
        &self,
        conn: &mut SqliteConnection,
        account_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM contacts WHERE account_id = ?")
            .bind(account_id)
            .execute(conn)
            .await?;
        Ok(())
    }
}
