//! Reading vCard files (2.1, 3.0 and 4.0, as phones, Outlook, Apple and
//! Google Contacts export them) into [`ImportedContact`]s, one card at a time.
//!
//! The reader is deliberately forgiving about what it does not use (unknown
//! properties, photos, notes, lines outside a card are skipped) and strict
//! only where a wrong guess would import wrong data: a card with a line it
//! cannot split into name and value, an invalid e-mail address, or no
//! `END:VCARD` fails as a whole, and the next card is read normally.
//!
//! Lines are unfolded (RFC 6350 §3.2: a line break followed by a space or tab
//! continues the line) on bytes, before any decoding, so a fold inside a
//! multi-byte character does no harm. Quoted-printable values (2.1 and 3.0)
//! may also continue with a soft line break, a `=` at the end of the line.
//!
//! This module must never decide which vCard fields become which CRM
//! records beyond the neutral contact, and reads only the given reader.

use std::io::{self, BufRead};

use kith_domain::validate::normalize_email;

use crate::contact::{non_empty, parse_date, phone_warning, push_unique, set_once, split_full_name};
use crate::{ImportedContact, RowError, RowErrorKind};

/// Longest unfolded line kept. Longer lines (inline photos, mostly) are only
/// a problem when they belong to a property we read.
const MAX_LINE_BYTES: usize = 8 << 20;

/// The cards in a vCard file, in order. Each item is one card; a failed card
/// has the card's 1-based position as its `line`.
pub fn parse<R: BufRead>(r: R) -> Cards<R> {
    Cards { lines: Lines { src: r, number: 0, peeked: None }, card: 0, pending: None, done: false }
}

pub struct Cards<R> {
    lines: Lines<R>,
    card: u64,
    /// A `BEGIN:VCARD` that ended the previous, unterminated card.
    pending: Option<Line>,
    done: bool,
}

impl<R: BufRead> Iterator for Cards<R> {
    type Item = Result<ImportedContact, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut card: Option<Card> = None;
        while !self.done {
            let line = match self.pending.take().map(Ok).or_else(|| self.lines.next().transpose()) {
                Some(Ok(line)) => line,
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(RowError::new(self.card.max(1), RowErrorKind::Io(e.to_string()))));
                }
                None => {
                    self.done = true;
                    let unterminated = card.map(|c| {
                        let why = format!("the card starting on line {} has no END:VCARD", c.start_line);
                        Err(RowError::new(c.number, RowErrorKind::MalformedCard(why)))
                    });
                    return unterminated;
                }
            };
            let keyword = String::from_utf8_lossy(&line.bytes[..line.bytes.len().min(16)]).trim().to_ascii_uppercase();
            match card.as_mut() {
                None if keyword == "BEGIN:VCARD" => {
                    self.card += 1;
                    card = Some(Card::new(self.card, line.number));
                }
                // Text outside a card is not ours to judge.
                None => {}
                Some(c) if keyword == "END:VCARD" => return Some(c.finish()),
                Some(c) if keyword == "BEGIN:VCARD" => {
                    let why = format!("line {}: a new card starts before END:VCARD", line.number);
                    let number = c.number;
                    self.pending = Some(line);
                    return Some(Err(RowError::new(number, RowErrorKind::MalformedCard(why))));
                }
                Some(c) => c.property(&line),
            }
        }
        None
    }
}

/// One unfolded line, still as bytes.
struct Line {
    /// The physical line it starts on, 1-based.
    number: u64,
    bytes: Vec<u8>,
    too_long: bool,
}

struct Lines<R> {
    src: R,
    number: u64,
    peeked: Option<(Vec<u8>, bool)>,
}

