//! Per-sender rate limits of the `inbox.send` job (issue #4 §4).
//!
//! Each sender (a channel) has a durable slot row in the database; a send
//! claims it before it calls the provider (a write conditional on the row it
//! read, or a transaction holding the row), so several workers and nodes
//! against one database never exceed the limit together.
//! The rule is spacing on a grid: each send takes the sender's next time,
//! one interval (1 s / rate, 2 % wider so that network jitter never shows a
//! provider one send too many in a window) after the time the one before
//! it had. A send may go a little before its time (the tolerance: a quarter
//! of what the 2 % leaves in a second, at most half an interval) when the one
//! before it went late, so one late wake-up does not push every later send
//! back; a grid with interval T and tolerance τ fits at most
//! 1 + (1000 + τ) / T sends in 1 s, which the tolerance keeps within the
//! rate. A send that cannot go yet takes the next free slot in line
//! (`tail_ms`) and waits for it — in memory when it is near (see
//! `worker::wait_in_memory`), otherwise its job is deferred to it: not a
//! failure, not an attempt. When it wakes and the sender is still busy (an
//! earlier send ran late), it waits for the sender's next time again,
//! keeping its place ahead of newcomers. Sends claim a little ahead of their
//! time ([`CLAIM_LEAD_MS`]) and the call then waits for it in memory, so the
//! claim's own delay (a database write) does not make the call late.
//!
//! Where a provider also limits sends to one person (WhatsApp: 1 per 6 s;
//! Telegram: about 1 per second in a chat), a second slot row per
//! recipient applies the same rule. A provider's 429 gives the refused send
//! the sender's next slot (or the time its `Retry-After` names) and moves
//! the whole waiting line back behind it, in one row write: the sender's row
//! counts how far its line has moved, each waiting send remembers that count
//! from when it got its slot, and adds the difference when it wakes. So a
//! refusal costs one slot, the line keeps its order, and no two waiting
//! sends are ever sent to the same time (which made them wake, collide and
//! wait again, over and over).
//!
//! As a call leaves, [`space_call`] holds it if this process has already
//! sent the sender's rate within the last ⌊rate⌋ intervals (the delay between
//! a claim and its call varies). It sees this process's calls only: with
//! several nodes sending for one channel, the slots alone space them.
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
use std::collections::{HashMap, VecDeque};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};
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
        self.sender_spacing().map(|s| s.interval_ms)
    }

    /// The sender's grid: its interval and how early a send may go.
    pub fn sender_spacing(&self) -> Option<Spacing> {
        self.per_second.map(Spacing::for_rate)
    }

    pub fn recipient_interval_ms(&self) -> Option<i64> {
        self.recipient_interval_s.filter(|s| *s > 0.0).map(|s| (s * 1000.0 * MARGIN).ceil() as i64)
    }
}

/// The grid of one scope: sends `interval_ms` apart, one allowed up to
/// `tolerance_ms` before its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spacing {
    pub interval_ms: i64,
    pub tolerance_ms: i64,
}

impl Spacing {
    /// Strict spacing: never before its time.
    pub fn strict(interval_ms: i64) -> Spacing {
        Spacing { interval_ms, tolerance_ms: 0 }
    }

