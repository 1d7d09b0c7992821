-- Foundation: people, workspaces, sign-in, keys, audit, jobs, idempotency.
-- Kept in lockstep with ../sqlite/0001_foundation.sql (a test compares them).
-- Types: ids are UUID, times are Unix milliseconds, booleans are BOOLEAN.

CREATE TABLE users (
    id UUID PRIMARY KEY NOT NULL,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    is_operator BOOLEAN NOT NULL DEFAULT FALSE,
    email_verified_ms BIGINT,
    totp_secret BYTEA,
    totp_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    totp_last_step BIGINT NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);

CREATE TABLE recovery_codes (
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash BYTEA NOT NULL,
    used_ms BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE workspaces (
    id UUID PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);

CREATE TABLE memberships (
    org_id UUID NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE teams (
    id UUID PRIMARY KEY NOT NULL,
    org_id UUID NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE UNIQUE INDEX teams_org_name ON teams (org_id, name);

CREATE TABLE team_members (
    org_id UUID NOT NULL,
    team_id UUID NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (org_id, user_id);

CREATE TABLE invitations (
    id UUID PRIMARY KEY NOT NULL,
    org_id UUID NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    token_hash BYTEA NOT NULL UNIQUE,
    invited_by UUID NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    accepted_ms BIGINT,
    accepted_by UUID,
    revoked_ms BIGINT
);
CREATE INDEX invitations_org ON invitations (org_id, id);

CREATE TABLE login_sessions (
    id UUID PRIMARY KEY NOT NULL,
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash BYTEA NOT NULL UNIQUE,
    current_org_id UUID,
    mfa_pending BOOLEAN NOT NULL DEFAULT FALSE,
    csrf_secret BYTEA NOT NULL,
    ip TEXT,
    user_agent TEXT,
    created_ms BIGINT NOT NULL,
    last_seen_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX login_sessions_user ON login_sessions (user_id);

CREATE TABLE api_tokens (
    id UUID PRIMARY KEY NOT NULL,
    org_id UUID NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash BYTEA NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    last_used_ms BIGINT,
    revoked_ms BIGINT
);
CREATE INDEX api_tokens_org_user ON api_tokens (org_id, user_id);

CREATE TABLE one_time_tokens (
    token_hash BYTEA PRIMARY KEY NOT NULL,
    purpose TEXT NOT NULL,
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    used_ms BIGINT
);

CREATE TABLE auth_throttle (
    throttle_key TEXT PRIMARY KEY NOT NULL,
    failures BIGINT NOT NULL,
    last_failure_ms BIGINT NOT NULL,
    next_allowed_ms BIGINT NOT NULL
);

CREATE TABLE workspace_keys (
    org_id UUID NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    master_key_id TEXT NOT NULL,
    wrapped BYTEA NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (org_id, version)
);

CREATE TABLE audit_heads (
    org_id UUID PRIMARY KEY NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    head_hash BYTEA NOT NULL
);

CREATE TABLE audit_log (
    id UUID PRIMARY KEY NOT NULL,
    org_id UUID NOT NULL,
    seq BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    actor_id UUID,
    action TEXT NOT NULL,
    target_type TEXT,
    target_id UUID,
    prev_hash BYTEA NOT NULL,
    hash BYTEA NOT NULL
);
CREATE UNIQUE INDEX audit_log_org_seq ON audit_log (org_id, seq);

-- Personal details beside the chain: erasable without breaking it.
CREATE TABLE audit_details (
    audit_id UUID PRIMARY KEY NOT NULL,
    org_id UUID NOT NULL,
    ip TEXT,
    user_agent TEXT,
    detail TEXT
);

CREATE TABLE jobs (
    id UUID PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    org_id UUID,
    payload BYTEA NOT NULL,
    status TEXT NOT NULL,
    run_at_ms BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until_ms BIGINT,
    last_error TEXT,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX jobs_ready ON jobs (status, run_at_ms);

CREATE TABLE job_schedules (
    name TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    cron TEXT NOT NULL,
    payload BYTEA NOT NULL,
    next_run_ms BIGINT NOT NULL
);

CREATE TABLE idempotency_keys (
    org_id UUID NOT NULL,
    credential_id UUID NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    request_hash BYTEA NOT NULL,
    status_code BIGINT,
    response BYTEA,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (org_id, credential_id, method, path, idem_key)
);
