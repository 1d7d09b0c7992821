use kith_crypto::{blind_token, blind_tokens, normalize_word, SecretKey};

#[test]
fn tokens_are_deterministic_and_shaped() {
    let key = SecretKey::from_bytes([3; 32]);
    let token = blind_token(&key, "sailing");
    assert_eq!(token, blind_token(&key, "sailing"));
    assert_eq!(token.len(), 17);
    assert!(token.starts_with('h'));
    assert!(token[1..].chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    assert_ne!(token, blind_token(&key, "sailor"));
}

#[test]
fn token_matches_definition() {
    let key = SecretKey::from_bytes([3; 32]);
    let mac = kith_crypto::hmac_sha256(key.as_bytes(), b"cafe");
    assert_eq!(blind_token(&key, "Café"), format!("h{}", hex::encode(&mac[..8])));
}

#[test]
fn tokens_differ_per_key() {
    let a = SecretKey::from_bytes([1; 32]);
    let b = SecretKey::from_bytes([2; 32]);
    assert_ne!(blind_token(&a, "sailing"), blind_token(&b, "sailing"));
}

#[test]
fn case_and_diacritics_are_normalized() {
    let key = SecretKey::generate();
    assert_eq!(blind_token(&key, "Café"), blind_token(&key, "cafe"));
    assert_eq!(blind_token(&key, "CAFÉ"), blind_token(&key, "cafe"));
    assert_eq!(blind_token(&key, "Straße"), blind_token(&key, "strasse"));
    assert_eq!(blind_token(&key, "Zürich"), blind_token(&key, "zurich"));
    assert_eq!(normalize_word("Café"), "cafe");
    assert_eq!(normalize_word("Ñandú"), "nandu");
}

#[test]
fn text_is_split_normalized_and_deduped_in_order() {
    let key = SecretKey::generate();
    let tokens = blind_tokens(&key, "Café, cafe! Met at CAFÉ-bar; bar 2024.  ");
    let expected: Vec<String> = ["cafe", "met", "at", "bar", "2024"].iter().map(|w| blind_token(&key, w)).collect();
    assert_eq!(tokens, expected);
}

#[test]
fn empty_and_punctuation_only_text_has_no_tokens() {
    let key = SecretKey::generate();
    assert!(blind_tokens(&key, "").is_empty());
    assert!(blind_tokens(&key, " ,.;-- !? ").is_empty());
}

#[test]
fn non_latin_words_are_kept() {
    let key = SecretKey::generate();
    let tokens = blind_tokens(&key, "Привет мир");
    assert_eq!(tokens, vec![blind_token(&key, "привет"), blind_token(&key, "мир")]);
}
