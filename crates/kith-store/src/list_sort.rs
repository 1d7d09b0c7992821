//! Record lists in an order of up to three keys (`sort=last_name,-updated_at`),
//! paged by keyset: the cursor holds the sort values of the last row shown
//! and its id, which breaks ties. The list's filters are the ones every list
//! shares ([`crate::records::list_where`]); only the order lives here.
//!
//! Text keys sort case-insensitively (`lower(…)`), and a missing value sorts
//! as the empty text, so both engines agree on where it goes. The values a
//! cursor holds are read back from the database (`sk0_t`, `sk1_i`, …), never
//! recomputed here, so the comparison of the next page uses exactly what the
//! engine sorted by.

use crate::records::{list_where, ListFilter};
use crate::{Db, Result};
use kith_domain::crm::RecordType;
use kith_domain::page::{DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT};
use kith_domain::visibility::Viewer;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{Column, Row};
use uuid::Uuid;

/// The most keys one order may have.
pub const MAX_SORT_KEYS: usize = 3;

/// A field a list can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    /// Contacts: first and last name as shown; companies: the name; deals: the title.
    Name,
    FirstName,
    LastName,
    Title,
    Source,
    Domain,
    Industry,
    Value,
    Status,
    ExpectedClose,
    Updated,
    Created,
}

/// Whether a key compares as a number or as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Text,
}

impl SortField {
    /// The fields of `record_type`'s lists, by their parameter name.
    pub fn all(record_type: RecordType) -> &'static [(&'static str, SortField)] {
        use SortField::*;
        match record_type {
            RecordType::Contact => &[
                ("name", Name),
                ("first_name", FirstName),
                ("last_name", LastName),
                ("title", Title),
                ("source", Source),
                ("updated_at", Updated),
                ("created_at", Created),
            ],
            RecordType::Company => &[
                ("name", Name),
                ("domain", Domain),
                ("industry", Industry),
                ("updated_at", Updated),
                ("created_at", Created),
            ],
            RecordType::Deal => &[
                ("title", Title),
                ("value", Value),
                ("status", Status),
                ("expected_close", ExpectedClose),
                ("updated_at", Updated),
                ("created_at", Created),
            ],
        }
    }

    fn parse(record_type: RecordType, name: &str) -> Option<SortField> {
        let name = match name {
            "updated" => "updated_at",
            "created" => "created_at",
            // A deal's name is its title.
            "name" if record_type == RecordType::Deal => "title",
            n => n,
        };
        SortField::all(record_type).iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }

    /// The parameter name (for `record_type`'s lists).
    pub fn name(self, record_type: RecordType) -> &'static str {
        SortField::all(record_type).iter().find(|(_, f)| *f == self).map(|(n, _)| *n).unwrap_or("updated_at")
    }

    /// The SQL expression sorted by, on the list's row `r`.
    fn expr(self, record_type: RecordType) -> &'static str {
        use SortField::*;
        match (self, record_type) {
            (Name, RecordType::Contact) => "lower(r.first_name || ' ' || r.last_name)",
            (Name, _) => "lower(r.name)",
            (FirstName, _) => "lower(r.first_name)",
            (LastName, _) => "lower(r.last_name)",
            (Title, RecordType::Deal) => "lower(r.title)",
            (Title, _) => "lower(COALESCE(r.title, ''))",
            (Source, _) => "lower(COALESCE(r.source, ''))",
            (Domain, _) => "COALESCE(r.domain, '')",
            (Industry, _) => "lower(COALESCE(r.industry, ''))",
            (Value, _) => "r.value_minor",
            (Status, _) => "r.status",
            (ExpectedClose, _) => "COALESCE(r.expected_close, '')",
            (Updated, _) => "r.updated_ms",
            (Created, _) => "r.created_ms",
        }
    }

    fn kind(self) -> Kind {
        match self {
            SortField::Value | SortField::Updated | SortField::Created => Kind::Int,
            _ => Kind::Text,
        }
    }
}

/// An order of one to three keys, each ascending or descending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sort {
    record_type: RecordType,
    keys: Vec<(SortField, bool)>,
}

