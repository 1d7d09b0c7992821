//! Sign-in throttling: growing delays per IP and per account. A delay is
//! never a lockout: a stranger can slow guesses at an account, never shut
//! its owner out for long.

use crate::{AppError, Result};
use kith_domain::time::{HOUR_MS, SECOND_MS};
use kith_store::{throttle, Db, Tx};

/// Failures forgotten after this long without another.
const WINDOW_MS: i64 = HOUR_MS;
/// Free attempts before delays start.
const FREE_TRIES: i64 = 3;

/// The keys that count against an attempt: the IP (if known) and the account.
pub fn keys(kind: &str, account: &str, ip: Option<&str>) -> Vec<String> {
    let mut keys = vec![format!("{kind}:acct:{account}")];
    if let Some(ip) = ip {
        keys.push(format!("{kind}:ip:{ip}"));
    }
    keys
}

/// Delay after `failures` consecutive failures: 1 s, 2 s, 4 s … capped.
/// Per-account delays cap at 30 s (so the owner always gets in soon); per-IP at 15 min.
fn delay_ms(key: &str, failures: i64) -> i64 {
    if failures <= FREE_TRIES {
        return 0;
    }
    let cap = if key.contains(":acct:") { 30 * SECOND_MS } else { 15 * 60 * SECOND_MS };
    let exp = (failures - FREE_TRIES - 1).min(20) as u32;
    (SECOND_MS << exp).min(cap)
}

/// Refuse the attempt if any key is still waiting.
pub async fn check(db: &Db, keys: &[String], now: i64) -> Result<()> {
    for key in keys {
        if let Some(row) = throttle::get(db, key).await? {
            if row.next_allowed_ms > now && row.last_failure_ms >= now - WINDOW_MS {
                let retry_after_s = ((row.next_allowed_ms - now) as u64).div_ceil(1000);
                return Err(AppError::TooManyAttempts { retry_after_s });
            }
        }
    }
    Ok(())
}

pub async fn fail(tx: &mut Tx, keys: &[String], now: i64) -> Result<()> {
    for key in keys {
        throttle::record_failure(tx, key, now, WINDOW_MS, |f| delay_ms(key, f)).await?;
    }
    Ok(())
}

pub async fn clear(tx: &mut Tx, keys: &[String]) -> Result<()> {
    for key in keys {
        throttle::clear(tx, key).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_cap() {
        assert_eq!(delay_ms("signin:acct:a", 3), 0);
        assert_eq!(delay_ms("signin:acct:a", 4), 1000);
        assert_eq!(delay_ms("signin:acct:a", 5), 2000);
        assert_eq!(delay_ms("signin:acct:a", 50), 30_000);
        assert_eq!(delay_ms("signin:ip:1.2.3.4", 50), 900_000);
    }
}
