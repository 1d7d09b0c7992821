//! Accounts: sign-up, the operator, sign-up modes, validation, sign-in with
//! throttling, password storage, sessions, password change and reset.

use crate::support::*;
use kith_app::identity::{self, SignIn};
use kith_app::{workspaces, AppError, AppSettings, ErrorCode, SignupMode};
use kith_domain::PageRequest;
use kith_store::{members, users};
use kith_testkit::app::test_settings;
use kith_testkit::{TestApp, TestDb};

fn sign_in_input(email: &str, password: &str) -> SignIn {
    SignIn { email: email.into(), password: password.into() }
}

#[tokio::test]
async fn sign_up_creates_user_workspace_and_owner_membership() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        assert!(identity::instance_is_empty(app).await.unwrap(), "{l}");

        let first = identity::sign_up(app, sign_up_input(" Ada@Example.COM ", Some("  Acme  "), None), &nowhere())
            .await
            .expect("first sign-up");
        assert!(!identity::instance_is_empty(app).await.unwrap(), "{l}");

        let user = users::get(app.db(), first.user_id).await.unwrap().unwrap();
        assert_eq!(user.email, "ada@example.com", "{l}: e-mail normalised");
        assert!(user.is_operator, "{l}: the first user runs the instance");
        assert!(!user.totp_enabled, "{l}");

        let ws = kith_store::workspaces::get(app.db(), first.org_id).await.unwrap().expect("workspace exists");
        assert_eq!(ws.name, "Acme", "{l}: workspace name trimmed");
        let m = members::get(app.db(), first.org_id, first.user_id).await.unwrap().expect("membership exists");
        assert_eq!(m.role, "owner", "{l}");

        let mine = workspaces::list_mine(app, first.user_id, &PageRequest::default()).await.unwrap();
        assert_eq!(mine.items.len(), 1, "{l}: exactly one workspace");
        assert_eq!((mine.items[0].id, mine.items[0].role.as_str()), (first.org_id, "owner"), "{l}");

        // The second account is not the operator and gets its own workspace.
        let second = identity::sign_up(app, sign_up_input("bob@example.com", Some("Bob's"), None), &nowhere())
            .await
            .expect("second sign-up (open mode)");
        assert_ne!(second.org_id, first.org_id, "{l}");
        let bob = users::get(app.db(), second.user_id).await.unwrap().unwrap();
        assert!(!bob.is_operator, "{l}: only the first user is the operator");
        assert!(
            members::get(app.db(), first.org_id, second.user_id).await.unwrap().is_none(),
            "{l}: bob is not in ada's workspace"
        );
    }
}

#[tokio::test]
async fn invite_mode_lets_only_the_operator_sign_up_alone() {
    for db in TestDb::all().await {
        let l = db.label;
        let t = TestApp::new(db, AppSettings { signup: SignupMode::Invite, ..test_settings() });
        let app = &t.app;
        let op = identity::sign_up(app, sign_up_input("op@example.com", Some("Ops"), None), &nowhere())
            .await
            .expect("the first user may always sign up");
        assert!(users::get(app.db(), op.user_id).await.unwrap().unwrap().is_operator, "{l}");

        let r = identity::sign_up(app, sign_up_input("eve@example.com", Some("Eve"), None), &nowhere()).await;
        assert!(matches!(r, Err(AppError::SignupClosed)), "{l}: second sign-up without invitation: {r:?}");
        assert!(
            users::find_by_email(app.db(), "eve@example.com").await.unwrap().is_none(),
            "{l}: no account was left behind"
        );

        // The operator's CLI is not bound by the sign-up mode.
        identity::create_account_as_operator(app, sign_up_input("cli@example.com", Some("CLI"), None))
            .await
            .expect("operator creates an account");

        // With an invitation, sign-up works in invite mode.
        let op_ctx = ctx(app, op.org_id, op.user_id).await;
        let joined = join(app, &op_ctx, "invited@example.com", kith_domain::Role::Member).await;
        assert_eq!(joined.org_id, op.org_id, "{l}");
    }
}

