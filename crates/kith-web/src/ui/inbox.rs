//! The shared inbox: conversation list (filters, unread marks, keyset "load
//! more"), the thread (messages, private notes, delivery states, composer,
//! status, snooze, assignment, labels) and the contact's CRM card.
//!
//! Every action is a real form that posts and redirects, so the inbox works
//! without JavaScript. `assets/inbox.js` makes it live: it listens to
//! `/events` and fetches the small HTML fragments below (a list row, the
//! messages after the last one shown, one message, the thread header) —
//! rendering and escaping stay on the server.

use super::crm::{
    company_link, fmt_phone, initials, local_ms, local_path, message_of, parse_id, query_string, tz_offset,
};
use super::pages::{Link, Opt, Shell, When};
use super::{redirect_with, render, Flash, UiCtx};
use crate::state::WebState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form, Json};
use kith_app::ai::autoreply;
use kith_app::crm::{contacts, timeline};
use kith_app::inbox::conversations::{self, Conversation, ConversationPatch, ConversationQuery, NewNote, Status};
use kith_app::inbox::messages::{self, Message};
use kith_app::inbox::outbound::{self, OutboundMessage, TemplateInput};
use kith_app::{AppError, Context};
use kith_domain::crm::RecordType;
use kith_domain::page::{Cursor, PageRequest};
use kith_domain::time::now_ms;
use serde::Deserialize;
use uuid::Uuid;

/// Conversations per page of the list.
const LIST_PAGE: u32 = 30;
/// Messages shown when a thread opens (older ones page in).
const THREAD_PAGE: u32 = 50;

// ---------- names ----------

pub fn kind_label(kind: &str) -> &'static str {
    match kind {
        "twilio_sms" => "SMS",
        "whatsapp" => "WhatsApp",
        "messenger" => "Messenger",
        "instagram" => "Instagram",
        "telegram" => "Telegram",
        "viber" => "Viber",
        "email" => "E-mail",
        _ => "Channel",
    }
}

fn status_label(s: Status) -> &'static str {
    match s {
        Status::Open => "Open",
        Status::Pending => "Pending",
        Status::Snoozed => "Snoozed",
        Status::Resolved => "Resolved",
    }
}

fn state_label(state: &str) -> &'static str {
    match state {
        "queued" => "Queued",
        "sent" => "Sent",
        "delivered" => "Delivered",
        "read" => "Read",
        "failed" => "Failed",
        _ => "",
    }
}

/// A contact's name as the inbox shows it: a phone number (a contact known
/// only by their number) grouped for reading.
fn shown_name(name: &str) -> String {
    let digits = name.strip_prefix('+').is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()));
    if digits {
        fmt_phone(name)
    } else {
        name.to_string()
    }
}

/// Initials of a name's words; "#" for a number.
fn avatar_of(name: &str) -> String {
    let words: String =
        name.split_whitespace().filter(|w| w.starts_with(char::is_alphabetic)).collect::<Vec<_>>().join(" ");
    if words.is_empty() {
        "#".into()
    } else {
        initials(&words)
    }
}

/// Members and teams by id, for assignee names and the assignment selects.
struct People {
    members: Vec<(Uuid, String, String)>,
    teams: Vec<(Uuid, String)>,
}

impl People {
    async fn load(state: &WebState, ctx: &Context) -> People {
        let all = PageRequest::new(Some(200), None);
        let mut members: Vec<(Uuid, String, String)> = kith_app::members::list(&state.app, ctx, &all)
            .await
            .map(|p| p.items.into_iter().map(|m| (m.user_id, m.name, m.email)).collect())
            .unwrap_or_default();
        members.sort_by_key(|m| m.1.to_lowercase());
        let mut teams: Vec<(Uuid, String)> = kith_app::teams::list(&state.app, ctx, &all)
            .await
            .map(|p| p.items.into_iter().map(|t| (t.id, t.name)).collect())
            .unwrap_or_default();
        teams.sort_by_key(|t| t.1.to_lowercase());
        People { members, teams }
    }

    fn member(&self, id: Option<Uuid>) -> String {
        match id {
            Some(id) => self.members.iter().find(|m| m.0 == id).map(|m| m.1.clone()).unwrap_or("Former member".into()),
            None => String::new(),
        }
    }

    fn team(&self, id: Option<Uuid>) -> String {
        match id {
            Some(id) => self.teams.iter().find(|t| t.0 == id).map(|t| t.1.clone()).unwrap_or("Former team".into()),
            None => String::new(),
        }
    }

    /// `@handle` of each member (the local part of their e-mail), for the note help.
    fn handles(&self) -> String {
        let list: Vec<String> =
            self.members.iter().filter_map(|m| m.2.split('@').next().map(|h| format!("@{h}"))).take(6).collect();
        list.join(", ")
    }
}

// ---------- filters ----------

#[derive(Deserialize, Default, Clone)]
pub struct ListQuery {
    #[serde(default)]
    view: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    cursor: String,
    /// Thread page: older messages than this cursor.
    #[serde(default)]
    older: String,
}

/// The list's filters, normalised: `view` is all, mine or unassigned;
/// `status` open (the default), pending, snoozed, resolved or all.
#[derive(Clone)]
struct Filters {
    view: &'static str,
    status: &'static str,
    channel: Option<Uuid>,
    label: String,
}

