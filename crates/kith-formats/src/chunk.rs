//! Cutting a document's text into overlapping chunks for retrieval.
//!
//! A document arrives as [`Section`]s (a heading and its paragraphs, in
//! order). Paragraphs are packed into chunks of about
//! [`ChunkOptions::target_chars`]; a paragraph longer than
//! [`ChunkOptions::max_chars`] is cut at sentence ends, and a sentence
//! longer than that at word boundaries. Each chunk after the first in a
//! section starts with the last sentences of the one before (up to
//! [`ChunkOptions::overlap_chars`]), so an answer that straddles a cut is
//! still whole in one chunk. Chunks never cross a heading, and each carries
//! its section's heading, which retrieval weighs like a title.
//!
//! Pure: text in, chunks out.

/// A heading and the paragraphs under it (the heading may be empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    pub heading: String,
    pub paragraphs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub heading: String,
    pub text: String,
}

#[derive(Debug, Clone, Copy)]
pub struct ChunkOptions {
    pub target_chars: usize,
    pub max_chars: usize,
    pub overlap_chars: usize,
}

impl Default for ChunkOptions {
    /// About a paragraph or two of prose (~150–250 words): small enough that
    /// a passage is about one thing, large enough to hold an answer whole.
    fn default() -> Self {
        ChunkOptions { target_chars: 900, max_chars: 1400, overlap_chars: 200 }
    }
}

/// Sections from plain text: paragraphs are separated by blank lines, lines
/// within a paragraph joined; there are no headings.
pub fn sections_from_plain(text: &str) -> Vec<Section> {
    let mut paragraphs = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            if !cur.is_empty() {
                paragraphs.push(std::mem::take(&mut cur));
            }
        } else {
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(line);
        }
    }
    if !cur.is_empty() {
        paragraphs.push(cur);
    }
    if paragraphs.is_empty() {
        vec![]
    } else {
        vec![Section { heading: String::new(), paragraphs }]
    }
}

/// Every character of text in the sections (to refuse an empty document).
pub fn text_chars(sections: &[Section]) -> usize {
    sections.iter().map(|s| s.paragraphs.iter().map(|p| p.trim().chars().count()).sum::<usize>()).sum()
}

/// Cut the sections into chunks (see the module doc).
pub fn chunk(sections: &[Section], opts: ChunkOptions) -> Vec<Chunk> {
    let opts = ChunkOptions {
        target_chars: opts.target_chars.max(50),
        max_chars: opts.max_chars.max(opts.target_chars).max(50),
        overlap_chars: opts.overlap_chars.min(opts.target_chars / 2),
    };
    let mut out = Vec::new();
    for section in sections {
        // Units: whole paragraphs, or the sentences of a long one. A unit
        // that starts a paragraph is marked so the chunk keeps the break.
        let mut units: Vec<(bool, String)> = Vec::new();
        for p in &section.paragraphs {
            let p = collapse_spaces(p);
            if p.is_empty() {
                continue;
            }
            if p.chars().count() <= opts.target_chars {
                units.push((true, p));
            } else {
                for (i, s) in sentences(&p).into_iter().flat_map(|s| split_long(&s, opts.max_chars)).enumerate() {
                    units.push((i == 0, s));
                }
            }
        }
        let mut cur: Vec<(bool, String)> = Vec::new();
        let mut cur_len = 0;
        let mut fresh = 0; // units in `cur` that are not overlap
        for unit in units {
            let len = unit.1.chars().count();
            if fresh > 0 && cur_len + len + 1 > opts.target_chars {
                out.push(Chunk { heading: section.heading.clone(), text: join(&cur) });
                let keep = overlap(&cur, opts.overlap_chars);
                cur = cur.split_off(cur.len() - keep);
                cur_len = cur.iter().map(|u| u.1.chars().count() + 1).sum();
                fresh = 0;
            }
            cur_len += len + 1;
            cur.push(unit);
            fresh += 1;
        }
        if fresh > 0 {
            out.push(Chunk { heading: section.heading.clone(), text: join(&cur) });
        }
    }
    out
}

/// How many trailing units fit into `budget` characters (never all of them).
fn overlap(units: &[(bool, String)], budget: usize) -> usize {
    let mut used = 0;
    let mut n = 0;
    for u in units.iter().rev() {
        let len = u.1.chars().count();
        if n + 1 >= units.len() || used + len > budget {
            break;
        }
        used += len + 1;
        n += 1;
    }
    n
}

fn join(units: &[(bool, String)]) -> String {
    let mut out = String::new();
    for (i, (starts_paragraph, text)) in units.iter().enumerate() {
        if i > 0 {
            out.push_str(if *starts_paragraph { "\n\n" } else { " " });
        }
        out.push_str(text);
    }
    out
}

