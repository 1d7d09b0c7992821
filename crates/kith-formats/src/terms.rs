//! Words of a question or a passage, as retrieval compares them: lower
//! case, accents folded, English stop words dropped, and a light English
//! stemmer so "refunds", "refunded" and "refunding" meet "refund".
//!
//! The database engines stem for matching (FTS5 `porter`, PostgreSQL
//! `english`); this module is the one place the application itself decides
//! which words of a question count and whether a passage covers them (the
//! retrieval confidence). It must stay a pure function of its input: no
//! dictionary files, no allocation beyond the words it returns.

/// English words that carry no topic: they never become query terms and
/// never count toward a passage's coverage. Question words and pronouns are
/// here because customers' questions are full of them and FAQ answers are
/// not.
#[rustfmt::skip]
const STOP_WORDS: &[&str] = &[
    "a", "about", "above", "after", "again", "all", "also", "am", "an", "and", "any", "anyone", "anything", "are",
    "arent", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by",
    "can", "cant", "could", "did", "didnt", "do", "does", "doesnt", "doing", "done", "dont", "down", "during",
    "each", "else", "ever", "few", "for", "from", "further", "get", "gets", "getting", "got", "had", "has", "have",
    "having", "he", "hello", "her", "here", "hers", "herself", "hey", "hi", "him", "himself", "his", "how", "hows",
    "i", "id", "if", "ill", "im", "in", "into", "is", "isnt", "it", "its", "itself", "ive", "just", "know", "let",
    "lets", "like", "me", "might", "more", "most", "much", "must", "my", "myself", "need", "no", "nor", "not",
    "now", "of", "off", "ok", "okay", "on", "once", "one", "only", "or", "other", "our", "ours", "ourselves",
    "out", "over", "own", "please", "really", "said", "same", "say", "shall", "she", "should", "so", "some",
    "someone", "something", "such", "tell", "than", "thank", "thanks", "that", "thats", "the", "their", "theirs",
    "them", "themselves", "then", "there", "theres", "these", "they", "theyre", "thing", "things", "this", "those",
    "through", "to", "too", "under", "until", "up", "us", "very", "want", "wanted", "was", "wasnt", "way", "we",
    "were", "werent", "weve", "what", "whats", "when", "where", "wheres", "whether", "which", "while", "who",
    "whom", "whos", "why", "will", "with", "wont", "would", "yes", "you", "youd", "your", "youre", "yours",
    "yourself", "yourselves", "youve",
];

/// Words customers and businesses use for the same thing, in the vocabulary
/// of shops and services (a customer asks for "vouchers", the FAQ sells
/// "gift cards"). Each group is used both ways: a question's word also
/// searches for the others, and a passage holding any of them covers it.
/// Kept small and generic on purpose: a group that is wrong for a business
/// costs it precision everywhere.
#[rustfmt::skip]
const SYNONYMS: &[&[&str]] = &[
    &["refund", "refunds", "reimburse", "reimbursement"],
    &["voucher", "vouchers", "gift", "coupon", "present"],
    &["deliver", "delivery", "shipping", "ship", "postage", "post", "dispatch", "arrive", "courier"],
    &["cancel", "stop", "pause", "unsubscribe"],
    &["change", "switch", "swap", "modify"],
    &["price", "cost", "charge", "fee"],
    &["cheap", "cheaper", "discount", "save", "saving", "reduction"],
    &["address", "location", "directions"],
    &["open", "opening", "hours", "closing"],
    &["vegan", "plant", "dairy"],
    &["broken", "damaged", "crushed", "smashed", "dented", "torn", "split", "leaking"],
    &["job", "jobs", "career", "careers", "hiring", "vacancy", "vacancies"],
    &["allergy", "allergies", "allergen", "allergic", "intolerance"],
    &["dog", "dogs", "pet", "pets", "puppy"],
    &["wifi", "internet", "wireless"],
    &["class", "classes", "course", "workshop", "lesson", "teach", "learn", "training"],
    &["night", "evening"],
    &["free", "complimentary"],
    &["loyalty", "reward", "rewards", "stamp", "points"],
    &["student", "students", "uni", "university", "college"],
    &["compost", "compostable", "recyclable", "recycle", "biodegradable"],
    &["farmer", "farmers", "grower", "growers", "farm", "farms", "producer"],
    &["remove", "delete", "erase"],
    &["bulk", "wholesale", "trade"],
    &["parking", "park", "car"],
    &["abroad", "international", "overseas"],
    &["fortnight", "fortnightly"],
    &["kilo", "kilogram", "kg"],
];

/// The other words of `word`'s synonym groups (compared by stem), without `word` itself.
pub fn synonyms(word: &str) -> Vec<&'static str> {
    let s = stem(word);
    let mut out = Vec::new();
    for group in SYNONYMS {
        if group.iter().any(|g| stem(g) == s) {
            for g in group.iter() {
                if stem(g) != s && !out.contains(g) {
                    out.push(*g);
                }
            }
        }
    }
    out
}

pub fn is_stop_word(w: &str) -> bool {
    STOP_WORDS.binary_search(&w).is_ok()
}

/// The lower-case words of `text`: runs of letters and digits (an
/// apostrophe inside a word is dropped: "don't" → "dont"), accents folded
/// for Latin letters, each at most 64 bytes.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_alphanumeric() {
            for l in c.to_lowercase() {
                push_folded(&mut cur, l);
            }
        } else if (c == '\'' || c == '’') && !cur.is_empty() && chars.peek().is_some_and(|n| n.is_alphanumeric()) {
            continue;
        } else if !cur.is_empty() {
            flush(&mut cur, &mut out);
        }
    }
    flush(&mut cur, &mut out);
    out
}