    /// The grid for `per_second` sends a second: the interval with the
    /// margin, and a tolerance of a quarter of the room the margin leaves in
    /// a 1-second window, at most half an interval, so that every 1-second
    /// window holds `floor(per_second)` sends or fewer. The rest of the room
    /// is for the jitter between taking a slot and the provider seeing the
    /// call: with half of it, a busy machine showed the provider 26 calls of
    /// a 25/s sender in one second.
    pub fn for_rate(per_second: f64) -> Spacing {
        let interval_ms = (1000.0 / per_second * MARGIN).ceil() as i64;
        if per_second < 1.0 {
            return Spacing::strict(interval_ms);
        }
        // At most n in 1 s: 1 + ⌊(1000 + τ) / T⌋ <= n  ⇔  τ < n·T - 1000.
        let most = per_second.floor() as i64;
        let tolerance_ms = ((most * interval_ms - 1001) / 4).clamp(0, interval_ms / 2);
        Spacing { interval_ms, tolerance_ms }
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
    /// The slots are taken: the call leaves at this time (now, or a moment
    /// ahead when the claim came early; see [`CLAIM_LEAD_MS`]).
    Go(i64),
    /// Wait in line for this slot (recorded on the message): a newcomer
    /// lining up, or a send whose line was moved back by a 429 meanwhile.
    Reserved(i64),
    /// A send that already waited found the sender busy: try again then.
    Wait(i64),
}

/// The slot a waiting send holds: its time and the sender's line shift when
/// it was handed out (`None` for slots recorded before shifts existed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reservation {
    pub slot_ms: i64,
    pub shift_ms: Option<i64>,
}

/// How long before its time a send claims its slot. The claim is a write,
/// and on a busy database it takes a few milliseconds; a send
/// that claimed at its time left that much after it, and the sender's grid
/// restarted from there, so every such delay was lost for good (about 2 s
/// per sender over 550 calls). Claiming ahead takes the slot at its time on
/// the grid, and the call then waits the rest in memory: what is late is
/// the claim, not the call.
pub const CLAIM_LEAD_MS: i64 = 15;

/// The pure rule over the locked slot rows (each with its grid; the
/// sender's own row, when it has one, first): returns the claim and the rows
/// to write back. A send may take a slot up to `lead_ms` before its time
/// (`Go` then names the time); the rows move on from that time.
pub fn decide(
    slots: &[(SlotRow, Spacing)],
    reserved: Option<Reservation>,
    now: i64,
    lead_ms: i64,
) -> (Claim, Vec<SlotRow>) {
    let unchanged = || slots.iter().map(|(s, _)| *s).collect::<Vec<_>>();
    let horizon = now + lead_ms;
    if let Some(r) = reserved {
        // The line moved back since this slot was handed out: the slot moved
        // with it.
        let line_shift = slots.first().map_or(0, |(s, _)| s.shift_ms);
        let moved = line_shift - r.shift_ms.unwrap_or(line_shift);
        if moved > 0 && r.slot_ms + moved > horizon {
            return (Claim::Reserved(r.slot_ms + moved), unchanged());
        }
    }
    let waited = reserved.is_some();
    // The earliest a send may go on a scope: its time, less the tolerance;
    // a newcomer also only after every send in line.
    let earliest = |s: &SlotRow, g: &Spacing| {
        let on_grid = s.next_ms - g.tolerance_ms;
        if waited {
            on_grid
        } else {
            on_grid.max(s.tail_ms + g.interval_ms)
        }
    };
    let go_at = slots.iter().map(|(s, g)| earliest(s, g)).max().unwrap_or(now).max(now);
    if go_at <= horizon {
        // The next time is one interval after this send's own time on the
        // grid (its scheduled time when it went early, its time when late).
        let rows = slots
            .iter()
            .map(|(s, g)| SlotRow {
                next_ms: s.next_ms.max(go_at) + g.interval_ms,
                tail_ms: s.tail_ms.max(go_at),
                ..*s
            })
            .collect();
        return (Claim::Go(go_at), rows);
    }
    if waited {
        return (Claim::Wait((go_at - lead_ms).max(now + 1)), unchanged());
    }
    // Line up behind every slot handed out, on each scope; only the scopes
    // that decide the time record the reservation (a per-recipient wait must
    // not hold up the sender's other recipients).
    let candidate = |s: &SlotRow, g: &Spacing| (s.tail_ms + g.interval_ms).max(s.next_ms).max(now);
    let at = slots.iter().map(|(s, g)| candidate(s, g)).max().unwrap_or(now);
    let rows =
        slots.iter().map(|(s, g)| if candidate(s, g) == at { SlotRow { tail_ms: at, ..*s } } else { *s }).collect();
    (Claim::Reserved(at), rows)
}

