-- Sotto relay schema v1 (SQLite). No IP addresses, no message log; days, not times.

CREATE TABLE accounts (
    id           TEXT PRIMARY KEY,            -- 32 hex digits, random
    username     TEXT NOT NULL UNIQUE,        -- canonical lowercase
    identity_key BLOB NOT NULL,
    created_day  TEXT NOT NULL,
    disabled     INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE devices (
    account_id      TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    device_id       INTEGER NOT NULL,
    registration_id INTEGER NOT NULL,
    secret_hash     BLOB NOT NULL,            -- SHA-256 of a 32-byte random secret
    created_day     TEXT NOT NULL,
    last_seen_day   TEXT NOT NULL,
    PRIMARY KEY (account_id, device_id)
) STRICT, WITHOUT ROWID;

-- Signed prekey ('ec') and last-resort KEM prekey ('kem_last_resort'): one of each per device.
CREATE TABLE signed_prekeys (
    account_id TEXT NOT NULL,
    device_id  INTEGER NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('ec', 'kem_last_resort')),
    key_id     INTEGER NOT NULL,
    public_key BLOB NOT NULL,
    signature  BLOB NOT NULL,
    PRIMARY KEY (account_id, device_id, kind),
    FOREIGN KEY (account_id, device_id) REFERENCES devices(account_id, device_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

-- One-time prekeys: 'ec' (unsigned X25519) and 'kem' (signed ML-KEM); each handed out once.
CREATE TABLE one_time_prekeys (
    account_id TEXT NOT NULL,
    device_id  INTEGER NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('ec', 'kem')),
    key_id     INTEGER NOT NULL,
    public_key BLOB NOT NULL,
    signature  BLOB,
    PRIMARY KEY (account_id, device_id, kind, key_id),
    FOREIGN KEY (account_id, device_id) REFERENCES devices(account_id, device_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

-- Per-device queues. `id` orders delivery; an envelope is deleted when acked or expired.
CREATE TABLE mailbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id       TEXT NOT NULL,
    device_id        INTEGER NOT NULL,
    message_id       TEXT NOT NULL,
    sender_account   TEXT,
    sender_device    INTEGER,
    server_timestamp INTEGER NOT NULL,        -- ms; deleted with the envelope
    expires_at       INTEGER NOT NULL,        -- ms
    content          BLOB NOT NULL
) STRICT;
CREATE INDEX mailbox_by_device ON mailbox (account_id, device_id, id);
CREATE INDEX mailbox_by_expiry ON mailbox (expires_at);

-- Message ids already stored per recipient account, so a retry after delivery is not stored
-- again. Kept exactly as long as the envelopes could live.
CREATE TABLE message_ids (
    account_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, message_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX message_ids_by_expiry ON message_ids (expires_at);

-- Registration tokens for closed servers, stored hashed and not linked to the accounts using them.
CREATE TABLE registration_tokens (
    token_hash  BLOB PRIMARY KEY,
    uses_left   INTEGER NOT NULL,
    created_day TEXT NOT NULL
) STRICT, WITHOUT ROWID;
