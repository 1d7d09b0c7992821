//! Cron schedules for scheduled background jobs.
//!
//! The job queue stores a job's cron expression together with its next run
//! time in Unix milliseconds; after each run it asks [`Schedule::next_after`]
//! for the following one. This module only does the arithmetic: it never
//! reads the clock itself, so the caller always passes the reference instant.
//!
//! # Syntax
//!
//! Five whitespace-separated fields, evaluated in UTC:
//!
//! | field        | values                         |
//! |--------------|--------------------------------|
//! | minute       | `0-59`                         |
//! | hour         | `0-23`                         |
//! | day-of-month | `1-31`                         |
//! | month        | `1-12` or `JAN`–`DEC`          |
//! | day-of-week  | `0-7` or `SUN`–`SAT` (0 and 7 are Sunday) |
//!
//! Each field is a comma-separated list of parts; a part is `*`, a value `a`,
//! a range `a-b`, or one of those with a step: `*/n`, `a-b/n`, or `a/n`
//! (from `a` to the field's maximum; for day-of-week that is Saturday).
//! Names are case-insensitive.
//!
//! When both day-of-month and day-of-week are restricted (neither field is
//! exactly `*`), a day matches if *either* matches; otherwise both must.
//!
//! The macros `@yearly`/`@annually`, `@monthly`, `@weekly`,
//! `@daily`/`@midnight` and `@hourly` stand for `0 0 1 1 *`, `0 0 1 * *`,
//! `0 0 * * 0`, `0 0 * * *` and `0 * * * *`.

use std::fmt;
use std::str::FromStr;

const MINUTE_MS: i64 = 60_000;
const MINUTES_PER_DAY: i64 = 1_440;
/// How far ahead [`Schedule::next_after`] looks: five years, counted
/// generously in days (5 × 365.25, rounded up).
const SEARCH_DAYS: i64 = 1_827;

/// One of the five fields of a cron expression, named in error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CronField {
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

impl CronField {
    const ALL: [CronField; 5] =
        [CronField::Minute, CronField::Hour, CronField::DayOfMonth, CronField::Month, CronField::DayOfWeek];

    /// Smallest accepted value.
    fn min(self) -> u32 {
        match self {
            CronField::DayOfMonth | CronField::Month => 1,
            _ => 0,
        }
    }

    /// Largest accepted value (day-of-week accepts 7 as Sunday).
    fn max(self) -> u32 {
        match self {
            CronField::Minute => 59,
            CronField::Hour => 23,
            CronField::DayOfMonth => 31,
            CronField::Month => 12,
            CronField::DayOfWeek => 7,
        }
    }

    /// Upper end used by `*` and `a/n`.
    fn implicit_max(self) -> u32 {
        match self {
            CronField::DayOfWeek => 6,
            other => other.max(),
        }
    }

    /// Symbolic names, indexed from `min()`.
    fn names(self) -> &'static [&'static str] {
        match self {
            CronField::Month => &["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"],
            CronField::DayOfWeek => &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
            _ => &[],
        }
    }
}

impl fmt::Display for CronField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CronField::Minute => "minute",
            CronField::Hour => "hour",
            CronField::DayOfMonth => "day-of-month",
            CronField::Month => "month",
            CronField::DayOfWeek => "day-of-week",
        })
    }
}

/// Why a cron expression was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CronError {
    #[error("expected 5 fields (minute hour day-of-month month day-of-week), found {found}")]
    FieldCount { found: usize },
    #[error("unknown macro {0:?} (expected @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly)")]
    UnknownMacro(String),
    #[error("{field}: empty element in list {list:?}")]
    EmptyPart { field: CronField, list: String },
    #[error("{field}: {value} is out of range {min}-{max}")]
    OutOfRange { field: CronField, value: u32, min: u32, max: u32 },
    #[error("{field}: range {start}-{end} starts after it ends")]
    BackwardsRange { field: CronField, start: u32, end: u32 },
    #[error("{field}: step must be at least 1 in {token:?}")]
    ZeroStep { field: CronField, token: String },
    #[error("{field}: cannot parse {token:?}")]
    Invalid { field: CronField, token: String },
}

/// A parsed cron expression. Each field is kept as a bit set of the values
/// it matches (bit `n` set means value `n` matches).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Bits 0–59.
    minutes: u64,
    /// Bits 0–23.
    hours: u32,
    /// Bits 1–31.
    days_of_month: u32,
    /// Bits 1–12.
    months: u16,
    /// Bits 0–6, Sunday = 0.
    days_of_week: u8,
    /// Day-of-month was written as `*`.
    dom_any: bool,
    /// Day-of-week was written as `*`.
    dow_any: bool,
}

