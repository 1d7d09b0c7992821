-- Imports and exports (issue #3). Uploaded files and finished exports are kept
-- in the database in chunks, so any node's worker can read them and a
-- restarted import resumes from its last committed row.

CREATE TABLE imports (
    id UUID PRIMARY KEY NOT NULL,
    org_id UUID NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    created_by UUID NOT NULL,
    status TEXT NOT NULL,
    format TEXT NOT NULL,
    preset TEXT NOT NULL,
    mapping TEXT NOT NULL,
    dedupe TEXT NOT NULL,
    dry_run BOOLEAN NOT NULL,
    file_name TEXT NOT NULL,
    file_bytes BIGINT NOT NULL,
    rows_done BIGINT NOT NULL DEFAULT 0,
    total BIGINT NOT NULL DEFAULT 0,
    created BIGINT NOT NULL DEFAULT 0,
    updated BIGINT NOT NULL DEFAULT 0,
    skipped BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    warnings BIGINT NOT NULL DEFAULT 0,
    error TEXT,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    finished_ms BIGINT
);
CREATE INDEX imports_org ON imports (org_id, created_ms);

-- Per-row problems, for the downloadable report.
CREATE TABLE import_issues (
    import_id UUID NOT NULL REFERENCES imports(id) ON DELETE CASCADE,
    row_no BIGINT NOT NULL,
    severity TEXT NOT NULL,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (import_id, row_no, code)
);

-- Stored files (an import's upload, an export's result), in order.
CREATE TABLE file_chunks (
    file_id UUID NOT NULL,
    org_id UUID NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (file_id, seq)
);

CREATE TABLE exports (
    id UUID PRIMARY KEY NOT NULL,
    org_id UUID NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    created_by UUID NOT NULL,
    status TEXT NOT NULL,
    scope TEXT NOT NULL,
    format TEXT NOT NULL,
    records BIGINT NOT NULL DEFAULT 0,
    file_bytes BIGINT NOT NULL DEFAULT 0,
    error TEXT,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    finished_ms BIGINT
);
CREATE INDEX exports_org ON exports (org_id, created_ms);
