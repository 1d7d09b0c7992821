//! Per-sender rate limits of the `inbox.send` job (issue #4 §4).
//!
//! Each sender (a channel) has a durable slot row in the database; a send
//! claims it in a transaction before it calls the provider, so several
//! workers and nodes against one database never exceed the limit together.
//! The rule is strict spacing: two sends from one sender are at least one
//! interval apart (interval = 1 s / rate, 2 % wider so that network jitter
//! never shows a provider one send too many in a window). A send that
//! cannot go yet takes the next free slot in line (`tail_ms`) and its job
//! is deferred to it — not a failure, not an attempt. When it wakes and
//! the sender is still busy (an earlier send ran late), it waits for the
//! sender's next time again, keeping its place ahead of newcomers.
//!
//! Where a provider also limits sends to one person (WhatsApp: 1 per 6 s;
//! Telegram: about 1 per second in a chat), a second slot row per
//! recipient applies the same rule. A provider's 429 pushes the sender's
//! next time back by its `Retry-After`.
//!
//! Defaults, per channel kind, overridable with the channel setting
//! `rate_limits: {"per_second": n, "recipient_interval_seconds": s}`:
//!
//! | kind | sender | one recipient |
//! |---|---|---|
//! | `twilio_sms` long code | 1/s | — |
//! | `twilio_sms` toll-free (+1 800/833/844/855/866/877/888) | 3/s | — |
//! | `twilio_sms` short code (5–6 digits) | 30/s | — |
//! | `twilio_sms` Messaging Service | 1/s (the pool's floor: raise it to its numbers' sum) | — |
//! | `whatsapp` | 80/s per phone number id | 1 per 6 s |
//! | `messenger`, `instagram` | 10/s per page or account | — |
//! | `telegram` | 30/s per bot (Telegram's broadcast limit) | 1 per s per chat |
//! | `viber` | 10/s per bot (Viber publishes no figure; a cautious one) | — |
//! | `email` | none (the SMTP server's own limits apply) | — |

use crate::{App, Result};
use kith_store::outbound::{self as rows, SlotRow};
use serde_json::{Map, Value};
use uuid::Uuid;

/// The channel setting holding overrides.
pub const SETTING: &str = "rate_limits";
const MAX_PER_SECOND: f64 = 1000.0;
const MIN_PER_SECOND: f64 = 0.001;
const MAX_RECIPIENT_INTERVAL_S: f64 = 86_400.0;
/// Slots are spaced this much wider than the limit.
const MARGIN: f64 = 1.02;

/// The limits a channel sends under.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimits {
    /// Sends per second from the sender; None = unlimited.
    pub per_second: Option<f64>,
    /// Seconds between two sends to the same recipient; None = no limit.
    pub recipient_interval_s: Option<f64>,
}

impl RateLimits {
    /// Milliseconds between two sends of the sender.
    pub fn sender_interval_ms(&self) -> Option<i64> {
        self.per_second.map(|r| (1000.0 / r * MARGIN).ceil() as i64)
    }

    pub fn recipient_interval_ms(&self) -> Option<i64> {
        self.recipient_interval_s.filter(|s| *s > 0.0).map(|s| (s * 1000.0 * MARGIN).ceil() as i64)
    }
}

/// What a Twilio `from` is, for its default rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TwilioSenderClass {
    LongCode,
    TollFree,
    ShortCode,
    MessagingService,
}

impl TwilioSenderClass {
    pub fn of(from: Option<&str>) -> TwilioSenderClass {
        let Some(from) = from.map(str::trim).filter(|f| !f.is_empty()) else {
            return TwilioSenderClass::MessagingService;
        };
        let digits: String = from.chars().filter(char::is_ascii_digit).collect();
        if !from.starts_with('+') && (5..=6).contains(&digits.len()) && digits.len() == from.len() {
            return TwilioSenderClass::ShortCode;
        }
        const TOLL_FREE: [&str; 7] = ["800", "833", "844", "855", "866", "877", "888"];
        if digits.len() == 11 && digits.starts_with('1') && TOLL_FREE.contains(&&digits[1..4]) {
            return TwilioSenderClass::TollFree;
        }
        TwilioSenderClass::LongCode
    }

    pub fn per_second(self) -> f64 {
        match self {
            TwilioSenderClass::LongCode | TwilioSenderClass::MessagingService => 1.0,
            TwilioSenderClass::TollFree => 3.0,
            TwilioSenderClass::ShortCode => 30.0,
        }
    }
}

