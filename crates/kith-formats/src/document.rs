//! Text out of the documents a business uploads to its knowledge base:
//! plain text (UTF-8 with or without BOM, UTF-16, Windows-1252 — see
//! [`crate::text`]), Markdown, PDF, DOCX and HTML, as [`Section`]s ready for
//! [`crate::chunk`].
//!
//! What a file is comes from its first bytes where the format has a
//! signature (`%PDF-`, a ZIP holding `word/document.xml`), else from its
//! name, else from its declared content type — never from the declared type
//! alone, which browsers guess. Anything else is [`detect`]'s `None`: the
//! caller answers `unsupported_media_type`.
//!
//! Limits (a hostile upload must not exhaust memory): the caller bounds the
//! file ([`MAX_DOCUMENT_BYTES`]); a DOCX's XML is read to at most
//! [`MAX_XML_BYTES`] decompressed (a ZIP bomb stops there); the text kept is
//! at most [`MAX_TEXT_CHARS`] characters.
//!
//! Pure: bytes in, sections out; nothing is written anywhere.

use crate::chunk::{sections_from_plain, text_chars, Section};
use std::io::Read;

/// Largest upload accepted as a knowledge document: 20 MiB covers a long
/// manual as PDF; larger files are mostly images, which hold no text here.
pub const MAX_DOCUMENT_BYTES: usize = 20 * 1024 * 1024;
/// Most decompressed XML read from a DOCX.
pub const MAX_XML_BYTES: u64 = 64 * 1024 * 1024;
/// Most text kept from one document (about 300 pages of prose).
pub const MAX_TEXT_CHARS: usize = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    Text,
    Markdown,
    Pdf,
    Docx,
    Html,
}

