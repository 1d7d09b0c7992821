//! Related contacts by meaning (issue #5 §7): when the workspace configured an embedding model and turned on the
//! `questions` feature (the switch that lets CRM records reach its provider), each contact visible to the user
//! gets a vector of a short profile — title, company, tags and e-mail domain, never the name — and the contacts
//! whose profiles lie closest (cosine, computed in process) are fused with the plain company/domain/deal signals
//! of [`super::assist::related_contacts`] by reciprocal rank.
//!
//! Vectors are cached per contact with a keyed fingerprint of the profile they were made from: a contact (or
//! its company) that changed has another fingerprint, so its vector is stale and made again at the next use;
//! nothing is re-sent while the profile stays the same. Candidates are the [`CANDIDATES`] most recently
//! updated contacts the user may see, so one look costs at most a few embedding calls the first time and
//! usually none after. Any failure (endpoint down, limit reached) leaves the plain signals alone.

use super::metering::{self, CallTarget};
use super::retrieval::{cosine, decode_vector, encode_vector};
use super::settings;
use crate::crm::{companies, contacts};
use crate::{App, Result};
use kith_domain::page::PageRequest;
use kith_domain::Context;
use kith_store::records::{ListFilter, SortKey};
use std::collections::HashMap;
use uuid::Uuid;

/// The metering name of profile embeddings.
pub const FEATURE: &str = "related_contacts";
/// Contacts compared (the most recently updated the user may see).
pub const CANDIDATES: u32 = 200;
/// Profiles per embeddings request.
const BATCH: usize = 64;
/// Below this cosine a contact is not called similar.
pub const SIMILARITY_FLOOR: f32 = 0.75;
/// Similar contacts kept before fusion.
const SIMILAR_LIMIT: usize = 20;
/// The reciprocal-rank constant.
const RRF_K: f64 = 60.0;