/// The defaults of a kind of channel (see the module's table).
pub fn defaults(kind: &str, config: &Map<String, Value>) -> RateLimits {
    let (per_second, recipient) = match kind {
        "twilio_sms" => {
            let from = config.get("from").and_then(Value::as_str);
            (Some(TwilioSenderClass::of(from).per_second()), None)
        }
        "whatsapp" => (Some(80.0), Some(6.0)),
        "messenger" | "instagram" => (Some(10.0), None),
        "telegram" => (Some(30.0), Some(1.0)),
        "viber" => (Some(10.0), None),
        _ => (None, None),
    };
    RateLimits { per_second, recipient_interval_s: recipient }
}

/// A channel's limits: its kind's defaults with its `rate_limits` setting
/// applied.
pub fn for_channel(kind: &str, config: &Map<String, Value>) -> RateLimits {
    let mut limits = defaults(kind, config);
    if let Some(o) = config.get(SETTING).and_then(Value::as_object) {
        if let Some(r) = o.get("per_second").and_then(Value::as_f64) {
            limits.per_second = Some(r);
        }
        if let Some(s) = o.get("recipient_interval_seconds").and_then(Value::as_f64) {
            limits.recipient_interval_s = (s > 0.0).then_some(s);
        }
    }
    limits
}

/// Check a `rate_limits` setting: an object with `per_second` (0.001–1000)
/// and/or `recipient_interval_seconds` (0–86400; 0 turns the per-recipient
/// limit off). Returns the normalised value.
pub fn check_setting(value: &Value) -> std::result::Result<Value, String> {
    let Some(o) = value.as_object() else {
        return Err("must be an object with `per_second` and/or `recipient_interval_seconds`".into());
    };
    let mut out = Map::new();
    for (k, v) in o {
        let n = v.as_f64().filter(|n| n.is_finite());
        match k.as_str() {
            "per_second" => match n.filter(|n| (MIN_PER_SECOND..=MAX_PER_SECOND).contains(n)) {
                Some(n) => {
                    out.insert(k.clone(), Value::from(n));
                }
                None => return Err(format!("`per_second` must be a number from {MIN_PER_SECOND} to {MAX_PER_SECOND}")),
            },
            "recipient_interval_seconds" => match n.filter(|n| (0.0..=MAX_RECIPIENT_INTERVAL_S).contains(n)) {
                Some(n) => {
                    out.insert(k.clone(), Value::from(n));
                }
                None => {
                    return Err(format!(
                        "`recipient_interval_seconds` must be a number from 0 to {MAX_RECIPIENT_INTERVAL_S}"
                    ))
                }
            },
            other => {
                return Err(format!("`{other}` is not a rate limit (use `per_second`, `recipient_interval_seconds`)"))
            }
        }
    }
    Ok(Value::Object(out))
}

/// The outcome of trying to take a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Send now (the slots are taken).
    Go,
    /// A newcomer lined up: wait for this slot (recorded on the message).
    Reserved(i64),
    /// A send that already waited found the sender busy: try again then.
    Wait(i64),
}

/// The pure rule over the locked slot rows (each with its interval):
/// returns the claim and the rows to write back.
pub fn decide(slots: &[(SlotRow, i64)], reserved: bool, now: i64) -> (Claim, Vec<SlotRow>) {
    let free = |s: &SlotRow, i: i64| s.next_ms <= now && (reserved || s.tail_ms + i <= now);
    if slots.iter().all(|(s, i)| free(s, *i)) {
        let rows = slots.iter().map(|(s, i)| SlotRow { next_ms: now + i, tail_ms: s.tail_ms.max(now) }).collect();
        return (Claim::Go, rows);
    }
    if reserved {
        let at = slots.iter().map(|(s, _)| s.next_ms).max().unwrap_or(now).max(now + 1);
        return (Claim::Wait(at), slots.iter().map(|(s, _)| *s).collect());
    }
    // Line up behind every slot handed out, on each scope; only the scopes
    // that decide the time record the reservation (a per-recipient wait must
    // not hold up the sender's other recipients).
    let candidate = |s: &SlotRow, i: i64| (s.tail_ms + i).max(s.next_ms).max(now);
    let at = slots.iter().map(|(s, i)| candidate(s, *i)).max().unwrap_or(now);
    let rows = slots
        .iter()
        .map(|(s, i)| if candidate(s, *i) == at { SlotRow { next_ms: s.next_ms, tail_ms: at } } else { *s })
        .collect();
    (Claim::Reserved(at), rows)
}