#[tokio::test]
async fn duplicate_email_is_a_conflict() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        t.user("ada@example.com").await;
        let r = identity::sign_up(app, sign_up_input("  ADA@example.com", Some("Again"), None), &nowhere()).await;
        match r {
            Err(AppError::Conflict(ErrorCode::EmailTaken, _)) => {}
            other => panic!("{l}: expected Conflict(EmailTaken), got {other:?}"),
        }
        assert_eq!(users::count_all(app.db()).await.unwrap(), 1, "{l}: no second account");
    }
}

#[tokio::test]
async fn validation_reports_every_bad_field_at_once() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let input = kith_app::identity::SignUp {
            email: "not-an-address".into(),
            name: "   ".into(),
            password: "short".into(),
            workspace_name: None,
            invitation: None,
        };
        let mut fields = invalid_fields(l, "sign-up", identity::sign_up(app, input, &nowhere()).await);
        fields.sort();
        assert_eq!(fields, ["email", "name", "password", "workspace_name"], "{l}: all four fields reported");
        assert!(identity::instance_is_empty(app).await.unwrap(), "{l}: nothing was stored");

        // One bad field alone is reported alone.
        let mut input = sign_up_input("ok@example.com", Some("   "), None);
        input.password = "long enough password".into();
        let fields = invalid_fields(l, "blank workspace", identity::sign_up(app, input, &nowhere()).await);
        assert_eq!(fields, ["workspace_name"], "{l}");
    }
}

#[tokio::test]
async fn wrong_passwords_are_refused_and_throttled() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let ada = t.user("ada@example.com").await;
        let bob = t.user("bob@example.com").await;
        let attacker = from_ip("203.0.113.9");

        let r = identity::sign_in(app, sign_in_input(&ada.email, "wrong password!"), &nowhere()).await;
        assert!(matches!(r, Err(AppError::InvalidCredentials)), "{l}: {r:?}");
        let r = identity::sign_in(app, sign_in_input("nobody@example.com", PASSWORD), &nowhere()).await;
        assert!(matches!(r, Err(AppError::InvalidCredentials)), "{l}: unknown address answers the same: {r:?}");

        // Repeated failures from one IP at one account: free tries, then delays.
        let mut throttled = None;
        for attempt in 1..=12 {
            let r = identity::sign_in(app, sign_in_input(&ada.email, "guess guess guess"), &attacker).await;
            match r {
                Err(AppError::InvalidCredentials) => {}
                Err(AppError::TooManyAttempts { retry_after_s }) => {
                    throttled = Some((attempt, retry_after_s));
                    break;
                }
                other => panic!("{l}: attempt {attempt}: {other:?}"),
            }
        }
        let (attempt, retry_after_s) = throttled.unwrap_or_else(|| panic!("{l}: never throttled"));
        // The first tries are free; only then do delays start.
        assert!(attempt >= 4, "{l}: the first tries are free (throttled at {attempt})");
        assert!(retry_after_s > 0, "{l}");

        // While throttled, even the right password is not tried.
        let r = identity::sign_in(app, sign_in_input(&ada.email, PASSWORD), &attacker).await;
        assert!(matches!(r, Err(AppError::TooManyAttempts { .. })), "{l}: right password during the delay: {r:?}");

        // Another account from another IP is not slowed down.
        identity::sign_in(app, sign_in_input(&bob.email, PASSWORD), &from_ip("198.51.100.7"))
            .await
            .unwrap_or_else(|e| panic!("{l}: bob from another IP: {e:?}"));
    }
}

