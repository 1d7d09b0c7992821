//! Keyset pagination: a request names a limit and an opaque cursor.

use uuid::Uuid;

pub const DEFAULT_PAGE_LIMIT: u32 = 50;
pub const MAX_PAGE_LIMIT: u32 = 200;

/// Where a page starts: after the row with this sort key and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub key: i64,
    pub id: Uuid,
}

impl Cursor {
    /// Opaque text form: `<key>.<uuid simple>`; clients never parse it.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.key, self.id.simple())
    }

    pub fn decode(s: &str) -> Option<Cursor> {
        let (key, id) = s.split_once('.')?;
        Some(Cursor { key: key.parse().ok()?, id: Uuid::try_parse(id).ok()? })
    }
}

#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub limit: u32,
    pub after: Option<Cursor>,
}

impl PageRequest {
    /// Clamp the requested limit into 1..=200 (default 50).
    pub fn new(limit: Option<u32>, after: Option<Cursor>) -> Self {
        let limit = limit.unwrap_or(DEFAULT_PAGE_LIMIT).clamp(1, MAX_PAGE_LIMIT);
        PageRequest { limit, after }
    }

    /// Rows to fetch: one more than the limit tells whether a next page exists.
    pub fn fetch_limit(&self) -> i64 {
        self.limit as i64 + 1
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest::new(None, None)
    }
}

/// One page of results and the cursor of the next page, if any.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

impl<T> Page<T> {
    /// Build a page from `limit + 1` fetched rows.
    pub fn from_rows(mut rows: Vec<T>, req: &PageRequest, cursor_of: impl Fn(&T) -> Cursor) -> Self {
        let next = if rows.len() > req.limit as usize {
            rows.truncate(req.limit as usize);
            rows.last().map(cursor_of)
        } else {
            None
        };
        Page { items: rows, next }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(f).collect(), next: self.next }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamps_and_round_trips() {
        assert_eq!(PageRequest::new(Some(5000), None).limit, 200);
        assert_eq!(PageRequest::new(Some(0), None).limit, 1);
        assert_eq!(PageRequest::new(None, None).limit, 50);
        let c = Cursor { key: -42, id: Uuid::now_v7() };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("nonsense"), None);
    }
}
