//! CRM vocabulary and pure rules: record types, custom-field kinds and how a
//! value of each kind is checked, dates and currencies. No I/O.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The records that have owners, visibility, tags, custom fields and a timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RecordType {
    Contact,
    Company,
    Deal,
}

impl RecordType {
    pub const ALL: [RecordType; 3] = [RecordType::Contact, RecordType::Company, RecordType::Deal];

    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::Contact => "contact",
            RecordType::Company => "company",
            RecordType::Deal => "deal",
        }
    }

    pub fn parse(s: &str) -> Option<RecordType> {
        Some(match s {
            "contact" => RecordType::Contact,
            "company" => RecordType::Company,
            "deal" => RecordType::Deal,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Text,
    Number,
    Date,
    Select,
    MultiSelect,
    Checkbox,
    Url,
    Email,
    Phone,
    Currency,
}

impl FieldKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldKind::Text => "text",
            FieldKind::Number => "number",
            FieldKind::Date => "date",
            FieldKind::Select => "select",
            FieldKind::MultiSelect => "multi_select",
            FieldKind::Checkbox => "checkbox",
            FieldKind::Url => "url",
            FieldKind::Email => "email",
            FieldKind::Phone => "phone",
            FieldKind::Currency => "currency",
        }
    }

    pub fn parse(s: &str) -> Option<FieldKind> {
        Some(match s {
            "text" => FieldKind::Text,
            "number" => FieldKind::Number,
            "date" => FieldKind::Date,
            "select" => FieldKind::Select,
            "multi_select" => FieldKind::MultiSelect,
            "checkbox" => FieldKind::Checkbox,
            "url" => FieldKind::Url,
            "email" => FieldKind::Email,
            "phone" => FieldKind::Phone,
            "currency" => FieldKind::Currency,
            _ => return None,
        })
    }
}

/// One stored, typed copy of a custom-field value (for filters and sorting).
#[derive(Debug, Clone, PartialEq)]
pub struct TypedValue {
    pub text: Option<String>,
    pub number: Option<f64>,
}

pub const MAX_TEXT_FIELD_CHARS: usize = 10_000;

/// Check one custom-field value and return its canonical JSON form plus the
/// typed rows to index. `null` clears the field (no rows).
pub fn check_custom_value(
    kind: FieldKind,
    options: &[String],
    value: &Value,
) -> Result<(Value, Vec<TypedValue>), String> {
    let text = |s: String| TypedValue { text: Some(s), number: None };
    if value.is_null() {
        return Ok((Value::Null, vec![]));
    }
    match kind {
        FieldKind::Text => {
            let s = value.as_str().ok_or("must be text")?;
            if s.chars().count() > MAX_TEXT_FIELD_CHARS {
                return Err(format!("must be at most {MAX_TEXT_FIELD_CHARS} characters"));
            }
            Ok((Value::from(s), vec![text(s.to_lowercase())]))
        }
        FieldKind::Number => {
            let n = value.as_f64().filter(|n| n.is_finite()).ok_or("must be a number")?;
            Ok((value.clone(), vec![TypedValue { text: None, number: Some(n) }]))
        }
        FieldKind::Currency => {
            // Minor units with a currency: {"amount": 1250, "currency": "EUR"}.
            let amount =
                value.get("amount").and_then(Value::as_i64).ok_or("must be {amount (minor units), currency}")?;
            let currency = value.get("currency").and_then(Value::as_str).ok_or("needs a currency")?;
            let currency = check_currency(currency)?;
            Ok((
                serde_json::json!({"amount": amount, "currency": currency}),
                vec![TypedValue { text: Some(currency), number: Some(amount as f64) }],
            ))
        }
        FieldKind::Date => {
            let s = value.as_str().ok_or("must be a date YYYY-MM-DD")?;
            check_date(s)?;
            Ok((Value::from(s), vec![text(s.to_string())]))
        }
        FieldKind::Checkbox => {
            let b = value.as_bool().ok_or("must be true or false")?;
            Ok((Value::from(b), vec![TypedValue { text: None, number: Some(if b { 1.0 } else { 0.0 }) }]))
        }
        FieldKind::Select => {
            let s = value.as_str().ok_or("must be one of the field's options")?;
            if !options.iter().any(|o| o == s) {
                return Err(format!("{s:?} is not one of the field's options"));
            }
            Ok((Value::from(s), vec![text(s.to_string())]))
        }
        FieldKind::MultiSelect => {
            let items = value.as_array().ok_or("must be a list of the field's options")?;
            let mut chosen: Vec<String> = Vec::new();
            for item in items {
                let s = item.as_str().ok_or("must be a list of the field's options")?;
                if !options.iter().any(|o| o == s) {
                    return Err(format!("{s:?} is not one of the field's options"));
                }
                if !chosen.iter().any(|c| c == s) {
                    chosen.push(s.to_string());
                }
            }
            let rows = chosen.iter().cloned().map(text).collect();
            Ok((Value::from(chosen), rows))
        }
        FieldKind::Url => {
            let s = value.as_str().ok_or("must be a URL")?.trim();
            let ok = (s.starts_with("https://") || s.starts_with("http://"))
                && s.len() <= 2048
                && !s.chars().any(|c| c.is_whitespace() || c.is_control());
            if !ok {
                return Err("must be an http(s) URL".into());
            }
            Ok((Value::from(s), vec![text(s.to_string())]))
        }
        FieldKind::Email => {
            let s = value.as_str().ok_or("must be an e-mail address")?;
            let e = crate::validate::normalize_email(s).ok_or("must be an e-mail address")?;
            Ok((Value::from(e.clone()), vec![text(e)]))
        }
        FieldKind::Phone => {
            let s = value.as_str().ok_or("must be a phone number")?;
            let e = crate::phone::to_e164(s, "").map_err(|e| e.to_string())?;
            Ok((Value::from(e.clone()), vec![text(e)]))
        }
    }
}

