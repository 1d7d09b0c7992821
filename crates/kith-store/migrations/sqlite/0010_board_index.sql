-- The kanban column query (`deals::board_column`: one pipeline, one stage,
-- newest first, ties by id) pages straight off this index. Without the id the
-- index could not give the full order, and SQLite walked the whole deals
-- table newest-first instead (0.7 s for a 5,000-deal board among 300,000).
DROP INDEX deals_board;
CREATE INDEX deals_board ON deals (org_id, pipeline_id, stage_id, updated_ms, id);
