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
