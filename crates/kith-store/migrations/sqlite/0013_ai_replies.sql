-- Automatic replies (issue #5 §5): what the assistant did about each
-- inbound message in a channel whose AI mode is `suggest` or `auto`.
--
-- One row per inbound message (the unique index makes a re-run of the job
-- a no-op): the outcome (`replied`, `suggested`, `handoff`, `skipped`), why
-- (`answered`, `faq_match`, `no_passages`, `low_confidence`,
-- `model_declined`, `asked_for_human`, `closed_hours`, `limit_reached`,
-- `provider_failed`, `opted_out`, `streak`, `paused`, `feature_off`, …),
-- the reply or handoff message sent, the sealed draft of a suggestion, the
-- passages cited (JSON list of {chunk_id, entry_id, title}), the metered
-- call, and the time spent outside the model.
CREATE TABLE ai_replies (
    id BLOB PRIMARY KEY NOT NULL,
    org_id BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    conversation_id BLOB NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    inbound_message_id BLOB NOT NULL,
    mode TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL,
    reply_message_id BLOB,
    draft BLOB,
    citations TEXT NOT NULL DEFAULT '[]',
    confidence REAL,
    call_id BLOB,
    overhead_ms INTEGER NOT NULL DEFAULT 0,
    model_ms INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL
);
CREATE UNIQUE INDEX ai_replies_inbound ON ai_replies (inbound_message_id);
CREATE INDEX ai_replies_conversation ON ai_replies (conversation_id, created_ms);

-- After a handoff the assistant stays quiet in the conversation until a
-- member resumes it or the conversation is resolved.
ALTER TABLE conversations ADD COLUMN ai_paused_ms INTEGER;
