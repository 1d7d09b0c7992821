//! POSTing precomputed, signed webhooks: closed loop (N connections, each
//! sends, reads the whole answer, sends the next) or paced (one request
//! every 1/rate s, handed to whichever connection is free). Unlike
//! `load.rs` every request has its own body and headers, every request that
//! was sent is awaited to its answer (nothing in flight is dropped at the
//! end, so the row counts afterwards can be compared with what was
//! acknowledged), and each answer is kept with its request's index.
//!
//! Also the `/events` (SSE) listener of the acknowledgement → SSE figure.

use anyhow::{bail, Context as _, Result};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{HeaderValue, CONTENT_TYPE, HOST};
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

/// One signed webhook, ready to send.
#[derive(Debug, Clone)]
pub struct Hook {
    pub path: String,
    pub body: Bytes,
    pub signature: HeaderValue,
    /// The provider's message id it carries.
    pub sid: String,
}

/// The answer to one request.
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    pub index: usize,
    pub status: u16,
    pub sent: Instant,
    pub done: Instant,
}

impl Answer {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn micros(&self) -> u32 {
        self.done.duration_since(self.sent).as_micros().min(u32::MAX as u128) as u32
    }
}

/// How requests are handed out.
pub enum Mode {
    /// Each connection sends its next request as soon as it has the answer.
    Closed,
    /// One request every `1 / per_second` s (open loop).
    Paced { per_second: f64 },
}

pub struct PostSpec {
    pub addr: SocketAddr,
    pub connections: usize,
    /// Requests are handed out until this long after the start (or until they run out).
    pub until: Duration,
    pub mode: Mode,
}

/// Everything that was sent, answered (status 0: a transport error).
pub struct PostRun {
    pub started: Instant,
    pub answers: Vec<Answer>,
    /// True when every precomputed request was used before `until`.
    pub ran_out: bool,
}

pub async fn run(spec: &PostSpec, hooks: Arc<Vec<Hook>>) -> Result<PostRun> {
    let started = Instant::now();
    let end = started + spec.until;
    let host = HeaderValue::from_str(&spec.addr.to_string())?;
    let next = Arc::new(AtomicUsize::new(0));
    // Paced: a ticker hands out indexes; connections take them as they are free.
    let paced = match spec.mode {
        Mode::Closed => None,
        Mode::Paced { per_second } => {
            let (tx, rx) = tokio::sync::mpsc::channel::<usize>(100_000);
            let total = hooks.len();
            let interval = Duration::from_secs_f64(1.0 / per_second);
            tokio::spawn(async move {
                for i in 0..total {
                    let at = started + interval.mul_f64(i as f64);
                    if at >= end {
                        break;
                    }
                    tokio::time::sleep_until(at.into()).await;
                    if tx.send(i).await.is_err() {
                        break;
                    }
                }
            });
            Some(Arc::new(Mutex::new(rx)))
        }
    };
    let mut tasks = Vec::new();
    for _ in 0..spec.connections {
        let (hooks, next, host, paced, addr) = (hooks.clone(), next.clone(), host.clone(), paced.clone(), spec.addr);
        tasks.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            let mut conn: Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>> = None;
            loop {
                let index = match &paced {
                    None => {
                        if Instant::now() >= end {
                            break;
                        }
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= hooks.len() {
                            break;
                        }
                        i
                    }
                    Some(rx) => match rx.lock().await.recv().await {
                        Some(i) => i,
                        None => break,
                    },
                };
                let hook = &hooks[index];
                let sent = Instant::now();
                let status = match send(&mut conn, addr, &host, hook).await {
                    Ok(s) => s,
                    Err(_) => {
                        conn = None;
                        0
                    }
                };
                answers.push(Answer { index, status, sent, done: Instant::now() });
            }
            answers
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.extend(t.await.context("a posting task panicked")?);
    }
    let ran_out = answers.len() >= hooks.len() && Instant::now() < end;
    Ok(PostRun { started, answers, ran_out })
}

async fn send(
    conn: &mut Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>>,
    addr: SocketAddr,
    host: &HeaderValue,
    hook: &Hook,
) -> Result<u16> {
    if conn.is_none() {
        let stream = TcpStream::connect(addr).await?;
        let _ = stream.set_nodelay(true);
        let (sender, c) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = c.await;
        });
        *conn = Some(sender);
    }
    let sender = conn.as_mut().expect("connected above");
    sender.ready().await?;
    let req = Request::post(hook.path.as_str())
        .header(HOST, host.clone())
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("x-twilio-signature", hook.signature.clone())
        .body(Full::new(hook.body.clone()))?;
    let resp = sender.send_request(req).await?;
    let status = resp.status().as_u16();
    resp.into_body().collect().await?;
    Ok(status)
}

/// A connected `GET /events` stream: every `message.created` event's message
/// id with the time it arrived, and how many `resync` events came.
pub struct SseListener {
    pub received: Arc<Mutex<HashMap<uuid::Uuid, Instant>>>,
    pub resyncs: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl SseListener {
    /// Connect with a bearer token and wait for the stream's first comment.
    pub async fn connect(addr: SocketAddr, token: &str) -> Result<SseListener> {
        let stream = TcpStream::connect(addr).await?;
        let _ = stream.set_nodelay(true);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let req = Request::get("/events")
            .header(HOST, addr.to_string())
            .header("authorization", format!("Bearer {token}"))
            .header("accept", "text/event-stream")
            .body(Full::new(Bytes::new()))?;
        let resp = sender.send_request(req).await?;
        if resp.status() != 200 {
            bail!("GET /events answered {}", resp.status());
        }
        let mut body = resp.into_body();
        // The stream greets with a comment at once.
        let first = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .context("no greeting on /events within 5 s")?;
        if first.is_none() {
            bail!("/events ended at once");
        }
        let received = Arc::new(Mutex::new(HashMap::new()));
        let resyncs = Arc::new(AtomicUsize::new(0));
        let (r, s) = (received.clone(), resyncs.clone());
        let task = tokio::spawn(async move {
            let mut buf = String::new();
            while let Some(Ok(frame)) = body.frame().await {
                let at = Instant::now();
                let Ok(data) = frame.into_data() else { continue };
                buf.push_str(&String::from_utf8_lossy(&data));
                while let Some(end) = buf.find("\n\n") {
                    let event: String = buf.drain(..end + 2).collect();
                    let mut kind = "";
                    let mut payload = "";
                    for line in event.lines() {
                        if let Some(k) = line.strip_prefix("event:") {
                            kind = k.trim();
                        } else if let Some(d) = line.strip_prefix("data:") {
                            payload = d.trim();
                        }
                    }
                    match kind {
                        "message.created" => {
                            let v: serde_json::Value = serde_json::from_str(payload).unwrap_or_default();
                            if let Some(id) = v["message_id"].as_str().and_then(|s| uuid::Uuid::parse_str(s).ok()) {
                                r.lock().await.entry(id).or_insert(at);
                            }
                        }
                        "resync" => {
                            s.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {}
                    }
                }
            }
        });
        Ok(SseListener { received, resyncs, task })
    }
}

impl Drop for SseListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}
