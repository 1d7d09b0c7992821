//! Writing contacts as vCard 4.0 (RFC 6350): CRLF line endings, lines
//! folded before 75 octets at character boundaries, text escaped.
//!
//! Fields vCard has no property for travel as extensions that
//! [`crate::vcard`] reads back: `X-KITH-SOURCE` and, per custom field,
//! `X-KITH-FIELD;X-KEY=<key>`. Labels become `TYPE` parameters (`mobile`
//! is vCard's `cell`). A phone number written with a country code becomes a
//! `tel:` URI; anything else stays text, because guessing a country during
//! export would change the number.
//!
//! This module must never write anywhere but the `Write` it is given.

use std::io::{self, Write};

use crate::ExportContact;

/// Longest physical line, in octets, without its CRLF (RFC 6350 §3.2).
const FOLD_AT: usize = 75;

/// Write one card.
pub fn write_contact(w: &mut impl Write, c: &ExportContact) -> io::Result<()> {
    let mut line = |s: &str| write_folded(w, s);
    line("BEGIN:VCARD")?;
    line("VERSION:4.0")?;
    line(&format!("UID:urn:uuid:{}", c.id))?;
    line(&format!("FN:{}", escape(&display_name(c))))?;
    if c.first_name.is_some() || c.last_name.is_some() {
        let part = |v: &Option<String>| escape(v.as_deref().unwrap_or_default());
        line(&format!("N:{};{};;;", part(&c.last_name), part(&c.first_name)))?;
    }
    for (email, label) in &c.emails {
        line(&format!("EMAIL{}:{}", type_param(label.as_deref()), escape(email)))?;
    }
    for (phone, label) in &c.phones {
        let label = label.as_deref().map(|l| if l == "mobile" { "cell" } else { l });
        match kith_domain::phone::to_e164(phone, "") {
            Ok(e164) => line(&format!("TEL;VALUE=uri{}:tel:{e164}", type_param(label)))?,
            Err(_) => line(&format!("TEL;VALUE=text{}:{}", type_param(label), escape(phone)))?,
        }
    }
    if let Some(company) = &c.company {
        line(&format!("ORG:{}", escape(company)))?;
    }
    if let Some(title) = &c.title {
        line(&format!("TITLE:{}", escape(title)))?;
    }
    if let Some(birthday) = &c.birthday {
        // RFC 6350 dates are ISO 8601 basic format: 19850412, --0412.
        match crate::contact::parse_date(birthday) {
            Some(date) => match date.strip_prefix("--") {
                Some(month_day) => line(&format!("BDAY:--{}", month_day.replace('-', "")))?,
                None => line(&format!("BDAY:{}", date.replace('-', "")))?,
            },
            None => line(&format!("BDAY;VALUE=text:{}", escape(birthday)))?,
        }
    }
    if let Some(tz) = &c.time_zone {
        line(&format!("TZ:{}", escape(tz)))?;
    }
    if !c.address.is_empty() {
        let a = &c.address;
        let part = |v: &Option<String>| escape(v.as_deref().unwrap_or_default());
        line(&format!(
            "ADR:;;{};{};{};{};{}",
            part(&a.street),
            part(&a.city),
            part(&a.region),
            part(&a.postal_code),
            part(&a.country)
        ))?;
    }
    if let Some(website) = &c.website {
        // A URI, not text: no backslash escaping, but never a line break.
        line(&format!("URL:{}", website.replace(['\r', '\n'], "")))?;
    }
    if !c.tags.is_empty() {
        line(&format!("CATEGORIES:{}", c.tags.iter().map(|t| escape(t)).collect::<Vec<_>>().join(",")))?;
    }
    if let Some(source) = &c.source {
        line(&format!("X-KITH-SOURCE:{}", escape(source)))?;
    }
    for (key, value) in &c.custom {
        let key: String = key.chars().filter(|ch| ch.is_ascii_alphanumeric() || *ch == '_' || *ch == '-').collect();
        line(&format!("X-KITH-FIELD;X-KEY={key}:{}", escape(value)))?;
    }
    line("END:VCARD")
}