impl Filters {
    fn of(q: &ListQuery) -> Filters {
        let view = match q.view.as_str() {
            "mine" => "mine",
            "unassigned" => "unassigned",
            _ => "all",
        };
        let status = match q.status.as_str() {
            "pending" => "pending",
            "snoozed" => "snoozed",
            "resolved" => "resolved",
            "all" => "all",
            _ => "open",
        };
        Filters { view, status, channel: parse_id(&q.channel), label: q.label.trim().to_lowercase() }
    }

    /// The filters as a query string (`?view=mine&status=pending`), defaults left out.
    fn qs(&self) -> String {
        let channel = self.channel.map(|c| c.to_string()).unwrap_or_default();
        let view = if self.view == "all" { "" } else { self.view };
        let status = if self.status == "open" { "" } else { self.status };
        query_string(&[("view", view), ("status", status), ("channel", &channel), ("label", &self.label)])
    }

    /// The same query string with one more pair.
    fn qs_with(&self, key: &str, value: &str) -> String {
        let base = self.qs();
        let extra = serde_urlencoded::to_string([(key, value)]).unwrap_or_default();
        if base.is_empty() {
            format!("?{extra}")
        } else {
            format!("{base}&{extra}")
        }
    }

    fn query(&self) -> ConversationQuery {
        ConversationQuery {
            status: (self.status != "all").then(|| self.status.to_string()),
            assignee: match self.view {
                "mine" => Some("me".into()),
                "unassigned" => Some("unassigned".into()),
                _ => None,
            },
            channel_id: self.channel,
            label: (!self.label.is_empty()).then(|| self.label.clone()),
            contact_id: None,
        }
    }

    /// Does this conversation belong in the filtered list?
    fn matches(&self, c: &Conversation, me: Uuid) -> bool {
        let status = self.status == "all" || c.status.as_str() == self.status;
        let view = match self.view {
            "mine" => c.assignee_user_id == Some(me),
            "unassigned" => c.assignee_user_id.is_none(),
            _ => true,
        };
        let channel = self.channel.is_none_or(|ch| ch == c.channel.id);
        let label = self.label.is_empty() || c.labels.contains(&self.label);
        status && view && channel && label
    }

    fn is_default(&self) -> bool {
        self.qs().is_empty()
    }
}

pub struct ViewTab {
    pub label: &'static str,
    pub url: String,
    pub current: bool,
}

pub struct FilterView {
    pub tabs: Vec<ViewTab>,
    pub view: String,
    pub statuses: Vec<Opt>,
    pub channels: Vec<Opt>,
    pub label: String,
    /// The filters as a query string, for links and fragment URLs.
    pub qs: String,
    pub filtered: bool,
}

fn filter_view(f: &Filters, channels: &[kith_app::inbox::channels::Channel]) -> FilterView {
    let tabs = [("all", "All"), ("mine", "Mine"), ("unassigned", "Unassigned")]
        .into_iter()
        .map(|(v, label)| {
            let mut g = f.clone();
            g.view = v;
            ViewTab { label, url: format!("/inbox{}", g.qs()), current: f.view == v }
        })
        .collect();
    let statuses = [
        ("open", "Open"),
        ("pending", "Pending"),
        ("snoozed", "Snoozed"),
        ("resolved", "Resolved"),
        ("all", "Any status"),
    ]
    .into_iter()
    .map(|(v, l)| Opt::new(v, l, f.status))
    .collect();
    let current = f.channel.map(|c| c.to_string()).unwrap_or_default();
    let mut channel_opts = vec![Opt::new("", "All channels", &current)];
    channel_opts.extend(
        channels.iter().map(|c| Opt::new(c.id.to_string(), format!("{} · {}", c.name, kind_label(&c.kind)), &current)),
    );
    FilterView {
        tabs,
        view: f.view.to_string(),
        statuses,
        channels: channel_opts,
        label: f.label.clone(),
        qs: f.qs(),
        filtered: !f.is_default(),
    }
}

// ---------- views ----------

pub struct RowView {
    pub id: String,
    pub url: String,
    pub name: String,
    pub initials: String,
    pub channel: String,
    pub preview: String,
    /// The last message is ours (a reply or a note).
    pub ours: bool,
    pub unread: bool,
    pub status: String,
    pub status_label: String,
    pub assignee: String,
    pub labels: Vec<String>,
    pub at: When,
    pub current: bool,
}

async fn row_of(
    state: &WebState,
    ctx: &Context,
    people: &People,
    c: &Conversation,
    qs: &str,
    current: Option<Uuid>,
) -> RowView {
    let last = messages::list(&state.app, ctx, c.id, false, &PageRequest::new(Some(1), None))
        .await
        .ok()
        .and_then(|p| p.items.into_iter().next());
    let (preview, ours) = match last {
        Some(m) => {
            let text: String = m.body.split_whitespace().collect::<Vec<_>>().join(" ");
            let mut short: String = text.chars().take(120).collect();
            if text.chars().count() > 120 {
                short.push('…');
            }
            let prefix = if m.kind == "note" {
                "Note: "
            } else if m.direction == "out" {
                "You: "
            } else {
                ""
            };
            (format!("{prefix}{short}"), m.direction == "out")
        }
        None => (String::new(), false),
    };
    let assignee = assignee_text(people, c);
    RowView {
        id: c.id.to_string(),
        url: format!("/inbox/c/{}{qs}", c.id),
        initials: avatar_of(&c.contact.display_name),
        name: shown_name(&c.contact.display_name),
        channel: kind_label(&c.channel.kind).to_string(),
        preview,
        ours,
        unread: c.unread,
        status: c.status.as_str().to_string(),
        status_label: status_label(c.status).to_string(),
        assignee,
        labels: c.labels.clone(),
        at: When::new(c.last_message_at_ms),
        current: current == Some(c.id),
    }
}

