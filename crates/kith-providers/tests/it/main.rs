//! The one integration-test binary of kith-providers: signature vectors, payload parsers and the HTTP clients
//! against wiremock stand-ins.

mod llm;
mod meta;
mod robustness;
mod telegram;
mod twilio;
mod types;
mod viber;

/// A client with a short timeout, as the app would configure one.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(std::time::Duration::from_secs(5)).build().expect("reqwest client")
}

/// A base URL where nothing listens (a port that was just free).
pub fn closed_base() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}