/// The pure rule of a provider's 429 (see [`push_back`]): when the refused
/// send goes again (`jitter_ms` after the sender's next slot, or at the time
/// the provider named), and the sender's row afterwards.
pub fn decide_push_back(
    row: SlotRow,
    interval: Option<i64>,
    until_ms: i64,
    now: i64,
    jitter_ms: i64,
) -> (i64, SlotRow) {
    let retry_at = if until_ms > now { until_ms.max(row.next_ms) } else { row.next_ms.max(now) + jitter_ms };
    let Some(interval) = interval else {
        return (retry_at, SlotRow { next_ms: retry_at, ..row });
    };
    // Every send waiting in line (all hold slots from `next_ms` on) moves
    // back so that the first of them goes one interval after the retry.
    let delta = (retry_at + interval - row.next_ms).max(0);
    let pushed = SlotRow { next_ms: retry_at, tail_ms: row.tail_ms + delta, shift_ms: row.shift_ms + delta };
    (retry_at, pushed)
}

/// Scopes and grids a send to `peer` is limited by, in lock order (the
/// sender's own scope, `""`, first).
fn scopes(limits: &RateLimits, peer: &str) -> Vec<(String, Spacing)> {
    let mut out = Vec::new();
    if let Some(g) = limits.sender_spacing() {
        out.push((String::new(), g));
    }
    if let Some(i) = limits.recipient_interval_ms() {
        out.push((format!("to:{peer}"), Spacing::strict(i)));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Take the slots a send needs. A send that must wait records its slot (and
/// the sender's line shift) on the message; the slot it holds afterwards is
/// returned beside the claim (what the message's row now says, for the next
/// claim after a wait). A `Reserved` or `Wait` claim names when to come
/// back: the slot less the tolerance and [`CLAIM_LEAD_MS`]. A `Go` claim
/// names when the call may leave.
///
/// A sender-only claim reads the slot row and writes it back only if it is
/// unchanged (one statement; a lost race falls back to the transaction): a
/// transaction's round trips held SQLite's one writer connection, and every
/// other write queued behind them (claims took 2.7 ms at the median with
/// 500 sends a second). A send lined up this way records its slot in a
/// second statement; a crash between the two leaves that slot unused, and
/// the send lines up again when its job runs.
#[allow(clippy::too_many_arguments)]
pub async fn claim(
    app: &App,
    org_id: Uuid,
    channel_id: Uuid,
    message_id: Uuid,
    peer: &str,
    limits: &RateLimits,
    reserved: Option<Reservation>,
    now: i64,
) -> Result<(Claim, Option<Reservation>)> {
    let scopes = scopes(limits, peer);
    if scopes.is_empty() {
        return Ok((Claim::Go(now), reserved));
    }
    if let [(scope, grid)] = scopes.as_slice() {
        if let Some(row) = rows::peek_slot(app.db(), channel_id, scope).await? {
            let (claim, updated) = decide(&[(row, *grid)], reserved, now, CLAIM_LEAD_MS);
            let written =
                updated[0] == row || rows::swap_slot(app.db(), channel_id, scope, row, updated[0], now).await?;
            if written {
                let Claim::Reserved(at) = claim else { return Ok((claim, reserved)) };
                let line_shift = if scope.is_empty() { updated[0].shift_ms } else { 0 };
                rows::reserve_slot_now(app.db(), org_id, message_id, at, line_shift).await?;
                return Ok(lined_up(&scopes, &updated, at, line_shift));
            }
        }
    }
    let mut tx = app.db().begin().await?;
    let mut locked = Vec::with_capacity(scopes.len());
    for (scope, grid) in &scopes {
        locked.push((rows::lock_slot(&mut tx, org_id, channel_id, scope, now).await?, *grid));
    }
    let (claim, updated) = decide(&locked, reserved, now, CLAIM_LEAD_MS);
    for ((scope, _), (row, (old, _))) in scopes.iter().zip(updated.iter().zip(locked.iter())) {
        if row != old {
            rows::set_slot(&mut tx, channel_id, scope, *row).await?;
        }
    }
    let outcome = match claim {
        Claim::Reserved(at) => {
            let line_shift = updated.first().filter(|_| scopes[0].0.is_empty()).map_or(0, |s| s.shift_ms);
            rows::reserve_slot(&mut tx, org_id, message_id, at, line_shift).await?;
            lined_up(&scopes, &updated, at, line_shift)
        }
        other => (other, reserved),
    };
    tx.commit().await?;
    Ok(outcome)
}

/// A send lined up for the slot `at`: when it comes back for it, and the
/// reservation it holds. It comes back as early as the scopes that set the
/// slot allow: a send that comes back right at its slot goes a little after
/// it (the wake-up, the claim), and the grid then starts again from there,
/// so every such delay pushed every later send back.
fn lined_up(
    scopes: &[(String, Spacing)],
    updated: &[SlotRow],
    at: i64,
    line_shift: i64,
) -> (Claim, Option<Reservation>) {
    let early = scopes
        .iter()
        .zip(updated)
        .filter(|(_, row)| row.tail_ms == at)
        .map(|((_, grid), _)| grid.tolerance_ms)
        .min()
        .unwrap_or(0);
    (Claim::Reserved(at - early - CLAIM_LEAD_MS), Some(Reservation { slot_ms: at, shift_ms: Some(line_shift) }))
}

/// The moments this process's last calls to each sender left (see
/// [`space_call`]), at most ⌊rate⌋ per sender.
static RECENT_CALLS: LazyLock<Mutex<HashMap<Uuid, VecDeque<Instant>>>> = LazyLock::new(Default::default);

/// Hold a call its claim let go, if need be, until this process has sent at
/// most ⌊rate⌋ calls of the sender in the last ⌊rate⌋ intervals (25 calls
/// in 1,025 ms at 25/s), as the calls leave. The slots space the claims;
/// each call leaves its claim a little later, by a delay that varies (the
/// claim's commit waits for the database), and two such delays can bring
/// calls closer than their slots: under load a provider saw a sixth call
/// of a 5/s sender within one second. This restores the slots' spacing at
/// the moment that counts, and holds a call only in that case, for the few
/// milliseconds of the difference. Senders below 1/s have strict slots.
pub async fn space_call(channel_id: Uuid, limits: &RateLimits) {
    let (Some(most), Some(grid)) = (limits.per_second.map(|r| r.floor() as usize), limits.sender_spacing()) else {
        return;
    };
    if most == 0 {
        return;
    }
    let window = Duration::from_millis(most as u64 * grid.interval_ms as u64);
    loop {
        let hold = {
            let mut all = RECENT_CALLS.lock().expect("recent calls lock");
            let now = Instant::now();
            let sent = all.entry(channel_id).or_default();
            while sent.front().is_some_and(|t| now.duration_since(*t) >= window) {
                sent.pop_front();
            }
            match sent.front() {
                Some(oldest) if sent.len() >= most => window - now.duration_since(*oldest),
                _ => {
                    sent.push_back(now);
                    return;
                }
            }
        };
        tokio::time::sleep(hold).await;
    }
}

/// A refused send without a time from the provider goes again 1 ms to this
/// part of an interval after the sender's next slot (at random). Without
/// it, a sender whose calls fall at a fixed place among other senders' calls
/// keeps that place after a refusal (its line moves by whole intervals): a
/// provider that refuses by its own count or clock (every Nth call, the
/// first calls of each second) then refused that sender over and over —
/// one sender of twenty took 153 refusals where the others took ~55, and
/// finished 15 s after them. A few milliseconds move it among the others
/// (twenty senders of 25/s call ~2 ms apart); each costs its sender as much.
const RETRY_JITTER_PART: i64 = 10;

/// The provider said "too many" to a send: it goes again at the sender's
/// next slot, a little later at random (or at `until_ms` when the provider
/// named a time), and every
/// send waiting in line moves back behind it. A refusal thus costs one
/// slot, not a pause of the whole sender; a provider that wants a pause says
/// so with `Retry-After`. Returns the slot the refused send now holds, and
/// how often the provider has refused this message (counted here).
pub async fn push_back(
    app: &App,
    org_id: Uuid,
    channel_id: Uuid,
    message_id: Uuid,
    limits: &RateLimits,
    until_ms: i64,
    now: i64,
) -> Result<(Reservation, i64)> {
    let mut tx = app.db().begin().await?;
    let row = rows::lock_slot(&mut tx, org_id, channel_id, "", now).await?;
    let interval = limits.sender_interval_ms();
    let jitter =
        interval.map_or(0, |i| rand::Rng::gen_range(&mut rand::thread_rng(), 1..=(i / RETRY_JITTER_PART).max(1)));
    let (retry_at, pushed) = decide_push_back(row, interval, until_ms, now, jitter);
    if pushed != row {
        rows::set_slot(&mut tx, channel_id, "", pushed).await?;
    }
    rows::reserve_slot(&mut tx, org_id, message_id, retry_at, pushed.shift_ms).await?;
    let throttled = rows::bump_throttled(&mut tx, org_id, message_id).await?;
    tx.commit().await?;
    Ok((Reservation { slot_ms: retry_at, shift_ms: Some(pushed.shift_ms) }, throttled))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Calls whose claims came closer than their slots are held as they
    /// leave: at 5/s (204 ms slots), a sixth call in a row waits until the
    /// first is 5 × 204 ms old, and another sender is not held by it.
    #[tokio::test]
    async fn calls_leave_at_most_the_rate_per_window_whatever_their_claims() {
        let limits = RateLimits { per_second: Some(5.0), recipient_interval_s: None };
        let (sender, other) = (Uuid::now_v7(), Uuid::now_v7());
        let start = Instant::now();
        for _ in 0..5 {
            space_call(sender, &limits).await;
        }
        assert!(start.elapsed() < Duration::from_millis(200), "five calls go at once");
        space_call(other, &limits).await;
        assert!(start.elapsed() < Duration::from_millis(200), "another sender is not held");
        space_call(sender, &limits).await;
        assert!(start.elapsed() >= Duration::from_millis(1_020), "the sixth waits: {:?}", start.elapsed());
        assert!(start.elapsed() < Duration::from_millis(1_500), "{:?}", start.elapsed());
        let unlimited = RateLimits { per_second: None, recipient_interval_s: None };
        let slow = RateLimits { per_second: Some(0.5), recipient_interval_s: None };
        let again = Instant::now();
        for _ in 0..3 {
            space_call(sender, &unlimited).await;
            space_call(other, &slow).await;
        }
        assert!(again.elapsed() < Duration::from_millis(200), "no hold without a limit, or below 1/s");
    }

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

    fn g(interval_ms: i64) -> Spacing {
        Spacing::strict(interval_ms)
    }

    fn slot(next_ms: i64, tail_ms: i64) -> SlotRow {
        SlotRow { next_ms, tail_ms, shift_ms: 0 }
    }

    /// A send that waited for its slot, with no 429 since.
    const WAITED: Option<Reservation> = Some(Reservation { slot_ms: 0, shift_ms: Some(0) });

    #[test]
    fn newcomers_go_when_free_and_line_up_otherwise() {
        // Idle sender: go, next send one interval later.
        let (c, rows) = decide(&[(slot(0, 0), g(200))], None, 1_000, 0);
        assert_eq!((c, rows), (Claim::Go(1_000), vec![slot(1_200, 1_000)]));
        // Busy: the first in line gets the next time, the next one after it.
        let (c, rows) = decide(&[(slot(1_200, 1_000), g(200))], None, 1_010, 0);
        assert_eq!((c, rows.clone()), (Claim::Reserved(1_200), vec![slot(1_200, 1_200)]));
        let (c, _) = decide(&[(rows[0], g(200))], None, 1_020, 0);
        assert_eq!(c, Claim::Reserved(1_400));
        // A newcomer may not jump the line even when the sender is free.
        let (c, _) = decide(&[(slot(1_200, 1_400), g(200))], None, 1_250, 0);
        assert_eq!(c, Claim::Reserved(1_600));
        // The one that waited goes at its time.
        let (c, rows) = decide(&[(slot(1_200, 1_400), g(200))], WAITED, 1_201, 0);
        assert_eq!((c, rows), (Claim::Go(1_201), vec![slot(1_401, 1_400)]));
        // Woken while an earlier one ran late: wait for the sender, keep the line.
        let (c, rows) = decide(&[(slot(1_401, 1_400), g(200))], WAITED, 1_400, 0);
        assert_eq!((c, rows), (Claim::Wait(1_401), vec![slot(1_401, 1_400)]));
    }

    #[test]
    fn a_refused_send_costs_one_slot_and_the_line_keeps_its_order() {
        // 30 sends arrive together at a sender spaced 40 ms apart; the
        // provider refuses every 4th call without Retry-After. Each wake-up
        // claims as the send job does.
        const I: i64 = 40;
        let mut row = slot(0, 0);
        let mut waiting: Vec<(i64, usize, Reservation)> = Vec::new(); // (wake at, send, slot)
        let (mut calls, mut sent, mut wakes) = (Vec::new(), Vec::new(), 0);
        for n in 0..30 {
            let (c, rows) = decide(&[(row, g(I))], None, 0, 0);
            row = rows[0];
            match c {
                Claim::Reserved(at) => waiting.push((at, n, Reservation { slot_ms: at, shift_ms: Some(row.shift_ms) })),
                other => panic!("{other:?}"),
            }
        }
        while !waiting.is_empty() {
            waiting.sort_by_key(|w| (w.0, w.1));
            let (now, n, r) = waiting.remove(0);
            wakes += 1;
            let (c, rows) = decide(&[(row, g(I))], Some(r), now, 0);
            row = rows[0];
            match c {
                Claim::Go(at) => {
                    assert_eq!(at, now);
                    calls.push(now);
                    if calls.len() % 4 == 0 {
                        let (at, pushed) = decide_push_back(row, Some(I), now, now, 0);
                        row = pushed;
                        waiting.push((at, n, Reservation { slot_ms: at, shift_ms: Some(row.shift_ms) }));
                    } else {
                        sent.push(n);
                    }
                }
                Claim::Reserved(at) => waiting.push((at, n, Reservation { slot_ms: at, shift_ms: Some(row.shift_ms) })),
                Claim::Wait(at) => waiting.push((at, n, r)),
            }
        }
        assert_eq!(sent.len(), 30, "every send goes once");
        for w in calls.windows(2) {
            assert!(w[1] - w[0] >= I, "calls {w:?} closer than the interval");
        }
        // One slot per call: 30 sends + 9 refusals (calls 4, 8, … 36), back to back.
        assert_eq!(calls.len(), 39);
        assert_eq!(calls.last().unwrap() - calls[0], 38 * I, "no slot is lost to a refusal");
        // A refused send goes again at the next slot, ahead of the line: the order holds.
        assert_eq!(sent, (0..30).collect::<Vec<_>>());
        // Each send wakes a bounded number of times (no herd after a refusal).
        // (Here 82 for 39 calls: a send far back in line may wake once more per
        // refusal ahead of it, never once per send waiting with it.)
        assert!(wakes < 30 * 3, "{wakes} wake-ups for 30 sends");
    }

    #[test]
    fn a_retry_after_moves_the_line_behind_it() {
        let row = SlotRow { next_ms: 1_040, tail_ms: 1_400, shift_ms: 0 };
        let (at, pushed) = decide_push_back(row, Some(40), 6_000, 1_010, 7);
        assert_eq!(at, 6_000);
        assert_eq!(pushed, SlotRow { next_ms: 6_000, tail_ms: 1_400 + 5_000, shift_ms: 5_000 });
        // The first in line (slot 1,040) wakes, finds its slot moved to 6,040.
        let first = Reservation { slot_ms: 1_040, shift_ms: Some(0) };
        assert_eq!(decide(&[(pushed, g(40))], Some(first), 1_040, 0).0, Claim::Reserved(6_040));
        // Without a time from the provider: the next slot, plus the jitter.
        let (at, pushed) = decide_push_back(row, Some(40), 1_010, 1_010, 7);
        assert_eq!(at, 1_047);
        assert_eq!(pushed, SlotRow { next_ms: 1_047, tail_ms: 1_400 + 47, shift_ms: 47 });
        // A sender without a limit just waits for the provider's time.
        let (at, pushed) = decide_push_back(slot(0, 0), None, 6_000, 1_010, 0);
        assert_eq!((at, pushed.next_ms, pushed.shift_ms), (6_000, 6_000, 0));
    }

    /// Twenty senders on one grid interval, a provider refusing every 10th
    /// call it receives (its own count): the retry's jitter spreads the
    /// refusals. Without it, the senders whose calls fall 10th and 20th in
    /// each round keep that place after every refusal and are refused for
    /// as long as the others send.
    #[test]
    fn refusals_by_the_providers_count_are_spread_over_the_senders() {
        const I: i64 = 41;
        let simulate = |jitter: &mut dyn FnMut() -> i64| {
            // (next call, row, sends left, refusals) per sender, 2 ms apart.
            let mut senders: Vec<(i64, SlotRow, u32, u32)> = (0..20).map(|i| (i * 2, slot(i * 2, 0), 100, 0)).collect();
            let mut received = 0u32;
            while let Some(i) = (0..20).filter(|i| senders[*i].2 > 0).min_by_key(|i| (senders[*i].0, *i)) {
                let (at, row, left, refused) = senders[i];
                // The call took the slot at `at`: the sender's next is one interval on.
                let row = SlotRow { next_ms: at + I, tail_ms: row.tail_ms.max(at), ..row };
                received += 1;
                senders[i] = if received.is_multiple_of(10) {
                    let (retry, pushed) = decide_push_back(row, Some(I), at, at, jitter());
                    (retry, pushed, left, refused + 1)
                } else {
                    (row.next_ms, row, left - 1, refused)
                };
                if received > 100_000 {
                    break;
                }
            }
            senders.iter().map(|s| s.3).collect::<Vec<u32>>()
        };
        let locked = simulate(&mut || 0);
        assert!(*locked.iter().max().unwrap() > 50, "without jitter one sender is refused again and again: {locked:?}");
        let mut seed = 0x2545_f491_u64;
        let spread = simulate(&mut || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            1 + ((seed >> 33) % (I as u64 / RETRY_JITTER_PART as u64)) as i64
        });
        let mean = spread.iter().sum::<u32>() as f64 / 20.0;
        let most = *spread.iter().max().unwrap() as f64;
        assert!(most <= mean * 2.0, "refusals per sender {spread:?}");
    }

    #[test]
    fn a_recipient_limit_does_not_hold_up_the_sender() {
        let sender = (slot(1_000, 900), g(13));
        let pair = (slot(7_000, 1_000), g(6_000));
        let (c, rows) = decide(&[sender, pair], None, 1_100, 0);
        assert_eq!(c, Claim::Reserved(7_000));
        assert_eq!(rows, vec![sender.0, slot(7_000, 7_000)], "only the deciding scope records the reservation");
        // A recipient never written to does not hold anything up.
        let (c, _) = decide(&[sender, (slot(0, 0), g(6_000))], None, 1_700_000_000_000, 0);
        assert_eq!(c, Claim::Go(1_700_000_000_000));
    }

    #[test]
    fn the_tolerance_keeps_every_second_within_the_rate() {
        let cases = [(25.0, 41, 6), (1.0, 1020, 4), (80.0, 13, 6), (30.0, 34, 4), (0.5, 2040, 0), (2.5, 408, 0)];
        for (rate, interval, tolerance) in cases {
            assert_eq!(Spacing::for_rate(rate), Spacing { interval_ms: interval, tolerance_ms: tolerance }, "{rate}/s");
        }
        // Whatever the wake-ups' lateness, a 1-second window never holds more
        // than the rate, and late wake-ups do not push the grid back.
        for rate in [1.0, 3.0, 25.0, 30.0, 80.0] {
            let grid = Spacing::for_rate(rate);
            let mut row = slot(0, 0);
            let mut sends = Vec::new();
            let mut now = 0i64;
            let late = |n: i64| (n * 7919 % 13) * grid.tolerance_ms.max(1) / 12; // 0 ..= tolerance
            for n in 0..600i64 {
                // Each send wakes at its earliest time plus some lateness.
                loop {
                    let (c, rows) = decide(&[(row, grid)], WAITED, now, 0);
                    row = rows[0];
                    match c {
                        Claim::Go(_) => break,
                        Claim::Wait(at) | Claim::Reserved(at) => now = at + late(n),
                    }
                }
                sends.push(now);
            }
            let most = (0..sends.len())
                .map(|i| sends[i..].iter().take_while(|t| **t - sends[i] <= 1000).count())
                .max()
                .unwrap();
            assert!(most as f64 <= rate.floor(), "{rate}/s: {most} sends within 1 s");
            let span = sends.last().unwrap() - sends[0];
            assert!(span <= 599 * grid.interval_ms + grid.tolerance_ms, "{rate}/s: the grid slipped ({span} ms)");
        }
    }

    #[test]
    fn a_claim_made_ahead_goes_at_its_time_and_the_grid_does_not_slip() {
        // Each send wakes `lead` before its time and its claim commits up to
        // `lead` later (a busy database): calls still leave on the grid.
        let (grid, lead) = (Spacing::for_rate(25.0), CLAIM_LEAD_MS);
        let mut row = slot(1_000, 0);
        let mut calls = Vec::new();
        let mut wake = 1_000 - grid.tolerance_ms - lead;
        for n in 0..500i64 {
            let claim_done = wake + (n * 7919 % 16);
            let (c, rows) = decide(&[(row, grid)], WAITED, claim_done, lead);
            row = rows[0];
            match c {
                Claim::Go(at) => {
                    assert!(at >= claim_done, "a call never leaves before its claim");
                    calls.push(at);
                }
                other => panic!("send {n}: {other:?}"),
            }
            wake = row.next_ms - grid.tolerance_ms - lead;
        }
        for w in calls.windows(2) {
            assert_eq!(w[1] - w[0], grid.interval_ms, "calls leave one interval apart");
        }
        // Too early for the lead: wait until the slot is within it.
        let (c, _) = decide(&[(slot(2_000, 0), grid)], WAITED, 1_900, lead);
        assert_eq!(c, Claim::Wait(2_000 - grid.tolerance_ms - lead));
        // A newcomer claims ahead only behind everyone in line.
        let (c, _) = decide(&[(slot(2_000, 2_040), grid)], None, 1_990, lead);
        assert_eq!(c, Claim::Reserved(2_081));
        let (c, rows) = decide(&[(slot(2_000, 1_959), grid)], None, 1_990, lead);
        assert_eq!((c, rows[0].next_ms), (Claim::Go(2_000), 2_041));
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
                let (c, rows) = decide(&[(s, g(200))], None, now, 0);
                s = rows[0];
                match c {
                    Claim::Go(at) => sends.push(at),
                    Claim::Reserved(at) | Claim::Wait(at) => waiting.push(at),
                }
            }
            waiting.sort();
            let due: Vec<i64> = waiting.iter().copied().filter(|at| *at <= now).collect();
            waiting.retain(|at| *at > now);
            for _ in due {
                // Wake late by up to 50 ms.
                let t = now + (step % 5) * 10;
                let (c, rows) = decide(&[(s, g(200))], WAITED, t, 0);
                s = rows[0];
                match c {
                    Claim::Go(at) => sends.push(at),
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
