use std::collections::HashSet;

use crate::keys::SecretKey;
use crate::token::hmac_sha256;

/// Combining diacritical marks (U+0300–U+036F). Text in decomposed form
/// (`e` + U+0301) carries its accents this way; they stay inside a word and
/// are dropped by normalization, so `café` matches in either form.
fn is_combining_mark(c: char) -> bool {
    ('\u{0300}'..='\u{036F}').contains(&c)
}

/// Folds one lowercase character to its plain Latin form, if it has one.
///
/// A small hand-written table covering the Latin-1 and Latin Extended-A
/// letters common in European names and words; anything else is kept as is.
/// It must never change once tokens are stored, because stored tokens would
/// stop matching; extend it only with a re-index.
fn fold(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
        'ď' | 'đ' | 'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'ĥ' | 'ħ' => "h",
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
        'ĳ' => "ij",
        'ĵ' => "j",
        'ķ' => "k",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'ñ' | 'ń' | 'ņ' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
        'œ' => "oe",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'ś' | 'ŝ' | 'ş' | 'š' | 'ș' => "s",
        'ß' => "ss",
        'ţ' | 'ť' | 'ŧ' | 'ț' => "t",
        'þ' => "th",
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'ŵ' => "w",
        'ý' | 'ÿ' | 'ŷ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        _ => return None,
    })
}

/// Lowercases `word`, folds common Latin diacritics (`é`→`e`, `ß`→`ss`) and
/// drops combining marks. Both indexing and searching go through this, so
/// `Café`, `cafe` and `CAFE` produce the same token.
pub fn normalize_word(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.chars().flat_map(char::to_lowercase) {
        if is_combining_mark(c) {
            continue;
        }
        match fold(c) {
            Some(plain) => out.push_str(plain),
            None => out.push(c),
        }
    }
    out
}

/// The blind-index token for one word: `h` followed by the first 8 bytes of
/// HMAC-SHA256(search_key, normalized word) in hex, 17 chars in all.
///
/// The leading letter keeps PostgreSQL's text-search parser from reading some
/// hex strings as numbers (`1234e5678…`) and splitting them. Eight bytes keep
/// the index small while making accidental collisions negligible.
pub fn blind_token(search_key: &SecretKey, word: &str) -> String {
    let mac = hmac_sha256(search_key.as_bytes(), normalize_word(word).as_bytes());
    format!("h{}", hex::encode(&mac[..8]))
}

/// Tokens for every distinct word of `text`, in order of first appearance.
///
/// Words are runs of Unicode letters and digits (combining marks stay inside
/// the word); everything else separates words.
pub fn blind_tokens(search_key: &SecretKey, text: &str) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut tokens = Vec::new();
    let words = text
        .split(|c: char| !(c.is_alphanumeric() || is_combining_mark(c)))
        .map(normalize_word)
        .filter(|w| !w.is_empty());
    for word in words {
        if seen.insert(word.clone()) {
            tokens.push(blind_token(search_key, &word));
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_examples() {
        assert_eq!(normalize_word("Café"), "cafe");
        assert_eq!(normalize_word("STRAßE"), "strasse");
        assert_eq!(normalize_word("Müller"), "muller");
        assert_eq!(normalize_word("Łódź"), "lodz");
        assert_eq!(normalize_word("ÆSIR"), "aesir");
        assert_eq!(normalize_word("cafe\u{0301}"), "cafe");
        assert_eq!(normalize_word("İstanbul"), "istanbul");
        assert_eq!(normalize_word("日本"), "日本");
    }

    #[test]
    fn normalizing_is_idempotent() {
        for w in ["Café", "Straße", "naïve", "Ørsted", "x1Y2"] {
            let once = normalize_word(w);
            assert_eq!(normalize_word(&once), once);
        }
    }

    #[test]
    fn decomposed_accents_stay_in_the_word() {
        let key = SecretKey::from_bytes([1; 32]);
        assert_eq!(blind_tokens(&key, "nai\u{0308}ve"), vec![blind_token(&key, "naive")]);
    }
}
