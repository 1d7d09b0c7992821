//! Run one query text on whichever backend a [`crate::Db`] or [`crate::Tx`] holds.
//! The body is expanded once per backend, so it type-checks against both drivers.

/// Read through the reader pool (SQLite) or the pool (PostgreSQL).
macro_rules! on_read {
    ($db:expr, |$p:ident| $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite(s) => {
                let $p = &s.read;
                $body
            }
            $crate::db::Db::Postgres($p) => $body,
        }
    };
}

/// One write statement on its own (autocommit) through the writer pool
/// (SQLite) or the pool (PostgreSQL): a statement that needs no other in its
/// transaction saves the two round trips of `BEGIN` and `COMMIT`.
macro_rules! on_write {
    ($db:expr, |$p:ident| $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite(s) => {
                let $p = &s.write;
                $body
            }
            $crate::db::Db::Postgres($p) => $body,
        }
    };
}

/// Run inside a transaction; `$c` is the backend's `&mut Connection`.
macro_rules! on_tx {
    ($tx:expr, |$c:ident| $body:expr) => {
        match $tx {
            $crate::db::Tx::Sqlite(t) => {
                let $c = &mut **t;
                $body
            }
            $crate::db::Tx::Postgres(t) => {
                let $c = &mut **t;
                $body
            }
        }
    };
}
