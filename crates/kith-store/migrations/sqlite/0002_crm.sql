-- CRM records (issue #3). Every tenant row carries org_id; record tables carry
-- the four visibility columns (visibility, owner_id, team_id, created_by)
-- that kith_store::visibility turns into one SQL filter.

ALTER TABLE memberships ADD COLUMN own_records_only BOOLEAN NOT NULL DEFAULT FALSE;
-- Country calling code (no +) for phones written without one; empty: none.
ALTER TABLE workspaces ADD COLUMN phone_country_code TEXT NOT NULL DEFAULT '';

CREATE TABLE companies (
    id BLOB PRIMARY KEY NOT NULL,
    org_id BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    domain TEXT,
    industry TEXT,
    size TEXT,
    address TEXT NOT NULL DEFAULT '{}',
    custom TEXT NOT NULL DEFAULT '{}',
    visibility TEXT NOT NULL,
    owner_id BLOB,
    team_id BLOB,
    created_by BLOB NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE INDEX companies_updated ON companies (org_id, updated_ms, id);
CREATE INDEX companies_owner ON companies (org_id, owner_id, updated_ms);
CREATE INDEX companies_domain ON companies (org_id, domain);

CREATE TABLE contacts (
    id BLOB PRIMARY KEY NOT NULL,
    org_id BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    emails TEXT NOT NULL DEFAULT '[]',
    phones TEXT NOT NULL DEFAULT '[]',
    addresses TEXT NOT NULL DEFAULT '[]',
    social TEXT NOT NULL DEFAULT '{}',
    company_id BLOB REFERENCES companies(id) ON DELETE SET NULL,
    title TEXT,
    birthday TEXT,
    time_zone TEXT,
    source TEXT,
    custom TEXT NOT NULL DEFAULT '{}',
    visibility TEXT NOT NULL,
    owner_id BLOB,
    team_id BLOB,
    created_by BLOB NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE INDEX contacts_updated ON contacts (org_id, updated_ms, id);
CREATE INDEX contacts_owner ON contacts (org_id, owner_id, updated_ms);
CREATE INDEX contacts_company ON contacts (company_id);

-- Normalised e-mails (lower case) and phones (E.164) of each contact: for
-- duplicate detection, inbound matching and import dedupe.
CREATE TABLE contact_handles (
    org_id BLOB NOT NULL,
    contact_id BLOB NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (contact_id, kind, value)
);
CREATE INDEX contact_handles_value ON contact_handles (org_id, kind, value);

CREATE TABLE pipelines (
    id BLOB PRIMARY KEY NOT NULL,
    org_id BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE INDEX pipelines_org ON pipelines (org_id, position);

CREATE TABLE pipeline_stages (
    id BLOB PRIMARY KEY NOT NULL,
    org_id BLOB NOT NULL,
    pipeline_id BLOB NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    probability INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE INDEX pipeline_stages_pipeline ON pipeline_stages (pipeline_id, position);

CREATE TABLE deals (
    id BLOB PRIMARY KEY NOT NULL,
    org_id BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    value_minor INTEGER NOT NULL DEFAULT 0,
    currency TEXT NOT NULL,
    pipeline_id BLOB NOT NULL REFERENCES pipelines(id),
    stage_id BLOB NOT NULL REFERENCES pipeline_stages(id),
    expected_close TEXT,
    company_id BLOB REFERENCES companies(id) ON DELETE SET NULL,
    status TEXT NOT NULL DEFAULT 'open',
    lost_reason TEXT,
    closed_ms INTEGER,
    custom TEXT NOT NULL DEFAULT '{}',
    visibility TEXT NOT NULL,
    owner_id BLOB,
    team_id BLOB,
    created_by BLOB NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE INDEX deals_updated ON deals (org_id, updated_ms, id);
CREATE INDEX deals_board ON deals (org_id, pipeline_id, stage_id, updated_ms);
CREATE INDEX deals_company ON deals (company_id);

CREATE TABLE deal_contacts (
    org_id BLOB NOT NULL,
    deal_id BLOB NOT NULL REFERENCES deals(id) ON DELETE CASCADE,
    contact_id BLOB NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    PRIMARY KEY (deal_id, contact_id)
);
CREATE INDEX deal_contacts_contact ON deal_contacts (contact_id);

CREATE TABLE stage_changes (
    id BLOB PRIMARY KEY NOT NULL,
    org_id BLOB NOT NULL,
    deal_id BLOB NOT NULL REFERENCES deals(id) ON DELETE CASCADE,
    from_stage_id BLOB,
    to_stage_id BLOB NOT NULL,
    actor_id BLOB NOT NULL,
    at_ms INTEGER NOT NULL
);
CREATE INDEX stage_changes_deal ON stage_changes (deal_id, at_ms);

-- Note bodies are sealed (promise 3); search reaches them through blind tokens.
CREATE TABLE notes (
    id BLOB PRIMARY KEY NOT NULL,
    org_id BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    record_type TEXT NOT NULL,
    record_id BLOB NOT NULL,
    body BLOB NOT NULL,
    is_private BOOLEAN NOT NULL DEFAULT FALSE,
    author_id BLOB NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE INDEX notes_record ON notes (org_id, record_type, record_id, created_ms);

CREATE TABLE tasks (
    id BLOB PRIMARY KEY NOT NULL,
    org_id BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    due_ms INTEGER,
    reminder_ms INTEGER,
    reminded_ms INTEGER,
    assignee_id BLOB,
    done_ms INTEGER,
    record_type TEXT,
    record_id BLOB,
    created_by BLOB NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE INDEX tasks_assignee ON tasks (org_id, assignee_id, done_ms, due_ms);
CREATE INDEX tasks_record ON tasks (org_id, record_type, record_id);
CREATE INDEX tasks_reminder ON tasks (reminder_ms);

-- Calls, meetings and e-mails logged by hand; subject and body sealed.
CREATE TABLE activities (
    id BLOB PRIMARY KEY NOT NULL,
    org_id BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    subject BLOB NOT NULL,
    body BLOB,
    occurred_ms INTEGER NOT NULL,
    duration_s INTEGER,
    record_type TEXT NOT NULL,
    record_id BLOB NOT NULL,
    actor_id BLOB NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE INDEX activities_record ON activities (org_id, record_type, record_id);

-- One timeline for every record: each capability appends entries that point
-- at its own rows (kind + ref_id). private_to hides an entry from everyone
-- but one user (a private note).
CREATE TABLE timeline_entries (
    id BLOB PRIMARY KEY NOT NULL,
    org_id BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    record_type TEXT NOT NULL,
    record_id BLOB NOT NULL,
    at_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    ref_id BLOB NOT NULL,
    actor_id BLOB,
    private_to BLOB,
    summary TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX timeline_record ON timeline_entries (org_id, record_type, record_id, at_ms, id);
CREATE INDEX timeline_ref ON timeline_entries (ref_id);

CREATE TABLE tags (
    id BLOB PRIMARY KEY NOT NULL,
    org_id BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    color TEXT NOT NULL DEFAULT 'grey',
    created_ms INTEGER NOT NULL
);
CREATE UNIQUE INDEX tags_name ON tags (org_id, name_key);

CREATE TABLE record_tags (
    org_id BLOB NOT NULL,
    tag_id BLOB NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    record_type TEXT NOT NULL,
    record_id BLOB NOT NULL,
    PRIMARY KEY (tag_id, record_type, record_id)
);
CREATE INDEX record_tags_record ON record_tags (org_id, record_type, record_id);

CREATE TABLE custom_fields (
    id BLOB PRIMARY KEY NOT NULL,
    org_id BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    record_type TEXT NOT NULL,
    key TEXT NOT NULL,
    label TEXT NOT NULL,
    kind TEXT NOT NULL,
    options TEXT NOT NULL DEFAULT '[]',
    required BOOLEAN NOT NULL DEFAULT FALSE,
    position INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE UNIQUE INDEX custom_fields_key ON custom_fields (org_id, record_type, key);

-- Typed copies of custom-field values, one row per value (a multi-select
-- has several), for filtering and sorting; the record's `custom` JSON is
-- what is displayed.
CREATE TABLE custom_values (
    org_id BLOB NOT NULL,
    field_id BLOB NOT NULL REFERENCES custom_fields(id) ON DELETE CASCADE,
    record_id BLOB NOT NULL,
    ord INTEGER NOT NULL,
    text_value TEXT,
    number_value REAL,
    PRIMARY KEY (field_id, record_id, ord)
);
CREATE INDEX custom_values_text ON custom_values (field_id, text_value);
CREATE INDEX custom_values_number ON custom_values (field_id, number_value);
CREATE INDEX custom_values_record ON custom_values (record_id);

-- What global search finds: one row per record (and per note), carrying a
-- copy of its visibility columns so the one visibility filter applies here
-- too. `terms` holds normalised words; for notes, blind tokens only.
CREATE TABLE search_docs (
    doc_id INTEGER PRIMARY KEY,
    org_id BLOB NOT NULL,
    record_type TEXT NOT NULL,
    record_id BLOB NOT NULL,
    parent_type TEXT,
    parent_id BLOB,
    title TEXT NOT NULL,
    terms TEXT NOT NULL,
    visibility TEXT NOT NULL,
    owner_id BLOB,
    team_id BLOB,
    created_by BLOB NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE UNIQUE INDEX search_docs_record ON search_docs (record_id);
CREATE INDEX search_docs_parent ON search_docs (parent_id);

-- FTS5 over search_docs.terms (external content; triggers keep it in step).
-- Tables named fts_* are engine-specific and left out of the lockstep check.
CREATE VIRTUAL TABLE fts_search USING fts5(terms, content='search_docs', content_rowid='doc_id',
    tokenize='unicode61 remove_diacritics 2', prefix='2 3');
CREATE TRIGGER search_docs_ai AFTER INSERT ON search_docs BEGIN
    INSERT INTO fts_search (rowid, terms) VALUES (new.doc_id, new.terms);
END;
CREATE TRIGGER search_docs_ad AFTER DELETE ON search_docs BEGIN
    INSERT INTO fts_search (fts_search, rowid, terms) VALUES ('delete', old.doc_id, old.terms);
END;
CREATE TRIGGER search_docs_au AFTER UPDATE OF terms ON search_docs BEGIN
    INSERT INTO fts_search (fts_search, rowid, terms) VALUES ('delete', old.doc_id, old.terms);
    INSERT INTO fts_search (rowid, terms) VALUES (new.doc_id, new.terms);
END;
