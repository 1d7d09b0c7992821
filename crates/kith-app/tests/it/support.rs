//! Helpers shared by the tests of this binary.

use kith_app::audit::Origin;
use kith_app::identity::{self, SessionAuth, SignIn, SignUp};
use kith_app::{invitations, App, AppError};
use kith_domain::{new_id, Actor, Context, Credential, Role};
use kith_testkit::{Account, TestApp};
use std::future::Future;
use uuid::Uuid;

pub use kith_testkit::app::PASSWORD;

/// No IP, no user agent.
pub fn nowhere() -> Origin {
    Origin::default()
}

pub fn from_ip(ip: &str) -> Origin {
    Origin { ip: Some(ip.into()), user_agent: Some("kith-tests/1.0".into()) }
}

/// The context a signed-in browser session of `user_id` would carry in
/// `org_id`, with the role the store holds now.
pub async fn ctx(app: &App, org_id: Uuid, user_id: Uuid) -> Context {
    let m = kith_store::members::get(app.db(), org_id, user_id)
        .await
        .expect("read membership")
        .expect("the user is a member of the workspace");
    Context {
        org_id,
        actor: Actor { user_id, credential: Credential::Session(new_id()) },
        role: Role::parse(&m.role).expect("known role"),
    }
}

/// The owner's context in their own workspace.
pub async fn owner_ctx(app: &App, acct: &Account) -> Context {
    ctx(app, acct.org_id, acct.user_id).await
}

pub fn sign_up_input(email: &str, workspace: Option<&str>, invitation: Option<&str>) -> SignUp {
    SignUp {
        email: email.into(),
        name: email.split('@').next().unwrap_or("someone").into(),
        password: PASSWORD.into(),
        workspace_name: workspace.map(str::to_string),
        invitation: invitation.map(str::to_string),
    }
}

/// The secret at the end of an invitation link.
pub fn secret_of(link: &str) -> String {
    link.rsplit('/').next().expect("link has a path").to_string()
}

/// Invite `email` into the inviter's workspace with `role` and sign them up
/// through the link; returns the new account (its `org_id` is the inviter's).
pub async fn join(app: &App, inviter: &Context, email: &str, role: Role) -> Account {
    let invited = invitations::create(app, inviter, email, role, &nowhere()).await.expect("create invitation");
    let secret = secret_of(&invited.link);
    let done = identity::sign_up(app, sign_up_input(email, None, Some(&secret)), &nowhere())
        .await
        .expect("sign up through the invitation");
    assert_eq!(done.org_id, inviter.org_id, "joined the inviting workspace");
    Account { user_id: done.user_id, org_id: done.org_id, email: email.into() }
}

/// Sign in and look the session up again, as the next request would.
pub async fn signed_in(app: &App, email: &str, password: &str) -> (String, SessionAuth) {
    let s = identity::sign_in(app, SignIn { email: email.into(), password: password.into() }, &nowhere())
        .await
        .expect("sign in");
    let auth = reload(app, &s.token).await.expect("new session is live");
    (s.token, auth)
}

/// The session behind a token, if it is still live.
pub async fn reload(app: &App, token: &str) -> Option<SessionAuth> {
    identity::authenticate_session(app, token).await.expect("authenticate session")
}

/// The error of a call that must fail.
#[track_caller]
pub fn expect_err<T>(label: &str, what: &str, r: Result<T, AppError>) -> AppError {
    match r {
        Ok(_) => panic!("{label}: {what}: expected an error, got Ok"),
        Err(e) => e,
    }
}

/// The names of the invalid fields of a call that must fail validation.
#[track_caller]
pub fn invalid_fields<T>(label: &str, what: &str, r: Result<T, AppError>) -> Vec<String> {
    match expect_err(label, what, r) {
        AppError::Validation(fields) => fields.into_iter().map(|f| f.field).collect(),
        other => panic!("{label}: {what}: expected a validation error, got {other:?}"),
    }
}

/// Run `body` for every backend at the same time (for tests that mostly wait).
pub async fn each_backend_concurrently<F, Fut>(body: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let handles: Vec<_> = TestApp::all().await.into_iter().map(|t| tokio::spawn(body(t))).collect();
    for h in handles {
        if let Err(e) = h.await {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}
