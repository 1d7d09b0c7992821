//! On-demand AI features for people working in the CRM (issue #5 §7, §8): a contact's summary from its
//! timeline, questions over the workspace's CRM records, related contacts, drafts from a template plus
//! instructions, and text-to-speech stored as a file.
//!
//! Each feature reads records only through the CRM use cases (`contacts::get`, `timeline::page`, `search`, …),
//! which apply the one visibility filter, so a prompt can hold nothing the requesting user could not open
//! themselves. Each model call goes through [`metering`] (feature switch, endpoint, hard limits, recording).
//! Without an endpoint the features fall back to a reduced form that is labelled as such (`mode`): summaries are
//! extractive, questions list the matching records, drafts are the rendered template, speech is refused.
//!
//! This module must never read a record with the workspace's rights instead of the user's, never send a record
//! the user cannot see to a provider, and never present a reduced answer as the model's.

use super::metering::{self, CallTarget};
use super::settings::{self, AiSettings};
use crate::crm::{companies, contacts, deals, notes, search, timeline};
use crate::{App, AppError, ErrorCode, Result};
use kith_domain::crm::RecordType;
use kith_domain::page::PageRequest;
use kith_domain::time::UtcDateTime;
use kith_domain::{new_id, Context};
use kith_providers::llm::{ChatMessage, ChatRequest};
use kith_store::records::{ListFilter, SortKey};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use uuid::Uuid;

/// How an answer was made.
pub const MODE_MODEL: &str = "model";
/// A summary picked from the contact's own sentences (no endpoint).
pub const MODE_EXTRACTIVE: &str = "extractive";
/// A question answered with the matching records only (no endpoint).
pub const MODE_RECORDS: &str = "records";
/// A draft that is the rendered template as it stands (no endpoint).
pub const MODE_TEMPLATE: &str = "template";

/// Timeline entries a summary reads (the newest).
const SUMMARY_ENTRIES: u32 = 60;
/// Sentences an extractive summary keeps.
const EXTRACT_SENTENCES: usize = 5;
/// Characters of one fact given to the model; long notes are cut.
const FACT_CHARS: usize = 600;
/// Records a question may give to the model.
const QUESTION_RECORDS: usize = 8;
pub const MAX_QUESTION_CHARS: usize = 500;
pub const MAX_TEMPLATE_CHARS: usize = 10_000;
pub const MAX_INSTRUCTIONS_CHARS: usize = 2_000;
pub const MAX_SPEECH_CHARS: usize = 4_096;
const RELATED_LIMIT: usize = 20;

/// Words that say nothing about a record; left out of scores and searches.
const STOP_WORDS: &[&str] = &[
    "a", "about", "all", "also", "an", "and", "any", "are", "as", "at", "be", "been", "but", "by", "can", "could",
    "did", "do", "does", "for", "from", "had", "has", "have", "he", "her", "his", "how", "i", "if", "in", "into", "is",
    "it", "its", "me", "my", "no", "not", "of", "on", "or", "our", "she", "so", "that", "the", "their", "them", "then",
    "there", "they", "this", "to", "us", "was", "we", "were", "what", "when", "where", "which", "who", "whom", "why",
    "will", "with", "would", "you", "your", "tell", "show", "list", "find", "give", "any",
];

/// Mail providers shared by strangers: a shared domain among them relates nobody.
const FREE_MAIL: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "yahoo.com",
    "icloud.com",
    "me.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "gmx.de",
    "gmx.net",
    "web.de",
    "mail.com",
    "yandex.ru",
    "example.com",
];

fn is_stop(w: &str) -> bool {
    STOP_WORDS.contains(&w)
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(|w| w.to_lowercase()).collect()
}

fn cut(text: &str, max: usize) -> String {
    let t = text.trim();
    if t.chars().count() <= max {
        t.to_string()
    } else {
        let mut s: String = t.chars().take(max).collect();
        s.push('…');
        s
    }
}

fn date(ms: i64) -> String {
    UtcDateTime::from_ms(ms).date()
}

fn check_text(field: &str, text: &str, max: usize, required: bool) -> Result<()> {
    if required && text.trim().is_empty() {
        return Err(AppError::field(field, "is required"));
    }
    if text.chars().count() > max {
        return Err(AppError::field(field, format!("must be at most {max} characters")));
    }
    Ok(())
}

/// One thing known about a contact, as a line of text.
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    /// `profile`, `note`, `task`, `activity`, `message`, `stage_change`, `deal`.
    pub kind: &'static str,
    pub at_ms: i64,
    pub text: String,
}

