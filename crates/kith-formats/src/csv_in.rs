//! Reading CSV exports row by row, so one bad row costs one row and not the
//! whole import, and turning a row into an [`ImportedContact`] through a
//! column [`Mapping`].
//!
//! Why this module splits records itself instead of using the `csv` crate's
//! reader (the crate is used for writing, in [`crate::csv_out`]): that reader
//! never reports unbalanced quotes. A cell that opens a quote and never
//! closes it silently absorbs every following row up to the end of the file,
//! and `"a"b` is quietly read as `ab`. It also grows a record without bound
//! before any size check could run. Here a record is scanned byte by byte
//! with RFC 4180 rules plus the usual leniency (a quote inside an unquoted
//! cell is just a character; blanks after a closing quote are allowed), and:
//!
//! - a cell over 1 MiB, a row over 1,000 cells or over 16 MiB is an error
//!   for that row only, and nothing past the limit is kept in memory;
//! - a closing quote followed by other text, or a quote still open at the
//!   end of the file, is `broken_quoting` for the row where it opened, and
//!   reading starts again on the line after that row's first line, so the
//!   rows the open quote had swallowed come back.
//!
//! The limit of that recovery: an open quote is only noticed when the text
//! after it stops looking like CSV. If a later line happens to close it
//! properly (`…","…` patterns), the rows in between become one multi-line
//! cell, exactly as every other CSV reader would read them. And rows
//! swallowed beyond 4 MiB are not kept for re-reading; that error says so.
//!
//! This module must never guess an encoding (the caller decodes with
//! [`crate::text`]) and never decide what a contact means for the CRM.

use std::io::{self, BufRead};

use kith_domain::validate::normalize_email;

use crate::contact::{parse_date, phone_warning, set_once, split_full_name};
use crate::csv_out::unescape_formula;
use crate::presets::{Mapping, Target};
use crate::{ImportedContact, RowError, RowErrorKind};

/// Largest cell kept, in bytes.
pub const MAX_CELL_BYTES: usize = 1 << 20;
/// Most columns a header (and cells a row) may have.
pub const MAX_COLUMNS: usize = 1000;
/// Largest row kept, in bytes: bounds memory even with 1,000 large cells.
pub const MAX_ROW_BYTES: usize = 16 << 20;
/// How much of a row's continuation lines is kept to re-read them when its
/// quoting turns out to be broken.
const RESYNC_BYTES: usize = 4 << 20;
/// How much of the first line is looked at to choose the delimiter.
const SNIFF_LINE_BYTES: usize = 1 << 20;

/// A problem with the file as a whole: nothing can be imported from it.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("the file is empty: there is no header row")]
    Empty,
    #[error("the header row has more than 1,000 columns")]
    TooManyColumns,
    #[error("the header row cannot be read: {0}")]
    BadHeader(RowErrorKind),
    #[error("reading the file failed: {0}")]
    Io(#[from] io::Error),
}

impl FileError {
    pub fn code(&self) -> &'static str {
        match self {
            FileError::Empty => "empty_file",
            FileError::TooManyColumns => "too_many_columns",
            FileError::BadHeader(_) => "bad_header",
            FileError::Io(_) => "io",
        }
    }
}

/// One data row. `line` is its 1-based record number after the header
/// (blank rows count, so it matches the spreadsheet row number minus one
/// while no cell spans lines). `cells` has what the row has: fewer or more
/// cells than the header is fine; see [`Row::cell`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub line: u64,
    pub cells: Vec<String>,
}

impl Row {
    /// The cell in `column`, or `""` when the row is shorter.
    pub fn cell(&self, column: usize) -> &str {
        self.cells.get(column).map_or("", String::as_str)
    }
}

/// The data rows of a CSV file, after its header. Rows whose cells are all
/// empty are skipped. After an I/O error the iterator ends.
pub struct Rows<R> {
    tokenizer: Tokenizer<R>,
    headers: Vec<String>,
    line: u64,
    done: bool,
}