impl Schedule {
    /// Parses a five-field cron expression or one of the `@` macros.
    pub fn parse(expr: &str) -> Result<Schedule, CronError> {
        let expr = expr.trim();
        if let Some(name) = expr.strip_prefix('@') {
            let expanded = match name.to_ascii_lowercase().as_str() {
                "yearly" | "annually" => "0 0 1 1 *",
                "monthly" => "0 0 1 * *",
                "weekly" => "0 0 * * 0",
                "daily" | "midnight" => "0 0 * * *",
                "hourly" => "0 * * * *",
                _ => return Err(CronError::UnknownMacro(expr.to_string())),
            };
            return Schedule::parse(expanded);
        }

        let fields: Vec<&str> = expr.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(CronError::FieldCount { found: fields.len() });
        }
        let mut bits = [0u64; 5];
        for ((slot, field), text) in bits.iter_mut().zip(CronField::ALL).zip(&fields) {
            *slot = parse_field(field, text)?;
        }
        // Every value has been range-checked, so these narrowings are lossless.
        Ok(Schedule {
            minutes: bits[0],
            hours: bits[1] as u32,
            days_of_month: bits[2] as u32,
            months: bits[3] as u16,
            days_of_week: bits[4] as u8,
            dom_any: fields[2] == "*",
            dow_any: fields[4] == "*",
        })
    }

    /// The first whole minute strictly after `after_ms` (Unix ms, UTC) that
    /// matches; `None` if none falls within the next five years (or the
    /// answer would not fit in an `i64`).
    ///
    /// Months and days that cannot match are skipped whole, so the search
    /// costs at most one cheap step per day of the window.
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        // Minutes since the epoch of the first candidate minute.
        let start = after_ms.div_euclid(MINUTE_MS) + 1;
        let mut day = start.div_euclid(MINUTES_PER_DAY);
        let mut from_minute = start.rem_euclid(MINUTES_PER_DAY) as u32;
        let last_day = day + SEARCH_DAYS;

        while day <= last_day {
            let (year, month, dom) = civil_from_days(day);
            if self.months & (1 << month) == 0 {
                // Jump to the first day of the next month.
                let (y, m) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
                day = days_from_civil(y, m, 1);
                from_minute = 0;
                continue;
            }
            if self.day_matches(dom, weekday(day)) {
                if let Some(minute_of_day) = self.first_time_from(from_minute) {
                    let minutes = day * MINUTES_PER_DAY + i64::from(minute_of_day);
                    return minutes.checked_mul(MINUTE_MS);
                }
            }
            day += 1;
            from_minute = 0;
        }
        None
    }

    fn day_matches(&self, dom: u32, dow: u32) -> bool {
        let dom_ok = self.days_of_month & (1 << dom) != 0;
        let dow_ok = self.days_of_week & (1 << dow) != 0;
        if self.dom_any || self.dow_any {
            dom_ok && dow_ok
        } else {
            dom_ok || dow_ok
        }
    }

    /// The first matching minute of the day at or after `minute_of_day`.
    fn first_time_from(&self, minute_of_day: u32) -> Option<u32> {
        let hour = minute_of_day / 60;
        let minute = minute_of_day % 60;
        if self.hours & (1 << hour) != 0 {
            if let Some(m) = next_bit(self.minutes, minute) {
                return Some(hour * 60 + m);
            }
        }
        let next_hour = next_bit(u64::from(self.hours), hour + 1)?;
        let first_minute = next_bit(self.minutes, 0)?;
        Some(next_hour * 60 + first_minute)
    }
}

impl FromStr for Schedule {
    type Err = CronError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Schedule::parse(s)
    }
}

/// The lowest set bit of `bits` at position `from` or above.
fn next_bit(bits: u64, from: u32) -> Option<u32> {
    if from >= 64 {
        return None;
    }
    let rest = bits >> from;
    (rest != 0).then(|| from + rest.trailing_zeros())
}

fn parse_field(field: CronField, text: &str) -> Result<u64, CronError> {
    let mut bits = 0u64;
    for part in text.split(',') {
        if part.is_empty() {
            return Err(CronError::EmptyPart { field, list: text.to_string() });
        }
        bits |= parse_part(field, part)?;
    }
    Ok(bits)
}

