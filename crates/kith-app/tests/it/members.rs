//! Members and roles: who may change whom, the last owner, scoped tokens,
//! and two owners demoting each other at the same time.

use crate::support::*;
use kith_app::{members, tokens, AppError, ErrorCode};
use kith_domain::{Credential, PageRequest, Role};
use kith_testkit::TestApp;
use uuid::Uuid;

async fn role_of(app: &kith_app::App, org_id: Uuid, user_id: Uuid) -> Option<String> {
    kith_store::members::get(app.db(), org_id, user_id).await.unwrap().map(|m| m.role)
}

async fn owners(app: &kith_app::App, org_id: Uuid) -> usize {
    kith_store::members::list(app.db(), org_id, &PageRequest::new(Some(200), None))
        .await
        .unwrap()
        .items
        .iter()
        .filter(|m| m.role == "owner")
        .count()
}

#[tokio::test]
async fn admins_manage_roles_below_owner_only() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("owner@example.com").await;
        let o = owner_ctx(app, &owner).await;
        let admin = join(app, &o, "admin@example.com", Role::Admin).await;
        let member = join(app, &o, "member@example.com", Role::Member).await;
        let a = ctx(app, o.org_id, admin.user_id).await;
        assert_eq!(a.role, Role::Admin, "{l}");

        let r = members::change_role(app, &a, member.user_id, Role::Owner, None, &nowhere()).await;
        assert!(matches!(r, Err(AppError::Forbidden)), "{l}: admin makes an owner: {r:?}");
        let r = members::change_role(app, &a, owner.user_id, Role::Member, None, &nowhere()).await;
        assert!(matches!(r, Err(AppError::Forbidden)), "{l}: admin demotes an owner: {r:?}");
        let r = members::change_role(app, &a, owner.user_id, Role::Owner, None, &nowhere()).await;
        assert!(matches!(r, Err(AppError::Forbidden)), "{l}: admin touches an owner: {r:?}");
        let r = members::remove(app, &a, owner.user_id, &nowhere()).await;
        assert!(matches!(r, Err(AppError::Forbidden)), "{l}: admin removes an owner: {r:?}");
        assert_eq!(role_of(app, o.org_id, owner.user_id).await.as_deref(), Some("owner"), "{l}");
        assert_eq!(role_of(app, o.org_id, member.user_id).await.as_deref(), Some("member"), "{l}");

        // Up to admin is fine, with optimistic versions.
        let before = members::get(app, &a, member.user_id).await.unwrap();
        let r = members::change_role(app, &a, member.user_id, Role::Admin, Some(before.version + 7), &nowhere()).await;
        assert!(matches!(r, Err(AppError::StaleVersion)), "{l}: stale version: {r:?}");
        let after = members::change_role(app, &a, member.user_id, Role::Admin, Some(before.version), &nowhere())
            .await
            .expect("admin promotes a member to admin");
        assert_eq!((after.role.as_str(), after.version), ("admin", before.version + 1), "{l}");

        // Only an owner makes an owner.
        let made = members::change_role(app, &o, member.user_id, Role::Owner, None, &nowhere())
            .await
            .expect("owner makes an owner");
        assert_eq!(made.role, "owner", "{l}");

        let r = members::change_role(app, &o, Uuid::now_v7(), Role::Member, None, &nowhere()).await;
        assert!(matches!(r, Err(AppError::NotFound)), "{l}: not a member: {r:?}");
    }
}

#[tokio::test]
async fn members_and_viewers_cannot_manage_members() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("owner@example.com").await;
        let o = owner_ctx(app, &owner).await;
        let member = join(app, &o, "member@example.com", Role::Member).await;
        let viewer = join(app, &o, "viewer@example.com", Role::Viewer).await;
        let m = ctx(app, o.org_id, member.user_id).await;
        let v = ctx(app, o.org_id, viewer.user_id).await;

        for (who, c) in [("member", &m), ("viewer", &v)] {
            let r = members::change_role(app, c, viewer.user_id, Role::Member, None, &nowhere()).await;
            assert!(matches!(r, Err(AppError::Forbidden)), "{l}: {who} changes a role: {r:?}");
            let r = members::change_role(app, c, c.user_id(), Role::Admin, None, &nowhere()).await;
            assert!(matches!(r, Err(AppError::Forbidden)), "{l}: {who} promotes self: {r:?}");
            let r = members::remove(app, c, owner.user_id, &nowhere()).await;
            assert!(matches!(r, Err(AppError::Forbidden)), "{l}: {who} removes someone: {r:?}");
            // Reading the member list is allowed.
            let list = members::list(app, c, &PageRequest::default()).await.unwrap();
            assert_eq!(list.items.len(), 3, "{l}: {who} reads members");
        }
        assert_eq!(role_of(app, o.org_id, viewer.user_id).await.as_deref(), Some("viewer"), "{l}");

        // Anyone may leave.
        members::remove(app, &m, member.user_id, &nowhere()).await.expect("a member leaves");
        assert!(role_of(app, o.org_id, member.user_id).await.is_none(), "{l}: left");
    }
}