fn flush(cur: &mut String, out: &mut Vec<String>) {
    if !cur.is_empty() && cur.len() <= 64 {
        out.push(std::mem::take(cur));
    }
    cur.clear();
}

/// Latin letters with diacritics as their base letter (what FTS5's
/// `remove_diacritics` does); anything else as it is.
fn push_folded(out: &mut String, c: char) {
    let base = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => 'a',
        'ç' | 'ć' | 'č' => 'c',
        'ď' => 'd',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' => 'i',
        'ñ' | 'ń' | 'ň' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => 'o',
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' => 'u',
        'ý' | 'ÿ' => 'y',
        'ś' | 'š' => 's',
        'ź' | 'ż' | 'ž' => 'z',
        'ł' => 'l',
        'ř' => 'r',
        'ť' => 't',
        'ß' => {
            out.push_str("ss");
            return;
        }
        'æ' => {
            out.push_str("ae");
            return;
        }
        'œ' => {
            out.push_str("oe");
            return;
        }
        other => other,
    };
    out.push(base);
}

/// The content words of a question, in order, once each: stop words and
/// one-letter words dropped.
pub fn content_words(text: &str) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    words(text)
        .into_iter()
        .filter(|w| w.chars().count() > 1 || w.chars().all(|c| c.is_ascii_digit()))
        .filter(|w| !is_stop_word(w))
        .filter(|w| seen.insert(stem(w)))
        .collect()
}

/// A light English stemmer: plurals, -ing, -ed, -ly and a few common
/// derivational endings, so inflections of one word meet. It is not Porter's
/// algorithm (the engines use that for matching); it only has to map a
/// question's words and a passage's words the same way.
pub fn stem(word: &str) -> String {
    let w = word;
    if w.len() <= 3 || !w.is_ascii() {
        return w.to_string();
    }
    let strip = |suffix: &str, min_stem: usize, add: &str| -> Option<String> {
        let s = w.strip_suffix(suffix)?;
        (s.len() >= min_stem).then(|| format!("{s}{add}"))
    };
    let mut s = None
        .or_else(|| strip("ational", 3, "ate"))
        .or_else(|| strip("ization", 3, "ize"))
        .or_else(|| strip("fulness", 3, "ful"))
        .or_else(|| strip("iveness", 3, "ive"))
        .or_else(|| strip("ements", 3, ""))
        .or_else(|| strip("ement", 3, ""))
        .or_else(|| strip("ments", 3, ""))
        .or_else(|| strip("ment", 3, ""))
        .or_else(|| strip("ations", 3, "ate"))
        .or_else(|| strip("ation", 3, "ate"))
        .or_else(|| strip("ies", 2, "y"))
        .or_else(|| strip("ied", 2, "y"))
        .or_else(|| strip("ing", 3, ""))
        .or_else(|| strip("ness", 3, ""))
        .or_else(|| strip("edly", 3, ""))
        .or_else(|| strip("ly", 3, ""))
        .or_else(|| strip("ed", 3, ""))
        .or_else(|| strip("sses", 2, "ss"))
        .or_else(|| if w.ends_with("ss") || w.ends_with("us") || w.ends_with("is") { None } else { strip("s", 3, "") })
        .unwrap_or_else(|| w.to_string());
    // "shipping" → "shipp" → "ship"; "stopped" → "stopp" → "stop".
    let b = s.as_bytes();
    if b.len() >= 4 && b[b.len() - 1] == b[b.len() - 2] && !matches!(b[b.len() - 1], b's' | b'z') {
        s.pop();
    }
    // "delivery"/"deliveries" and "deliver"; "store"/"stored" meet at "stor".
    if let Some(x) = s.strip_suffix('y').filter(|x| x.len() >= 4 && x.ends_with(|c: char| !"aeiou".contains(c))) {
        s = x.to_string();
    }
    if let Some(x) = s.strip_suffix('e').filter(|x| x.len() >= 3) {
        s = x.to_string();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_words_are_sorted_for_binary_search() {
        assert!(STOP_WORDS.windows(2).all(|p| p[0] < p[1]), "sorted and unique");
    }

    #[test]
    fn words_fold_case_accents_and_apostrophes() {
        assert_eq!(words("Don't SHIP to Zürich—café!"), ["dont", "ship", "to", "zurich", "cafe"]);
        assert_eq!(words("  "), Vec::<String>::new());
        assert_eq!(words("Größe 42cm"), ["grosse", "42cm"]);
    }

    #[test]
    fn content_words_drop_stop_words_and_repeats() {
        assert_eq!(content_words("How do I get a refund for my refunds?"), ["refund"]);
        assert_eq!(content_words("Can you ship to Canada?"), ["ship", "canada"]);
    }

    #[test]
    fn synonyms_work_both_ways_by_stem() {
        assert!(synonyms("vouchers").contains(&"gift"));
        assert!(synonyms("gift").contains(&"voucher"));
        assert!(!synonyms("refunds").contains(&"refund"), "not the word itself");
        assert!(synonyms("espresso").is_empty());
    }

    #[test]
    fn inflections_meet() {
        for group in [
            &["refund", "refunds", "refunded", "refunding"][..],
            &["ship", "ships", "shipping", "shipped"],
            &["delivery", "deliveries", "delivered", "deliver"],
            &["store", "stored", "stores", "storing"],
            &["cancel", "cancelled", "cancels", "canceling"],
            &["payment", "payments", "pay"],
        ] {
            let stems: Vec<String> = group.iter().map(|w| stem(w)).collect();
            assert!(stems.windows(2).all(|p| p[0] == p[1]), "{group:?} → {stems:?}");
        }
        assert_ne!(stem("class"), stem("clas"));
        assert_eq!(stem("bus"), "bus");
    }
}
