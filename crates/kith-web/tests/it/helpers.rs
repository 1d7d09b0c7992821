use reqwest::{Client, Response};
use serde_json::Value;

pub fn client() -> Client {
    Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// A browser-like client: keeps cookies, does not follow redirects.
pub fn browser() -> Client {
    Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

pub async fn json(resp: Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

/// The value of the first `name="<name>" value="…"` in a page.
pub fn form_value(html: &str, name: &str) -> String {
    let needle = format!("name=\"{name}\" value=\"");
    let start = html.find(&needle).unwrap_or_else(|| panic!("no {name} in page")) + needle.len();
    html[start..].split('"').next().unwrap().to_string()
}

/// Text inside the element with this id (no nested tags).
pub fn text_of(html: &str, id: &str) -> String {
    let needle = format!("id=\"{id}\">");
    let start = html.find(&needle).unwrap_or_else(|| panic!("no #{id} in page")) + needle.len();
    html[start..].split('<').next().unwrap().trim().to_string()
}
