use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use kith_crypto::{constant_time_eq, random_token, recovery_codes, sha256, token_hash};

#[test]
fn random_token_has_prefix_and_43_chars() {
    let token = random_token("kith_pat");
    let body = token.strip_prefix("kith_pat_").expect("prefix");
    assert_eq!(body.len(), 43);
    assert!(body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert_ne!(random_token("kith_pat"), token);
}

#[test]
fn empty_prefix_gives_bare_token() {
    let token = random_token("");
    assert_eq!(token.len(), 43);
    let decoded = URL_SAFE_NO_PAD.decode(&token).expect("base64url without padding");
    assert_eq!(decoded.len(), 32);
}

#[test]
fn token_hash_is_sha256() {
    let token = random_token("kith_pat");
    assert_eq!(token_hash(&token), sha256(token.as_bytes()));
    assert_ne!(token_hash(&token), token_hash(&random_token("kith_pat")));
}

#[test]
fn constant_time_eq_compares_contents_and_length() {
    assert!(constant_time_eq(b"same", b"same"));
    assert!(!constant_time_eq(b"same", b"sane"));
    assert!(!constant_time_eq(b"same", b"same!"));
}

#[test]
fn recovery_codes_look_right() {
    let codes = recovery_codes(8);
    assert_eq!(codes.len(), 8);
    for code in &codes {
        assert_eq!(code.len(), 14);
        assert_eq!(code.as_bytes()[4], b'-');
        assert_eq!(code.as_bytes()[9], b'-');
        assert!(code.chars().filter(|&c| c != '-').all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
        assert!(!code.contains(['0', '1', 'o', 'l', 'i']));
    }
}
