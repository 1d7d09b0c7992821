-- Attachments (issue #4 §4, §6): files of inbox messages, kept in the
-- object store under `object_key` (org/<org_id>/conv/<conversation_id>/<id>).
-- `name` is sealed. An outbound upload has no message until it is sent
-- with one (message_id NULL); `part` orders a message's attachments and
-- makes an inbound media fetch idempotent (one row per message and part).
CREATE TABLE attachments (
    id UUID PRIMARY KEY NOT NULL,
    org_id UUID NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    conversation_id UUID NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    message_id UUID REFERENCES messages(id) ON DELETE CASCADE,
    part BIGINT NOT NULL DEFAULT 0,
    direction TEXT NOT NULL,
    name BYTEA NOT NULL,
    content_type TEXT NOT NULL,
    byte_size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    object_key TEXT NOT NULL,
    uploaded_by UUID,
    created_ms BIGINT NOT NULL
);
CREATE UNIQUE INDEX attachments_message_part ON attachments (message_id, part);
CREATE INDEX attachments_conversation ON attachments (org_id, conversation_id, created_ms);