impl<R: BufRead> Lines<R> {
    /// The next physical line without its line ending, at most
    /// `MAX_LINE_BYTES` of it, and whether it was longer.
    fn physical(&mut self) -> io::Result<Option<(Vec<u8>, bool)>> {
        if let Some(line) = self.peeked.take() {
            return Ok(Some(line));
        }
        let mut line = Vec::new();
        let mut too_long = false;
        let mut any = false;
        loop {
            let buf = self.src.fill_buf()?;
            if buf.is_empty() {
                break;
            }
            any = true;
            let (take, end) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            let room = MAX_LINE_BYTES - line.len();
            too_long |= take > room;
            line.extend_from_slice(&buf[..take.min(room)]);
            self.src.consume(take);
            if end {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        self.number += 1;
        if line.ends_with(b"\n") {
            line.pop();
        }
        if line.ends_with(b"\r") {
            line.pop();
        }
        Ok(Some((line, too_long)))
    }

    fn next(&mut self) -> io::Result<Option<Line>> {
        let Some((mut bytes, mut too_long)) = self.physical()? else { return Ok(None) };
        let number = self.number;
        loop {
            let soft_break = bytes.ends_with(b"=") && is_quoted_printable(&bytes);
            let Some((next, next_long)) = self.physical()? else { break };
            too_long |= next_long;
            if soft_break {
                bytes.pop();
                bytes.extend_from_slice(&next);
            } else if next.first().is_some_and(|&b| b == b' ' || b == b'\t') {
                bytes.extend_from_slice(&next[1..]);
            } else {
                self.peeked = Some((next, next_long));
                break;
            }
            if bytes.len() > MAX_LINE_BYTES {
                bytes.truncate(MAX_LINE_BYTES);
                too_long = true;
            }
        }
        Ok(Some(Line { number, bytes, too_long }))
    }
}

/// Whether a line's name and parameters (before the first `:`) declare
/// quoted-printable, as `;ENCODING=QUOTED-PRINTABLE` or 2.1's bare
/// `;QUOTED-PRINTABLE`.
fn is_quoted_printable(line: &[u8]) -> bool {
    let head = line.split(|&b| b == b':').next().unwrap_or_default();
    String::from_utf8_lossy(head).to_ascii_uppercase().contains("QUOTED-PRINTABLE")
}

/// A content line split into its parts.
struct Property {
    /// Upper-case, without a group prefix (`item1.EMAIL` → `EMAIL`).
    name: String,
    /// Upper-case parameter names with their values, quotes removed.
    params: Vec<(String, Vec<String>)>,
    /// The value, decoded from quoted-printable if it was, still escaped.
    value: String,
}

impl Property {
    fn parse(line: &str) -> Result<Property, String> {
        let colon = outside_quotes(line, ':').next().ok_or("no ':' between name and value")?;
        let (head, value) = (&line[..colon], &line[colon + 1..]);
        let mut parts = split_at(head, outside_quotes(head, ';'));
        let name = parts.next().unwrap_or_default().trim();
        let name = name.rsplit('.').next().unwrap_or_default().to_ascii_uppercase();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(format!("{name:?} is not a property name"));
        }
        let params = parts
            .map(|p| match p.split_once('=') {
                Some((key, values)) => {
                    let values = split_at(values, outside_quotes(values, ','))
                        .map(|v| v.trim().trim_matches('"').to_string())
                        .collect();
                    (key.trim().to_ascii_uppercase(), values)
                }
                // vCard 2.1 writes parameter values alone: `TEL;WORK;VOICE:`.
                None => {
                    let value = p.trim().to_string();
                    let key = match value.to_ascii_uppercase().as_str() {
                        "QUOTED-PRINTABLE" | "BASE64" | "8BIT" | "7BIT" => "ENCODING",
                        _ => "TYPE",
                    };
                    (key.to_string(), vec![value])
                }
            })
            .collect();
        let mut property = Property { name, params, value: value.to_string() };
        if property.has("ENCODING", "QUOTED-PRINTABLE") {
            let bytes = decode_quoted_printable(value);
            let latin = ["ISO-8859-1", "ISO-8859-15", "WINDOWS-1252", "CP1252", "LATIN1"];
            property.value = if latin.iter().any(|c| property.has("CHARSET", c)) {
                bytes.iter().map(|&b| crate::text::windows_1252(b)).collect()
            } else {
                crate::text::utf8_or_1252(&bytes)
            };
        }
        Ok(property)
    }

    fn values<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.params.iter().filter(move |(k, _)| k == key).flat_map(|(_, v)| v.iter().map(String::as_str))
    }

    fn has(&self, key: &str, value: &str) -> bool {
        self.values(key).any(|v| v.eq_ignore_ascii_case(value))
    }

    /// TYPE values, lower-case. A quoted list (`TYPE="voice,cell"`, as in
    /// RFC 6350's own examples) counts as its members.
    fn types(&self) -> Vec<String> {
        self.values("TYPE").flat_map(|v| v.split(',')).map(|t| t.trim().to_ascii_lowercase()).collect()
    }

