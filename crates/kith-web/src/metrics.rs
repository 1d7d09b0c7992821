//! Prometheus metrics, hand-written: request counts and latency histograms
//! per route and status class. Route labels are the matched route templates,
//! so the label set stays small whatever the URLs.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS_S: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default)]
struct Series {
    count: u64,
    sum_s: f64,
    buckets: [u64; BUCKETS_S.len()],
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, &'static str), Series>>,
}

impl Metrics {
    pub fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let class = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        let secs = elapsed.as_secs_f64();
        let mut map = self.requests.lock().expect("metrics lock");
        let s = map.entry((method.to_string(), route.to_string(), class)).or_default();
        s.count += 1;
        s.sum_s += secs;
        for (i, le) in BUCKETS_S.iter().enumerate() {
            if secs <= *le {
                s.buckets[i] += 1;
            }
        }
    }

    /// The text exposition format.
    pub fn render(&self, extra: &[(&str, &str, f64)]) -> String {
        let mut out = String::new();
        out.push_str("# HELP kith_http_requests_total HTTP requests by route and status class.\n# TYPE kith_http_requests_total counter\n");
        let map = self.requests.lock().expect("metrics lock");
        for ((m, r, c), s) in map.iter() {
            let _ =
                writeln!(out, "kith_http_requests_total{{method=\"{m}\",route=\"{r}\",status=\"{c}\"}} {}", s.count);
        }
        out.push_str("# HELP kith_http_request_duration_seconds Request latency.\n# TYPE kith_http_request_duration_seconds histogram\n");
        for ((m, r, c), s) in map.iter() {
            let labels = format!("method=\"{m}\",route=\"{r}\",status=\"{c}\"");
            for (i, le) in BUCKETS_S.iter().enumerate() {
                let _ =
                    writeln!(out, "kith_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {}", s.buckets[i]);
            }
            let _ = writeln!(out, "kith_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", s.count);
            let _ = writeln!(out, "kith_http_request_duration_seconds_sum{{{labels}}} {}", s.sum_s);
            let _ = writeln!(out, "kith_http_request_duration_seconds_count{{{labels}}} {}", s.count);
        }
        for (name, help, value) in extra {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
        }
        out
    }
}
