//! The load generator: N keep-alive HTTP/1.1 connections (hyper's
//! connection-level client), each sending one request, reading the whole
//! response and sending the next (closed loop, like wrk). Every request that
//! completes inside the measured window adds its latency in microseconds to a
//! plain `Vec<u32>`; percentiles come from sorting it.

use anyhow::{bail, Context as _, Result};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::header::{HeaderValue, AUTHORIZATION, HOST};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// One load run: where, what, how hard, how long.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    pub addr: SocketAddr,
    pub path: String,
    pub bearer: Option<String>,
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
}

/// What a run measured (only the window after the warm-up counts).
#[derive(Debug, Clone)]
pub struct LoadResult {
    /// 200 responses completed inside the window.
    pub ok: u64,
    /// Other statuses and transport errors inside the window.
    pub errors: u64,
    pub window: Duration,
    pub latency: Latencies,
}

impl LoadResult {
    pub fn requests_per_second(&self) -> f64 {
        self.ok as f64 / self.window.as_secs_f64()
    }
}

/// Latencies in microseconds, sorted once.
#[derive(Debug, Clone)]
pub struct Latencies(Vec<u32>);

impl Latencies {
    pub fn new(mut micros: Vec<u32>) -> Latencies {
        micros.sort_unstable();
        Latencies(micros)
    }

