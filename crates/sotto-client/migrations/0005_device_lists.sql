-- Linked devices (issue 5): the devices last seen for each account we send to, so that a
-- change (a device added, removed or re-linked) is shown to the user and stale sessions are
-- replaced. Numbered 0005 to leave 0004 to the group-chat schema developed alongside.
CREATE TABLE device_lists (
    account_id TEXT PRIMARY KEY,
    sealed     BLOB NOT NULL               -- (device id, registration id) pairs
) STRICT, WITHOUT ROWID;
