-- Sealed sender: who may send envelopes whose sender the relay does not learn. The account's
-- 16-byte access key is kept only as its SHA-256 (NULL: none set, only unrestricted delivery
-- or none); `sealed_unrestricted` accepts sealed envelopes from anyone, with or without it.

ALTER TABLE accounts ADD COLUMN access_key_hash BLOB;
ALTER TABLE accounts ADD COLUMN sealed_unrestricted INTEGER NOT NULL DEFAULT 0;