    fn text(&self) -> String {
        unescape(&self.value)
    }

    /// The components of a structured value (N, ADR, ORG), each unescaped;
    /// a component that is itself a list is joined with `joiner`.
    fn components(&self, joiner: &str) -> Vec<String> {
        split_escaped(&self.value, ';')
            .map(|c| {
                split_escaped(c, ',').map(unescape).filter(|s| !s.trim().is_empty()).collect::<Vec<_>>().join(joiner)
            })
            .collect()
    }
}

/// Byte offsets of `sep` in `s` outside double quotes.
fn outside_quotes(s: &str, sep: char) -> impl Iterator<Item = usize> + '_ {
    let mut quoted = false;
    s.char_indices().filter_map(move |(i, c)| {
        if c == '"' {
            quoted = !quoted;
        }
        (c == sep && !quoted).then_some(i)
    })
}

/// `s` cut at the given one-byte separator offsets.
fn split_at<'a>(s: &'a str, cuts: impl Iterator<Item = usize> + 'a) -> impl Iterator<Item = &'a str> + 'a {
    let mut start = 0;
    let mut cuts = cuts.fuse();
    let mut finished = false;
    std::iter::from_fn(move || {
        if finished {
            return None;
        }
        match cuts.next() {
            Some(cut) => {
                let part = &s[start..cut];
                start = cut + 1;
                Some(part)
            }
            None => {
                finished = true;
                Some(&s[start..])
            }
        }
    })
}

/// `s` split at each `sep` that is not escaped with a backslash.
fn split_escaped(s: &str, sep: char) -> impl Iterator<Item = &str> {
    let mut escaped = false;
    let cuts = s.char_indices().filter_map(move |(i, c)| {
        let cut = c == sep && !escaped;
        escaped = c == '\\' && !escaped;
        cut.then_some(i)
    });
    split_at(s, cuts)
}