fn collapse_spaces(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Sentences: cut after `.`, `!` or `?` (and closing quotes or brackets)
/// followed by a space and an upper-case letter, digit or quote. "e.g. this"
/// and "3.5 kg" stay whole.
pub fn sentences(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < chars.len() {
        if matches!(chars[i], '.' | '!' | '?' | '…') {
            let mut end = i + 1;
            while end < chars.len() && matches!(chars[end], '"' | '\'' | ')' | ']' | '”' | '’' | '.' | '!' | '?') {
                end += 1;
            }
            if end < chars.len() && chars[end].is_whitespace() {
                let mut next = end;
                while next < chars.len() && chars[next].is_whitespace() {
                    next += 1;
                }
                if next < chars.len()
                    && (chars[next].is_uppercase() || chars[next].is_ascii_digit() || "\"“'(".contains(chars[next]))
                {
                    let s: String = chars[start..end].iter().collect();
                    out.push(s.trim().to_string());
                    start = next;
                    i = next;
                    continue;
                }
            }
        }
        i += 1;
    }
    let rest: String = chars[start..].iter().collect();
    if !rest.trim().is_empty() {
        out.push(rest.trim().to_string());
    }
    out
}

/// A sentence longer than `max` characters, cut at spaces (or anywhere, for
/// a run with none) into pieces of at most `max`.
fn split_long(s: &str, max: usize) -> Vec<String> {
    if s.chars().count() <= max {
        return vec![s.to_string()];
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut cur_len = 0;
    for word in s.split(' ') {
        let wlen = word.chars().count();
        if cur_len > 0 && cur_len + 1 + wlen > max {
            out.push(std::mem::take(&mut cur));
            cur_len = 0;
        }
        if wlen > max {
            let chars: Vec<char> = word.chars().collect();
            for piece in chars.chunks(max) {
                if cur_len > 0 {
                    out.push(std::mem::take(&mut cur));
                }
                cur = piece.iter().collect();
                cur_len = piece.len();
            }
            continue;
        }
        if cur_len > 0 {
            cur.push(' ');
            cur_len += 1;
        }
        cur.push_str(word);
        cur_len += wlen;
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(target: usize, max: usize, overlap: usize) -> ChunkOptions {
        ChunkOptions { target_chars: target, max_chars: max, overlap_chars: overlap }
    }

    #[test]
    fn short_sections_are_one_chunk_each_with_their_heading() {
        let sections = vec![
            Section { heading: "Returns".into(), paragraphs: vec!["Send it back within 30 days.".into()] },
            Section {
                heading: "Shipping".into(),
                paragraphs: vec!["We ship on weekdays.".into(), "Free over 50.".into()],
            },
        ];
        let chunks = chunk(&sections, ChunkOptions::default());
        assert_eq!(chunks.len(), 2, "never across a heading");
        assert_eq!(chunks[0], Chunk { heading: "Returns".into(), text: "Send it back within 30 days.".into() });
        assert_eq!(chunks[1].text, "We ship on weekdays.\n\nFree over 50.", "paragraph break kept");
    }

    #[test]
    fn long_text_is_cut_near_the_target_with_overlap() {
        let sentence = |i: usize| format!("Sentence number {i} says something useful about the shop.");
        let para: String = (0..40).map(sentence).collect::<Vec<_>>().join(" ");
        let sections = vec![Section { heading: "H".into(), paragraphs: vec![para.clone()] }];
        let chunks = chunk(&sections, opts(300, 400, 120));
        assert!(chunks.len() >= 6, "{} chunks", chunks.len());
        for c in &chunks {
            assert!(c.text.chars().count() <= 400, "at most max: {}", c.text.len());
            assert!(c.text.ends_with('.'), "cut at a sentence end: {:?}", c.text);
        }
        for pair in chunks.windows(2) {
            let last_of_first = sentences(&pair[0].text).pop().unwrap();
            let first_of_next = sentences(&pair[1].text).remove(0);
            assert!(pair[1].text.contains(&last_of_first), "the next chunk repeats the previous one's last sentence");
            assert!(pair[0].text.contains(&first_of_next), "and starts inside the previous one");
        }
        // Every sentence is in some chunk.
        for i in 0..40 {
            assert!(chunks.iter().any(|c| c.text.contains(&sentence(i))), "sentence {i} kept");
        }
    }

    #[test]
    fn a_run_without_sentence_ends_is_cut_at_words() {
        let words = vec!["word"; 500].join(" ");
        let chunks = chunk(&[Section { heading: String::new(), paragraphs: vec![words] }], opts(200, 250, 0));
        assert!(chunks.len() >= 8);
        assert!(chunks.iter().all(|c| c.text.chars().count() <= 250 && !c.text.starts_with(' ')));
        let unbroken = "x".repeat(1000);
        let chunks = chunk(&[Section { heading: String::new(), paragraphs: vec![unbroken] }], opts(200, 250, 0));
        assert_eq!(chunks.iter().map(|c| c.text.len()).sum::<usize>(), 1000, "nothing lost");
    }

    #[test]
    fn sentences_respect_abbreviations_and_numbers() {
        assert_eq!(
            sentences("Prices start at 3.5 EUR, e.g. for tea. Shipping is free! Is it? Yes."),
            ["Prices start at 3.5 EUR, e.g. for tea.", "Shipping is free!", "Is it?", "Yes."]
        );
    }

    #[test]
    fn plain_text_paragraphs() {
        let s = sections_from_plain("First line\nsame paragraph.\n\n\nSecond.\n");
        assert_eq!(s[0].paragraphs, ["First line same paragraph.", "Second."]);
        assert!(sections_from_plain("  \n\n ").is_empty());
        assert_eq!(text_chars(&s), 33);
    }
}