/// The short profile a contact's vector is made from; None when it says nothing (no title, company, tags or
/// business e-mail domain).
pub fn profile(c: &contacts::Contact, company: Option<&str>) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(t) = c.title.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        parts.push(format!("Title: {t}"));
    }
    if let Some(co) = company {
        parts.push(format!("Company: {co}"));
    }
    if !c.tags.is_empty() {
        parts.push(format!("Tags: {}", c.tags.join(", ")));
    }
    let mut domains: Vec<String> = c.emails.iter().filter_map(|e| super::assist::business_domain(&e.value)).collect();
    domains.dedup();
    if !domains.is_empty() {
        parts.push(format!("Domain: {}", domains.join(", ")));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Contacts whose profiles are closest to the contact's, best first, with their cosine; empty when embeddings are
/// off for related contacts, the contact has no profile, or the endpoint failed (logged).
pub async fn similar(app: &App, ctx: &Context, contact: &contacts::Contact) -> Result<Vec<(Uuid, String, f32)>> {
    let sw = settings::switches(app, ctx.org_id).await?;
    if !(sw.embedding_model && sw.features.questions) {
        return Ok(Vec::new());
    }
    match similar_inner(app, ctx, contact).await {
        Ok(v) => Ok(v),
        Err(e) => {
            tracing::warn!(org_id = %ctx.org_id, error = %e, "related contacts by embeddings failed; plain signals only");
            Ok(Vec::new())
        }
    }
}

async fn similar_inner(app: &App, ctx: &Context, contact: &contacts::Contact) -> Result<Vec<(Uuid, String, f32)>> {
    let s = settings::load(app, ctx.org_id).await?;
    let Some(model) = s.embedding_model().map(str::to_string) else { return Ok(Vec::new()) };
    let page = contacts::list(
        app,
        ctx,
        &ListFilter::default(),
        SortKey::UpdatedDesc,
        &PageRequest::new(Some(CANDIDATES), None),
    )
    .await?;
    let mut people: Vec<contacts::Contact> = page.items.into_iter().filter(|c| c.id != contact.id).collect();
    people.push(contact.clone());
    // Company names the user may see, once each.
    let company_ids: Vec<Uuid> = {
        let mut v: Vec<Uuid> = people.iter().filter_map(|c| c.company_id).collect();
        v.sort();
        v.dedup();
        v
    };
    let mut names: HashMap<Uuid, String> = HashMap::new();
    for part in company_ids.chunks(200) {
        let filter = ListFilter { ids: part.to_vec(), ..Default::default() };
        let page = companies::list(app, ctx, &filter, SortKey::UpdatedDesc, &PageRequest::new(Some(200), None)).await?;
        names.extend(page.items.into_iter().map(|co| (co.id, co.name)));
    }
    let key = app.keyring().search_key(app.db(), ctx.org_id).await?;
    let profiles: Vec<(Uuid, String, String)> = people
        .iter()
        .filter_map(|c| {
            let p = profile(c, c.company_id.and_then(|id| names.get(&id)).map(String::as_str))?;
            let mac = kith_crypto::hmac_sha256(key.as_bytes(), format!("{model}\n{p}").as_bytes());
            Some((c.id, p, hex::encode(&mac[..16])))
        })
        .collect();
    if !profiles.iter().any(|(id, _, _)| *id == contact.id) {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = profiles.iter().map(|(id, _, _)| *id).collect();
    let cached = kith_store::ai_assist::contact_vectors(app.db(), ctx.org_id, &ids).await?;
    let mut vectors: HashMap<Uuid, Vec<f32>> = HashMap::new();
    for row in cached {
        let fresh = profiles.iter().any(|(id, _, fp)| *id == row.contact_id && *fp == row.fingerprint);
        if fresh && row.model == model {
            if let Some(v) = decode_vector(&row.vector) {
                vectors.insert(row.contact_id, v);
            }
        }
    }
    let stale: Vec<&(Uuid, String, String)> = profiles.iter().filter(|(id, _, _)| !vectors.contains_key(id)).collect();
    for batch in stale.chunks(BATCH) {
        let inputs: Vec<String> = batch.iter().map(|(_, p, _)| p.clone()).collect();
        let target = CallTarget { conversation_id: None, record: Some(("contact".into(), contact.id)) };
        let out = metering::embed(app, ctx.org_id, FEATURE, target, &s, &inputs).await?;
        let now = kith_domain::time::now_ms();
        let mut tx = app.db().begin().await?;
        for ((id, _, fp), v) in batch.iter().zip(out.vectors) {
            kith_store::ai_assist::put_contact_vector(
                &mut tx,
                ctx.org_id,
                *id,
                &out.model,
                fp,
                &encode_vector(&v),
                now,
            )
            .await?;
            vectors.insert(*id, v);
        }
        tx.commit().await?;
    }
    let Some(mine) = vectors.get(&contact.id).cloned() else { return Ok(Vec::new()) };
    let mut out: Vec<(Uuid, String, f32)> = people
        .iter()
        .filter(|c| c.id != contact.id)
        .filter_map(|c| {
            let v = vectors.get(&c.id)?;
            let sim = cosine(&mine, v);
            (sim >= SIMILARITY_FLOOR).then(|| (c.id, c.display_name.clone(), sim))
        })
        .collect();
    out.sort_by(|a, b| b.2.partial_cmp(&a.2).unwrap_or(std::cmp::Ordering::Equal).then_with(|| a.1.cmp(&b.1)));
    out.truncate(SIMILAR_LIMIT);
    Ok(out)
}

/// Reciprocal-rank fusion of two rankings of ids: each list adds `1 / (60 + rank)` (rank from 1).
pub fn fuse(signals: &[Uuid], similar: &[Uuid]) -> HashMap<Uuid, f64> {
    let mut score: HashMap<Uuid, f64> = HashMap::new();
    for list in [signals, similar] {
        for (i, id) in list.iter().enumerate() {
            *score.entry(*id).or_default() += 1.0 / (RRF_K + i as f64 + 1.0);
        }
    }
    score
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fusion_rewards_both_lists() {
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let s = fuse(&[a, b], &[c, b]);
        assert!(s[&b] > s[&a] && s[&b] > s[&c], "{s:?}");
        assert!((s[&a] - s[&c]).abs() < 1e-12);
    }
}
