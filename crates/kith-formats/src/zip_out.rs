//! Writing ZIP archives as a stream (PKWARE APPNOTE 6.3.x, the subset every
//! unzip reads): entries are *stored* (not compressed), names are UTF-8, and
//! each entry's CRC-32 and size follow its data in a data descriptor, so an
//! entry is written as its bytes arrive and nothing is held back or sought.
//! Only the central directory (a few dozen bytes per entry) stays in memory.
//!
//! No ZIP64: an archive that would reach 4 GiB, or more than 65,535 entries,
//! is refused with [`ZipError::TooLarge`] before a byte past the limit is
//! written, rather than produced corrupt.
//!
//! Known limit: Java's `ZipInputStream` (which reads front to back and
//! ignores the central directory) refuses stored entries with data
//! descriptors; `unzip`, Windows Explorer, macOS, Python and Java's `ZipFile`
//! read these archives.
//!
//! This module must never write anywhere but the `Write` it is given.

use std::io::{self, Write};

use kith_domain::time::UtcDateTime;

const LOCAL_HEADER: u32 = 0x0403_4b50;
const DATA_DESCRIPTOR: u32 = 0x0807_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const END_OF_CENTRAL_DIRECTORY: u32 = 0x0605_4b50;
/// 2.0: the version that introduced stored entries with data descriptors.
const VERSION_NEEDED: u16 = 20;
/// Made on Unix (3), spec 2.0: lets unzip apply the file mode below.
const VERSION_MADE_BY: u16 = (3 << 8) | 20;
/// Bit 3: sizes and CRC in a data descriptor; bit 11: the name is UTF-8.
const FLAGS: u16 = (1 << 3) | (1 << 11);
/// A regular file, rw-r--r--, in the upper half (Unix attributes).
const EXTERNAL_ATTRIBUTES: u32 = 0o100644 << 16;
/// 0xFFFF_FFFF in a size or offset field means "see ZIP64", so one less is the largest value.
const MAX_32: u64 = 0xFFFF_FFFE;
const MAX_ENTRIES: usize = 0xFFFF;

