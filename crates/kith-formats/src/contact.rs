//! The neutral contact records that every format reads into or writes from,
//! the error a single record can fail with, and the small value rules the
//! readers share (dates, names, lists).
//!
//! Nothing here knows about a particular file format, and nothing here
//! decides whether a record is stored: a reader reports what it found, with
//! warnings, and the import job decides.

use kith_domain::ids::Uuid;
use serde::{Deserialize, Serialize};

/// A postal address. Every part is optional: exports are rarely complete.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub street: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
}

impl Address {
    pub fn is_empty(&self) -> bool {
        self.street.is_none()
            && self.city.is_none()
            && self.region.is_none()
            && self.postal_code.is_none()
            && self.country.is_none()
    }
}

/// One contact as read from a CSV row or a vCard, before the import job
/// matches it against existing records.
///
/// E-mail addresses are normalised (trimmed, lower-case) and known valid.
/// Phone numbers are kept exactly as written; the ones that do not look
/// dialable have a warning, because the job normalises them itself and a
/// number we cannot parse is still worth keeping. Labels are lower-case
/// (`work`, `home`, `mobile`, …) or `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedContact {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub emails: Vec<(String, Option<String>)>,
    pub phones: Vec<(String, Option<String>)>,
    pub company: Option<String>,
    pub title: Option<String>,
    /// `YYYY-MM-DD`, or `--MM-DD` when the source gave no year.
    pub birthday: Option<String>,
    pub time_zone: Option<String>,
    pub source: Option<String>,
    pub address: Address,
    pub website: Option<String>,
    pub tags: Vec<String>,
    /// Custom field key and the text found for it; the job checks the value
    /// against the field's kind.
    pub custom: Vec<(String, String)>,
    /// Things the user should know about this record that did not stop it.
    pub warnings: Vec<String>,
}

impl ImportedContact {
    /// Whether there is anything to identify the person by.
    pub fn has_identity(&self) -> bool {
        self.first_name.is_some() || self.last_name.is_some() || !self.emails.is_empty() || !self.phones.is_empty()
    }
}

/// One contact as the export jobs hand it to [`crate::csv_out`] and
/// [`crate::vcard_out`]: the fields of [`ImportedContact`] plus its id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportContact {
    pub id: Uuid,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub emails: Vec<(String, Option<String>)>,
    pub phones: Vec<(String, Option<String>)>,
    pub company: Option<String>,
    pub title: Option<String>,
    /// `YYYY-MM-DD` or `--MM-DD`.
    pub birthday: Option<String>,
    pub time_zone: Option<String>,
    pub source: Option<String>,
    pub address: Address,
    pub website: Option<String>,
    pub tags: Vec<String>,
    pub custom: Vec<(String, String)>,
}

/// Why one record (a CSV row or a vCard) could not be read. The import goes
/// on with the next record; the job shows these to the user by `line`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record {line}: {kind}")]
pub struct RowError {
    /// 1-based record number: the data row of a CSV (header excluded), or
    /// the card's position in a vCard file.
    pub line: u64,
    pub kind: RowErrorKind,
}

impl RowError {
    pub fn new(line: u64, kind: RowErrorKind) -> Self {
        RowError { line, kind }
    }

    /// Stable machine-readable code for the import report.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowErrorKind {
    #[error("a cell is larger than 1 MiB")]
    CellTooLarge,
    #[error("the row has more than 1,000 cells")]
    TooManyCells,
    #[error("the row is larger than 16 MiB")]
    RowTooLarge,
    #[error("broken quoting: {0}")]
    BrokenQuoting(String),
    #[error("{0:?} is not a valid e-mail address")]
    InvalidEmail(String),
    #[error("the record has no name, e-mail address or phone number")]
    EmptyRow,
    #[error("malformed vCard: {0}")]
    MalformedCard(String),
    #[error("reading the file failed: {0}")]
    Io(String),
}

impl RowErrorKind {
    pub fn code(&self) -> &'static str {
        match self {
            RowErrorKind::CellTooLarge => "cell_too_large",
            RowErrorKind::TooManyCells => "too_many_cells",
            RowErrorKind::RowTooLarge => "row_too_large",
            RowErrorKind::BrokenQuoting(_) => "broken_quoting",
            RowErrorKind::InvalidEmail(_) => "invalid_email",
            RowErrorKind::EmptyRow => "empty_row",
            RowErrorKind::MalformedCard(_) => "malformed_card",
            RowErrorKind::Io(_) => "io",
        }
    }
}