/// What the user may see about a contact: profile, the newest timeline entries and its deals.
pub async fn contact_facts(app: &App, ctx: &Context, contact_id: Uuid) -> Result<(contacts::Contact, Vec<Fact>)> {
    let c = contacts::get(app, ctx, contact_id).await?;
    let mut facts = Vec::new();
    let mut profile = vec![format!("Name: {}", c.display_name)];
    if let Some(t) = &c.title {
        profile.push(format!("Title: {t}"));
    }
    if let Some(id) = c.company_id {
        // A company the user cannot see stays unnamed.
        if let Ok(co) = companies::get(app, ctx, id).await {
            profile.push(format!("Company: {}", co.name));
        }
    }
    if !c.tags.is_empty() {
        profile.push(format!("Tags: {}", c.tags.join(", ")));
    }
    facts.push(Fact { kind: "profile", at_ms: c.updated_at_ms, text: profile.join("; ") });
    let page =
        timeline::page(app, ctx, RecordType::Contact, contact_id, &PageRequest::new(Some(SUMMARY_ENTRIES), None))
            .await?;
    for item in page.items {
        let text = if let Some(n) = &item.note {
            Some(n.body.clone())
        } else if let Some(t) = &item.task {
            let state = if t.done { "done" } else { "open" };
            let due = t.due_at_ms.map(|d| format!(", due {}", date(d))).unwrap_or_default();
            Some(format!("Task ({state}{due}): {}", t.title))
        } else if let Some(a) = &item.activity {
            let kind = format!("{:?}", a.kind).to_lowercase();
            let body = a.body.as_deref().map(|b| format!(". {b}")).unwrap_or_default();
            Some(format!("{kind}: {}{body}", a.subject))
        } else if let Some(m) = &item.message {
            let dir = if m.direction == "inbound" { "Message from the contact" } else { "Message to the contact" };
            Some(format!("{dir}: {}", m.preview))
        } else {
            item.stage_change.as_ref().map(|s| {
                format!(
                    "Deal moved from {} to {}",
                    s.from_stage.as_deref().unwrap_or("(start)"),
                    s.to_stage.as_deref().unwrap_or("another stage")
                )
            })
        };
        let kind = match item.kind.as_str() {
            timeline::NOTE => "note",
            timeline::TASK => "task",
            timeline::ACTIVITY => "activity",
            timeline::MESSAGE => "message",
            _ => "stage_change",
        };
        if let Some(text) = text.filter(|t| !t.trim().is_empty()) {
            facts.push(Fact { kind, at_ms: item.at_ms, text });
        }
    }
    for d in deals::of_contact(app, ctx, contact_id).await? {
        let value = format!("{}.{:02} {}", d.value_minor / 100, (d.value_minor % 100).abs(), d.currency);
        let mut text = format!("Deal \"{}\": {value}, {}", d.title, d.status.as_str());
        if let Some(r) = &d.lost_reason {
            text.push_str(&format!(" (lost: {r})"));
        }
        if let Some(e) = &d.expected_close {
            text.push_str(&format!(", expected close {e}"));
        }
        facts.push(Fact { kind: "deal", at_ms: d.updated_at_ms, text });
    }
    Ok((c, facts))
}

/// A summary and how it was made.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Summary {
    pub text: String,
    /// `model` (written by the workspace's AI endpoint) or `extractive` (sentences picked from the record, no
    /// AI endpoint).
    pub mode: String,
    /// The metered call (model mode only).
    pub call_id: Option<Uuid>,
    /// How many facts (profile, timeline entries, deals) were read.
    pub sources: usize,
}

/// Summarise a contact (feature `summaries`): by the model with an endpoint, extractively without one.
pub async fn contact_summary(app: &App, ctx: &Context, contact_id: Uuid) -> Result<Summary> {
    let s = settings::load(app, ctx.org_id).await?;
    s.require("summaries")?;
    let (c, facts) = contact_facts(app, ctx, contact_id).await?;
    if s.endpoint.is_none() {
        return Ok(Summary {
            text: extractive_summary(&facts, EXTRACT_SENTENCES, kith_domain::time::now_ms()),
            mode: MODE_EXTRACTIVE.into(),
            call_id: None,
            sources: facts.len(),
        });
    }
    let listing = facts
        .iter()
        .map(|f| format!("- [{} {}] {}", f.kind, date(f.at_ms), cut(&f.text, FACT_CHARS)))
        .collect::<Vec<_>>()
        .join("\n");
    let req = ChatRequest::new(
        "",
        vec![
            ChatMessage::system(
                "You summarise a CRM contact for a colleague in at most five short sentences: who they are, where \
                 things stand (deals, open tasks), and what happened recently. Use only the facts given; do not \
                 invent anything.",
            ),
            ChatMessage::user(format!("Contact: {}\nFacts, newest first:\n{listing}", c.display_name)),
        ],
    );
    let target = CallTarget { conversation_id: None, record: Some(("contact".into(), contact_id)) };
    let out = metering::chat(app, ctx.org_id, "summaries", target, &s, req).await?;
    Ok(Summary {
        text: out.content.trim().to_string(),
        mode: MODE_MODEL.into(),
        call_id: Some(out.call_id),
        sources: facts.len(),
    })
}

fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, &ch) in chars.iter().enumerate() {
        if ch == '\n' {
            if !cur.trim().is_empty() {
                out.push(cur.trim().to_string());
            }
            cur.clear();
            continue;
        }
        cur.push(ch);
        let end = matches!(ch, '.' | '!' | '?') && chars.get(i + 1).is_none_or(|n| n.is_whitespace());
        if end {
            out.push(cur.trim().to_string());
            cur.clear();
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out.into_iter().map(|s| s.trim_start_matches(['-', '*', ' ']).to_string()).filter(|s| s.len() > 2).collect()
}

/// An extractive summary: the `keep` most informative sentences of the facts, in time order.
///
/// Scoring (simple on purpose, so a person can predict it): each sentence scores the number of its distinct
/// content words (stop words left out, capped at 12 so a rambling note does not win by length), plus 2 when the
/// word also occurs in another fact (a recurring topic), plus 1.5 for a figure (amounts, dates), times a weight by
/// kind (deal 1.5, note 1.2, activity 1.1, message 1.0, task 0.9, stage change 0.8), times a recency factor from
/// 1.0 for today down to 0.5 for a year or older. Sentences sharing more than 60% of their words with one already
/// picked are skipped. The profile line always comes first.
pub fn extractive_summary(facts: &[Fact], keep: usize, now_ms: i64) -> String {
    let mut lines = Vec::new();
    if let Some(p) = facts.iter().find(|f| f.kind == "profile") {
        lines.push(p.text.clone());
    }
    // How many facts each word occurs in.
    let mut df: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for f in facts.iter().filter(|f| f.kind != "profile") {
        let set: HashSet<String> = words(&f.text).into_iter().filter(|w| !is_stop(w)).collect();
        for w in set {
            *df.entry(w).or_default() += 1;
        }
    }
    struct Cand {
        score: f64,
        at_ms: i64,
        order: usize,
        text: String,
        set: HashSet<String>,
    }
    let mut cands = Vec::new();
    for f in facts.iter().filter(|f| f.kind != "profile") {
        let weight = match f.kind {
            "deal" => 1.5,
            "note" => 1.2,
            "activity" => 1.1,
            "message" => 1.0,
            "task" => 0.9,
            _ => 0.8,
        };
        let age_days = ((now_ms - f.at_ms).max(0) as f64) / 86_400_000.0;
        let recency = 1.0 - 0.5 * (age_days / 365.0).min(1.0);
        for s in sentences(&f.text) {
            let set: HashSet<String> = words(&s).into_iter().filter(|w| !is_stop(w) && w.len() > 1).collect();
            if set.is_empty() {
                continue;
            }
            let content = set.len().min(12) as f64;
            let recurring = if set.iter().any(|w| df.get(w).copied().unwrap_or(0) > 1) { 2.0 } else { 0.0 };
            let figure = if s.chars().any(|c| c.is_ascii_digit()) { 1.5 } else { 0.0 };
            let score = (content + recurring + figure) * weight * recency;
            let order = cands.len();
            cands.push(Cand { score, at_ms: f.at_ms, order, text: s, set });
        }
    }
    cands
        .sort_by(|a, b| b.score.partial_cmp(&a.score).unwrap_or(std::cmp::Ordering::Equal).then(a.order.cmp(&b.order)));
    let mut picked: Vec<&Cand> = Vec::new();
    for c in &cands {
        if picked.len() >= keep {
            break;
        }
        let similar = picked.iter().any(|p| {
            let shared = c.set.intersection(&p.set).count() as f64;
            shared / (c.set.len().min(p.set.len()).max(1) as f64) > 0.6
        });
        if !similar {
            picked.push(c);
        }
    }
    picked.sort_by_key(|c| (c.at_ms, std::cmp::Reverse(c.order)));
    for c in picked {
        lines.push(format!("{} — {}", date(c.at_ms), c.text));
    }
    if lines.len() <= 1 {
        lines.push("Nothing has been recorded about this contact yet.".into());
    }
    lines.join("\n")
}

/// A record a question's answer rests on.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct UsedRecord {
    /// `contact`, `company`, `deal` or `note`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Uuid,
    pub name: String,
    /// The model's answer cites it (`[n]`); always true for the records mode.
    pub cited: bool,
}

/// An answer to a question over the CRM.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Answer {
    pub answer: String,
    /// `model` or `records` (the matching records, no AI endpoint).
    pub mode: String,
    pub call_id: Option<Uuid>,
    /// The records given to the model (model mode) or found (records mode), best first.
    pub records: Vec<UsedRecord>,
}

/// The searchable words of a question: content words only.
pub fn question_terms(question: &str) -> Vec<String> {
    search::query_words(question).into_iter().filter(|w| !is_stop(w) && w.chars().count() > 1).collect()
}

