//! Promise 1: one workspace never sees or touches another's rows. A context
//! of workspace A asking for B's ids gets NotFound — never the row, never
//! Forbidden (which would confirm the id exists).

use crate::support::*;
use kith_app::identity;
use kith_app::{invitations, members, teams, tokens, workspaces, AppError};
use kith_domain::{PageRequest, Role};
use kith_testkit::TestApp;

#[track_caller]
fn not_found<T>(label: &str, what: &str, r: Result<T, AppError>) {
    let e = expect_err(label, what, r);
    assert!(matches!(e, AppError::NotFound), "{label}: {what}: expected NotFound, got {e:?}");
}

#[tokio::test]
async fn a_workspace_cannot_reach_another_workspaces_rows() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let a = t.user("a@example.com").await;
        let b = t.user("b@example.com").await;
        let ac = owner_ctx(app, &a).await;
        let bc = owner_ctx(app, &b).await;
        // A has someone to add to teams; B has a member of its own.
        let a_member = join(app, &ac, "a-member@example.com", Role::Member).await;
        let b_member = join(app, &bc, "b-member@example.com", Role::Member).await;

        let b_team = teams::create(app, &bc, "B team", &nowhere()).await.unwrap();
        teams::add_member(app, &bc, b_team.id, b_member.user_id, &nowhere()).await.unwrap();
        let b_inv = invitations::create(app, &bc, "someone@example.com", Role::Member, &nowhere()).await.unwrap();
        let (b_token, b_secret) = tokens::create(app, &bc, "B token", None, &nowhere()).await.unwrap();

        // Teams.
        not_found(l, "teams::get", teams::get(app, &ac, b_team.id).await);
        not_found(l, "teams::rename", teams::rename(app, &ac, b_team.id, "Taken over", None, &nowhere()).await);
        not_found(l, "teams::delete", teams::delete(app, &ac, b_team.id, &nowhere()).await);
        not_found(l, "teams::add_member", teams::add_member(app, &ac, b_team.id, a_member.user_id, &nowhere()).await);
        not_found(
            l,
            "teams::remove_member",
            teams::remove_member(app, &ac, b_team.id, b_member.user_id, &nowhere()).await,
        );
        not_found(l, "teams::list_members", teams::list_members(app, &ac, b_team.id, &PageRequest::default()).await);
        let a_teams = teams::list(app, &ac, &PageRequest::default()).await.unwrap();
        assert!(a_teams.items.is_empty(), "{l}: A lists no team of B");

        // Invitations.
        not_found(l, "invitations::get", invitations::get(app, &ac, b_inv.invitation.id).await);
        not_found(l, "invitations::revoke", invitations::revoke(app, &ac, b_inv.invitation.id, &nowhere()).await);
        assert!(
            invitations::list(app, &ac, &PageRequest::default()).await.unwrap().items.is_empty(),
            "{l}: A lists no invitation of B"
        );

        // Members.
        not_found(l, "members::get", members::get(app, &ac, b_member.user_id).await);
        not_found(l, "members::get (B's owner)", members::get(app, &ac, b.user_id).await);
        not_found(
            l,
            "members::change_role",
            members::change_role(app, &ac, b_member.user_id, Role::Viewer, None, &nowhere()).await,
        );
        not_found(l, "members::remove", members::remove(app, &ac, b_member.user_id, &nowhere()).await);
        let a_members = members::list(app, &ac, &PageRequest::default()).await.unwrap();
        assert!(
            a_members.items.iter().all(|m| m.user_id != b.user_id && m.user_id != b_member.user_id),
            "{l}: A lists none of B's members"
        );

        // The workspace itself.
        not_found(l, "workspaces::get", workspaces::get(app, &ac, b.org_id).await);
        not_found(l, "workspaces::rename", workspaces::rename(app, &ac, b.org_id, "Mine now", None, &nowhere()).await);

        // Tokens.
        not_found(l, "tokens::revoke", tokens::revoke(app, &ac, b_token.id, &nowhere()).await);
        assert!(
            tokens::list(app, &ac, &PageRequest::default()).await.unwrap().items.is_empty(),
            "{l}: A lists no token of B"
        );

        // Sessions cannot wander into B either.
        let (_, a_auth) = signed_in(app, &a.email, PASSWORD).await;
        not_found(l, "identity::switch_workspace", identity::switch_workspace(app, &a_auth, b.org_id).await);
        assert!(
            identity::session_context(app, &a_auth, Some(b.org_id)).await.unwrap().is_none(),
            "{l}: no context in B for A's user"
        );

        // And B's rows are as they were.
        let team = teams::get(app, &bc, b_team.id).await.unwrap();
        assert_eq!((team.name.as_str(), team.version), ("B team", 1), "{l}");
        let in_team = teams::list_members(app, &bc, b_team.id, &PageRequest::default()).await.unwrap();
        assert_eq!(in_team.items.len(), 1, "{l}");
        let inv = invitations::get(app, &bc, b_inv.invitation.id).await.unwrap();
        assert!(inv.revoked_ms.is_none(), "{l}: B's invitation not revoked");
        assert_eq!(members::get(app, &bc, b_member.user_id).await.unwrap().role, "member", "{l}");
        assert_eq!(workspaces::get(app, &bc, b.org_id).await.unwrap().name, "b@example.com's workspace", "{l}");
        let tc = tokens::authenticate(app, &b_secret).await.unwrap();
        assert_eq!(tc.map(|c| c.org_id), Some(b.org_id), "{l}: B's token still works");
    }
}
