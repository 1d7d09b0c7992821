//! Consent keywords (TCPA, `reference/protocols.md` §1.8): a message whose
//! whole text is one of these words, in any case and with surrounding
//! spaces or a trailing full stop, opts out, opts back in or asks for help.
//! "STOP PLEASE" and "OPT OUT" are ordinary messages.

use serde::{Deserialize, Serialize};

pub const OPT_OUT_WORDS: [&str; 8] = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"];
pub const OPT_IN_WORDS: [&str; 3] = ["START", "YES", "UNSTOP"];
pub const HELP_WORDS: [&str; 2] = ["HELP", "INFO"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Keyword {
    OptOut,
    OptIn,
    Help,
}

/// The consent state a ledger entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Consent {
    OptIn,
    OptOut,
}

impl Consent {
    pub fn as_str(self) -> &'static str {
        match self {
            Consent::OptIn => "opt_in",
            Consent::OptOut => "opt_out",
        }
    }

    pub fn parse(s: &str) -> Option<Consent> {
        match s {
            "opt_in" => Some(Consent::OptIn),
            "opt_out" => Some(Consent::OptOut),
            _ => None,
        }
    }
}

/// The keyword a whole message is, if any.
pub fn classify(text: &str) -> Option<Keyword> {
    let t = text.trim().trim_end_matches(['.', '!']).trim();
    if t.is_empty() || t.len() > 16 || t.contains(char::is_whitespace) {
        return None;
    }
    let upper = t.to_ascii_uppercase();
    let word = upper.as_str();
    if OPT_OUT_WORDS.contains(&word) {
        Some(Keyword::OptOut)
    } else if OPT_IN_WORDS.contains(&word) {
        Some(Keyword::OptIn)
    } else if HELP_WORDS.contains(&word) {
        Some(Keyword::Help)
    } else {
        None
    }
}

/// Whether consent keywords apply on a channel kind: the phone-number
/// channels (SMS and WhatsApp), where the keywords are a legal convention.
pub fn keywords_apply(channel_kind: &str) -> bool {
    matches!(channel_kind, "twilio_sms" | "whatsapp")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_word_in_any_case() {
        for w in OPT_OUT_WORDS {
            assert_eq!(classify(w), Some(Keyword::OptOut), "{w}");
            assert_eq!(classify(&w.to_lowercase()), Some(Keyword::OptOut), "{w}");
            assert_eq!(classify(&format!("  {w}.\n")), Some(Keyword::OptOut), "{w}");
        }
        for w in OPT_IN_WORDS {
            assert_eq!(classify(w), Some(Keyword::OptIn), "{w}");
            assert_eq!(classify(&w.to_lowercase()), Some(Keyword::OptIn), "{w}");
        }
        for w in HELP_WORDS {
            assert_eq!(classify(w), Some(Keyword::Help), "{w}");
            assert_eq!(classify("Help!"), Some(Keyword::Help));
        }
    }

    #[test]
    fn only_whole_single_word_messages() {
        for text in ["STOP PLEASE", "please stop", "OPT OUT", "stopp", "", "   ", "START NOW", "yes please", "Stop it"]
        {
            assert_eq!(classify(text), None, "{text:?}");
        }
        assert_eq!(classify("Stop"), Some(Keyword::OptOut));
        assert_eq!(classify("Unstop"), Some(Keyword::OptIn));
    }

    #[test]
    fn applies_to_phone_channels_only() {
        assert!(keywords_apply("twilio_sms"));
        assert!(keywords_apply("whatsapp"));
        assert!(!keywords_apply("telegram"));
        assert!(!keywords_apply("email"));
    }

    #[test]
    fn consent_round_trips() {
        for c in [Consent::OptIn, Consent::OptOut] {
            assert_eq!(Consent::parse(c.as_str()), Some(c));
        }
        assert_eq!(Consent::parse("maybe"), None);
    }
}
