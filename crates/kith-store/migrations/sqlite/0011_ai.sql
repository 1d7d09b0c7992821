-- The AI assistant's foundation (issue #5 §1, §3, §6): the workspace's
-- settings, every call made to its endpoint, and the monthly and daily
-- counters that limits and the usage page read.

-- One row per workspace that saved its AI settings. `settings` is the plain
-- JSON of everything but the endpoint's API key, which is sealed on its own.
CREATE TABLE ai_settings (
    org_id BLOB PRIMARY KEY NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    settings TEXT NOT NULL,
    api_key BLOB,
    version INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);

-- Every call to a provider, refused ones included (promise 8). `status`:
-- `pending` while in flight (holding a reservation of the month's limits),
-- then `ok`, `failed` or `refused` (`abandoned` when no outcome came in time). `tokens_estimated` is true when the
-- provider did not report usage. The prompt is stored (sealed) only when
-- the workspace asks for it. `month` is the UTC month the reservation was
-- counted in; `reserved_tokens`/`reserved_cost` what it held there.
CREATE TABLE ai_calls (
    id BLOB PRIMARY KEY NOT NULL,
    org_id BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    feature TEXT NOT NULL,
    conversation_id BLOB,
    record_type TEXT,
    record_id BLOB,
    model TEXT NOT NULL DEFAULT '',
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    tokens_estimated BOOLEAN NOT NULL DEFAULT FALSE,
    cost_micros INTEGER NOT NULL DEFAULT 0,
    latency_ms INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    error TEXT,
    prompt BLOB,
    month TEXT NOT NULL,
    reserved_tokens INTEGER NOT NULL DEFAULT 0,
    reserved_cost INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL
);
CREATE INDEX ai_calls_org_created ON ai_calls (org_id, created_ms);
-- Reservations left behind by a process that died mid-call are released
-- after a while; this finds them without scanning the workspace's calls.
CREATE INDEX ai_calls_pending ON ai_calls (org_id, created_ms) WHERE status = 'pending';

-- The month's figures per workspace (`month` = 'YYYY-MM', UTC), updated in
-- the transaction that finishes each call, plus the reservations of calls
-- in flight: a call may start only while finished usage plus reservations
-- stay under each hard limit, so concurrent callers cannot overshoot.
-- `soft_warned_ms`: when admins were warned that a soft limit was crossed
-- (once a month).
CREATE TABLE ai_usage_months (
    org_id BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    month TEXT NOT NULL,
    messages INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cost_micros INTEGER NOT NULL DEFAULT 0,
    estimated_calls INTEGER NOT NULL DEFAULT 0,
    failed_calls INTEGER NOT NULL DEFAULT 0,
    refused_calls INTEGER NOT NULL DEFAULT 0,
    in_flight INTEGER NOT NULL DEFAULT 0,
    in_flight_tokens INTEGER NOT NULL DEFAULT 0,
    in_flight_cost INTEGER NOT NULL DEFAULT 0,
    soft_warned_ms INTEGER,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (org_id, month)
);

-- The same figures per UTC day ('YYYY-MM-DD'), for the usage page's chart.
CREATE TABLE ai_usage_days (
    org_id BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    day TEXT NOT NULL,
    messages INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cost_micros INTEGER NOT NULL DEFAULT 0,
    estimated_calls INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, day)
);
