//! E-mail the application sends (invitations, address verification,
//! password reset): written into a sealed job in the caller's transaction,
//! delivered by the worker with retries. Without SMTP configured nothing is
//! queued and the caller shows the link instead.

use crate::worker::{enqueue, JobError, Registry};
use crate::{App, Result};
use kith_domain::time::now_ms;
use kith_infra::mail::OutgoingMail;
use kith_store::jobs::ClaimedJob;
use kith_store::Tx;
use serde::{Deserialize, Serialize};

pub const SEND_EMAIL: &str = "send_email";

#[derive(Serialize, Deserialize)]
struct MailJob {
    to: String,
    subject: String,
    text: String,
}

/// The job payload holds only a sealed envelope: its links are secrets.
#[derive(Serialize, Deserialize)]
struct SealedPayload {
    row: uuid::Uuid,
    sealed: String,
}

/// Queue a mail in `tx`; false (and nothing queued) when SMTP is not configured.
pub async fn queue(app: &App, tx: &mut Tx, to: &str, subject: &str, text: &str) -> Result<bool> {
    if app.mailer().is_none() {
        return Ok(false);
    }
    let row = kith_domain::new_id();
    let plain = serde_json::to_vec(&MailJob { to: to.into(), subject: subject.into(), text: text.into() })
        .map_err(|e| crate::AppError::Internal(e.to_string()))?;
    let sealed = app.keyring().seal_instance("jobs", "payload", row, &plain);
    let payload = serde_json::json!(SealedPayload { row, sealed: hex::encode(&sealed) });
    enqueue(tx, SEND_EMAIL, None, &payload, now_ms()).await?;
    Ok(true)
}

pub fn register(registry: &mut Registry) {
    registry.register(SEND_EMAIL, send);
}

async fn send(app: App, job: ClaimedJob) -> std::result::Result<(), JobError> {
    let Some(mailer) = app.mailer() else {
        return Err(JobError::from("SMTP is not configured on this node"));
    };
    let payload: SealedPayload =
        serde_json::from_slice(&job.payload).map_err(|e| JobError::permanent(format!("bad payload: {e}")))?;
    let sealed = hex::decode(&payload.sealed).ok().ok_or_else(|| JobError::permanent("bad payload encoding"))?;
    let plain = app
        .keyring()
        .open_instance("jobs", "payload", payload.row, &sealed)
        .map_err(|_| JobError::permanent("payload does not open with this instance's keys"))?;
    let m: MailJob = serde_json::from_slice(&plain).map_err(|e| JobError::permanent(format!("bad mail: {e}")))?;
    let outgoing = OutgoingMail { to: m.to, subject: m.subject, text: m.text, html: None };
    mailer.send(&outgoing).await.map_err(|e| JobError {
        permanent: e.is_permanent(),
        message: e.to_string(),
        defer_until_ms: None,
    })
}
