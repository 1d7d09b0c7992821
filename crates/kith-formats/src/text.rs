//! Turning an uploaded file's bytes into UTF-8 text.
//!
//! People upload what their tools produce: UTF-8 (with or without a byte
//! order mark), UTF-16 from Excel's "Unicode text" and Outlook, and
//! Windows-1252 from older Windows software. We recognise those three and
//! nothing else; anything that is not UTF-8 or UTF-16 is read as
//! Windows-1252, because every byte sequence is valid there and it is a
//! superset of Latin-1, so the worst outcome is a few odd characters the
//! user can see in the preview rather than a rejected file.
//!
//! This module must never read more than it needs to decide: the streaming
//! reader looks at the first 4 KiB, then transcodes chunk by chunk, so a
//! large file is never held in memory in both encodings.

use std::io::{self, BufRead, Read};

/// How much of the start of a stream is examined to pick an encoding.
const SNIFF_BYTES: usize = 4096;
/// How much is read from the source per refill when transcoding.
const CHUNK_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    Utf8,
    Utf16Le,
    Utf16Be,
    Windows1252,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Utf16Le => "utf-16le",
            Encoding::Utf16Be => "utf-16be",
            Encoding::Windows1252 => "windows-1252",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("the UTF-16 text ends in the middle of a character")]
    TruncatedUtf16,
    #[error("the UTF-16 text has a broken surrogate pair near byte {offset}")]
    UnpairedSurrogate { offset: u64 },
    #[error("reading the file failed: {0}")]
    Io(#[from] io::Error),
}

/// Decode a whole file held in memory. A byte order mark decides and is
/// dropped; without one, UTF-16 is recognised by its NUL bytes (see
/// [`sniff_utf16`]), then valid UTF-8 is UTF-8 and anything else is
/// Windows-1252.
///
/// The NUL check comes before the UTF-8 check on purpose: UTF-16 text in a
/// Latin script is also valid UTF-8 (every other byte a NUL), so the other
/// order would never find it.
pub fn decode(bytes: &[u8]) -> Result<(String, Encoding), DecodeError> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        // Declared UTF-8: stray invalid bytes are still read as Windows-1252
        // rather than failing the file, as the streaming reader does.
        let mut out = String::with_capacity(rest.len());
        utf8_lenient(rest, true, &mut out);
        return Ok((out, Encoding::Utf8));
    }
    let (encoding, body) = match bytes {
        [0xFF, 0xFE, rest @ ..] => (Encoding::Utf16Le, rest),
        [0xFE, 0xFF, rest @ ..] => (Encoding::Utf16Be, rest),
        _ => match sniff_utf16(&bytes[..bytes.len().min(SNIFF_BYTES)]) {
            Some(e) => (e, bytes),
            None => match std::str::from_utf8(bytes) {
                Ok(s) => return Ok((s.to_string(), Encoding::Utf8)),
                Err(_) => return Ok((bytes.iter().map(|&b| windows_1252(b)).collect(), Encoding::Windows1252)),
            },
        },
    };
    let mut out = String::with_capacity(body.len() / 2);
    let used = utf16(body, encoding == Encoding::Utf16Be, true, 0, &mut out)?;
    debug_assert_eq!(used, body.len());
    Ok((out, encoding))
}

/// Wrap a reader so it yields UTF-8, deciding the encoding from the first
/// 4 KiB (byte order mark, NUL pattern, then UTF-8 validity).
pub fn decode_reader<'a>(r: impl Read + 'a) -> Result<Box<dyn BufRead + 'a>, DecodeError> {
    decode_reader_with_encoding(r).map(|(reader, _)| reader)
}

/// [`decode_reader`], also saying which encoding was picked (for the import
/// preview).
///
/// When the first 4 KiB are valid UTF-8 the stream is read as UTF-8, but a
/// byte further on that is not valid UTF-8 is read as Windows-1252 instead
/// of failing: a spreadsheet whose header is plain ASCII and whose row 500
/// holds "Müller" in Latin-1 is common, and this keeps that name intact.
pub fn decode_reader_with_encoding<'a>(
    mut r: impl Read + 'a,
) -> Result<(Box<dyn BufRead + 'a>, Encoding), DecodeError> {
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    (&mut r).take(SNIFF_BYTES as u64).read_to_end(&mut head)?;
    let (mode, encoding, skip) = if head.starts_with(b"\xEF\xBB\xBF") {
        (Mode::Utf8, Encoding::Utf8, 3)
    } else if head.starts_with(&[0xFF, 0xFE]) {
        (Mode::Utf16 { big_endian: false }, Encoding::Utf16Le, 2)
    } else if head.starts_with(&[0xFE, 0xFF]) {
        (Mode::Utf16 { big_endian: true }, Encoding::Utf16Be, 2)
    } else if let Some(e) = sniff_utf16(&head) {
        (Mode::Utf16 { big_endian: e == Encoding::Utf16Be }, e, 0)
    } else {
        match std::str::from_utf8(&head) {
            // An error with no length is a character cut off by the 4 KiB
            // boundary, not an invalid one.
            Err(e) if e.error_len().is_some() => (Mode::Windows1252, Encoding::Windows1252, 0),
            _ => (Mode::Utf8, Encoding::Utf8, 0),
        }
    };
    head.drain(..skip);
    let reader =
        Transcoder { inner: r, mode, input: head, out: String::new(), pos: 0, eof: false, offset: skip as u64 };
    Ok((Box::new(reader), encoding))
}

