-- Schema v3: attachment uploads in progress, so an interrupted upload resumes instead of
-- starting over. `sealed` holds the file's path, size and modification time, the attachment
-- key and the relay's blob id (the relay's own offset says how far the upload got). `row_id`
-- is random: nothing about the file is stored in the clear. A row is deleted once its upload
-- completes.
CREATE TABLE uploads (
    row_id  TEXT PRIMARY KEY,
    sealed  BLOB NOT NULL
) STRICT;