/// ISO 4217-shaped: three ASCII letters, returned upper-case.
pub fn check_currency(raw: &str) -> Result<String, String> {
    let c = raw.trim().to_ascii_uppercase();
    if c.len() == 3 && c.chars().all(|ch| ch.is_ascii_uppercase()) {
        Ok(c)
    } else {
        Err("must be a three-letter ISO currency code".into())
    }
}

/// A calendar date `YYYY-MM-DD` that exists.
pub fn check_date(s: &str) -> Result<(), String> {
    let bad = || format!("{s:?} is not a date YYYY-MM-DD");
    let parts: Vec<&str> = s.split('-').collect();
    if parts.len() != 3 || parts[0].len() != 4 || parts[1].len() != 2 || parts[2].len() != 2 {
        return Err(bad());
    }
    let y: u32 = parts[0].parse().map_err(|_| bad())?;
    let m: u32 = parts[1].parse().map_err(|_| bad())?;
    let d: u32 = parts[2].parse().map_err(|_| bad())?;
    let leap = (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if !(1..=days).contains(&d) || y < 1 {
        return Err(bad());
    }
    Ok(())
}

/// A field key: lower-case ASCII letters, digits and `_`, starting with a letter.
pub fn check_field_key(key: &str) -> Result<(), String> {
    let ok = !key.is_empty()
        && key.len() <= 64
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err("must be 1-64 lower-case letters, digits or _, starting with a letter".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn custom_values_are_checked_by_kind() {
        let opts = vec!["gold".to_string(), "silver".to_string()];
        assert!(check_custom_value(FieldKind::Number, &[], &json!("12")).is_err());
        assert_eq!(check_custom_value(FieldKind::Number, &[], &json!(12.5)).unwrap().1[0].number, Some(12.5));
        assert!(check_custom_value(FieldKind::Select, &opts, &json!("bronze")).is_err());
        let (v, rows) = check_custom_value(FieldKind::MultiSelect, &opts, &json!(["gold", "silver", "gold"])).unwrap();
        assert_eq!(v, json!(["gold", "silver"]));
        assert_eq!(rows.len(), 2);
        assert!(check_custom_value(FieldKind::Date, &[], &json!("2026-02-29")).is_err());
        assert!(check_custom_value(FieldKind::Date, &[], &json!("2028-02-29")).is_ok());
        assert!(check_custom_value(FieldKind::Url, &[], &json!("javascript:alert(1)")).is_err());
        assert!(check_custom_value(FieldKind::Email, &[], &json!("nope")).is_err());
        assert!(check_custom_value(FieldKind::Currency, &[], &json!({"amount": 100, "currency": "eur"})).is_ok());
        assert!(check_custom_value(FieldKind::Checkbox, &[], &json!("yes")).is_err());
        assert_eq!(check_custom_value(FieldKind::Text, &[], &Value::Null).unwrap().1.len(), 0);
    }

    #[test]
    fn keys_and_currencies() {
        assert!(check_field_key("tier_2").is_ok());
        assert!(check_field_key("2tier").is_err());
        assert!(check_field_key("Tier").is_err());
        assert_eq!(check_currency("usd").unwrap(), "USD");
        assert!(check_currency("US").is_err());
    }
}
