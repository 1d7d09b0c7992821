//! HTML to text for the knowledge base's website import: the page's title,
//! its visible prose as [`Section`]s under its headings, its links and its
//! canonical URL.
//!
//! Built on html5ever's tokenizer (already in the tree through ammonia), not
//! its tree builder: text extraction needs the sequence of tags and text,
//! not a DOM, and the tokenizer never holds more than the current token.
//! Scripts, styles, templates, SVG, navigation menus and footers are left
//! out: they repeat on every page and answer no customer's question.
//!
//! Pure: a string in, a value out. It never fetches the links it finds;
//! resolving and filtering them is the crawler's job.

use crate::chunk::Section;
use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts};
use std::cell::RefCell;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HtmlPage {
    pub title: String,
    /// `<link rel="canonical" href>` as written (resolve against the page URL).
    pub canonical: Option<String>,
    /// `<base href>` as written.
    pub base: Option<String>,
    /// Every `<a href>` as written, in order.
    pub links: Vec<String>,
    pub sections: Vec<Section>,
    /// `<meta name="robots" content="noindex">`: keep the page out of the knowledge base.
    pub noindex: bool,
    /// `<meta name="robots" content="nofollow">`: do not follow its links.
    pub nofollow: bool,
}

/// Elements whose content is never prose.
const SKIP: &[&str] =
    &["script", "style", "noscript", "template", "svg", "nav", "footer", "select", "button", "iframe", "object"];
/// Elements that end a paragraph.
const BLOCK: &[&str] = &[
    "p",
    "div",
    "li",
    "br",
    "tr",
    "td",
    "th",
    "section",
    "article",
    "blockquote",
    "pre",
    "ul",
    "ol",
    "table",
    "dd",
    "dt",
    "dl",
    "header",
    "main",
    "hr",
    "figure",
    "figcaption",
    "address",
    "details",
    "summary",
];

#[derive(Default)]
struct State {
    page: HtmlPage,
    skip_depth: usize,
    in_title: bool,
    heading: Option<String>,
    section: Section,
    para: String,
}

impl State {
    fn end_paragraph(&mut self) {
        let p = self.para.split_whitespace().collect::<Vec<_>>().join(" ");
        self.para.clear();
        if !p.is_empty() {
            self.section.paragraphs.push(p);
        }
    }

    fn start_section(&mut self, heading: String) {
        self.end_paragraph();
        let done = std::mem::take(&mut self.section);
        if !done.paragraphs.is_empty() {
            self.page.sections.push(done);
        } else if !done.heading.is_empty() && !heading.is_empty() {
            // A heading with no text under it stays in the next one's path.
            self.section.heading = format!("{} › {heading}", done.heading);
            return;
        }
        self.section.heading = heading;
    }

    fn tag(&mut self, tag: Tag) -> TokenSinkResult<()> {
        let name: &str = &tag.name;
        let start = tag.kind == TagKind::StartTag;
        if SKIP.contains(&name) {
            if start && !tag.self_closing {
                self.skip_depth += 1;
                return match name {
                    "script" => TokenSinkResult::RawData(RawKind::ScriptData),
                    "style" | "noscript" | "iframe" => TokenSinkResult::RawData(RawKind::Rawtext),
                    _ => TokenSinkResult::Continue,
                };
            } else if !start {
                self.skip_depth = self.skip_depth.saturating_sub(1);
            }
            return TokenSinkResult::Continue;
        }
        let attr = |key: &str| -> Option<String> {
            tag.attrs.iter().find(|a| &*a.name.local == key).map(|a| a.value.to_string())
        };
        match (name, start) {
            ("title", true) => {
                self.in_title = true;
                return TokenSinkResult::RawData(RawKind::Rcdata);
            }
            ("title", false) => self.in_title = false,
            ("a", true) => {
                if let Some(href) = attr("href") {
                    self.page.links.push(href);
                }
            }
            ("link", true) => {
                let rel = attr("rel").unwrap_or_default().to_ascii_lowercase();
                if rel.split_whitespace().any(|r| r == "canonical") && self.page.canonical.is_none() {
                    self.page.canonical = attr("href");
                }
            }
            ("base", true) if self.page.base.is_none() => self.page.base = attr("href"),
            ("meta", true) if attr("name").is_some_and(|n| n.eq_ignore_ascii_case("robots")) => {
                let content = attr("content").unwrap_or_default().to_ascii_lowercase();
                for d in content.split(',').map(str::trim) {
                    self.page.noindex |= d == "noindex" || d == "none";
                    self.page.nofollow |= d == "nofollow" || d == "none";
                }
            }
            ("h1" | "h2" | "h3" | "h4" | "h5" | "h6", true) if self.skip_depth == 0 => {
                self.end_paragraph();
                self.heading = Some(String::new());
            }
            ("h1" | "h2" | "h3" | "h4" | "h5" | "h6", false) => {
                if let Some(h) = self.heading.take() {
                    let h = h.split_whitespace().collect::<Vec<_>>().join(" ");
                    self.start_section(h);
                }
            }
            (n, _) if BLOCK.contains(&n) => {
                if let Some(h) = self.heading.as_mut() {
                    h.push(' ');
                } else {
                    self.end_paragraph();
                }
            }
            _ => {}
        }
        TokenSinkResult::Continue
    }

