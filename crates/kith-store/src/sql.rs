//! Queries whose text depends on the request (filters, sorts, the visibility
//! filter): text with `$n` placeholders plus the values to bind, run on either
//! backend. Every value is bound, never pasted into the text; only
//! identifiers chosen from fixed lists by the caller are.

use crate::{Backend, Db, Result, Tx};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use std::borrow::Cow;
use uuid::Uuid;

macro_rules! bind_arg {
    ($q:expr, $a:expr) => {
        match $a {
            Arg::Uuid(v) => $q.bind(*v),
            Arg::OptUuid(v) => $q.bind(*v),
            Arg::I64(v) => $q.bind(*v),
            Arg::OptI64(v) => $q.bind(*v),
            Arg::F64(v) => $q.bind(*v),
            Arg::OptF64(v) => $q.bind(*v),
            Arg::Text(v) => $q.bind(v.clone()),
            Arg::OptText(v) => $q.bind(v.clone()),
            Arg::Bool(v) => $q.bind(*v),
        }
    };
}

#[derive(Debug, Clone)]
pub enum Arg {
    Uuid(Uuid),
    OptUuid(Option<Uuid>),
    I64(i64),
    OptI64(Option<i64>),
    F64(f64),
    OptF64(Option<f64>),
    Text(String),
    OptText(Option<String>),
    Bool(bool),
}

macro_rules! arg_from {
    ($($t:ty => $v:ident),*) => { $(impl From<$t> for Arg { fn from(x: $t) -> Arg { Arg::$v(x) } })* };
}
arg_from!(Uuid => Uuid, Option<Uuid> => OptUuid, i64 => I64, Option<i64> => OptI64, f64 => F64, Option<f64> => OptF64,
          String => Text, Option<String> => OptText, bool => Bool);
impl From<&str> for Arg {
    fn from(s: &str) -> Arg {
        Arg::Text(s.to_string())
    }
}

/// SQL text under construction and its arguments, numbered in push order.
#[derive(Debug, Clone, Default)]
pub struct Sql {
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    pub fn new(text: &str) -> Sql {
        Sql { text: text.to_string(), args: Vec::new() }
    }

    pub fn push(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    /// Append a placeholder for `value`.
    pub fn bind(&mut self, value: impl Into<Arg>) -> &mut Sql {
        self.args.push(value.into());
        self.text.push('$');
        self.text.push_str(&self.args.len().to_string());
        self
    }

    /// Append text that already holds `$1..$n` placeholders for `args`; only
    /// valid as the first piece of a statement.
    pub fn push_bound<const N: usize>(&mut self, text: &str, args: [Arg; N]) -> &mut Sql {
        assert!(self.args.is_empty(), "push_bound must come first");
        self.text.push_str(text);
        self.args.extend(args);
        self
    }

    /// Append `a, b, c` placeholders for a list (the caller writes the brackets).
    pub fn bind_list<T: Into<Arg>>(&mut self, values: impl IntoIterator<Item = T>) -> &mut Sql {
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(v);
        }
        self
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The same statement behind `head` (e.g. `EXPLAIN QUERY PLAN `), with
    /// the same values: for tests and tools that inspect a plan.
    pub fn behind(&self, head: &str) -> Sql {
        Sql { text: format!("{head}{}", self.text), args: self.args.clone() }
    }

    /// The text as `backend` should receive it: on SQLite, placeholders
    /// become anonymous `?` where possible (see [`positional_placeholders`]);
    /// a 500-row insert with `$n` spent most of its time looking names up.
    pub fn text_for(&self, backend: Backend) -> Cow<'_, str> {
        match backend {
            Backend::Postgres => Cow::Borrowed(&self.text),
            Backend::Sqlite => Cow::Owned(positional_placeholders(&self.text)),
        }
    }

    /// The values bound so far, in placeholder order (for tools that run the
    /// same statement another way, e.g. under `EXPLAIN`).
    pub fn args(&self) -> &[Arg] {
        &self.args
    }

    pub async fn fetch_all<T>(&self, db: &Db) -> Result<Vec<T>>
    where
        T: for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
    {
        let text = self.text_for(db.backend());
        Ok(on_read!(db, |p| {
            let mut q = sqlx::query_as(&text);
            for a in &self.args {
                q = bind_arg!(q, a);
            }
            q.fetch_all(p).await?
        }))
    }

    pub async fn fetch_optional<T>(&self, db: &Db) -> Result<Option<T>>
    where
        T: for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
    {
        let text = self.text_for(db.backend());
        Ok(on_read!(db, |p| {
            let mut q = sqlx::query_as(&text);
            for a in &self.args {
                q = bind_arg!(q, a);
            }
            q.fetch_optional(p).await?
        }))
    }

    pub async fn fetch_all_tx<T>(&self, tx: &mut Tx) -> Result<Vec<T>>
    where
        T: for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
    {
        let text = self.text_for(tx.backend());
        Ok(on_tx!(tx, |c| {
            let mut q = sqlx::query_as(&text);
            for a in &self.args {
                q = bind_arg!(q, a);
            }
            q.fetch_all(c).await?
        }))
    }

    /// Run a statement in a transaction; the number of rows it touched.
    pub async fn execute(&self, tx: &mut Tx) -> Result<u64> {
        let text = self.text_for(tx.backend());
        Ok(on_tx!(tx, |c| {
            let mut q = sqlx::query(&text);
            for a in &self.args {
                q = bind_arg!(q, a);
            }
            q.execute(c).await?.rows_affected()
        }))
    }
}