/// Undo vCard text escaping: `\n` `\N` → newline, `\,` `\;` `\:` `\\` → the
/// character. An unknown escape is kept as written (Windows paths in notes).
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(c @ (',' | ';' | ':' | '\\')) => out.push(c),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Quoted-printable to bytes: `=XX` is a byte, a `=` that starts no valid
/// pair is kept as it is rather than failing the card.
fn decode_quoted_printable(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'=', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// A label that fits the import's label rules, or none.
fn clean_label(label: &str) -> Option<String> {
    let ok = !label.is_empty()
        && label.len() <= 32
        && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    ok.then(|| label.to_string())
}

fn email_label(types: &[String]) -> Option<String> {
    types
        .iter()
        .find(|t| !matches!(t.as_str(), "internet" | "pref" | "x400" | "x-internet"))
        .and_then(|t| clean_label(t))
}

/// The most telling TEL type: what kind of line before where it is.
fn phone_label(types: &[String]) -> Option<String> {
    let has = |t: &str| types.iter().any(|x| x == t);
    if has("fax") {
        Some("fax".into())
    } else if has("cell") || has("mobile") || has("iphone") {
        Some("mobile".into())
    } else if has("pager") {
        Some("pager".into())
    } else {
        let skip = ["voice", "pref", "msg", "text", "internet", "video", "textphone"];
        types.iter().find(|t| !skip.contains(&t.as_str())).and_then(|t| clean_label(t))
    }
}

/// A TEL value as a person would write it: a `tel:` URI loses its scheme,
/// and its `;ext=` parameter becomes ` ext. N`.
fn phone_text(value: &str) -> String {
    let value = value.trim();
    let Some(uri) = value.get(..4).filter(|s| s.eq_ignore_ascii_case("tel:")).map(|_| &value[4..]) else {
        return value.to_string();
    };
    let mut parts = uri.split(';');
    let mut number = parts.next().unwrap_or_default().to_string();
    for param in parts {
        if let Some(ext) = param.strip_prefix("ext=") {
            number = format!("{number} ext. {ext}");
        }
    }
    number
}

/// Properties whose values we use; an over-long line of any other is skipped.
const USED: &[&str] = &[
    "FN",
    "N",
    "EMAIL",
    "TEL",
    "ORG",
    "TITLE",
    "BDAY",
    "TZ",
    "ADR",
    "URL",
    "CATEGORIES",
    "X-KITH-SOURCE",
    "X-KITH-FIELD",
];

/// A card being read.
struct Card {
    number: u64,
    start_line: u64,
    contact: ImportedContact,
    full_name: Option<String>,
    error: Option<RowErrorKind>,
    addresses: usize,
    /// The last property was base64 (a 2.1 photo): lines without a colon
    /// are its data, not errors.
    in_base64: bool,
}

impl Card {
    fn new(number: u64, start_line: u64) -> Self {
        Card {
            number,
            start_line,
            contact: ImportedContact::default(),
            full_name: None,
            error: None,
            addresses: 0,
            in_base64: false,
        }
    }

    fn fail(&mut self, kind: RowErrorKind) {
        self.error.get_or_insert(kind);
    }

    fn property(&mut self, line: &Line) {
        if self.error.is_some() || line.bytes.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let text = String::from_utf8_lossy(&line.bytes);
        let p = match Property::parse(&text) {
            Ok(p) => p,
            Err(_) if self.in_base64 && !text.contains(':') => return,
            Err(why) => return self.fail(RowErrorKind::MalformedCard(format!("line {}: {why}", line.number))),
        };
        self.in_base64 = p.has("ENCODING", "BASE64") || p.has("ENCODING", "B");
        if !USED.contains(&p.name.as_str()) {
            return;
        }
        if line.too_long {
            let why = format!("line {}: the {} value is longer than 8 MiB", line.number, p.name);
            return self.fail(RowErrorKind::MalformedCard(why));
        }
        let c = &mut self.contact;
        match p.name.as_str() {
            "FN" => set_once(&mut self.full_name, &p.text()),
            "N" => {
                let parts = p.components(" ");
                set_once(&mut c.last_name, parts.first().map_or("", String::as_str));
                set_once(&mut c.first_name, parts.get(1).map_or("", String::as_str));
            }
            "EMAIL" => {
                let text = p.text();
                let raw = text.trim();
                let raw = raw.get(..7).filter(|s| s.eq_ignore_ascii_case("mailto:")).map_or(raw, |_| &raw[7..]);
                if raw.is_empty() {
                    return;
                }
                match normalize_email(raw) {
                    Some(email) if c.emails.iter().any(|(e, _)| *e == email) => {}
                    Some(email) => c.emails.push((email, email_label(&p.types()))),
                    None => self.fail(RowErrorKind::InvalidEmail(raw.to_string())),
                }
            }
            "TEL" => {
                let number = phone_text(&p.text());
                if !number.is_empty() && !c.phones.iter().any(|(n, _)| *n == number) {
                    c.warnings.extend(phone_warning(&number));
                    c.phones.push((number, phone_label(&p.types())));
                }
            }
            "ORG" => set_once(&mut c.company, p.components(" ").first().map_or("", String::as_str)),
            "TITLE" => set_once(&mut c.title, &p.text()),
            "BDAY" if c.birthday.is_some() => {}
            "BDAY" => {
                let text = p.text();
                match parse_date(&text) {
                    Some(date) => c.birthday = Some(date),
                    None => {
                        c.warnings.push(format!("birthday {:?} is not a date we understand; left out", text.trim()))
                    }
                }
            }
            "TZ" => set_once(&mut c.time_zone, &p.text()),
            "ADR" => {
                self.addresses += 1;
                if self.addresses == 2 {
                    c.warnings.push("the card has several addresses; only the first was imported".into());
                }
                if self.addresses > 1 {
                    return;
                }
                // PO box; extended address; street; locality; region; postal code; country.
                let parts = p.components(", ");
                let part = |i: usize| parts.get(i).and_then(|s| non_empty(s));
                let street = match (part(2), part(1)) {
                    (Some(street), Some(extended)) => Some(format!("{street}, {extended}")),
                    (street, extended) => street.or(extended),
                };
                c.address.street = street.or_else(|| part(0).map(|po| format!("PO Box {po}")));
                c.address.city = part(3);
                c.address.region = part(4);
                c.address.postal_code = part(5);
                c.address.country = part(6);
            }
            "URL" => set_once(&mut c.website, &p.text()),
            "CATEGORIES" => {
                for tag in split_escaped(&p.value, ',').map(unescape) {
                    if let Some(tag) = non_empty(&tag) {
                        push_unique(&mut c.tags, tag);
                    }
                }
            }
            "X-KITH-SOURCE" => set_once(&mut c.source, &p.text()),
            "X-KITH-FIELD" => {
                let key = p.values("X-KEY").next().unwrap_or_default().to_string();
                if kith_domain::crm::check_field_key(&key).is_ok() && !c.custom.iter().any(|(k, _)| *k == key) {
                    c.custom.push((key, p.text()));
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self) -> Result<ImportedContact, RowError> {
        if let Some(kind) = self.error.take() {
            return Err(RowError::new(self.number, kind));
        }
        let mut contact = std::mem::take(&mut self.contact);
        if let (Some(full), None, None) = (&self.full_name, &contact.first_name, &contact.last_name) {
            (contact.first_name, contact.last_name) = split_full_name(full);
        }
        if !contact.has_identity() {
            return Err(RowError::new(self.number, RowErrorKind::EmptyRow));
        }
        Ok(contact)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cards(text: &str) -> Vec<Result<ImportedContact, RowError>> {
        parse(text.as_bytes()).collect()
    }

    #[test]
    fn vcard_3_with_folding_quoted_printable_and_escapes() {
        let text = "BEGIN:VCARD\r\n\
                    VERSION:3.0\r\n\
                    N:Müller;Ana;Sofia;Dr.;\r\n\
                    FN:Dr. Ana Sofia Müller\r\n\
                    ORG:Acme\\, Inc.;Research\r\n\
                    TITLE:Head of R&D\\; Europe\r\n\
                    item1.EMAIL;TYPE=WORK,INTERNET:ana@Acme.example\r\n\
                    EMAIL;TYPE=INTERNET:ana@home.example\r\n\
                    TEL;TYPE=CELL,VOICE:+49 151 2345\r\n 6789\r\n\
                    TEL;TYPE=WORK:not a number\r\n\
                    ADR;TYPE=WORK:;Floor 3;Hauptstr. 1;Berlin;;10115;Germany\r\n\
                    BDAY:1985-04-12\r\n\
                    TZ:+01:00\r\n\
                    URL:https://acme.example/ana\r\n\
                    CATEGORIES:vip,berlin\\, de\r\n\
                    NOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:Gr=C3=BC=C3=9Fe =\r\n\
                    aus Berlin\r\n\
                    X-SOCIALPROFILE;TYPE=twitter:ana\r\n\
                    END:VCARD\r\n";
        let all = cards(text);
        let c = all[0].as_ref().unwrap();
        assert_eq!((c.first_name.as_deref(), c.last_name.as_deref()), (Some("Ana"), Some("Müller")));
        assert_eq!(c.company.as_deref(), Some("Acme, Inc."));
        assert_eq!(c.title.as_deref(), Some("Head of R&D; Europe"));
        assert_eq!(c.emails, [("ana@acme.example".into(), Some("work".into())), ("ana@home.example".into(), None)]);
        assert_eq!(
            c.phones,
            [("+49 151 23456789".into(), Some("mobile".into())), ("not a number".into(), Some("work".into()))]
        );
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        assert_eq!(c.address.street.as_deref(), Some("Hauptstr. 1, Floor 3"));
        assert_eq!((c.address.city.as_deref(), c.address.region.as_deref()), (Some("Berlin"), None));
        assert_eq!((c.address.postal_code.as_deref(), c.address.country.as_deref()), (Some("10115"), Some("Germany")));
        assert_eq!(c.birthday.as_deref(), Some("1985-04-12"));
        assert_eq!(c.time_zone.as_deref(), Some("+01:00"));
        assert_eq!(c.website.as_deref(), Some("https://acme.example/ana"));
        assert_eq!(c.tags, ["vip", "berlin, de"]);
    }

    #[test]
    fn vcard_4_with_tel_uris_and_compact_dates() {
        let text = "BEGIN:VCARD\nVERSION:4.0\nFN:Bo Lin\nEMAIL;TYPE=work;PREF=1:bo@example.com\n\
                    TEL;VALUE=uri;TYPE=\"voice,cell\":tel:+1-415-555-0100;ext=12\n\
                    BDAY:19850412\nTZ:America/Los_Angeles\nEND:VCARD\n\
                    BEGIN:VCARD\nVERSION:4.0\nFN:Cy\nBDAY:--0412\nEMAIL:cy@example.com\nEND:VCARD\n";
        let all = cards(text);
        let bo = all[0].as_ref().unwrap();
        assert_eq!((bo.first_name.as_deref(), bo.last_name.as_deref()), (Some("Bo"), Some("Lin")));
        assert_eq!(bo.emails, [("bo@example.com".into(), Some("work".into()))]);
        assert_eq!(bo.phones, [("+1-415-555-0100 ext. 12".into(), Some("mobile".into()))]);
        assert!(bo.warnings.is_empty(), "{:?}", bo.warnings);
        assert_eq!(bo.birthday.as_deref(), Some("1985-04-12"));
        assert_eq!(bo.time_zone.as_deref(), Some("America/Los_Angeles"));
        assert_eq!(all[1].as_ref().unwrap().birthday.as_deref(), Some("--04-12"));
    }

    #[test]
    fn vcard_21_quoted_printable_in_latin1() {
        let text = "BEGIN:VCARD\r\nVERSION:2.1\r\n\
                    N;CHARSET=ISO-8859-1;ENCODING=QUOTED-PRINTABLE:=D1and=FA;Jos=E9\r\n\
                    TEL;HOME;VOICE:(415) 555-0100\r\n\
                    ADR;WORK;QUOTED-PRINTABLE:;;Line one=0D=0A=\r\nLine two;Town;;;\r\n\
                    PHOTO;ENCODING=BASE64;TYPE=JPEG:/9j/4AAQ\r\nSkZJRgABAQ\r\n\r\n\
                    END:VCARD\r\n";
        let c = cards(text).remove(0).unwrap();
        assert_eq!((c.first_name.as_deref(), c.last_name.as_deref()), (Some("José"), Some("Ñandú")));
        assert_eq!(c.phones, [("(415) 555-0100".into(), Some("home".into()))]);
        assert_eq!(c.address.street.as_deref(), Some("Line one\r\nLine two"));
        assert_eq!(c.address.city.as_deref(), Some("Town"));
    }

    #[test]
    fn a_bad_card_fails_alone() {
        let text = "BEGIN:VCARD\nFN:One\nEMAIL:one@example.com\nEND:VCARD\n\
                    BEGIN:VCARD\nFN:Two\nthis line has no colon\nEND:VCARD\n\
                    BEGIN:VCARD\nFN:Three\nEMAIL:three-at-example\nEND:VCARD\n\
                    BEGIN:VCARD\nFN:Four\nTEL:+44 20 7946 0958\n\
                    BEGIN:VCARD\nNOTE:nothing else\nEND:VCARD\n\
                    BEGIN:VCARD\nFN:Six\nEND:VCARD\n\
                    BEGIN:VCARD\nFN:Seven\n";
        let all = cards(text);
        let codes: Vec<_> = all.iter().map(|r| r.as_ref().map(|_| "ok").unwrap_or_else(|e| e.code())).collect();
        assert_eq!(
            codes,
            ["ok", "malformed_card", "invalid_email", "malformed_card", "empty_row", "ok", "malformed_card"]
        );
        let lines: Vec<_> = all.iter().map(|r| r.as_ref().map_or_else(|e| e.line, |_| 0)).collect();
        assert_eq!(lines, [0, 2, 3, 4, 5, 0, 7]);
        assert!(all[1].as_ref().unwrap_err().to_string().contains("line 7"));
    }

    #[test]
    fn a_fold_inside_a_character_is_harmless() {
        let bytes = b"BEGIN:VCARD\r\nFN:Zo\xC3\r\n \xAB Ng\r\nEND:VCARD\r\n";
        let c = parse(&bytes[..]).next().unwrap().unwrap();
        assert_eq!((c.first_name.as_deref(), c.last_name.as_deref()), (Some("Zoë"), Some("Ng")));
    }

    #[test]
    fn helpers() {
        assert_eq!(unescape(r"a\,b\;c\\d\ne\x"), "a,b;c\\d\ne\\x");
        assert_eq!(split_escaped(r"a\;b;c;", ';').collect::<Vec<_>>(), [r"a\;b", "c", ""]);
        assert_eq!(decode_quoted_printable("a=3Db=ZZ="), b"a=b=ZZ=");
        assert_eq!(phone_text("TEL:+1-555-0100;phone-context=x"), "+1-555-0100");
    }
}
