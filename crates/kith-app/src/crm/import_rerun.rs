//! "Run this import for real": a finished dry run keeps its file for a day
//! (the import job leaves it), and its creator may queue the same import —
//! same file, preset, columns and duplicate rule — without the dry run. The
//! dry run's file goes then (so the same dry run starts one real import),
//! or after the day.

use super::imports::{Import, JOB};
use super::need;
use crate::worker;
use crate::{App, AppError, ErrorCode, Result};
use kith_domain::role::Action;
use kith_domain::time::now_ms;
use kith_domain::{new_id, Context};
use kith_store::files;
use kith_store::imports::{self as rows, ImportRow};
use uuid::Uuid;

fn gone() -> AppError {
    AppError::Conflict(
        ErrorCode::InUse,
        "this dry run's file is no longer kept (a day, and only until it is run once); upload the file again",
    )
}

/// The caller's own finished dry run whose file is still kept.
async fn kept_dry_run(app: &App, ctx: &Context, id: Uuid) -> Result<ImportRow> {
    need(ctx, Action::WriteRecords)?;
    let row = rows::get(app.db(), ctx.org_id, id).await?.ok_or(AppError::NotFound)?;
    if row.created_by != ctx.user_id() {
        return Err(AppError::NotFound);
    }
    if !row.dry_run || row.status != "done" {
        return Err(AppError::Conflict(ErrorCode::InUse, "only a finished dry run can be run for real"));
    }
    if files::chunk(app.db(), ctx.org_id, id, 0).await?.is_none() {
        return Err(gone());
    }
    Ok(row)
}

/// Whether [`run_for_real`] would start (for showing its button).
pub async fn can_run_for_real(app: &App, ctx: &Context, import: &Import) -> bool {
    import.dry_run && import.status == "done" && kept_dry_run(app, ctx, import.id).await.is_ok()
}

/// Queue the import `id` was a dry run of, for real. Answers the new import.
pub async fn run_for_real(app: &App, ctx: &Context, id: Uuid) -> Result<Import> {
    let dry = kept_dry_run(app, ctx, id).await?;
    let new = new_id();
    super::imports::copy_upload(app, ctx.org_id, id, new).await?;
    let now = now_ms();
    let row = ImportRow {
        id: new,
        status: "queued".into(),
        dry_run: false,
        rows_done: 0,
        total: 0,
        created: 0,
        updated: 0,
        skipped: 0,
        failed: 0,
        warnings: 0,
        error: None,
        created_ms: now,
        updated_ms: now,
        finished_ms: None,
        ..dry
    };
    let mut tx = app.db().begin().await?;
    // Two clicks start one import: the second finds the file gone once the first commits.
    kith_store::workspaces::lock(&mut tx, ctx.org_id).await?;
    if files::chunk(app.db(), ctx.org_id, id, 0).await?.is_none() {
        drop(tx);
        super::imports::drop_upload(app, ctx.org_id, new).await;
        return Err(gone());
    }
    rows::insert(&mut tx, &row).await?;
    worker::enqueue(&mut tx, JOB, Some(ctx.org_id), &serde_json::json!({"import_id": new}), now).await?;
    files::delete(&mut tx, ctx.org_id, id).await?;
    tx.commit().await?;
    Ok(row.into())
}

/// Drop the files dry runs kept past `before` (among the imports at hand).
pub(crate) async fn drop_stale_files(app: &App, org_id: Uuid, recent: &[ImportRow], before: i64) -> Result<()> {
    for r in recent.iter().filter(|r| r.dry_run && r.status == "done" && r.finished_ms.is_some_and(|f| f < before)) {
        if files::chunk(app.db(), org_id, r.id, 0).await?.is_some() {
            let mut tx = app.db().begin().await?;
            files::delete(&mut tx, org_id, r.id).await?;
            tx.commit().await?;
        }
    }
    Ok(())
}
