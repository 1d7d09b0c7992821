-- Per-workspace document frequencies of the knowledge base's lexemes
-- (issue #5, retrieval latency); see the PostgreSQL file for what it holds.
--
-- SQLite keeps this table EMPTY and never reads it. Retrieval's per-word
-- counts come from FTS5 itself there: counting a word's rows in the
-- workspace (the workspace token ANDed with the word, capped at the postings
-- budget) walks the postings lists directly and already meets the goal
-- (p95 5.2 ms for all of retrieval over 10,000 chunks, docs/benchmarks.md).
-- Filling it would also need the lexemes of FTS5's porter tokenizer, which
-- SQL cannot read per row (fts5vocab only sums over every workspace). The
-- table exists so that both backends hold the same tables and columns (the
-- lockstep test), and so SQLite could adopt it without another migration.
CREATE TABLE knowledge_terms (
    org_id BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    lexeme TEXT NOT NULL,
    chunks INTEGER NOT NULL CHECK (chunks > 0),
    PRIMARY KEY (org_id, lexeme)
);
