//! Quiet hours (TCPA, `reference/protocols.md` §1.9): automated and bulk
//! first messages go out only inside an allowed window of the recipient's
//! local day — by default 08:00 to 21:00.
//!
//! Where the recipient is: the contact's own time zone (an IANA name) when
//! this table knows it; otherwise every zone of the phone number's region,
//! and then only when the window is open in *all* of them (the most
//! restrictive reading). A `+1` number is read by its area code where the
//! area code pins Alaska, Hawaii or a territory, and otherwise as "somewhere
//! between Newfoundland and the Pacific coast".
//!
//! The time-zone table is hand-written and compact (no tz database in the
//! binary): standard offsets and four daylight-saving rules (United States
//! and Canada, the European Union, south-east Australia, New Zealand), as
//! in force since 2023. Its limits, on purpose:
//! * zones whose rules it does not model (Chile, Paraguay, Israel, Iran,
//!   Egypt, Lebanon…) are not listed, so a contact in one of them falls back
//!   to the phone region, or to no quiet hours when that is unknown too;
//! * past rule changes are ignored (it answers for "now", not for 2015);
//! * border towns with their own rules (Mexico's border, parts of Arizona
//!   and Indiana) read as their listed zone.
//!
//! Everything here is pure: times are Unix milliseconds in UTC.

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;

/// The allowed part of a local day, in minutes after local midnight:
/// `start` inclusive, `end` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start_min: u32,
    pub end_min: u32,
}

impl Window {
    /// 08:00 to 21:00.
    pub const DEFAULT: Window = Window { start_min: 8 * 60, end_min: 21 * 60 };

    pub fn new(start_min: u32, end_min: u32) -> Option<Window> {
        (start_min < end_min && end_min <= 24 * 60).then_some(Window { start_min, end_min })
    }

    fn contains(self, minute_of_day: i64) -> bool {
        (self.start_min as i64..self.end_min as i64).contains(&minute_of_day)
    }
}

/// A daylight-saving rule: when clocks go one hour forward and back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dst {
    None,
    /// United States and Canada: second Sunday of March 02:00 local standard
    /// time to first Sunday of November 02:00 local daylight time.
    NorthAmerica,
    /// European Union and the UK: last Sunday of March to last Sunday of
    /// October, both at 01:00 UTC.
    Europe,
    /// New South Wales, Victoria, Tasmania, ACT, South Australia: first
    /// Sunday of October 02:00 standard to first Sunday of April 03:00
    /// daylight (southern summer).
    Australia,
    /// New Zealand: last Sunday of September 02:00 standard to first Sunday
    /// of April 03:00 daylight.
    NewZealand,
}

/// A time zone as this module knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zone {
    pub name: &'static str,
    /// Standard offset from UTC in minutes (east positive).
    pub std_offset_min: i32,
    pub dst: Dst,
}

const fn z(name: &'static str, std_offset_min: i32, dst: Dst) -> Zone {
    Zone { name, std_offset_min, dst }
}

use Dst::{Australia as AU, Europe as EU, NewZealand as NZ, None as NO, NorthAmerica as NA};

