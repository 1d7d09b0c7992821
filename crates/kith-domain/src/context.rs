//! The explicit context every domain call carries: which workspace, who acts,
//! with which role, through which credential.

use crate::role::{Action, Role};
use uuid::Uuid;

/// How the actor proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// A browser sign-in session.
    Session(Uuid),
    /// A bearer API token; `scope` is the most the token may do.
    Token { id: Uuid, scope: Role },
    /// The operator's command line.
    Cli,
}

impl Credential {
    /// A stable id for scoping idempotency keys and rate limits.
    pub fn id(&self) -> Uuid {
        match self {
            Credential::Session(id) | Credential::Token { id, .. } => *id,
            Credential::Cli => Uuid::nil(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: Uuid,
    pub credential: Credential,
}

/// A signed-in user acting inside one workspace.
#[derive(Debug, Clone)]
pub struct Context {
    pub org_id: Uuid,
    pub actor: Actor,
    /// The member's role in this workspace.
    pub role: Role,
}

impl Context {
    /// The role that counts for this request: a token scoped below the
    /// member's role narrows it, never widens it.
    pub fn effective_role(&self) -> Role {
        match self.actor.credential {
            Credential::Token { scope, .. } => scope.min(self.role),
            _ => self.role,
        }
    }

    pub fn can(&self, action: Action) -> bool {
        self.effective_role().allows(action)
    }

    pub fn user_id(&self) -> Uuid {
        self.actor.user_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_scope_narrows_role() {
        let ctx = Context {
            org_id: Uuid::nil(),
            actor: Actor {
                user_id: Uuid::nil(),
                credential: Credential::Token { id: Uuid::nil(), scope: Role::Viewer },
            },
            role: Role::Owner,
        };
        assert_eq!(ctx.effective_role(), Role::Viewer);
        assert!(!ctx.can(Action::ManageMembers));
    }
}
