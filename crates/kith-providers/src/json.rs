//! Small accessors for walking a provider's JSON payload without panicking: a missing optional key gives `None`,
//! a wrongly typed required one a [`ParseError`] naming its path.

use serde_json::{Map, Value};

use crate::ParseError;

pub(crate) type Object = Map<String, Value>;

pub(crate) fn parse_object(body: &[u8]) -> Result<Object, ParseError> {
    match serde_json::from_slice::<Value>(body).map_err(|e| ParseError::Json(e.to_string()))? {
        Value::Object(map) => Ok(map),
        _ => Err(ParseError::invalid("$", "the payload is not a JSON object")),
    }
}

/// A string, or `None` when absent, null or empty.
pub(crate) fn str_at<'a>(obj: &'a Object, key: &str) -> Option<&'a str> {
    obj.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// An id given as a string or an integer, as a string.
pub(crate) fn id_at(obj: &Object, key: &str) -> Option<String> {
    match obj.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

/// An integer given as a number or a decimal string (Meta sends Unix seconds as strings).
pub(crate) fn int_at(obj: &Object, key: &str, path: &str) -> Result<Option<i64>, ParseError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| ParseError::invalid(path, "not an integer")),
        Some(Value::String(s)) => {
            s.trim().parse::<i64>().map(Some).map_err(|_| ParseError::invalid(path, "not an integer"))
        }
        Some(_) => Err(ParseError::invalid(path, "not an integer")),
    }
}

/// A nested object, `None` when absent or null, an error when of another type.
pub(crate) fn obj_at<'a>(obj: &'a Object, key: &str, path: &str) -> Result<Option<&'a Object>, ParseError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(ParseError::invalid(path, "not an object")),
    }
}

/// An array (empty when absent or null), an error when of another type.
pub(crate) fn arr_at<'a>(obj: &'a Object, key: &str, path: &str) -> Result<&'a [Value], ParseError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(ParseError::invalid(path, "not an array")),
    }
}

/// The objects of an array; any element that is not an object is an error.
pub(crate) fn objects<'a>(items: &'a [Value], path: &str) -> Result<Vec<&'a Object>, ParseError> {
    items
        .iter()
        .map(|v| v.as_object().ok_or_else(|| ParseError::invalid(path, "an element is not an object")))
        .collect()
}

/// Seconds to milliseconds without overflow.
pub(crate) fn secs_to_ms(secs: i64) -> i64 {
    secs.saturating_mul(1000)
}
