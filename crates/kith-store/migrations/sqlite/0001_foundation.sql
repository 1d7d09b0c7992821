-- Foundation: people, workspaces, sign-in, keys, audit, jobs, idempotency.
-- Kept in lockstep with ../postgres/0001_foundation.sql (a test compares them).
-- Types: ids are UUID BLOBs, times are Unix milliseconds, booleans are 0/1.

CREATE TABLE users (
    id BLOB PRIMARY KEY NOT NULL,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    is_operator INTEGER NOT NULL DEFAULT 0,
    email_verified_ms INTEGER,
    totp_secret BLOB,
    totp_enabled INTEGER NOT NULL DEFAULT 0,
    totp_last_step INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);

CREATE TABLE recovery_codes (
    user_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash BLOB NOT NULL,
    used_ms INTEGER,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE workspaces (
    id BLOB PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);

CREATE TABLE memberships (
    org_id BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE teams (
    id BLOB PRIMARY KEY NOT NULL,
    org_id BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE UNIQUE INDEX teams_org_name ON teams (org_id, name);

CREATE TABLE team_members (
    org_id BLOB NOT NULL,
    team_id BLOB NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (org_id, user_id);

CREATE TABLE invitations (
    id BLOB PRIMARY KEY NOT NULL,
    org_id BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,
    invited_by BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    accepted_ms INTEGER,
    accepted_by BLOB,
    revoked_ms INTEGER
);
CREATE INDEX invitations_org ON invitations (org_id, id);

CREATE TABLE login_sessions (
    id BLOB PRIMARY KEY NOT NULL,
    user_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash BLOB NOT NULL UNIQUE,
    current_org_id BLOB,
    mfa_pending INTEGER NOT NULL DEFAULT 0,
    csrf_secret BLOB NOT NULL,
    ip TEXT,
    user_agent TEXT,
    created_ms INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
);
CREATE INDEX login_sessions_user ON login_sessions (user_id);

CREATE TABLE api_tokens (
    id BLOB PRIMARY KEY NOT NULL,
    org_id BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    last_used_ms INTEGER,
    revoked_ms INTEGER
);
CREATE INDEX api_tokens_org_user ON api_tokens (org_id, user_id);

CREATE TABLE one_time_tokens (
    token_hash BLOB PRIMARY KEY NOT NULL,
    purpose TEXT NOT NULL,
    user_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    used_ms INTEGER
);

CREATE TABLE auth_throttle (
    throttle_key TEXT PRIMARY KEY NOT NULL,
    failures INTEGER NOT NULL,
    last_failure_ms INTEGER NOT NULL,
    next_allowed_ms INTEGER NOT NULL
);

CREATE TABLE workspace_keys (
    org_id BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    master_key_id TEXT NOT NULL,
    wrapped BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (org_id, version)
);

CREATE TABLE audit_heads (
    org_id BLOB PRIMARY KEY NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    head_hash BLOB NOT NULL
);

CREATE TABLE audit_log (
    id BLOB PRIMARY KEY NOT NULL,
    org_id BLOB NOT NULL,
    seq INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    actor_id BLOB,
    action TEXT NOT NULL,
    target_type TEXT,
    target_id BLOB,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL
);
CREATE UNIQUE INDEX audit_log_org_seq ON audit_log (org_id, seq);

-- Personal details beside the chain: erasable without breaking it.
CREATE TABLE audit_details (
    audit_id BLOB PRIMARY KEY NOT NULL,
    org_id BLOB NOT NULL,
    ip TEXT,
    user_agent TEXT,
    detail TEXT
);

CREATE TABLE jobs (
    id BLOB PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    org_id BLOB,
    payload BLOB NOT NULL,
    status TEXT NOT NULL,
    run_at_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until_ms INTEGER,
    last_error TEXT,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE INDEX jobs_ready ON jobs (status, run_at_ms);

CREATE TABLE job_schedules (
    name TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    cron TEXT NOT NULL,
    payload BLOB NOT NULL,
    next_run_ms INTEGER NOT NULL
);

CREATE TABLE idempotency_keys (
    org_id BLOB NOT NULL,
    credential_id BLOB NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    status_code INTEGER,
    response BLOB,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (org_id, credential_id, method, path, idem_key)
);