/// Candidate records for a question: each content word searched on its own (the search ANDs its words), hits
/// merged by summed rank, best first.
async fn candidates(app: &App, ctx: &Context, question: &str) -> Result<Vec<search::SearchHit>> {
    let mut merged: Vec<(search::SearchHit, f64, usize)> = Vec::new();
    for term in question_terms(question) {
        for hit in search::search(app, ctx, &term, 10).await? {
            match merged.iter_mut().find(|(h, _, _)| h.id == hit.id && h.kind == hit.kind) {
                Some(m) => {
                    m.1 += hit.rank.abs().max(0.01);
                    m.2 += 1;
                }
                None => {
                    let r = hit.rank.abs().max(0.01);
                    merged.push((hit, r, 1));
                }
            }
        }
    }
    // Records matching more of the question's words first, then by rank.
    merged.sort_by(|a, b| b.2.cmp(&a.2).then(b.1.partial_cmp(&a.1).unwrap_or(std::cmp::Ordering::Equal)));
    Ok(merged.into_iter().map(|(h, _, _)| h).collect())
}

/// The fields of a hit, read again through its own visibility-checked use case; None when it is gone or hidden.
async fn record_fields(app: &App, ctx: &Context, hit: &search::SearchHit) -> Result<Option<(String, String)>> {
    let found = match hit.kind.as_str() {
        "contact" => contacts::get(app, ctx, hit.id).await.map(|c| {
            let mut f = vec![format!("name: {}", c.display_name)];
            f.extend(c.title.map(|t| format!("title: {t}")));
            f.extend(c.emails.first().map(|e| format!("e-mail: {}", e.value)));
            f.extend(c.phones.first().map(|p| format!("phone: {}", p.value)));
            if !c.tags.is_empty() {
                f.push(format!("tags: {}", c.tags.join(", ")));
            }
            (c.display_name, f.join("; "))
        }),
        "company" => companies::get(app, ctx, hit.id).await.map(|c| {
            let mut f = vec![format!("name: {}", c.name)];
            f.extend(c.domain.map(|d| format!("domain: {d}")));
            f.extend(c.industry.map(|d| format!("industry: {d}")));
            f.extend(c.size.map(|d| format!("size: {d}")));
            (c.name, f.join("; "))
        }),
        "deal" => deals::get(app, ctx, hit.id).await.map(|d| {
            let value = format!("{}.{:02} {}", d.value_minor / 100, (d.value_minor % 100).abs(), d.currency);
            let mut f = vec![
                format!("title: {}", d.title),
                format!("value: {value}"),
                format!("status: {}", d.status.as_str()),
            ];
            f.extend(d.expected_close.map(|e| format!("expected close: {e}")));
            f.extend(d.lost_reason.map(|e| format!("lost reason: {e}")));
            (d.title, f.join("; "))
        }),
        "note" => notes::get(app, ctx, hit.id).await.map(|n| {
            let name = format!("Note on {}", hit.title);
            (name, format!("on: {}; written {}; text: {}", hit.title, date(n.created_at_ms), cut(&n.body, FACT_CHARS)))
        }),
        _ => return Ok(None),
    };
    match found {
        Ok(v) => Ok(Some(v)),
        Err(AppError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Answer a question over the workspace's CRM records (feature `questions`) from the records the user may see.
pub async fn ask(app: &App, ctx: &Context, question: &str) -> Result<Answer> {
    check_text("question", question, MAX_QUESTION_CHARS, true)?;
    let s = settings::load(app, ctx.org_id).await?;
    s.require("questions")?;
    let mut used = Vec::new();
    let mut listing = Vec::new();
    for hit in candidates(app, ctx, question).await? {
        if used.len() >= QUESTION_RECORDS {
            break;
        }
        if let Some((name, fields)) = record_fields(app, ctx, &hit).await? {
            listing.push(format!("[{}] {} {}: {fields}", used.len() + 1, hit.kind, hit.id));
            used.push(UsedRecord { kind: hit.kind.clone(), id: hit.id, name, cited: false });
        }
    }
    if s.endpoint.is_none() {
        let answer = if used.is_empty() {
            "No records match the question's words. (No AI endpoint: the matching records are shown instead of an \
             answer.)"
                .to_string()
        } else {
            let mut a = String::from("No AI endpoint is configured; these records match the question's words:\n");
            for (i, r) in used.iter_mut().enumerate() {
                r.cited = true;
                a.push_str(&format!("{}. {} ({})\n", i + 1, r.name, r.kind));
            }
            a.trim_end().to_string()
        };
        return Ok(Answer { answer, mode: MODE_RECORDS.into(), call_id: None, records: used });
    }
    let records = if listing.is_empty() { "(no matching records)".to_string() } else { listing.join("\n") };
    let req = ChatRequest::new(
        "",
        vec![
            ChatMessage::system(
                "You answer questions about a company's CRM using only the numbered records given. Cite the records \
                 you rely on as [n]. If the records do not answer the question, say so.",
            ),
            ChatMessage::user(format!("Records:\n{records}\n\nQuestion: {}", question.trim())),
        ],
    );
    let out = metering::chat(app, ctx.org_id, "questions", CallTarget::default(), &s, req).await?;
    for (i, r) in used.iter_mut().enumerate() {
        r.cited = out.content.contains(&format!("[{}]", i + 1));
    }
    Ok(Answer {
        answer: out.content.trim().to_string(),
        mode: MODE_MODEL.into(),
        call_id: Some(out.call_id),
        records: used,
    })
}

/// A contact related to another, and why.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RelatedContact {
    pub id: Uuid,
    pub name: String,
    /// `company`, `email_domain`, `deal`, `similar_profile` (one or more).
    pub reasons: Vec<String>,
    /// The cosine of the two contacts' profile vectors, when the workspace relates contacts by embeddings and this
    /// one is among the closest (left out otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f32>,
}

fn domain_of(email: &str) -> Option<String> {
    let d = email.rsplit_once('@')?.1.trim().to_lowercase();
    (!d.is_empty() && !FREE_MAIL.contains(&d.as_str())).then_some(d)
}

/// The e-mail address's domain unless it is a free-mail one.
pub fn business_domain(email: &str) -> Option<String> {
    domain_of(email)
}

/// Contacts sharing the contact's company, e-mail domain (not a free-mail one) or a deal — only those the user may
/// see; a plain query without a model. When the workspace has an embedding model and the `questions` feature on,
/// contacts with the closest profiles join them, fused by reciprocal rank (see [`super::related`]).
pub async fn related_contacts(app: &App, ctx: &Context, contact_id: Uuid) -> Result<Vec<RelatedContact>> {
    let c = contacts::get(app, ctx, contact_id).await?;
    let mut out: Vec<RelatedContact> = Vec::new();
    fn add(out: &mut Vec<RelatedContact>, id: Uuid, name: &str, reason: &str) {
        match out.iter_mut().find(|r| r.id == id) {
            Some(r) if !r.reasons.iter().any(|x| x == reason) => r.reasons.push(reason.into()),
            Some(_) => {}
            None => out.push(RelatedContact { id, name: name.into(), reasons: vec![reason.into()], similarity: None }),
        }
    }
    if let Some(company_id) = c.company_id {
        let filter = ListFilter { company_id: Some(company_id), ..Default::default() };
        let page = contacts::list(
            app,
            ctx,
            &filter,
            SortKey::UpdatedDesc,
            &PageRequest::new(Some(RELATED_LIMIT as u32), None),
        )
        .await?;
        for o in page.items.iter().filter(|o| o.id != contact_id) {
            add(&mut out, o.id, &o.display_name, "company");
        }
    }
    let domains: Vec<String> =
        c.emails.iter().filter_map(|e| domain_of(&e.value)).collect::<HashSet<_>>().into_iter().collect();
    for domain in &domains {
        // The search indexes e-mail words, so the domain's words find candidates; the domain itself decides.
        let hits = search::search(app, ctx, domain, search::MAX_RESULTS).await?;
        let ids: Vec<Uuid> = hits.iter().filter(|h| h.kind == "contact" && h.id != contact_id).map(|h| h.id).collect();
        if ids.is_empty() {
            continue;
        }
        let filter = ListFilter { ids, ..Default::default() };
        let page = contacts::list(app, ctx, &filter, SortKey::UpdatedDesc, &PageRequest::new(Some(50), None)).await?;
        for o in page.items {
            if o.emails.iter().any(|e| domain_of(&e.value).as_deref() == Some(domain.as_str())) {
                add(&mut out, o.id, &o.display_name, "email_domain");
            }
        }
    }
    let deal_contacts: Vec<Uuid> = deals::of_contact(app, ctx, contact_id)
        .await?
        .into_iter()
        .flat_map(|d| d.contact_ids)
        .filter(|id| *id != contact_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if !deal_contacts.is_empty() {
        let filter = ListFilter { ids: deal_contacts, ..Default::default() };
        let page = contacts::list(app, ctx, &filter, SortKey::UpdatedDesc, &PageRequest::new(Some(50), None)).await?;
        for o in page.items {
            add(&mut out, o.id, &o.display_name, "deal");
        }
    }
    // More shared attributes first, then by name.
    out.sort_by(|a, b| b.reasons.len().cmp(&a.reasons.len()).then_with(|| a.name.cmp(&b.name)));
    // With embeddings: the closest profiles, fused with that order by reciprocal rank.
    let similar = super::related::similar(app, ctx, &c).await?;
    if !similar.is_empty() {
        let signals: Vec<Uuid> = out.iter().map(|r| r.id).collect();
        let close: Vec<Uuid> = similar.iter().map(|(id, _, _)| *id).collect();
        let score = super::related::fuse(&signals, &close);
        for (id, name, sim) in &similar {
            add(&mut out, *id, name, "similar_profile");
            if let Some(r) = out.iter_mut().find(|r| r.id == *id) {
                r.similarity = Some(*sim);
            }
        }
        out.sort_by(|a, b| {
            let (sa, sb) = (score.get(&a.id).copied().unwrap_or(0.0), score.get(&b.id).copied().unwrap_or(0.0));
            sb.partial_cmp(&sa).unwrap_or(std::cmp::Ordering::Equal).then_with(|| a.name.cmp(&b.name))
        });
    }
    out.truncate(RELATED_LIMIT);
    Ok(out)
}

/// What a draft starts from.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftInput {
    /// Template text with `{{variables}}` (`contact.first_name`, `agent.name`, `workspace.name`, …).
    pub template: String,
    /// How the model should rewrite it.
    #[serde(default)]
    pub instructions: String,
    /// The contact whose values fill the variables.
    #[serde(default)]
    pub contact_id: Option<Uuid>,
}

/// A draft and how it was made.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Draft {
    pub text: String,
    /// `model` (rewritten per the instructions) or `template` (the rendered template as it stands, no AI
    /// endpoint).
    pub mode: String,
    pub call_id: Option<Uuid>,
    /// The template with its variables filled in, before any rewriting.
    pub rendered: String,
}

/// Draft a text (feature `drafting`): the template rendered for the contact, then rewritten by the model.
pub async fn draft(app: &App, ctx: &Context, input: &DraftInput) -> Result<Draft> {
    check_text("template", &input.template, MAX_TEMPLATE_CHARS, true)?;
    check_text("instructions", &input.instructions, MAX_INSTRUCTIONS_CHARS, false)?;
    let template =
        kith_domain::template::parse(&input.template).map_err(|e| AppError::field("template", e.to_string()))?;
    let s = settings::load(app, ctx.org_id).await?;
    s.require("drafting")?;
    let contact = match input.contact_id {
        Some(id) => Some(contacts::get(app, ctx, id).await.map_err(|e| match e {
            AppError::NotFound => AppError::field("contact_id", "no such contact"),
            e => e,
        })?),
        None => None,
    };
    let agent = kith_store::users::get(app.db(), ctx.user_id()).await?;
    let workspace = kith_store::workspaces::get(app.db(), ctx.org_id).await?;
    let rendered = template.render(|name| match name {
        "contact.first_name" => contact.as_ref().map(|c| c.first_name.clone()),
        "contact.last_name" => contact.as_ref().map(|c| c.last_name.clone()),
        "contact.full_name" => contact.as_ref().map(|c| format!("{} {}", c.first_name, c.last_name).trim().to_string()),
        "contact.email" => contact.as_ref().and_then(|c| c.emails.first().map(|e| e.value.clone())),
        "contact.phone" => contact.as_ref().and_then(|c| c.phones.first().map(|p| p.value.clone())),
        "agent.name" => agent.as_ref().map(|u| u.name.clone()),
        "agent.first_name" => agent.as_ref().and_then(|u| u.name.split_whitespace().next().map(str::to_string)),
        "workspace.name" => workspace.as_ref().map(|w| w.name.clone()),
        _ => None,
    });
    if s.endpoint.is_none() || input.instructions.trim().is_empty() {
        // Nothing to rewrite with (or for): the rendered template is the draft, labelled as such.
        return Ok(Draft { text: rendered.clone(), mode: MODE_TEMPLATE.into(), call_id: None, rendered });
    }
    let req = ChatRequest::new(
        "",
        vec![
            ChatMessage::system(
                "You rewrite a draft text following the user's instructions. Keep names, figures and facts of the \
                 draft; answer with the rewritten text only.",
            ),
            ChatMessage::user(format!("Draft:\n{rendered}\n\nInstructions:\n{}", input.instructions.trim())),
        ],
    );
    let target = CallTarget { conversation_id: None, record: input.contact_id.map(|id| ("contact".to_string(), id)) };
    let out = metering::chat(app, ctx.org_id, "drafting", target, &s, req).await?;
    Ok(Draft { text: out.content.trim().to_string(), mode: MODE_MODEL.into(), call_id: Some(out.call_id), rendered })
}

/// The first chunk of a stored speech file: what it is and whose.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SpeechHeader {
    /// Always [`SPEECH_MAGIC`]: a file of another kind (an export) is never served as speech.
    kind: String,
    content_type: String,
    bytes: i64,
    created_by: Uuid,
    created_ms: i64,
}

