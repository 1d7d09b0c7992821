-- Outbound sending (issue #4 §4, §5, §8): rate-limit slots per sender,
-- the send details of outbound messages, and canned responses.

-- One row per rate-limited sender (scope '') and, where a provider limits
-- sends to one person (WhatsApp: 1 per 6 s), per recipient ('to:<peer>').
-- `next_ms`: the earliest time the next send may go (claimed, and pushed
-- back by a provider's 429, in the send job's transaction). `tail_ms`: the
-- last slot handed to a send that waits, so waiting sends line up one
-- interval apart instead of all waking at once.
CREATE TABLE send_slots (
    channel_id BLOB NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    org_id BLOB NOT NULL,
    next_ms INTEGER NOT NULL,
    tail_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (channel_id, scope)
);

-- What an outbound message needs beyond its row in `messages`: who or what
-- sent it (`manual`, `automated`, `bulk`: quiet hours hold the latter two),
-- the sealed WhatsApp template, the canned response it came from, the
-- rate-limit slot it holds, until when quiet hours hold it, and how often a
-- provider throttled it.
CREATE TABLE outbound_messages (
    message_id BLOB PRIMARY KEY NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    org_id BLOB NOT NULL,
    origin TEXT NOT NULL DEFAULT 'manual',
    template BLOB,
    canned_response_id BLOB,
    slot_ms INTEGER,
    hold_until_ms INTEGER,
    throttled INTEGER NOT NULL DEFAULT 0
);

-- Failed sends and the error rate of a channel: its outbound messages by time.
CREATE INDEX messages_channel_out ON messages (channel_id, created_ms) WHERE direction = 'out';

-- Canned responses: workspace-wide reply texts with {{variables}}.
CREATE TABLE canned_responses (
    id BLOB PRIMARY KEY NOT NULL,
    org_id BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    created_by BLOB,
    version INTEGER NOT NULL DEFAULT 1,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE UNIQUE INDEX canned_responses_name ON canned_responses (org_id, lower(name));
