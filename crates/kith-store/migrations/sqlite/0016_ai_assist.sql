-- The AI assistant's on-demand features, finished (issue #5 §6, §7):
-- stored speech with its retention, the cache of contact-profile vectors
-- for related contacts, and the index of the admins' list of calls.

-- One row per stored speech file (its audio sits in file_chunks under the
-- same id). Only `created_by` may fetch or delete it; a scheduled job
-- deletes files older than the retention (30 days). `source_type`/
-- `source_id`: what was spoken (`text`; `contact` or `knowledge` for a
-- summary).
CREATE TABLE ai_speech_files (
    id BLOB PRIMARY KEY NOT NULL,
    org_id BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    created_by BLOB NOT NULL,
    source_type TEXT NOT NULL,
    source_id BLOB,
    content_type TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    call_id BLOB,
    created_ms INTEGER NOT NULL
);
CREATE INDEX ai_speech_files_created ON ai_speech_files (created_ms);
CREATE INDEX ai_speech_files_owner ON ai_speech_files (org_id, created_by, created_ms);

-- The embedding of a contact's short profile (title, company, tags, e-mail
-- domain; never the name), per embedding model. `fingerprint`: a keyed hash
-- of the profile text it was made from; a different profile (the contact
-- or its company changed) makes the row stale and it is made again.
-- `vector`: little-endian f32.
CREATE TABLE ai_contact_vectors (
    org_id BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    contact_id BLOB NOT NULL,
    model TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    vector BLOB NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (org_id, contact_id)
);

-- The admins' list of calls filtered by feature, newest first.
CREATE INDEX ai_calls_org_feature_created ON ai_calls (org_id, feature, created_ms);
