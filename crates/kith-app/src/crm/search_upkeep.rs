//! A contact's search document holds its company's name, so finding "Acme"
//! finds Acme's people. When a company is renamed or deleted, a job
//! (`crm.contact_terms`), queued in the same transaction as the change,
//! writes the documents of its contacts again: a large company's people are
//! not rewritten inside the user's request.

use crate::worker::{self, JobError, Registry};
use crate::{App, AppError, Result};
use kith_store::jobs::ClaimedJob;
use kith_store::{records, Tx};
use serde::Deserialize;
use std::collections::HashMap;
use uuid::Uuid;

pub const JOB: &str = "crm.contact_terms";
/// Contacts per job.
const CHUNK: usize = 500;

/// Queue the rewrite of the search documents of every contact at
/// `company_id`, in the transaction that renames or deletes it (before a
/// delete: it unlinks them). Returns how many contacts are concerned.
pub(crate) async fn queue_company(tx: &mut Tx, org_id: Uuid, company_id: Uuid, now: i64) -> Result<usize> {
    let ids = kith_store::contacts::ids_at_company_tx(tx, org_id, company_id).await?;
    for chunk in ids.chunks(CHUNK) {
        worker::enqueue(tx, JOB, Some(org_id), &serde_json::json!({ "contact_ids": chunk }), now).await?;
    }
    Ok(ids.len())
}

pub fn register(registry: &mut Registry) {
    registry.register(JOB, run);
}

#[derive(Deserialize)]
struct Payload {
    contact_ids: Vec<Uuid>,
}

async fn run(app: App, job: ClaimedJob) -> std::result::Result<(), JobError> {
    let payload: Payload =
        serde_json::from_slice(&job.payload).map_err(|e| JobError::permanent(format!("bad payload: {e}")))?;
    let org_id = job.org_id.ok_or_else(|| JobError::permanent("a search upkeep job without a workspace"))?;
    // Contacts deleted meanwhile are simply not found.
    let contacts =
        kith_store::contacts::get_many_any(app.db(), org_id, &payload.contact_ids).await.map_err(AppError::from)?;
    let mut names: HashMap<Uuid, Option<String>> = HashMap::new();
    let mut tx = app.db().begin().await.map_err(AppError::from)?;
    for row in &contacts {
        let company = match row.company_id {
            Some(id) => match names.entry(id) {
                std::collections::hash_map::Entry::Occupied(e) => e.get().clone(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    let name = kith_store::companies::name_of(app.db(), org_id, id).await.map_err(AppError::from)?;
                    e.insert(name).clone()
                }
            },
            None => None,
        };
        let doc = super::contacts::search_doc(row, company.as_deref());
        records::upsert_search_doc(&mut tx, &doc).await.map_err(AppError::from)?;
    }
    tx.commit().await.map_err(AppError::from)?;
    Ok(())
}
