use kith_crypto::totp::{base32_decode, base32_encode, code_at, otpauth_uri, verify};

const RFC_SECRET: &[u8] = b"12345678901234567890";

#[test]
fn rfc6238_sha1_vectors() {
    let vectors = [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];
    for (time, eight_digits) in vectors {
        assert_eq!(code_at(RFC_SECRET, time), &eight_digits[2..], "t={time}");
    }
}

#[test]
fn rfc4648_base32_vectors() {
    let vectors = [
        ("", ""),
        ("f", "MY"),
        ("fo", "MZXQ"),
        ("foo", "MZXW6"),
        ("foob", "MZXW6YQ"),
        ("fooba", "MZXW6YTB"),
        ("foobar", "MZXW6YTBOI"),
    ];
    for (plain, encoded) in vectors {
        assert_eq!(base32_encode(plain.as_bytes()), encoded);
        assert_eq!(base32_decode(encoded).unwrap(), plain.as_bytes());
    }
}

#[test]
fn base32_decode_is_forgiving_about_case_spaces_and_padding() {
    assert_eq!(base32_decode("mzxw 6ytb oi======").unwrap(), b"foobar");
    assert_eq!(base32_decode("MzXw6YtBoI").unwrap(), b"foobar");
    assert_eq!(base32_decode("MZXW6YTB0I"), None);
}

#[test]
fn base32_round_trip() {
    for len in 0..64 {
        let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
        assert_eq!(base32_decode(&base32_encode(&bytes)).unwrap(), bytes);
    }
    let secret = kith_crypto::totp::generate_secret();
    assert_eq!(base32_encode(&secret).len(), 32);
    assert_eq!(base32_decode(&base32_encode(&secret)).unwrap(), secret);
}

#[test]
fn verify_accepts_one_step_of_skew_and_rejects_two() {
    let now = 1_700_000_000;
    let step = now / 30;
    let code = code_at(RFC_SECRET, now);
    assert_eq!(verify(RFC_SECRET, &code, now, 1), Some(step));
    // The code was issued 30 s ago / is from the next step.
    assert_eq!(verify(RFC_SECRET, &code, now + 30, 1), Some(step));
    assert_eq!(verify(RFC_SECRET, &code, now - 30, 1), Some(step));
    assert_eq!(verify(RFC_SECRET, &code, now + 60, 1), None);
    assert_eq!(verify(RFC_SECRET, &code, now - 60, 1), None);
    assert_eq!(verify(RFC_SECRET, &code, now + 30, 0), None);
}

#[test]
fn verify_trims_spaces_and_returns_step() {
    let code = code_at(RFC_SECRET, 59);
    let spaced = format!(" {} {} ", &code[..3], &code[3..]);
    assert_eq!(verify(RFC_SECRET, &spaced, 59, 1), Some(1));
    assert_eq!(verify(b"another secret......", &code, 59, 1), None);
}

#[test]
fn otpauth_uri_is_well_formed() {
    let uri = otpauth_uri("Kith", "ann@example.com", b"foobar");
    assert_eq!(
        uri,
        "otpauth://totp/Kith:ann%40example.com?secret=MZXW6YTBOI&issuer=Kith&algorithm=SHA1&digits=6&period=30"
    );
    let uri = otpauth_uri("Ann & Co", "a b", b"f");
    assert!(uri.starts_with("otpauth://totp/Ann%20%26%20Co:a%20b?secret=MY&issuer=Ann%20%26%20Co&"));
}
