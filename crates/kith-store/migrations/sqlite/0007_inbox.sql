-- Omnichannel inbox (issue #4): channels, the raw inbound event log,
-- conversations, messages, per-user read state, labels, and the consent
-- ledger. Credentials, raw events and message bodies are sealed (promise 3).

-- A connected channel. `config` is the sealed JSON of every setting and
-- credential; `public_config` holds the non-secret settings the API shows,
-- `secrets_set` the names of the secrets that are set. Disconnecting wipes
-- `config` (promise 4) and sets `deleted_ms`; the row stays so that its
-- conversations keep their channel. `route_key` is the id Meta batches
-- address an entry to (WhatsApp phone_number_id, page id, Instagram
-- account id); NULL for the other kinds.
CREATE TABLE channels (
    id BLOB PRIMARY KEY NOT NULL,
    org_id BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    config BLOB,
    public_config TEXT NOT NULL DEFAULT '{}',
    secrets_set TEXT NOT NULL DEFAULT '[]',
    route_key TEXT,
    ai_mode TEXT NOT NULL DEFAULT 'off',
    status TEXT NOT NULL DEFAULT 'active',
    created_by BLOB NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    deleted_ms INTEGER
);
CREATE INDEX channels_org ON channels (org_id, created_ms);
CREATE UNIQUE INDEX channels_route ON channels (org_id, route_key) WHERE route_key IS NOT NULL AND deleted_ms IS NULL;

-- Every event a provider delivered, stored (sealed, provider-neutral JSON)
-- before the provider is answered; one `inbox.process` job per row. The
-- unique key makes a redelivery a no-op.
CREATE TABLE inbound_events (
    id BLOB PRIMARY KEY NOT NULL,
    org_id BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    channel_id BLOB NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    provider_event_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload BLOB NOT NULL,
    received_ms INTEGER NOT NULL,
    processed_ms INTEGER,
    error TEXT
);
CREATE UNIQUE INDEX inbound_events_dedupe ON inbound_events (channel_id, provider_event_id);
CREATE INDEX inbound_events_org ON inbound_events (org_id, received_ms);
-- Per-channel health: the newest event of a channel.
CREATE INDEX inbound_events_channel ON inbound_events (channel_id, received_ms);

-- Channel user ids (Telegram, Viber, Messenger, Instagram ids) of contacts,
-- kept apart from contact_handles (which the CRM rewrites from a contact's
-- e-mails and phones on every edit). Phones and e-mails from channels are
-- matched through contact_handles.
CREATE TABLE contact_channel_ids (
    org_id BLOB NOT NULL,
    contact_id BLOB NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (contact_id, kind, value)
);
CREATE INDEX contact_channel_ids_value ON contact_channel_ids (org_id, kind, value);

-- One thread with one contact on one channel. At most one conversation per
-- (channel, contact) is not resolved: a message after resolution starts a
-- new one. `last_inbound_ms` against conversation_reads gives unread state.
-- `peer` is the contact's address on the channel (E.164 number, wa_id, PSID,
-- Telegram chat id, Viber user id): where replies go.
CREATE TABLE conversations (
    id BLOB PRIMARY KEY NOT NULL,
    org_id BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    channel_id BLOB NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    contact_id BLOB NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    peer TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    snoozed_until_ms INTEGER,
    assignee_user_id BLOB,
    assignee_team_id BLOB,
    last_message_ms INTEGER NOT NULL,
    last_inbound_ms INTEGER,
    version INTEGER NOT NULL DEFAULT 1,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE UNIQUE INDEX conversations_current ON conversations (channel_id, contact_id) WHERE status <> 'resolved';
CREATE INDEX conversations_recent ON conversations (org_id, last_message_ms, id);
CREATE INDEX conversations_status ON conversations (org_id, status, last_message_ms, id);
CREATE INDEX conversations_assignee ON conversations (org_id, assignee_user_id, last_message_ms, id);
CREATE INDEX conversations_contact ON conversations (contact_id);

CREATE TABLE conversation_labels (
    org_id BLOB NOT NULL,
    conversation_id BLOB NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    PRIMARY KEY (conversation_id, label)
);
CREATE INDEX conversation_labels_label ON conversation_labels (org_id, label, conversation_id);

CREATE TABLE conversation_reads (
    conversation_id BLOB NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    user_id BLOB NOT NULL,
    last_read_ms INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
);

-- Messages in and out, and private notes (kind = 'note'). Bodies and media
-- references are sealed. A provider message id is unique per channel.
-- `state`: received (inbound), queued, sent, delivered, read, failed.
CREATE TABLE messages (
    id BLOB PRIMARY KEY NOT NULL,
    org_id BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    conversation_id BLOB NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    channel_id BLOB NOT NULL,
    direction TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'message',
    body BLOB NOT NULL,
    media BLOB,
    mentions TEXT NOT NULL DEFAULT '[]',
    author_user_id BLOB,
    provider_message_id TEXT,
    state TEXT NOT NULL,
    error_code TEXT,
    error_message TEXT,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    sent_ms INTEGER
);
CREATE UNIQUE INDEX messages_provider_id ON messages (channel_id, provider_message_id) WHERE provider_message_id IS NOT NULL;
CREATE INDEX messages_conversation ON messages (conversation_id, created_ms, id);

-- Status callbacks that arrived before their message; applied (and removed)
-- when the message appears. One row per message: the furthest state.
CREATE TABLE pending_statuses (
    channel_id BLOB NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    provider_message_id TEXT NOT NULL,
    org_id BLOB NOT NULL,
    state TEXT NOT NULL,
    error_code TEXT,
    error_message TEXT,
    at_ms INTEGER NOT NULL,
    PRIMARY KEY (channel_id, provider_message_id)
);

-- The consent ledger (TCPA): append-only opt-ins and opt-outs per contact
-- and channel kind. The current state is the newest row.
CREATE TABLE consent_events (
    id BLOB PRIMARY KEY NOT NULL,
    org_id BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    contact_id BLOB NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    channel_kind TEXT NOT NULL,
    channel_id BLOB,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    message_id BLOB,
    actor_id BLOB,
    at_ms INTEGER NOT NULL
);
CREATE INDEX consent_events_contact ON consent_events (org_id, contact_id, channel_kind, at_ms, id);