#[tokio::test]
async fn passwords_are_stored_as_salted_argon2id_hashes() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let a = t.user("a@example.com").await;
        let b = t.user("b@example.com").await;
        let ha = users::get(app.db(), a.user_id).await.unwrap().unwrap().password_hash;
        let hb = users::get(app.db(), b.user_id).await.unwrap().unwrap().password_hash;
        for h in [&ha, &hb] {
            assert!(h.starts_with("$argon2id$v=19$"), "{l}: PHC argon2id string: {h}");
            // $argon2id$v=19$m=…,t=…,p=…$salt$hash
            let parts: Vec<&str> = h.split('$').collect();
            assert_eq!(parts.len(), 6, "{l}: {h}");
            assert!(parts[3].contains("m=") && parts[3].contains("t="), "{l}: {h}");
            assert!(!parts[4].is_empty() && !parts[5].is_empty(), "{l}: salt and hash present");
            assert!(!h.contains(PASSWORD), "{l}: the password is not stored");
            assert!(kith_crypto::verify_password(PASSWORD, h), "{l}");
        }
        assert_ne!(ha, hb, "{l}: same password, different salts");
    }
}

#[tokio::test]
async fn sessions_work_until_signed_out_or_revoked() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let ada = t.user("ada@example.com").await;
        let bob = t.user("bob@example.com").await;

        let s = identity::sign_in(app, sign_in_input("ADA@example.com", PASSWORD), &from_ip("192.0.2.1"))
            .await
            .expect("sign in");
        assert!(!s.mfa_pending, "{l}");
        assert_eq!(s.user_id, ada.user_id, "{l}");
        assert!(s.token.starts_with(identity::SESSION_TOKEN_PREFIX), "{l}");
        let auth = reload(app, &s.token).await.expect("session live");
        assert_eq!((auth.user.id, auth.session.id), (ada.user_id, s.session_id), "{l}");
        assert_ne!(auth.session.token_hash, s.token.as_bytes(), "{l}: the token itself is not stored");
        let c = identity::session_context(app, &auth, None).await.unwrap().expect("context in the current workspace");
        assert_eq!((c.org_id, c.user_id(), c.role), (ada.org_id, ada.user_id, kith_domain::Role::Owner), "{l}");
        assert!(
            identity::session_context(app, &auth, Some(bob.org_id)).await.unwrap().is_none(),
            "{l}: no context in a workspace ada is not in"
        );
        assert!(reload(app, "kith_ses_not-a-real-token").await.is_none(), "{l}");

        identity::sign_out(app, &auth).await.unwrap();
        assert!(reload(app, &s.token).await.is_none(), "{l}: signed out");

        // Revoke one session from the list; bob cannot revoke ada's.
        let (tok1, _) = signed_in(app, &ada.email, PASSWORD).await;
        let (tok2, auth2) = signed_in(app, &ada.email, PASSWORD).await;
        let listed = identity::list_sessions(app, ada.user_id).await.unwrap();
        assert_eq!(listed.len(), 2, "{l}");
        let r = identity::revoke_session(app, bob.user_id, auth2.session.id).await;
        assert!(matches!(r, Err(AppError::NotFound)), "{l}: {r:?}");
        assert!(reload(app, &tok2).await.is_some(), "{l}: still live");
        identity::revoke_session(app, ada.user_id, auth2.session.id).await.unwrap();
        assert!(reload(app, &tok2).await.is_none(), "{l}: revoked");
        assert!(reload(app, &tok1).await.is_some(), "{l}: the other session stays");
        let r = identity::revoke_session(app, ada.user_id, auth2.session.id).await;
        assert!(matches!(r, Err(AppError::NotFound)), "{l}: revoked twice: {r:?}");
    }
}