impl<R: BufRead> Rows<R> {
    /// Read the header row. The delimiter is whichever of `,` `;` and tab
    /// occurs most often (outside quotes) on the first line; a comma wins a
    /// tie, and a one-column file is comma-separated.
    pub fn new(mut src: R) -> Result<Self, FileError> {
        let mut first = read_line_capped(&mut src, SNIFF_LINE_BYTES)?;
        if first.starts_with(b"\xEF\xBB\xBF") {
            first.drain(..3);
        }
        let delimiter = sniff_delimiter(&first);
        let mut tokenizer =
            Tokenizer { src, replay: first, replay_pos: 0, delimiter, leading_lf: false, exhausted: false };
        let headers = loop {
            match tokenizer.next_record()? {
                Record::End => return Err(FileError::Empty),
                Record::Failed(RowErrorKind::TooManyCells) => return Err(FileError::TooManyColumns),
                Record::Failed(kind) => return Err(FileError::BadHeader(kind)),
                Record::Cells(cells) if cells.iter().all(|c| c.trim().is_empty()) => continue,
                Record::Cells(cells) => break cells,
            }
        };
        let headers = headers.iter().map(|h| h.trim_start_matches('\u{feff}').trim().to_string()).collect();
        Ok(Rows { tokenizer, headers, line: 0, done: false })
    }

    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    pub fn delimiter(&self) -> u8 {
        self.tokenizer.delimiter
    }
}

impl<R: BufRead> Iterator for Rows<R> {
    type Item = Result<Row, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let record = self.tokenizer.next_record();
            if !matches!(record, Ok(Record::End)) {
                self.line += 1;
            }
            match record {
                Ok(Record::End) => self.done = true,
                Ok(Record::Cells(cells)) if cells.iter().all(|c| c.trim().is_empty()) => {}
                Ok(Record::Cells(cells)) => return Some(Ok(Row { line: self.line, cells })),
                Ok(Record::Failed(kind)) => return Some(Err(RowError::new(self.line, kind))),
                Err(e) => {
                    self.done = true;
                    return Some(Err(RowError::new(self.line, RowErrorKind::Io(e.to_string()))));
                }
            }
        }
        None
    }
}

/// Build a contact from a row. An e-mail address that is not valid fails the
/// row (`invalid_email`): importing a contact without the address the user
/// expected would be silently lossy. A phone number that does not look
/// dialable is kept as written with a warning. A row without any name,
/// e-mail or phone fails as `empty_row`.
///
/// E-mail, phone and tag cells may hold several values separated by `;` or
/// `,`. When several columns feed a single-valued field, the leftmost
/// non-empty one wins. A leading `'` that [`crate::csv_out`] added against
/// formula injection is removed again, so Kith's own exports re-import.
pub fn to_contact(mapping: &Mapping, row: &Row) -> Result<ImportedContact, RowError> {
    let fail = |kind| RowError::new(row.line, kind);
    let mut c = ImportedContact::default();
    let mut full_name = None;
    for (column, target) in mapping.targets().iter().enumerate() {
        let cell = unescape_formula(row.cell(column).trim());
        let cell = cell.trim();
        if cell.is_empty() {
            continue;
        }
        match target {
            Target::Ignore => {}
            Target::FirstName => set_once(&mut c.first_name, cell),
            Target::LastName => set_once(&mut c.last_name, cell),
            Target::FullName => set_once(&mut full_name, cell),
            Target::Email(label) => {
                for part in split_list(cell) {
                    let address = angle_address(part);
                    let email =
                        normalize_email(address).ok_or_else(|| fail(RowErrorKind::InvalidEmail(part.into())))?;
                    if !c.emails.iter().any(|(e, _)| *e == email) {
                        c.emails.push((email, label.clone()));
                    }
                }
            }
            Target::Phone(label) => {
                for part in split_list(cell) {
                    if !c.phones.iter().any(|(p, _)| p == part) {
                        c.warnings.extend(phone_warning(part));
                        c.phones.push((part.to_string(), label.clone()));
                    }
                }
            }
            Target::Company => set_once(&mut c.company, cell),
            Target::Title => set_once(&mut c.title, cell),
            Target::Birthday if c.birthday.is_some() => {}
            Target::Birthday => match parse_date(cell) {
                Some(date) => c.birthday = Some(date),
                None => c.warnings.push(format!("birthday {cell:?} is not a date we understand; left out")),
            },
            Target::TimeZone => set_once(&mut c.time_zone, cell),
            Target::Source => set_once(&mut c.source, cell),
            Target::Street => set_once(&mut c.address.street, cell),
            Target::City => set_once(&mut c.address.city, cell),
            Target::Region => set_once(&mut c.address.region, cell),
            Target::PostalCode => set_once(&mut c.address.postal_code, cell),
            Target::Country => set_once(&mut c.address.country, cell),
            Target::Website => set_once(&mut c.website, cell),
            Target::Tags => {
                for tag in split_list(cell) {
                    crate::contact::push_unique(&mut c.tags, tag.to_string());
                }
            }
            Target::Custom(key) => {
                if !c.custom.iter().any(|(k, _)| k == key) {
                    c.custom.push((key.clone(), cell.to_string()));
                }
            }
        }
    }
    if let (Some(full), None, None) = (full_name, &c.first_name, &c.last_name) {
        (c.first_name, c.last_name) = split_full_name(&full);
    }
    if !c.has_identity() {
        return Err(fail(RowErrorKind::EmptyRow));
    }
    Ok(c)
}