/// FN is required: the name, else the company, else the first e-mail.
fn display_name(c: &ExportContact) -> String {
    let name = [c.first_name.as_deref(), c.last_name.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
    if !name.trim().is_empty() {
        return name;
    }
    c.company.clone().or_else(|| c.emails.first().map(|(e, _)| e.clone())).unwrap_or_default()
}

/// `;TYPE=<label>` with the label reduced to characters a parameter value
/// may hold unquoted, or nothing.
fn type_param(label: Option<&str>) -> String {
    let label: String = label.unwrap_or_default().chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    if label.is_empty() {
        String::new()
    } else {
        format!(";TYPE={}", label.to_ascii_lowercase())
    }
}

/// vCard text escaping: backslash, comma, semicolon, and line breaks as `\n`.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ',' => out.push_str("\\,"),
            ';' => out.push_str("\\;"),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\r' | '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Write `line` with CRLF, folded so no physical line exceeds 75 octets:
/// continuation lines start with a space, which counts toward their 75.
fn write_folded(w: &mut impl Write, line: &str) -> io::Result<()> {
    let mut rest = line;
    let mut limit = FOLD_AT;
    loop {
        let mut end = rest.len().min(limit);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        w.write_all(&rest.as_bytes()[..end])?;
        w.write_all(b"\r\n")?;
        rest = &rest[end..];
        if rest.is_empty() {
            return Ok(());
        }
        w.write_all(b" ")?;
        limit = FOLD_AT - 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Address, ImportedContact};

    fn sample() -> ExportContact {
        ExportContact {
            id: kith_domain::new_id(),
            first_name: Some("Zoë".into()),
            last_name: Some("Ng; \"the\" Second".into()),
            emails: vec![("zoe@example.com".into(), Some("work".into())), ("z@home.example".into(), None)],
            phones: vec![
                ("+1 415 555 0100".into(), Some("mobile".into())),
                ("ask reception".into(), Some("work".into())),
            ],
            company: Some("Ng, Ng & Partners".into()),
            title: Some("Partner\\Owner".into()),
            birthday: Some("1990-02-28".into()),
            time_zone: Some("Europe/Zürich".into()),
            source: Some("referral".into()),
            address: Address {
                street: Some("1 Long Road,\nUnit 2".into()),
                city: Some("Zürich".into()),
                region: None,
                postal_code: Some("8001".into()),
                country: Some("Switzerland".into()),
            },
            website: Some("https://ng.example/a,b".into()),
            tags: vec!["vip".into(), "a, b".into()],
            custom: vec![("notes_long".into(), "€".repeat(60))],
        }
    }

    fn card(c: &ExportContact) -> String {
        let mut out = Vec::new();
        write_contact(&mut out, c).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn output_is_valid_vcard_4() {
        let c = sample();
        let text = card(&c);
        assert!(text.starts_with("BEGIN:VCARD\r\nVERSION:4.0\r\n"));
        assert!(text.ends_with("END:VCARD\r\n"));
        assert!(text.contains(&format!("UID:urn:uuid:{}\r\n", c.id)));
        assert!(text.contains("N:Ng\\; \"the\" Second;Zoë;;;\r\n"));
        assert!(text.contains("TEL;VALUE=uri;TYPE=cell:tel:+14155550100\r\n"));
        assert!(text.contains("TEL;VALUE=text;TYPE=work:ask reception\r\n"));
        assert!(text.contains("ORG:Ng\\, Ng & Partners\r\n"));
        assert!(text.contains("BDAY:19900228\r\n"));
        for line in text.split("\r\n") {
            assert!(line.len() <= FOLD_AT, "{line:?}");
            assert!(!line.contains('\n') && !line.contains('\r'));
        }
        // The 60 euro signs (180 octets) must have been folded.
        assert!(text.contains("\r\n "));
    }

    #[test]
    fn round_trips_through_the_parser() {
        let c = sample();
        let mut bytes = Vec::new();
        write_contact(&mut bytes, &c).unwrap();
        let yearless = ExportContact { birthday: Some("--02-29".into()), ..ExportContact::default() };
        let yearless = ExportContact { first_name: Some("Leap".into()), ..yearless };
        write_contact(&mut bytes, &yearless).unwrap();
        let back: Vec<ImportedContact> = crate::vcard::parse(&bytes[..]).map(Result::unwrap).collect();
        let b = &back[0];
        assert_eq!((&b.first_name, &b.last_name), (&c.first_name, &c.last_name));
        assert_eq!(b.emails, c.emails);
        assert_eq!(
            b.phones,
            [("+14155550100".into(), Some("mobile".into())), ("ask reception".into(), Some("work".into()))]
        );
        assert_eq!(b.warnings.len(), 1, "{:?}", b.warnings);
        assert_eq!((&b.company, &b.title, &b.birthday), (&c.company, &c.title, &c.birthday));
        assert_eq!((&b.time_zone, &b.source, &b.website), (&c.time_zone, &c.source, &c.website));
        assert_eq!(b.address, c.address);
        assert_eq!(b.tags, c.tags);
        assert_eq!(b.custom, c.custom);
        assert_eq!(back[1].birthday.as_deref(), Some("--02-29"));
        assert_eq!(back[1].first_name.as_deref(), Some("Leap"));
    }

    #[test]
    fn folding_respects_characters() {
        let mut out = Vec::new();
        write_folded(&mut out, &format!("NOTE:{}", "ü".repeat(100))).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<_> = text.split_terminator("\r\n").collect();
        assert_eq!(lines[0].len(), 75);
        assert!(lines[1..].iter().all(|l| l.starts_with(' ') && l.len() <= 75));
        assert_eq!(text.replace("\r\n ", "").trim_end(), format!("NOTE:{}", "ü".repeat(100)));
    }
}