/// UTF-16 without a byte order mark: in text that is mostly in a Latin
/// script, one byte of nearly every code unit is NUL, on the odd positions
/// for little-endian and the even ones for big-endian. Ordinary UTF-8 and
/// Windows-1252 files contain no NULs at all. Text mostly in other scripts
/// has no such pattern and is not recognised without a BOM.
pub fn sniff_utf16(sample: &[u8]) -> Option<Encoding> {
    let units = sample.len() / 2;
    if units == 0 {
        return None;
    }
    let even = sample.chunks_exact(2).filter(|u| u[0] == 0).count();
    let odd = sample.chunks_exact(2).filter(|u| u[1] == 0).count();
    let many = |n: usize| n * 10 >= units * 3;
    let few = |n: usize| n * 20 <= units;
    if many(odd) && few(even) {
        Some(Encoding::Utf16Le)
    } else if many(even) && few(odd) {
        Some(Encoding::Utf16Be)
    } else {
        None
    }
}

/// One Windows-1252 byte as a character. 0x00–0x7F and 0xA0–0xFF are the
/// same code points as Latin-1; 0x80–0x9F hold the typographic characters
/// Windows put there. The five bytes Windows leaves undefined map to the C1
/// control of the same value, so no byte is lost.
pub fn windows_1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '\u{20AC}', '\u{0081}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}', // 0x80
        '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{008D}', '\u{017D}', '\u{008F}', // 0x88
        '\u{0090}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}', // 0x90
        '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}', '\u{0153}', '\u{009D}', '\u{017E}', '\u{0178}', // 0x98
    ];
    match b {
        0x80..=0x9F => HIGH[usize::from(b - 0x80)],
        _ => char::from(b),
    }
}

/// Bytes that should be UTF-8 as text, any invalid byte read as
/// Windows-1252 (for values a vCard encodes itself, e.g. quoted-printable).
pub(crate) fn utf8_or_1252(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    utf8_lenient(bytes, true, &mut out);
    out
}

/// Append the UTF-8 in `bytes` to `out`, reading any invalid byte as
/// Windows-1252. Returns how many bytes were used: a character cut off at
/// the end is left for the next call unless `eof`.
fn utf8_lenient(bytes: &[u8], eof: bool, out: &mut String) -> usize {
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                return bytes.len();
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                // Never fails: `valid_up_to` marks the end of valid UTF-8.
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                let bad = match e.error_len() {
                    Some(n) => n,
                    None if eof => after.len(),
                    None => return bytes.len() - after.len(),
                };
                out.extend(after[..bad].iter().map(|&b| windows_1252(b)));
                rest = &after[bad..];
            }
        }
    }
}

/// Append UTF-16 code units from `bytes` to `out`. Returns the bytes used; an
/// odd byte or a high surrogate at the end waits for more input unless
/// `eof`. `offset` is where `bytes` starts in the file, for error messages.
fn utf16(bytes: &[u8], big_endian: bool, eof: bool, offset: u64, out: &mut String) -> Result<usize, DecodeError> {
    let mut units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|p| if big_endian { u16::from_be_bytes([p[0], p[1]]) } else { u16::from_le_bytes([p[0], p[1]]) })
        .collect();
    if eof && bytes.len() % 2 == 1 {
        return Err(DecodeError::TruncatedUtf16);
    }
    if !eof && units.last().is_some_and(|u| (0xD800..0xDC00).contains(u)) {
        units.pop();
    }
    for (i, c) in char::decode_utf16(units.iter().copied()).enumerate() {
        match c {
            Ok(c) => out.push(c),
            Err(_) => return Err(DecodeError::UnpairedSurrogate { offset: offset + 2 * i as u64 }),
        }
    }
    Ok(units.len() * 2)
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    Utf8,
    Windows1252,
    Utf16 { big_endian: bool },
}

/// A `BufRead` of UTF-8 over a source in another (or the same) encoding.
struct Transcoder<R> {
    inner: R,
    mode: Mode,
    /// Source bytes not yet transcoded (starts with the sniffed head).
    input: Vec<u8>,
    /// Transcoded text not yet handed out, from `pos`.
    out: String,
    pos: usize,
    eof: bool,
    /// Source offset of `input[0]`, for error messages.
    offset: u64,
}

