-- Schema v4: groups. Every `sealed` column is AES-256-GCM under the data key, like the others.
-- `group_id` is the group's random 32-byte id in hex: it says nothing about the group.

-- The verified, admin-signed state in force (`sealed`: the stored VerifiedGroupState record,
-- §15.7 of docs/protocol.md). `left_group` is 1 once we left or were removed: the state stays
-- for the history, nothing is sent or accepted any more.
CREATE TABLE groups (
    group_id   TEXT PRIMARY KEY,
    left_group INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL,
    sealed     BLOB NOT NULL
) STRICT;

-- This device's own Sender Key per group (secret). Deleted to rotate: the next send makes a
-- new one.
CREATE TABLE own_sender_keys (
    group_id TEXT PRIMARY KEY REFERENCES groups (group_id) ON DELETE CASCADE,
    sealed   BLOB NOT NULL
) STRICT;

-- Sender Key records of the other member devices (secret), per (group, sender device).
CREATE TABLE sender_key_records (
    group_id   TEXT NOT NULL REFERENCES groups (group_id) ON DELETE CASCADE,
    account_id TEXT NOT NULL,
    device_id  INTEGER NOT NULL,
    sealed     BLOB NOT NULL,
    PRIMARY KEY (group_id, account_id, device_id)
) STRICT, WITHOUT ROWID;

-- Which member devices already hold our current Sender Key (its chain id): the others get a
-- distribution before our next group message.
CREATE TABLE sender_key_shared (
    group_id   TEXT NOT NULL REFERENCES groups (group_id) ON DELETE CASCADE,
    account_id TEXT NOT NULL,
    device_id  INTEGER NOT NULL,
    chain_id   INTEGER NOT NULL,
    PRIMARY KEY (group_id, account_id, device_id)
) STRICT, WITHOUT ROWID;
