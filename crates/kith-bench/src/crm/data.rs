//! Deterministic, realistic-looking CRM data: people's names from a few
//! hundred first and last names, e-mails made from them, E.164 phones,
//! company names, and note text drawn from a built-in vocabulary of 2,000
//! words with a Zipf distribution (so "the most frequent words" means what it
//! says). Everything comes from one seeded generator: the same seed makes
//! the same workspace.

use std::sync::OnceLock;

/// SplitMix64: small, fast, good enough for test data, and reproducible.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// Inclusive range.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
}

/// Words of the vocabulary, most frequent first.
pub const VOCABULARY: usize = 2_000;
/// Zipf exponent of the note text.
const ZIPF_S: f64 = 1.0;

struct Lists {
    first: Vec<&'static str>,
    last: Vec<&'static str>,
    words: Vec<&'static str>,
    /// Cumulative Zipf weights over `words`, ending at 1.0.
    zipf: Vec<f64>,
}

fn lists() -> &'static Lists {
    static LISTS: OnceLock<Lists> = OnceLock::new();
    LISTS.get_or_init(|| {
        let names = include_str!("names.txt");
        let (first, last) = names.split_once("# last names").expect("names.txt has two sections");
        let unique = |text: &'static str| {
            let mut out: Vec<&'static str> = Vec::new();
            for w in text.split_whitespace().filter(|w| !w.starts_with('#')) {
                if !out.contains(&w) {
                    out.push(w);
                }
            }
            out
        };
        let first = unique(first.split_once('\n').map(|(_, r)| r).unwrap_or(first));
        let last = unique(last);
        let mut words: Vec<&'static str> = Vec::with_capacity(VOCABULARY);
        let mut seen = std::collections::HashSet::new();
        for w in include_str!("words.txt").split_whitespace() {
            if words.len() == VOCABULARY {
                break;
            }
            if seen.insert(w) {
                words.push(w);
            }
        }
        assert_eq!(words.len(), VOCABULARY, "words.txt holds fewer than {VOCABULARY} distinct words");
        let mut zipf = Vec::with_capacity(words.len());
        let mut total = 0.0;
        for rank in 1..=words.len() {
            total += 1.0 / (rank as f64).powf(ZIPF_S);
            zipf.push(total);
        }
        for z in &mut zipf {
            *z /= total;
        }
        Lists { first, last, words, zipf }
    })
}

pub fn vocabulary() -> &'static [&'static str] {
    &lists().words
}

pub fn first_names() -> &'static [&'static str] {
    &lists().first
}

pub fn last_names() -> &'static [&'static str] {
    &lists().last
}

/// A vocabulary index drawn from the Zipf distribution (0 = most frequent).
pub fn zipf_word(rng: &mut Rng) -> usize {
    let u = rng.unit();
    lists().zipf.partition_point(|&c| c < u).min(VOCABULARY - 1)
}

/// Letters and digits of a name, folded to ASCII as Kith folds search words.
pub fn ascii_slug(s: &str) -> String {
    s.split(|c: char| !c.is_alphanumeric()).map(kith_crypto::normalize_word).collect::<String>()
}

const FREE_MAIL: [&str; 8] =
    ["gmail.com", "outlook.com", "yahoo.com", "icloud.com", "gmx.de", "web.de", "proton.me", "hotmail.com"];

pub fn free_mail_domain(rng: &mut Rng) -> &'static str {
    FREE_MAIL[rng.index(FREE_MAIL.len())]
}

