//! Website import (`kind = website`): the `ai.knowledge.crawl` job reads a
//! business's own site into its knowledge base.
//!
//! Rules: every fetch goes through the SSRF-guarded outbound client (no
//! private, loopback or metadata addresses unless the operator allowed
//! private networks; checked at resolution and on every redirect). Only the
//! start URLs' site (scheme, host and port) is read: links and redirects
//! elsewhere are not followed. robots.txt is fetched first and honoured for
//! the `Kith` user agent (groups, Allow/Disallow by longest match, `*` and
//! `$`); an unreachable robots.txt (5xx, network error) stops the import,
//! as RFC 9309 asks, while a missing one (4xx) allows everything. At most
//! `page_limit` pages (default 50, at most 500) are fetched, one at a time;
//! each is at most [`MAX_PAGE_BYTES`]. Only HTML is read (other types are
//! skipped and noted); a URL is fetched once (fragments dropped), a page's
//! canonical URL and identical text are kept once, `noindex` pages are not
//! stored and `nofollow` pages not followed. Problems are recorded per page
//! and shown with the entry; progress counts pages.
//!
//! A crawl stops after [`CRAWL_DEADLINE`] (so one import cannot hold a job
//! worker for long) and keeps what it read. This module never stores anything but the entry's chunks,
//! progress and report, and never fetches without the guard.

use super::knowledge::{payload, store_chunks, titled_chunks};
use crate::worker::JobError;
use crate::{App, AppError};
use kith_domain::time::now_ms;
use kith_formats::html_text::html_to_text;
use kith_infra::outbound::OutboundError;
use kith_store::jobs::ClaimedJob;
use kith_store::knowledge::{self as rows, NewChunk, Progress};
use reqwest::Url;
use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

/// Largest page read (bigger pages are skipped and noted).
pub const MAX_PAGE_BYTES: usize = 2 * 1024 * 1024;
/// A crawl stops reading after this long and keeps what it read.
pub const CRAWL_DEADLINE: Duration = Duration::from_secs(4 * 60);
/// The product token robots.txt groups are matched against.
pub const ROBOTS_AGENT: &str = "kith";
/// Links remembered beyond the page limit (bounds memory on link-heavy sites).
const QUEUE_FACTOR: usize = 20;

/// A URL's site: scheme, host and port.
pub fn site_of(url: &Url) -> String {
    format!("{}://{}:{}", url.scheme(), url.host_str().unwrap_or(""), url.port_or_known_default().unwrap_or(0))
}

/// The URL without its fragment (the same page).
fn normalized(mut url: Url) -> Url {
    url.set_fragment(None);
    url
}

/// Path and query as robots.txt rules see them.
fn robots_path(url: &Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    }
}

/// Why a page was not read.
struct Problem {
    url: String,
    error: String,
}

pub(crate) async fn run(app: App, job: ClaimedJob) -> Result<(), JobError> {
    let (org_id, p) = payload(&job)?;
    let Some(entry) = rows::get_entry(app.db(), org_id, p.entry_id).await.map_err(AppError::from)? else {
        return Ok(());
    };
    if entry.version != p.version || entry.kind != "website" {
        return Ok(());
    }
    let limit =
        entry.page_limit.unwrap_or(super::knowledge::DEFAULT_PAGE_LIMIT).clamp(1, super::knowledge::MAX_PAGE_LIMIT);
    let starts: Vec<String> = entry.urls.as_deref().and_then(|j| serde_json::from_str(j).ok()).unwrap_or_default();
    let tracker = Tracker { app: app.clone(), org_id, entry_id: entry.id, version: entry.version, total: limit };
    if !tracker.save("indexing", 0, None).await? {
        return Ok(());
    }
    let outcome = crawl(&app, &starts, limit, |done| tracker.save("indexing", done, None)).await;
    let (pages, problems, fetched) = match outcome {
        Ok(found) => found,
        Err(message) => {
            tracker.save("failed", 0, Some(&message)).await?;
            return Ok(());
        }
    };
    let report: Vec<super::knowledge::PageProblem> =
        problems.into_iter().map(|p| super::knowledge::PageProblem { url: p.url, error: p.error }).collect();
    if pages.is_empty() {
        let message = match report.first() {
            Some(first) => format!("no page could be read ({}: {})", first.url, first.error),
            None => "no page could be read".to_string(),
        };
        tracker.save("failed", 0, Some(&message)).await?;
        return Ok(());
    }
    let mut chunks: Vec<NewChunk> = Vec::new();
    for page in pages {
        let next = chunks.len() as i64;
        chunks.extend(titled_chunks(&page.title, &page.sections, Some(page.url.as_str()), next));
        if chunks.len() > super::knowledge::MAX_CHUNKS_PER_ENTRY {
            chunks.truncate(super::knowledge::MAX_CHUNKS_PER_ENTRY);
            break;
        }
    }
    let report = serde_json::to_string(&report).map_err(|e| JobError::from(e.to_string()))?;
    store_chunks(&app, org_id, entry.id, entry.version, chunks, Some(report), fetched).await
}

