//! Static assets embedded in the binary, served under content-hashed names
//! with a year-long cache lifetime (a new build gets new names).

use crate::state::WebState;
use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::sync::OnceLock;

const CSS: &str = include_str!("../assets/app.css");
const JS: &str = include_str!("../assets/app.js");
const INBOX_JS: &str = include_str!("../assets/inbox.js");

struct Names {
    css: String,
    js: String,
    inbox_js: String,
}

fn names() -> &'static Names {
    static NAMES: OnceLock<Names> = OnceLock::new();
    NAMES.get_or_init(|| Names {
        css: format!("app.{}.css", &hex::encode(kith_crypto::sha256(CSS.as_bytes()))[..12]),
        js: format!("app.{}.js", &hex::encode(kith_crypto::sha256(JS.as_bytes()))[..12]),
        inbox_js: format!("inbox.{}.js", &hex::encode(kith_crypto::sha256(INBOX_JS.as_bytes()))[..12]),
    })
}

pub fn css_url() -> String {
    format!("/assets/{}", names().css)
}

pub fn js_url() -> String {
    format!("/assets/{}", names().js)
}

/// The live inbox's module (loaded by the inbox page only).
pub fn inbox_js_url() -> String {
    format!("/assets/{}", names().inbox_js)
}

pub fn routes() -> Router<WebState> {
    Router::new().route("/assets/{name}", get(serve))
}

async fn serve(Path(name): Path<String>) -> Response {
    let n = names();
    let (body, mime) = if name == n.css {
        (CSS, "text/css; charset=utf-8")
    } else if name == n.js {
        (JS, "text/javascript; charset=utf-8")
    } else if name == n.inbox_js {
        (INBOX_JS, "text/javascript; charset=utf-8")
    } else {
        return StatusCode::NOT_FOUND.into_response();
    };
    ([(header::CONTENT_TYPE, mime), (header::CACHE_CONTROL, "public, max-age=31536000, immutable")], body)
        .into_response()
}