impl Sort {
    /// `last_name,-updated_at`: field names, comma-separated, `-` for
    /// descending. The message says what is wrong.
    pub fn parse(record_type: RecordType, raw: &str) -> std::result::Result<Sort, String> {
        let mut keys: Vec<(SortField, bool)> = Vec::new();
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, desc) = match part.strip_prefix('-') {
                Some(n) => (n, true),
                None => (part.strip_prefix('+').unwrap_or(part), false),
            };
            let field = SortField::parse(record_type, name).ok_or_else(|| {
                let names: Vec<&str> = SortField::all(record_type).iter().map(|(n, _)| *n).collect();
                format!("{name:?} is not a sort field (one of {})", names.join(", "))
            })?;
            if keys.iter().any(|(f, _)| *f == field) {
                return Err(format!("names {name:?} twice"));
            }
            keys.push((field, desc));
        }
        if keys.is_empty() {
            return Err("must name a field to sort by".into());
        }
        if keys.len() > MAX_SORT_KEYS {
            return Err(format!("may have at most {MAX_SORT_KEYS} fields"));
        }
        Ok(Sort { record_type, keys })
    }

    /// Most recently changed first: what a list shows when nothing is chosen.
    pub fn default_for(record_type: RecordType) -> Sort {
        Sort { record_type, keys: vec![(SortField::Updated, true)] }
    }

    pub fn record_type(&self) -> RecordType {
        self.record_type
    }

    /// The keys in order: each field and whether it is descending.
    pub fn keys(&self) -> &[(SortField, bool)] {
        &self.keys
    }

    /// Back into the parameter form: `last_name,-updated_at`.
    pub fn to_param(&self) -> String {
        self.keys
            .iter()
            .map(|(f, desc)| format!("{}{}", if *desc { "-" } else { "" }, f.name(self.record_type)))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// One value of a sort key in a cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortValue {
    Int(i64),
    Text(String),
}

/// Where the next page of a sorted list starts: after the row with these
/// sort values and this id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortCursor {
    pub values: Vec<SortValue>,
    pub id: Uuid,
}

impl SortCursor {
    /// Opaque and URL-safe: hex of a small JSON array.
    pub fn encode(&self) -> String {
        let mut items: Vec<serde_json::Value> = self
            .values
            .iter()
            .map(|v| match v {
                SortValue::Int(n) => serde_json::Value::from(*n),
                SortValue::Text(t) => serde_json::Value::from(t.as_str()),
            })
            .collect();
        items.push(serde_json::Value::from(self.id.simple().to_string()));
        let json = serde_json::Value::Array(items).to_string();
        json.bytes().map(|b| format!("{b:02x}")).collect()
    }

    /// A cursor of `sort` (its values match the keys), or None.
    pub fn decode(raw: &str, sort: &Sort) -> Option<SortCursor> {
        if !raw.len().is_multiple_of(2) || raw.len() > 4096 {
            return None;
        }
        let bytes: Vec<u8> = (0..raw.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(raw.get(i..i + 2)?, 16).ok())
            .collect::<Option<_>>()?;
        let serde_json::Value::Array(mut items) = serde_json::from_slice(&bytes).ok()? else { return None };
        if items.len() != sort.keys.len() + 1 {
            return None;
        }
        let id = Uuid::try_parse(items.pop()?.as_str()?).ok()?;
        let values = items
            .into_iter()
            .zip(&sort.keys)
            .map(|(v, (field, _))| match field.kind() {
                Kind::Int => v.as_i64().map(SortValue::Int),
                Kind::Text => v.as_str().map(|s| SortValue::Text(s.to_string())),
            })
            .collect::<Option<Vec<_>>>()?;
        Some(SortCursor { values, id })
    }
}

/// A page of a sorted list: its size and where it starts.
#[derive(Debug, Clone, Default)]
pub struct SortedPageRequest {
    pub limit: u32,
    pub after: Option<SortCursor>,
}

impl SortedPageRequest {
    /// Clamp the requested limit into 1..=200 (default 50), as every list does.
    pub fn new(limit: Option<u32>, after: Option<SortCursor>) -> SortedPageRequest {
        SortedPageRequest { limit: limit.unwrap_or(DEFAULT_PAGE_LIMIT).clamp(1, MAX_PAGE_LIMIT), after }
    }
}

/// One page of a sorted list and the cursor of the next, if any.
#[derive(Debug, Clone)]
pub struct SortedPage<T> {
    pub items: Vec<T>,
    pub next: Option<SortCursor>,
}

impl<T> SortedPage<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> SortedPage<U> {
        SortedPage { items: self.items.into_iter().map(f).collect(), next: self.next }
    }
}

/// A row and the values it was sorted by (columns `sk<n>_i` / `sk<n>_t`).
struct Keyed<T> {
    row: T,
    keys: Vec<SortValue>,
}

macro_rules! keyed_from_row {
    ($row:ty) => {
        impl<'r, T: sqlx::FromRow<'r, $row>> sqlx::FromRow<'r, $row> for Keyed<T> {
            fn from_row(row: &'r $row) -> sqlx::Result<Self> {
                let mut keys = Vec::new();
                for col in row.columns() {
                    let name = col.name();
                    if !name.starts_with("sk") {
                        continue;
                    }
                    if name.ends_with("_i") {
                        keys.push(SortValue::Int(row.try_get::<i64, _>(name)?));
                    } else if name.ends_with("_t") {
                        keys.push(SortValue::Text(row.try_get::<String, _>(name)?));
                    }
                }
                Ok(Keyed { row: T::from_row(row)?, keys })
            }
        }
    };
}
keyed_from_row!(SqliteRow);
keyed_from_row!(PgRow);