/// Saves a crawl's progress on its entry (only while the entry is at the
/// crawled version).
struct Tracker {
    app: App,
    org_id: uuid::Uuid,
    entry_id: uuid::Uuid,
    version: i64,
    total: i64,
}

impl Tracker {
    async fn save(&self, status: &str, done: i64, error: Option<&str>) -> Result<bool, AppError> {
        let p = Progress { status, done, total: self.total, error };
        Ok(rows::set_progress(self.app.db(), self.org_id, self.entry_id, self.version, &p, now_ms()).await?)
    }
}

pub(crate) struct Page {
    pub url: Url,
    pub title: String,
    pub sections: Vec<kith_formats::chunk::Section>,
}

/// Read the site (see the module doc). `on_page` is told the pages done so
/// far and answers whether to go on (false: the entry changed). An `Err`
/// stops the whole import (robots.txt unreachable, every start refused).
async fn crawl<F, Fut>(
    app: &App,
    starts: &[String],
    limit: i64,
    on_page: F,
) -> Result<(Vec<Page>, Vec<Problem>, i64), String>
where
    F: Fn(i64) -> Fut,
    Fut: std::future::Future<Output = Result<bool, AppError>>,
{
    let started = Instant::now();
    let starts: Vec<Url> = starts.iter().filter_map(|s| Url::parse(s).ok()).map(normalized).collect();
    let Some(first) = starts.first().cloned() else {
        return Err("no start URL".into());
    };
    let site = site_of(&first);
    let robots = fetch_robots(app, &first).await?;
    let mut queue: VecDeque<Url> = starts.into_iter().filter(|u| site_of(u) == site).collect();
    let mut seen: HashSet<String> = queue.iter().map(|u| u.to_string()).collect();
    let mut texts: HashSet<u64> = HashSet::new();
    let mut pages = Vec::new();
    let mut problems = Vec::new();
    let mut fetched = 0i64;
    let max_seen = limit as usize * QUEUE_FACTOR;
    while let Some(url) = queue.pop_front() {
        if fetched >= limit {
            break;
        }
        if started.elapsed() > CRAWL_DEADLINE {
            problems.push(Problem { url: url.to_string(), error: "the import's time ran out before this page".into() });
            break;
        }
        if !robots.allowed(ROBOTS_AGENT, &robots_path(&url)) {
            problems.push(Problem { url: url.to_string(), error: "robots.txt disallows it".into() });
            continue;
        }
        fetched += 1;
        let result = fetch_page(app, &url, &site).await;
        match on_page(fetched).await {
            Ok(true) => {}
            Ok(false) => return Ok((vec![], vec![], fetched)),
            Err(e) => return Err(format!("progress could not be saved: {e}")),
        }
        let (final_url, html) = match result {
            Ok(Fetched::Html(u, h)) => (u, h),
            Ok(Fetched::Skipped(reason)) => {
                problems.push(Problem { url: url.to_string(), error: reason });
                continue;
            }
            Err(e) => {
                problems.push(Problem { url: url.to_string(), error: e });
                continue;
            }
        };
        // A redirect may land on a page already read.
        if final_url != url && !seen.insert(final_url.to_string()) {
            continue;
        }
        let page = html_to_text(&html);
        let base = page.base.as_deref().and_then(|b| final_url.join(b).ok()).unwrap_or_else(|| final_url.clone());
        if let Some(canonical) = page.canonical.as_deref().and_then(|c| final_url.join(c).ok()).map(normalized) {
            if canonical != final_url && site_of(&canonical) == site && !seen.insert(canonical.to_string()) {
                continue; // its canonical page was read already
            }
        }
        if !page.nofollow {
            for link in &page.links {
                let Ok(next) = base.join(link).map(normalized) else { continue };
                if site_of(&next) != site || seen.len() >= max_seen {
                    continue;
                }
                if seen.insert(next.to_string()) {
                    queue.push_back(next);
                }
            }
        }
        if page.noindex {
            continue;
        }
        let text_key = text_hash(&page.sections);
        if page.sections.is_empty() || !texts.insert(text_key) {
            continue; // no text, or the same text under another URL
        }
        let title = if page.title.is_empty() { final_url.to_string() } else { page.title };
        pages.push(Page { url: final_url, title, sections: page.sections });
    }
    Ok((pages, problems, fetched))
}

