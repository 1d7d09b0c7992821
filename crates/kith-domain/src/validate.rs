//! Small validators shared by every use case. Each returns a message fit for
//! the user; the caller attaches the field name.

/// Normalise an e-mail address for storage and lookup: trimmed, lowercased.
/// Returns `None` unless it looks like `local@domain.tld` with no spaces.
pub fn normalize_email(raw: &str) -> Option<String> {
    let email = raw.trim().to_lowercase();
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (local, domain) = email.rsplit_once('@')?;
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain.chars().all(|c| c.is_alphanumeric() || c == '.' || c == '-');
    if local.is_empty() || local.len() > 64 || local.contains('@') || !domain_ok {
        return None;
    }
    Some(email)
}

/// A display name: trimmed, 1..=max characters, no control characters.
pub fn clean_name(raw: &str, max: usize) -> Result<String, &'static str> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("must not be empty");
    }
    if name.chars().count() > max {
        return Err("is too long");
    }
    if name.chars().any(|c| c.is_control()) {
        return Err("must not contain control characters");
    }
    Ok(name.to_string())
}

pub const MIN_PASSWORD_CHARS: usize = 10;
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Passwords: long enough to resist guessing, short enough not to be a
/// hashing denial of service.
pub fn check_password(password: &str) -> Result<(), &'static str> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err("must be at least 10 characters");
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err("must be at most 1024 bytes");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(normalize_email(" Ada@Example.COM ").as_deref(), Some("ada@example.com"));
        for bad in ["", "ada", "ada@", "@x.com", "a b@x.com", "ada@x", "ada@.x.com", "ada@x..com"] {
            assert_eq!(normalize_email(bad), None, "{bad}");
        }
    }

    #[test]
    fn names_and_passwords() {
        assert_eq!(clean_name("  Acme ", 10).unwrap(), "Acme");
        assert!(clean_name("   ", 10).is_err());
        assert!(clean_name("abcdefghijk", 10).is_err());
        assert!(check_password("short").is_err());
        assert!(check_password("long enough!").is_ok());
        assert!(check_password(&"x".repeat(2000)).is_err());
    }
}
