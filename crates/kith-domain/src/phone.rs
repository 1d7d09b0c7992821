//! Phone numbers to E.164 (`+` and 8–15 digits). Numbers written with a
//! country code (`+44 20…`, `0044 20…`) are normalised as written; numbers
//! without one are read in the default country code given by the caller
//! (a North American 10-digit number with `1`, a trunk `0` dropped elsewhere).
//! Anything else is not a phone number we can dial: callers keep the raw
//! text and flag it instead of guessing.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("a phone number has 8 to 15 digits with its country code")]
    Length,
    #[error("a phone number holds digits, spaces, dashes, dots, brackets and a leading +")]
    Characters,
    #[error("the number has no country code and the workspace has no default")]
    NoCountryCode,
}

/// Digits only, or an error if `raw` holds anything but phone punctuation.
/// An extension (`x123`, `ext. 123`) is dropped.
fn digits_of(raw: &str) -> Result<(bool, String), PhoneError> {
    let lower = raw.trim().to_ascii_lowercase();
    let main = lower.split("ext").next().unwrap_or("");
    let main = main.split(['x', '#']).next().unwrap_or("").trim();
    let plus = main.starts_with('+');
    let mut digits = String::new();
    for (i, c) in main.chars().enumerate() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if i == 0 => {}
            ' ' | '-' | '.' | '(' | ')' | '/' | '\u{a0}' => {}
            _ => return Err(PhoneError::Characters),
        }
    }
    Ok((plus, digits))
}

/// Normalise to E.164. `default_cc` is a country calling code without `+`
/// (e.g. `"1"`, `"44"`), or empty when the workspace has none.
pub fn to_e164(raw: &str, default_cc: &str) -> Result<String, PhoneError> {
    let (plus, digits) = digits_of(raw)?;
    let international = if plus {
        digits
    } else if let Some(rest) = digits.strip_prefix("00") {
        rest.to_string()
    } else if default_cc == "1" && digits.len() == 11 && digits.starts_with('1') {
        digits
    } else if default_cc.is_empty() {
        return Err(PhoneError::NoCountryCode);
    } else {
        let national = if default_cc == "1" { digits.as_str() } else { digits.trim_start_matches('0') };
        if default_cc == "1" && national.len() != 10 {
            return Err(PhoneError::Length);
        }
        format!("{default_cc}{national}")
    };
    if !(8..=15).contains(&international.len()) || international.starts_with('0') {
        return Err(PhoneError::Length);
    }
    Ok(format!("+{international}"))
}

/// The digit strings search indexes for a number, so any way of typing it
/// (with or without country code, partial from the start) finds it: every
/// suffix of the E.164 digits that is at least 6 digits long.
pub fn search_forms(e164: &str) -> Vec<String> {
    let digits: String = e164.chars().filter(char::is_ascii_digit).collect();
    (0..digits.len().saturating_sub(5)).map(|i| digits[i..].to_string()).collect()
}

/// Just the digits a user typed into a search box, when the query looks like
/// a phone number (at least 4 digits, only phone punctuation).
pub fn query_digits(q: &str) -> Option<String> {
    let (_, digits) = digits_of(q).ok()?;
    // `00` is the international prefix only before a full number (8+ digits);
    // a partial number may itself start with zeros.
    let digits = match digits.strip_prefix("00") {
        Some(rest) if rest.len() >= 8 => rest.to_string(),
        _ => digits,
    };
    (digits.len() >= 4).then_some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_common_forms() {
        assert_eq!(to_e164("+1 (415) 555-0100", "").unwrap(), "+14155550100");
        assert_eq!(to_e164("(415) 555-0100", "1").unwrap(), "+14155550100");
        assert_eq!(to_e164("1-415-555-0100", "1").unwrap(), "+14155550100");
        assert_eq!(to_e164("0044 20 7946 0958", "1").unwrap(), "+442079460958");
        assert_eq!(to_e164("020 7946 0958", "44").unwrap(), "+442079460958");
        assert_eq!(to_e164("+49 30 123456 ext. 12", "").unwrap(), "+4930123456");
    }

    #[test]
    fn rejects_what_cannot_be_dialled() {
        assert_eq!(to_e164("call me", "1"), Err(PhoneError::Characters));
        assert_eq!(to_e164("+123", ""), Err(PhoneError::Length));
        assert_eq!(to_e164("+1234567890123456", ""), Err(PhoneError::Length));
        assert_eq!(to_e164("555 0100", "1"), Err(PhoneError::Length));
        assert_eq!(to_e164("07946 0958", ""), Err(PhoneError::NoCountryCode));
    }

    #[test]
    fn search_forms_cover_national_and_international_typing() {
        let forms = search_forms("+14155550100");
        assert!(forms.contains(&"14155550100".to_string()));
        assert!(forms.contains(&"4155550100".to_string()));
        assert_eq!(query_digits("(415) 555"), Some("415555".into()));
        assert_eq!(query_digits("ann"), None);
        assert_eq!(query_digits("0044 20 7946 0958"), Some("442079460958".into()));
        assert_eq!(query_digits("0081907"), Some("0081907".into()), "a partial number keeps its zeros");
    }
}
