-- Schema v2: message features. `state` now also takes 2 (delivered) and 3 (read); for incoming
-- messages 2 means "not yet read here" and 3 "read". `expires_at` (ms since the epoch) is set
-- for disappearing messages: a sweep deletes every row whose time has come.
ALTER TABLE messages ADD COLUMN expires_at INTEGER;
CREATE INDEX messages_expiry ON messages (expires_at) WHERE expires_at IS NOT NULL;

-- Per-conversation settings agreed end-to-end: the disappearing-message timer in seconds
-- (0: off) and the sender's time of the change that set it (the latest change wins).
CREATE TABLE conversations (
    peer_account   TEXT PRIMARY KEY,
    expire_timer   INTEGER NOT NULL,
    timer_set_at   INTEGER NOT NULL
) STRICT;

-- Messages that leave no history row (receipts, reactions, edits, …), remembered for the
-- relay's 30-day queue lifetime so a redelivery is acked without being decrypted again.
CREATE TABLE processed (
    sender_account TEXT NOT NULL,
    message_id     TEXT NOT NULL,
    seen_at        INTEGER NOT NULL,
    PRIMARY KEY (sender_account, message_id)
) STRICT, WITHOUT ROWID;
