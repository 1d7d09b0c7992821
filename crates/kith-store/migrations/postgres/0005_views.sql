-- Saved views and bulk actions (issue #3).

CREATE TABLE saved_views (
    id UUID PRIMARY KEY NOT NULL,
    org_id UUID NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    owner_id UUID NOT NULL,
    record_type TEXT NOT NULL,
    name TEXT NOT NULL,
    -- The list's query string (filters, sort), as the list endpoints take it.
    query TEXT NOT NULL,
    -- JSON list of column keys to show.
    columns TEXT NOT NULL,
    shared BOOLEAN NOT NULL DEFAULT FALSE,
    version BIGINT NOT NULL DEFAULT 1,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX saved_views_org ON saved_views (org_id, record_type, created_ms);

CREATE TABLE bulk_actions (
    id UUID PRIMARY KEY NOT NULL,
    org_id UUID NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    created_by UUID NOT NULL,
    record_type TEXT NOT NULL,
    action TEXT NOT NULL,
    -- JSON: the ids, the tag or the new owner.
    params TEXT NOT NULL,
    status TEXT NOT NULL,
    total BIGINT NOT NULL,
    done BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    error TEXT,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    finished_ms BIGINT
);
CREATE INDEX bulk_actions_org ON bulk_actions (org_id, created_ms);
