//! The AI assistant's rows: workspace settings (the API key arrives sealed), the record of every call, and the
//! monthly and daily usage counters with the in-flight reservations that make hard limits hold under
//! concurrency. This module never decides whether a call may happen beyond the one atomic comparison it is given
//! (see [`reserve`]); prices, limits and features are the app's.

use crate::{Db, Result, Tx};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SettingsRow {
    pub org_id: Uuid,
    /// JSON of every setting but the API key.
    pub settings: String,
    /// The endpoint's API key, sealed.
    pub api_key: Option<Vec<u8>>,
    pub version: i64,
    pub updated_ms: i64,
}

pub async fn get_settings(db: &Db, org_id: Uuid) -> Result<Option<SettingsRow>> {
    const SQL: &str = "SELECT org_id, settings, api_key, version, updated_ms FROM ai_settings WHERE org_id = $1";
    Ok(on_read!(db, |p| sqlx::query_as::<_, SettingsRow>(SQL).bind(org_id).fetch_optional(p).await?))
}

pub async fn get_settings_tx(tx: &mut Tx, org_id: Uuid) -> Result<Option<SettingsRow>> {
    const SQL: &str = "SELECT org_id, settings, api_key, version, updated_ms FROM ai_settings WHERE org_id = $1";
    Ok(on_tx!(tx, |c| sqlx::query_as::<_, SettingsRow>(SQL).bind(org_id).fetch_optional(c).await?))
}

