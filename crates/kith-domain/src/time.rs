//! Time is Unix milliseconds (`i64`) everywhere: portable across both databases.

use std::time::{SystemTime, UNIX_EPOCH};

pub const SECOND_MS: i64 = 1_000;
pub const MINUTE_MS: i64 = 60 * SECOND_MS;
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// The wall clock, in Unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A moment as a UTC calendar date and time of day (file names, archive
/// timestamps); `month` and `day` count from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcDateTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

impl UtcDateTime {
    pub fn from_ms(ms: i64) -> UtcDateTime {
        let (year, month, day) = crate::cron::civil_from_days(ms.div_euclid(DAY_MS));
        let in_day = ms.rem_euclid(DAY_MS) / SECOND_MS;
        UtcDateTime {
            year,
            month,
            day,
            hour: (in_day / 3600) as u32,
            minute: (in_day / 60 % 60) as u32,
            second: (in_day % 60) as u32,
        }
    }

    /// `YYYY-MM-DD`.
    pub fn date(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_date_time_of_ms() {
        let t = UtcDateTime::from_ms(951_827_696_000); // 2000-02-29 12:34:56 UTC
        assert_eq!((t.year, t.month, t.day, t.hour, t.minute, t.second), (2000, 2, 29, 12, 34, 56));
        assert_eq!(t.date(), "2000-02-29");
        assert_eq!(UtcDateTime::from_ms(-1).date(), "1969-12-31");
    }
}