/// "Ada · Support", "Ada", "Support" or nothing.
fn assignee_text(people: &People, c: &Conversation) -> String {
    [people.member(c.assignee_user_id), people.team(c.assignee_team_id)]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" · ")
}

pub struct MessageView {
    pub id: String,
    pub cursor: String,
    /// `in`, `out` or `note`.
    pub side: &'static str,
    pub body: String,
    pub author: String,
    pub at: When,
    pub state: String,
    pub state_label: &'static str,
    pub error: String,
    pub attachments: Vec<String>,
    /// Stored files, linked for download.
    pub files: Vec<super::inbox_files::FileLink>,
    /// Held back by quiet hours until then.
    pub held_until: Option<When>,
    /// An answer of the assistant: the knowledge it cites.
    pub cites: Vec<String>,
}

fn message_view(m: &Message, people: &People, contact_name: &str) -> MessageView {
    let side = if m.kind == "note" {
        "note"
    } else if m.direction == "in" {
        "in"
    } else {
        "out"
    };
    let author = match (side, m.author_user_id) {
        ("in", _) => shown_name(contact_name),
        (_, Some(u)) => people.member(Some(u)),
        (_, None) => "Automatic reply".into(),
    };
    let error = match (&m.error_message, &m.error_code) {
        (Some(msg), Some(code)) => format!("{msg} ({code})"),
        (Some(msg), None) => msg.clone(),
        (None, Some(code)) => code.clone(),
        (None, None) => String::new(),
    };
    MessageView {
        id: m.id.to_string(),
        cursor: Cursor { key: m.created_at_ms, id: m.id }.encode(),
        side,
        body: m.body.clone(),
        author,
        at: When::new(m.created_at_ms),
        state: m.state.clone(),
        state_label: if side == "out" { state_label(&m.state) } else { "" },
        error,
        held_until: m.hold_until_ms.map(When::new),
        files: m.attachments.iter().map(super::inbox_files::FileLink::of).collect(),
        attachments: m
            .media
            .iter()
            .skip(m.attachments.len())
            .map(|a| match &a.content_type {
                Some(t) => format!("Attachment ({t})"),
                None => "Attachment".into(),
            })
            .collect(),
        cites: vec![],
    }
}

/// Mark the assistant's answers among `views` and what each cites.
async fn mark_assistant(state: &WebState, ctx: &Context, views: &mut [MessageView]) {
    let ids: Vec<Uuid> = views.iter().filter(|m| m.side == "out").filter_map(|m| parse_id(&m.id)).collect();
    let Ok(cited) = autoreply::citations_of(&state.app, ctx, &ids).await else { return };
    for m in views.iter_mut() {
        if let Some(list) = parse_id(&m.id).and_then(|id| cited.get(&id)) {
            m.author = "Assistant".into();
            m.cites = list.iter().map(|c| c.title.clone()).collect();
        }
    }
}

/// The assistant's part of a thread: paused after a handoff, its
/// suggestion, and whether an agent may ask for one.
pub struct AiPanelView {
    pub paused_at: Option<When>,
    pub reason: &'static str,
    pub suggestion: Option<String>,
    pub suggestion_cites: String,
    pub can_suggest: bool,
}

/// Why the assistant handed a conversation over, in words.
fn handoff_words(reason: &str) -> &'static str {
    match reason {
        "asked_for_human" => "the customer asked for a person",
        "closed_hours" => "outside business hours",
        "no_passages" | "low_confidence" => "the knowledge base had no answer",
        "model_declined" => "the model could not answer from the knowledge base",
        "limit_reached" => "the monthly AI limit was reached",
        "provider_failed" => "the AI endpoint failed",
        _ => "",
    }
}

async fn ai_panel(state: &WebState, ctx: &Context, id: Uuid) -> Option<AiPanelView> {
    let st = autoreply::status(&state.app, ctx, id).await.ok()?;
    if st.mode == "off" && !st.can_suggest && st.paused_at_ms.is_none() {
        return None;
    }
    let reason = match (&st.last_outcome, &st.last_reason) {
        (Some(o), Some(r)) if o == "handoff" => handoff_words(r),
        _ => "",
    };
    Some(AiPanelView {
        paused_at: st.paused_at_ms.map(When::new),
        reason,
        suggestion_cites: st
            .suggestion
            .as_ref()
            .map(|s| s.citations.iter().map(|c| c.title.as_str()).collect::<Vec<_>>().join(" · "))
            .unwrap_or_default(),
        suggestion: st.suggestion.map(|s| s.text),
        can_suggest: st.can_suggest,
    })
}