/// The zones this module knows, by IANA name.
pub const ZONES: &[Zone] = &[
    z("UTC", 0, NO),
    z("Etc/UTC", 0, NO),
    // North America
    z("America/St_Johns", -210, NA),
    z("America/Halifax", -240, NA),
    z("America/Moncton", -240, NA),
    z("America/Puerto_Rico", -240, NO),
    z("America/Santo_Domingo", -240, NO),
    z("America/Barbados", -240, NO),
    z("America/Port_of_Spain", -240, NO),
    z("America/New_York", -300, NA),
    z("America/Detroit", -300, NA),
    z("America/Toronto", -300, NA),
    z("America/Indiana/Indianapolis", -300, NA),
    z("America/Kentucky/Louisville", -300, NA),
    z("America/Jamaica", -300, NO),
    z("America/Panama", -300, NO),
    z("America/Bogota", -300, NO),
    z("America/Lima", -300, NO),
    z("America/Cancun", -300, NO),
    z("America/Chicago", -360, NA),
    z("America/Winnipeg", -360, NA),
    z("America/Regina", -360, NO),
    z("America/Mexico_City", -360, NO),
    z("America/Monterrey", -360, NO),
    z("America/Guatemala", -360, NO),
    z("America/Costa_Rica", -360, NO),
    z("America/Denver", -420, NA),
    z("America/Boise", -420, NA),
    z("America/Edmonton", -420, NA),
    z("America/Phoenix", -420, NO),
    z("America/Hermosillo", -420, NO),
    z("America/Mazatlan", -420, NO),
    z("America/Los_Angeles", -480, NA),
    z("America/Vancouver", -480, NA),
    z("America/Tijuana", -480, NA),
    z("America/Anchorage", -540, NA),
    z("America/Adak", -600, NA),
    z("Pacific/Honolulu", -600, NO),
    z("Pacific/Pago_Pago", -660, NO),
    z("Pacific/Guam", 600, NO),
    z("Pacific/Saipan", 600, NO),
    // South America
    z("America/Sao_Paulo", -180, NO),
    z("America/Argentina/Buenos_Aires", -180, NO),
    z("America/Montevideo", -180, NO),
    z("America/Noronha", -120, NO),
    z("America/Manaus", -240, NO),
    z("America/Rio_Branco", -300, NO),
    z("America/Caracas", -240, NO),
    // Europe
    z("Atlantic/Azores", -60, EU),
    z("Europe/London", 0, EU),
    z("Europe/Dublin", 0, EU),
    z("Europe/Lisbon", 0, EU),
    z("Atlantic/Canary", 0, EU),
    z("Europe/Berlin", 60, EU),
    z("Europe/Paris", 60, EU),
    z("Europe/Madrid", 60, EU),
    z("Europe/Rome", 60, EU),
    z("Europe/Amsterdam", 60, EU),
    z("Europe/Brussels", 60, EU),
    z("Europe/Luxembourg", 60, EU),
    z("Europe/Zurich", 60, EU),
    z("Europe/Vienna", 60, EU),
    z("Europe/Prague", 60, EU),
    z("Europe/Warsaw", 60, EU),
    z("Europe/Copenhagen", 60, EU),
    z("Europe/Stockholm", 60, EU),
    z("Europe/Oslo", 60, EU),
    z("Europe/Budapest", 60, EU),
    z("Europe/Belgrade", 60, EU),
    z("Europe/Zagreb", 60, EU),
    z("Europe/Ljubljana", 60, EU),
    z("Europe/Bratislava", 60, EU),
    z("Europe/Malta", 60, EU),
    z("Europe/Athens", 120, EU),
    z("Europe/Helsinki", 120, EU),
    z("Europe/Bucharest", 120, EU),
    z("Europe/Sofia", 120, EU),
    z("Europe/Riga", 120, EU),
    z("Europe/Vilnius", 120, EU),
    z("Europe/Tallinn", 120, EU),
    z("Europe/Kyiv", 120, EU),
    z("Europe/Kiev", 120, EU),
    z("Asia/Nicosia", 120, EU),
    z("Europe/Istanbul", 180, NO),
    z("Europe/Kaliningrad", 120, NO),
    z("Europe/Moscow", 180, NO),
    z("Europe/Samara", 240, NO),
    z("Asia/Yekaterinburg", 300, NO),
    z("Asia/Omsk", 360, NO),
    z("Asia/Novosibirsk", 420, NO),
    z("Asia/Krasnoyarsk", 420, NO),
    z("Asia/Irkutsk", 480, NO),
    z("Asia/Yakutsk", 540, NO),
    z("Asia/Vladivostok", 600, NO),
    z("Asia/Magadan", 660, NO),
    z("Asia/Kamchatka", 720, NO),
    // Africa and the Middle East
    z("Africa/Lagos", 60, NO),
    z("Africa/Johannesburg", 120, NO),
    z("Africa/Nairobi", 180, NO),
    z("Asia/Riyadh", 180, NO),
    z("Asia/Dubai", 240, NO),
    // Asia and Oceania
    z("Asia/Karachi", 300, NO),
    z("Asia/Kolkata", 330, NO),
    z("Asia/Calcutta", 330, NO),
    z("Asia/Dhaka", 360, NO),
    z("Asia/Bangkok", 420, NO),
    z("Asia/Ho_Chi_Minh", 420, NO),
    z("Asia/Jakarta", 420, NO),
    z("Asia/Makassar", 480, NO),
    z("Asia/Jayapura", 540, NO),
    z("Asia/Shanghai", 480, NO),
    z("Asia/Hong_Kong", 480, NO),
    z("Asia/Taipei", 480, NO),
    z("Asia/Singapore", 480, NO),
    z("Asia/Kuala_Lumpur", 480, NO),
    z("Asia/Manila", 480, NO),
    z("Asia/Tokyo", 540, NO),
    z("Asia/Seoul", 540, NO),
    z("Australia/Perth", 480, NO),
    z("Australia/Darwin", 570, NO),
    z("Australia/Adelaide", 570, AU),
    z("Australia/Brisbane", 600, NO),
    z("Australia/Sydney", 600, AU),
    z("Australia/Melbourne", 600, AU),
    z("Australia/Hobart", 600, AU),
    z("Pacific/Auckland", 720, NZ),
];

