-- Linking devices (issue 5). Both tables hold rows for minutes: a provisioning channel carries
-- one end-to-end encrypted ciphertext to a new device, a link token lets exactly one new device
-- join an account. Only hashes of their secrets are stored, and no client address.

CREATE TABLE provisioning_channels (
    id          TEXT PRIMARY KEY,             -- random, base64url
    secret_hash BYTEA NOT NULL,               -- SHA-256 of the reader's 32-byte secret
    message     BYTEA,                        -- the ciphertext, once the old device sent it
    expires_at  BIGINT NOT NULL               -- ms
);
CREATE INDEX provisioning_channels_by_expiry ON provisioning_channels (expires_at);

CREATE TABLE link_tokens (
    token_hash BYTEA PRIMARY KEY,             -- SHA-256 of the token
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL                -- ms
);
CREATE INDEX link_tokens_by_expiry ON link_tokens (expires_at);