/// Scopes and intervals a send to `peer` is limited by, in lock order.
fn scopes(limits: &RateLimits, peer: &str) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    if let Some(i) = limits.sender_interval_ms() {
        out.push((String::new(), i));
    }
    if let Some(i) = limits.recipient_interval_ms() {
        out.push((format!("to:{peer}"), i));
    }
    out.sort();
    out
}

/// Take the slots a send needs, in one transaction. A newcomer that must
/// wait records its reserved slot on the message in that transaction.
#[allow(clippy::too_many_arguments)]
pub async fn claim(
    app: &App,
    org_id: Uuid,
    channel_id: Uuid,
    message_id: Uuid,
    peer: &str,
    limits: &RateLimits,
    reserved: bool,
    now: i64,
) -> Result<Claim> {
    let scopes = scopes(limits, peer);
    if scopes.is_empty() {
        return Ok(Claim::Go);
    }
    let mut tx = app.db().begin().await?;
    let mut locked = Vec::with_capacity(scopes.len());
    for (scope, interval) in &scopes {
        locked.push((rows::lock_slot(&mut tx, org_id, channel_id, scope, now).await?, *interval));
    }
    let (claim, updated) = decide(&locked, reserved, now);
    for ((scope, _), (row, (old, _))) in scopes.iter().zip(updated.iter().zip(locked.iter())) {
        if row != old {
            rows::set_slot(&mut tx, channel_id, scope, *row).await?;
        }
    }
    if let Claim::Reserved(at) = claim {
        rows::set_schedule(&mut tx, org_id, message_id, Some(at), None).await?;
    }
    tx.commit().await?;
    Ok(claim)
}