const SPEECH_MAGIC: &str = "kith.ai.speech.v1";

/// Audio made from a text, stored as a file.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SpeechFile {
    pub file_id: Uuid,
    pub content_type: String,
    pub bytes: i64,
    pub call_id: Option<Uuid>,
    /// When the retention deletes it (30 days after it was made); its creator may delete it sooner.
    pub expires_at_ms: i64,
}

fn speech_unavailable(s: &AiSettings) -> Option<AppError> {
    s.speech_model().is_none().then(|| {
        AppError::Ai(
            ErrorCode::AiNotConfigured,
            "Speech needs an AI endpoint with a speech model; an admin can set one in the AI settings".into(),
        )
    })
}

/// Speak a text (feature `speech`) and keep the audio as a file only its creator can fetch. Without an endpoint
/// or a speech model: `ai_not_configured` — speech has no reduced form.
pub async fn speak(app: &App, ctx: &Context, text: &str) -> Result<SpeechFile> {
    speak_for(app, ctx, text, SpeechSource::Text).await
}

/// What a speech file was made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpeechSource {
    Text,
    /// A contact's summary.
    Contact(Uuid),
    /// A knowledge-base entry's summary.
    Knowledge(Uuid),
}

impl SpeechSource {
    fn parts(self) -> (&'static str, Option<Uuid>) {
        match self {
            SpeechSource::Text => ("text", None),
            SpeechSource::Contact(id) => ("contact", Some(id)),
            SpeechSource::Knowledge(id) => ("knowledge", Some(id)),
        }
    }
}

