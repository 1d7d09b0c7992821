//! The measured requests: Kith's whole router in process, and beside it a
//! bench router with (a) a bare axum handler running the contact list's SQL
//! with nothing around it but the token lookup, and (b) tiny handlers that
//! call the app's search and board functions, used when Kith's own
//! `/api/v1/search` or `/api/v1/deals/board` is missing.

use crate::load::{Client, Latencies};
use anyhow::{bail, Context as _, Result};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use kith_app::App;
use kith_domain::page::PageRequest;
use kith_domain::visibility::Viewer;
use kith_store::records::{ListFilter, SortKey};
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Kith's router and the bench's, on the server runtime.
pub struct Servers {
    pub kith: SocketAddr,
    pub bench: SocketAddr,
    stops: Vec<oneshot::Sender<()>>,
}

/// Bench paths: the bare list, and the app-function fallbacks.
pub const BARE_CONTACTS: &str = "/bare/contacts";
pub const APP_SEARCH: &str = "/app/search";
pub const APP_BOARD: &str = "/app/deals/board";

impl Servers {
    pub async fn start(app: App) -> Result<Servers> {
        let mut stops = Vec::new();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let kith = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        stops.push(tx);
        let state =
            kith_web::WebState::new(app.clone(), kith_web::WebConfig { api_rate_per_second: 0, ..Default::default() });
        tokio::spawn(kith_web::serve(listener, state, async move {
            let _ = rx.await;
        }));

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let bench = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        stops.push(tx);
        let router = Router::new()
            .route(BARE_CONTACTS, get(bare_contacts))
            .route(APP_SEARCH, get(app_search))
            .route(APP_BOARD, get(app_board))
            .with_state(app);
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await
        });
        Ok(Servers { kith, bench, stops })
    }

    pub async fn stop(self) {
        for s in self.stops {
            let _ = s.send(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::to_string)
}

/// The bare figure for `GET /api/v1/contacts?limit=50`: SHA-256 and the one
/// indexed token read any authenticated endpoint needs, then the very list
/// query Kith runs (`kith_store::contacts::list`, same viewer, filter, sort
/// and page), rows written out as JSON with their JSON columns left as text.
/// No role read, no tags, no parsing: the engine and the framework.
async fn bare_contacts(State(app): State<App>, headers: HeaderMap) -> Response {
    let Some(secret) = bearer(&headers) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let token = match kith_store::tokens::find_active(app.db(), &kith_crypto::token_hash(&secret)).await {
        Ok(Some(t)) => t,
        Ok(None) => return StatusCode::UNAUTHORIZED.into_response(),
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    // The bench calls this with the workspace owner's token.
    let viewer = Viewer { org_id: token.org_id, user_id: token.user_id, sees_all_shared: true };
    let page = PageRequest::new(Some(50), None);
    match kith_store::contacts::list(app.db(), &viewer, &ListFilter::default(), SortKey::UpdatedDesc, &page).await {
        Ok(p) => {
            let data: Vec<serde_json::Value> = p
                .items
                .into_iter()
                .map(|r| {
                    serde_json::json!({
                        "id": r.id, "first_name": r.first_name, "last_name": r.last_name, "emails": r.emails,
                        "phones": r.phones, "addresses": r.addresses, "social": r.social, "company_id": r.company_id,
                        "title": r.title, "birthday": r.birthday, "time_zone": r.time_zone, "source": r.source,
                        "custom": r.custom, "visibility": r.visibility, "owner_id": r.owner_id, "team_id": r.team_id,
                        "created_by": r.created_by, "version": r.version, "created_at_ms": r.created_ms,
                        "updated_at_ms": r.updated_ms,
                    })
                })
                .collect();
            Json(serde_json::json!({"data": data, "next_cursor": p.next.map(|c| c.encode())})).into_response()
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn context(app: &App, headers: &HeaderMap) -> Result<kith_app::Context, Response> {
    let secret = bearer(headers).ok_or_else(|| StatusCode::UNAUTHORIZED.into_response())?;
    match kith_app::tokens::authenticate(app, &secret).await {
        Ok(Some(ctx)) => Ok(ctx),
        Ok(None) => Err(StatusCode::UNAUTHORIZED.into_response()),
        Err(_) => Err(StatusCode::INTERNAL_SERVER_ERROR.into_response()),
    }
}

/// Fallback for `/api/v1/search?q=`: authentication, `kith_app::crm::search::search` (20 hits), JSON.
async fn app_search(State(app): State<App>, Query(q): Query<HashMap<String, String>>, headers: HeaderMap) -> Response {
    let ctx = match context(&app, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let text = q.get("q").map(String::as_str).unwrap_or("");
    match kith_app::crm::search::search(&app, &ctx, text, 20).await {
        Ok(hits) => Json(serde_json::json!({ "data": hits })).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Fallback for `/api/v1/deals/board`: authentication, `kith_app::crm::deals::board` (default pipeline), JSON.
async fn app_board(State(app): State<App>, headers: HeaderMap) -> Response {
    let ctx = match context(&app, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match kith_app::crm::deals::board(&app, &ctx, None).await {
        Ok(board) => Json(board).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Percent-encode a query-string value.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A sequential latency run: `paths` one after another on one keep-alive
/// connection, after `warmup` untimed requests (taken from the same list).
/// Every answer must be a 200. The warm-up stops after a quarter of
/// `budget`, the timed requests after `budget` (a slow figure then reports
/// fewer requests and says so).
pub async fn http_loop(
    addr: SocketAddr,
    bearer: &str,
    paths: &[String],
    warmup: usize,
    budget: Duration,
) -> Result<Timed> {
    let mut client = Client::connect(addr, Some(bearer)).await?;
    let started = Instant::now();
    for path in paths.iter().cycle().take(warmup) {
        let (status, body) = client.get(path).await?;
        if status != StatusCode::OK {
            bail!("GET {path} answered {status}: {}", String::from_utf8_lossy(&body));
        }
        if started.elapsed() > budget / 4 {
            break;
        }
    }
    let mut micros = Vec::with_capacity(paths.len());
    let mut bytes = 0u64;
    let started = Instant::now();
    for path in paths {
        let t = Instant::now();
        let (status, body) = client.get(path).await?;
        micros.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
        if status != StatusCode::OK {
            bail!("GET {path} answered {status}: {}", String::from_utf8_lossy(&body));
        }
        bytes += body.len() as u64;
        if started.elapsed() > budget {
            break;
        }
    }
    Ok(Timed::of(micros, bytes, paths.len()))
}

/// The same loop in process: `f(i)` for each of `n` requests, after `warmup`.
pub async fn local_loop<F, Fut>(n: usize, warmup: usize, budget: Duration, mut f: F) -> Result<Timed>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let started = Instant::now();
    for i in 0..warmup {
        f(i % n.max(1)).await?;
        if started.elapsed() > budget / 4 {
            break;
        }
    }
    let mut micros = Vec::with_capacity(n);
    let started = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        f(i).await?;
        micros.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
        if started.elapsed() > budget {
            break;
        }
    }
    Ok(Timed::of(micros, 0, n))
}

/// [`local_loop`] as a task of `rt`, where a request handler would run it
/// (not on the calling thread).
pub fn spawn_loop<F, Fut>(
    rt: &tokio::runtime::Runtime,
    n: usize,
    warmup: usize,
    budget: Duration,
    f: F,
) -> Result<Timed>
where
    F: FnMut(usize) -> Fut + Send + 'static,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    let task = rt.spawn(local_loop(n, warmup, budget, f));
    rt.block_on(task)?
}

/// Latencies of one sequential run (and the bytes answered, over HTTP).
pub struct Timed {
    pub latency: Latencies,
    pub bytes: u64,
    /// Each request's latency (µs), in the order sent.
    pub in_order: Vec<u32>,
    /// The time budget ran out before every planned request was made.
    pub stopped: bool,
}

impl Timed {
    fn of(micros: Vec<u32>, bytes: u64, planned: usize) -> Timed {
        Timed { stopped: micros.len() < planned, latency: Latencies::new(micros.clone()), bytes, in_order: micros }
    }
}

/// GET and parse a JSON answer (pre-flight checks).
pub async fn get_json(addr: SocketAddr, bearer: &str, path: &str) -> Result<(StatusCode, serde_json::Value)> {
    let mut client = Client::connect(addr, Some(bearer)).await?;
    let (status, body) = client.get(path).await?;
    let value = serde_json::from_slice(&body)
        .with_context(|| format!("GET {path}: not JSON: {}", String::from_utf8_lossy(&body)))?;
    Ok((status, value))
}

#[cfg(test)]
mod tests {
    #[test]
    fn percent_encoding() {
        assert_eq!(super::encode("anna.smith1@x.com"), "anna.smith1%40x.com");
        assert_eq!(super::encode("+1 (415)"), "%2B1%20%28415%29");
        assert_eq!(super::encode("Zoë"), "Zo%C3%AB");
    }
}