fn text_hash(sections: &[kith_formats::chunk::Section]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for s in sections {
        s.heading.hash(&mut h);
        s.paragraphs.hash(&mut h);
    }
    h.finish()
}

enum Fetched {
    Html(Url, String),
    Skipped(String),
}

fn describe(e: &OutboundError) -> String {
    match e {
        OutboundError::InvalidUrl(m) => format!("the URL is not allowed: {m}"),
        OutboundError::ForbiddenAddress(m) => format!("the address is not allowed (private network): {m}"),
        OutboundError::Request(r) if r.is_timeout() => "the site did not answer in time".into(),
        OutboundError::Request(r) if r.is_redirect() => "too many redirects".into(),
        OutboundError::Request(_) => "the page could not be fetched".into(),
    }
}

async fn fetch_page(app: &App, url: &Url, site: &str) -> Result<Fetched, String> {
    let mut resp = app.outbound().get(url.as_str()).await.map_err(|e| describe(&e))?;
    let final_url = normalized(resp.url().clone());
    if site_of(&final_url) != site {
        return Ok(Fetched::Skipped(format!("redirects to another site ({})", final_url.host_str().unwrap_or(""))));
    }
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("HTTP {}", status.as_u16()));
    }
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mime = content_type.split(';').next().unwrap_or("").trim().to_string();
    if !(mime == "text/html" || mime == "application/xhtml+xml") {
        return Ok(Fetched::Skipped(format!("not an HTML page ({})", if mime.is_empty() { "no type" } else { &mime })));
    }
    if resp.content_length().is_some_and(|n| n as usize > MAX_PAGE_BYTES) {
        return Ok(Fetched::Skipped("the page is larger than 2 MiB".into()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| describe(&OutboundError::from(e)))? {
        if body.len() + chunk.len() > MAX_PAGE_BYTES {
            return Ok(Fetched::Skipped("the page is larger than 2 MiB".into()));
        }
        body.extend_from_slice(&chunk);
    }
    let (text, _) = kith_formats::text::decode(&body).map_err(|e| e.to_string())?;
    Ok(Fetched::Html(final_url, text))
}

/// The site's robots.txt: 2xx is parsed, 4xx allows everything, anything
/// else (5xx, unreachable, refused by the guard) stops the import.
async fn fetch_robots(app: &App, start: &Url) -> Result<Robots, String> {
    let mut robots_url = start.clone();
    robots_url.set_path("/robots.txt");
    robots_url.set_query(None);
    let resp = app.outbound().get(robots_url.as_str()).await.map_err(|e| format!("{} ({robots_url})", describe(&e)))?;
    let status = resp.status();
    if status.is_client_error() {
        return Ok(Robots::default());
    }
    if !status.is_success() {
        return Err(format!("robots.txt answered HTTP {}; the site cannot be imported now", status.as_u16()));
    }
    let body = resp.bytes().await.map_err(|e| describe(&OutboundError::from(e)))?;
    // RFC 9309: at least 500 KiB must be parsed; more is ignored.
    let body = &body[..body.len().min(512 * 1024)];
    Ok(Robots::parse(&String::from_utf8_lossy(body)))
}

/// A parsed robots.txt (RFC 9309).
#[derive(Debug, Clone, Default)]
pub struct Robots {
    groups: Vec<Group>,
}

#[derive(Debug, Clone, Default)]
struct Group {
    agents: Vec<String>,
    /// (allow, pattern)
    rules: Vec<(bool, String)>,
}

impl Robots {
    pub fn parse(text: &str) -> Robots {
        let mut groups: Vec<Group> = Vec::new();
        let mut in_agents = false;
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            let Some((key, value)) = line.split_once(':') else { continue };
            let key = key.trim().to_ascii_lowercase();
            let value = value.trim();
            match key.as_str() {
                "user-agent" => {
                    if !in_agents {
                        groups.push(Group::default());
                        in_agents = true;
                    }
                    if let Some(g) = groups.last_mut() {
                        g.agents.push(value.to_ascii_lowercase());
                    }
                }
                "allow" | "disallow" => {
                    in_agents = false;
                    if let Some(g) = groups.last_mut() {
                        // An empty Disallow allows everything: no rule.
                        if !value.is_empty() {
                            g.rules.push((key == "allow", value.to_string()));
                        }
                    }
                }
                _ => {
                    // Sitemap, Crawl-delay, …: not rules, and they do not end a group's agent lines.
                }
            }
        }
        Robots { groups }
    }

    /// Whether `agent` (a lower-case product token) may fetch `path`
    /// (path and query): the rules of the groups naming the agent, else of
    /// `*`; the longest matching pattern decides, Allow on a tie.
    pub fn allowed(&self, agent: &str, path: &str) -> bool {
        if path == "/robots.txt" {
            return true;
        }
        let named: Vec<&Group> = self.groups.iter().filter(|g| g.agents.iter().any(|a| a == agent)).collect();
        let groups = if named.is_empty() {
            self.groups.iter().filter(|g| g.agents.iter().any(|a| a == "*")).collect()
        } else {
            named
        };
        let mut best: Option<(usize, bool)> = None;
        for (allow, pattern) in groups.iter().flat_map(|g| g.rules.iter()) {
            if pattern_matches(pattern, path) {
                let len = pattern.len();
                best = match best {
                    Some((l, a)) if l > len || (l == len && a) => Some((l, a)),
                    _ => Some((len, *allow)),
                };
            }
        }
        best.is_none_or(|(_, allow)| allow)
    }
}