fn parse_part(field: CronField, part: &str) -> Result<u64, CronError> {
    let invalid = || CronError::Invalid { field, token: part.to_string() };
    let (range, step) = match part.split_once('/') {
        Some((range, step)) => {
            let step = parse_number(step).ok_or_else(invalid)?;
            if step == 0 {
                return Err(CronError::ZeroStep { field, token: part.to_string() });
            }
            (range, Some(step))
        }
        None => (part, None),
    };

    let (start, end) = if range == "*" {
        (field.min(), field.implicit_max())
    } else if let Some((a, b)) = range.split_once('-') {
        let start = parse_value(field, a).ok_or_else(invalid)?;
        let end = parse_value(field, b).ok_or_else(invalid)?;
        check_range(field, start)?;
        check_range(field, end)?;
        if start > end {
            return Err(CronError::BackwardsRange { field, start, end });
        }
        (start, end)
    } else {
        let start = parse_value(field, range).ok_or_else(invalid)?;
        check_range(field, start)?;
        match step {
            Some(_) => (start, field.implicit_max().max(start)),
            None => (start, start),
        }
    };

    let step = step.unwrap_or(1) as usize;
    let mut bits = 0u64;
    for value in (start..=end).step_by(step) {
        // Day-of-week 7 is another spelling of Sunday.
        let value = if field == CronField::DayOfWeek && value == 7 { 0 } else { value };
        bits |= 1 << value;
    }
    Ok(bits)
}

fn check_range(field: CronField, value: u32) -> Result<(), CronError> {
    if (field.min()..=field.max()).contains(&value) {
        Ok(())
    } else {
        Err(CronError::OutOfRange { field, value, min: field.min(), max: field.max() })
    }
}

/// A plain decimal number (digits only, no sign).
fn parse_number(token: &str) -> Option<u32> {
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    token.parse().ok()
}

