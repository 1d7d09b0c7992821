//! API tokens: shown once, stored hashed, scoped, revocable, and a token can
//! never do more than the credential that made it.

use crate::support::*;
use kith_app::{members, tokens, AppError};
use kith_domain::{Credential, PageRequest, Role};
use kith_testkit::TestApp;

#[tokio::test]
async fn tokens_authenticate_until_revoked_and_scopes_only_narrow() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("owner@example.com").await;
        let o = owner_ctx(app, &owner).await;
        let member = join(app, &o, "member@example.com", Role::Member).await;
        let viewer = join(app, &o, "viewer@example.com", Role::Viewer).await;
        let m = ctx(app, o.org_id, member.user_id).await;
        let v = ctx(app, o.org_id, viewer.user_id).await;

        let (row, secret) = tokens::create(app, &m, "ci", None, &nowhere()).await.expect("create");
        assert!(secret.starts_with(tokens::TOKEN_PREFIX), "{l}");
        assert_eq!(row.token_hash, kith_crypto::token_hash(&secret), "{l}: stored as SHA-256");
        let tc = tokens::authenticate(app, &secret).await.unwrap().expect("authenticates");
        assert_eq!((tc.org_id, tc.user_id(), tc.effective_role()), (o.org_id, member.user_id, Role::Member), "{l}");
        assert!(matches!(tc.actor.credential, Credential::Token { id, .. } if id == row.id), "{l}");

        let fields = invalid_fields(
            l,
            "scope above own role",
            tokens::create(app, &m, "too much", Some(Role::Admin), &nowhere()).await,
        );
        assert_eq!(fields, ["scope"], "{l}");
        let r = tokens::create(app, &v, "viewer", None, &nowhere()).await;
        assert!(matches!(r, Err(AppError::Forbidden)), "{l}: viewers make no tokens: {r:?}");

        let listed = tokens::list(app, &m, &PageRequest::default()).await.unwrap();
        assert_eq!(listed.items.len(), 1, "{l}");
        let r = tokens::revoke(app, &o, row.id, &nowhere()).await;
        assert!(matches!(r, Err(AppError::NotFound)), "{l}: only its holder revokes it: {r:?}");
        tokens::revoke(app, &m, row.id, &nowhere()).await.expect("revoke");
        assert!(tokens::authenticate(app, &secret).await.unwrap().is_none(), "{l}: revoked");
        assert!(tokens::authenticate(app, "kith_pat_made-up").await.unwrap().is_none(), "{l}: unknown");

        // A member who leaves takes their tokens along.
        let (_, second) = tokens::create(app, &m, "second", None, &nowhere()).await.unwrap();
        members::remove(app, &o, member.user_id, &nowhere()).await.unwrap();
        assert!(tokens::authenticate(app, &second).await.unwrap().is_none(), "{l}: member left");
    }
}

/// "`scope` may narrow, never widen": a member-scoped token of an owner
/// asks for a new token without a scope and gets one that inherits the
/// owner's full role (`tokens::create` stores `inherit` for `None`).
#[tokio::test]
async fn a_scoped_token_cannot_mint_a_wider_token() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("owner@example.com").await;
        let o = owner_ctx(app, &owner).await;
        let (_, narrow) = tokens::create(app, &o, "narrow", Some(Role::Member), &nowhere()).await.unwrap();
        let nc = tokens::authenticate(app, &narrow).await.unwrap().unwrap();
        assert_eq!(nc.effective_role(), Role::Member, "{l}");

        match tokens::create(app, &nc, "minted", None, &nowhere()).await {
            Err(_) => {}
            Ok((_, minted)) => {
                let mc = tokens::authenticate(app, &minted).await.unwrap().unwrap();
                assert!(
                    mc.effective_role() <= Role::Member,
                    "{l}: a member-scoped token minted a token acting as {:?}",
                    mc.effective_role()
                );
            }
        }
    }
}