/// [`speak`], recording what the text was made from (the call's record and the file's source).
pub async fn speak_for(app: &App, ctx: &Context, text: &str, source: SpeechSource) -> Result<SpeechFile> {
    check_text("text", text, MAX_SPEECH_CHARS, true)?;
    let s = settings::load(app, ctx.org_id).await?;
    s.require("speech")?;
    if let Some(e) = speech_unavailable(&s) {
        return Err(e);
    }
    let (kind, id) = source.parts();
    let target = CallTarget { conversation_id: None, record: id.map(|id| (kind.to_string(), id)) };
    let out = metering::speech(app, ctx.org_id, target, &s, text.trim()).await?;
    store_speech(app, ctx, &out.audio, &out.content_type, Some(out.call_id), source).await
}

/// Check, before any work, that speech can run: the feature is on and a speech model is set.
pub async fn speech_ready(app: &App, ctx: &Context) -> Result<()> {
    let s = settings::switches(app, ctx.org_id).await?;
    if !s.features.speech {
        return Err(AppError::Ai(
            ErrorCode::AiFeatureDisabled,
            "the AI feature `speech` is turned off for this workspace; an admin can turn it on in the AI settings"
                .into(),
        ));
    }
    if !s.speech_model {
        return Err(AppError::Ai(
            ErrorCode::AiNotConfigured,
            "Speech needs an AI endpoint with a speech model; an admin can set one in the AI settings".into(),
        ));
    }
    Ok(())
}

