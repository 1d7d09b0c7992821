//! Key rotation (`kith keys rotate`).
//!
//! - Data keys: each workspace gets a new key version; new values are sealed
//!   with it, old values stay readable through the version in their header.
//! - Master key: every wrapped data key is rewrapped under the current master
//!   key and every user secret resealed, so the previous master key can go.

use crate::{App, AppError, Result};
use kith_domain::time::now_ms;
use kith_store::{users, workspaces};
use uuid::Uuid;

/// Give every workspace a fresh data key version. Returns how many.
pub async fn rotate_data_keys(app: &App) -> Result<u64> {
    let mut count = 0;
    let mut after = Uuid::nil();
    loop {
        let orgs = workspaces::ids_after(app.db(), after, 500).await?;
        let Some(last) = orgs.last().copied() else {
            break;
        };
        for org_id in orgs {
            let mut tx = app.db().begin().await?;
            app.keyring().add_workspace_key(&mut tx, org_id, now_ms()).await?;
            tx.commit().await?;
            count += 1;
        }
        after = last;
    }
    Ok(count)
}

/// Move everything under the current master key: rewrap data keys, reseal
/// user secrets that an older master key sealed. Returns (keys, secrets).
pub async fn adopt_current_master(app: &App) -> Result<(u64, u64)> {
    let rewrapped = app.keyring().rewrap_all(app.db()).await?;
    let old_keys = app.keyring().previous_user_secret_keys();
    let mut resealed = 0;
    let mut after = Uuid::nil();
    loop {
        let batch = users::totp_secrets_after(app.db(), after, 500).await?;
        let Some((last, _)) = batch.last().cloned() else {
            break;
        };
        for (user_id, sealed) in batch {
            if app.keyring().open_user_secret(user_id, "totp_secret", &sealed).is_ok() {
                continue;
            }
            let scope =
                kith_crypto::SealScope { org_id: Uuid::nil(), table: "users", column: "totp_secret", row_id: user_id };
            let plain = old_keys
                .iter()
                .find_map(|k| kith_crypto::open(k, &scope, &sealed).ok())
                .ok_or_else(|| AppError::Internal(format!("no master key opens the TOTP secret of user {user_id}")))?;
            let mut tx = app.db().begin().await?;
            users::replace_totp_secret(
                &mut tx,
                user_id,
                &app.keyring().seal_user_secret(user_id, "totp_secret", &plain),
            )
            .await?;
            tx.commit().await?;
            resealed += 1;
        }
        after = last;
    }
    Ok((rewrapped, resealed))
}
