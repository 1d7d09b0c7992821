//! `Idempotency-Key` semantics, below the web layer: a key is scoped to
//! workspace + credential + method + path; its first outcome is stored sealed
//! and replayed; the same key with another body, or while the first request
//! still runs, is refused.

use crate::{App, AppError, ErrorCode, Result};
use kith_domain::time::now_ms;
use kith_domain::Context;
use kith_store::idempotency::{self as rows, IdemScope};
use uuid::Uuid;

/// One POST's claim on a key.
pub struct Claim {
    org_id: Uuid,
    credential_id: Uuid,
    path: String,
    key: String,
}

/// What to do with a request that carries a key.
pub enum Begin {
    /// First use: run the request, then [`finish`] or [`release`].
    Run(Claim),
    /// Seen before with the same body: answer with the stored outcome.
    Replay { status: u16, response: Vec<u8> },
}

impl Claim {
    fn scope(&self) -> IdemScope<'_> {
        IdemScope {
            org_id: self.org_id,
            credential_id: self.credential_id,
            method: "POST",
            path: &self.path,
            key: &self.key,
        }
    }

    /// Stored responses are sealed, bound to a row id derived from the scope.
    fn row_id(&self) -> Uuid {
        let mut data = Vec::new();
        for part in [self.credential_id.as_bytes().as_slice(), b"POST", self.path.as_bytes(), self.key.as_bytes()] {
            data.extend_from_slice(&(part.len() as u32).to_be_bytes());
            data.extend_from_slice(part);
        }
        let hash = kith_crypto::sha256(&data);
        Uuid::from_bytes(hash[..16].try_into().expect("16 bytes"))
    }
}

pub async fn begin(app: &App, ctx: &Context, path: &str, key: &str, body: &[u8]) -> Result<Begin> {
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AppError::field("Idempotency-Key", "must be 1–255 visible ASCII characters"));
    }
    let claim =
        Claim { org_id: ctx.org_id, credential_id: ctx.actor.credential.id(), path: path.into(), key: key.into() };
    let request_hash = kith_crypto::sha256(body);
    let Some(existing) = rows::reserve(app.db(), &claim.scope(), &request_hash, now_ms()).await? else {
        return Ok(Begin::Run(claim));
    };
    if existing.request_hash != request_hash {
        return Err(AppError::Conflict(
            ErrorCode::IdempotencyKeyReused,
            "this Idempotency-Key was used with a different request body",
        ));
    }
    let (Some(status), Some(sealed)) = (existing.status_code, existing.response) else {
        return Err(AppError::Conflict(
            ErrorCode::IdempotencyInProgress,
            "a request with this Idempotency-Key is still running",
        ));
    };
    let response =
        app.keyring().open(app.db(), claim.org_id, "idempotency_keys", "response", claim.row_id(), &sealed).await?;
    Ok(Begin::Replay { status: status as u16, response })
}

/// Store the outcome (sealed) for later replays.
pub async fn finish(app: &App, claim: &Claim, status: u16, response: &[u8]) -> Result<()> {
    let sealed =
        app.keyring().seal(app.db(), claim.org_id, "idempotency_keys", "response", claim.row_id(), response).await?;
    rows::finish(app.db(), &claim.scope(), status as i64, &sealed).await?;
    Ok(())
}

/// Give the key back: the request failed on our side and changed nothing.
pub async fn release(app: &App, claim: &Claim) -> Result<()> {
    rows::release(app.db(), &claim.scope()).await?;
    Ok(())
}

/// How long a key is remembered: a client retrying later than this sends a new request.
pub const KEY_RETENTION_MS: i64 = 24 * 3_600_000;
/// The job kind and schedule that forget old keys.
pub const PURGE_JOB: &str = "idempotency.purge";
pub const PURGE_SCHEDULE: &str = "idempotency-purge";
pub const PURGE_CRON: &str = "17 * * * *";

pub fn register(registry: &mut crate::worker::Registry) {
    registry.register(PURGE_JOB, |app: App, _job| async move { purge(&app, now_ms()).await.map(|_| ()) });
}

/// Forget keys older than [`KEY_RETENTION_MS`]; the number forgotten.
pub async fn purge(app: &App, now: i64) -> Result<u64> {
    let mut tx = app.db().begin().await?;
    let n = rows::purge_before(&mut tx, now - KEY_RETENTION_MS).await?;
    tx.commit().await?;
    Ok(n)
}