/// A date in one of the shapes exports use, as `YYYY-MM-DD`: ISO
/// (`1985-04-12`, also with a time after `T`), compact (`19850412`), US
/// (`04/12/1985`) and European dotted (`12.04.1985`). A date without a year
/// (`--0412`, `--04-12`, as vCard writes it) comes back as `--04-12`.
/// Slashes are always read month first: that is how the US-based CRMs whose
/// exports we read write them, and guessing per row would be worse.
pub fn parse_date(raw: &str) -> Option<String> {
    let s = raw.trim();
    if let Some(md) = s.strip_prefix("--") {
        let md: String = md.chars().filter(|c| *c != '-').collect();
        if md.len() != 4 || !md.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // 2000 is a leap year, so 29 February passes.
        kith_domain::crm::check_date(&format!("2000-{}-{}", &md[..2], &md[2..])).ok()?;
        return Some(format!("--{}-{}", &md[..2], &md[2..]));
    }
    let s = s.split_once('T').map_or(s, |(date, _)| date);
    let num = |p: &str| -> Option<u32> {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        p.parse().ok()
    };
    let (y, m, d) = if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        (num(&s[..4])?, num(&s[4..6])?, num(&s[6..])?)
    } else if let [y, m, d] = s.split('-').collect::<Vec<_>>()[..] {
        (y.len() == 4).then_some(())?;
        (num(y)?, num(m)?, num(d)?)
    } else if let [m, d, y] = s.split('/').collect::<Vec<_>>()[..] {
        (y.len() == 4).then_some(())?;
        (num(y)?, num(m)?, num(d)?)
    } else if let [d, m, y] = s.split('.').collect::<Vec<_>>()[..] {
        (y.len() == 4).then_some(())?;
        (num(y)?, num(m)?, num(d)?)
    } else {
        return None;
    };
    let date = format!("{y:04}-{m:02}-{d:02}");
    kith_domain::crm::check_date(&date).ok()?;
    Some(date)
}

/// Split a one-field name into first and last. `Last, First` (how many
/// address books sort) is honoured; otherwise the last word is the family
/// name, which is wrong for some cultures but is what every CRM export
/// we read assumes too. A single word is a first name.
pub fn split_full_name(full: &str) -> (Option<String>, Option<String>) {
    let full = full.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some((last, first)) = full.split_once(',') {
        return (non_empty(first), non_empty(last));
    }
    match full.rsplit_once(' ') {
        Some((first, last)) => (non_empty(first), non_empty(last)),
        None => (non_empty(&full), None),
    }
}

/// Trimmed text, or `None` when nothing is left.
pub(crate) fn non_empty(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// Push `value` unless an equal one is there already.
pub(crate) fn push_unique<T: PartialEq>(list: &mut Vec<T>, value: T) {
    if !list.contains(&value) {
        list.push(value);
    }
}

/// Set an optional field only the first time a non-empty value turns up:
/// when several columns feed one field, the leftmost filled one wins.
pub(crate) fn set_once(field: &mut Option<String>, value: &str) {
    if field.is_none() {
        *field = non_empty(value);
    }
}

/// The warning for a phone number that does not look dialable, judged with
/// North America (`1`) as the default country code. The import job
/// normalises again with the workspace's own default; this only tells the
/// user early which numbers will be kept as written.
pub(crate) fn phone_warning(raw: &str) -> Option<String> {
    kith_domain::phone::to_e164(raw, "1").err().map(|e| format!("phone {raw:?} kept as written: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_export_shapes() {
        assert_eq!(parse_date("1985-04-12").as_deref(), Some("1985-04-12"));
        assert_eq!(parse_date("1985-04-12T00:00:00Z").as_deref(), Some("1985-04-12"));
        assert_eq!(parse_date("19850412").as_deref(), Some("1985-04-12"));
        assert_eq!(parse_date("4/12/1985").as_deref(), Some("1985-04-12"));
        assert_eq!(parse_date("12.04.1985").as_deref(), Some("1985-04-12"));
        assert_eq!(parse_date("--0412").as_deref(), Some("--04-12"));
        assert_eq!(parse_date("--02-29").as_deref(), Some("--02-29"));
        for bad in ["", "1985", "13/01/1985", "1985-02-30", "85-04-12", "next tuesday", "--1301"] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn full_names() {
        assert_eq!(split_full_name("Ada  Lovelace"), (Some("Ada".into()), Some("Lovelace".into())));
        assert_eq!(split_full_name("Lovelace, Ada"), (Some("Ada".into()), Some("Lovelace".into())));
        assert_eq!(split_full_name("Mary Ann Evans"), (Some("Mary Ann".into()), Some("Evans".into())));
        assert_eq!(split_full_name("Cher"), (Some("Cher".into()), None));
        assert_eq!(split_full_name("  "), (None, None));
    }
}