#[tokio::test]
async fn the_last_owner_stays_until_another_owner_exists() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let first = t.user("first@example.com").await;
        let o1 = owner_ctx(app, &first).await;

        let r = members::change_role(app, &o1, first.user_id, Role::Admin, None, &nowhere()).await;
        assert!(matches!(r, Err(AppError::Conflict(ErrorCode::LastOwner, _))), "{l}: last owner demotes self: {r:?}");
        let r = members::remove(app, &o1, first.user_id, &nowhere()).await;
        assert!(matches!(r, Err(AppError::Conflict(ErrorCode::LastOwner, _))), "{l}: last owner leaves: {r:?}");
        // Promoting the last owner to owner again is no demotion.
        members::change_role(app, &o1, first.user_id, Role::Owner, None, &nowhere()).await.expect("owner to owner");
        assert_eq!(owners(app, o1.org_id).await, 1, "{l}");

        let second = join(app, &o1, "second@example.com", Role::Owner).await;
        assert_eq!(owners(app, o1.org_id).await, 2, "{l}");
        members::change_role(app, &o1, first.user_id, Role::Admin, None, &nowhere())
            .await
            .expect("with another owner, the first may step down");
        assert_eq!(role_of(app, o1.org_id, first.user_id).await.as_deref(), Some("admin"), "{l}");

        let o2 = ctx(app, o1.org_id, second.user_id).await;
        let r = members::remove(app, &o2, second.user_id, &nowhere()).await;
        assert!(
            matches!(r, Err(AppError::Conflict(ErrorCode::LastOwner, _))),
            "{l}: now the second is the last owner: {r:?}"
        );
        let former = ctx(app, o1.org_id, first.user_id).await;
        members::remove(app, &former, first.user_id, &nowhere()).await.expect("the former owner (now admin) leaves");
        assert_eq!(owners(app, o1.org_id).await, 1, "{l}");
    }
}

#[tokio::test]
async fn a_viewer_scoped_token_of_an_owner_cannot_manage_members() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("owner@example.com").await;
        let o = owner_ctx(app, &owner).await;
        let member = join(app, &o, "member@example.com", Role::Member).await;

        let (_, secret) =
            tokens::create(app, &o, "read only", Some(Role::Viewer), &nowhere()).await.expect("create scoped token");
        let tc = tokens::authenticate(app, &secret).await.unwrap().expect("token authenticates");
        assert_eq!(tc.role, Role::Owner, "{l}: the member's role");
        assert!(
            matches!(tc.actor.credential, Credential::Token { scope: Role::Viewer, .. }),
            "{l}: {:?}",
            tc.actor.credential
        );
        assert_eq!(tc.effective_role(), Role::Viewer, "{l}");

        let r = members::change_role(app, &tc, member.user_id, Role::Viewer, None, &nowhere()).await;
        assert!(matches!(r, Err(AppError::Forbidden)), "{l}: change role: {r:?}");
        let r = members::remove(app, &tc, member.user_id, &nowhere()).await;
        assert!(matches!(r, Err(AppError::Forbidden)), "{l}: remove: {r:?}");
        let r = kith_app::invitations::create(app, &tc, "x@example.com", Role::Viewer, &nowhere()).await;
        assert!(matches!(r, Err(AppError::Forbidden)), "{l}: invite: {r:?}");
        members::list(app, &tc, &PageRequest::default()).await.expect("a viewer token reads members");
        assert_eq!(role_of(app, o.org_id, member.user_id).await.as_deref(), Some("member"), "{l}");

        // The same owner through an unscoped token may.
        let (_, full) = tokens::create(app, &o, "full", None, &nowhere()).await.unwrap();
        let fc = tokens::authenticate(app, &full).await.unwrap().unwrap();
        members::change_role(app, &fc, member.user_id, Role::Viewer, None, &nowhere())
            .await
            .expect("unscoped owner token changes a role");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_owners_demoting_each_other_at_once_leave_one_owner() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        for round in 0..3 {
            let a = t.user(&format!("a{round}@example.com")).await;
            let ac = owner_ctx(app, &a).await;
            let b = join(app, &ac, &format!("b{round}@example.com"), Role::Owner).await;
            let bc = ctx(app, a.org_id, b.user_id).await;
            assert_eq!(owners(app, a.org_id).await, 2, "{l}");

            let (a_id, b_id) = (a.user_id, b.user_id);
            let (app1, app2) = (app.clone(), app.clone());
            let (ac1, bc1) = (ac.clone(), bc.clone());
            let (r1, r2) = tokio::join!(
                tokio::spawn(
                    async move { members::change_role(&app1, &ac1, b_id, Role::Admin, None, &nowhere()).await }
                ),
                tokio::spawn(
                    async move { members::change_role(&app2, &bc1, a_id, Role::Admin, None, &nowhere()).await }
                ),
            );
            let (r1, r2) = (r1.unwrap(), r2.unwrap());
            let ok = r1.is_ok() as usize + r2.is_ok() as usize;
            assert_eq!(ok, 1, "{l}: round {round}: exactly one wins ({r1:?} / {r2:?})");
            for r in [&r1, &r2] {
                if let Err(e) = r {
                    assert_eq!(e.code(), ErrorCode::LastOwner, "{l}: round {round}: {e:?}");
                }
            }
            assert_eq!(owners(app, a.org_id).await, 1, "{l}: round {round}: one owner left");
        }
    }
}
