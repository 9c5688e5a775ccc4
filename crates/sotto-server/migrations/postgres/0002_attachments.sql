-- Attachments (issue 8): the relay keeps opaque blobs and, for each, only what it needs to
-- enforce quotas, resume uploads and expire it. The expiry is a day, not a time.

CREATE TABLE attachments (
    id          TEXT PRIMARY KEY,             -- 32 characters of base64url, random
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    size        BIGINT NOT NULL,              -- announced blob size in bytes
    received    BIGINT NOT NULL DEFAULT 0,    -- bytes durable so far
    complete    BOOLEAN NOT NULL DEFAULT FALSE,
    expires_day TEXT NOT NULL                 -- last day kept (YYYY-MM-DD, UTC)
);

CREATE INDEX attachments_by_account ON attachments (account_id);
CREATE INDEX attachments_by_expiry ON attachments (expires_day);
