-- SQLite only (see its 0021): PostgreSQL applies filters that are not
-- index conditions after reading the row from the table, so the wider
-- owner index would not spare those reads there. Kept so that both
-- engines' migrations stay in lockstep.
SELECT 1;