pub struct ThreadView {
    pub id: String,
    pub name: String,
    pub contact_url: String,
    pub channel: String,
    pub channel_name: String,
    pub status: String,
    pub status_label: String,
    pub snoozed_until: Option<When>,
    pub assignee: String,
    pub labels: Vec<String>,
    pub labels_text: String,
    pub messages: Vec<MessageView>,
    pub older_url: Option<String>,
    /// The thread shows an older page: newer messages are not appended live.
    pub paged: bool,
    pub newest_url: String,
    /// Where forms return to (this thread with the list's filters).
    pub back: String,
    pub member_opts: Vec<Opt>,
    pub team_opts: Vec<Opt>,
    pub handles: String,
    /// Canned responses to send (id, name).
    pub canned: Vec<Opt>,
    /// A WhatsApp conversation: templates can be sent.
    pub whatsapp: bool,
    /// How many files a reply may carry on this channel (0: none).
    pub max_files: usize,
    /// The largest file the composer takes.
    pub max_file_bytes: u64,
    /// The file chooser's `accept` list (empty: any type).
    pub file_accept: &'static str,
    /// What the channel takes, beside the count and size.
    pub file_hint: &'static str,
    pub ai: Option<AiPanelView>,
}

fn thread_head(c: &Conversation, people: &People, back: &str) -> ThreadView {
    let user = c.assignee_user_id.map(|u| u.to_string()).unwrap_or_default();
    let team = c.assignee_team_id.map(|t| t.to_string()).unwrap_or_default();
    let mut member_opts = vec![Opt::new("", "Nobody", &user)];
    member_opts.extend(people.members.iter().map(|m| Opt::new(m.0.to_string(), m.1.clone(), &user)));
    let mut team_opts = vec![Opt::new("", "No team", &team)];
    team_opts.extend(people.teams.iter().map(|t| Opt::new(t.0.to_string(), t.1.clone(), &team)));
    let assignee = assignee_text(people, c);
    ThreadView {
        id: c.id.to_string(),
        name: shown_name(&c.contact.display_name),
        contact_url: format!("/contacts/{}", c.contact.id),
        channel: kind_label(&c.channel.kind).to_string(),
        channel_name: c.channel.name.clone(),
        status: c.status.as_str().to_string(),
        status_label: status_label(c.status).to_string(),
        snoozed_until: c.snoozed_until_ms.filter(|_| c.status == Status::Snoozed).map(When::new),
        assignee,
        labels: c.labels.clone(),
        labels_text: c.labels.join(", "),
        messages: vec![],
        older_url: None,
        paged: false,
        newest_url: String::new(),
        back: back.to_string(),
        member_opts,
        team_opts,
        handles: people.handles(),
        canned: vec![],
        whatsapp: c.channel.kind == "whatsapp",
        max_files: kith_app::inbox::attachments::max_files(&c.channel.kind),
        max_file_bytes: kith_app::inbox::attachments::MAX_ATTACHMENT_BYTES,
        file_accept: kith_app::inbox::attachments::accepted_types(&c.channel.kind),
        file_hint: match c.channel.kind.as_str() {
            "instagram" => "Images (8 MB at most), videos and audio. ",
            "viber" => "No executable files. ",
            _ => "",
        },
        ai: None,
    }
}

/// The workspace's canned responses as composer choices, by name.
async fn canned_opts(state: &WebState, ctx: &Context) -> Vec<Opt> {
    let list = kith_app::inbox::canned::list(&state.app, ctx, &PageRequest::new(Some(200), None))
        .await
        .map(|p| p.items)
        .unwrap_or_default();
    let mut opts: Vec<Opt> = list.into_iter().map(|c| Opt::new(c.id.to_string(), c.name, "")).collect();
    opts.sort_by_key(|o| o.label.to_lowercase());
    opts
}

pub struct RecentItem {
    pub label: String,
    pub text: String,
    pub at: When,
}

pub struct ContactPanel {
    pub name: String,
    pub initials: String,
    pub url: String,
    pub title: String,
    pub company: Option<Link>,
    pub emails: Vec<String>,
    pub phones: Vec<(String, String)>,
    pub tags: Vec<String>,
    pub recent: Vec<RecentItem>,
}

/// The contact's CRM card; `fallback` names a contact who has no name yet.
async fn contact_panel(state: &WebState, ctx: &Context, id: Uuid, fallback: &str) -> Option<ContactPanel> {
    let c = contacts::get(&state.app, ctx, id).await.ok()?;
    let name = if c.first_name.trim().is_empty() && c.last_name.trim().is_empty() && c.emails.is_empty() {
        shown_name(fallback)
    } else {
        c.display_name.clone()
    };
    let recent = timeline::page(&state.app, ctx, RecordType::Contact, id, &PageRequest::new(Some(6), None))
        .await
        .map(|p| p.items)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|item| {
            let (label, text) = if let Some(m) = item.message {
                let label = if m.direction == "in" { "Message in" } else { "Message out" };
                (label.to_string(), m.preview)
            } else if let Some(n) = item.note {
                ("Note".into(), n.body)
            } else if let Some(t) = item.task {
                ((if t.done { "Task done" } else { "Task" }).into(), t.title)
            } else if let Some(a) = item.activity {
                ("Activity".into(), a.subject)
            } else if let Some(s) = item.stage_change {
                ("Deal".into(), format!("Moved to {}", s.to_stage.unwrap_or_default()))
            } else {
                return None;
            };
            let mut short: String = text.chars().take(90).collect();
            if text.chars().count() > 90 {
                short.push('…');
            }
            Some(RecentItem { label, text: short, at: When::new(item.at_ms) })
        })
        .collect();
    Some(ContactPanel {
        initials: avatar_of(&name),
        url: format!("/contacts/{}", c.id),
        title: c.title.clone().unwrap_or_default(),
        company: company_link(state, ctx, c.company_id).await,
        emails: c.emails.iter().map(|e| e.value.clone()).collect(),
        phones: c.phones.iter().map(|p| (fmt_phone(&p.value), format!("tel:{}", p.value))).collect(),
        tags: c.tags.clone(),
        name,
        recent,
    })
}