const COMPANY_A: [&str; 48] = [
    "North", "Blue", "Bright", "Silver", "Green", "Red", "Iron", "Golden", "Summit", "River", "Harbor", "Pioneer",
    "Atlas", "Nova", "Apex", "Cedar", "Maple", "Oak", "Pine", "Granite", "Crystal", "Eagle", "Falcon", "Orion",
    "Polar", "Quantum", "Rapid", "Solid", "Stellar", "Sun", "Swift", "Terra", "Union", "Vector", "Vertex", "West",
    "Alpine", "Coastal", "Delta", "Echo", "Frontier", "Horizon", "Lumen", "Metro", "Nordic", "Prime", "Royal", "Zen",
];
const COMPANY_B: [&str; 40] = [
    "Logistics",
    "Analytics",
    "Systems",
    "Foods",
    "Dynamics",
    "Labs",
    "Networks",
    "Partners",
    "Capital",
    "Health",
    "Energy",
    "Media",
    "Robotics",
    "Software",
    "Solutions",
    "Consulting",
    "Retail",
    "Textiles",
    "Motors",
    "Design",
    "Pharma",
    "Security",
    "Ventures",
    "Works",
    "Studios",
    "Freight",
    "Bakery",
    "Clinics",
    "Electric",
    "Finance",
    "Insurance",
    "Legal",
    "Marine",
    "Mining",
    "Optics",
    "Print",
    "Realty",
    "Telecom",
    "Travel",
    "Water",
];
const COMPANY_SUFFIX: [&str; 10] = ["", " Inc", " GmbH", " Ltd", " LLC", " AG", " SA", " BV", " AB", " Group"];

/// The `idx`-th company name: distinct for every index.
pub fn company_name(idx: usize) -> String {
    let a = COMPANY_A[idx % COMPANY_A.len()];
    let rest = idx / COMPANY_A.len();
    let b = COMPANY_B[rest % COMPANY_B.len()];
    let rest = rest / COMPANY_B.len();
    let s = COMPANY_SUFFIX[rest % COMPANY_SUFFIX.len()];
    let round = rest / COMPANY_SUFFIX.len();
    if round == 0 {
        format!("{a} {b}{s}")
    } else {
        format!("{a} {b} {}{s}", round + 1)
    }
}

/// A plausible web domain for a company name.
pub fn company_domain(name: &str) -> String {
    let mut host: String = ascii_slug(name);
    host.truncate(40);
    format!("{host}.com")
}

pub const INDUSTRIES: [&str; 12] = [
    "Software",
    "Logistics",
    "Manufacturing",
    "Healthcare",
    "Retail",
    "Finance",
    "Education",
    "Hospitality",
    "Energy",
    "Media",
    "Construction",
    "Consulting",
];
pub const SIZES: [&str; 5] = ["1-10", "11-50", "51-200", "201-1000", "1000+"];
pub const TITLES: [&str; 16] = [
    "CEO",
    "CTO",
    "Founder",
    "Head of Sales",
    "Account Executive",
    "Marketing Manager",
    "Procurement Lead",
    "Office Manager",
    "Software Engineer",
    "Consultant",
    "Partner",
    "Director of Operations",
    "VP Engineering",
    "Purchasing Manager",
    "Customer Success Manager",
    "Finance Director",
];

/// An E.164 phone number and how a person might have typed it.
pub fn phone(rng: &mut Rng) -> (String, String) {
    // (country code, national digits, written with the trunk 0 nationally)
    let (cc, len) = match rng.below(10) {
        0..=4 => ("1", 10),
        5 | 6 => ("44", 10),
        7 => ("49", 11),
        8 => ("33", 9),
        _ => ("61", 9),
    };
    let mut national = String::with_capacity(len);
    national.push(char::from(b'2' + rng.below(8) as u8));
    for _ in 1..len {
        national.push(char::from(b'0' + rng.below(10) as u8));
    }
    let e164 = format!("+{cc}{national}");
    let typed = if cc == "1" {
        format!("+1 ({}) {}-{}", &national[..3], &national[3..6], &national[6..])
    } else {
        format!("+{cc} {} {}", &national[..4], &national[4..])
    };
    (e164, typed)
}

/// Ways a user types a phone number into a search box (all reach the
/// number through its stored suffix forms).
pub fn phone_query(e164: &str, rng: &mut Rng) -> String {
    let digits = &e164[1..];
    match rng.below(3) {
        0 => e164.to_string(),
        1 => {
            // Without the country code, grouped.
            let national = if let Some(rest) = digits.strip_prefix('1') { rest } else { &digits[2..] };
            let (a, b) = national.split_at(national.len() / 2);
            format!("{a} {b}")
        }
        _ => digits[digits.len() - 7..].to_string(),
    }
}

