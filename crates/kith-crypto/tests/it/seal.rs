use kith_crypto::{open, seal, sealed_key_version, unwrap_key, wrap_key, CryptoError, SealScope, SecretKey};
use uuid::Uuid;

fn scope() -> SealScope<'static> {
    SealScope {
        org_id: Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
        table: "contacts",
        column: "notes",
        row_id: Uuid::from_u128(42),
    }
}

#[test]
fn seal_open_round_trip() {
    let key = SecretKey::generate();
    let plaintext = b"met at the conference, likes sailing";
    let sealed = seal(&key, 1, &scope(), plaintext);
    assert_ne!(&sealed[..], &plaintext[..]);
    assert!(!sealed.windows(plaintext.len()).any(|w| w == &plaintext[..]));
    assert_eq!(open(&key, &scope(), &sealed).unwrap(), plaintext);
}

#[test]
fn sealing_twice_gives_different_ciphertexts() {
    let key = SecretKey::generate();
    assert_ne!(seal(&key, 1, &scope(), b"same"), seal(&key, 1, &scope(), b"same"));
}

#[test]
fn wrong_scope_fails() {
    let key = SecretKey::generate();
    let sealed = seal(&key, 1, &scope(), b"secret");
    let s = scope();
    let wrong = [
        SealScope { org_id: Uuid::from_u128(1), ..s },
        SealScope { table: "companies", ..s },
        SealScope { column: "summary", ..s },
        SealScope { row_id: Uuid::from_u128(43), ..s },
    ];
    for other in &wrong {
        assert!(matches!(open(&key, other, &sealed), Err(CryptoError::OpenFailed)));
    }
}

#[test]
fn table_column_boundary_is_unambiguous() {
    // "ab" + "c" must not equal "a" + "bc".
    let key = SecretKey::generate();
    let s1 = SealScope { table: "ab", column: "c", ..scope() };
    let s2 = SealScope { table: "a", column: "bc", ..scope() };
    let sealed = seal(&key, 1, &s1, b"x");
    assert!(matches!(open(&key, &s2, &sealed), Err(CryptoError::OpenFailed)));
}

#[test]
fn wrong_key_fails() {
    let sealed = seal(&SecretKey::generate(), 1, &scope(), b"secret");
    assert!(matches!(open(&SecretKey::generate(), &scope(), &sealed), Err(CryptoError::OpenFailed)));
}

#[test]
fn any_flipped_bit_in_body_fails() {
    let key = SecretKey::generate();
    let sealed = seal(&key, 7, &scope(), b"secret value");
    // Skip the header: flipping those bits changes the format or key version,
    // which is covered separately.
    for byte in 5..sealed.len() {
        for bit in 0..8 {
            let mut tampered = sealed.clone();
            tampered[byte] ^= 1 << bit;
            assert!(matches!(open(&key, &scope(), &tampered), Err(CryptoError::OpenFailed)), "byte {byte} bit {bit}");
        }
    }
}

#[test]
fn tampered_header_does_not_open() {
    let key = SecretKey::generate();
    let sealed = seal(&key, 7, &scope(), b"secret value");
    let mut wrong_format = sealed.clone();
    wrong_format[0] = 2;
    assert!(matches!(open(&key, &scope(), &wrong_format), Err(CryptoError::Malformed)));
}

#[test]
fn key_version_is_read_back() {
    let key = SecretKey::generate();
    for version in [0, 1, 7, 0x0102_0304, u32::MAX] {
        let sealed = seal(&key, version, &scope(), b"v");
        assert_eq!(sealed_key_version(&sealed).unwrap(), version);
    }
}

#[test]
fn short_or_unknown_values_are_malformed() {
    let key = SecretKey::generate();
    let sealed = seal(&key, 3, &scope(), b"");
    assert!(matches!(sealed_key_version(&[]), Err(CryptoError::Malformed)));
    assert!(matches!(sealed_key_version(&sealed[..sealed.len() - 1]), Err(CryptoError::Malformed)));
    assert!(matches!(open(&key, &scope(), &sealed[..10]), Err(CryptoError::Malformed)));
    let mut unknown = sealed.clone();
    unknown[0] = 0;
    assert!(matches!(sealed_key_version(&unknown), Err(CryptoError::Malformed)));
}

#[test]
fn wrap_unwrap_round_trip() {
    let master = SecretKey::generate();
    let data_key = SecretKey::generate();
    let context = b"kith.org-data-key\0org-1";
    let wrapped = wrap_key(&master, context, &data_key);
    assert!(!wrapped.windows(32).any(|w| w == &data_key.as_bytes()[..]));
    let unwrapped = unwrap_key(&master, context, &wrapped).unwrap();
    assert_eq!(unwrapped.as_bytes(), data_key.as_bytes());
}

#[test]
fn unwrap_with_wrong_context_or_key_fails() {
    let master = SecretKey::generate();
    let data_key = SecretKey::generate();
    let wrapped = wrap_key(&master, b"org-1", &data_key);
    assert!(matches!(unwrap_key(&master, b"org-2", &wrapped), Err(CryptoError::OpenFailed)));
    assert!(matches!(unwrap_key(&SecretKey::generate(), b"org-1", &wrapped), Err(CryptoError::OpenFailed)));
    let mut tampered = wrapped.clone();
    *tampered.last_mut().unwrap() ^= 1;
    assert!(matches!(unwrap_key(&master, b"org-1", &tampered), Err(CryptoError::OpenFailed)));
    assert!(matches!(unwrap_key(&master, b"org-1", &wrapped[..wrapped.len() - 1]), Err(CryptoError::Malformed)));
}
