//! `check_url`: scheme, credentials, host, and IP literals in every spelling
//! the `url` crate accepts.

use kith_infra::outbound::{OutboundConfig, OutboundError};

use crate::support::{guarded, permissive};

#[test]
fn default_config() {
    let config = OutboundConfig::default();
    assert!(!config.allow_private_networks);
    assert_eq!(config.timeout.as_secs(), 30);
    assert_eq!(config.connect_timeout.as_secs(), 10);
    assert_eq!(config.max_redirects, 5);
    assert_eq!(config.user_agent, format!("Kith/{}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn public_hostnames_pass_without_resolving() {
    // Hostnames are judged at connection time by the resolver, not here.
    let url = guarded().check_url("https://example.com/hook?token=abc").expect("allowed");
    assert_eq!(url.host_str(), Some("example.com"));
    guarded().check_url("http://8.8.8.8/").expect("public IP literal");
    guarded().check_url("http://[2606:4700:4700::1111]:8080/").expect("public IPv6 literal");
}

#[test]
fn non_http_schemes_credentials_and_garbage_are_invalid() {
    let cases = [
        "ftp://example.com/file",
        "file:///etc/passwd",
        "gopher://example.com/",
        "data:text/plain,hello",
        "javascript:alert(1)",
        "http://user:pass@example.com/",
        "http://user@example.com/",
        "https://:secret@example.com/",
        "not a url",
        "/relative/path",
        "http://",
    ];
    // allow_private_networks does not relax these.
    for client in [guarded(), permissive()] {
        for case in cases {
            match client.check_url(case) {
                Err(OutboundError::InvalidUrl(_)) => {}
                other => panic!("{case}: expected InvalidUrl, got {other:?}"),
            }
        }
    }
}

#[test]
fn invalid_url_errors_do_not_echo_credentials() {
    let err = guarded().check_url("http://admin:hunter2@example.com/").unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

/// The `url` crate follows the WHATWG parser: decimal, octal, hex and
/// shortened IPv4 forms all become a plain IPv4 host, so they are checked as
/// IP literals, never handed to DNS.
#[test]
fn odd_ipv4_spellings_parse_to_loopback() {
    let cases = [
        ("http://2130706433/", "127.0.0.1"),
        ("http://0177.0.0.1/", "127.0.0.1"),
        ("http://0x7f000001/", "127.0.0.1"),
        ("http://0x7f.1/", "127.0.0.1"),
        ("http://127.1/", "127.0.0.1"),
        ("http://017700000001/", "127.0.0.1"),
        ("http://0/", "0.0.0.0"),
        ("http://0251.0376.0251.0376/", "169.254.169.254"),
        ("http://[::ffff:127.0.0.1]/", "[::ffff:7f00:1]"),
        ("http://[0:0:0:0:0:ffff:7f00:1]/", "[::ffff:7f00:1]"),
    ];
    for (input, host) in cases {
        let parsed = permissive().check_url(input).expect(input);
        assert_eq!(parsed.host_str(), Some(host), "{input}");
        match guarded().check_url(input) {
            Err(OutboundError::ForbiddenAddress(_)) => {}
            other => panic!("{input}: expected ForbiddenAddress, got {other:?}"),
        }
    }
}

#[test]
fn forbidden_ip_literals_are_refused() {
    let cases = [
        "http://127.0.0.1/",
        "http://127.0.0.1:8080/admin",
        "https://10.0.0.5/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.100.100.200/", // CGNAT range; Alibaba's metadata address
        "http://[::1]/",
        "http://[::]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fd00:ec2::254]/", // AWS metadata over IPv6
        "http://[fe80::1]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[2002:7f00:1::]/",
    ];
    for case in cases {
        match guarded().check_url(case) {
            Err(OutboundError::ForbiddenAddress(_)) => {}
            other => panic!("{case}: expected ForbiddenAddress, got {other:?}"),
        }
        permissive().check_url(case).expect(case);
    }
}