#[derive(Debug, thiserror::Error)]
pub enum ZipError {
    #[error("the archive would be larger than 4 GiB or hold more than 65,535 files (ZIP64 is not supported)")]
    TooLarge,
    #[error("an entry name must be 1 to 65,535 bytes, relative, without backslashes or empty parts")]
    BadName,
    #[error("{0}")]
    Misuse(&'static str),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// CRC-32 (ISO-HDLC, as ZIP, PNG and Ethernet use it), computed with a
/// 256-entry table built at compile time.
#[derive(Debug, Clone, Copy, Default)]
pub struct Crc32(u32);

const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut bit = 0;
        while bit < 8 {
            // The reflected polynomial 0x04C11DB7.
            c = if c & 1 == 1 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            bit += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
}

static CRC_TABLE: [u32; 256] = crc_table();

impl Crc32 {
    pub fn new() -> Crc32 {
        Crc32(0)
    }

    pub fn update(&mut self, data: &[u8]) {
        let mut c = !self.0;
        for &b in data {
            c = CRC_TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
        }
        self.0 = !c;
    }

    pub fn value(&self) -> u32 {
        self.0
    }

    pub fn of(data: &[u8]) -> u32 {
        let mut c = Crc32::new();
        c.update(data);
        c.value()
    }
}

/// MS-DOS date and time (2-second resolution, years 1980–2107) of a moment.
fn dos_date_time(t: &UtcDateTime) -> (u16, u16) {
    if t.year < 1980 {
        return (1 << 5 | 1, 0); // 1980-01-01 00:00
    }
    let year = (t.year - 1980).min(127) as u16;
    let date = (year << 9) | ((t.month as u16) << 5) | t.day as u16;
    let time = ((t.hour as u16) << 11) | ((t.minute as u16) << 5) | (t.second as u16 / 2);
    (date, time)
}

struct Entry {
    name: String,
    date: u16,
    time: u16,
    crc: u32,
    size: u32,
    offset: u32,
}

struct Open {
    entry: Entry,
    crc: Crc32,
    size: u64,
}

/// A ZIP archive being written to `W`. Call [`ZipWriter::start_entry`],
/// [`ZipWriter::write_data`] as often as needed, [`ZipWriter::finish_entry`];
/// then [`ZipWriter::finish`] for the central directory.
///
/// The writer counts the bytes it hands to `W` itself, so a caller may take
/// what has accumulated in the destination (e.g. drain a `Vec<u8>` through
/// [`ZipWriter::get_mut`]) between calls.
pub struct ZipWriter<W: Write> {
    inner: W,
    offset: u64,
    entries: Vec<Entry>,
    open: Option<Open>,
    limit: u64,
}

impl<W: Write> ZipWriter<W> {
    pub fn new(inner: W) -> Self {
        ZipWriter { inner, offset: 0, entries: Vec::new(), open: None, limit: MAX_32 }
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.offset
    }

    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), ZipError> {
        if self.offset + bytes.len() as u64 > self.limit {
            return Err(ZipError::TooLarge);
        }
        self.inner.write_all(bytes)?;
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// Begin an entry called `name` (a relative path with `/` separators),
    /// last modified at `modified`.
    pub fn start_entry(&mut self, name: &str, modified: &UtcDateTime) -> Result<(), ZipError> {
        if self.open.is_some() {
            return Err(ZipError::Misuse("finish the open entry before starting another"));
        }
        let bad = name.is_empty()
            || name.len() > 0xFFFF
            || name.starts_with('/')
            || name.contains('\\')
            || name.split('/').any(|part| part.is_empty() || part == "." || part == "..")
            || name.chars().any(char::is_control);
        if bad {
            return Err(ZipError::BadName);
        }
        if self.entries.len() >= MAX_ENTRIES {
            return Err(ZipError::TooLarge);
        }
        let (date, time) = dos_date_time(modified);
        let offset = self.offset;
        let mut h = Vec::with_capacity(30 + name.len());
        h.extend_from_slice(&LOCAL_HEADER.to_le_bytes());
        h.extend_from_slice(&VERSION_NEEDED.to_le_bytes());
        h.extend_from_slice(&FLAGS.to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes()); // stored
        h.extend_from_slice(&time.to_le_bytes());
        h.extend_from_slice(&date.to_le_bytes());
        h.extend_from_slice(&[0; 12]); // CRC and sizes: in the data descriptor
        h.extend_from_slice(&(name.len() as u16).to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes()); // no extra field
        h.extend_from_slice(name.as_bytes());
        self.put(&h)?;
        self.open = Some(Open {
            entry: Entry { name: name.to_string(), date, time, crc: 0, size: 0, offset: offset as u32 },
            crc: Crc32::new(),
            size: 0,
        });
        Ok(())
    }

    /// Append to the open entry.
    pub fn write_data(&mut self, data: &[u8]) -> Result<(), ZipError> {
        if self.open.is_none() {
            return Err(ZipError::Misuse("no entry is open"));
        }
        self.put(data)?;
        let open = self.open.as_mut().expect("checked above");
        open.crc.update(data);
        open.size += data.len() as u64;
        Ok(())
    }

    /// Close the open entry: its data descriptor.
    pub fn finish_entry(&mut self) -> Result<(), ZipError> {
        let Some(open) = self.open.take() else {
            return Err(ZipError::Misuse("no entry is open"));
        };
        let mut entry = open.entry;
        entry.crc = open.crc.value();
        // `put` kept the whole archive below the limit, so the size fits too.
        entry.size = open.size as u32;
        let mut d = Vec::with_capacity(16);
        d.extend_from_slice(&DATA_DESCRIPTOR.to_le_bytes());
        d.extend_from_slice(&entry.crc.to_le_bytes());
        d.extend_from_slice(&entry.size.to_le_bytes()); // compressed = stored size
        d.extend_from_slice(&entry.size.to_le_bytes());
        self.put(&d)?;
        self.entries.push(entry);
        Ok(())
    }

    /// Write the central directory and hand back the destination.
    pub fn finish(mut self) -> Result<W, ZipError> {
        if self.open.is_some() {
            return Err(ZipError::Misuse("finish the open entry before the archive"));
        }
        let start = self.offset;
        let entries = std::mem::take(&mut self.entries);
        for e in &entries {
            let mut c = Vec::with_capacity(46 + e.name.len());
            c.extend_from_slice(&CENTRAL_HEADER.to_le_bytes());
            c.extend_from_slice(&VERSION_MADE_BY.to_le_bytes());
            c.extend_from_slice(&VERSION_NEEDED.to_le_bytes());
            c.extend_from_slice(&FLAGS.to_le_bytes());
            c.extend_from_slice(&0u16.to_le_bytes()); // stored
            c.extend_from_slice(&e.time.to_le_bytes());
            c.extend_from_slice(&e.date.to_le_bytes());
            c.extend_from_slice(&e.crc.to_le_bytes());
            c.extend_from_slice(&e.size.to_le_bytes());
            c.extend_from_slice(&e.size.to_le_bytes());
            c.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
            c.extend_from_slice(&[0; 8]); // extra and comment lengths, disk number, internal attributes
            c.extend_from_slice(&EXTERNAL_ATTRIBUTES.to_le_bytes());
            c.extend_from_slice(&e.offset.to_le_bytes());
            c.extend_from_slice(e.name.as_bytes());
            self.put(&c)?;
        }
        let size = self.offset - start;
        let mut end = Vec::with_capacity(22);
        end.extend_from_slice(&END_OF_CENTRAL_DIRECTORY.to_le_bytes());
        end.extend_from_slice(&[0; 4]); // this disk, the directory's disk
        end.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        end.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        end.extend_from_slice(&(size as u32).to_le_bytes());
        end.extend_from_slice(&(start as u32).to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes()); // no comment
        self.put(&end)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u16_at(b: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([b[at], b[at + 1]])
    }

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    /// A tiny reader: the central directory, then each entry's local header,
    /// data and descriptor, cross-checked. Returns (name, data, date, time).
    fn read_back(zip: &[u8]) -> Vec<(String, Vec<u8>, u16, u16)> {
        let end = zip.len() - 22;
        assert_eq!(u32_at(zip, end), END_OF_CENTRAL_DIRECTORY);
        let count = u16_at(zip, end + 10) as usize;
        assert_eq!(u16_at(zip, end + 8) as usize, count);
        let (cd_size, cd_start) = (u32_at(zip, end + 12) as usize, u32_at(zip, end + 16) as usize);
        assert_eq!(cd_start + cd_size, end, "the directory ends where the end record starts");
        let mut at = cd_start;
        let mut out = Vec::new();
        for _ in 0..count {
            assert_eq!(u32_at(zip, at), CENTRAL_HEADER);
            assert_eq!(u16_at(zip, at + 8), FLAGS);
            assert_eq!(u16_at(zip, at + 10), 0, "stored");
            let (time, date) = (u16_at(zip, at + 12), u16_at(zip, at + 14));
            let (crc, csize, usize_) = (u32_at(zip, at + 16), u32_at(zip, at + 20), u32_at(zip, at + 24));
            assert_eq!(csize, usize_);
            let name_len = u16_at(zip, at + 28) as usize;
            assert_eq!(u32_at(zip, at + 38), EXTERNAL_ATTRIBUTES);
            let local = u32_at(zip, at + 42) as usize;
            let name = String::from_utf8(zip[at + 46..at + 46 + name_len].to_vec()).unwrap();
            at += 46 + name_len;

            assert_eq!(u32_at(zip, local), LOCAL_HEADER);
            assert_eq!(u16_at(zip, local + 6), FLAGS);
            assert_eq!(u32_at(zip, local + 14), 0, "CRC deferred to the descriptor");
            let local_name_len = u16_at(zip, local + 26) as usize;
            assert_eq!(&zip[local + 30..local + 30 + local_name_len], name.as_bytes());
            let data_start = local + 30 + local_name_len + u16_at(zip, local + 28) as usize;
            let data = zip[data_start..data_start + csize as usize].to_vec();
            let d = data_start + csize as usize;
            assert_eq!(u32_at(zip, d), DATA_DESCRIPTOR);
            assert_eq!((u32_at(zip, d + 4), u32_at(zip, d + 8), u32_at(zip, d + 12)), (crc, csize, usize_));
            assert_eq!(Crc32::of(&data), crc, "{name}");
            out.push((name, data, date, time));
        }
        out
    }

    fn moment() -> UtcDateTime {
        UtcDateTime { year: 2026, month: 3, day: 14, hour: 15, minute: 9, second: 27 }
    }

    #[test]
    fn crc_matches_the_check_value() {
        assert_eq!(Crc32::of(b"123456789"), 0xCBF4_3926);
        assert_eq!(Crc32::of(b""), 0);
        let mut parts = Crc32::new();
        parts.update(b"1234");
        parts.update(b"56789");
        assert_eq!(parts.value(), 0xCBF4_3926);
    }

    #[test]
    fn entries_read_back_through_the_central_directory() {
        let mut z = ZipWriter::new(Vec::new());
        z.start_entry("contacts.json", &moment()).unwrap();
        z.write_data(b"[\n").unwrap();
        z.write_data(b"{\"name\":\"Zo\xc3\xab\"}\n]\n").unwrap();
        z.finish_entry().unwrap();
        // Drain what is written so far, as the export job does between chunks.
        let mut drained = std::mem::take(z.get_mut());
        z.start_entry("empty.csv", &moment()).unwrap();
        z.finish_entry().unwrap();
        z.start_entry("dir/naïve.txt", &moment()).unwrap();
        let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        for part in big.chunks(4096) {
            z.write_data(part).unwrap();
        }
        z.finish_entry().unwrap();
        let written = z.written();
        drained.extend(z.finish().unwrap());
        assert!(drained.len() as u64 > written);

        let entries = read_back(&drained);
        let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(names, ["contacts.json", "empty.csv", "dir/naïve.txt"]);
        assert_eq!(entries[0].1, "[\n{\"name\":\"Zoë\"}\n]\n".as_bytes());
        assert!(entries[1].1.is_empty());
        assert_eq!(entries[2].1, big);
        let (date, time) = (entries[0].2, entries[0].3);
        assert_eq!((date >> 9, (date >> 5) & 0xF, date & 0x1F), (46, 3, 14));
        assert_eq!((time >> 11, (time >> 5) & 0x3F, (time & 0x1F) * 2), (15, 9, 26));
    }

    #[test]
    fn refuses_cleanly_at_the_size_limit_and_on_misuse() {
        let mut z = ZipWriter::new(Vec::new());
        z.limit = 100;
        z.start_entry("a.txt", &moment()).unwrap();
        z.write_data(&[b'x'; 40]).unwrap();
        let before = z.written();
        assert!(matches!(z.write_data(&[b'x'; 40]), Err(ZipError::TooLarge)));
        assert_eq!(z.written(), before, "nothing past the limit was written");
        assert_eq!(z.get_mut().len() as u64, before);

        let mut z = ZipWriter::new(Vec::new());
        assert!(matches!(z.write_data(b"x"), Err(ZipError::Misuse(_))));
        assert!(matches!(z.finish_entry(), Err(ZipError::Misuse(_))));
        for bad in ["", "/etc/passwd", "../up", "a//b", "a\\b", "tab\there"] {
            assert!(matches!(z.start_entry(bad, &moment()), Err(ZipError::BadName)), "{bad:?}");
        }
        z.start_entry("ok", &moment()).unwrap();
        assert!(matches!(z.start_entry("other", &moment()), Err(ZipError::Misuse(_))));
    }

    #[test]
    fn dates_before_1980_clamp() {
        let t = UtcDateTime { year: 1970, month: 1, day: 1, hour: 0, minute: 0, second: 0 };
        assert_eq!(dos_date_time(&t), (33, 0));
    }
}