// ---------- pages ----------

#[derive(Template)]
#[template(path = "inbox.html")]
pub struct InboxPage {
    pub shell: Shell,
    pub inbox_js: String,
    pub filters: FilterView,
    pub rows: Vec<RowView>,
    pub more_url: Option<String>,
    pub thread: Option<ThreadView>,
    pub contact: Option<ContactPanel>,
    pub has_channels: bool,
}

#[derive(Template)]
#[template(path = "inbox_rows.html")]
pub struct RowsFragment {
    pub rows: Vec<RowView>,
    pub more_url: Option<String>,
}

#[derive(Template)]
#[template(path = "inbox_messages.html")]
pub struct MessagesFragment {
    pub messages: Vec<MessageView>,
}

#[derive(Template)]
#[template(path = "inbox_head.html")]
pub struct HeadFragment {
    pub t: ThreadView,
    pub csrf: String,
    pub can_write: bool,
}

/// A fragment for the script: never cached, never a full page.
fn fragment<T: Template>(t: &T) -> Response {
    let mut resp = render(t);
    resp.headers_mut().insert("cache-control", axum::http::HeaderValue::from_static("no-store"));
    resp
}

/// A page of the list with its "load more" link.
async fn list_rows(
    state: &WebState,
    ctx: &Context,
    people: &People,
    f: &Filters,
    cursor: Option<Cursor>,
    current: Option<Uuid>,
) -> Result<(Vec<RowView>, Option<String>), AppError> {
    let page = conversations::list(&state.app, ctx, &f.query(), &PageRequest::new(Some(LIST_PAGE), cursor)).await?;
    let qs = f.qs();
    let mut rows = Vec::with_capacity(page.items.len());
    for c in &page.items {
        rows.push(row_of(state, ctx, people, c, &qs, current).await);
    }
    let more = page.next.map(|n| format!("/inbox{}", f.qs_with("cursor", &n.encode())));
    Ok((rows, more))
}

async fn inbox_view(state: &WebState, ui: &UiCtx, q: ListQuery, thread_id: Option<Uuid>) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    let f = Filters::of(&q);
    let people = People::load(state, &ctx).await;
    let mut thread = None;
    let mut contact = None;
    if let Some(id) = thread_id {
        // Opening a thread reads it.
        let c = match conversations::mark_read(&state.app, &ctx, id).await {
            Ok(c) => c,
            Err(e) => return super::crm::load_error(e),
        };
        let back = format!("/inbox/c/{id}{}", f.qs());
        let mut t = thread_head(&c, &people, &back);
        t.canned = canned_opts(state, &ctx).await;
        let older = Cursor::decode(&q.older);
        let page = match messages::list(&state.app, &ctx, id, false, &PageRequest::new(Some(THREAD_PAGE), older)).await
        {
            Ok(p) => p,
            Err(e) => return super::crm::load_error(e),
        };
        t.older_url = page.next.map(|n| format!("/inbox/c/{id}{}#thread", f.qs_with("older", &n.encode())));
        t.paged = older.is_some();
        t.newest_url = back.clone();
        t.messages = page.items.iter().rev().map(|m| message_view(m, &people, &c.contact.display_name)).collect();
        mark_assistant(state, &ctx, &mut t.messages).await;
        t.ai = ai_panel(state, &ctx, id).await;
        contact = contact_panel(state, &ctx, c.contact.id, &c.contact.display_name).await;
        thread = Some(t);
    }
    let (rows, more_url) = match list_rows(state, &ctx, &people, &f, Cursor::decode(&q.cursor), thread_id).await {
        Ok(v) => v,
        Err(e) => return super::error_page(&e.into()),
    };
    let channels = kith_app::inbox::channels::list(&state.app, &ctx).await.unwrap_or_default();
    let title = match &thread {
        Some(t) => format!("{} · Inbox", t.name),
        None => "Inbox".to_string(),
    };
    let mut shell = Shell::build(state, ui, &auth, Some(&ctx), &title, "inbox", "").await;
    shell.wide = true;
    render(&InboxPage {
        shell,
        inbox_js: crate::assets::inbox_js_url(),
        filters: filter_view(&f, &channels),
        rows,
        more_url,
        thread,
        contact,
        has_channels: !channels.is_empty(),
    })
}

pub async fn page(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Query(q): Query<ListQuery>,
) -> Response {
    inbox_view(&state, &ui, q, None).await
}

pub async fn thread(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    let Some(id) = parse_id(&id) else { return super::crm::not_found_page() };
    inbox_view(&state, &ui, q, Some(id)).await
}

/// Fragment: the next page of the list (`?cursor=`), for "load more".
pub async fn rows(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Query(q): Query<ListQuery>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let f = Filters::of(&q);
    let people = People::load(&state, &ctx).await;
    match list_rows(&state, &ctx, &people, &f, Cursor::decode(&q.cursor), None).await {
        Ok((rows, more_url)) => fragment(&RowsFragment { rows, more_url }),
        Err(e) => super::error_page(&e.into()),
    }
}