impl DocumentKind {
    /// The content type stored with the entry.
    pub fn content_type(self) -> &'static str {
        match self {
            DocumentKind::Text => "text/plain",
            DocumentKind::Markdown => "text/markdown",
            DocumentKind::Pdf => "application/pdf",
            DocumentKind::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            DocumentKind::Html => "text/html",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    #[error("the file cannot be read as {0}: {1}")]
    Corrupt(&'static str, String),
    #[error("the PDF is encrypted; upload a copy without a password")]
    Encrypted,
    #[error("the file holds no text")]
    Empty,
    #[error("the file holds more than {max} characters of text; split it into smaller documents")]
    TooMuchText { max: usize },
}

/// What kind of document this is (see the module doc), or None when it is
/// none we read.
pub fn detect(file_name: &str, content_type: Option<&str>, head: &[u8]) -> Option<DocumentKind> {
    if head.starts_with(b"%PDF-") {
        return Some(DocumentKind::Pdf);
    }
    let ext = file_name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    let ct = content_type.unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if head.starts_with(b"PK\x03\x04") {
        let docx = ext == "docx" || ct == DocumentKind::Docx.content_type();
        return docx.then_some(DocumentKind::Docx);
    }
    let by_ext = match ext.as_str() {
        "txt" | "text" => Some(DocumentKind::Text),
        "md" | "markdown" => Some(DocumentKind::Markdown),
        "html" | "htm" => Some(DocumentKind::Html),
        "pdf" => Some(DocumentKind::Pdf),
        "docx" => Some(DocumentKind::Docx),
        _ => None,
    };
    by_ext.or(match ct.as_str() {
        "text/plain" => Some(DocumentKind::Text),
        "text/markdown" | "text/x-markdown" => Some(DocumentKind::Markdown),
        "text/html" => Some(DocumentKind::Html),
        _ => None,
    })
}

/// The document's text as sections; an error when it cannot be read, holds
/// no text, or holds too much.
pub fn extract(kind: DocumentKind, bytes: &[u8]) -> Result<Vec<Section>, ExtractError> {
    let sections = match kind {
        DocumentKind::Text => sections_from_plain(&decode_text(bytes, "text")?),
        DocumentKind::Markdown => markdown_sections(&decode_text(bytes, "Markdown")?),
        DocumentKind::Html => crate::html_text::html_to_text(&decode_text(bytes, "HTML")?).sections,
        DocumentKind::Pdf => pdf_sections(bytes)?,
        DocumentKind::Docx => docx_sections(bytes)?,
    };
    let chars = text_chars(&sections);
    if chars == 0 {
        return Err(ExtractError::Empty);
    }
    if chars > MAX_TEXT_CHARS {
        return Err(ExtractError::TooMuchText { max: MAX_TEXT_CHARS });
    }
    Ok(sections)
}

/// Bytes of a text format as UTF-8; a file full of control characters is
/// not text, whatever its name says.
fn decode_text(bytes: &[u8], what: &'static str) -> Result<String, ExtractError> {
    let (text, _) = crate::text::decode(bytes).map_err(|e| ExtractError::Corrupt(what, e.to_string()))?;
    let sample: Vec<char> = text.chars().take(4096).collect();
    let control = sample.iter().filter(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\u{c}')).count();
    if control * 20 > sample.len() {
        return Err(ExtractError::Corrupt(what, "it looks like binary data".into()));
    }
    Ok(text)
}

/// Markdown: headings start sections; paragraphs, list items, quotes and
/// code blocks are paragraphs; markup and raw HTML are dropped.
pub fn markdown_sections(text: &str) -> Vec<Section> {
    use pulldown_cmark::{Event, Parser, Tag, TagEnd};
    let mut sections = Vec::new();
    let mut section = Section::default();
    let mut para = String::new();
    let mut heading: Option<String> = None;
    let end_para = |para: &mut String, section: &mut Section| {
        let p = para.split_whitespace().collect::<Vec<_>>().join(" ");
        para.clear();
        if !p.is_empty() {
            section.paragraphs.push(p);
        }
    };
    for event in Parser::new(text) {
        match event {
            Event::Start(Tag::Heading { .. }) => {
                end_para(&mut para, &mut section);
                heading = Some(String::new());
            }
            Event::End(TagEnd::Heading(_)) => {
                let h = heading.take().unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" ");
                let done = std::mem::take(&mut section);
                if done.paragraphs.is_empty() && !done.heading.is_empty() {
                    section.heading = format!("{} › {h}", done.heading);
                } else {
                    if !done.paragraphs.is_empty() {
                        sections.push(done);
                    }
                    section.heading = h;
                }
            }
            Event::Text(t) | Event::Code(t) => match heading.as_mut() {
                Some(h) => h.push_str(&t),
                None => para.push_str(&t),
            },
            Event::SoftBreak | Event::HardBreak => para.push(' '),
            Event::End(TagEnd::Paragraph | TagEnd::Item | TagEnd::CodeBlock | TagEnd::TableRow | TagEnd::TableCell) => {
                end_para(&mut para, &mut section)
            }
            Event::Start(Tag::Item) => end_para(&mut para, &mut section),
            _ => {}
        }
    }
    end_para(&mut para, &mut section);
    if !section.paragraphs.is_empty() {
        sections.push(section);
    }
    sections
}

/// PDF: the text of every page (what lopdf decodes through each font's
/// encoding), pages and blank lines as paragraph breaks. A page lopdf cannot
/// decode is skipped; a file it cannot open is corrupt.
fn pdf_sections(bytes: &[u8]) -> Result<Vec<Section>, ExtractError> {
    contain_panics("PDF", || pdf_sections_unguarded(bytes))
}

/// Runs a third-party parser so that a panic on a hostile file becomes a
/// `Corrupt` error instead of unwinding into the caller's worker thread. The
/// release profile unwinds (`panic = "unwind"`) so that this is possible.
fn contain_panics<T>(what: &'static str, parse: impl FnOnce() -> Result<T, ExtractError>) -> Result<T, ExtractError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(parse))
        .unwrap_or_else(|_| Err(ExtractError::Corrupt(what, "the reader could not make sense of it".into())))
}

fn pdf_sections_unguarded(bytes: &[u8]) -> Result<Vec<Section>, ExtractError> {
    let doc = lopdf::Document::load_mem(bytes).map_err(|e| {
        if matches!(e, lopdf::Error::Decryption(_) | lopdf::Error::InvalidPassword) {
            ExtractError::Encrypted
        } else {
            ExtractError::Corrupt("PDF", e.to_string())
        }
    })?;
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    let mut text = String::new();
    let mut chars = 0;
    for page in pages {
        for chunk in doc.extract_text_chunks(&[page]).into_iter().flatten() {
            text.push_str(&chunk);
            chars += chunk.chars().count();
            if chars > MAX_TEXT_CHARS {
                return Err(ExtractError::TooMuchText { max: MAX_TEXT_CHARS });
            }
        }
        text.push_str("\n\n");
    }
    if text.trim().is_empty() && doc.is_encrypted() {
        return Err(ExtractError::Encrypted);
    }
    Ok(sections_from_plain(&text))
}

/// DOCX: the paragraphs of `word/document.xml`; paragraphs styled `Title`
/// or `Heading…` start sections.
fn docx_sections(bytes: &[u8]) -> Result<Vec<Section>, ExtractError> {
    contain_panics("DOCX", || docx_sections_unguarded(bytes))
}

fn docx_sections_unguarded(bytes: &[u8]) -> Result<Vec<Section>, ExtractError> {
    let corrupt = |e: String| ExtractError::Corrupt("DOCX", e);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| corrupt(e.to_string()))?;
    let file = zip.by_name("word/document.xml").map_err(|_| corrupt("it has no word/document.xml".into()))?;
    let mut xml = Vec::new();
    file.take(MAX_XML_BYTES + 1).read_to_end(&mut xml).map_err(|e| corrupt(e.to_string()))?;
    if xml.len() as u64 > MAX_XML_BYTES {
        return Err(ExtractError::TooMuchText { max: MAX_TEXT_CHARS });
    }
    let xml = String::from_utf8(xml).map_err(|_| corrupt("its XML is not UTF-8".into()))?;
    Ok(docx_xml_sections(&xml))
}

/// The paragraphs of WordprocessingML (see [`docx_sections`]); a small
/// scanner over tags, since only `p`, `t`, `tab`, `br` and `pStyle` matter.
pub fn docx_xml_sections(xml: &str) -> Vec<Section> {
    let mut sections = Vec::new();
    let mut section = Section::default();
    let mut para = String::new();
    let mut is_heading = false;
    let mut in_text = false;
    let mut rest = xml;
    while let Some(lt) = rest.find('<') {
        if in_text {
            para.push_str(&unescape(&rest[..lt]));
        }
        let Some(gt) = rest[lt..].find('>') else { break };
        let tag = &rest[lt + 1..lt + gt];
        rest = &rest[lt + gt + 1..];
        let closing = tag.starts_with('/');
        let self_closing = tag.ends_with('/');
        let name = tag.trim_start_matches('/').split(|c: char| c.is_whitespace() || c == '/').next().unwrap_or("");
        let local = name.rsplit(':').next().unwrap_or(name);
        match (local, closing) {
            ("p", false) if !self_closing => {
                para.clear();
                is_heading = false;
            }
            ("p", true) => {
                let p = para.split_whitespace().collect::<Vec<_>>().join(" ");
                para.clear();
                if p.is_empty() {
                    continue;
                }
                if is_heading {
                    let done = std::mem::take(&mut section);
                    if !done.paragraphs.is_empty() {
                        sections.push(done);
                    }
                    section.heading = p;
                } else {
                    section.paragraphs.push(p);
                }
            }
            ("t", false) => in_text = !self_closing,
            ("t", true) => in_text = false,
            ("tab" | "br" | "cr", false) => para.push(' '),
            ("pStyle", false) => {
                let val = attr(tag, "val").unwrap_or_default();
                is_heading = val.starts_with("Heading") || val == "Title" || val.starts_with("heading");
            }
            _ => {}
        }
    }
    if !section.paragraphs.is_empty() {
        sections.push(section);
    }
    sections
}

/// The value of `prefix:name="…"` or `name="…"` in a tag's text.
fn attr(tag: &str, name: &str) -> Option<String> {
    for part in tag.split_whitespace().skip(1) {
        let (key, value) = part.split_once('=')?;
        if key.rsplit(':').next() == Some(name) {
            return Some(unescape(value.trim_end_matches('/').trim_matches(|c| c == '"' || c == '\'')));
        }
    }
    None
}

/// XML's five entities and numeric references.
fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let Some(semi) = after.find(';').filter(|n| *n <= 10) else {
            out.push('&');
            rest = after;
            continue;
        };
        let entity = &after[..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16).ok().and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_by_signature_then_name_then_type() {
        assert_eq!(detect("x.bin", None, b"%PDF-1.4"), Some(DocumentKind::Pdf));
        assert_eq!(detect("a.docx", None, b"PK\x03\x04rest"), Some(DocumentKind::Docx));
        assert_eq!(detect("a.xlsx", None, b"PK\x03\x04rest"), None, "other ZIPs are not documents");
        assert_eq!(detect("notes.MD", None, b"# hi"), Some(DocumentKind::Markdown));
        assert_eq!(detect("upload", Some("text/plain; charset=utf-8"), b"hi"), Some(DocumentKind::Text));
        assert_eq!(detect("photo.png", Some("image/png"), b"\x89PNG"), None);
    }