#[tokio::test]
async fn change_password_signs_out_the_other_sessions() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let ada = t.user("ada@example.com").await;
        let (here, auth) = signed_in(app, &ada.email, PASSWORD).await;
        let (elsewhere, _) = signed_in(app, &ada.email, PASSWORD).await;

        let fields = invalid_fields(
            l,
            "wrong current password",
            identity::change_password(app, &auth, "not my password", "brand new password").await,
        );
        assert_eq!(fields, ["current_password"], "{l}");
        let fields = invalid_fields(l, "too short", identity::change_password(app, &auth, PASSWORD, "short").await);
        assert_eq!(fields, ["new_password"], "{l}");
        assert!(reload(app, &elsewhere).await.is_some(), "{l}: failures change nothing");

        identity::change_password(app, &auth, PASSWORD, "brand new password").await.expect("change password");
        assert!(reload(app, &here).await.is_some(), "{l}: current session kept");
        assert!(reload(app, &elsewhere).await.is_none(), "{l}: other session signed out");

        let r = identity::sign_in(app, sign_in_input(&ada.email, PASSWORD), &nowhere()).await;
        assert!(matches!(r, Err(AppError::InvalidCredentials)), "{l}: old password: {r:?}");
        identity::sign_in(app, sign_in_input(&ada.email, "brand new password"), &nowhere())
            .await
            .unwrap_or_else(|e| panic!("{l}: new password: {e:?}"));
    }
}

#[tokio::test]
async fn password_reset_link_works_once() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let ada = t.user("ada@example.com").await;
        let (before, _) = signed_in(app, &ada.email, PASSWORD).await;

        assert!(
            identity::request_password_reset(app, "nobody@example.com", &Default::default()).await.unwrap().is_none(),
            "{l}: unknown address"
        );
        let (user, token) = identity::request_password_reset(app, "Ada@Example.com", &Default::default())
            .await
            .unwrap()
            .expect("known address");
        assert_eq!(user.id, ada.user_id, "{l}");

        let fields = invalid_fields(l, "short", identity::reset_password(app, &token, "short").await);
        assert_eq!(fields, ["password"], "{l}");

        identity::reset_password(app, &token, "a fresh password 1").await.expect("reset");
        assert!(reload(app, &before).await.is_none(), "{l}: every session signed out");
        identity::sign_in(app, sign_in_input(&ada.email, "a fresh password 1"), &nowhere())
            .await
            .unwrap_or_else(|e| panic!("{l}: new password: {e:?}"));

        let r = identity::reset_password(app, &token, "a second password 2").await;
        assert!(matches!(r, Err(AppError::TokenInvalid)), "{l}: second use: {r:?}");
        let r = identity::reset_password(app, "kith_rst_made-up", "a second password 2").await;
        assert!(matches!(r, Err(AppError::TokenInvalid)), "{l}: unknown token: {r:?}");
        let r = identity::sign_in(app, sign_in_input(&ada.email, "a second password 2"), &nowhere()).await;
        assert!(matches!(r, Err(AppError::InvalidCredentials)), "{l}: {r:?}");
    }
}

/// Two people sign up at the same moment on a fresh instance in invite mode:
/// only one of them may become the operator; the other must be refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_sign_ups_make_one_operator() {
    for db in TestDb::all().await {
        let l = db.label;
        let t = TestApp::new(db, AppSettings { signup: SignupMode::Invite, ..test_settings() });
        let app = &t.app;
        let sign_up = |email: &'static str| {
            let app = app.clone();
            tokio::spawn(
                async move { identity::sign_up(&app, sign_up_input(email, Some("Mine"), None), &nowhere()).await },
            )
        };
        let (a, b) = tokio::join!(sign_up("a@example.com"), sign_up("b@example.com"));
        let (a, b) = (a.unwrap(), b.unwrap());
        let mut operators = 0;
        for r in [&a, &b] {
            match r {
                Ok(done) => {
                    if users::get(app.db(), done.user_id).await.unwrap().unwrap().is_operator {
                        operators += 1;
                    }
                }
                Err(AppError::SignupClosed) => {}
                Err(e) => panic!("{l}: unexpected {e:?}"),
            }
        }
        assert_eq!(
            (a.is_ok() as u8 + b.is_ok() as u8, operators),
            (1, 1),
            "{l}: one sign-up, one operator ({a:?} / {b:?})"
        );
    }
}
