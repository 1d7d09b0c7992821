//! Conversations: the shared inbox. Listing and reading go through the one
//! visibility filter applied to the conversation's contact (see the module
//! documentation of [`crate::inbox`]); status, snooze, assignment, labels,
//! private notes with @mentions and per-user read marks live here.

use super::messages::{check_body, open, Message};
use super::publish;
use crate::crm::contacts::{display_name, double_option, LabeledValue};
use crate::worker::JobError;
use crate::{App, AppError, ErrorCode, Result};
use kith_domain::page::{Page, PageRequest};
use kith_domain::role::Action;
use kith_domain::time::now_ms;
use kith_domain::visibility::Viewer;
use kith_domain::{new_id, Context};
use kith_infra::events::{CONVERSATION_UPDATED, MESSAGE_CREATED};
use kith_store::inbox::{
    self as rows, AssigneeFilter, ConversationFilter, ConversationRow, ConversationView, MessageRow,
};
use kith_store::jobs::ClaimedJob;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const MAX_LABELS: usize = 20;
const MAX_LABEL_CHARS: usize = 40;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Open,
    Pending,
    Snoozed,
    Resolved,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Pending => "pending",
            Status::Snoozed => "snoozed",
            Status::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "open" => Status::Open,
            "pending" => Status::Pending,
            "snoozed" => Status::Snoozed,
            "resolved" => Status::Resolved,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConversationChannel {
    pub id: Uuid,
    pub kind: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConversationContact {
    pub id: Uuid,
    pub display_name: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Conversation {
    pub id: Uuid,
    pub channel: ConversationChannel,
    pub contact: ConversationContact,
    pub status: Status,
    pub snoozed_until_ms: Option<i64>,
    pub assignee_user_id: Option<Uuid>,
    pub assignee_team_id: Option<Uuid>,
    pub labels: Vec<String>,
    /// A message from the contact arrived after the viewer last read the conversation.
    pub unread: bool,
    pub last_message_at_ms: i64,
    pub last_inbound_at_ms: Option<i64>,
    pub version: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

fn to_conversation(v: ConversationView, labels: Vec<String>) -> Conversation {
    let emails: Vec<LabeledValue> = serde_json::from_str(&v.emails).unwrap_or_default();
    let mut name = display_name(&v.first_name, &v.last_name, &emails);
    if name == "(no name)" {
        let phones: Vec<serde_json::Value> = serde_json::from_str(&v.phones).unwrap_or_default();
        if let Some(p) = phones.first().and_then(|p| p["value"].as_str()) {
            name = p.to_string();
        }
    }
    Conversation {
        unread: v.last_inbound_ms.is_some_and(|t| v.last_read_ms.is_none_or(|r| t > r)),
        id: v.id,
        channel: ConversationChannel { id: v.channel_id, kind: v.channel_kind, name: v.channel_name },
        contact: ConversationContact { id: v.contact_id, display_name: name },
        status: Status::parse(&v.status).unwrap_or(Status::Open),
        snoozed_until_ms: v.snoozed_until_ms,
        assignee_user_id: v.assignee_user_id,
        assignee_team_id: v.assignee_team_id,
        labels,
        last_message_at_ms: v.last_message_ms,
        last_inbound_at_ms: v.last_inbound_ms,
        version: v.version,
        created_at_ms: v.created_ms,
        updated_at_ms: v.updated_ms,
    }
}

/// List filters as a request states them.
#[derive(Debug, Clone, Default)]
pub struct ConversationQuery {
    pub status: Option<String>,
    /// A member's id, `me` or `unassigned`.
    pub assignee: Option<String>,
    pub channel_id: Option<Uuid>,
    pub label: Option<String>,
    pub contact_id: Option<Uuid>,
}

fn need(ctx: &Context, action: Action) -> Result<()> {
    if ctx.can(action) {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

/// The conversation if the actor may see it (else NotFound, also for
/// another workspace's ids).
pub(crate) async fn visible(app: &App, ctx: &Context, id: Uuid) -> Result<ConversationView> {
    need(ctx, Action::ReadRecords)?;
    rows::get_visible(app.db(), &Viewer::of(ctx), id).await?.ok_or(AppError::NotFound)
}

async fn with_labels(app: &App, org_id: Uuid, views: Vec<ConversationView>) -> Result<Vec<Conversation>> {
    let ids: Vec<Uuid> = views.iter().map(|v| v.id).collect();
    let labels = rows::labels_of(app.db(), org_id, &ids).await?;
    Ok(views
        .into_iter()
        .map(|v| {
            let mine = labels.iter().filter(|(c, _)| *c == v.id).map(|(_, l)| l.clone()).collect();
            to_conversation(v, mine)
        })
        .collect())
}

fn clean_label(raw: &str) -> Result<String> {
    let l = raw.trim().to_lowercase();
    if l.is_empty() || l.chars().count() > MAX_LABEL_CHARS || l.chars().any(char::is_control) {
        return Err(AppError::field("labels", format!("a label is 1 to {MAX_LABEL_CHARS} characters")));
    }
    Ok(l)
}

pub async fn list(app: &App, ctx: &Context, q: &ConversationQuery, page: &PageRequest) -> Result<Page<Conversation>> {
    need(ctx, Action::ReadRecords)?;
    let status = match q.status.as_deref() {
        None | Some("") | Some("all") => None,
        Some(s) => Some(
            Status::parse(s)
                .ok_or_else(|| AppError::field("status", "must be open, pending, snoozed, resolved or all"))?
                .as_str()
                .to_string(),
        ),
    };
    let assignee = match q.assignee.as_deref() {
        None | Some("") | Some("any") => AssigneeFilter::Any,
        Some("me") => AssigneeFilter::User(ctx.user_id()),
        Some("unassigned") => AssigneeFilter::Unassigned,
        Some(id) => AssigneeFilter::User(
            Uuid::parse_str(id).map_err(|_| AppError::field("assignee", "must be a member id, me or unassigned"))?,
        ),
    };
    let label = match q.label.as_deref() {
        None | Some("") => None,
        Some(l) => Some(clean_label(l)?),
    };
    let filter = ConversationFilter { status, assignee, channel_id: q.channel_id, label, contact_id: q.contact_id };
    let page = rows::list_visible(app.db(), &Viewer::of(ctx), &filter, page).await?;
    Ok(Page { items: with_labels(app, ctx.org_id, page.items).await?, next: page.next })
}

pub async fn get(app: &App, ctx: &Context, id: Uuid) -> Result<Conversation> {
    let v = visible(app, ctx, id).await?;
    Ok(with_labels(app, ctx.org_id, vec![v]).await?.remove(0))
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversationPatch {
    #[serde(default)]
    pub status: Option<Status>,
    /// Required with `status: snoozed`: when the conversation opens again (Unix ms).
    #[serde(default)]
    pub snoozed_until_ms: Option<i64>,
    /// A member of the workspace, or null to unassign.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub assignee_user_id: Option<Option<Uuid>>,
    /// A team of the workspace, or null.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub assignee_team_id: Option<Option<Uuid>>,
    /// Replaces the labels.
    #[serde(default)]
    pub labels: Option<Vec<String>>,
}

pub async fn update(
    app: &App,
    ctx: &Context,
    id: Uuid,
    input: &ConversationPatch,
    if_version: Option<i64>,
) -> Result<Conversation> {
    need(ctx, Action::WriteRecords)?;
    let v = visible(app, ctx, id).await?;
    if if_version.is_some_and(|ver| ver != v.version) {
        return Err(AppError::StaleVersion);
    }
    let now = now_ms();
    let mut row = ConversationRow {
        id: v.id,
        org_id: v.org_id,
        channel_id: v.channel_id,
        contact_id: v.contact_id,
        peer: v.peer.clone(),
        status: v.status.clone(),
        snoozed_until_ms: v.snoozed_until_ms,
        assignee_user_id: v.assignee_user_id,
        assignee_team_id: v.assignee_team_id,
        last_message_ms: v.last_message_ms,
        last_inbound_ms: v.last_inbound_ms,
        version: v.version + 1,
        created_ms: v.created_ms,
        updated_ms: now.max(v.updated_ms + 1),
    };
    if let Some(status) = input.status {
        row.status = status.as_str().into();
        row.snoozed_until_ms = None;
        if status == Status::Snoozed {
            match input.snoozed_until_ms {
                Some(t) if t > now => row.snoozed_until_ms = Some(t),
                _ => return Err(AppError::field("snoozed_until_ms", "snoozing needs a time in the future")),
            }
        }
    } else if input.snoozed_until_ms.is_some() {
        return Err(AppError::field("snoozed_until_ms", "goes with status: snoozed"));
    }
    if let Some(user) = input.assignee_user_id {
        if let Some(u) = user {
            if kith_store::members::get(app.db(), ctx.org_id, u).await?.is_none() {
                return Err(AppError::field("assignee_user_id", "is not a member of this workspace"));
            }
        }
        row.assignee_user_id = user;
    }
    if let Some(team) = input.assignee_team_id {
        if let Some(t) = team {
            if kith_store::teams::get(app.db(), ctx.org_id, t).await?.is_none() {
                return Err(AppError::field("assignee_team_id", "is not a team of this workspace"));
            }
        }
        row.assignee_team_id = team;
    }
    let labels = match &input.labels {
        Some(list) => {
            if list.len() > MAX_LABELS {
                return Err(AppError::field("labels", format!("at most {MAX_LABELS} labels")));
            }
            let mut out: Vec<String> = Vec::new();
            for l in list {
                let l = clean_label(l)?;
                if !out.contains(&l) {
                    out.push(l);
                }
            }
            Some(out)
        }
        None => None,
    };
    let mut tx = app.db().begin().await?;
    let written = rows::update_conversation(&mut tx, &row).await.map_err(|e| {
        if e.is_duplicate() {
            AppError::Conflict(ErrorCode::AlreadyExists, "this contact has another open conversation on this channel")
        } else {
            e.into()
        }
    })?;
    if !written {
        return Err(AppError::StaleVersion);
    }
    if let Some(labels) = &labels {
        rows::set_labels(&mut tx, ctx.org_id, id, labels).await?;
    }
    if let Some(until) = row.snoozed_until_ms.filter(|_| input.status == Some(Status::Snoozed)) {
        let payload = serde_json::json!({"conversation_id": id, "until_ms": until});
        crate::worker::enqueue(&mut tx, WAKE_JOB, Some(ctx.org_id), &payload, until).await?;
    }
    // A resolved conversation starts afresh: the assistant may answer again.
    if input.status == Some(Status::Resolved) {
        kith_store::ai_replies::set_paused(&mut tx, ctx.org_id, id, None).await?;
    }
    tx.commit().await?;
    publish(app, ctx.org_id, CONVERSATION_UPDATED, id, None);
    get(app, ctx, id).await
}

/// The job that opens a snoozed conversation when its time comes.
pub const WAKE_JOB: &str = "inbox.wake";

pub(crate) async fn run_wake(app: App, job: ClaimedJob) -> std::result::Result<(), JobError> {
    let payload: serde_json::Value =
        serde_json::from_slice(&job.payload).map_err(|e| JobError::permanent(format!("{WAKE_JOB}: {e}")))?;
    let id = payload["conversation_id"].as_str().and_then(|s| Uuid::parse_str(s).ok());
    let until = payload["until_ms"].as_i64();
    let (Some(id), Some(until), Some(org_id)) = (id, until, job.org_id) else {
        return Err(JobError::permanent(format!("{WAKE_JOB}: bad payload")));
    };
    let now = now_ms();
    if until > now {
        // Claimed early (a clock step between nodes): come back at the time.
        return Err(JobError::defer(until));
    }
    let mut tx = app.db().begin().await.map_err(AppError::from)?;
    let woke = rows::wake_snoozed(&mut tx, org_id, id, until, now).await.map_err(AppError::from)?;
    tx.commit().await.map_err(AppError::from)?;
    if woke {
        publish(&app, org_id, CONVERSATION_UPDATED, id, None);
    }
    Ok(())
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNote {
    pub body: String,
    /// Members to notify, besides those written as `@their-email` in the body.
    #[serde(default)]
    pub mentions: Vec<Uuid>,
}

/// `@tokens` of a text, without trailing punctuation.
fn at_tokens(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == ',' || c == ';' || c == '(' || c == ')')
        .filter_map(|w| w.strip_prefix('@'))
        .map(|w| w.trim_end_matches(['.', ':', '!', '?']).to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

/// A private note of the team in a conversation; `@email` (or `@local-part`)
/// of members and explicit `mentions` are checked against the members.
pub async fn add_note(app: &App, ctx: &Context, id: Uuid, input: &NewNote) -> Result<Message> {
    need(ctx, Action::WriteRecords)?;
    let body = check_body(&input.body)?;
    let conv = visible(app, ctx, id).await?;
    let mut mentions: Vec<Uuid> = Vec::new();
    for u in &input.mentions {
        if kith_store::members::get(app.db(), ctx.org_id, *u).await?.is_none() {
            return Err(AppError::field("mentions", "names someone who is not a member of this workspace"));
        }
        if !mentions.contains(u) {
            mentions.push(*u);
        }
    }
    let tokens = at_tokens(&body);
    if !tokens.is_empty() {
        let members = kith_store::members::list(app.db(), ctx.org_id, &PageRequest::new(Some(200), None)).await?;
        for t in tokens {
            let hit = members.items.iter().find(|m| {
                let email = m.email.to_lowercase();
                email == t || email.split('@').next() == Some(t.as_str())
            });
            if let Some(m) = hit {
                if !mentions.contains(&m.user_id) {
                    mentions.push(m.user_id);
                }
            }
        }
    }
    let note_id = new_id();
    let now = now_ms();
    let row = MessageRow {
        id: note_id,
        org_id: ctx.org_id,
        conversation_id: id,
        channel_id: conv.channel_id,
        direction: "out".into(),
        kind: "note".into(),
        body: app.keyring().seal(app.db(), ctx.org_id, "messages", "body", note_id, body.as_bytes()).await?,
        media: None,
        mentions: serde_json::to_string(&mentions).expect("json"),
        author_user_id: Some(ctx.user_id()),
        provider_message_id: None,
        state: "note".into(),
        error_code: None,
        error_message: None,
        created_ms: now,
        updated_ms: now,
        sent_ms: None,
    };
    let mut tx = app.db().begin().await?;
    rows::insert_message(&mut tx, &row).await?;
    tx.commit().await?;
    publish(app, ctx.org_id, MESSAGE_CREATED, id, Some(note_id));
    open(app, row).await
}

/// The actor has read the conversation up to now.
pub async fn mark_read(app: &App, ctx: &Context, id: Uuid) -> Result<Conversation> {
    visible(app, ctx, id).await?;
    let mut tx = app.db().begin().await?;
    rows::mark_read(&mut tx, id, ctx.user_id(), now_ms()).await?;
    tx.commit().await?;
    get(app, ctx, id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_at_tokens() {
        assert_eq!(at_tokens("ask @Ann@example.com, and @bob."), ["ann@example.com", "bob"]);
        assert!(at_tokens("mail ann@example.com").is_empty());
    }
}
