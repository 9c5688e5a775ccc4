-- Sotto client profile, schema v1 (SQLite). Every `sealed` column is AES-256-GCM under the
-- profile's data key, with the table and the row's key as associated data.

-- How the data key is wrapped: by a passphrase (Argon2id) or by a key file.
CREATE TABLE store_key (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    method      TEXT NOT NULL CHECK (method IN ('passphrase', 'key_file')),
    salt        BLOB,
    m_cost      INTEGER,
    t_cost      INTEGER,
    p_cost      INTEGER,
    wrapped_key BLOB NOT NULL
) STRICT;

-- This device's account: server, credentials and identity (all sealed).
CREATE TABLE account (
    id                 INTEGER PRIMARY KEY CHECK (id = 1),
    sealed             BLOB NOT NULL,
    next_pre_key_id    INTEGER NOT NULL,
    signed_rotated_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE signed_pre_keys (
    key_id     INTEGER PRIMARY KEY,
    created_at INTEGER NOT NULL,
    sealed     BLOB NOT NULL
) STRICT;

CREATE TABLE one_time_pre_keys (
    key_id INTEGER PRIMARY KEY,
    sealed BLOB NOT NULL
) STRICT;

CREATE TABLE kem_pre_keys (
    key_id      INTEGER PRIMARY KEY,
    last_resort INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    sealed      BLOB NOT NULL
) STRICT;

-- Base keys already accepted with a last-resort ML-KEM key (replay protection).
CREATE TABLE last_resort_base_keys (
    key_id   INTEGER NOT NULL,
    base_key BLOB NOT NULL,
    PRIMARY KEY (key_id, base_key)
) STRICT, WITHOUT ROWID;

CREATE TABLE sessions (
    account_id TEXT NOT NULL,
    device_id  INTEGER NOT NULL,
    sealed     BLOB NOT NULL,
    PRIMARY KEY (account_id, device_id)
) STRICT, WITHOUT ROWID;

-- Contacts: sealed username and identity key; trust flags in the clear.
CREATE TABLE contacts (
    account_id       TEXT PRIMARY KEY,
    verified         INTEGER NOT NULL DEFAULT 0,
    identity_changed INTEGER NOT NULL DEFAULT 0,
    sealed           BLOB NOT NULL
) STRICT;

-- History. `direction` 0 incoming, 1 outgoing; `state` 0 pending, 1 sent (stored by the relay).
CREATE TABLE messages (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    peer_account TEXT NOT NULL,
    direction   INTEGER NOT NULL CHECK (direction IN (0, 1)),
    message_id  TEXT NOT NULL,
    state       INTEGER NOT NULL,
    sealed      BLOB NOT NULL,
    UNIQUE (peer_account, direction, message_id)
) STRICT;

-- Encrypted envelopes waiting for the relay's 200, saved with the sessions that made them.
CREATE TABLE outbox (
    message_id        TEXT NOT NULL,
    recipient_account TEXT NOT NULL,
    sealed            BLOB NOT NULL,
    PRIMARY KEY (message_id, recipient_account)
) STRICT, WITHOUT ROWID;
