//! Per-credential token buckets for the API (in memory, per node).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;
use uuid::Uuid;

pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<Uuid, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_second: u32) -> RateLimiter {
        RateLimiter {
            per_second: per_second as f64,
            burst: (per_second as f64) * 2.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Take one request from `key`'s bucket; Err(seconds to wait) when empty.
    pub fn check(&self, key: Uuid) -> Result<(), u64> {
        if self.per_second == 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().expect("rate limiter lock");
        if buckets.len() > 100_000 {
            // Forget idle buckets (full ones) so memory stays bounded.
            let (rate, burst) = (self.per_second, self.burst);
            buckets.retain(|_, (tokens, at)| *tokens + now.duration_since(*at).as_secs_f64() * rate < burst);
        }
        let (tokens, at) = buckets.entry(key).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.per_second).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.per_second).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_empties_then_says_when() {
        let rl = RateLimiter::new(2);
        let k = Uuid::nil();
        for _ in 0..4 {
            assert!(rl.check(k).is_ok());
        }
        assert_eq!(rl.check(k), Err(1));
        assert!(RateLimiter::new(0).check(k).is_ok());
    }
}
