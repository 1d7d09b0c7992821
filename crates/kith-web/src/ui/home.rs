//! The start page, the workspace switcher and creating a workspace.

use super::pages::{Errors, HomePage, NewWorkspacePage, Shell};
use super::{redirect_with, render, require_context, Flash, UiCtx};
use crate::extract::RequestOrigin;
use crate::state::WebState;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use kith_domain::PageRequest;
use serde::Deserialize;

pub async fn home(State(state): State<WebState>, Extension(ui): Extension<UiCtx>) -> Response {
    if ui.auth.is_none() {
        return Redirect::to("/signin").into_response();
    }
    let (auth, ctx) = match require_context(&state, &ui).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let page = PageRequest::new(Some(200), None);
    let members = kith_app::members::list(&state.app, &ctx, &page)
        .await
        .map(|p| (p.items.len(), p.next.is_some()))
        .unwrap_or((0, false));
    let teams = kith_app::teams::list(&state.app, &ctx, &page).await.map(|p| p.items.len()).unwrap_or(0);
    let shell = Shell::build(&state, &ui, &auth, Some(&ctx), "Home", "home", "").await;
    render(&HomePage {
        shell,
        member_count: members.0,
        more_members: members.1,
        team_count: teams,
        two_factor: auth.user.totp_enabled,
    })
}

#[derive(Deserialize)]
pub struct SwitchForm {
    #[serde(default)]
    org_id: String,
}

pub async fn switch(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Form(f): Form<SwitchForm>,
) -> Response {
    let auth = match ui.require() {
        Ok(a) => a,
        Err(r) => return r,
    };
    let secure = state.config.secure_cookies;
    let Ok(org_id) = uuid::Uuid::try_parse(&f.org_id) else {
        return redirect_with("/", Flash::error("That workspace does not exist."), secure);
    };
    match kith_app::identity::switch_workspace(&state.app, auth, org_id).await {
        Ok(()) => Redirect::to("/").into_response(),
        Err(_) => redirect_with("/", Flash::error("That workspace does not exist."), secure),
    }
}

pub async fn new_workspace_page(State(state): State<WebState>, Extension(ui): Extension<UiCtx>) -> Response {
    let auth = match ui.require() {
        Ok(a) => a.clone(),
        Err(r) => return r,
    };
    let ctx = kith_app::identity::session_context(&state.app, &auth, None).await.ok().flatten();
    let shell = Shell::build(&state, &ui, &auth, ctx.as_ref(), "New workspace", "new_workspace", "").await;
    let has_any = !shell.workspaces.is_empty();
    render(&NewWorkspacePage { shell, name: String::new(), errors: Errors::default(), has_any })
}

#[derive(Deserialize)]
pub struct NewWorkspaceForm {
    #[serde(default)]
    name: String,
}

pub async fn new_workspace(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    RequestOrigin(origin): RequestOrigin,
    Form(f): Form<NewWorkspaceForm>,
) -> Response {
    let auth = match ui.require() {
        Ok(a) => a.clone(),
        Err(r) => return r,
    };
    match kith_app::workspaces::create(&state.app, auth.user.id, &f.name, &origin).await {
        Ok(w) => {
            let _ = kith_app::identity::switch_workspace(&state.app, &auth, w.id).await;
            redirect_with("/", Flash::success("Workspace created."), state.config.secure_cookies)
        }
        Err(e) => {
            let ctx = kith_app::identity::session_context(&state.app, &auth, None).await.ok().flatten();
            let shell = Shell::build(&state, &ui, &auth, ctx.as_ref(), "New workspace", "new_workspace", "").await;
            let has_any = !shell.workspaces.is_empty();
            render(&NewWorkspacePage { shell, name: f.name, errors: Errors::from_app(e), has_any })
        }
    }
}