    fn text(&mut self, text: &str) {
        if self.in_title {
            self.page.title.push_str(text);
            return;
        }
        if self.skip_depth > 0 {
            return;
        }
        if let Some(h) = self.heading.as_mut() {
            h.push_str(text);
        } else {
            self.para.push_str(text);
        }
    }
}

struct Sink(RefCell<State>);

impl TokenSink for Sink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let mut s = self.0.borrow_mut();
        match token {
            Token::TagToken(tag) => s.tag(tag),
            Token::CharacterTokens(t) => {
                s.text(&t);
                TokenSinkResult::Continue
            }
            _ => TokenSinkResult::Continue,
        }
    }
}

/// Read a page (see the module doc).
pub fn html_to_text(html: &str) -> HtmlPage {
    let sink = Sink(RefCell::new(State::default()));
    let tokenizer = Tokenizer::new(sink, TokenizerOpts::default());
    let queue = BufferQueue::default();
    queue.push_back(StrTendril::from_slice(html));
    let _ = tokenizer.feed(&queue);
    tokenizer.end();
    let mut s = tokenizer.sink.0.into_inner();
    if let Some(h) = s.heading.take() {
        s.para.push_str(&h);
    }
    s.start_section(String::new());
    s.page.title = s.page.title.split_whitespace().collect::<Vec<_>>().join(" ");
    s.page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_under_headings_without_scripts_or_menus() {
        let page = html_to_text(
            r#"<!doctype html><html><head><title> Acme &amp; Co — Returns </title>
            <link rel="canonical" href="https://acme.test/returns">
            <style>body { color: red }</style><script>var x = "<p>not text</p>";</script></head>
            <body><nav><a href="/">Home</a> <a href="/shop">Shop</a></nav>
            <h1>Returns</h1><p>Send items back within <b>30 days</b>.</p><p>Refunds take 5 days.</p>
            <h2>Exchanges</h2><ul><li>Sizes</li><li>Colours</li></ul>
            <p>See <a href="/faq#x">the FAQ</a>.</p>
            <footer>© Acme <a href="https://elsewhere.test/">partner</a></footer></body></html>"#,
        );
        assert_eq!(page.title, "Acme & Co — Returns");
        assert_eq!(page.canonical.as_deref(), Some("https://acme.test/returns"));
        assert_eq!(page.links, ["/", "/shop", "/faq#x", "https://elsewhere.test/"], "links of menus still count");
        assert_eq!(page.sections.len(), 2);
        assert_eq!(page.sections[0].heading, "Returns");
        assert_eq!(page.sections[0].paragraphs, ["Send items back within 30 days.", "Refunds take 5 days."]);
        assert_eq!(page.sections[1].heading, "Exchanges");
        assert_eq!(page.sections[1].paragraphs, ["Sizes", "Colours", "See the FAQ."]);
        let all = format!("{:?}", page.sections);
        assert!(!all.contains("not text") && !all.contains("color") && !all.contains("Home") && !all.contains("©"));
    }

    #[test]
    fn robots_meta_and_empty_headings() {
        let page = html_to_text(r#"<meta name="ROBOTS" content="noindex, nofollow"><h1>A</h1><h2>B</h2><p>text</p>"#);
        assert!(page.noindex && page.nofollow);
        assert_eq!(page.sections[0].heading, "A › B");
        assert!(html_to_text("<p>   </p>").sections.is_empty());
    }
}
