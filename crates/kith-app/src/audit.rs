//! The audit trail: an append-only, hash-chained log per workspace.
//!
//! Each entry's hash covers only structural fields (ids, action, time) and the
//! previous hash. Personal details (IP, user agent, free text) are stored
//! beside the chain so they can be erased without breaking it.

use crate::{App, Result};
use kith_domain::page::Cursor;
use kith_domain::{Action, Context};
use kith_store::audit::{self as rows, AuditDetails, AuditEntryRow, AuditRow};
use kith_store::{Db, Tx};
use uuid::Uuid;

/// What happened, to what. `action` is a dotted verb like `member.invited`.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    pub action: &'a str,
    pub target_type: Option<&'a str>,
    pub target_id: Option<Uuid>,
    pub detail: Option<String>,
}

impl<'a> AuditEvent<'a> {
    pub fn new(action: &'a str, target_type: &'a str, target_id: Uuid) -> Self {
        AuditEvent { action, target_type: Some(target_type), target_id: Some(target_id), detail: None }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// Where a request came from; recorded beside the chain, erasable.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

fn genesis(org_id: Uuid) -> Vec<u8> {
    let mut data = b"kith.audit.genesis.v1\0".to_vec();
    data.extend_from_slice(org_id.as_bytes());
    kith_crypto::sha256(&data).to_vec()
}

/// The chained hash of one entry. Length-prefixed fields make the encoding unambiguous.
pub fn entry_hash(row: &AuditRow) -> Vec<u8> {
    let mut data = Vec::with_capacity(160);
    data.extend_from_slice(b"kith.audit.v1\0");
    data.extend_from_slice(&row.prev_hash);
    data.extend_from_slice(row.id.as_bytes());
    data.extend_from_slice(row.org_id.as_bytes());
    data.extend_from_slice(&row.seq.to_be_bytes());
    data.extend_from_slice(&row.at_ms.to_be_bytes());
    data.extend_from_slice(row.actor_id.unwrap_or_default().as_bytes());
    for text in [Some(row.action.as_str()), row.target_type.as_deref()] {
        let t = text.unwrap_or("");
        data.extend_from_slice(&(t.len() as u32).to_be_bytes());
        data.extend_from_slice(t.as_bytes());
    }
    data.extend_from_slice(row.target_id.unwrap_or_default().as_bytes());
    kith_crypto::sha256(&data).to_vec()
}

/// Append an entry inside the caller's transaction, so the change and its
/// record commit together.
pub async fn record(
    tx: &mut Tx,
    org_id: Uuid,
    actor_id: Option<Uuid>,
    event: AuditEvent<'_>,
    origin: &Origin,
    now: i64,
) -> Result<()> {
    let (seq, prev_hash) = rows::advance_head(tx, org_id, &genesis(org_id)).await?;
    let mut row = AuditRow {
        id: kith_domain::new_id(),
        org_id,
        seq,
        at_ms: now,
        actor_id,
        action: event.action.to_string(),
        target_type: event.target_type.map(str::to_string),
        target_id: event.target_id,
        prev_hash,
        hash: Vec::new(),
    };
    row.hash = entry_hash(&row);
    let details = AuditDetails { ip: origin.ip.clone(), user_agent: origin.user_agent.clone(), detail: event.detail };
    rows::insert(tx, &row, &details).await?;
    Ok(())
}

/// Newest entries first; admins only.
pub async fn list(
    app: &App,
    ctx: &Context,
    before: Option<Cursor>,
    limit: u32,
) -> Result<(Vec<AuditEntryRow>, Option<Cursor>)> {
    if !ctx.can(Action::ReadAudit) {
        return Err(crate::AppError::Forbidden);
    }
    let limit = limit.clamp(1, kith_domain::MAX_PAGE_LIMIT) as i64;
    let mut rows = rows::list(app.db(), ctx.org_id, before.map(|c| c.key), limit + 1).await?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| Cursor { key: r.seq, id: r.id })
    } else {
        None
    };
    Ok((rows, next))
}

/// The outcome of walking a workspace's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainCheck {
    Intact {
        entries: i64,
    },
    /// The first entry whose stored hash or link does not match.
    Broken {
        seq: i64,
        reason: String,
    },
}

/// Recompute the chain from the start, in pages; stops at the first broken link.
pub async fn verify(db: &Db, org_id: Uuid) -> Result<ChainCheck> {
    let mut prev = genesis(org_id);
    let mut expected_seq = 1;
    loop {
        let page = rows::chain_after(db, org_id, expected_seq - 1, 1000).await?;
        if page.is_empty() {
            break;
        }
        for row in page {
            if row.seq != expected_seq {
                return Ok(ChainCheck::Broken {
                    seq: expected_seq,
                    reason: format!("entry {expected_seq} is missing"),
                });
            }
            if row.prev_hash != prev {
                return Ok(ChainCheck::Broken {
                    seq: row.seq,
                    reason: "link to the previous entry does not match".into(),
                });
            }
            if entry_hash(&row) != row.hash {
                return Ok(ChainCheck::Broken { seq: row.seq, reason: "entry was altered (hash mismatch)".into() });
            }
            prev = row.hash;
            expected_seq += 1;
        }
    }
    // The head records the last hash: a truncated tail shows up here.
    if let Some((seq, head)) = rows::head(db, org_id).await? {
        if seq != expected_seq - 1 || (seq > 0 && head != prev) {
            return Ok(ChainCheck::Broken {
                seq: expected_seq,
                reason: format!("log ends at {} but the head says {seq}", expected_seq - 1),
            });
        }
    }
    Ok(ChainCheck::Intact { entries: expected_seq - 1 })
}
