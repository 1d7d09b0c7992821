//! Two-step sign-in: TOTP enrolment, the second step, replay refusal,
//! recovery codes, and the TOTP secret sealed at rest.

use crate::support::*;
use kith_app::identity;
use kith_app::{App, AppError, ErrorCode, Keyring, MasterKeys};
use kith_crypto::totp;
use kith_crypto::SecretKey;
use kith_domain::time::now_ms;
use kith_store::users;
use kith_testkit::app::test_settings;
use kith_testkit::TestApp;

fn now_secs() -> u64 {
    (now_ms() / 1000) as u64
}

/// A six-digit code that matches none of the steps around now.
fn wrong_code(secret: &[u8]) -> String {
    let now = now_secs();
    let near: Vec<String> = (0..5).map(|i| totp::code_at(secret, now - 60 + i * 30)).collect();
    (0..10u32).map(|i| format!("{:06}", 123_450 + i)).find(|c| !near.contains(c)).expect("some code is wrong")
}

#[tokio::test]
async fn totp_enrolment_then_sign_in_needs_the_second_step() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let ada = t.user("ada@example.com").await;
        let (_, auth) = signed_in(app, &ada.email, PASSWORD).await;

        let enrol = identity::begin_totp(app, &auth.user).await.expect("begin");
        assert!(
            enrol.otpauth_uri.starts_with("otpauth://totp/") && enrol.otpauth_uri.contains(&enrol.secret_base32),
            "{l}: {}",
            enrol.otpauth_uri
        );
        let secret = totp::base32_decode(&enrol.secret_base32).expect("base32 secret");
        assert_eq!(secret.len(), 20, "{l}");

        let r = identity::confirm_totp(app, ada.user_id, &wrong_code(&secret)).await;
        assert!(matches!(r, Err(AppError::InvalidMfaCode)), "{l}: wrong first code: {r:?}");
        assert!(
            !users::get(app.db(), ada.user_id).await.unwrap().unwrap().totp_enabled,
            "{l}: not enabled before confirmation"
        );

        let code = totp::code_at(&secret, now_secs());
        let recovery = identity::confirm_totp(app, ada.user_id, &code).await.expect("confirm");
        assert_eq!(recovery.len(), 10, "{l}: ten recovery codes");
        let mut unique = recovery.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 10, "{l}: all different");
        assert_eq!(users::unused_recovery_codes(app.db(), ada.user_id).await.unwrap(), 10, "{l}");
        let user = users::get(app.db(), ada.user_id).await.unwrap().unwrap();
        assert!(user.totp_enabled, "{l}");
        let r = identity::begin_totp(app, &user).await;
        assert!(matches!(r, Err(AppError::Conflict(ErrorCode::AlreadyExists, _))), "{l}: enrolling twice: {r:?}");

        // A new sign-in now owes the second step.
        let s = identity::sign_in(
            app,
            identity::SignIn { email: ada.email.clone(), password: PASSWORD.into() },
            &nowhere(),
        )
        .await
        .expect("password step");
        assert!(s.mfa_pending, "{l}");
        let pending = reload(app, &s.token).await.expect("pending session exists");
        let r = identity::session_context(app, &pending, None).await;
        assert!(matches!(r, Err(AppError::MfaRequired)), "{l}: {r:?}");

        // The code used at enrolment cannot be replayed.
        let r = identity::complete_mfa(app, &pending, &code, &nowhere()).await;
        assert!(matches!(r, Err(AppError::InvalidMfaCode)), "{l}: replayed code: {r:?}");
        let still = reload(app, &s.token).await.unwrap();
        assert!(
            matches!(identity::session_context(app, &still, None).await, Err(AppError::MfaRequired)),
            "{l}: still pending after a refused code"
        );

        // A recovery code (in any case, with spaces around) works once.
        identity::complete_mfa(app, &pending, &format!(" {} ", recovery[0].to_uppercase()), &nowhere())
            .await
            .unwrap_or_else(|e| panic!("{l}: recovery code: {e:?}"));
        let done = reload(app, &s.token).await.unwrap();
        assert!(!done.session.mfa_pending, "{l}");
        let c = identity::session_context(app, &done, None).await.expect("full session").expect("has a workspace");
        assert_eq!(c.org_id, ada.org_id, "{l}");
        assert_eq!(users::unused_recovery_codes(app.db(), ada.user_id).await.unwrap(), 9, "{l}");

        let (_, pending2) = pending_session(app, &ada.email).await;
        let r = identity::complete_mfa(app, &pending2, &recovery[0], &nowhere()).await;
        assert!(matches!(r, Err(AppError::InvalidMfaCode)), "{l}: spent recovery code: {r:?}");
        let r = identity::complete_mfa(app, &pending2, "abcd-efgh-jkmn", &nowhere()).await;
        assert!(matches!(r, Err(AppError::InvalidMfaCode)), "{l}: made-up recovery code: {r:?}");

        // A code of a later step is fresh and works, once.
        let next = totp::code_at(&secret, now_secs() + 30);
        identity::complete_mfa(app, &pending2, &next, &nowhere())
            .await
            .unwrap_or_else(|e| panic!("{l}: fresh code: {e:?}"));
        let (_, pending3) = pending_session(app, &ada.email).await;
        let r = identity::complete_mfa(app, &pending3, &next, &nowhere()).await;
        assert!(matches!(r, Err(AppError::InvalidMfaCode)), "{l}: replay of the fresh code: {r:?}");
    }
}

async fn pending_session(app: &App, email: &str) -> (String, identity::SessionAuth) {
    let (token, auth) = signed_in(app, email, PASSWORD).await;
    assert!(auth.session.mfa_pending, "the second step is owed");
    (token, auth)
}

#[tokio::test]
async fn totp_secret_is_sealed_at_rest() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let ada = t.user("ada@example.com").await;
        let bob = t.user("bob@example.com").await;
        let user = users::get(app.db(), ada.user_id).await.unwrap().unwrap();
        let enrol = identity::begin_totp(app, &user).await.unwrap();
        let secret = totp::base32_decode(&enrol.secret_base32).unwrap();

        let stored = users::get(app.db(), ada.user_id).await.unwrap().unwrap().totp_secret.expect("secret stored");
        assert!(
            !stored.windows(secret.len()).any(|w| w == secret.as_slice()),
            "{l}: raw secret bytes are not in the column"
        );
        let b32 = enrol.secret_base32.as_bytes();
        assert!(!stored.windows(b32.len()).any(|w| w == b32), "{l}: base32 secret is not in the column");
        kith_crypto::sealed_key_version(&stored).expect("has a sealed-value header");

        let keyring = app.keyring();
        assert_eq!(
            keyring.open_user_secret(ada.user_id, "totp_secret", &stored).unwrap(),
            secret,
            "{l}: opens for its user"
        );
        assert!(keyring.open_user_secret(bob.user_id, "totp_secret", &stored).is_err(), "{l}: bound to its user");
        assert!(keyring.open_user_secret(ada.user_id, "other_column", &stored).is_err(), "{l}: bound to its column");
        let stranger =
            App::new(app.db().clone(), Keyring::new(MasterKeys::single(SecretKey::generate())), test_settings())
                .unwrap();
        assert!(
            stranger.keyring().open_user_secret(ada.user_id, "totp_secret", &stored).is_err(),
            "{l}: another master key cannot open it"
        );
    }
}
