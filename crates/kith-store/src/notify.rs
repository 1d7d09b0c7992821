//! PostgreSQL LISTEN/NOTIFY: the one channel on which nodes sharing a
//! database tell each other about live events. Payloads are whatever the
//! caller sends (ids only, never content — see `kith_app::live`); this
//! module only moves strings. On SQLite there is one node, so both ends do
//! nothing.

use crate::{Db, Result};

/// The notification channel.
pub const CHANNEL: &str = "kith_events";
/// PostgreSQL refuses payloads of 8,000 bytes or more.
pub const MAX_PAYLOAD_BYTES: usize = 7_900;

/// Send one notification (delivered to listeners when the statement's
/// implicit transaction commits, i.e. at once). SQLite: nothing to do.
pub async fn notify(db: &Db, payload: &str) -> Result<()> {
    if let Db::Postgres(pool) = db {
        sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(payload).execute(pool).await?;
    }
    Ok(())
}

/// A dedicated connection listening on [`CHANNEL`].
pub struct Listener(sqlx::postgres::PgListener);

/// Start listening; `None` on SQLite.
pub async fn listen(db: &Db) -> Result<Option<Listener>> {
    let Db::Postgres(pool) = db else { return Ok(None) };
    let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(Some(Listener(listener)))
}

impl Listener {
    /// The next payload. A lost connection is re-established and listening
    /// resumes (notifications sent meanwhile are missed: live updates are a
    /// hint, the data is in the tables); the error is only for a failed
    /// reconnect, and the caller may call again.
    pub async fn recv(&mut self) -> Result<String> {
        Ok(self.0.recv().await?.payload().to_string())
    }
}