impl<R: Read> Transcoder<R> {
    fn refill(&mut self) -> io::Result<()> {
        self.out.clear();
        self.pos = 0;
        while self.out.is_empty() && !(self.eof && self.input.is_empty()) {
            if !self.eof && self.input.len() < CHUNK_BYTES {
                let start = self.input.len();
                self.input.resize(start + CHUNK_BYTES, 0);
                let n = loop {
                    match self.inner.read(&mut self.input[start..]) {
                        Ok(n) => break n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => {
                            self.input.truncate(start);
                            return Err(e);
                        }
                    }
                };
                self.input.truncate(start + n);
                self.eof = n == 0;
            }
            let used = match self.mode {
                Mode::Utf8 => utf8_lenient(&self.input, self.eof, &mut self.out),
                Mode::Windows1252 => {
                    self.out.extend(self.input.iter().map(|&b| windows_1252(b)));
                    self.input.len()
                }
                Mode::Utf16 { big_endian } => utf16(&self.input, big_endian, self.eof, self.offset, &mut self.out)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?,
            };
            self.input.drain(..used);
            self.offset += used as u64;
        }
        Ok(())
    }
}

impl<R: Read> Read for Transcoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Transcoder<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.out.len() {
            self.refill()?;
        }
        Ok(&self.out.as_bytes()[self.pos..])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.out.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    fn utf16be(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_be_bytes).collect()
    }

    fn stream(bytes: &[u8]) -> (String, Encoding) {
        let (mut r, e) = decode_reader_with_encoding(bytes).unwrap();
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        (s, e)
    }

    /// Both decoders agree on every sample.
    fn both(bytes: &[u8]) -> (String, Encoding) {
        let whole = decode(bytes).unwrap();
        assert_eq!(stream(bytes), whole);
        whole
    }

    const TEXT: &str = "First Name,Last Name\nÑandú,Müller 😀\n";

    #[test]
    fn utf16_with_bom() {
        let mut le = vec![0xFF, 0xFE];
        le.extend(utf16le(TEXT));
        assert_eq!(both(&le), (TEXT.to_string(), Encoding::Utf16Le));
        let mut be = vec![0xFE, 0xFF];
        be.extend(utf16be(TEXT));
        assert_eq!(both(&be), (TEXT.to_string(), Encoding::Utf16Be));
    }

    #[test]
    fn utf16_without_bom() {
        assert_eq!(both(&utf16le(TEXT)), (TEXT.to_string(), Encoding::Utf16Le));
        assert_eq!(both(&utf16be(TEXT)), (TEXT.to_string(), Encoding::Utf16Be));
    }

    #[test]
    fn utf8_with_and_without_bom() {
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend(TEXT.as_bytes());
        assert_eq!(both(&bom), (TEXT.to_string(), Encoding::Utf8));
        assert_eq!(both(TEXT.as_bytes()), (TEXT.to_string(), Encoding::Utf8));
        assert_eq!(both(b""), (String::new(), Encoding::Utf8));
    }

    #[test]
    fn latin1_and_windows_1252() {
        // "Müller;Ñandú;€5 “quoted”" in Windows-1252.
        let bytes = b"M\xFCller;\xD1and\xFA;\x805 \x93quoted\x94";
        assert_eq!(both(bytes), ("Müller;Ñandú;€5 “quoted”".to_string(), Encoding::Windows1252));
    }

    #[test]
    fn late_latin1_bytes_in_a_utf8_stream_survive() {
        let mut bytes = "name\n".repeat(2000).into_bytes();
        bytes.extend(b"M\xFCller\n");
        let (s, e) = stream(&bytes);
        assert_eq!(e, Encoding::Utf8);
        assert!(s.ends_with("Müller\n"));
        // The whole-file decoder sees the bad byte and reads it all as 1252.
        assert_eq!(decode(&bytes).unwrap().1, Encoding::Windows1252);
    }

    #[test]
    fn characters_split_across_chunks() {
        // Multi-byte characters and surrogate pairs straddle every chunk
        // boundary at some point in this input.
        let text = "ä😀€x".repeat(40_000);
        assert_eq!(stream(text.as_bytes()), (text.clone(), Encoding::Utf8));
        let mut le = vec![0xFF, 0xFE];
        le.extend(utf16le(&text));
        assert_eq!(stream(&le), (text, Encoding::Utf16Le));
    }

    #[test]
    fn broken_utf16_is_an_error() {
        let mut le = vec![0xFF, 0xFE];
        le.extend(utf16le("ab"));
        le.push(b'c');
        assert!(matches!(decode(&le), Err(DecodeError::TruncatedUtf16)));
        let mut lone = vec![0xFF, 0xFE];
        lone.extend(utf16le("ab"));
        lone.extend([0x00, 0xD8, b'c', 0]);
        assert!(matches!(decode(&lone), Err(DecodeError::UnpairedSurrogate { .. })));
        let (mut r, _) = decode_reader_with_encoding(&lone[..]).unwrap();
        assert_eq!(r.read_to_string(&mut String::new()).unwrap_err().kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn windows_1252_table_edges() {
        assert_eq!(windows_1252(0x80), '€');
        assert_eq!(windows_1252(0x9F), 'Ÿ');
        assert_eq!(windows_1252(0x81), '\u{81}');
        assert_eq!(windows_1252(0xA0), '\u{a0}');
        assert_eq!(windows_1252(0xFF), 'ÿ');
        assert_eq!(windows_1252(b'A'), 'A');
    }
}