/// Fragment: one conversation's row as the filtered list shows it; 204 when
/// it does not belong in that list (any more).
pub async fn row(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return StatusCode::NOT_FOUND.into_response() };
    let f = Filters::of(&q);
    let c = match conversations::get(&state.app, &ctx, id).await {
        Ok(c) => c,
        Err(AppError::NotFound) => return StatusCode::NO_CONTENT.into_response(),
        Err(e) => return super::error_page(&e.into()),
    };
    if !f.matches(&c, ctx.user_id()) {
        return StatusCode::NO_CONTENT.into_response();
    }
    let people = People::load(&state, &ctx).await;
    // The script marks the row of the open thread itself.
    let r = row_of(&state, &ctx, &people, &c, &f.qs(), None).await;
    fragment(&RowsFragment { rows: vec![r], more_url: None })
}

#[derive(Deserialize, Default)]
pub struct AfterQuery {
    #[serde(default)]
    after: String,
    #[serde(default)]
    at: String,
}

/// Fragment: the messages after the cursor `after` (oldest first), or one
/// message (`/messages/{message_id}?at=<its cursor>`).
pub async fn messages_after(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
    Query(q): Query<AfterQuery>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return StatusCode::NOT_FOUND.into_response() };
    let after = Cursor::decode(&q.after);
    message_fragment(&state, &ctx, id, after, None).await
}

pub async fn message_one(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path((id, message_id)): Path<(String, String)>,
    Query(q): Query<AfterQuery>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let (Some(id), Some(mid)) = (parse_id(&id), parse_id(&message_id)) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // Start just before the message's own place in the order.
    let Some(at) = Cursor::decode(&q.at) else { return StatusCode::NOT_FOUND.into_response() };
    let from = Cursor { key: at.key - 1, id: Uuid::max() };
    message_fragment(&state, &ctx, id, Some(from), Some(mid)).await
}

async fn message_fragment(
    state: &WebState,
    ctx: &Context,
    id: Uuid,
    after: Option<Cursor>,
    only: Option<Uuid>,
) -> Response {
    let c = match conversations::get(&state.app, ctx, id).await {
        Ok(c) => c,
        Err(AppError::NotFound) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => return super::error_page(&e.into()),
    };
    let page = match messages::list(&state.app, ctx, id, true, &PageRequest::new(Some(THREAD_PAGE), after)).await {
        Ok(p) => p,
        Err(e) => return super::error_page(&e.into()),
    };
    let people = People::load(state, ctx).await;
    let messages = page
        .items
        .iter()
        .filter(|m| only.is_none_or(|o| o == m.id))
        .map(|m| message_view(m, &people, &c.contact.display_name))
        .collect();
    fragment(&MessagesFragment { messages })
}

/// Fragment: the thread's header (status, assignment, labels), after a change elsewhere.
pub async fn head(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return StatusCode::NOT_FOUND.into_response() };
    let c = match conversations::get(&state.app, &ctx, id).await {
        Ok(c) => c,
        Err(AppError::NotFound) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => return super::error_page(&e.into()),
    };
    let people = People::load(&state, &ctx).await;
    let back = format!("/inbox/c/{id}{}", Filters::of(&q).qs());
    let can_write = ctx.can(kith_domain::Action::WriteRecords);
    fragment(&HeadFragment { t: thread_head(&c, &people, &back), csrf: ui.csrf.clone(), can_write })
}

// ---------- actions ----------

/// Where a form returns to: its `back` field when it is a path on this
/// site, else the thread.
fn back_to(back: &str, id: Uuid) -> String {
    local_path(Some(back)).filter(|p| p.starts_with("/inbox")).unwrap_or_else(|| format!("/inbox/c/{id}"))
}

/// The script posts with `Accept: application/json` and gets `{ok}` or `{error}`.
fn wants_json(headers: &HeaderMap) -> bool {
    super::crm::wants_json(headers)
}

fn answer(state: &WebState, headers: &HeaderMap, to: &str, result: Result<(), AppError>, ok: &str) -> Response {
    if wants_json(headers) {
        return match result {
            Ok(()) => Json(serde_json::json!({"ok": true, "message": ok})).into_response(),
            Err(e) => {
                let status = match &e {
                    AppError::NotFound => StatusCode::NOT_FOUND,
                    AppError::Forbidden => StatusCode::FORBIDDEN,
                    AppError::Conflict(..) => StatusCode::CONFLICT,
                    _ => StatusCode::UNPROCESSABLE_ENTITY,
                };
                (status, Json(serde_json::json!({"ok": false, "error": message_of(e)}))).into_response()
            }
        };
    }
    let flash = match result {
        Ok(()) => Flash::success(ok),
        Err(e) => Flash::error(message_of(e)),
    };
    redirect_with(to, flash, state.config.secure_cookies)
}

#[derive(Deserialize, Default)]
pub struct ComposeForm {
    /// `reply` (default), `note` or `template` (WhatsApp).
    #[serde(default)]
    mode: String,
    #[serde(default)]
    body: String,
    /// A canned response to send instead of a typed reply.
    #[serde(default)]
    canned: String,
    #[serde(default)]
    template_name: String,
    #[serde(default)]
    template_language: String,
    /// The template's variables, one a line: `{{1}}`, `{{2}}`…
    #[serde(default)]
    template_variables: String,
    /// Files uploaded by the composer (`/inbox/c/{id}/attachments`), their
    /// ids separated by commas.
    #[serde(default)]
    attachment_ids: String,
    #[serde(default)]
    back: String,
}

impl ComposeForm {
    /// The uploads to send with the reply.
    fn attachments(&self) -> Result<Vec<Uuid>, AppError> {
        let ids = self.attachment_ids.split(',').map(str::trim).filter(|s| !s.is_empty());
        ids.map(|s| parse_id(s).ok_or_else(|| AppError::field("attachment_ids", "is not a list of uploaded files")))
            .collect()
    }

