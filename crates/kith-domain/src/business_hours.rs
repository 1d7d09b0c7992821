//! Business hours: a weekly schedule in a named time zone, used by the AI assistant to hand conversations to
//! people outside opening times. Pure: times are Unix milliseconds (UTC); zones come from the compact table in
//! [`crate::quiet_hours`] (its limits apply: zones it does not model are refused at validation).
//!
//! Each entry opens one span of one weekday, `open` inclusive to `close` exclusive, in minutes after local
//! midnight (`close` may be 24:00). A night that runs past midnight is two entries. Days without entries are
//! closed; no schedule at all (an absent `BusinessHours`) means always open.

use serde::{Deserialize, Serialize};

use crate::quiet_hours;
use crate::time::{DAY_MS, MINUTE_MS};

pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// One opening span.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpeningSpan {
    /// `mon` … `sun`.
    pub day: String,
    /// `HH:MM`, local time.
    pub open: String,
    /// `HH:MM` after `open`; `24:00` for the end of the day.
    pub close: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BusinessHours {
    /// An IANA zone name, e.g. `Europe/Berlin`.
    pub time_zone: String,
    pub spans: Vec<OpeningSpan>,
}

/// `HH:MM` as minutes after midnight (00:00 to 24:00).
pub fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    let total = h * 60 + m;
    (m < 60 && total <= 24 * 60).then_some(total)
}

impl BusinessHours {
    /// Field errors as `(field, message)`; empty when valid. Field names are relative (`time_zone`,
    /// `spans[2].close`).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if quiet_hours::zone(&self.time_zone).is_none() {
            out.push(("time_zone".to_string(), "is not a time zone Kith knows (use an IANA name)".to_string()));
        }
        if self.spans.len() > 70 {
            out.push(("spans".to_string(), "at most 70 spans".to_string()));
        }
        for (i, s) in self.spans.iter().enumerate() {
            if !WEEKDAYS.contains(&s.day.as_str()) {
                out.push((format!("spans[{i}].day"), format!("must be one of {}", WEEKDAYS.join(", "))));
            }
            let open = parse_hhmm(&s.open);
            let close = parse_hhmm(&s.close);
            if open.is_none_or(|o| o >= 24 * 60) {
                out.push((format!("spans[{i}].open"), "must be a time HH:MM".to_string()));
            }
            match (open, close) {
                (_, None) => out.push((format!("spans[{i}].close"), "must be a time HH:MM (24:00 allowed)".into())),
                (Some(o), Some(c)) if c <= o => {
                    out.push((format!("spans[{i}].close"), "must be after the opening time".to_string()))
                }
                _ => {}
            }
        }
        out
    }

    /// Whether the business is open at `utc_ms`. An unknown zone reads as UTC (validation refuses one).
    pub fn is_open(&self, utc_ms: i64) -> bool {
        let offset = quiet_hours::zone(&self.time_zone).map(|z| z.offset_min(utc_ms)).unwrap_or(0);
        let local = utc_ms + offset * MINUTE_MS;
        let days = local.div_euclid(DAY_MS);
        // 1970-01-01 was a Thursday (index 3 from Monday).
        let weekday = WEEKDAYS[(days + 3).rem_euclid(7) as usize];
        let minute = (local.rem_euclid(DAY_MS) / MINUTE_MS) as u32;
        self.spans.iter().any(|s| {
            s.day == weekday
                && matches!((parse_hhmm(&s.open), parse_hhmm(&s.close)), (Some(o), Some(c)) if o <= minute && minute < c)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(day: &str, open: &str, close: &str) -> OpeningSpan {
        OpeningSpan { day: day.into(), open: open.into(), close: close.into() }
    }

    // 2026-01-05 is a Monday; 12:00 UTC.
    const MON_NOON_UTC: i64 = 1_767_614_400_000;

    #[test]
    fn weekly_schedule_in_a_zone() {
        let h = BusinessHours {
            time_zone: "America/New_York".into(),
            spans: vec![span("mon", "09:00", "17:00"), span("sat", "10:00", "24:00")],
        };
        assert!(h.problems().is_empty());
        // Monday 12:00 UTC is 07:00 in New York (winter, UTC-5): closed; 14:00 UTC is 09:00: open.
        assert!(!h.is_open(MON_NOON_UTC));
        assert!(h.is_open(MON_NOON_UTC + 2 * 3_600_000));
        assert!(!h.is_open(MON_NOON_UTC + 10 * 3_600_000), "17:00 local is closed (exclusive)");
        assert!(h.is_open(MON_NOON_UTC + 10 * 3_600_000 - 60_000));
        // Tuesday: no spans.
        assert!(!h.is_open(MON_NOON_UTC + DAY_MS + 2 * 3_600_000));
        // Saturday 23:59 local = Sunday 04:59 UTC.
        let sat_2359_local = MON_NOON_UTC + 5 * DAY_MS + (23 * 60 + 59 - 7 * 60) * 60_000;
        assert!(h.is_open(sat_2359_local));
        // Summer time: Monday 2026-07-06 13:00 UTC is 09:00 EDT.
        let mon_july = MON_NOON_UTC + 182 * DAY_MS + 3_600_000;
        assert!(h.is_open(mon_july));
    }

    #[test]
    fn validation() {
        let h = BusinessHours {
            time_zone: "Mars/Olympus".into(),
            spans: vec![span("monday", "9:00", "17:00"), span("tue", "18:00", "08:00"), span("wed", "24:00", "24:00")],
        };
        let fields: Vec<String> = h.problems().into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            ["time_zone", "spans[0].day", "spans[0].open", "spans[1].close", "spans[2].open", "spans[2].close"]
        );
        assert_eq!(parse_hhmm("24:00"), Some(1440));
        assert_eq!(parse_hhmm("24:01"), None);
        assert_eq!(parse_hhmm("12:60"), None);
    }
}
