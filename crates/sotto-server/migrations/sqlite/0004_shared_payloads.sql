-- Multi-recipient sends (issue 5): one ciphertext stored once for every device it goes to.
-- Each device's mailbox row references it through `payload_id` (its own `content` is then
-- empty); `refs` counts those rows, and the trigger below deletes the payload with the last
-- one, whether it was acknowledged or expired. No foreign key: SQLite would check for
-- referencing rows with a scan of the mailbox on every payload deletion.

CREATE TABLE shared_payloads (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    refs       INTEGER NOT NULL,              -- mailbox rows referencing it
    expires_at INTEGER NOT NULL,              -- ms; the same as its mailbox rows
    content    BLOB NOT NULL
) STRICT;
CREATE INDEX shared_payloads_by_expiry ON shared_payloads (expires_at);

ALTER TABLE mailbox ADD COLUMN payload_id INTEGER;

CREATE TRIGGER mailbox_releases_payload AFTER DELETE ON mailbox
WHEN OLD.payload_id IS NOT NULL
BEGIN
    UPDATE shared_payloads SET refs = refs - 1 WHERE id = OLD.payload_id;
    DELETE FROM shared_payloads WHERE id = OLD.payload_id AND refs <= 0;
END;
