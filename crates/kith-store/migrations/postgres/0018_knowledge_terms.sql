-- Per-workspace document frequencies of the knowledge base's lexemes
-- (issue #5, retrieval latency): how many of the workspace's chunks hold
-- each lexeme of `knowledge_chunks.fts_vector`. Retrieval reads each query
-- word's count before searching (the postings budget); on PostgreSQL a
-- capped `COUNT(*)` over `fts_vector @@ …` rechecks up to the cap's rows per
-- word (15 ms for one common word at 10,000 chunks), while this table makes
-- it one primary-key lookup per word.
--
-- Written in the same transaction as the chunks (`replace_chunks`,
-- `delete_entry` in kith-store's knowledge module), under a per-workspace
-- advisory lock, so it always equals the chunks it counts; a row whose count
-- reaches 0 is deleted (CHECK keeps that true). `lexeme` is the english
-- configuration's lexeme exactly as it is stored in `fts_vector` (stemmed,
-- accents folded by the generated column).
CREATE TABLE knowledge_terms (
    org_id UUID NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    lexeme TEXT NOT NULL,
    chunks BIGINT NOT NULL CHECK (chunks > 0),
    PRIMARY KEY (org_id, lexeme)
);

-- Backfill from the chunks stored so far: each chunk's distinct lexemes
-- (tsvector_to_array lists a lexeme once, whatever its positions and
-- weights). Chunks of a workspace that no longer exists (knowledge rows have
-- no foreign key to workspaces) are left out: nothing can read them.
INSERT INTO knowledge_terms (org_id, lexeme, chunks)
SELECT c.org_id, l.lexeme, COUNT(*)
FROM knowledge_chunks c CROSS JOIN LATERAL unnest(tsvector_to_array(c.fts_vector)) AS l(lexeme)
WHERE EXISTS (SELECT 1 FROM workspaces w WHERE w.id = c.org_id)
GROUP BY c.org_id, l.lexeme;
