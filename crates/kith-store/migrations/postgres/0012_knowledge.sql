-- The knowledge base of the AI assistant (issue #5 §4); see the SQLite
-- file for what each column means. The business's own published content,
-- not customer data: stored in clear.

CREATE TABLE knowledge_entries (
    id UUID PRIMARY KEY NOT NULL,
    org_id UUID NOT NULL,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    source_name TEXT,
    content_type TEXT,
    urls TEXT,
    page_limit BIGINT,
    status TEXT NOT NULL,
    error TEXT,
    progress_done BIGINT NOT NULL DEFAULT 0,
    progress_total BIGINT NOT NULL DEFAULT 0,
    chunk_count BIGINT NOT NULL DEFAULT 0,
    report TEXT,
    created_by UUID NOT NULL,
    version BIGINT NOT NULL,
    indexed_version BIGINT NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX knowledge_entries_list ON knowledge_entries (org_id, created_ms, id);
CREATE INDEX knowledge_entries_kind ON knowledge_entries (org_id, kind, created_ms, id);

-- The English configuration stems like FTS5's porter tokenizer on SQLite
-- and drops English stop words; the title weighs more than the text.
-- Accents are folded with translate() (what FTS5's remove_diacritics does,
-- and what the application does to query words), since the unaccent
-- extension cannot be assumed.
CREATE TABLE knowledge_chunks (
    doc_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id UUID NOT NULL,
    org_id UUID NOT NULL,
    entry_id UUID NOT NULL REFERENCES knowledge_entries(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    url TEXT,
    embedding BYTEA,
    embedding_model TEXT,
    created_ms BIGINT NOT NULL,
    fts_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', translate(lower(title), 'àáâãäåāăąçćčďèéêëēėęěìíîïīįñńňòóôõöøōőùúûüūůűýÿśšźżžłřť', 'aaaaaaaaacccdeeeeeeeeiiiiiinnnoooooooouuuuuuuyysszzzlrt')), 'A') ||
        setweight(to_tsvector('english', translate(lower(text), 'àáâãäåāăąçćčďèéêëēėęěìíîïīįñńňòóôõöøōőùúûüūůűýÿśšźżžłřť', 'aaaaaaaaacccdeeeeeeeeiiiiiinnnoooooooouuuuuuuyysszzzlrt')), 'B')) STORED
);
CREATE UNIQUE INDEX knowledge_chunks_id ON knowledge_chunks (id);
CREATE INDEX knowledge_chunks_entry ON knowledge_chunks (entry_id, seq);
CREATE INDEX knowledge_chunks_org ON knowledge_chunks (org_id, doc_id);
CREATE INDEX knowledge_chunks_fts ON knowledge_chunks USING GIN (fts_vector);
