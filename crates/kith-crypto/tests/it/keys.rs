use kith_crypto::{CryptoError, SecretKey};

#[test]
fn debug_does_not_reveal_the_key() {
    let key = SecretKey::generate();
    let shown = format!("{key:?}");
    assert!(!shown.contains(&key.to_base64()));
    assert!(!shown.contains(key.to_base64().trim_end_matches('=')));
    assert!(!shown.contains(&hex::encode(key.as_bytes())));
    assert_eq!(shown, format!("SecretKey({})", key.id()));
    // Also when nested inside other Debug output.
    let nested = format!("{:?}", Some(key.clone()));
    assert!(!nested.contains(&key.to_base64()));
}

#[test]
fn base64_round_trip() {
    let key = SecretKey::generate();
    let encoded = key.to_base64();
    assert_eq!(encoded.len(), 44);
    assert!(encoded.ends_with('='));
    let back = SecretKey::from_base64(&format!("{encoded}\n")).unwrap();
    assert_eq!(back.as_bytes(), key.as_bytes());
}

#[test]
fn from_slice_requires_32_bytes() {
    assert!(SecretKey::from_slice(&[0; 32]).is_ok());
    assert!(matches!(SecretKey::from_slice(&[0; 33]), Err(CryptoError::MalformedKey)));
    assert!(matches!(SecretKey::from_slice(&[]), Err(CryptoError::MalformedKey)));
}

#[test]
fn id_is_stable_short_and_distinct() {
    let a = SecretKey::from_bytes([1; 32]);
    let b = SecretKey::from_bytes([2; 32]);
    assert_eq!(a.id(), a.clone().id());
    assert_eq!(a.id().len(), 8);
    assert_ne!(a.id(), b.id());
}

#[test]
fn derived_keys_are_deterministic_and_distinct() {
    let master = SecretKey::from_bytes([5; 32]);
    let one = master.derive("user-secrets");
    let again = SecretKey::from_bytes([5; 32]).derive("user-secrets");
    assert_eq!(one.as_bytes(), again.as_bytes());
    assert_ne!(one.as_bytes(), master.derive("search").as_bytes());
    assert_ne!(one.as_bytes(), master.as_bytes());
}