    /// What to send: typed text, a canned response, or a WhatsApp template;
    /// text and canned responses with the uploaded files.
    fn outbound(&self) -> Result<OutboundMessage, AppError> {
        let attachment_ids = self.attachments()?;
        if self.mode == "template" {
            if !attachment_ids.is_empty() {
                return Err(AppError::field("attachment_ids", "templates are sent without files"));
            }
            let variables =
                self.template_variables.lines().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
            let template = TemplateInput {
                name: self.template_name.trim().to_string(),
                language: self.template_language.trim().to_string(),
                variables: variables.collect(),
            };
            return Ok(OutboundMessage { template: Some(template), ..Default::default() });
        }
        match (self.canned.trim(), self.body.trim()) {
            ("", _) => Ok(OutboundMessage { attachment_ids, ..OutboundMessage::text(self.body.clone()) }),
            (id, "") => match parse_id(id) {
                Some(id) => Ok(OutboundMessage { canned_response_id: Some(id), attachment_ids, ..Default::default() }),
                None => Err(AppError::field("canned_response_id", "is not one of the canned responses")),
            },
            _ => Err(AppError::field("body", "write a reply or choose a canned response, not both")),
        }
    }
}

/// The composer: a reply to the contact (queued, sent by a job) or a private note.
pub async fn compose(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<ComposeForm>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return super::crm::not_found_page() };
    let to = format!("{}#composer", back_to(&f.back, id));
    if f.mode == "note" {
        let input = NewNote { body: f.body, mentions: vec![] };
        let result = conversations::add_note(&state.app, &ctx, id, &input).await.map(|_| ());
        answer(&state, &headers, &to, result, "Note added; only your team sees it.")
    } else {
        let result = match f.outbound() {
            Ok(input) => outbound::send(&state.app, &ctx, id, &input).await.map(|_| ()),
            Err(e) => Err(e),
        };
        answer(&state, &headers, &to, result, "Reply queued; its delivery state shows in the thread.")
    }
}

#[derive(Deserialize, Default)]
pub struct StatusForm {
    #[serde(default)]
    status: String,
    /// `1h`, `4h`, `tomorrow`, `next_week` or `custom` (with the date and time).
    #[serde(default)]
    snooze: String,
    #[serde(default)]
    snooze_date: String,
    #[serde(default)]
    snooze_time: String,
    #[serde(default)]
    back: String,
}

/// 09:00 in the viewer's zone, `days` days from today.
fn morning(offset_min: i64, days: i64) -> i64 {
    let off = offset_min * 60_000;
    let local = now_ms() - off;
    let today = local - local.rem_euclid(86_400_000);
    today + days * 86_400_000 + 9 * 3_600_000 + off
}

fn snooze_until(f: &StatusForm, headers: &HeaderMap) -> Result<i64, AppError> {
    let off = tz_offset(headers);
    match f.snooze.as_str() {
        "1h" => Ok(now_ms() + 3_600_000),
        "4h" => Ok(now_ms() + 4 * 3_600_000),
        "tomorrow" => Ok(morning(off, 1)),
        "next_week" => Ok(morning(off, 7)),
        _ => match local_ms(&f.snooze_date, &f.snooze_time, off) {
            Ok(Some(t)) => Ok(t),
            Ok(None) => Err(AppError::field("snoozed_until_ms", "snoozing needs a time: choose one or give a date")),
            Err(m) => Err(AppError::field("snooze_date", m)),
        },
    }
}

pub async fn set_status(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<StatusForm>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return super::crm::not_found_page() };
    let to = back_to(&f.back, id);
    let status = match Status::parse(&f.status) {
        Some(s) => s,
        None => return answer(&state, &headers, &to, Err(AppError::field("status", "is not a choice")), ""),
    };
    let mut patch = ConversationPatch { status: Some(status), ..Default::default() };
    if status == Status::Snoozed {
        match snooze_until(&f, &headers) {
            Ok(t) => patch.snoozed_until_ms = Some(t),
            Err(e) => return answer(&state, &headers, &to, Err(e), ""),
        }
    }
    let result = conversations::update(&state.app, &ctx, id, &patch, None).await.map(|_| ());
    let ok = match status {
        Status::Open => "Reopened.",
        Status::Pending => "Marked pending.",
        Status::Snoozed => "Snoozed.",
        Status::Resolved => "Resolved.",
    };
    answer(&state, &headers, &to, result, ok)
}

#[derive(Deserialize, Default)]
pub struct AssignForm {
    #[serde(default)]
    user: String,
    #[serde(default)]
    team: String,
    #[serde(default)]
    back: String,
}

pub async fn assign(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<AssignForm>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return super::crm::not_found_page() };
    let to = back_to(&f.back, id);
    let user = match f.user.trim() {
        "" => None,
        "me" => Some(ctx.user_id()),
        u => match parse_id(u) {
            Some(u) => Some(u),
            None => {
                return answer(&state, &headers, &to, Err(AppError::field("assignee_user_id", "is not a member")), "")
            }
        },
    };
    let team = match f.team.trim() {
        "" => None,
        t => match parse_id(t) {
            Some(t) => Some(t),
            None => {
                return answer(&state, &headers, &to, Err(AppError::field("assignee_team_id", "is not a team")), "")
            }
        },
    };
    let patch = ConversationPatch { assignee_user_id: Some(user), assignee_team_id: Some(team), ..Default::default() };
    let result = conversations::update(&state.app, &ctx, id, &patch, None).await.map(|_| ());
    answer(&state, &headers, &to, result, "Assignment saved.")
}