/// The provider said "too many": nothing goes from this sender before
/// `until_ms`, and sends waiting in line move behind it.
pub async fn push_back(app: &App, org_id: Uuid, channel_id: Uuid, until_ms: i64, now: i64) -> Result<()> {
    let mut tx = app.db().begin().await?;
    let row = rows::lock_slot(&mut tx, org_id, channel_id, "", now).await?;
    let pushed = SlotRow { next_ms: row.next_ms.max(until_ms), tail_ms: row.tail_ms.max(until_ms) };
    if pushed != row {
        rows::set_slot(&mut tx, channel_id, "", pushed).await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn twilio_senders_are_classified_by_their_number() {
        let cases: &[(Option<&str>, TwilioSenderClass, f64)] = &[
            (Some("+14155550100"), TwilioSenderClass::LongCode, 1.0),
            (Some("+18005550100"), TwilioSenderClass::TollFree, 3.0),
            (Some("+18885550100"), TwilioSenderClass::TollFree, 3.0),
            (Some("+18335550100"), TwilioSenderClass::TollFree, 3.0),
            (Some("+18105550100"), TwilioSenderClass::LongCode, 1.0),
            (Some("+448005550100"), TwilioSenderClass::LongCode, 1.0),
            (Some("12345"), TwilioSenderClass::ShortCode, 30.0),
            (Some("123456"), TwilioSenderClass::ShortCode, 30.0),
            (Some("1234567"), TwilioSenderClass::LongCode, 1.0),
            (Some("MyBrand"), TwilioSenderClass::LongCode, 1.0),
            (None, TwilioSenderClass::MessagingService, 1.0),
        ];
        for (from, class, rate) in cases {
            assert_eq!(TwilioSenderClass::of(*from), *class, "{from:?}");
            assert_eq!(class.per_second(), *rate);
        }
    }

    #[test]
    fn settings_override_defaults_and_are_checked() {
        let cfg = |v: Value| v.as_object().unwrap().clone();
        let wa = for_channel("whatsapp", &cfg(json!({})));
        assert_eq!((wa.per_second, wa.recipient_interval_s), (Some(80.0), Some(6.0)));
        assert_eq!(wa.sender_interval_ms(), Some(13));
        assert_eq!(wa.recipient_interval_ms(), Some(6120));
        let tf = for_channel("twilio_sms", &cfg(json!({"from": "+18775550100"})));
        assert_eq!(tf.per_second, Some(3.0));
        let custom = for_channel(
            "twilio_sms",
            &cfg(json!({"from": "+14155550100", "rate_limits": {"per_second": 5, "recipient_interval_seconds": 2}})),
        );
        assert_eq!(custom.sender_interval_ms(), Some(204));
        assert_eq!(custom.recipient_interval_ms(), Some(2040));
        let off = for_channel("whatsapp", &cfg(json!({"rate_limits": {"recipient_interval_seconds": 0}})));
        assert_eq!(off.recipient_interval_ms(), None);
        assert_eq!(for_channel("email", &cfg(json!({}))).sender_interval_ms(), None);

        assert_eq!(check_setting(&json!({"per_second": 5})).unwrap(), json!({"per_second": 5.0}));
        assert!(check_setting(&json!({"per_second": 0})).is_err());
        assert!(check_setting(&json!({"per_second": 5000})).is_err());
        assert!(check_setting(&json!({"per_second": "5"})).is_err());
        assert!(check_setting(&json!({"recipient_interval_seconds": -1})).is_err());
        assert!(check_setting(&json!({"burst": 3})).is_err());
        assert!(check_setting(&json!(5)).is_err());
    }

    fn slot(next_ms: i64, tail_ms: i64) -> SlotRow {
        SlotRow { next_ms, tail_ms }
    }

    #[test]
    fn newcomers_go_when_free_and_line_up_otherwise() {
        // Idle sender: go, next send one interval later.
        let (c, rows) = decide(&[(slot(0, 0), 200)], false, 1_000);
        assert_eq!((c, rows), (Claim::Go, vec![slot(1_200, 1_000)]));
        // Busy: the first in line gets the next time, the next one after it.
        let (c, rows) = decide(&[(slot(1_200, 1_000), 200)], false, 1_010);
        assert_eq!((c, rows.clone()), (Claim::Reserved(1_200), vec![slot(1_200, 1_200)]));
        let (c, _) = decide(&[(rows[0], 200)], false, 1_020);
        assert_eq!(c, Claim::Reserved(1_400));
        // A newcomer may not jump the line even when the sender is free.
        let (c, _) = decide(&[(slot(1_200, 1_400), 200)], false, 1_250);
        assert_eq!(c, Claim::Reserved(1_600));
        // The one that waited goes at its time.
        let (c, rows) = decide(&[(slot(1_200, 1_400), 200)], true, 1_201);
        assert_eq!((c, rows), (Claim::Go, vec![slot(1_401, 1_400)]));
        // Woken while an earlier one ran late: wait for the sender, keep the line.
        let (c, rows) = decide(&[(slot(1_401, 1_400), 200)], true, 1_400);
        assert_eq!((c, rows), (Claim::Wait(1_401), vec![slot(1_401, 1_400)]));
    }

    #[test]
    fn a_recipient_limit_does_not_hold_up_the_sender() {
        let sender = (slot(1_000, 900), 13);
        let pair = (slot(7_000, 1_000), 6_000);
        let (c, rows) = decide(&[sender, pair], false, 1_100);
        assert_eq!(c, Claim::Reserved(7_000));
        assert_eq!(rows, vec![sender.0, slot(7_000, 7_000)], "only the deciding scope records the reservation");
        // A recipient never written to does not hold anything up.
        let (c, _) = decide(&[sender, (slot(0, 0), 6_000)], false, 1_700_000_000_000);
        assert_eq!(c, Claim::Go);
    }

    #[test]
    fn spacing_never_falls_below_the_interval() {
        // Simulate arrivals, late wake-ups and waits: consecutive sends are
        // always one interval apart or more.
        let mut s = slot(0, 0);
        let mut waiting: Vec<i64> = Vec::new();
        let mut sends = Vec::new();
        let mut now = 0;
        for step in 0..400 {
            now += 37;
            if step % 3 == 0 {
                let (c, rows) = decide(&[(s, 200)], false, now);
                s = rows[0];
                match c {
                    Claim::Go => sends.push(now),
                    Claim::Reserved(at) | Claim::Wait(at) => waiting.push(at),
                }
            }
            waiting.sort();
            let due: Vec<i64> = waiting.iter().copied().filter(|at| *at <= now).collect();
            waiting.retain(|at| *at > now);
            for _ in due {
                // Wake late by up to 50 ms.
                let t = now + (step % 5) * 10;
                let (c, rows) = decide(&[(s, 200)], true, t);
                s = rows[0];
                match c {
                    Claim::Go => sends.push(t),
                    Claim::Reserved(at) | Claim::Wait(at) => waiting.push(at),
                }
            }
        }
        sends.sort();
        assert!(sends.len() > 50);
        for w in sends.windows(2) {
            assert!(w[1] - w[0] >= 200, "{w:?}");
        }
    }
}
