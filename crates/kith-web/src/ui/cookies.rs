//! Cookie parsing and writing (a few lines do not justify a dependency).

use axum::http::HeaderMap;
use base64::Engine;

pub const PRE_SESSION: &str = "kith_pre";
pub const FLASH: &str = "kith_flash";

/// Behind TLS the session cookie gets the `__Host-` prefix: the browser then
/// refuses it unless it is Secure, host-only and for the whole site.
pub fn session_name(secure: bool) -> &'static str {
    if secure {
        "__Host-kith_session"
    } else {
        "kith_session"
    }
}

pub struct Jar(Vec<(String, String)>);

impl Jar {
    pub fn from_headers(headers: &HeaderMap) -> Jar {
        let mut all = Vec::new();
        for value in headers.get_all("cookie") {
            let Ok(text) = value.to_str() else { continue };
            for pair in text.split(';') {
                if let Some((k, v)) = pair.trim().split_once('=') {
                    all.push((k.to_string(), v.to_string()));
                }
            }
        }
        Jar(all)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, whole site; Secure behind TLS.
pub fn set(name: &str, value: &str, max_age_s: Option<i64>, secure: bool) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age_s {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

pub fn clear(name: &str, secure: bool) -> String {
    set(name, "", Some(0), secure)
}

/// A one-time message shown on the next page.
#[derive(Debug, Clone)]
pub struct Flash {
    pub kind: &'static str,
    pub message: String,
}

impl Flash {
    pub fn success(message: impl Into<String>) -> Flash {
        Flash { kind: "success", message: message.into() }
    }

    pub fn error(message: impl Into<String>) -> Flash {
        Flash { kind: "error", message: message.into() }
    }

    pub fn encode(&self) -> String {
        let text = format!("{}\n{}", self.kind, self.message);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text.as_bytes())
    }

    pub fn decode(s: &str) -> Option<Flash> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (kind, message) = text.split_once('\n')?;
        let kind = match kind {
            "success" => "success",
            "error" => "error",
            _ => "info",
        };
        Some(Flash { kind, message: message.chars().take(500).collect() })
    }
}
