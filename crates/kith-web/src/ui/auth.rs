//! Sign-up, sign-in (with the second factor), sign-out, invitations and password reset pages.

use super::cookies;
use super::pages::{AuthFrame, Errors, InvitePage, MfaPage, ResetPage, ResetRequestPage, SigninPage, SignupPage};
use super::{redirect_with, render, Flash, UiCtx};
use crate::extract::RequestOrigin;
use crate::state::WebState;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use kith_app::identity::{self, SignIn, SignUp};
use kith_app::{AppError, SignupMode};
use serde::Deserialize;

fn with_session_cookie(mut resp: Response, token: &str, state: &WebState) -> Response {
    let secure = state.config.secure_cookies;
    let max_age = state.app.settings().session_idle_ms / 1000;
    let value = cookies::set(cookies::session_name(secure), token, Some(max_age), secure);
    if let Ok(h) = HeaderValue::from_str(&value) {
        resp.headers_mut().append("set-cookie", h);
    }
    resp
}

async fn signup_state(state: &WebState) -> (bool, bool) {
    let first = kith_app::identity::instance_is_empty(&state.app).await.unwrap_or(false);
    let closed = !first && state.app.settings().signup == SignupMode::Invite;
    (first, closed)
}

pub async fn signup_page(State(state): State<WebState>, Extension(ui): Extension<UiCtx>) -> Response {
    if ui.auth.is_some() {
        return Redirect::to("/").into_response();
    }
    let (first_user, closed) = signup_state(&state).await;
    render(&SignupPage {
        frame: AuthFrame::new(&ui, "Create account"),
        email: String::new(),
        name: String::new(),
        workspace_name: String::new(),
        errors: Errors::default(),
        first_user,
        closed,
    })
}

#[derive(Deserialize)]
pub struct SignupForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    workspace_name: String,
}

pub async fn signup(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    RequestOrigin(origin): RequestOrigin,
    Form(f): Form<SignupForm>,
) -> Response {
    let input = SignUp {
        email: f.email.clone(),
        name: f.name.clone(),
        password: f.password.clone(),
        workspace_name: Some(f.workspace_name.clone()),
        invitation: None,
    };
    match identity::sign_up(&state.app, input, &origin).await {
        Ok(_) => {
            let welcome = Flash::success(format!("Welcome to Kith. {} is ready.", f.workspace_name.trim()));
            sign_in_and_go(&state, &f.email, &f.password, &origin, welcome).await
        }
        Err(e) => {
            let (first_user, closed) = signup_state(&state).await;
            let status = if matches!(e, AppError::Validation(_)) {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::BAD_REQUEST
            };
            let page = SignupPage {
                frame: AuthFrame::new(&ui, "Create account"),
                email: f.email,
                name: f.name,
                workspace_name: f.workspace_name,
                errors: Errors::from_app(e),
                first_user,
                closed,
            };
            (status, render(&page)).into_response()
        }
    }
}

/// After creating an account: sign in right away.
async fn sign_in_and_go(
    state: &WebState,
    email: &str,
    password: &str,
    origin: &kith_app::audit::Origin,
    welcome: Flash,
) -> Response {
    match identity::sign_in(&state.app, SignIn { email: email.into(), password: password.into() }, origin).await {
        Ok(s) => with_session_cookie(redirect_with("/", welcome, state.config.secure_cookies), &s.token, state),
        Err(_) => Redirect::to("/signin").into_response(),
    }
}

pub async fn signin_page(Extension(ui): Extension<UiCtx>) -> Response {
    if ui.require().is_ok() {
        return Redirect::to("/").into_response();
    }
    render(&SigninPage { frame: AuthFrame::new(&ui, "Sign in"), email: String::new(), errors: Errors::default() })
}

#[derive(Deserialize)]
pub struct SigninForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

pub async fn signin(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    RequestOrigin(origin): RequestOrigin,
    Form(f): Form<SigninForm>,
) -> Response {
    match identity::sign_in(&state.app, SignIn { email: f.email.clone(), password: f.password }, &origin).await {
        Ok(s) => {
            let to = if s.mfa_pending { "/signin/2fa" } else { "/" };
            with_session_cookie(Redirect::to(to).into_response(), &s.token, &state)
        }
        Err(e) => {
            let status = crate::error::status_of(e.code());
            let retry_after = match &e {
                AppError::TooManyAttempts { retry_after_s } => Some(*retry_after_s),
                _ => None,
            };
            let page =
                SigninPage { frame: AuthFrame::new(&ui, "Sign in"), email: f.email, errors: Errors::from_app(e) };
            let mut resp = (status, render(&page)).into_response();
            if let Some(s) = retry_after {
                resp.headers_mut().insert("retry-after", HeaderValue::from(s));
            }
            resp
        }
    }
}

pub async fn mfa_page(Extension(ui): Extension<UiCtx>) -> Response {
    match &ui.auth {
        Some(a) if a.session.mfa_pending => {
            render(&MfaPage { frame: AuthFrame::new(&ui, "Two-factor sign-in"), errors: Errors::default() })
        }
        Some(_) => Redirect::to("/").into_response(),
        None => Redirect::to("/signin").into_response(),
    }
}

#[derive(Deserialize)]
pub struct MfaForm {
    #[serde(default)]
    code: String,
}

pub async fn mfa(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    RequestOrigin(origin): RequestOrigin,
    Form(f): Form<MfaForm>,
) -> Response {
    let Some(auth) = ui.auth.as_ref().filter(|a| a.session.mfa_pending) else {
        return Redirect::to("/signin").into_response();
    };
    match identity::complete_mfa(&state.app, auth, &f.code, &origin).await {
        Ok(()) => Redirect::to("/").into_response(),
        Err(e) => {
            let status = crate::error::status_of(e.code());
            (status, render(&MfaPage { frame: AuthFrame::new(&ui, "Two-factor sign-in"), errors: Errors::from_app(e) }))
                .into_response()
        }
    }
}