/// A robots.txt path pattern: a prefix, where `*` matches any run and a
/// final `$` anchors the end.
fn pattern_matches(pattern: &str, path: &str) -> bool {
    let (pattern, anchored) = match pattern.strip_suffix('$') {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut pos = 0;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            if !path.starts_with(part) {
                return false;
            }
            pos = part.len();
        } else if i == parts.len() - 1 && anchored {
            // The last piece must end the path.
            return path.len() >= pos + part.len() && path.ends_with(part);
        } else {
            match path[pos..].find(part) {
                Some(at) => pos += at + part.len(),
                None => return false,
            }
        }
    }
    !anchored || pos == path.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robots_groups_longest_match_and_wildcards() {
        let r = Robots::parse(
            "# comment\nUser-agent: *\nDisallow: /private\nAllow: /private/open\nDisallow: /*.pdf$\n\n\
             User-agent: OtherBot\nUser-agent: kith\nDisallow: /kith-only\nAllow: /\n\nUser-agent: BadBot\nDisallow: /\n",
        );
        // Kith's own group applies, not `*`'s.
        assert!(!r.allowed("kith", "/kith-only/page"));
        assert!(r.allowed("kith", "/private"), "the * group is not Kith's once Kith is named");
        // Another agent falls back to *.
        assert!(!r.allowed("somebot", "/private/x"));
        assert!(r.allowed("somebot", "/private/open/x"), "longer Allow wins");
        assert!(!r.allowed("somebot", "/docs/a.pdf"));
        assert!(r.allowed("somebot", "/docs/a.pdf?x=1"), "$ anchors the end");
        assert!(r.allowed("somebot", "/robots.txt"));
        assert!(!r.allowed("badbot", "/"));
    }

    #[test]
    fn robots_edge_cases() {
        assert!(Robots::parse("").allowed("kith", "/anything"));
        assert!(Robots::parse("User-agent: *\nDisallow:\n").allowed("kith", "/x"), "empty disallow allows");
        let tie = Robots::parse("User-agent: *\nDisallow: /a\nAllow: /a\n");
        assert!(tie.allowed("kith", "/a/b"), "Allow wins a tie");
        let star = Robots::parse("User-agent: *\nDisallow: /*/secret\n");
        assert!(!star.allowed("kith", "/x/y/secret/z"));
        assert!(star.allowed("kith", "/secret"));
        assert!(pattern_matches("/a*b$", "/axxb") && !pattern_matches("/a*b$", "/axxbc"));
    }

    #[test]
    fn sites_compare_scheme_host_and_port() {
        let a = Url::parse("https://shop.test/a").unwrap();
        assert_eq!(site_of(&a), site_of(&Url::parse("https://shop.test:443/b?x").unwrap()));
        assert_ne!(site_of(&a), site_of(&Url::parse("http://shop.test/a").unwrap()));
        assert_ne!(site_of(&a), site_of(&Url::parse("https://www.shop.test/a").unwrap()));
    }
}
