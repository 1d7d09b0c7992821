//! Attachments in the inbox thread: the links a message shows, and the
//! download route behind them (the member's session; the same visibility
//! and headers as `GET /api/v1/attachments/{id}`).

use super::crm::parse_id;
use super::UiCtx;
use crate::state::WebState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use kith_app::inbox::attachments::{self as app, Attachment};

/// One file under a message.
#[derive(Debug, Clone)]
pub struct FileLink {
    pub href: String,
    pub name: String,
    /// "PDF · 1.2 MB"
    pub meta: String,
    pub inline: bool,
}

impl FileLink {
    pub fn of(a: &Attachment) -> FileLink {
        FileLink {
            href: format!("/inbox/files/{}", a.id),
            name: a.name.clone(),
            meta: format!("{} · {}", a.content_type, size(a.size)),
            inline: app::inline_safe(&a.content_type),
        }
    }
}

fn size(bytes: i64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.0} KB", b as f64 / 1024.0),
        b => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    }
}

pub async fn download(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return StatusCode::NOT_FOUND.into_response() };
    match app::download(&state.app, &ctx, id).await {
        Ok((a, object)) => crate::api::attachments::file_response(&a, object),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes() {
        assert_eq!(super::size(512), "512 B");
        assert_eq!(super::size(2048), "2 KB");
        assert_eq!(super::size(3 * 1024 * 1024 / 2), "1.5 MB");
    }
}
