-- E-mail channels (issue #4 §6).

-- Where the IMAP poller of each e-mail channel stands: the mailbox's
-- UIDVALIDITY and the last UID stored (advanced in the transaction that
-- stores the fetched messages), and a lease so that one node polls a
-- mailbox at a time. uid_validity 0: never synchronised.
CREATE TABLE email_mailboxes (
    channel_id BLOB PRIMARY KEY NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    org_id BLOB NOT NULL,
    uid_validity INTEGER NOT NULL DEFAULT 0,
    last_uid INTEGER NOT NULL DEFAULT 0,
    lease_owner BLOB,
    lease_until_ms INTEGER NOT NULL DEFAULT 0,
    last_poll_ms INTEGER,
    last_error TEXT,
    updated_ms INTEGER NOT NULL
);

-- The e-mail parts of a message that the messages table has no place for:
-- sealed JSON of subject, Message-ID, In-Reply-To, References, sanitised
-- HTML and the attachment list (name, type, size; no bytes are kept — Kith
-- has no object storage yet).
CREATE TABLE email_messages (
    message_id BLOB PRIMARY KEY NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    org_id BLOB NOT NULL,
    parts BLOB NOT NULL
);