/// Speak a contact's summary (made first, in whichever mode applies).
pub async fn speak_summary(app: &App, ctx: &Context, contact_id: Uuid) -> Result<SpeechFile> {
    speech_ready(app, ctx).await?;
    let summary = contact_summary(app, ctx, contact_id).await?;
    let text: String = summary.text.chars().take(MAX_SPEECH_CHARS).collect();
    speak_for(app, ctx, &text, SpeechSource::Contact(contact_id)).await
}

async fn store_speech(
    app: &App,
    ctx: &Context,
    audio: &[u8],
    content_type: &str,
    call_id: Option<Uuid>,
    source: SpeechSource,
) -> Result<SpeechFile> {
    let file_id = new_id();
    let now = kith_domain::time::now_ms();
    let header = SpeechHeader {
        kind: SPEECH_MAGIC.into(),
        content_type: content_type.into(),
        bytes: audio.len() as i64,
        created_by: ctx.user_id(),
        created_ms: now,
    };
    let head = serde_json::to_vec(&header).map_err(|e| AppError::Internal(e.to_string()))?;
    let (source_type, source_id) = source.parts();
    let row = kith_store::ai_assist::SpeechRow {
        id: file_id,
        org_id: ctx.org_id,
        created_by: ctx.user_id(),
        source_type: source_type.into(),
        source_id,
        content_type: content_type.into(),
        bytes: audio.len() as i64,
        call_id,
        created_ms: now,
    };
    let mut tx = app.db().begin().await?;
    kith_store::ai_assist::insert_speech(&mut tx, &row).await?;
    kith_store::files::append_chunk(&mut tx, file_id, ctx.org_id, 0, &head).await?;
    for (i, chunk) in audio.chunks(kith_store::files::CHUNK_BYTES).enumerate() {
        kith_store::files::append_chunk(&mut tx, file_id, ctx.org_id, i as i64 + 1, chunk).await?;
    }
    tx.commit().await?;
    Ok(SpeechFile {
        file_id,
        content_type: content_type.into(),
        bytes: audio.len() as i64,
        call_id,
        expires_at_ms: now + SPEECH_RETENTION_MS,
    })
}

/// How long stored speech is kept: a scheduled job deletes older files ([`purge_speech`]).
pub const SPEECH_RETENTION_MS: i64 = 30 * kith_domain::time::DAY_MS;
/// The retention job, its schedule and cron (hourly, at minute 23).
pub const SPEECH_PURGE_JOB: &str = "ai.speech.purge";
pub const SPEECH_PURGE_SCHEDULE: &str = "ai-speech-purge";
pub const SPEECH_PURGE_CRON: &str = "23 * * * *";

