-- Imports and exports (issue #3). Uploaded files and finished exports are kept
-- in the database in chunks, so any node's worker can read them and a
-- restarted import resumes from its last committed row.

CREATE TABLE imports (
    id BLOB PRIMARY KEY NOT NULL,
    org_id BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    created_by BLOB NOT NULL,
    status TEXT NOT NULL,
    format TEXT NOT NULL,
    preset TEXT NOT NULL,
    mapping TEXT NOT NULL,
    dedupe TEXT NOT NULL,
    dry_run BOOLEAN NOT NULL,
    file_name TEXT NOT NULL,
    file_bytes INTEGER NOT NULL,
    rows_done INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL DEFAULT 0,
    updated INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    warnings INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    finished_ms INTEGER
);
CREATE INDEX imports_org ON imports (org_id, created_ms);

-- Per-row problems, for the downloadable report.
CREATE TABLE import_issues (
    import_id BLOB NOT NULL REFERENCES imports(id) ON DELETE CASCADE,
    row_no INTEGER NOT NULL,
    severity TEXT NOT NULL,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (import_id, row_no, code)
);

-- Stored files (an import's upload, an export's result), in order.
CREATE TABLE file_chunks (
    file_id BLOB NOT NULL,
    org_id BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (file_id, seq)
);

CREATE TABLE exports (
    id BLOB PRIMARY KEY NOT NULL,
    org_id BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    created_by BLOB NOT NULL,
    status TEXT NOT NULL,
    scope TEXT NOT NULL,
    format TEXT NOT NULL,
    records INTEGER NOT NULL DEFAULT 0,
    file_bytes INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    finished_ms INTEGER
);
CREATE INDEX exports_org ON exports (org_id, created_ms);
