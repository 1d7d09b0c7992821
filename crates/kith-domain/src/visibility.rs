//! Who may see a CRM record, decided once. The store turns a [`Viewer`] into
//! one SQL filter used by lists, search, timelines, exports, duplicate
//! detection and inbound matching alike; nothing filters after the query.
//!
//! The rules:
//! - `personal`: only the user who created it, whatever their role (promise 2);
//! - `everyone`: every member, unless the member is limited to their own records;
//! - `team`: members of the record's team (same limit);
//! - `owner`: its owner only;
//! - owners and admins see every record except other people's personal ones;
//! - a member limited to their own records sees what they own and their personal records.

use crate::context::Context;
use crate::role::Role;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    Everyone,
    Team,
    Owner,
    Personal,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Everyone => "everyone",
            Visibility::Team => "team",
            Visibility::Owner => "owner",
            Visibility::Personal => "personal",
        }
    }

    pub fn parse(s: &str) -> Option<Visibility> {
        Some(match s {
            "everyone" => Visibility::Everyone,
            "team" => Visibility::Team,
            "owner" => Visibility::Owner,
            "personal" => Visibility::Personal,
            _ => return None,
        })
    }
}

/// The person looking, reduced to what the visibility filter needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    pub org_id: Uuid,
    pub user_id: Uuid,
    /// Owners and admins: every record but other people's personal ones.
    pub sees_all_shared: bool,
}

impl Viewer {
    pub fn of(ctx: &Context) -> Viewer {
        Viewer { org_id: ctx.org_id, user_id: ctx.user_id(), sees_all_shared: ctx.effective_role() >= Role::Admin }
    }
}

/// The visibility columns of one record, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub visibility: Visibility,
    pub owner_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub created_by: Uuid,
}

impl Placement {
    /// The same rules as the SQL filter, for one record already in memory
    /// (used to check a single record before writing to it).
    /// `viewer_teams` are the viewer's teams; `own_only` their limit.
    pub fn visible_to(&self, viewer: &Viewer, viewer_teams: &[Uuid], own_only: bool) -> bool {
        if self.visibility == Visibility::Personal {
            return self.created_by == viewer.user_id;
        }
        if viewer.sees_all_shared || self.owner_id == Some(viewer.user_id) {
            return true;
        }
        if own_only {
            return false;
        }
        match self.visibility {
            Visibility::Everyone => true,
            Visibility::Team => self.team_id.is_some_and(|t| viewer_teams.contains(&t)),
            Visibility::Owner | Visibility::Personal => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewer(admin: bool) -> Viewer {
        Viewer { org_id: Uuid::nil(), user_id: Uuid::from_u128(1), sees_all_shared: admin }
    }

    #[test]
    fn personal_records_are_for_their_creator_only() {
        let p = Placement {
            visibility: Visibility::Personal,
            owner_id: Some(Uuid::from_u128(1)),
            team_id: None,
            created_by: Uuid::from_u128(2),
        };
        assert!(!p.visible_to(&viewer(true), &[], false), "not even an admin, not even as owner");
        let mine = Placement { created_by: Uuid::from_u128(1), ..p };
        assert!(mine.visible_to(&viewer(false), &[], true));
    }

    #[test]
    fn team_owner_and_limits() {
        let team = Uuid::from_u128(9);
        let p = Placement {
            visibility: Visibility::Team,
            owner_id: Some(Uuid::from_u128(3)),
            team_id: Some(team),
            created_by: Uuid::from_u128(3),
        };
        assert!(p.visible_to(&viewer(false), &[team], false));
        assert!(!p.visible_to(&viewer(false), &[], false));
        assert!(!p.visible_to(&viewer(false), &[team], true), "limited to own records");
        assert!(p.visible_to(&viewer(true), &[], false), "admins see shared records");
        let owner_only = Placement { visibility: Visibility::Owner, ..p };
        assert!(!owner_only.visible_to(&viewer(false), &[team], false));
        let everyone = Placement { visibility: Visibility::Everyone, ..p };
        assert!(everyone.visible_to(&viewer(false), &[], false));
        assert!(!everyone.visible_to(&viewer(false), &[], true));
    }
}
