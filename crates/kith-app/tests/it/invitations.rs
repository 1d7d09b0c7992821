//! Invitations: the link, joining through it, once only, revocation, expiry,
//! the invited address, and who may invite whom.

use crate::support::*;
use kith_app::identity;
use kith_app::{invitations, members, workspaces, AppError, AppSettings, ErrorCode};
use kith_domain::{PageRequest, Role};
use kith_store::users;
use kith_testkit::app::test_settings;
use kith_testkit::{TestApp, TestDb};
use std::time::Duration;

#[tokio::test]
async fn signing_up_through_an_invitation_joins_with_its_role() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("owner@example.com").await;
        let o = owner_ctx(app, &owner).await;

        let invited = invitations::create(app, &o, " New@Example.com ", Role::Admin, &from_ip("192.0.2.4"))
            .await
            .expect("invite");
        let secret = secret_of(&invited.link);
        assert!(invited.link.starts_with(&format!("{}/invite/", app.settings().public_url)), "{l}: {}", invited.link);
        assert!(
            secret.starts_with(invitations::INVITATION_PREFIX) && secret.len() > 40,
            "{l}: the link carries the secret: {}",
            invited.link
        );
        assert_eq!(invited.invitation.email, "new@example.com", "{l}");
        assert_ne!(invited.invitation.token_hash, secret.as_bytes(), "{l}: only a hash is stored");
        let open = invitations::list(app, &o, &PageRequest::default()).await.unwrap();
        assert_eq!(open.items.len(), 1, "{l}");

        let preview = invitations::preview(app, &secret).await.expect("preview");
        assert_eq!(
            (preview.email.as_str(), preview.role.as_str(), preview.account_exists),
            ("new@example.com", "admin", false),
            "{l}"
        );
        assert_eq!(preview.workspace_name, "owner@example.com's workspace", "{l}");

        let done = identity::sign_up(app, sign_up_input("new@example.com", None, Some(&secret)), &nowhere())
            .await
            .expect("sign up with invitation");
        assert_eq!(done.org_id, owner.org_id, "{l}: joined the inviting workspace");
        let m = members::get(app, &o, done.user_id).await.unwrap();
        assert_eq!(m.role, "admin", "{l}: with the invited role");
        let mine = workspaces::list_mine(app, done.user_id, &PageRequest::default()).await.unwrap();
        assert_eq!(mine.items.len(), 1, "{l}: no workspace of their own");
        let user = users::get(app.db(), done.user_id).await.unwrap().unwrap();
        assert!(user.email_verified_ms.is_some(), "{l}: the link proved the address");
        assert!(!user.is_operator, "{l}");

        // Spent: no longer open, no preview, cannot be used again.
        let inv = invitations::get(app, &o, invited.invitation.id).await.unwrap();
        assert_eq!(inv.accepted_by, Some(done.user_id), "{l}");
        assert!(invitations::list(app, &o, &PageRequest::default()).await.unwrap().items.is_empty(), "{l}");
        let r = invitations::preview(app, &secret).await;
        assert!(matches!(r, Err(AppError::InvitationInvalid)), "{l}: preview after use: {r:?}");
        // Leaving and coming back through the same link does not work.
        let joined = ctx(app, owner.org_id, done.user_id).await;
        members::remove(app, &joined, done.user_id, &nowhere()).await.unwrap();
        let (_, auth) = signed_in(app, "new@example.com", PASSWORD).await;
        let r = invitations::accept(app, &auth, &secret, &nowhere()).await;
        assert!(matches!(r, Err(AppError::InvitationInvalid)), "{l}: second use: {r:?}");
        assert!(
            kith_store::members::get(app.db(), owner.org_id, done.user_id).await.unwrap().is_none(),
            "{l}: did not rejoin"
        );

        let r = invitations::preview(app, "kith_inv_made-up").await;
        assert!(matches!(r, Err(AppError::InvitationInvalid)), "{l}: unknown secret: {r:?}");
    }
}

#[tokio::test]
async fn a_signed_in_user_accepts_an_invitation_for_their_address() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("owner@example.com").await;
        let o = owner_ctx(app, &owner).await;
        let bob = t.user("bob@example.com").await;
        let eve = t.user("eve@example.com").await;

        let invited = invitations::create(app, &o, &bob.email, Role::Member, &nowhere()).await.unwrap();
        let secret = secret_of(&invited.link);
        assert!(invitations::preview(app, &secret).await.unwrap().account_exists, "{l}");

        let (_, eve_auth) = signed_in(app, &eve.email, PASSWORD).await;
        let r = invitations::accept(app, &eve_auth, &secret, &nowhere()).await;
        assert!(
            matches!(r, Err(AppError::Conflict(ErrorCode::InvitationInvalid, _))),
            "{l}: someone else's invitation: {r:?}"
        );

        let (_, bob_auth) = signed_in(app, &bob.email, PASSWORD).await;
        let org = invitations::accept(app, &bob_auth, &secret, &nowhere()).await.expect("bob accepts");
        assert_eq!(org, owner.org_id, "{l}");
        assert_eq!(members::get(app, &o, bob.user_id).await.unwrap().role, "member", "{l}");
        let r = invitations::accept(app, &bob_auth, &secret, &nowhere()).await;
        assert!(matches!(r, Err(AppError::Conflict(ErrorCode::AlreadyMember, _))), "{l}: accepting twice: {r:?}");
        // Inviting an existing member is refused up front.
        let r = invitations::create(app, &o, &bob.email, Role::Member, &nowhere()).await;
        assert!(matches!(r, Err(AppError::Conflict(ErrorCode::AlreadyMember, _))), "{l}: {r:?}");
    }
}