/// The non-empty, trimmed parts of a cell that lists several values.
fn split_list(cell: &str) -> impl Iterator<Item = &str> {
    cell.split([';', ',']).map(str::trim).filter(|s| !s.is_empty())
}

/// `Ada Lovelace <ada@example.com>` → `ada@example.com`, as mail clients
/// export it; anything else unchanged.
fn angle_address(part: &str) -> &str {
    match (part.rfind('<'), part.rfind('>')) {
        (Some(open), Some(close)) if open < close => &part[open + 1..close],
        _ => part,
    }
}

/// The first line of the source, up to and including its `\n`, or the first
/// `cap` bytes of it.
fn read_line_capped(src: &mut impl BufRead, cap: usize) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    while line.len() < cap && !line.ends_with(b"\n") {
        let buf = src.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let upto = buf.iter().position(|&b| b == b'\n').map_or(buf.len(), |i| i + 1);
        let take = upto.min(cap - line.len());
        line.extend_from_slice(&buf[..take]);
        src.consume(take);
    }
    Ok(line)
}

fn sniff_delimiter(line: &[u8]) -> u8 {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for &b in line {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let best = (0..3).fold(0, |best, i| if counts[i] > counts[best] { i } else { best });
    [b',', b';', b'\t'][best]
}

enum Record {
    Cells(Vec<String>),
    Failed(RowErrorKind),
    End,
}

/// Splits the byte stream into records. Bytes in `replay` (the sniffed
/// first line, or lines to re-read after broken quoting) come before the
/// rest of `src`.
struct Tokenizer<R> {
    src: R,
    replay: Vec<u8>,
    replay_pos: usize,
    delimiter: u8,
    /// The last record ended with CR: an LF right after it belongs to it.
    leading_lf: bool,
    /// `src` returned end of file; it is not asked again.
    exhausted: bool,
}

impl<R: BufRead> Tokenizer<R> {
    fn next_record(&mut self) -> io::Result<Record> {
        let delimiter = self.delimiter;
        let mut scan = Scan::new(std::mem::take(&mut self.leading_lf));
        loop {
            let from_replay = self.replay_pos < self.replay.len();
            let chunk: &[u8] = if from_replay {
                &self.replay[self.replay_pos..]
            } else if self.exhausted {
                &[]
            } else {
                self.src.fill_buf()?
            };
            if chunk.is_empty() {
                self.exhausted = true;
                return Ok(match scan.finish() {
                    Step::More => Record::End,
                    Step::Done => scan.into_record(),
                    Step::Resync(kind) => self.resync(scan, kind),
                });
            }
            let mut used = 0;
            let mut step = Step::More;
            for &b in chunk {
                used += 1;
                step = scan.feed(b, delimiter);
                if !matches!(step, Step::More) {
                    break;
                }
            }
            if from_replay {
                self.replay_pos += used;
                if self.replay_pos == self.replay.len() {
                    self.replay = Vec::new();
                    self.replay_pos = 0;
                }
            } else {
                self.src.consume(used);
            }
            match step {
                Step::More => {}
                Step::Done => {
                    self.leading_lf = scan.ended_with_cr;
                    return Ok(scan.into_record());
                }
                Step::Resync(kind) => return Ok(self.resync(scan, kind)),
            }
        }
    }

    /// Queue the lines a broken row had swallowed to be read again.
    fn resync(&mut self, scan: Scan, kind: RowErrorKind) -> Record {
        let unread = self.replay.split_off(self.replay_pos);
        self.replay = scan.raw;
        self.replay.extend_from_slice(&unread);
        self.replay_pos = 0;
        Record::Failed(kind)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    FieldStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted cell: the cell's end, or the first half of `""`.
    QuoteInQuoted,
    /// Blanks after a closed quoted cell, before the delimiter.
    AfterQuoted,
    /// The row is already failed; skip to the end of the line.
    SkipLine,
}

enum Step {
    More,
    Done,
    Resync(RowErrorKind),
}

/// The state of one record being scanned.
struct Scan {
    state: State,
    cells: Vec<String>,
    cell: Vec<u8>,
    cell_count: usize,
    row_bytes: usize,
    error: Option<RowErrorKind>,
    /// Anything but a line ending has been seen.
    content: bool,
    leading_lf: bool,
    ended_with_cr: bool,
    /// A line break inside quotes has been passed: from here on, bytes are
    /// kept in `raw` in case the quoting turns out to be broken.
    multiline: bool,
    /// The line break that started `raw` was a CR; an LF right after it is
    /// part of the same break.
    drop_lf: bool,
    raw: Vec<u8>,
    raw_lost: bool,
}

impl Scan {
    fn new(leading_lf: bool) -> Self {
        Scan {
            state: State::FieldStart,
            cells: Vec::new(),
            cell: Vec::new(),
            cell_count: 0,
            row_bytes: 0,
            error: None,
            content: false,
            leading_lf,
            ended_with_cr: false,
            multiline: false,
            drop_lf: false,
            raw: Vec::new(),
            raw_lost: false,
        }
    }

    fn feed(&mut self, b: u8, delimiter: u8) -> Step {
        if std::mem::take(&mut self.leading_lf) && b == b'\n' {
            return Step::More;
        }
        if self.multiline && !(std::mem::take(&mut self.drop_lf) && b == b'\n') && !self.raw_lost {
            if self.raw.len() < RESYNC_BYTES {
                self.raw.push(b);
            } else {
                self.raw_lost = true;
                self.raw = Vec::new();
            }
        }
        let eol = b == b'\n' || b == b'\r';
        if !eol {
            self.content = true;
        }
        match self.state {
            State::SkipLine if eol => return self.end_line(b),
            State::SkipLine => {}
            State::FieldStart | State::Unquoted | State::AfterQuoted if b == delimiter => self.end_cell(),
            State::FieldStart | State::Unquoted | State::AfterQuoted | State::QuoteInQuoted if eol => {
                self.end_cell();
                return self.end_line(b);
            }
            State::FieldStart if b == b'"' => self.state = State::Quoted,
            State::FieldStart | State::Unquoted => {
                self.state = State::Unquoted;
                self.push(b);
            }
            State::Quoted if b == b'"' => self.state = State::QuoteInQuoted,
            State::Quoted => {
                if eol && !self.multiline {
                    self.multiline = true;
                    self.drop_lf = b == b'\r';
                }
                self.push(b);
            }
            State::QuoteInQuoted if b == b'"' => {
                self.state = State::Quoted;
                self.push(b);
            }
            State::QuoteInQuoted if b == delimiter => self.end_cell(),
            State::QuoteInQuoted | State::AfterQuoted if b == b' ' || b == b'\t' => self.state = State::AfterQuoted,
            State::QuoteInQuoted | State::AfterQuoted => {
                return self.broken("text follows the closing quote of a cell");
            }
        }
        Step::More
    }

    /// End of input. `More` means there was no record at all.
    fn finish(&mut self) -> Step {
        match self.state {
            State::FieldStart if !self.content && self.cells.is_empty() => Step::More,
            State::Quoted => match self.broken("a quoted cell is never closed") {
                Step::More => Step::Done,
                step => step,
            },
            State::SkipLine => Step::Done,
            _ => {
                self.end_cell();
                Step::Done
            }
        }
    }

    /// Broken quoting: re-read the swallowed lines if we have them, otherwise
    /// drop the rest of the current line and carry on after it.
    fn broken(&mut self, reason: &str) -> Step {
        if self.multiline && !self.raw_lost {
            return Step::Resync(RowErrorKind::BrokenQuoting(reason.to_string()));
        }
        let reason = if self.raw_lost {
            format!("{reason}; the rows it swallowed (over 4 MiB) could not be recovered")
        } else {
            reason.to_string()
        };
        self.error = Some(RowErrorKind::BrokenQuoting(reason));
        self.state = State::SkipLine;
        self.cells = Vec::new();
        self.cell = Vec::new();
        Step::More
    }

    fn end_line(&mut self, b: u8) -> Step {
        self.ended_with_cr = b == b'\r';
        Step::Done
    }

    fn push(&mut self, b: u8) {
        if self.error.is_some() {
            return;
        }
        self.row_bytes += 1;
        if self.cell.len() >= MAX_CELL_BYTES {
            self.fail(RowErrorKind::CellTooLarge);
        } else if self.row_bytes > MAX_ROW_BYTES {
            self.fail(RowErrorKind::RowTooLarge);
        } else {
            self.cell.push(b);
        }
    }

    fn end_cell(&mut self) {
        self.state = State::FieldStart;
        self.cell_count += 1;
        if self.cell_count > MAX_COLUMNS {
            self.fail(RowErrorKind::TooManyCells);
        }
        if self.error.is_some() {
            return;
        }
        let bytes = std::mem::take(&mut self.cell);
        // The caller decodes to UTF-8 first; a stray invalid byte becomes U+FFFD
        // rather than failing the row.
        let text = String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        self.cells.push(text);
    }

    /// Fail the row and free what it holds: nothing more of it is kept.
    fn fail(&mut self, kind: RowErrorKind) {
        if self.error.is_none() {
            self.error = Some(kind);
        }
        self.cells = Vec::new();
        self.cell = Vec::new();
    }

    fn into_record(self) -> Record {
        match self.error {
            Some(kind) => Record::Failed(kind),
            None => Record::Cells(self.cells),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets::{default_mapping, Preset};

    fn rows(text: &str) -> (Vec<String>, Vec<Result<Row, RowError>>) {
        let rows = Rows::new(text.as_bytes()).unwrap();
        (rows.headers().to_vec(), rows.collect())
    }

    fn ok_lines(results: &[Result<Row, RowError>]) -> Vec<u64> {
        results.iter().filter_map(|r| r.as_ref().ok()).map(|r| r.line).collect()
    }

    fn cells(results: &[Result<Row, RowError>], line: u64) -> Vec<&str> {
        let row = results.iter().filter_map(|r| r.as_ref().ok()).find(|r| r.line == line).unwrap();
        row.cells.iter().map(String::as_str).collect()
    }

    #[test]
    fn plain_quoted_and_ragged_rows() {
        let text = "\u{feff}Name;Email;Note\r\nAda;ada@example.com;\"says \"\"hi\"\"; twice\"\r\n\r\n\
                    Bob;bob@example.com\r\n\"Cy\";\"cy@example.com\" ;\"two\r\nlines\";extra\r\nDee";
        let (headers, results) = rows(text);
        assert_eq!(headers, ["Name", "Email", "Note"]);
        assert_eq!(ok_lines(&results), [1, 3, 4, 5]);
        assert_eq!(cells(&results, 1), ["Ada", "ada@example.com", "says \"hi\"; twice"]);
        assert_eq!(cells(&results, 3), ["Bob", "bob@example.com"]);
        assert_eq!(cells(&results, 4), ["Cy", "cy@example.com", "two\r\nlines", "extra"]);
        assert_eq!(cells(&results, 5), ["Dee"]);
    }

    #[test]
    fn delimiters_are_sniffed() {
        assert_eq!(Rows::new(&b"a,b;c\n"[..]).unwrap().delimiter(), b',');
        assert_eq!(Rows::new(&b"a;b;c,d\n"[..]).unwrap().delimiter(), b';');
        assert_eq!(Rows::new(&b"a\tb\t\"c,d,e\"\n"[..]).unwrap().delimiter(), b'\t');
        assert_eq!(Rows::new(&b"name\n"[..]).unwrap().delimiter(), b',');
        assert!(matches!(Rows::new(&b"\n\n"[..]), Err(FileError::Empty)));
    }

    #[test]
    fn an_unclosed_quote_does_not_swallow_the_rest_of_the_file() {
        let text = "a,b,c\n1,2,3\n4,5,6\n7,\"8,9\n10,11,12\n13,14,15\n";
        let (_, results) = rows(text);
        assert_eq!(ok_lines(&results), [1, 2, 4, 5]);
        let err = results[2].as_ref().unwrap_err();
        assert_eq!((err.line, err.code()), (3, "broken_quoting"));
        assert_eq!(cells(&results, 4), ["10", "11", "12"]);
        assert_eq!(cells(&results, 5), ["13", "14", "15"]);
    }

    #[test]
    fn an_unclosed_quote_is_caught_at_the_next_quoted_cell() {
        // Row 3's quote is "closed" by the quote that opens a cell in row 4;
        // the text after it shows the quoting is broken.
        let text = "a,b,c\r\n1,2,3\r\n4,5,6\r\n7,\"8,9\r\n10,\"11\",12\r\n13,14,15\r\n";
        let (_, results) = rows(text);
        assert_eq!(ok_lines(&results), [1, 2, 4, 5]);
        assert_eq!(results[2].as_ref().unwrap_err().code(), "broken_quoting");
        assert_eq!(cells(&results, 4), ["10", "11", "12"]);
    }

    #[test]
    fn text_after_a_closing_quote_fails_only_its_row() {
        let text = "a,b\n1,2\n3,\"x\"y\n5,6\n";
        let (_, results) = rows(text);
        assert_eq!(ok_lines(&results), [1, 3]);
        assert_eq!(results[1].as_ref().unwrap_err().line, 2);
        assert_eq!(cells(&results, 3), ["5", "6"]);
    }

    #[test]
    fn an_unclosed_quote_on_the_last_row() {
        let (_, results) = rows("a,b\n1,2\n3,\"4");
        assert_eq!(ok_lines(&results), [1]);
        assert_eq!(results[1].as_ref().unwrap_err().code(), "broken_quoting");
    }

    #[test]
    fn chunk_boundaries_and_line_endings_do_not_matter() {
        let samples =
            ["a,b\r\n1,\"x\r\ny\"\r\n2,3\r\n", "a,b\r1,2\r3,4", "a,b\n1,2\n3,\"x\"y\n4,\"5\n6,7\n8,\"9\",10\n"];
        for text in samples {
            let whole: Vec<_> = Rows::new(text.as_bytes()).unwrap().collect();
            let bytewise: Vec<_> = Rows::new(io::BufReader::with_capacity(1, text.as_bytes())).unwrap().collect();
            assert_eq!(whole, bytewise, "{text:?}");
        }
        let (_, results) = rows(samples[1]);
        assert_eq!(cells(&results, 2), ["3", "4"]);
        let (_, results) = rows(samples[2]);
        assert_eq!(ok_lines(&results), [1, 4, 5]);
        assert_eq!(cells(&results, 5), ["8", "9", "10"]);
    }

    #[test]
    fn a_huge_cell_fails_its_row_only() {
        let big = "x".repeat(2 << 20);
        for cell in [big.clone(), format!("\"{big}\"")] {
            let text = format!("a,b\n1,2\n3,{cell}\n5,6\n");
            let (_, results) = rows(&text);
            assert_eq!(ok_lines(&results), [1, 3]);
            let err = results[1].as_ref().unwrap_err();
            assert_eq!((err.line, err.code()), (2, "cell_too_large"));
        }
    }

    #[test]
    fn too_many_columns_is_a_file_error() {
        let header = (0..1001).map(|i| format!("c{i}")).collect::<Vec<_>>().join(",");
        let err = Rows::new(format!("{header}\n1,2\n").as_bytes()).err().unwrap();
        assert_eq!(err.code(), "too_many_columns");
        let header = (0..1000).map(|i| format!("c{i}")).collect::<Vec<_>>().join(",");
        assert_eq!(Rows::new(format!("{header}\n").as_bytes()).unwrap().headers().len(), 1000);
    }

    #[test]
    fn reads_through_a_decoder() {
        let bytes = b"First Name;Last Name\r\nJos\xE9;M\xFCller\r\n";
        let rows = Rows::new(crate::text::decode_reader(&bytes[..]).unwrap()).unwrap();
        let all: Vec<_> = rows.map(Result::unwrap).collect();
        assert_eq!(all[0].cells, ["José", "Müller"]);
    }

    #[test]
    fn rows_become_contacts() {
        let text = "Name,E-mail,Mobile,Birthday,Tags,Company\n\
                    Ada Lovelace,Ada@Example.com; ada@work.example,+44 20 7946 0958,12/10/1815,\"vip, math\",Analytical\n\
                    Bob,bob@example.com,call me,someday,,\n\
                    Cy,not-an-email,,,,\n\
                    ,,,,,Acme\n";
        let mut rows = Rows::new(text.as_bytes()).unwrap();
        let mapping = default_mapping(Preset::Generic, rows.headers());
        let ada = to_contact(&mapping, &rows.next().unwrap().unwrap()).unwrap();
        assert_eq!((ada.first_name.as_deref(), ada.last_name.as_deref()), (Some("Ada"), Some("Lovelace")));
        assert_eq!(ada.emails, [("ada@example.com".into(), None), ("ada@work.example".into(), None)]);
        assert_eq!(ada.phones, [("+44 20 7946 0958".into(), Some("mobile".into()))]);
        assert_eq!(ada.birthday.as_deref(), Some("1815-12-10"));
        assert_eq!(ada.tags, ["vip", "math"]);
        assert_eq!(ada.company.as_deref(), Some("Analytical"));
        assert!(ada.warnings.is_empty());

        let bob = to_contact(&mapping, &rows.next().unwrap().unwrap()).unwrap();
        assert_eq!(bob.phones, [("call me".into(), Some("mobile".into()))]);
        assert_eq!(bob.warnings.len(), 2, "{:?}", bob.warnings);

        let cy = to_contact(&mapping, &rows.next().unwrap().unwrap()).unwrap_err();
        assert_eq!((cy.line, cy.code()), (3, "invalid_email"));
        let acme = to_contact(&mapping, &rows.next().unwrap().unwrap()).unwrap_err();
        assert_eq!((acme.line, acme.code()), (4, "empty_row"));
    }
}
