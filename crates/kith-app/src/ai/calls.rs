//! The admins' list of AI calls (issue #5 §3, §6): every call of a month — feature, the conversation or record it
//! was about, tokens (estimated or reported), cost, latency, outcome and time — newest first, by keyset pages.
//! Never the prompt: even when the workspace keeps prompts (sealed), this list does not read them.

use super::metering::parse_month;
use super::settings::{need_admin, FEATURES};
use crate::{App, AppError, Result};
use kith_domain::page::{Cursor, Page, PageRequest};
use kith_domain::time::{UtcDateTime, DAY_MS};
use kith_domain::Context;
use serde::Serialize;
use uuid::Uuid;

/// Feature names a call may carry besides the switches: the connection test and knowledge-base embeddings.
pub const OTHER_FEATURES: [&str; 3] = ["test", "knowledge", "related_contacts"];

/// One recorded call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AiCall {
    pub id: Uuid,
    /// `auto_reply`, `suggestions`, `summaries`, `drafting`, `questions`, `speech`, `test`, `knowledge`,
    /// `related_contacts`.
    pub feature: String,
    pub conversation_id: Option<Uuid>,
    /// `contact`, `knowledge`, … with `record_id`.
    pub record_type: Option<String>,
    pub record_id: Option<Uuid>,
    pub model: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    /// The provider reported no usage: the counts are estimates.
    pub tokens_estimated: bool,
    pub cost_micros: i64,
    pub latency_ms: i64,
    /// `ok`, `failed`, `refused` (a hard limit), `pending` (in flight) or `abandoned`.
    pub outcome: String,
    /// Why it failed or was refused (the provider's message); never prompt text.
    pub error: Option<String>,
    pub created_at_ms: i64,
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    // Howard Hinnant's algorithm (proleptic Gregorian).
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The month's bounds in milliseconds, `[start, end)` (UTC).
pub fn month_bounds(y: i64, m: u32) -> (i64, i64) {
    let start = days_from_civil(y, m, 1) * DAY_MS;
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    (start, days_from_civil(ny, nm, 1) * DAY_MS)
}

/// The calls of `month` (`YYYY-MM`, the current month when None), of `feature` when given, newest first (admins
/// only). Pages by `(created_ms, id)`.
pub async fn list(
    app: &App,
    ctx: &Context,
    month: Option<&str>,
    feature: Option<&str>,
    page: &PageRequest,
) -> Result<Page<AiCall>> {
    need_admin(ctx)?;
    let (y, m) = match month.map(str::trim).filter(|m| !m.is_empty()) {
        None => {
            let t = UtcDateTime::from_ms(kith_domain::time::now_ms());
            (t.year as i64, t.month as u32)
        }
        Some(s) => parse_month(s).ok_or_else(|| AppError::field("month", "must be a month YYYY-MM"))?,
    };
    let feature = feature.map(str::trim).filter(|f| !f.is_empty());
    if let Some(f) = feature {
        if !FEATURES.contains(&f) && !OTHER_FEATURES.contains(&f) {
            let all = FEATURES.iter().chain(OTHER_FEATURES.iter()).copied().collect::<Vec<_>>().join(", ");
            return Err(AppError::field("feature", format!("must be one of {all}")));
        }
    }
    let (from, to) = month_bounds(y, m);
    let rows = kith_store::ai_assist::list_calls(
        app.db(),
        ctx.org_id,
        from,
        to,
        feature,
        page.after.map(|c| (c.key, c.id)),
        page.fetch_limit(),
    )
    .await?;
    let page = Page::from_rows(rows, page, |r| Cursor { key: r.created_ms, id: r.id });
    Ok(page.map(|r| AiCall {
        id: r.id,
        feature: r.feature,
        conversation_id: r.conversation_id,
        record_type: r.record_type,
        record_id: r.record_id,
        model: r.model,
        prompt_tokens: r.prompt_tokens,
        completion_tokens: r.completion_tokens,
        tokens_estimated: r.tokens_estimated,
        cost_micros: r.cost_micros,
        latency_ms: r.latency_ms,
        outcome: r.status,
        error: r.error,
        created_at_ms: r.created_ms,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_bounds_are_utc_months() {
        assert_eq!(month_bounds(1970, 1), (0, 31 * DAY_MS));
        let (a, b) = month_bounds(2024, 2);
        assert_eq!((b - a) / DAY_MS, 29);
        assert_eq!(UtcDateTime::from_ms(a).date(), "2024-02-01");
        let (_, end) = month_bounds(2026, 12);
        assert_eq!(UtcDateTime::from_ms(end).date(), "2027-01-01");
    }
}