/// `$n` → `?` outside quoted literals and identifiers when the
/// placeholders run `$1, $2, …` in order, each once (what [`Sql::bind`]
/// produces); otherwise `$n` → `?n`. SQLite keeps named and numbered
/// parameters in a list it searches linearly — both while parsing and for
/// every `sqlite3_bind_parameter_name` the driver asks — so a statement with
/// thousands of them costs quadratic time; anonymous `?` costs nothing.
fn positional_placeholders(text: &str) -> String {
    let mut numbered = String::with_capacity(text.len());
    let mut anonymous = String::with_capacity(text.len());
    let mut in_order = true;
    let mut expected = 1u32;
    let mut quote: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '$' && chars.peek().is_some_and(|d| d.is_ascii_digit()) => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                in_order &= digits.parse::<u32>().ok() == Some(expected);
                expected += 1;
                numbered.push('?');
                numbered.push_str(&digits);
                anonymous.push('?');
                continue;
            }
            None => {}
        }
        numbered.push(c);
        anonymous.push(c);
    }
    if in_order {
        anonymous
    } else {
        numbered
    }
}

/// How many rows each statement of a multi-row write of `n` rows carries:
/// full statements of `max` rows, then the rest in powers of two. Every
/// distinct row count is a distinct statement text, which both drivers
/// prepare and keep per connection; remainders of any size (a batch's 487
/// new contacts) would fill those caches with large one-off statements —
/// hundreds of MB over a long import — where these few sizes are reused.
pub fn statement_sizes(n: usize, max: usize) -> Vec<usize> {
    let max = max.max(1);
    let mut sizes = vec![max; n / max];
    let mut rest = n % max;
    while rest > 0 {
        let size = 1usize << rest.ilog2();
        sizes.push(size);
        rest -= size;
    }
    sizes
}

/// The length an `IN (…)` list of `n` values is padded to (by repeating a
/// value, which changes no answer): the next power of two, at most `max`,
/// so list reads reuse a few prepared statements (see [`statement_sizes`]).
pub fn padded_len(n: usize, max: usize) -> usize {
    n.next_power_of_two().min(max.max(n))
}

/// `values` padded to [`padded_len`] by repeating the last one.
pub fn padded<T: Clone>(values: &[T], max: usize) -> Vec<T> {
    let pad = values.last().into_iter().cycle().take(padded_len(values.len(), max) - values.len());
    values.iter().chain(pad).cloned().collect()
}

/// Most rows one multi-row statement carries: well under SQLite's 32,766 and
/// PostgreSQL's 65,535 bound values, and small enough to keep statements cheap
/// to build.
const MAX_ROWS_PER_STATEMENT: usize = 500;
const MAX_ARGS_PER_STATEMENT: usize = 30_000;

/// Insert many rows with multi-row `VALUES` lists (`head` is `INSERT INTO t
/// (a, b) VALUES`, `tail` e.g. ` ON CONFLICT DO NOTHING`): one statement per
/// few hundred rows instead of one per row, which is what bulk writers
/// (imports) spend their time on otherwise. Returns the rows inserted.
pub async fn insert_many(tx: &mut Tx, head: &str, tail: &str, rows: Vec<Vec<Arg>>) -> Result<u64> {
    let Some(width) = rows.first().map(Vec::len) else { return Ok(0) };
    assert!(width > 0 && rows.iter().all(|r| r.len() == width), "insert_many: rows of one width");
    let per_statement = MAX_ROWS_PER_STATEMENT.min(MAX_ARGS_PER_STATEMENT / width).max(1);
    let mut inserted = 0;
    let sizes = statement_sizes(rows.len(), per_statement);
    let mut rows = rows.into_iter();
    for size in sizes {
        let mut sql = Sql::new(head);
        for (i, row) in rows.by_ref().take(size).enumerate() {
            sql.push(if i == 0 { " (" } else { ", (" });
            sql.bind_list(row);
            sql.push(")");
        }
        sql.push(tail);
        inserted += sql.execute(tx).await?;
    }
    Ok(inserted)
}

#[cfg(test)]
mod tests {
    #[test]
    fn statement_sizes_are_full_statements_then_powers_of_two() {
        assert_eq!(super::statement_sizes(0, 500), Vec::<usize>::new());
        assert_eq!(super::statement_sizes(1487, 500), vec![500, 500, 256, 128, 64, 32, 4, 2, 1]);
        assert_eq!(super::statement_sizes(1000, 500), vec![500, 500]);
        assert_eq!(super::statement_sizes(3, 1), vec![1, 1, 1]);
        for n in 0..1200 {
            assert_eq!(super::statement_sizes(n, 333).iter().sum::<usize>(), n);
        }
        assert_eq!(
            (super::padded_len(3, 500), super::padded_len(300, 500), super::padded_len(500, 500)),
            (4, 500, 500)
        );
        assert_eq!(super::padded_len(1, 500), 1);
        assert_eq!(super::padded(&[1, 2, 3], 500), [1, 2, 3, 3]);
        assert_eq!(super::padded(&[7; 5], 4), [7; 5], "beyond max: as it is");
        assert!(super::padded::<u8>(&[], 500).is_empty());
    }

    #[test]
    fn placeholders_become_positional_outside_literals() {
        assert_eq!(
            super::positional_placeholders("SELECT '$1', \"$2\" FROM t WHERE a = $1 AND b IN ($2, $3) AND j = '$.x'"),
            "SELECT '$1', \"$2\" FROM t WHERE a = ? AND b IN (?, ?) AND j = '$.x'",
            "in order, each once: anonymous"
        );
        assert_eq!(
            super::positional_placeholders("SELECT $1 WHERE a = $2 OR b = $1 AND c = $10"),
            "SELECT ?1 WHERE a = ?2 OR b = ?1 AND c = ?10",
            "reused or out of order: numbered"
        );
    }
}