    #[test]
    fn text_in_any_encoding_and_binary_refused() {
        let utf16: Vec<u8> =
            [0xFF, 0xFE].into_iter().chain("Hé\n\nthere".encode_utf16().flat_map(u16::to_le_bytes)).collect();
        assert_eq!(extract(DocumentKind::Text, &utf16).unwrap()[0].paragraphs, ["Hé", "there"]);
        let latin1 = b"Caf\xe9 au lait";
        assert_eq!(extract(DocumentKind::Text, latin1).unwrap()[0].paragraphs, ["Café au lait"]);
        assert_eq!(extract(DocumentKind::Text, b"\xEF\xBB\xBFbom").unwrap()[0].paragraphs, ["bom"]);
        assert!(matches!(
            extract(DocumentKind::Text, &[0u8, 1, 2, 3, 4, 5, 6, 7, 8].repeat(50)),
            Err(ExtractError::Corrupt(..))
        ));
        assert_eq!(extract(DocumentKind::Text, b"  \n "), Err(ExtractError::Empty));
    }

    #[test]
    fn markdown_to_sections() {
        let s = markdown_sections(
            "# Shipping\n\nWe ship **worldwide**.\n\n- fast\n- cheap\n\n## Costs\nFree over [50](http://x).\n",
        );
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].heading, "Shipping");
        assert_eq!(s[0].paragraphs, ["We ship worldwide.", "fast", "cheap"]);
        assert_eq!(s[1].heading, "Costs");
        assert_eq!(s[1].paragraphs, ["Free over 50."]);
    }

    #[test]
    fn docx_xml_paragraphs_and_headings() {
        let xml = r#"<?xml version="1.0"?><w:document xmlns:w="x"><w:body>
            <w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Opening hours</w:t></w:r></w:p>
            <w:p><w:r><w:t xml:space="preserve">Mon&#8211;Fri </w:t></w:r><w:r><w:t>9 &amp; 5</w:t></w:r><w:r><w:tab/><w:t>daily</w:t></w:r></w:p>
            <w:p/></w:body></w:document>"#;
        let s = docx_xml_sections(xml);
        assert_eq!(
            s,
            vec![Section { heading: "Opening hours".into(), paragraphs: vec!["Mon–Fri 9 & 5 daily".into()] }]
        );
    }

    #[test]
    fn pdf_and_docx_fixtures() {
        let pdf = include_bytes!("../../kith-app/tests/data/knowledge/wholesale.pdf");
        assert_eq!(detect("w.pdf", None, pdf), Some(DocumentKind::Pdf));
        let text = format!("{:?}", extract(DocumentKind::Pdf, pdf).unwrap());
        assert!(text.contains("Wholesale orders: cafes and shops buy at 40 percent off list price."), "{text}");
        assert!(text.contains("minimum wholesale order is 30 bags"), "{text}");
        let docx = include_bytes!("../../kith-app/tests/data/knowledge/gift-wrapping.docx");
        let s = extract(DocumentKind::Docx, docx).unwrap();
        assert_eq!(s[0].heading, "Gift wrapping");
        assert_eq!(s[0].paragraphs.len(), 2);
        assert!(s[0].paragraphs[1].contains("checkout & we print"), "{s:?}");
    }

    #[test]
    fn corrupt_files_are_errors_not_panics() {
        assert!(matches!(extract(DocumentKind::Pdf, b"%PDF-1.4 garbage"), Err(ExtractError::Corrupt("PDF", _))));
        assert!(matches!(extract(DocumentKind::Docx, b"PK\x03\x04garbage"), Err(ExtractError::Corrupt("DOCX", _))));
    }

    #[test]
    fn a_parser_panic_is_a_corrupt_file() {
        let got: Result<(), _> = contain_panics("PDF", || panic!("hostile file"));
        assert!(matches!(got, Err(ExtractError::Corrupt("PDF", _))));
    }

    #[test]
    fn damaged_copies_of_real_files_never_escape_as_panics() {
        // Truncations and byte flips at many offsets of the fixtures: each is an
        // error or some text, never a panic out of `extract`.
        let pdf: &[u8] = include_bytes!("../../kith-app/tests/data/knowledge/wholesale.pdf");
        let docx: &[u8] = include_bytes!("../../kith-app/tests/data/knowledge/gift-wrapping.docx");
        for (kind, bytes) in [(DocumentKind::Pdf, pdf), (DocumentKind::Docx, docx)] {
            let step = (bytes.len() / 97).max(1);
            for at in (0..bytes.len()).step_by(step) {
                let _ = extract(kind, &bytes[..at]);
                let mut flipped = bytes.to_vec();
                flipped[at] ^= 0x5a;
                let _ = extract(kind, &flipped);
            }
        }
    }
}
