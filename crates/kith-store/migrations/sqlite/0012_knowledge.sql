-- The knowledge base of the AI assistant (issue #5 §4): what a business
-- teaches Kith (FAQs, offers, texts, uploaded documents, imported
-- websites), cut into overlapping chunks that retrieval ranks with the
-- engine's full-text index.
--
-- This is the business's own published content, not customer data, so it
-- is stored in clear (and indexed as words, not blind tokens).

-- One row per thing the business added. `title`/`body`: an FAQ's question
-- and answer, an offer's or a text's title and body, a document's file name
-- and extracted text, a website's first URL and nothing (its pages are
-- fetched again on every index). `status`: queued, indexing, ready or
-- failed (`error` says why); `progress_done`/`progress_total` count steps of
-- the running job (pages for a website, chunks otherwise). `report`: JSON
-- list of per-page problems of a website import. `indexed_version`: the
-- version the chunks were made from.
CREATE TABLE knowledge_entries (
    id BLOB PRIMARY KEY NOT NULL,
    org_id BLOB NOT NULL,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    source_name TEXT,
    content_type TEXT,
    urls TEXT,
    page_limit INTEGER,
    status TEXT NOT NULL,
    error TEXT,
    progress_done INTEGER NOT NULL DEFAULT 0,
    progress_total INTEGER NOT NULL DEFAULT 0,
    chunk_count INTEGER NOT NULL DEFAULT 0,
    report TEXT,
    created_by BLOB NOT NULL,
    version INTEGER NOT NULL,
    indexed_version INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE INDEX knowledge_entries_list ON knowledge_entries (org_id, created_ms, id);
CREATE INDEX knowledge_entries_kind ON knowledge_entries (org_id, kind, created_ms, id);

-- The chunks retrieval ranks. `doc_id` is the full-text index's row id;
-- `title` the entry's title plus the heading the chunk sits under; `url` the
-- page a website chunk came from. `embedding`: little-endian f32 vector from
-- `embedding_model`, when the workspace configured one.
CREATE TABLE knowledge_chunks (
    doc_id INTEGER PRIMARY KEY,
    id BLOB NOT NULL,
    org_id BLOB NOT NULL,
    entry_id BLOB NOT NULL REFERENCES knowledge_entries(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    url TEXT,
    embedding BLOB,
    embedding_model TEXT,
    created_ms INTEGER NOT NULL
);
CREATE UNIQUE INDEX knowledge_chunks_id ON knowledge_chunks (id);
CREATE INDEX knowledge_chunks_entry ON knowledge_chunks (entry_id, seq);
CREATE INDEX knowledge_chunks_org ON knowledge_chunks (org_id, doc_id);

-- FTS5 over the chunks with Porter stemming (customers write "refunds",
-- the FAQ says "refund"). Contentless (the text lives in knowledge_chunks)
-- with a first column holding one token per workspace ('o' + hex id), so a
-- query ANDs that token and only walks its own workspace's postings.
-- Tables named fts_* are engine-specific and left out of the lockstep check.
CREATE VIRTUAL TABLE fts_knowledge USING fts5(org, title, text, content='', contentless_delete=1,
    tokenize='porter unicode61 remove_diacritics 2');
CREATE TRIGGER knowledge_chunks_ai AFTER INSERT ON knowledge_chunks BEGIN
    INSERT INTO fts_knowledge (rowid, org, title, text) VALUES (new.doc_id, 'o' || lower(hex(new.org_id)), new.title, new.text);
END;
CREATE TRIGGER knowledge_chunks_ad AFTER DELETE ON knowledge_chunks BEGIN
    DELETE FROM fts_knowledge WHERE rowid = old.doc_id;
END;