/// Write `r` if the stored version is `r.version - 1` (or, for version 1, if there is no row yet).
pub async fn put_settings(tx: &mut Tx, r: &SettingsRow) -> Result<bool> {
    const INSERT: &str = "INSERT INTO ai_settings (org_id, settings, api_key, version, updated_ms)
                          VALUES ($1, $2, $3, $4, $5) ON CONFLICT (org_id) DO NOTHING";
    const UPDATE: &str = "UPDATE ai_settings SET settings = $2, api_key = $3, version = $4, updated_ms = $5
                          WHERE org_id = $1 AND version = $4 - 1";
    let sql = if r.version == 1 { INSERT } else { UPDATE };
    let n = on_tx!(tx, |c| sqlx::query(sql)
        .bind(r.org_id)
        .bind(&r.settings)
        .bind(&r.api_key)
        .bind(r.version)
        .bind(r.updated_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// One call as first recorded (pending, or refused outright).
#[derive(Debug, Clone)]
pub struct NewCall {
    pub id: Uuid,
    pub org_id: Uuid,
    pub feature: String,
    pub conversation_id: Option<Uuid>,
    pub record_type: Option<String>,
    pub record_id: Option<Uuid>,
    pub status: String,
    pub error: Option<String>,
    pub month: String,
    pub reserved_tokens: i64,
    pub reserved_cost: i64,
    pub created_ms: i64,
}

pub async fn insert_call(tx: &mut Tx, r: &NewCall) -> Result<()> {
    const SQL: &str = "INSERT INTO ai_calls (id, org_id, feature, conversation_id, record_type, record_id, status,
                         error, month, reserved_tokens, reserved_cost, created_ms)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(r.id)
        .bind(r.org_id)
        .bind(&r.feature)
        .bind(r.conversation_id)
        .bind(&r.record_type)
        .bind(r.record_id)
        .bind(&r.status)
        .bind(&r.error)
        .bind(&r.month)
        .bind(r.reserved_tokens)
        .bind(r.reserved_cost)
        .bind(r.created_ms)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

/// What a finished call adds.
#[derive(Debug, Clone)]
pub struct FinishedCall {
    pub id: Uuid,
    pub org_id: Uuid,
    pub model: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub tokens_estimated: bool,
    pub cost_micros: i64,
    pub latency_ms: i64,
    /// `ok` or `failed`.
    pub status: String,
    pub error: Option<String>,
    pub prompt: Option<Vec<u8>>,
}

/// Record a call's outcome. Returns the call's month and reservation when it was still pending (so the caller
/// releases it); None when it had already been released as abandoned (its usage still counts).
pub async fn finish_call(tx: &mut Tx, f: &FinishedCall) -> Result<Option<(String, i64, i64, bool)>> {
    const SQL: &str = "UPDATE ai_calls SET model = $3, prompt_tokens = $4, completion_tokens = $5,
                         tokens_estimated = $6, cost_micros = $7, latency_ms = $8, status = $9, error = $10,
                         prompt = $11, reserved_tokens = 0, reserved_cost = 0
                       WHERE org_id = $1 AND id = $2 AND status IN ('pending', 'abandoned')";
    // The reservation it held is read first (one row, by primary key).
    const OLD: &str =
        "SELECT month, reserved_tokens, reserved_cost, status FROM ai_calls WHERE org_id = $1 AND id = $2";
    let old: Option<(String, i64, i64, String)> =
        on_tx!(tx, |c| sqlx::query_as(OLD).bind(f.org_id).bind(f.id).fetch_optional(c).await?);
    let Some((month, rt, rc, status)) = old else { return Ok(None) };
    if status != "pending" && status != "abandoned" {
        return Ok(None);
    }
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(f.org_id)
        .bind(f.id)
        .bind(&f.model)
        .bind(f.prompt_tokens)
        .bind(f.completion_tokens)
        .bind(f.tokens_estimated)
        .bind(f.cost_micros)
        .bind(f.latency_ms)
        .bind(&f.status)
        .bind(&f.error)
        .bind(&f.prompt)
        .execute(c)
        .await?
        .rows_affected());
    Ok(Some((month, rt, rc, status == "pending")))
}

/// Release the reservations of calls still pending since before `before_ms` (a process died mid-call): they
/// become `abandoned` and stop holding the month's limits. Returns how many.
pub async fn release_stale(tx: &mut Tx, org_id: Uuid, before_ms: i64, now: i64) -> Result<u64> {
    const SQL: &str = "UPDATE ai_calls SET status = 'abandoned', error = 'no outcome was recorded in time'
                       WHERE org_id = $1 AND status = 'pending' AND created_ms < $2
                       RETURNING month, reserved_tokens, reserved_cost";
    let rows: Vec<(String, i64, i64)> =
        on_tx!(tx, |c| sqlx::query_as(SQL).bind(org_id).bind(before_ms).fetch_all(c).await?);
    for (month, rt, rc) in &rows {
        release(tx, org_id, month, *rt, *rc, now).await?;
    }
    Ok(rows.len() as u64)
}

async fn release(tx: &mut Tx, org_id: Uuid, month: &str, rt: i64, rc: i64, now: i64) -> Result<()> {
    const SQL: &str = "UPDATE ai_usage_months SET in_flight = in_flight - 1, in_flight_tokens = in_flight_tokens - $3,
                         in_flight_cost = in_flight_cost - $4, updated_ms = $5
                       WHERE org_id = $1 AND month = $2 AND in_flight > 0";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(org_id)
        .bind(month)
        .bind(rt)
        .bind(rc)
        .bind(now)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

/// A workspace's figures for one month.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct MonthRow {
    pub month: String,
    pub messages: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_micros: i64,
    pub estimated_calls: i64,
    pub failed_calls: i64,
    pub refused_calls: i64,
    pub in_flight: i64,
    pub in_flight_tokens: i64,
    pub in_flight_cost: i64,
    pub soft_warned_ms: Option<i64>,
}

const MONTH_COLUMNS: &str = "month, messages, prompt_tokens, completion_tokens, cost_micros, estimated_calls,
    failed_calls, refused_calls, in_flight, in_flight_tokens, in_flight_cost, soft_warned_ms";

pub async fn month(db: &Db, org_id: Uuid, month: &str) -> Result<Option<MonthRow>> {
    let sql = format!("SELECT {MONTH_COLUMNS} FROM ai_usage_months WHERE org_id = $1 AND month = $2");
    Ok(on_read!(db, |p| sqlx::query_as::<_, MonthRow>(&sql).bind(org_id).bind(month).fetch_optional(p).await?))
}

pub async fn month_tx(tx: &mut Tx, org_id: Uuid, month: &str) -> Result<Option<MonthRow>> {
    let sql = format!("SELECT {MONTH_COLUMNS} FROM ai_usage_months WHERE org_id = $1 AND month = $2");
    Ok(on_tx!(tx, |c| sqlx::query_as::<_, MonthRow>(&sql).bind(org_id).bind(month).fetch_optional(c).await?))
}

async fn ensure_month(tx: &mut Tx, org_id: Uuid, month: &str, now: i64) -> Result<()> {
    const SQL: &str = "INSERT INTO ai_usage_months (org_id, month, updated_ms) VALUES ($1, $2, $3)
                       ON CONFLICT (org_id, month) DO NOTHING";
    on_tx!(tx, |c| sqlx::query(SQL).bind(org_id).bind(month).bind(now).execute(c).await?.rows_affected());
    Ok(())
}

/// Hard limits as the reservation compares them; None is no limit.
#[derive(Debug, Clone, Copy, Default)]
pub struct HardLimits {
    pub messages: Option<i64>,
    pub tokens: Option<i64>,
    pub cost_micros: Option<i64>,
}

/// Reserve one call in the month, atomically: only while finished usage plus the reservations in flight stay
/// under every hard limit. The row update takes the row's lock (PostgreSQL) or runs under the one writer
/// (SQLite), so concurrent reservations are decided one after the other. Token and cost limits cannot know a
/// call's size before it runs: each reservation holds `tokens`/`cost` (the month's average call), and without any
/// finished call yet only one call may be in flight, so concurrent callers overshoot by at most about one call.
pub async fn reserve(
    tx: &mut Tx,
    org_id: Uuid,
    month: &str,
    limits: HardLimits,
    tokens: i64,
    cost: i64,
    now: i64,
) -> Result<bool> {
    ensure_month(tx, org_id, month, now).await?;
    const SQL: &str = "UPDATE ai_usage_months SET in_flight = in_flight + 1, in_flight_tokens = in_flight_tokens + $6,
                         in_flight_cost = in_flight_cost + $7, updated_ms = $8
                       WHERE org_id = $1 AND month = $2
                         AND ($3 IS NULL OR messages + in_flight < $3)
                         AND ($4 IS NULL OR (prompt_tokens + completion_tokens + in_flight_tokens < $4
                                             AND (messages > 0 OR in_flight = 0)))
                         AND ($5 IS NULL OR (cost_micros + in_flight_cost < $5 AND (messages > 0 OR in_flight = 0)))";
    let n = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(org_id)
        .bind(month)
        .bind(limits.messages)
        .bind(limits.tokens)
        .bind(limits.cost_micros)
        .bind(tokens)
        .bind(cost)
        .bind(now)
        .execute(c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// Count a refused call in the month.
pub async fn count_refused(tx: &mut Tx, org_id: Uuid, month: &str, now: i64) -> Result<()> {
    ensure_month(tx, org_id, month, now).await?;
    const SQL: &str = "UPDATE ai_usage_months SET refused_calls = refused_calls + 1, updated_ms = $3
                       WHERE org_id = $1 AND month = $2";
    on_tx!(tx, |c| sqlx::query(SQL).bind(org_id).bind(month).bind(now).execute(c).await?.rows_affected());
    Ok(())
}

/// What one finished call adds to its month and day.
#[derive(Debug, Clone, Copy, Default)]
pub struct UsageDelta {
    /// 1 for a call that succeeded, else 0.
    pub messages: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_micros: i64,
    /// 1 when the tokens were estimated.
    pub estimated: i64,
    /// 1 for a call that failed.
    pub failed: i64,
}

/// Add a finished call to its month (releasing its reservation when `release` says what it held) and to `day`.
pub async fn add_usage(
    tx: &mut Tx,
    org_id: Uuid,
    month: &str,
    day: &str,
    d: UsageDelta,
    release: Option<(i64, i64)>,
    now: i64,
) -> Result<()> {
    ensure_month(tx, org_id, month, now).await?;
    const MONTH: &str = "UPDATE ai_usage_months SET messages = messages + $3, prompt_tokens = prompt_tokens + $4,
                           completion_tokens = completion_tokens + $5, cost_micros = cost_micros + $6,
                           estimated_calls = estimated_calls + $7, failed_calls = failed_calls + $8,
                           in_flight = CASE WHEN $9 AND in_flight > 0 THEN in_flight - 1 ELSE in_flight END,
                           in_flight_tokens = in_flight_tokens - $10, in_flight_cost = in_flight_cost - $11,
                           updated_ms = $12
                         WHERE org_id = $1 AND month = $2";
    let (held, rt, rc) = match release {
        Some((rt, rc)) => (true, rt, rc),
        None => (false, 0, 0),
    };
    on_tx!(tx, |c| sqlx::query(MONTH)
        .bind(org_id)
        .bind(month)
        .bind(d.messages)
        .bind(d.prompt_tokens)
        .bind(d.completion_tokens)
        .bind(d.cost_micros)
        .bind(d.estimated)
        .bind(d.failed)
        .bind(held)
        .bind(rt)
        .bind(rc)
        .bind(now)
        .execute(c)
        .await?
        .rows_affected());
    if d.messages == 0 && d.prompt_tokens == 0 && d.completion_tokens == 0 && d.cost_micros == 0 {
        return Ok(());
    }
    const DAY: &str = "INSERT INTO ai_usage_days (org_id, day, messages, prompt_tokens, completion_tokens,
                         cost_micros, estimated_calls)
                       VALUES ($1, $2, $3, $4, $5, $6, $7)
                       ON CONFLICT (org_id, day) DO UPDATE SET messages = ai_usage_days.messages + excluded.messages,
                         prompt_tokens = ai_usage_days.prompt_tokens + excluded.prompt_tokens,
                         completion_tokens = ai_usage_days.completion_tokens + excluded.completion_tokens,
                         cost_micros = ai_usage_days.cost_micros + excluded.cost_micros,
                         estimated_calls = ai_usage_days.estimated_calls + excluded.estimated_calls";
    on_tx!(tx, |c| sqlx::query(DAY)
        .bind(org_id)
        .bind(day)
        .bind(d.messages)
        .bind(d.prompt_tokens)
        .bind(d.completion_tokens)
        .bind(d.cost_micros)
        .bind(d.estimated)
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

/// Mark the month's soft-limit warning as sent; true only for the one caller that marked it.
pub async fn mark_soft_warned(tx: &mut Tx, org_id: Uuid, month: &str, now: i64) -> Result<bool> {
    const SQL: &str = "UPDATE ai_usage_months SET soft_warned_ms = $3
                       WHERE org_id = $1 AND month = $2 AND soft_warned_ms IS NULL";
    let n = on_tx!(tx, |c| sqlx::query(SQL).bind(org_id).bind(month).bind(now).execute(c).await?.rows_affected());
    Ok(n == 1)
}

/// One day's figures.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DayRow {
    pub day: String,
    pub messages: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_micros: i64,
    pub estimated_calls: i64,
}

/// The days of `month` ('YYYY-MM') that have figures, in order (at most 31 rows, by primary key).
pub async fn days(db: &Db, org_id: Uuid, month: &str) -> Result<Vec<DayRow>> {
    const SQL: &str = "SELECT day, messages, prompt_tokens, completion_tokens, cost_micros, estimated_calls
                       FROM ai_usage_days WHERE org_id = $1 AND day >= $2 AND day <= $3 ORDER BY day";
    let (from, to) = (format!("{month}-01"), format!("{month}-31"));
    Ok(on_read!(db, |p| sqlx::query_as::<_, DayRow>(SQL).bind(org_id).bind(&from).bind(&to).fetch_all(p).await?))
}

/// A recorded call, for the usage page's list.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CallRow {
    pub id: Uuid,
    pub feature: String,
    pub conversation_id: Option<Uuid>,
    pub record_type: Option<String>,
    pub record_id: Option<Uuid>,
    pub model: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub tokens_estimated: bool,
    pub cost_micros: i64,
    pub latency_ms: i64,
    pub status: String,
    pub error: Option<String>,
    pub prompt: Option<Vec<u8>>,
    pub created_ms: i64,
}

const CALL_COLUMNS: &str = "id, feature, conversation_id, record_type, record_id, model, prompt_tokens,
    completion_tokens, tokens_estimated, cost_micros, latency_ms, status, error, prompt, created_ms";

pub async fn get_call(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<CallRow>> {
    let sql = format!("SELECT {CALL_COLUMNS} FROM ai_calls WHERE org_id = $1 AND id = $2");
    Ok(on_read!(db, |p| sqlx::query_as::<_, CallRow>(&sql).bind(org_id).bind(id).fetch_optional(p).await?))
}

/// Calls created in `[from_ms, to_ms)`, newest first, after the keyset `(created_ms, id)` when given.
pub async fn list_calls(
    db: &Db,
    org_id: Uuid,
    from_ms: i64,
    to_ms: i64,
    after: Option<(i64, Uuid)>,
    limit: i64,
) -> Result<Vec<CallRow>> {
    let (at, id) = after.unwrap_or((i64::MAX, Uuid::max()));
    let sql = format!(
        "SELECT {CALL_COLUMNS} FROM ai_calls
         WHERE org_id = $1 AND created_ms >= $2 AND created_ms < $3 AND (created_ms < $4 OR (created_ms = $4 AND id < $5))
         ORDER BY created_ms DESC, id DESC LIMIT $6"
    );
    Ok(on_read!(db, |p| sqlx::query_as::<_, CallRow>(&sql)
        .bind(org_id)
        .bind(from_ms)
        .bind(to_ms)
        .bind(at)
        .bind(id)
        .bind(limit)
        .fetch_all(p)
        .await?))
}

/// E-mail addresses of the workspace's owners and admins.
pub async fn admin_emails(tx: &mut Tx, org_id: Uuid) -> Result<Vec<String>> {
    const SQL: &str = "SELECT u.email FROM memberships m JOIN users u ON u.id = m.user_id
                       WHERE m.org_id = $1 AND m.role IN ('owner', 'admin') ORDER BY u.email LIMIT 50";
    let rows: Vec<(String,)> = on_tx!(tx, |c| sqlx::query_as(SQL).bind(org_id).fetch_all(c).await?);
    Ok(rows.into_iter().map(|(e,)| e).collect())
}
