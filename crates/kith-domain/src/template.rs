//! A small text template language for canned responses: `{{contact.first_name}}`
//! is replaced by the value of that variable, `{{contact.first_name|there}}`
//! by the value or, when it is empty, by the text after `|`. Nothing else is
//! special: no loops, no conditions, no escaping (the result is plain text
//! for a message, never HTML).
//!
//! [`parse`] checks a template once when it is saved — an unknown variable
//! or an unclosed `{{` is an error then, not a surprise at send time — and
//! [`Template::render`] fills it in.

/// The variables a template may use.
pub const VARIABLES: [&str; 8] = [
    "contact.first_name",
    "contact.last_name",
    "contact.full_name",
    "contact.email",
    "contact.phone",
    "agent.name",
    "agent.first_name",
    "workspace.name",
];

const MAX_FALLBACK_CHARS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unknown variable `{0}`; use one of {vars}", vars = VARIABLES.join(", "))]
    UnknownVariable(String),
    #[error("a `{{{{` is not closed by `}}}}`")]
    Unclosed,
    #[error("a fallback after `|` has at most {MAX_FALLBACK_CHARS} characters")]
    FallbackTooLong,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var { name: &'static str, fallback: String },
}

/// A checked template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

/// Check a template: every `{{…}}` names a known variable.
pub fn parse(text: &str) -> Result<Template, TemplateError> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            parts.push(Part::Text(rest[..open].to_string()));
        }
        let after = &rest[open + 2..];
        let close = after.find("}}").ok_or(TemplateError::Unclosed)?;
        let inner = &after[..close];
        let (name, fallback) = match inner.split_once('|') {
            Some((n, f)) => (n.trim(), f.trim()),
            None => (inner.trim(), ""),
        };
        if fallback.chars().count() > MAX_FALLBACK_CHARS {
            return Err(TemplateError::FallbackTooLong);
        }
        let name = VARIABLES
            .iter()
            .find(|v| v.eq_ignore_ascii_case(name))
            .ok_or_else(|| TemplateError::UnknownVariable(name.to_string()))?;
        parts.push(Part::Var { name, fallback: fallback.to_string() });
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest.to_string()));
    }
    Ok(Template { parts })
}

impl Template {
    /// The variables used, in order of first use.
    pub fn variables(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for p in &self.parts {
            if let Part::Var { name, .. } = p {
                if !out.contains(name) {
                    out.push(name);
                }
            }
        }
        out
    }

    /// Fill in: `value(name)` gives a variable's value; an absent or blank
    /// value becomes the fallback (or nothing).
    pub fn render(&self, value: impl Fn(&str) -> Option<String>) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Var { name, fallback } => match value(name).filter(|v| !v.trim().is_empty()) {
                    Some(v) => out.push_str(v.trim()),
                    None => out.push_str(fallback),
                },
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(name: &str) -> Option<String> {
        match name {
            "contact.first_name" => Some("Ada".into()),
            "contact.last_name" => Some("  ".into()),
            "agent.name" => Some("Grace Hopper".into()),
            _ => None,
        }
    }

    #[test]
    fn renders_variables_and_fallbacks() {
        let cases: &[(&str, &str)] = &[
            ("Hi {{contact.first_name}}!", "Hi Ada!"),
            ("Hi {{ contact.first_name }}, {{agent.name}} here.", "Hi Ada, Grace Hopper here."),
            ("Dear {{contact.last_name|customer}}", "Dear customer"),
            ("Mail: {{contact.email}}.", "Mail: ."),
            ("{{CONTACT.FIRST_NAME}}", "Ada"),
            ("no variables", "no variables"),
            ("", ""),
            ("a } b { c }}", "a } b { c }}"),
            ("héllo {{contact.first_name}} wörld", "héllo Ada wörld"),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text).unwrap().render(values), *want, "{text}");
        }
        assert_eq!(
            parse("{{agent.name}} {{contact.first_name}} {{agent.name}}").unwrap().variables(),
            ["agent.name", "contact.first_name"]
        );
    }

    #[test]
    fn unknown_variables_and_unclosed_braces_are_errors_at_parse_time() {
        assert_eq!(parse("Hi {{contact.nickname}}"), Err(TemplateError::UnknownVariable("contact.nickname".into())));
        assert_eq!(parse("Hi {{}}"), Err(TemplateError::UnknownVariable(String::new())));
        assert_eq!(parse("Hi {{contact.first_name"), Err(TemplateError::Unclosed));
        assert_eq!(parse(&format!("{{{{agent.name|{}}}}}", "x".repeat(101))), Err(TemplateError::FallbackTooLong));
        assert!(TemplateError::UnknownVariable("x".into()).to_string().contains("contact.first_name"));
    }
}
