//! Roles inside a workspace and what each may do. The single table of
//! permissions: the app layer asks [`Role::allows`] before every use case.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Member,
    Admin,
    Owner,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Member, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }

    /// Whether this role may perform `action`.
    pub fn allows(self, action: Action) -> bool {
        self >= action.least_role()
    }

    /// Whether someone with this role may hand out `target` (invite or promote
    /// to it). Only owners make owners; admins manage everyone below admin.
    pub fn may_grant(self, target: Role) -> bool {
        match self {
            Role::Owner => true,
            Role::Admin => target <= Role::Admin,
            _ => false,
        }
    }
}

/// Everything a role can be asked about. Grouped by capability; later
/// capabilities add their own variants here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    ReadWorkspace,
    RenameWorkspace,
    DeleteWorkspace,
    ReadMembers,
    ManageMembers,
    ReadTeams,
    ManageTeams,
    ManageInvitations,
    ReadAudit,
    ManageOwnTokens,
    ReadRecords,
    WriteRecords,
    /// Pipelines, custom fields, tags' colours: the CRM's settings.
    ManageCrmSettings,
    /// Connect, change and disconnect inbox channels (their credentials).
    ManageChannels,
}

impl Action {
    fn least_role(self) -> Role {
        match self {
            Action::ReadWorkspace | Action::ReadMembers | Action::ReadTeams | Action::ReadRecords => Role::Viewer,
            Action::ManageOwnTokens | Action::WriteRecords => Role::Member,
            Action::RenameWorkspace
            | Action::ManageMembers
            | Action::ManageTeams
            | Action::ManageInvitations
            | Action::ReadAudit
            | Action::ManageCrmSettings
            | Action::ManageChannels => Role::Admin,
            Action::DeleteWorkspace => Role::Owner,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_and_grants() {
        assert!(Role::Owner.allows(Action::DeleteWorkspace));
        assert!(!Role::Admin.allows(Action::DeleteWorkspace));
        assert!(Role::Admin.allows(Action::ManageMembers));
        assert!(!Role::Member.allows(Action::ManageMembers));
        assert!(Role::Viewer.allows(Action::ReadMembers));
        assert!(!Role::Viewer.allows(Action::ManageOwnTokens));
        assert!(Role::Admin.may_grant(Role::Admin));
        assert!(!Role::Admin.may_grant(Role::Owner));
        assert!(!Role::Member.may_grant(Role::Viewer));
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
    }
}