/// A number, or a month / weekday name where the field has names.
fn parse_value(field: CronField, token: &str) -> Option<u32> {
    if let Some(n) = parse_number(token) {
        return Some(n);
    }
    field.names().iter().position(|name| name.eq_ignore_ascii_case(token)).map(|i| field.min() + i as u32)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (`month` 1–12).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    // Shift the year to start in March so the leap day is the last one.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400; // 0..=399
    let shifted_month = i64::from((month + 9) % 12); // March = 0
    let day_of_year = (153 * shifted_month + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // 719_468 days separate 0000-03-01 from 1970-01-01.
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian date `(year, month, day)` of a day number
/// counted from 1970-01-01.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097; // 0..=146_096
    let year_of_era = (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153; // March = 0
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Day of the week of a day number, Sunday = 0 (1970-01-01 was a Thursday).
fn weekday(days: i64) -> u32 {
    (days + 4).rem_euclid(7) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(expr: &str) -> Schedule {
        Schedule::parse(expr).unwrap_or_else(|e| panic!("{expr:?} should parse: {e}"))
    }

    fn bits(values: &[u32]) -> u64 {
        values.iter().fold(0, |acc, v| acc | (1u64 << v))
    }

    // ---- calendar math -------------------------------------------------

    #[test]
    fn calendar_round_trips_and_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        // 2000-02-29 = 951782400 s (date -u -d 2000-02-29 +%s).
        assert_eq!(days_from_civil(2000, 2, 29), 951_782_400 / 86_400);
        // 1900-03-01 = -2203891200 s.
        assert_eq!(days_from_civil(1900, 3, 1), -2_203_891_200 / 86_400);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        for d in -800_000..800_000 {
            let (y, m, day) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, day), d);
        }
        assert_eq!(weekday(0), 4); // Thursday
        assert_eq!(weekday(-1), 3); // Wednesday
    }

    // ---- parsing -------------------------------------------------------

    #[test]
    fn parses_star_numbers_and_lists() {
        let sch = s("* * * * *");
        assert_eq!(sch.minutes, (1u64 << 60) - 1);
        assert_eq!(sch.hours, (1u32 << 24) - 1);
        assert_eq!(sch.days_of_month, !1u32);
        assert_eq!(sch.months, 0b1_1111_1111_1110);
        assert_eq!(sch.days_of_week, 0b111_1111);
        assert!(sch.dom_any && sch.dow_any);

        let sch = s("5 4 3 2 1");
        assert_eq!(sch.minutes, bits(&[5]));
        assert_eq!(u64::from(sch.hours), bits(&[4]));
        assert_eq!(u64::from(sch.days_of_month), bits(&[3]));
        assert_eq!(u64::from(sch.months), bits(&[2]));
        assert_eq!(u64::from(sch.days_of_week), bits(&[1]));
        assert!(!sch.dom_any && !sch.dow_any);

        let sch = s("0,15,30,45 1,2 * * *");
        assert_eq!(sch.minutes, bits(&[0, 15, 30, 45]));
        assert_eq!(u64::from(sch.hours), bits(&[1, 2]));
    }

    #[test]
    fn parses_ranges_and_steps() {
        assert_eq!(s("10-13 * * * *").minutes, bits(&[10, 11, 12, 13]));
        assert_eq!(s("*/15 * * * *").minutes, bits(&[0, 15, 30, 45]));
        assert_eq!(s("10-30/10 * * * *").minutes, bits(&[10, 20, 30]));
        assert_eq!(s("50/3 * * * *").minutes, bits(&[50, 53, 56, 59]));
        assert_eq!(s("1-5,50/5 * * * *").minutes, bits(&[1, 2, 3, 4, 5, 50, 55]));
        assert_eq!(u64::from(s("0 */6 * * *").hours), bits(&[0, 6, 12, 18]));
        assert_eq!(u64::from(s("0 0 */10 * *").days_of_month), bits(&[1, 11, 21, 31]));
        assert_eq!(u64::from(s("0 0 1 */4 *").months), bits(&[1, 5, 9]));
        assert_eq!(s("7 * * * *").minutes, bits(&[7]));
        // A step wider than the range keeps only the start.
        assert_eq!(s("5/100 * * * *").minutes, bits(&[5]));
    }

    #[test]
    fn parses_names_case_insensitively() {
        let sch = s("0 0 * jan,Mar-MAY,dec mon-fri");
        assert_eq!(u64::from(sch.months), bits(&[1, 3, 4, 5, 12]));
        assert_eq!(u64::from(sch.days_of_week), bits(&[1, 2, 3, 4, 5]));
        assert_eq!(s("0 0 * * SUN,sat").days_of_week, 0b100_0001);
        assert_eq!(s("0 0 * FEB/5 *").months, s("0 0 * 2,7,12 *").months);
    }

    #[test]
    fn day_of_week_seven_is_sunday() {
        assert_eq!(s("0 0 * * 7"), s("0 0 * * 0"));
        assert_eq!(s("0 0 * * 5-7").days_of_week, bits(&[0, 5, 6]) as u8);
        assert_eq!(s("0 0 * * 0-7").days_of_week, 0b111_1111);
        // `a/n` runs to Saturday.
        assert_eq!(s("0 0 * * 1/2").days_of_week, bits(&[1, 3, 5]) as u8);
    }

    #[test]
    fn macros_expand() {
        assert_eq!(s("@yearly"), s("0 0 1 1 *"));
        assert_eq!(s("@annually"), s("0 0 1 1 *"));
        assert_eq!(s("@monthly"), s("0 0 1 * *"));
        assert_eq!(s("@weekly"), s("0 0 * * 0"));
        assert_eq!(s("@daily"), s("0 0 * * *"));
        assert_eq!(s("@midnight"), s("0 0 * * *"));
        assert_eq!(s("@hourly"), s("0 * * * *"));
        assert_eq!(s("  @Hourly "), s("0 * * * *"));
    }

    #[test]
    fn from_str_and_whitespace() {
        let a: Schedule = "0  9\t* *   MON-FRI".parse().unwrap();
        assert_eq!(a, s("0 9 * * 1-5"));
        assert!("nope".parse::<Schedule>().is_err());
    }

    // ---- errors --------------------------------------------------------

    fn err(expr: &str) -> CronError {
        match Schedule::parse(expr) {
            Ok(sch) => panic!("{expr:?} should be rejected, got {sch:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn rejects_wrong_field_count() {
        assert_eq!(err(""), CronError::FieldCount { found: 0 });
        assert_eq!(err("* * * *"), CronError::FieldCount { found: 4 });
        assert_eq!(err("* * * * * *"), CronError::FieldCount { found: 6 });
        assert_eq!(err("@reboot"), CronError::UnknownMacro("@reboot".into()));
    }

    #[test]
    fn rejects_empty_parts() {
        assert_eq!(err("1,,2 * * * *"), CronError::EmptyPart { field: CronField::Minute, list: "1,,2".into() });
        assert!(matches!(err("* 3, * * *"), CronError::EmptyPart { field: CronField::Hour, .. }));
        assert!(matches!(err("* * * ,1 *"), CronError::EmptyPart { field: CronField::Month, .. }));
    }

    #[test]
    fn rejects_out_of_range() {
        let e = err("61 * * * *");
        assert_eq!(e.to_string(), "minute: 61 is out of range 0-59");
        assert_eq!(err("* 24 * * *").to_string(), "hour: 24 is out of range 0-23");
        assert_eq!(err("* * 0 * *").to_string(), "day-of-month: 0 is out of range 1-31");
        assert_eq!(err("* * * 13 *").to_string(), "month: 13 is out of range 1-12");
        assert_eq!(err("* * * * 8").to_string(), "day-of-week: 8 is out of range 0-7");
        assert!(matches!(err("* * 1-32 * *"), CronError::OutOfRange { value: 32, .. }));
        assert!(matches!(err("70/5 * * * *"), CronError::OutOfRange { value: 70, .. }));
    }

    #[test]
    fn rejects_backwards_ranges() {
        assert_eq!(err("30-10 * * * *"), CronError::BackwardsRange { field: CronField::Minute, start: 30, end: 10 });
        assert_eq!(err("* * * * FRI-MON").to_string(), "day-of-week: range 5-1 starts after it ends");
    }

    #[test]
    fn rejects_zero_step() {
        assert_eq!(err("*/0 * * * *"), CronError::ZeroStep { field: CronField::Minute, token: "*/0".into() });
        assert!(matches!(err("* 1-5/0 * * *"), CronError::ZeroStep { .. }));
    }

    #[test]
    fn rejects_garbage() {
        for (expr, field, token) in [
            ("x * * * *", CronField::Minute, "x"),
            ("*/ * * * *", CronField::Minute, "*/"),
            ("/5 * * * *", CronField::Minute, "/5"),
            ("*/x * * * *", CronField::Minute, "*/x"),
            ("1/2/3 * * * *", CronField::Minute, "1/2/3"),
            ("* -1 * * *", CronField::Hour, "-1"),
            ("* 1-2-3 * * *", CronField::Hour, "1-2-3"),
            ("* +1 * * *", CronField::Hour, "+1"),
            ("* * JAN * *", CronField::DayOfMonth, "JAN"),
            ("* * * JANUARY *", CronField::Month, "JANUARY"),
            ("* * * MON *", CronField::Month, "MON"),
            ("* * * * JAN", CronField::DayOfWeek, "JAN"),
            ("* * * * 99999999999", CronField::DayOfWeek, "99999999999"),
            ("** * * * *", CronField::Minute, "**"),
        ] {
            assert_eq!(err(expr), CronError::Invalid { field, token: token.into() }, "{expr}");
        }
        assert_eq!(err("* * * * x").to_string(), "day-of-week: cannot parse \"x\"");
    }

    // ---- next_after ----------------------------------------------------
    // Expected values come from `date -u -d <iso>Z +%s%3N`.

    #[test]
    fn every_fifteen_minutes() {
        let sch = s("*/15 * * * *");
        // 2025-01-10T12:07Z -> 12:15Z
        assert_eq!(sch.next_after(1_736_510_820_000), Some(1_736_511_300_000));
        // 12:15Z exactly -> 12:30Z (strictly after)
        assert_eq!(sch.next_after(1_736_511_300_000), Some(1_736_512_200_000));
        // 12:14:59.999Z -> 12:15Z
        assert_eq!(sch.next_after(1_736_511_299_999), Some(1_736_511_300_000));
    }

    #[test]
    fn weekdays_skip_the_weekend() {
        let sch = s("0 9 * * MON-FRI");
        // Friday 2025-01-10T18:00Z -> Monday 2025-01-13T09:00Z
        assert_eq!(sch.next_after(1_736_532_000_000), Some(1_736_758_800_000));
    }

    #[test]
    fn first_of_month_at_month_and_year_end() {
        let sch = s("0 0 1 * *");
        // 2025-01-31T12:00Z -> 2025-02-01T00:00Z
        assert_eq!(sch.next_after(1_738_324_800_000), Some(1_738_368_000_000));
        // 2025-12-31T23:59:30Z -> 2026-01-01T00:00Z
        assert_eq!(sch.next_after(1_767_225_570_000), Some(1_767_225_600_000));
        // Exactly 2026-01-01T00:00Z -> 2026-02-01T00:00Z (1769904000 s)
        assert_eq!(sch.next_after(1_767_225_600_000), Some(1_769_904_000_000));
    }

    #[test]
    fn thirty_first_skips_short_months() {
        let sch = s("0 0 31 * *");
        // 2025-01-31T00:00Z -> 2025-03-31T00:00Z
        assert_eq!(sch.next_after(1_738_281_600_000), Some(1_743_379_200_000));
    }

    #[test]
    fn leap_day() {
        let sch = s("0 0 29 2 *");
        // 2025-03-01T00:00Z -> 2028-02-29T00:00Z
        assert_eq!(sch.next_after(1_740_787_200_000), Some(1_835_395_200_000));
        // 1999-01-01 -> 2000-02-29 (2000 is a leap year)
        assert_eq!(sch.next_after(915_148_800_000), Some(951_782_400_000));
        // 1900-03-01 -> 1904-02-29 (1900 is not)
        assert_eq!(sch.next_after(-2_203_891_200_000), Some(-2_077_747_200_000));
        // From 2097-03-01 the next is 2104 (2100 is not leap): beyond 5 years.
        assert_eq!(sch.next_after(4_012_934_400_000), None);
    }

    #[test]
    fn impossible_date_is_none() {
        assert_eq!(s("0 0 30 2 *").next_after(1_735_689_600_000), None);
    }

    #[test]
    fn day_of_month_or_day_of_week() {
        let sch = s("0 0 13 * FRI");
        // Thu 2025-06-12T08:00Z -> Fri 13 June 2025
        assert_eq!(sch.next_after(1_749_715_200_000), Some(1_749_772_800_000));
        // Exactly Fri 13 June -> Fri 20 June (weekday alone matches)
        assert_eq!(sch.next_after(1_749_772_800_000), Some(1_750_377_600_000));
        // Sat 2025-07-12 -> Sun 13 July (day-of-month alone matches)
        assert_eq!(sch.next_after(1_752_278_400_000), Some(1_752_364_800_000));

        // With one side `*`, both must hold.
        let fridays = s("0 0 * * FRI");
        assert_eq!(fridays.next_after(1_752_278_400_000), Some(1_752_796_800_000));
        let thirteenths = s("0 0 13 * *");
        assert_eq!(thirteenths.next_after(1_749_772_800_000), Some(1_752_364_800_000));
    }

    #[test]
    fn hourly() {
        let sch = s("@hourly");
        // 2025-01-10T12:00:00.001Z -> 13:00Z
        assert_eq!(sch.next_after(1_736_510_400_001), Some(1_736_514_000_000));
        // 12:59:59Z -> 13:00Z
        assert_eq!(sch.next_after(1_736_513_999_000), Some(1_736_514_000_000));
        // Exactly 13:00Z -> 14:00Z
        assert_eq!(sch.next_after(1_736_514_000_000), Some(1_736_517_600_000));
    }

    #[test]
    fn strictly_after_even_on_a_match() {
        let every_minute = s("* * * * *");
        // 2025-01-10T12:00Z -> 12:01Z
        assert_eq!(every_minute.next_after(1_736_510_400_000), Some(1_736_510_460_000));
        let daily = s("@daily");
        // 2025-01-01T00:00Z -> 2025-01-02T00:00Z
        assert_eq!(daily.next_after(1_735_689_600_000), Some(1_735_689_600_000 + 86_400_000));
    }

    #[test]
    fn before_the_epoch() {
        let sch = s("@yearly");
        // 1969-12-31T12:00Z -> 1970-01-01T00:00Z
        assert_eq!(sch.next_after(-43_200_000), Some(0));
        assert_eq!(sch.next_after(-1), Some(0));
    }

    #[test]
    fn results_are_whole_minutes_and_match() {
        let sch = s("7,37 */5 * * SAT");
        let mut t = 1_736_510_820_123;
        for _ in 0..200 {
            let next = sch.next_after(t).unwrap();
            assert!(next > t);
            assert_eq!(next % MINUTE_MS, 0);
            let minutes = next / MINUTE_MS;
            let day = minutes.div_euclid(MINUTES_PER_DAY);
            let mod_ = minutes.rem_euclid(MINUTES_PER_DAY);
            assert_eq!(weekday(day), 6);
            assert_eq!((mod_ / 60) % 5, 0);
            assert!(mod_ % 60 == 7 || mod_ % 60 == 37);
            t = next;
        }
    }

    #[test]
    fn extreme_inputs_do_not_panic() {
        let sch = s("* * * * *");
        assert_eq!(sch.next_after(i64::MAX), None);
        assert!(sch.next_after(i64::MIN).is_some());
    }
}
