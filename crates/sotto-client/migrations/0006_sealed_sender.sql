-- Sealed sender (issue 7). One row: the relay's trust root pinned at registration (or on first
-- use by a profile made before), the revoked server key ids, whether this account's access key
-- was handed to the relay, and the last sender certificate. Then the access keys contacts
-- shared with us, one row per account. All sealed.
CREATE TABLE sealed_sender (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    sealed BLOB NOT NULL
) STRICT;

CREATE TABLE access_keys (
    account_id TEXT PRIMARY KEY,
    sealed     BLOB NOT NULL               -- the 16-byte key
) STRICT, WITHOUT ROWID;