/// Delete speech files (all workspaces) older than [`SPEECH_RETENTION_MS`] at `now`, 500 per transaction.
pub async fn purge_speech(app: &App, now: i64) -> Result<u64> {
    let mut total = 0;
    loop {
        let mut tx = app.db().begin().await?;
        let n = kith_store::ai_assist::purge_speech(&mut tx, now - SPEECH_RETENTION_MS, 500).await?;
        tx.commit().await?;
        total += n;
        if n < 500 {
            break;
        }
    }
    if total > 0 {
        tracing::info!(deleted = total, "expired speech files deleted");
    }
    Ok(total)
}

/// Delete one of the caller's speech files now. Anyone else's (or none) is `not_found`.
pub async fn delete_speech(app: &App, ctx: &Context, file_id: Uuid) -> Result<()> {
    let mut tx = app.db().begin().await?;
    let gone = kith_store::ai_assist::delete_speech(&mut tx, ctx.org_id, file_id, ctx.user_id()).await?;
    tx.commit().await?;
    if gone {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

pub fn register(r: &mut crate::worker::Registry) {
    r.register(SPEECH_PURGE_JOB, |app: App, _job| async move {
        purge_speech(&app, kith_domain::time::now_ms()).await.map(|_| ())
    });
}

/// Stored speech: its content type and audio. Only its creator gets it; anyone else (and any other file) is
/// `not_found`.
pub async fn speech_file(app: &App, ctx: &Context, file_id: Uuid) -> Result<(String, Vec<u8>)> {
    // The row says whose it is (and is gone once the retention deleted it).
    let row = kith_store::ai_assist::get_speech(app.db(), ctx.org_id, file_id).await?.ok_or(AppError::NotFound)?;
    if row.created_by != ctx.user_id() {
        return Err(AppError::NotFound);
    }
    let head = kith_store::files::chunk(app.db(), ctx.org_id, file_id, 0).await?.ok_or(AppError::NotFound)?;
    let header: SpeechHeader = serde_json::from_slice(&head).map_err(|_| AppError::NotFound)?;
    if header.kind != SPEECH_MAGIC || header.created_by != ctx.user_id() {
        return Err(AppError::NotFound);
    }
    let mut audio = Vec::with_capacity(header.bytes.max(0) as usize);
    let mut seq = 1;
    while let Some(chunk) = kith_store::files::chunk(app.db(), ctx.org_id, file_id, seq).await? {
        audio.extend_from_slice(&chunk);
        seq += 1;
    }
    Ok((header.content_type, audio))
}

/// Audio types a browser may play inline; anything else is served as a download.
pub fn is_safe_audio(content_type: &str) -> bool {
    let base = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    matches!(
        base.as_str(),
        "audio/mpeg"
            | "audio/mp3"
            | "audio/ogg"
            | "audio/opus"
            | "audio/wav"
            | "audio/x-wav"
            | "audio/wave"
            | "audio/aac"
            | "audio/flac"
            | "audio/webm"
            | "audio/mp4"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    #[test]
    fn extractive_summary_keeps_informative_recent_sentences_in_time_order() {
        let now = 400 * DAY;
        let facts = vec![
            Fact { kind: "profile", at_ms: now, text: "Name: Ann Lee; Title: CTO".into() },
            Fact {
                kind: "note",
                at_ms: now - DAY,
                text: "Ok. Ann wants the migration plan for 40 seats before March budget review.".into(),
            },
            Fact { kind: "note", at_ms: now - 2 * DAY, text: "Thanks.".into() },
            Fact { kind: "deal", at_ms: now - 3 * DAY, text: "Deal \"Migration\": 12000.00 EUR, open".into() },
            Fact {
                kind: "activity",
                at_ms: now - 390 * DAY,
                text: "call: intro. Talked about the weather a bit".into(),
            },
        ];
        let out = extractive_summary(&facts, 2, now);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "Name: Ann Lee; Title: CTO");
        assert_eq!(lines.len(), 3, "{out}");
        assert!(lines[1].contains("Migration") && lines[1].contains("12000"), "older first: {out}");
        assert!(lines[2].contains("40 seats"), "{out}");
        assert!(!out.contains("Thanks") && !out.contains("weather"), "{out}");
        let empty = extractive_summary(&facts[..1], 3, now);
        assert!(empty.contains("Nothing has been recorded"), "{empty}");
    }

    #[test]
    fn sentences_split_on_ends_and_lines() {
        assert_eq!(sentences("One two. Three 3.5 four!\n- five six"), ["One two.", "Three 3.5 four!", "five six"]);
    }

    #[test]
    fn question_terms_drop_stop_words_and_free_mail_is_no_relation() {
        assert_eq!(question_terms("What is the status of the Acme deal?"), ["status", "acme", "deal"]);
        assert_eq!(domain_of("a@Acme.COM").as_deref(), Some("acme.com"));
        assert_eq!(domain_of("a@gmail.com"), None);
        assert!(
            is_safe_audio("audio/mpeg") && !is_safe_audio("text/html") && !is_safe_audio("application/octet-stream")
        );
    }
}