#[tokio::test]
async fn revoked_invitations_are_refused() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("owner@example.com").await;
        let o = owner_ctx(app, &owner).await;
        let invited = invitations::create(app, &o, "x@example.com", Role::Member, &nowhere()).await.unwrap();
        let secret = secret_of(&invited.link);
        invitations::revoke(app, &o, invited.invitation.id, &nowhere()).await.expect("revoke");
        let r = invitations::revoke(app, &o, invited.invitation.id, &nowhere()).await;
        assert!(matches!(r, Err(AppError::NotFound)), "{l}: revoke twice: {r:?}");

        let r = identity::sign_up(app, sign_up_input("x@example.com", None, Some(&secret)), &nowhere()).await;
        assert!(matches!(r, Err(AppError::InvitationInvalid)), "{l}: revoked: {r:?}");
        let r = invitations::preview(app, &secret).await;
        assert!(matches!(r, Err(AppError::InvitationInvalid)), "{l}: {r:?}");
        assert!(
            users::find_by_email(app.db(), "x@example.com").await.unwrap().is_none(),
            "{l}: the refused sign-up left no account"
        );
    }
}

#[tokio::test]
async fn expired_invitations_are_refused() {
    for db in TestDb::all().await {
        let l = db.label;
        let t = TestApp::new(db, AppSettings { invitation_ttl_ms: 1, ..test_settings() });
        let app = &t.app;
        let owner = t.user("owner@example.com").await;
        let o = owner_ctx(app, &owner).await;
        let invited = invitations::create(app, &o, "late@example.com", Role::Member, &nowhere()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        let secret = secret_of(&invited.link);

        let r = invitations::preview(app, &secret).await;
        assert!(matches!(r, Err(AppError::InvitationInvalid)), "{l}: preview: {r:?}");
        let r = identity::sign_up(app, sign_up_input("late@example.com", None, Some(&secret)), &nowhere()).await;
        assert!(matches!(r, Err(AppError::InvitationInvalid)), "{l}: sign-up: {r:?}");
        assert!(
            users::find_by_email(app.db(), "late@example.com").await.unwrap().is_none(),
            "{l}: the refused sign-up left no account"
        );
        let late = t.user("late@example.com").await;
        let (_, auth) = signed_in(app, &late.email, PASSWORD).await;
        let r = invitations::accept(app, &auth, &secret, &nowhere()).await;
        assert!(matches!(r, Err(AppError::InvitationInvalid)), "{l}: accept: {r:?}");
    }
}

#[tokio::test]
async fn an_invitation_is_bound_to_its_address() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("owner@example.com").await;
        let o = owner_ctx(app, &owner).await;
        let invited = invitations::create(app, &o, "x@example.com", Role::Member, &nowhere()).await.unwrap();
        let secret = secret_of(&invited.link);

        let r = identity::sign_up(app, sign_up_input("y@example.com", None, Some(&secret)), &nowhere()).await;
        let fields = invalid_fields(l, "sign up as y with x's invitation", r);
        assert_eq!(fields, ["email"], "{l}");
        assert!(users::find_by_email(app.db(), "y@example.com").await.unwrap().is_none(), "{l}: no account for y");

        // Still good for x.
        let done = identity::sign_up(app, sign_up_input("X@example.com", None, Some(&secret)), &nowhere())
            .await
            .expect("x signs up");
        assert_eq!(done.org_id, owner.org_id, "{l}");
    }
}

#[tokio::test]
async fn who_may_invite_whom() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("owner@example.com").await;
        let o = owner_ctx(app, &owner).await;
        let admin = join(app, &o, "admin@example.com", Role::Admin).await;
        let member = join(app, &o, "member@example.com", Role::Member).await;
        let a = ctx(app, o.org_id, admin.user_id).await;
        let m = ctx(app, o.org_id, member.user_id).await;

        let fields = invalid_fields(
            l,
            "admin invites an owner",
            invitations::create(app, &a, "boss@example.com", Role::Owner, &nowhere()).await,
        );
        assert_eq!(fields, ["role"], "{l}");
        invitations::create(app, &a, "peer@example.com", Role::Admin, &nowhere())
            .await
            .expect("admin invites an admin");
        let r = invitations::create(app, &m, "friend@example.com", Role::Viewer, &nowhere()).await;
        assert!(matches!(r, Err(AppError::Forbidden)), "{l}: member invites: {r:?}");
        let r = invitations::list(app, &m, &PageRequest::default()).await;
        assert!(matches!(r, Err(AppError::Forbidden)), "{l}: member lists invitations: {r:?}");
        let fields = invalid_fields(
            l,
            "bad address",
            invitations::create(app, &o, "not an address", Role::Member, &nowhere()).await,
        );
        assert_eq!(fields, ["email"], "{l}");
        invitations::create(app, &o, "boss@example.com", Role::Owner, &nowhere())
            .await
            .expect("an owner invites an owner");
    }
}
