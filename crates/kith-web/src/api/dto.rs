//! What the API sends and accepts. Input types reject unknown fields: a typo
//! is an error, not a silently ignored setting.

use kith_domain::page::Page;
use kith_domain::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

macro_rules! list_of {
    ($name:ident, $item:ty) => {
        #[derive(Debug, Serialize, ToSchema)]
        pub struct $name {
            pub data: Vec<$item>,
            /// Pass as `cursor` to get the next page; null on the last page.
            pub next_cursor: Option<String>,
        }

        impl $name {
            pub fn from_page<T>(page: Page<T>, f: impl FnMut(T) -> $item) -> Self {
                let next_cursor = page.next.map(|c| c.encode());
                $name { data: page.items.into_iter().map(f).collect(), next_cursor }
            }
        }
    };
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub email_verified: bool,
    pub two_factor_enabled: bool,
    pub created_at_ms: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeOut {
    pub user: UserOut,
    pub workspace: WorkspaceOut,
    /// How this request authenticated: `token`.
    pub credential: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkspaceOut {
    pub id: Uuid,
    pub name: String,
    /// The caller's role in this workspace.
    pub role: Role,
    pub version: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}
list_of!(WorkspaceList, WorkspaceOut);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceCreate {
    #[schema(min_length = 1, max_length = 120, pattern = "\\S")]
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceUpdate {
    #[schema(min_length = 1, max_length = 120, pattern = "\\S")]
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberOut {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub role: String,
    pub version: i64,
    pub joined_at_ms: i64,
}
list_of!(MemberList, MemberOut);

impl From<kith_app::records::MemberRow> for MemberOut {
    fn from(m: kith_app::records::MemberRow) -> Self {
        MemberOut {
            user_id: m.user_id,
            email: m.email,
            name: m.name,
            role: m.role,
            version: m.version,
            joined_at_ms: m.created_ms,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberUpdate {
    pub role: Role,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TeamOut {
    pub id: Uuid,
    pub name: String,
    pub version: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}
list_of!(TeamList, TeamOut);

impl From<kith_app::records::TeamRow> for TeamOut {
    fn from(t: kith_app::records::TeamRow) -> Self {
        TeamOut { id: t.id, name: t.name, version: t.version, created_at_ms: t.created_ms, updated_at_ms: t.updated_ms }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamWrite {
    #[schema(min_length = 1, max_length = 80, pattern = "\\S")]
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TeamMemberOut {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub added_at_ms: i64,
}
list_of!(TeamMemberList, TeamMemberOut);

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationOut {
    pub id: Uuid,
    pub email: String,
    pub role: String,
    pub invited_by: Uuid,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    /// Only in the answer to the POST that created it: the link to send.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}
list_of!(InvitationList, InvitationOut);

impl From<kith_app::records::InvitationRow> for InvitationOut {
    fn from(i: kith_app::records::InvitationRow) -> Self {
        InvitationOut {
            id: i.id,
            email: i.email,
            role: i.role,
            invited_by: i.invited_by,
            created_at_ms: i.created_ms,
            expires_at_ms: i.expires_ms,
            link: None,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationCreate {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    #[serde(default = "default_role")]
    pub role: Role,
}

fn default_role() -> Role {
    Role::Member
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenOut {
    pub id: Uuid,
    pub name: String,
    /// `role` (whatever the member's role allows) or the highest role the token may act as.
    pub scope: String,
    pub created_at_ms: i64,
    pub last_used_at_ms: Option<i64>,
    /// Only in the answer to the POST that created it; never shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}
list_of!(TokenList, TokenOut);

impl From<kith_app::records::TokenRow> for TokenOut {
    fn from(t: kith_app::records::TokenRow) -> Self {
        TokenOut {
            id: t.id,
            name: t.name,
            scope: kith_app::tokens::scope_label(&t.scopes).to_string(),
            created_at_ms: t.created_ms,
            last_used_at_ms: t.last_used_ms,
            token: None,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenCreate {
    #[schema(min_length = 1, max_length = 80, pattern = "\\S")]
    pub name: String,
    /// Highest role the token may act as; omitted = the member's role.
    pub scope: Option<Role>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryOut {
    pub id: Uuid,
    pub seq: i64,
    pub at_ms: i64,
    pub actor_id: Option<Uuid>,
    pub actor_email: Option<String>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<Uuid>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditList {
    pub data: Vec<AuditEntryOut>,
    pub next_cursor: Option<String>,
}

impl From<kith_app::records::AuditEntryRow> for AuditEntryOut {
    fn from(a: kith_app::records::AuditEntryRow) -> Self {
        AuditEntryOut {
            id: a.id,
            seq: a.seq,
            at_ms: a.at_ms,
            actor_id: a.actor_id,
            actor_email: a.actor_email,
            action: a.action,
            target_type: a.target_type,
            target_id: a.target_id,
            ip: a.ip,
            user_agent: a.user_agent,
            detail: a.detail,
        }
    }
}

// ---- CRM ----------------------------------------------------------------------
// Contacts, companies, tags and custom fields are sent as kith-app renders
// them; only the list envelopes and the tag bodies are the API's own.

list_of!(ContactList, kith_app::crm::contacts::Contact);
list_of!(CompanyList, kith_app::crm::companies::Company);

#[derive(Debug, Serialize, ToSchema)]
pub struct TagList {
    pub data: Vec<kith_app::crm::tags::Tag>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomFieldList {
    /// Every field of the record type, in display order.
    pub data: Vec<kith_app::crm::custom_fields::CustomField>,
    /// Always null: a record type has at most a few hundred fields.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagCreate {
    #[schema(min_length = 1, max_length = 60, pattern = "\\S")]
    pub name: String,
    /// grey (default), red, orange, yellow, green, blue, purple or pink.
    pub color: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagUpdate {
    #[schema(min_length = 1, max_length = 60, pattern = "\\S")]
    pub name: Option<String>,
    pub color: Option<String>,
}

// Deals, pipelines, notes, tasks, timelines, search and imports: kith-app's
// types as they are, in the usual envelopes.

list_of!(DealList, kith_app::crm::deals::Deal);
list_of!(TaskList, kith_app::crm::tasks::Task);
list_of!(TimelineList, kith_app::crm::timeline::TimelineItem);
list_of!(ImportList, kith_app::crm::imports::Import);

#[derive(Debug, Serialize, ToSchema)]
pub struct PipelineList {
    /// Every pipeline of the workspace, in position order.
    pub data: Vec<kith_app::crm::pipelines::Pipeline>,
    /// Always null: a workspace has at most 50 pipelines.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NoteList {
    /// The record's notes the caller may read, newest first (at most 200; the
    /// record's timeline pages through all of them).
    pub data: Vec<kith_app::crm::notes::Note>,
    /// Always null.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResults {
    /// Best match first.
    pub data: Vec<kith_app::crm::search::SearchHit>,
    /// Always null: search answers one page.
    pub next_cursor: Option<String>,
}