const SENTENCE_WORDS: (i64, i64) = (6, 16);
const NOTE_WORDS: (i64, i64) = (12, 70);

/// A note: sentences of Zipf-drawn words, and the vocabulary index of each
/// word in order. `counts` tallies every word drawn so the caller knows the
/// corpus's frequencies.
pub fn note_text(rng: &mut Rng, counts: &mut [u64]) -> (String, Vec<u16>) {
    let words = vocabulary();
    let n = rng.range(NOTE_WORDS.0, NOTE_WORDS.1);
    let mut out = String::with_capacity(n as usize * 7);
    let mut left_in_sentence = 0;
    let mut drawn = Vec::with_capacity(n as usize);
    for i in 0..n {
        let w = zipf_word(rng);
        counts[w] += 1;
        drawn.push(w as u16);
        let word = words[w];
        if left_in_sentence == 0 {
            if i > 0 {
                out.push_str(". ");
            }
            left_in_sentence = rng.range(SENTENCE_WORDS.0, SENTENCE_WORDS.1);
            let mut c = word.chars();
            if let Some(f) = c.next() {
                out.extend(f.to_uppercase());
                out.push_str(c.as_str());
            }
        } else {
            out.push(if rng.chance(0.06) { ',' } else { ' ' });
            if out.ends_with(',') {
                out.push(' ');
            }
            out.push_str(word);
        }
        left_in_sentence -= 1;
    }
    out.push('.');
    (out, drawn)
}

const DEAL_KINDS: [&str; 10] = [
    "renewal",
    "expansion",
    "pilot",
    "annual license",
    "onboarding package",
    "support contract",
    "upgrade",
    "new seats",
    "consulting",
    "integration project",
];

pub fn deal_title(rng: &mut Rng, company: &str) -> String {
    let kind = rng.pick(&DEAL_KINDS[..]);
    let year = 2025 + rng.below(3);
    format!("{company} {kind} {year}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_whole() {
        assert_eq!(vocabulary().len(), VOCABULARY);
        assert!(first_names().len() >= 250, "{}", first_names().len());
        assert!(last_names().len() >= 250, "{}", last_names().len());
        assert!(!first_names().iter().any(|n| n.starts_with('#')));
    }

    #[test]
    fn zipf_prefers_the_first_words() {
        let mut rng = Rng::new(7);
        let mut counts = vec![0u64; VOCABULARY];
        for _ in 0..200_000 {
            counts[zipf_word(&mut rng)] += 1;
        }
        assert!(counts[0] > counts[1] && counts[1] > counts[10] && counts[10] > counts[500]);
        // Rank 1 holds about 1/H(2000) ≈ 12 % of the words.
        assert!((20_000..30_000).contains(&counts[0]), "{}", counts[0]);
    }

    #[test]
    fn company_names_are_distinct() {
        let names: std::collections::HashSet<String> = (0..50_000).map(company_name).collect();
        assert_eq!(names.len(), 50_000);
    }

    #[test]
    fn phones_are_e164_and_typed_forms_normalise_to_them() {
        let mut rng = Rng::new(1);
        for _ in 0..1000 {
            let (e164, typed) = phone(&mut rng);
            assert_eq!(kith_domain::phone::to_e164(&typed, "").unwrap(), e164);
            let q = phone_query(&e164, &mut rng);
            let digits = kith_domain::phone::query_digits(&q).unwrap();
            assert!(e164[1..].ends_with(&digits) && digits.len() >= 6, "{q} {e164}");
        }
    }

    #[test]
    fn notes_read_like_sentences() {
        let mut rng = Rng::new(3);
        let mut counts = vec![0u64; VOCABULARY];
        let (t, drawn) = note_text(&mut rng, &mut counts);
        assert_eq!(drawn.len() as u64, counts.iter().sum::<u64>());
        assert!(t.ends_with('.') && t.chars().next().unwrap().is_uppercase(), "{t}");
        assert!(counts.iter().sum::<u64>() >= 12);
    }
}