/// The zone of an IANA name, if this table knows it.
pub fn zone(name: &str) -> Option<Zone> {
    ZONES.iter().find(|z| z.name.eq_ignore_ascii_case(name.trim())).copied()
}

fn zones(names: &[&str]) -> Vec<Zone> {
    names.iter().filter_map(|n| zone(n)).collect()
}

/// Continental United States and Canada.
const NANP_MAINLAND: &[&str] = &[
    "America/St_Johns",
    "America/Halifax",
    "America/New_York",
    "America/Chicago",
    "America/Regina",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
];

/// `+1` area codes that pin a place outside the mainland.
const NANP_AREAS: &[(&str, &str)] = &[
    ("907", "America/Anchorage"),
    ("808", "Pacific/Honolulu"),
    ("787", "America/Puerto_Rico"),
    ("939", "America/Puerto_Rico"),
    ("340", "America/Puerto_Rico"),
    ("671", "Pacific/Guam"),
    ("670", "Pacific/Saipan"),
    ("684", "Pacific/Pago_Pago"),
    ("876", "America/Jamaica"),
    ("658", "America/Jamaica"),
    ("809", "America/Santo_Domingo"),
    ("829", "America/Santo_Domingo"),
    ("849", "America/Santo_Domingo"),
    ("246", "America/Barbados"),
    ("868", "America/Port_of_Spain"),
];

/// Country calling codes and the zones of their country (longest code wins).
const REGIONS: &[(&str, &[&str])] = &[
    (
        "7",
        &[
            "Europe/Kaliningrad",
            "Europe/Moscow",
            "Europe/Samara",
            "Asia/Yekaterinburg",
            "Asia/Omsk",
            "Asia/Novosibirsk",
            "Asia/Irkutsk",
            "Asia/Yakutsk",
            "Asia/Vladivostok",
            "Asia/Magadan",
            "Asia/Kamchatka",
        ],
    ),
    ("20", &["Africa/Johannesburg"]),
    ("27", &["Africa/Johannesburg"]),
    ("30", &["Europe/Athens"]),
    ("31", &["Europe/Amsterdam"]),
    ("32", &["Europe/Brussels"]),
    ("33", &["Europe/Paris"]),
    ("34", &["Europe/Madrid", "Atlantic/Canary"]),
    ("351", &["Europe/Lisbon", "Atlantic/Azores"]),
    ("352", &["Europe/Luxembourg"]),
    ("353", &["Europe/Dublin"]),
    ("356", &["Europe/Malta"]),
    ("357", &["Asia/Nicosia"]),
    ("358", &["Europe/Helsinki"]),
    ("359", &["Europe/Sofia"]),
    ("36", &["Europe/Budapest"]),
    ("370", &["Europe/Vilnius"]),
    ("371", &["Europe/Riga"]),
    ("372", &["Europe/Tallinn"]),
    ("380", &["Europe/Kyiv"]),
    ("381", &["Europe/Belgrade"]),
    ("385", &["Europe/Zagreb"]),
    ("386", &["Europe/Ljubljana"]),
    ("39", &["Europe/Rome"]),
    ("40", &["Europe/Bucharest"]),
    ("41", &["Europe/Zurich"]),
    ("420", &["Europe/Prague"]),
    ("421", &["Europe/Bratislava"]),
    ("43", &["Europe/Vienna"]),
    ("44", &["Europe/London"]),
    ("45", &["Europe/Copenhagen"]),
    ("46", &["Europe/Stockholm"]),
    ("47", &["Europe/Oslo"]),
    ("48", &["Europe/Warsaw"]),
    ("49", &["Europe/Berlin"]),
    ("51", &["America/Lima"]),
    ("52", &["America/Cancun", "America/Mexico_City", "America/Hermosillo", "America/Tijuana"]),
    ("54", &["America/Argentina/Buenos_Aires"]),
    ("55", &["America/Noronha", "America/Sao_Paulo", "America/Manaus", "America/Rio_Branco"]),
    ("57", &["America/Bogota"]),
    ("58", &["America/Caracas"]),
    ("598", &["America/Montevideo"]),
    ("60", &["Asia/Kuala_Lumpur"]),
    ("61", &["Australia/Perth", "Australia/Darwin", "Australia/Adelaide", "Australia/Brisbane", "Australia/Sydney"]),
    ("62", &["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"]),
    ("63", &["Asia/Manila"]),
    ("64", &["Pacific/Auckland"]),
    ("65", &["Asia/Singapore"]),
    ("66", &["Asia/Bangkok"]),
    ("81", &["Asia/Tokyo"]),
    ("82", &["Asia/Seoul"]),
    ("84", &["Asia/Ho_Chi_Minh"]),
    ("852", &["Asia/Hong_Kong"]),
    ("86", &["Asia/Shanghai"]),
    ("880", &["Asia/Dhaka"]),
    ("886", &["Asia/Taipei"]),
    ("90", &["Europe/Istanbul"]),
    ("91", &["Asia/Kolkata"]),
    ("92", &["Asia/Karachi"]),
    ("234", &["Africa/Lagos"]),
    ("254", &["Africa/Nairobi"]),
    ("966", &["Asia/Riyadh"]),
    ("971", &["Asia/Dubai"]),
];