#[derive(Deserialize, Default)]
pub struct LabelsForm {
    #[serde(default)]
    labels: String,
    #[serde(default)]
    back: String,
}

pub async fn set_labels(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<LabelsForm>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return super::crm::not_found_page() };
    let to = back_to(&f.back, id);
    let labels = super::crm::split_list(&f.labels);
    let patch = ConversationPatch { labels: Some(labels), ..Default::default() };
    let result = conversations::update(&state.app, &ctx, id, &patch, None).await.map(|_| ());
    answer(&state, &headers, &to, result, "Labels saved.")
}

/// The script marks the open thread read when a message arrives in it.
pub async fn mark_read(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return super::crm::not_found_page() };
    let result = conversations::mark_read(&state.app, &ctx, id).await.map(|_| ());
    answer(&state, &headers, &format!("/inbox/c/{id}"), result, "Marked read.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_round_trip_through_the_query_string() {
        let q = ListQuery { view: "mine".into(), status: "open".into(), label: " VIP ".into(), ..Default::default() };
        let f = Filters::of(&q);
        assert_eq!(f.qs(), "?view=mine&label=vip");
        assert_eq!(Filters::of(&ListQuery::default()).qs(), "");
        assert_eq!(Filters::of(&ListQuery::default()).qs_with("cursor", "a b"), "?cursor=a+b");
        assert_eq!(f.query().assignee.as_deref(), Some("me"));
        assert_eq!(Filters::of(&ListQuery { status: "all".into(), ..Default::default() }).query().status, None);
    }

    #[test]
    fn the_composer_sends_text_a_canned_response_or_a_template() {
        let text = ComposeForm { body: "Hello".into(), ..Default::default() }.outbound().unwrap();
        assert_eq!(text.body.as_deref(), Some("Hello"));
        let id = Uuid::now_v7();
        let canned = ComposeForm { canned: id.to_string(), ..Default::default() }.outbound().unwrap();
        assert_eq!((canned.canned_response_id, canned.body), (Some(id), None));
        let both = ComposeForm { canned: id.to_string(), body: "and text".into(), ..Default::default() };
        assert!(both.outbound().is_err());
        let template = ComposeForm {
            mode: "template".into(),
            body: "ignored".into(),
            template_name: " order_update ".into(),
            template_language: "en_US".into(),
            template_variables: "Ada\n\n  #1234  \n".into(),
            ..Default::default()
        }
        .outbound()
        .unwrap();
        let t = template.template.unwrap();
        assert_eq!((t.name.as_str(), t.variables), ("order_update", vec!["Ada".to_string(), "#1234".to_string()]));
        assert_eq!(template.body, None);
    }

    #[test]
    fn the_composer_sends_uploaded_files_with_text_or_a_canned_response() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let ids = format!("{a}, {b},");
        let text = ComposeForm { body: "Here".into(), attachment_ids: ids.clone(), ..Default::default() };
        assert_eq!(text.outbound().unwrap().attachment_ids, vec![a, b]);
        let only_files = ComposeForm { attachment_ids: a.to_string(), ..Default::default() }.outbound().unwrap();
        assert_eq!((only_files.body.as_deref(), only_files.attachment_ids), (Some(""), vec![a]));
        let canned = ComposeForm { canned: b.to_string(), attachment_ids: ids.clone(), ..Default::default() };
        assert_eq!(canned.outbound().unwrap().attachment_ids, vec![a, b]);
        let template = ComposeForm { mode: "template".into(), attachment_ids: ids, ..Default::default() };
        assert!(template.outbound().is_err());
        let bad = ComposeForm { body: "x".into(), attachment_ids: "not-an-id".into(), ..Default::default() };
        assert!(bad.outbound().is_err());
    }

    #[test]
    fn names_of_numbers_read_as_numbers() {
        assert_eq!(shown_name("+14155550100"), "+1 415 555 0100");
        assert_eq!(shown_name("Ada Lovelace"), "Ada Lovelace");
        assert_eq!(avatar_of("+14155550100"), "#");
        assert_eq!(avatar_of("Ada Lovelace"), "AL");
    }

    #[test]
    fn back_stays_in_the_inbox() {
        let id = Uuid::nil();
        assert_eq!(back_to("/inbox/c/x?view=mine", id), "/inbox/c/x?view=mine");
        assert_eq!(back_to("https://evil.example", id), format!("/inbox/c/{id}"));
        assert_eq!(back_to("/settings", id), format!("/inbox/c/{id}"));
    }
}

#[derive(Deserialize, Default)]
pub struct BackForm {
    #[serde(default)]
    back: String,
}

/// Let the assistant answer again after a handoff.
pub async fn ai_resume(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<BackForm>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return super::crm::not_found_page() };
    let to = back_to(&f.back, id);
    let result = autoreply::resume(&state.app, &ctx, id).await;
    answer(&state, &headers, &to, result, "The assistant answers again in this conversation.")
}

/// A suggested reply, streamed to the inbox script (server-sent events;
/// the same stream as `POST /api/v1/conversations/{id}/suggestion`).
pub async fn suggest(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return super::crm::not_found_page() };
    match crate::api::conversations::suggestion_stream(&state, &ctx, id).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}