/// One page of `table` (rows `T` of `columns`) with `filter`, in `sort` order.
#[allow(clippy::too_many_arguments)]
pub async fn list<T>(
    db: &Db,
    columns: &str,
    table: &str,
    viewer: &Viewer,
    filter: &ListFilter,
    sort: &Sort,
    page: &SortedPageRequest,
    id_of: impl Fn(&T) -> Uuid,
) -> Result<SortedPage<T>>
where
    T: for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
{
    let rt = sort.record_type;
    let mut head = columns.to_string();
    for (i, (field, _)) in sort.keys.iter().enumerate() {
        let suffix = if field.kind() == Kind::Int { "i" } else { "t" };
        head.push_str(&format!(", {} AS sk{i}_{suffix}", field.expr(rt)));
    }
    let mut sql = list_where(&head, table, rt.as_str(), viewer, filter);
    // The id breaks ties, in the direction of the last key.
    let id_desc = sort.keys.last().is_some_and(|(_, d)| *d);
    if let Some(after) = &page.after {
        // (k1 > v1) OR (k1 = v1 AND k2 > v2) OR … OR (all equal AND id > last id),
        // each comparison in its key's direction.
        sql.push(" AND (");
        for i in 0..=sort.keys.len() {
            if i > 0 {
                sql.push(" OR ");
            }
            sql.push("(");
            for (j, (field, _)) in sort.keys.iter().enumerate().take(i) {
                if j > 0 {
                    sql.push(" AND ");
                }
                sql.push(&format!("{} = ", field.expr(rt)));
                bind_value(&mut sql, &after.values[j]);
            }
            if i > 0 {
                sql.push(" AND ");
            }
            match sort.keys.get(i) {
                Some((field, desc)) => {
                    sql.push(&format!("{} {} ", field.expr(rt), if *desc { "<" } else { ">" }));
                    bind_value(&mut sql, &after.values[i]);
                }
                None => {
                    sql.push(if id_desc { "r.id < " } else { "r.id > " }).bind(after.id);
                }
            }
            sql.push(")");
        }
        sql.push(")");
    }
    let order: Vec<String> = sort
        .keys
        .iter()
        .map(|(f, desc)| format!("{} {}", f.expr(rt), if *desc { "DESC" } else { "ASC" }))
        .chain(std::iter::once(format!("r.id {}", if id_desc { "DESC" } else { "ASC" })))
        .collect();
    sql.push(&format!(" ORDER BY {} LIMIT ", order.join(", "))).bind(page.limit as i64 + 1);
    let mut rows: Vec<Keyed<T>> = sql.fetch_all(db).await?;
    let next = if rows.len() > page.limit as usize {
        rows.truncate(page.limit as usize);
        rows.last().map(|k| SortCursor { values: k.keys.clone(), id: id_of(&k.row) })
    } else {
        None
    };
    Ok(SortedPage { items: rows.into_iter().map(|k| k.row).collect(), next })
}

fn bind_value(sql: &mut crate::sql::Sql, v: &SortValue) {
    match v {
        SortValue::Int(n) => sql.bind(*n),
        SortValue::Text(t) => sql.bind(t.as_str()),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_sorts() {
        let s = Sort::parse(RecordType::Contact, "last_name,-updated_at").unwrap();
        assert_eq!(s.keys(), &[(SortField::LastName, false), (SortField::Updated, true)]);
        assert_eq!(s.to_param(), "last_name,-updated_at");
        assert_eq!(Sort::parse(RecordType::Deal, "name,-value").unwrap().to_param(), "title,-value");
        assert!(Sort::parse(RecordType::Contact, "value").unwrap_err().contains("not a sort field"));
        assert!(Sort::parse(RecordType::Contact, "name,-name").unwrap_err().contains("twice"));
        assert!(Sort::parse(RecordType::Contact, "name,title,source,created").unwrap_err().contains("at most 3"));
        assert!(Sort::parse(RecordType::Company, "").is_err());
    }

    #[test]
    fn cursors_round_trip_and_belong_to_their_sort() {
        let s = Sort::parse(RecordType::Contact, "last_name,-updated_at").unwrap();
        let c = SortCursor {
            values: vec![SortValue::Text("o'brien \"x\" ü".into()), SortValue::Int(-5)],
            id: Uuid::now_v7(),
        };
        let raw = c.encode();
        assert!(raw.chars().all(|ch| ch.is_ascii_hexdigit()));
        assert_eq!(SortCursor::decode(&raw, &s), Some(c.clone()));
        let other = Sort::parse(RecordType::Contact, "-updated_at,last_name").unwrap();
        assert_eq!(SortCursor::decode(&raw, &other), None, "kinds differ");
        let shorter = Sort::parse(RecordType::Contact, "last_name").unwrap();
        assert_eq!(SortCursor::decode(&raw, &shorter), None);
        assert_eq!(SortCursor::decode("zz", &s), None);
        assert_eq!(SortCursor::decode("123.abc", &s), None);
    }
}