/// The zones a phone number (E.164, `+` and digits) may be in; empty when
/// its country is not in the table.
pub fn zones_for_phone(e164: &str) -> Vec<Zone> {
    let Some(digits) = e164.strip_prefix('+').filter(|d| d.len() >= 8 && d.bytes().all(|b| b.is_ascii_digit())) else {
        return vec![];
    };
    if let Some(national) = digits.strip_prefix('1') {
        let area = &national[..3.min(national.len())];
        return match NANP_AREAS.iter().find(|(a, _)| *a == area) {
            Some((_, name)) => zones(&[name]),
            None => zones(NANP_MAINLAND),
        };
    }
    REGIONS
        .iter()
        .filter(|(cc, _)| digits.starts_with(cc))
        .max_by_key(|(cc, _)| cc.len())
        .map(|(_, names)| zones(names))
        .unwrap_or_default()
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil year of a day number.
fn year_of(days: i64) -> i64 {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + i64::from(m <= 2)
}

/// 0 = Sunday.
fn weekday(days: i64) -> i64 {
    (days + 4).rem_euclid(7)
}

/// The day number of the `n`-th (1-based) Sunday of a month.
fn nth_sunday(y: i64, m: i64, n: i64) -> i64 {
    let first = days_from_civil(y, m, 1);
    first + (7 - weekday(first)) % 7 + 7 * (n - 1)
}

fn last_sunday(y: i64, m: i64) -> i64 {
    let next = if m == 12 { days_from_civil(y + 1, 1, 1) } else { days_from_civil(y, m + 1, 1) };
    let last = next - 1;
    last - weekday(last)
}

impl Zone {
    /// Whether daylight time is in force at `utc_ms`.
    fn in_dst(&self, utc_ms: i64) -> bool {
        let std = self.std_offset_min as i64 * MINUTE_MS;
        let y = year_of((utc_ms + std).div_euclid(DAY_MS));
        // Transition instants in UTC.
        match self.dst {
            Dst::None => false,
            Dst::NorthAmerica => {
                let start = nth_sunday(y, 3, 2) * DAY_MS + 2 * HOUR_MS - std;
                let end = nth_sunday(y, 11, 1) * DAY_MS + 2 * HOUR_MS - (std + HOUR_MS);
                (start..end).contains(&utc_ms)
            }
            Dst::Europe => {
                let start = last_sunday(y, 3) * DAY_MS + HOUR_MS;
                let end = last_sunday(y, 10) * DAY_MS + HOUR_MS;
                (start..end).contains(&utc_ms)
            }
            Dst::Australia | Dst::NewZealand => {
                // Southern summer: daylight time from spring of one year to
                // autumn of the next.
                let end = nth_sunday(y, 4, 1) * DAY_MS + 3 * HOUR_MS - (std + HOUR_MS);
                let start = match self.dst {
                    Dst::Australia => nth_sunday(y, 10, 1),
                    _ => last_sunday(y, 9),
                } * DAY_MS
                    + 2 * HOUR_MS
                    - std;
                utc_ms < end || utc_ms >= start
            }
        }
    }

    /// Offset from UTC in minutes at `utc_ms`.
    pub fn offset_min(&self, utc_ms: i64) -> i64 {
        self.std_offset_min as i64 + if self.in_dst(utc_ms) { 60 } else { 0 }
    }

    /// Local wall time at `utc_ms`, as milliseconds since the local epoch.
    fn local_ms(&self, utc_ms: i64) -> i64 {
        utc_ms + self.offset_min(utc_ms) * MINUTE_MS
    }

    /// Whether the window is open here at `utc_ms`.
    pub fn allows(&self, window: Window, utc_ms: i64) -> bool {
        window.contains(self.local_ms(utc_ms).rem_euclid(DAY_MS) / MINUTE_MS)
    }

    /// The first instant at or after `utc_ms` at which the window is open
    /// here.
    pub fn next_open(&self, window: Window, utc_ms: i64) -> i64 {
        if self.allows(window, utc_ms) {
            return utc_ms;
        }
        let local = self.local_ms(utc_ms);
        let day = local.div_euclid(DAY_MS);
        let minute = local.rem_euclid(DAY_MS) / MINUTE_MS;
        let open_day = if minute < window.start_min as i64 { day } else { day + 1 };
        let target_local = open_day * DAY_MS + window.start_min as i64 * MINUTE_MS;
        // The UTC instant of that wall time: guess with the offset now, then
        // correct once with the offset at the guess (a DST change between).
        let guess = target_local - self.offset_min(utc_ms) * MINUTE_MS;
        let at = target_local - self.offset_min(guess) * MINUTE_MS;
        if at > utc_ms && self.allows(window, at) {
            at
        } else {
            // The start fell in a skipped hour: open as soon as the day allows.
            let mut t = at.max(utc_ms + MINUTE_MS);
            while !self.allows(window, t) {
                t += MINUTE_MS;
            }
            t
        }
    }
}

/// Whether a message may go now to someone who may be in any of `zones`.
/// No zones (nowhere known) means no quiet hours apply.
pub fn allowed(zones: &[Zone], window: Window, utc_ms: i64) -> bool {
    zones.iter().all(|z| z.allows(window, utc_ms))
}

/// The first instant at or after `utc_ms` at which the window is open in
/// every one of `zones`. When the zones are so far apart that their windows
/// never overlap, the answer is the opening in the first zone (the region's
/// main one) — the best a sender can do there.
pub fn next_allowed(zones: &[Zone], window: Window, utc_ms: i64) -> i64 {
    let mut t = utc_ms;
    // Each step moves to the opening of a zone that is closed; the windows
    // overlap within two days if they overlap at all.
    for _ in 0..64 {
        match zones.iter().find(|z| !z.allows(window, t)) {
            None => return t,
            Some(z) => t = z.next_open(window, t),
        }
        if t > utc_ms + 3 * DAY_MS {
            break;
        }
    }
    zones.first().map(|z| z.next_open(window, utc_ms)).unwrap_or(utc_ms)
}

/// When a first message to this recipient may go: `None` when it may go at
/// `utc_ms`, else the instant the window opens. The contact's own zone wins
/// over the phone's region.
pub fn hold_until(time_zone: Option<&str>, phone_e164: Option<&str>, window: Window, utc_ms: i64) -> Option<i64> {
    let zones = match time_zone.and_then(zone) {
        Some(z) => vec![z],
        None => phone_e164.map(zones_for_phone).unwrap_or_default(),
    };
    if allowed(&zones, window, utc_ms) {
        None
    } else {
        Some(next_allowed(&zones, window, utc_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unix ms of a UTC date and time.
    fn utc(y: i64, mo: i64, d: i64, h: i64, mi: i64) -> i64 {
        days_from_civil(y, mo, d) * DAY_MS + h * HOUR_MS + mi * MINUTE_MS
    }

    #[test]
    fn civil_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(weekday(days_from_civil(2025, 3, 9)), 0, "9 March 2025 is a Sunday");
        for (y, m, d) in [(1999, 12, 31), (2000, 1, 1), (2024, 2, 29), (2025, 12, 31), (2100, 3, 1)] {
            assert_eq!(year_of(days_from_civil(y, m, d)), y, "{y}-{m}-{d}");
        }
        assert_eq!(nth_sunday(2025, 3, 2), days_from_civil(2025, 3, 9));
        assert_eq!(nth_sunday(2025, 11, 1), days_from_civil(2025, 11, 2));
        assert_eq!(last_sunday(2025, 3), days_from_civil(2025, 3, 30));
        assert_eq!(last_sunday(2025, 10), days_from_civil(2025, 10, 26));
        assert_eq!(nth_sunday(2025, 10, 1), days_from_civil(2025, 10, 5));
        assert_eq!(nth_sunday(2025, 4, 1), days_from_civil(2025, 4, 6));
        assert_eq!(last_sunday(2025, 9), days_from_civil(2025, 9, 28));
    }

    /// (zone, UTC instant, expected offset in minutes): each DST boundary
    /// a minute before and at the change.
    #[test]
    fn offsets_across_dst_boundaries() {
        let cases: &[(&str, i64, i64)] = &[
            // New York: 2025-03-09 02:00 EST = 07:00 UTC; 2025-11-02 02:00 EDT = 06:00 UTC.
            ("America/New_York", utc(2025, 3, 9, 6, 59), -300),
            ("America/New_York", utc(2025, 3, 9, 7, 0), -240),
            ("America/New_York", utc(2025, 11, 2, 5, 59), -240),
            ("America/New_York", utc(2025, 11, 2, 6, 0), -300),
            ("America/Los_Angeles", utc(2025, 3, 9, 9, 59), -480),
            ("America/Los_Angeles", utc(2025, 3, 9, 10, 0), -420),
            ("America/Los_Angeles", utc(2024, 11, 3, 8, 59), -420),
            ("America/Los_Angeles", utc(2024, 11, 3, 9, 0), -480),
            ("America/St_Johns", utc(2025, 7, 1, 12, 0), -150),
            ("America/Phoenix", utc(2025, 7, 1, 12, 0), -420),
            // Europe: 01:00 UTC on the last Sundays.
            ("Europe/Berlin", utc(2025, 3, 30, 0, 59), 60),
            ("Europe/Berlin", utc(2025, 3, 30, 1, 0), 120),
            ("Europe/Berlin", utc(2025, 10, 26, 0, 59), 120),
            ("Europe/Berlin", utc(2025, 10, 26, 1, 0), 60),
            ("Europe/London", utc(2024, 3, 31, 1, 0), 60),
            ("Europe/London", utc(2024, 10, 27, 1, 0), 0),
            // Sydney: 2025-04-06 03:00 AEDT = 2025-04-05 16:00 UTC; 2025-10-05 02:00 AEST = 2025-10-04 16:00 UTC.
            ("Australia/Sydney", utc(2025, 4, 5, 15, 59), 660),
            ("Australia/Sydney", utc(2025, 4, 5, 16, 0), 600),
            ("Australia/Sydney", utc(2025, 10, 4, 15, 59), 600),
            ("Australia/Sydney", utc(2025, 10, 4, 16, 0), 660),
            ("Australia/Sydney", utc(2025, 12, 31, 23, 0), 660),
            ("Australia/Brisbane", utc(2025, 12, 31, 23, 0), 600),
            // Auckland: 2025-09-28 02:00 NZST = 2025-09-27 14:00 UTC; 2025-04-06 03:00 NZDT = 2025-04-05 14:00 UTC.
            ("Pacific/Auckland", utc(2025, 9, 27, 13, 59), 720),
            ("Pacific/Auckland", utc(2025, 9, 27, 14, 0), 780),
            ("Pacific/Auckland", utc(2025, 4, 5, 13, 59), 780),
            ("Pacific/Auckland", utc(2025, 4, 5, 14, 0), 720),
            ("Asia/Kolkata", utc(2025, 1, 1, 0, 0), 330),
        ];
        for (name, at, offset) in cases {
            assert_eq!(zone(name).unwrap().offset_min(*at), *offset, "{name} at {at}");
        }
    }

    /// (zone, UTC instant, allowed?, next opening): the window's edges on
    /// both sides of each DST change.
    #[test]
    fn window_edges_and_next_opening_across_dst() {
        let w = Window::DEFAULT;
        let cases: &[(&str, i64, bool, i64)] = &[
            // New York on Saturday 8 March (EST) and Sunday 9 March (EDT).
            ("America/New_York", utc(2025, 3, 8, 12, 59), false, utc(2025, 3, 8, 13, 0)),
            ("America/New_York", utc(2025, 3, 8, 13, 0), true, utc(2025, 3, 8, 13, 0)),
            ("America/New_York", utc(2025, 3, 9, 1, 59), true, utc(2025, 3, 9, 1, 59)), // 20:59 EST
            // 22:00 EST on the 8th: the window opens at 08:00 EDT the next day, an hour earlier in UTC.
            ("America/New_York", utc(2025, 3, 9, 3, 0), false, utc(2025, 3, 9, 12, 0)),
            ("America/New_York", utc(2025, 3, 9, 11, 59), false, utc(2025, 3, 9, 12, 0)),
            ("America/New_York", utc(2025, 3, 10, 0, 59), true, utc(2025, 3, 10, 0, 59)), // 20:59 EDT
            ("America/New_York", utc(2025, 3, 10, 1, 0), false, utc(2025, 3, 10, 12, 0)),
            // Back to EST on 2 November: 08:00 is 13:00 UTC again.
            ("America/New_York", utc(2025, 11, 2, 2, 0), false, utc(2025, 11, 2, 13, 0)),
            ("America/New_York", utc(2025, 11, 2, 12, 30), false, utc(2025, 11, 2, 13, 0)),
            // Berlin over the spring change (08:00 CEST = 06:00 UTC).
            ("Europe/Berlin", utc(2025, 3, 29, 21, 0), false, utc(2025, 3, 30, 6, 0)),
            ("Europe/Berlin", utc(2025, 3, 30, 6, 0), true, utc(2025, 3, 30, 6, 0)),
            ("Europe/Berlin", utc(2025, 10, 25, 19, 0), false, utc(2025, 10, 26, 7, 0)),
            // Sydney over the April change (08:00 AEST = 22:00 UTC the day before).
            ("Australia/Sydney", utc(2025, 4, 5, 11, 0), false, utc(2025, 4, 5, 22, 0)),
            ("Australia/Sydney", utc(2025, 4, 4, 20, 59), false, utc(2025, 4, 4, 21, 0)),
            // Kolkata has half hours.
            ("Asia/Kolkata", utc(2025, 1, 1, 2, 29), false, utc(2025, 1, 1, 2, 30)),
            ("Asia/Kolkata", utc(2025, 1, 1, 15, 29), true, utc(2025, 1, 1, 15, 29)),
            ("Asia/Kolkata", utc(2025, 1, 1, 15, 30), false, utc(2025, 1, 2, 2, 30)),
        ];
        for (name, at, open, next) in cases {
            let z = zone(name).unwrap();
            assert_eq!(z.allows(w, *at), *open, "{name} at {at}");
            assert_eq!(z.next_open(w, *at), *next, "{name} from {at}");
        }
    }

    #[test]
    fn a_north_american_number_is_held_to_the_narrowest_window() {
        let w = Window::DEFAULT;
        let mainland = zones_for_phone("+14155550100");
        assert_eq!(mainland.len(), NANP_MAINLAND.len());
        // Summer: Pacific 08:00 PDT = 15:00 UTC to Newfoundland 21:00 NDT = 23:30 UTC.
        assert!(!allowed(&mainland, w, utc(2025, 7, 1, 14, 59)));
        assert!(allowed(&mainland, w, utc(2025, 7, 1, 15, 0)));
        assert!(allowed(&mainland, w, utc(2025, 7, 1, 23, 29)));
        assert!(!allowed(&mainland, w, utc(2025, 7, 1, 23, 30)));
        assert_eq!(next_allowed(&mainland, w, utc(2025, 7, 1, 23, 30)), utc(2025, 7, 2, 15, 0));
        // Winter: 08:00 PST = 16:00 UTC to 21:00 NST = 00:30 UTC.
        assert_eq!(next_allowed(&mainland, w, utc(2025, 1, 15, 3, 0)), utc(2025, 1, 15, 16, 0));
        assert!(allowed(&mainland, w, utc(2025, 1, 16, 0, 29)));
        // Arizona keeps MST: in summer it opens with the Pacific coast, in winter an hour before it.
        // Over the March change the opening moves from 16:00 to 15:00 UTC.
        assert_eq!(next_allowed(&mainland, w, utc(2025, 3, 9, 1, 0)), utc(2025, 3, 9, 15, 0));
        assert_eq!(next_allowed(&mainland, w, utc(2025, 3, 8, 1, 0)), utc(2025, 3, 8, 16, 0));
        // Area codes that pin a place.
        assert_eq!(zones_for_phone("+18085550100"), vec![zone("Pacific/Honolulu").unwrap()]);
        assert_eq!(zones_for_phone("+19075550100"), vec![zone("America/Anchorage").unwrap()]);
        // Longest calling code wins; unknown regions have no zones.
        assert_eq!(zones_for_phone("+353861234567"), vec![zone("Europe/Dublin").unwrap()]);
        assert_eq!(zones_for_phone("+34612345678").len(), 2);
        assert!(zones_for_phone("+999123456789").is_empty());
        assert!(zones_for_phone("not a phone").is_empty());
    }

    #[test]
    fn wide_regions_intersect_or_fall_back_to_their_main_zone() {
        let w = Window::DEFAULT;
        // Russia: 08:00 at UTC+2 (06:00 UTC) to 21:00 at UTC+12 (09:00 UTC).
        let russia = zones_for_phone("+79161234567");
        assert_eq!(next_allowed(&russia, w, utc(2025, 6, 1, 10, 0)), utc(2025, 6, 2, 6, 0));
        assert!(allowed(&russia, w, utc(2025, 6, 2, 8, 59)));
        assert!(!allowed(&russia, w, utc(2025, 6, 2, 9, 0)));
        // Zones whose windows never all overlap (any two 13-hour windows do; these three do not).
        let apart: Vec<Zone> =
            ["Europe/London", "Asia/Singapore", "America/Los_Angeles"].iter().map(|n| zone(n).unwrap()).collect();
        let at = utc(2025, 6, 1, 12, 0);
        assert_eq!(next_allowed(&apart, w, at), apart[0].next_open(w, at));
        assert!(allowed(&[], w, at), "nowhere known: no quiet hours");
    }

    #[test]
    fn the_contacts_zone_wins_over_the_phone_region() {
        let w = Window::DEFAULT;
        let at = utc(2025, 7, 1, 14, 0); // 10:00 in New York, 07:00 in Los Angeles
        assert_eq!(hold_until(Some("America/New_York"), Some("+14155550100"), w, at), None);
        assert_eq!(hold_until(None, Some("+14155550100"), w, at), Some(utc(2025, 7, 1, 15, 0)));
        assert_eq!(hold_until(Some("Mars/Olympus"), Some("+14155550100"), w, at), Some(utc(2025, 7, 1, 15, 0)));
        assert_eq!(hold_until(Some("Europe/London"), None, w, utc(2025, 7, 1, 6, 59)), Some(utc(2025, 7, 1, 7, 0)));
        assert_eq!(hold_until(None, None, w, at), None);
        assert_eq!(Window::new(600, 500), None);
    }

    /// Every known zone: over two years sampled every 97 minutes, the
    /// opening found is open, and nothing earlier after the start is.
    #[test]
    fn next_opening_is_the_first_open_instant_everywhere() {
        let w = Window::DEFAULT;
        for z in ZONES {
            let mut t = utc(2024, 1, 1, 0, 0);
            while t < utc(2026, 1, 1, 0, 0) {
                let next = z.next_open(w, t);
                assert!(next >= t && z.allows(w, next), "{} from {t}", z.name);
                if next > t {
                    // One minute before the opening is closed, and so is the start.
                    assert!(!z.allows(w, next - MINUTE_MS) || next - MINUTE_MS < t, "{} from {t}", z.name);
                    assert!(next - t <= DAY_MS + HOUR_MS, "{} from {t}", z.name);
                }
                t += 97 * MINUTE_MS;
            }
        }
    }
}