pub async fn signout(State(state): State<WebState>, Extension(ui): Extension<UiCtx>) -> Response {
    if let Some(auth) = &ui.auth {
        if let Err(e) = identity::sign_out(&state.app, auth).await {
            tracing::error!(error = %e, "sign-out failed");
        }
    }
    let secure = state.config.secure_cookies;
    let mut resp = redirect_with("/signin", Flash::success("You are signed out."), secure);
    if let Ok(h) = HeaderValue::from_str(&cookies::clear(cookies::session_name(secure), secure)) {
        resp.headers_mut().append("set-cookie", h);
    }
    resp
}

async fn invite_view(state: &WebState, ui: &UiCtx, secret: &str, errors: Errors, name: String) -> Response {
    match kith_app::invitations::preview(&state.app, secret).await {
        Ok(p) => render(&InvitePage {
            frame: AuthFrame::new(ui, "Invitation"),
            secret: secret.to_string(),
            workspace_name: p.workspace_name,
            email: p.email,
            role: p.role,
            account_exists: p.account_exists,
            signed_in_as: ui.require().ok().map(|a| a.user.email.clone()),
            errors,
            name,
        }),
        Err(_) => super::simple_page(
            StatusCode::GONE,
            "Invitation not valid",
            "This invitation was used, revoked or has expired. Ask for a new one.",
        ),
    }
}

pub async fn invite_page(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(secret): Path<String>,
) -> Response {
    invite_view(&state, &ui, &secret, Errors::default(), String::new()).await
}

#[derive(Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

/// Signed in: join. Not signed in: create the account through the invitation.
pub async fn invite_accept(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    RequestOrigin(origin): RequestOrigin,
    Path(secret): Path<String>,
    Form(f): Form<InviteForm>,
) -> Response {
    let secure = state.config.secure_cookies;
    if let Ok(auth) = ui.require() {
        return match kith_app::invitations::accept(&state.app, auth, &secret, &origin).await {
            Ok(org_id) => {
                let _ = identity::switch_workspace(&state.app, auth, org_id).await;
                redirect_with("/", Flash::success("Welcome! You joined the workspace."), secure)
            }
            Err(e) => invite_view(&state, &ui, &secret, Errors::from_app(e), String::new()).await,
        };
    }
    let preview = match kith_app::invitations::preview(&state.app, &secret).await {
        Ok(p) => p,
        Err(_) => return invite_view(&state, &ui, &secret, Errors::default(), String::new()).await,
    };
    let input = SignUp {
        email: preview.email.clone(),
        name: f.name.clone(),
        password: f.password.clone(),
        workspace_name: None,
        invitation: Some(secret.clone()),
    };
    match identity::sign_up(&state.app, input, &origin).await {
        Ok(_) => {
            let welcome = Flash::success(format!("Welcome! You joined {}.", preview.workspace_name));
            sign_in_and_go(&state, &preview.email, &f.password, &origin, welcome).await
        }
        Err(e) => invite_view(&state, &ui, &secret, Errors::from_app(e), f.name).await,
    }
}

pub async fn reset_request_page(State(state): State<WebState>, Extension(ui): Extension<UiCtx>) -> Response {
    let mail_configured = state.app.mailer().is_some();
    render(&ResetRequestPage { frame: AuthFrame::new(&ui, "Reset password"), mail_configured, sent: false })
}

#[derive(Deserialize)]
pub struct ResetRequestForm {
    #[serde(default)]
    email: String,
}

/// The answer is the same whether or not the address has an account.
pub async fn reset_request(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    RequestOrigin(origin): RequestOrigin,
    Form(f): Form<ResetRequestForm>,
) -> Response {
    let mail_configured = state.app.mailer().is_some();
    if mail_configured {
        match identity::request_password_reset(&state.app, &f.email, &origin).await {
            Ok(_) => {}
            Err(AppError::TooManyAttempts { retry_after_s }) => {
                let msg = format!("Too many reset requests. Try again in {retry_after_s} s.");
                return redirect_with("/reset-password", Flash::error(msg), state.config.secure_cookies);
            }
            Err(e) => tracing::error!(error = %e, "password reset request failed"),
        }
    }
    render(&ResetRequestPage { frame: AuthFrame::new(&ui, "Reset password"), mail_configured, sent: mail_configured })
}

/// The link from the verification e-mail.
pub async fn verify_email(State(state): State<WebState>, Path(token): Path<String>) -> Response {
    match identity::verify_email(&state.app, &token).await {
        Ok(_) => redirect_with("/", Flash::success("Your e-mail address is confirmed."), state.config.secure_cookies),
        Err(_) => super::simple_page(
            StatusCode::GONE,
            "Link not valid",
            "This confirmation link was used or has expired. Send a new one from Settings → Profile.",
        ),
    }
}

pub async fn reset_page(Extension(ui): Extension<UiCtx>, Path(token): Path<String>) -> Response {
    render(&ResetPage { frame: AuthFrame::new(&ui, "New password"), token, errors: Errors::default() })
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    password: String,
}

pub async fn reset(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(token): Path<String>,
    Form(f): Form<ResetForm>,
) -> Response {
    match identity::reset_password(&state.app, &token, &f.password).await {
        Ok(()) => redirect_with(
            "/signin",
            Flash::success("Your password is changed. Sign in with it."),
            state.config.secure_cookies,
        ),
        Err(e) => render(&ResetPage { frame: AuthFrame::new(&ui, "New password"), token, errors: Errors::from_app(e) }),
    }
}