    /// Nearest-rank percentile (`p` in 0–100), in microseconds; 0 when empty.
    pub fn percentile(&self, p: f64) -> u32 {
        if self.0.is_empty() {
            return 0;
        }
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1]
    }

    /// All of several runs' latencies together.
    pub fn merged<'a>(parts: impl Iterator<Item = &'a Latencies>) -> Latencies {
        Latencies::new(parts.flat_map(|l| l.0.iter().copied()).collect())
    }

    pub fn max(&self) -> u32 {
        self.0.last().copied().unwrap_or(0)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// Send one request and return the status and body (a pre-flight check that
/// the target answers what we think it answers before we time it).
pub async fn probe(addr: SocketAddr, path: &str, bearer: Option<&str>) -> Result<(StatusCode, String)> {
    let stream = TcpStream::connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let conn = tokio::spawn(conn);
    let req = request(path, &HeaderValue::from_str(&addr.to_string())?, bearer.map(bearer_value).transpose()?)?;
    let resp = sender.send_request(req).await?;
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    conn.abort();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Probe, and fail unless the answer is a 200 (with the body in the error).
pub async fn expect_ok(addr: SocketAddr, path: &str, bearer: Option<&str>) -> Result<String> {
    let (status, body) = probe(addr, path, bearer).await?;
    if status != StatusCode::OK {
        bail!("GET {path} on {addr} answered {status}: {body}");
    }
    Ok(body)
}

fn bearer_value(token: &str) -> Result<HeaderValue> {
    Ok(HeaderValue::from_str(&format!("Bearer {token}"))?)
}

fn request(path: &str, host: &HeaderValue, auth: Option<HeaderValue>) -> Result<Request<Empty<Bytes>>> {
    let mut builder = Request::get(path).header(HOST, host.clone());
    if let Some(auth) = auth {
        builder = builder.header(AUTHORIZATION, auth);
    }
    Ok(builder.body(Empty::new())?)
}

/// One keep-alive connection for sequential requests (latency loops).
pub struct Client {
    sender: hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    conn: tokio::task::JoinHandle<()>,
    host: HeaderValue,
    auth: Option<HeaderValue>,
}

impl Client {
    pub async fn connect(addr: SocketAddr, bearer: Option<&str>) -> Result<Client> {
        let stream = TcpStream::connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        let conn = tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Client {
            sender,
            conn,
            host: HeaderValue::from_str(&addr.to_string())?,
            auth: bearer.map(bearer_value).transpose()?,
        })
    }

    /// GET `path`: the status and the whole body.
    pub async fn get(&mut self, path: &str) -> Result<(StatusCode, Bytes)> {
        self.sender.ready().await?;
        let resp = self.sender.send_request(request(path, &self.host, self.auth.clone())?).await?;
        let status = resp.status();
        Ok((status, resp.into_body().collect().await?.to_bytes()))
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.conn.abort();
    }
}

struct Shared {
    spec: LoadSpec,
    host: HeaderValue,
    auth: Option<HeaderValue>,
    window_start: Instant,
    window_end: Instant,
}

#[derive(Default)]
struct ConnTally {
    ok: u64,
    errors: u64,
    micros: Vec<u32>,
}

/// Run the load on the current tokio runtime.
pub async fn run(spec: &LoadSpec) -> Result<LoadResult> {
    let now = Instant::now();
    let shared = Arc::new(Shared {
        host: HeaderValue::from_str(&spec.addr.to_string())?,
        auth: spec.bearer.as_deref().map(bearer_value).transpose()?,
        window_start: now + spec.warmup,
        window_end: now + spec.warmup + spec.duration,
        spec: spec.clone(),
    });
    let tasks: Vec<_> = (0..spec.connections).map(|_| tokio::spawn(connection(shared.clone()))).collect();
    let mut ok = 0;
    let mut errors = 0;
    let mut micros = Vec::new();
    for t in tasks {
        let tally = t.await.context("load task panicked")?;
        ok += tally.ok;
        errors += tally.errors;
        micros.extend(tally.micros);
    }
    Ok(LoadResult { ok, errors, window: spec.duration, latency: Latencies::new(micros) })
}

/// One connection's closed loop; reconnects after a transport error.
async fn connection(s: Arc<Shared>) -> ConnTally {
    let mut tally = ConnTally { micros: Vec::with_capacity(1 << 16), ..Default::default() };
    let in_window = |t: Instant| t >= s.window_start && t < s.window_end;
    'connect: while Instant::now() < s.window_end {
        let stream = match TcpStream::connect(s.spec.addr).await {
            Ok(stream) => stream,
            Err(_) => {
                if in_window(Instant::now()) {
                    tally.errors += 1;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await else {
            tally.errors += 1;
            continue;
        };
        let conn = tokio::spawn(conn);
        loop {
            if Instant::now() >= s.window_end {
                conn.abort();
                break 'connect;
            }
            let Ok(req) = request(&s.spec.path, &s.host, s.auth.clone()) else {
                tally.errors += 1;
                break;
            };
            let started = Instant::now();
            let outcome = match sender.send_request(req).await {
                Ok(resp) => {
                    let status = resp.status();
                    resp.into_body().collect().await.map(|_| status == StatusCode::OK).map_err(|_| ())
                }
                Err(_) => Err(()),
            };
            let done = Instant::now();
            let counted = in_window(done);
            match outcome {
                Ok(true) if counted => {
                    tally.ok += 1;
                    tally.micros.push(done.duration_since(started).as_micros().min(u32::MAX as u128) as u32);
                }
                Ok(true) => {}
                Ok(false) => tally.errors += u64::from(counted),
                Err(()) => {
                    tally.errors += u64::from(counted);
                    conn.abort();
                    continue 'connect;
                }
            }
        }
        conn.abort();
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::Latencies;

    #[test]
    fn nearest_rank_percentiles() {
        let l = Latencies::new((1..=100).rev().collect());
        assert_eq!(l.percentile(50.0), 50);
        assert_eq!(l.percentile(99.0), 99);
        assert_eq!(l.percentile(100.0), 100);
        assert_eq!(l.percentile(0.0), 1);
        assert_eq!(l.max(), 100);
        let one = Latencies::new(vec![7]);
        assert_eq!((one.percentile(50.0), one.percentile(99.0)), (7, 7));
        assert_eq!(Latencies::new(Vec::new()).percentile(50.0), 0);
        let both = Latencies::merged([Latencies::new(vec![3, 1]), Latencies::new(vec![2])].iter());
        assert_eq!((both.len(), both.percentile(50.0), both.max()), (3, 2, 3));
    }
}
