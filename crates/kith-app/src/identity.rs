//! Accounts and sign-in: sign-up, sign-in with throttling, sessions, TOTP
//! two-factor with recovery codes, password change and reset.

use crate::audit::{self, AuditEvent, Origin};
use crate::error::Validator;
use crate::{throttle, App, AppError, Result, SignupMode};
use kith_domain::role::Role;
use kith_domain::time::{now_ms, HOUR_MS, MINUTE_MS};
use kith_domain::validate::{check_password, clean_name, normalize_email};
use kith_domain::{new_id, Actor, Context, Credential};
use kith_store::members::MembershipRow;
use kith_store::sessions::SessionRow;
use kith_store::users::UserRow;
use kith_store::workspaces::WorkspaceRow;
use kith_store::{invitations, members, one_time, sessions, users, workspaces, Tx};
use uuid::Uuid;

pub const SESSION_TOKEN_PREFIX: &str = "kith_ses";
const RESET_PURPOSE: &str = "password_reset";
const VERIFY_PURPOSE: &str = "verify_email";
const NAME_MAX: usize = 120;

#[derive(Debug, Clone)]
pub struct SignUp {
    pub email: String,
    pub name: String,
    pub password: String,
    /// Required unless joining through an invitation.
    pub workspace_name: Option<String>,
    /// The secret from an invitation link.
    pub invitation: Option<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct SignedUp {
    pub user_id: Uuid,
    pub org_id: Uuid,
}

/// Hash a password off the async threads (Argon2id is deliberately slow).
pub async fn hash_password(password: &str) -> Result<String> {
    let pw = password.to_string();
    tokio::task::spawn_blocking(move || kith_crypto::hash_password(&pw))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(AppError::from)
}

async fn verify_password(password: &str, hash: Option<&str>) -> bool {
    let pw = password.to_string();
    let hash = hash.map(str::to_string);
    tokio::task::spawn_blocking(move || match hash {
        Some(h) => kith_crypto::verify_password(&pw, &h),
        None => {
            kith_crypto::dummy_verify(&pw);
            false
        }
    })
    .await
    .unwrap_or(false)
}

/// Sign-up from the web form or API: honours the instance's sign-up mode.
pub async fn sign_up(app: &App, input: SignUp, origin: &Origin) -> Result<SignedUp> {
    create_account(app, input, origin, false).await
}

/// Account creation by the operator's CLI: sign-up mode does not apply.
pub async fn create_account_as_operator(app: &App, input: SignUp) -> Result<SignedUp> {
    create_account(app, input, &Origin::default(), true).await
}

async fn create_account(app: &App, input: SignUp, origin: &Origin, by_operator: bool) -> Result<SignedUp> {
    let mut v = Validator::default();
    let email = v.check("email", normalize_email(&input.email).ok_or("is not a valid e-mail address"));
    let name = v.check("name", clean_name(&input.name, NAME_MAX));
    v.check("password", check_password(&input.password));
    let workspace_name = match (&input.invitation, &input.workspace_name) {
        (None, Some(w)) => v.check("workspace_name", clean_name(w, NAME_MAX)),
        (None, None) => v.check::<String>("workspace_name", Err("must not be empty")),
        (Some(_), _) => None,
    };
    v.finish()?;
    let (email, name) = (email.expect("validated"), name.expect("validated"));

    let invitation = match &input.invitation {
        Some(secret) => {
            let inv = invitations::find_by_token(app.db(), &kith_crypto::token_hash(secret))
                .await?
                .ok_or(AppError::InvitationInvalid)?;
            if inv.email != email {
                return Err(AppError::field("email", "this invitation was sent to another address"));
            }
            Some(inv)
        }
        None => None,
    };
    let password_hash = hash_password(&input.password).await?;
    let now = now_ms();

    let mut tx = app.db().begin().await?;
    users::lock_for_signup(&mut tx).await?;
    let first_user = users::count(&mut tx).await? == 0;
    if !by_operator && !first_user && invitation.is_none() && app.settings().signup == SignupMode::Invite {
        return Err(AppError::SignupClosed);
    }
    if users::find_by_email_tx(&mut tx, &email).await?.is_some() {
        return Err(AppError::Conflict(
            crate::ErrorCode::EmailTaken,
            "an account with this e-mail exists; sign in instead",
        ));
    }
    let user = UserRow {
        id: new_id(),
        email,
        name,
        password_hash,
        is_operator: first_user,
        // An accepted invitation link proves the address.
        email_verified_ms: invitation.as_ref().map(|_| now),
        totp_secret: None,
        totp_enabled: false,
        totp_last_step: 0,
        created_ms: now,
        updated_ms: now,
    };
    users::insert(&mut tx, &user).await?;

    let org_id = match invitation {
        Some(inv) => {
            join_through_invitation(&mut tx, &inv, user.id, origin, now).await?;
            inv.org_id
        }
        None => create_workspace_in(app, &mut tx, user.id, &workspace_name.expect("validated"), origin, now).await?,
    };
    if user.email_verified_ms.is_none() {
        queue_verification(app, &mut tx, &user, now).await?;
    }
    tx.commit().await?;
    tracing::info!(user_id = %user.id, org_id = %org_id, operator = first_user, "account created");
    Ok(SignedUp { user_id: user.id, org_id })
}

/// Create a workspace with `owner` as its owner, its data key and its first audit entry.
pub(crate) async fn create_workspace_in(
    app: &App,
    tx: &mut Tx,
    owner: Uuid,
    name: &str,
    origin: &Origin,
    now: i64,
) -> Result<Uuid> {
    let org_id = new_id();
    workspaces::insert(
        tx,
        &WorkspaceRow { id: org_id, name: name.to_string(), version: 1, created_ms: now, updated_ms: now },
    )
    .await?;
    members::insert(
        tx,
        &MembershipRow { org_id, user_id: owner, role: Role::Owner.as_str().into(), version: 1, created_ms: now },
    )
    .await?;
    app.keyring().add_workspace_key(tx, org_id, now).await?;
    audit::record(tx, org_id, Some(owner), AuditEvent::new("workspace.created", "workspace", org_id), origin, now)
        .await?;
    Ok(org_id)
}

/// Spend an invitation and add the user with its role.
pub(crate) async fn join_through_invitation(
    tx: &mut Tx,
    inv: &kith_store::invitations::InvitationRow,
    user_id: Uuid,
    origin: &Origin,
    now: i64,
) -> Result<()> {
    if members::get_tx(tx, inv.org_id, user_id).await?.is_some() {
        return Err(AppError::Conflict(crate::ErrorCode::AlreadyMember, "you are already a member of this workspace"));
    }
    if !invitations::accept(tx, inv.id, user_id, now).await? {
        return Err(AppError::InvitationInvalid);
    }
    members::insert(
        tx,
        &MembershipRow { org_id: inv.org_id, user_id, role: inv.role.clone(), version: 1, created_ms: now },
    )
    .await?;
    let event = AuditEvent::new("member.joined", "user", user_id).with_detail(format!("role {}", inv.role));
    audit::record(tx, inv.org_id, Some(user_id), event, origin, now).await?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct SignIn {
    pub email: String,
    pub password: String,
}

/// A new session: the secret goes into the cookie, never into storage.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub session_id: Uuid,
    pub user_id: Uuid,
    /// The second factor is still owed before the session is usable.
    pub mfa_pending: bool,
}

pub async fn sign_in(app: &App, input: SignIn, origin: &Origin) -> Result<NewSession> {
    let now = now_ms();
    let email = normalize_email(&input.email).unwrap_or_else(|| input.email.trim().to_lowercase());
    let keys = throttle::keys("signin", &email, origin.ip.as_deref());
    throttle::check(app.db(), &keys, now).await?;

    let user = users::find_by_email(app.db(), &email).await?;
    let ok = verify_password(&input.password, user.as_ref().map(|u| u.password_hash.as_str())).await;
    let mut tx = app.db().begin().await?;
    let Some(user) = user.filter(|_| ok) else {
        throttle::fail(&mut tx, &keys, now).await?;
        tx.commit().await?;
        return Err(AppError::InvalidCredentials);
    };
    throttle::clear(&mut tx, &keys).await?;
    let first_org = first_workspace(app, user.id).await?;
    let session = new_session(app, &mut tx, &user, first_org, origin, now).await?;
    tx.commit().await?;
    Ok(session)
}

async fn first_workspace(app: &App, user_id: Uuid) -> Result<Option<Uuid>> {
    let page = workspaces::list_for_user(app.db(), user_id, &kith_domain::PageRequest::new(Some(1), None)).await?;
    Ok(page.items.first().map(|w| w.id))
}

async fn new_session(
    app: &App,
    tx: &mut Tx,
    user: &UserRow,
    org: Option<Uuid>,
    origin: &Origin,
    now: i64,
) -> Result<NewSession> {
    let token = kith_crypto::random_token(SESSION_TOKEN_PREFIX);
    let row = SessionRow {
        id: new_id(),
        user_id: user.id,
        token_hash: kith_crypto::token_hash(&token).to_vec(),
        current_org_id: org,
        mfa_pending: user.totp_enabled,
        csrf_secret: kith_crypto::random_bytes::<32>().to_vec(),
        ip: origin.ip.clone(),
        user_agent: origin.user_agent.as_deref().map(|ua| ua.chars().take(300).collect()),
        created_ms: now,
        last_seen_ms: now,
        expires_ms: now + app.settings().session_idle_ms,
    };
    sessions::insert(tx, &row).await?;
    Ok(NewSession { token, session_id: row.id, user_id: user.id, mfa_pending: row.mfa_pending })
}

/// A signed-in browser: the live session and its user.
#[derive(Debug, Clone)]
pub struct SessionAuth {
    pub session: SessionRow,
    pub user: UserRow,
}

/// Look up the session behind a cookie; slides its expiry at most once a minute.
pub async fn authenticate_session(app: &App, token: &str) -> Result<Option<SessionAuth>> {
    let now = now_ms();
    let Some(session) = sessions::find_live(app.db(), &kith_crypto::token_hash(token), now).await? else {
        return Ok(None);
    };
    let Some(user) = users::get(app.db(), session.user_id).await? else {
        return Ok(None);
    };
    if now - session.last_seen_ms > MINUTE_MS {
        let mut tx = app.db().begin().await?;
        sessions::touch(&mut tx, session.id, now, now + app.settings().session_idle_ms).await?;
        tx.commit().await?;
    }
    Ok(Some(SessionAuth { session, user }))
}

/// The workspace context of a fully signed-in session, for `org_id` (or the
/// session's current workspace). None when the user is not a member.
pub async fn session_context(app: &App, auth: &SessionAuth, org_id: Option<Uuid>) -> Result<Option<Context>> {
    if auth.session.mfa_pending {
        return Err(AppError::MfaRequired);
    }
    let Some(org_id) = org_id.or(auth.session.current_org_id) else {
        return Ok(None);
    };
    let Some(m) = members::get(app.db(), org_id, auth.user.id).await? else {
        return Ok(None);
    };
    let role = Role::parse(&m.role).ok_or_else(|| AppError::Internal(format!("unknown role {}", m.role)))?;
    Ok(Some(Context {
        org_id,
        actor: Actor { user_id: auth.user.id, credential: Credential::Session(auth.session.id) },
        role,
    }))
}

/// Switch the session's current workspace; only to one the user belongs to.
pub async fn switch_workspace(app: &App, auth: &SessionAuth, org_id: Uuid) -> Result<()> {
    if members::get(app.db(), org_id, auth.user.id).await?.is_none() {
        return Err(AppError::NotFound);
    }
    let mut tx = app.db().begin().await?;
    sessions::set_current_org(&mut tx, auth.session.id, Some(org_id)).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn sign_out(app: &App, auth: &SessionAuth) -> Result<()> {
    let mut tx = app.db().begin().await?;
    sessions::delete(&mut tx, auth.user.id, auth.session.id).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn list_sessions(app: &App, user_id: Uuid) -> Result<Vec<SessionRow>> {
    Ok(sessions::list_for_user(app.db(), user_id, now_ms()).await?)
}

pub async fn revoke_session(app: &App, user_id: Uuid, session_id: Uuid) -> Result<()> {
    let mut tx = app.db().begin().await?;
    let found = sessions::delete(&mut tx, user_id, session_id).await?;
    tx.commit().await?;
    if found {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// Second step of sign-in: a TOTP code or a recovery code. Throttled like passwords.
pub async fn complete_mfa(app: &App, auth: &SessionAuth, code: &str, origin: &Origin) -> Result<()> {
    let now = now_ms();
    let keys = throttle::keys("mfa", &auth.user.id.to_string(), origin.ip.as_deref());
    throttle::check(app.db(), &keys, now).await?;
    let mut tx = app.db().begin().await?;
    let ok = check_second_factor(app, &mut tx, &auth.user, code, now).await?;
    if !ok {
        throttle::fail(&mut tx, &keys, now).await?;
        tx.commit().await?;
        return Err(AppError::InvalidMfaCode);
    }
    throttle::clear(&mut tx, &keys).await?;
    sessions::complete_mfa(&mut tx, auth.session.id).await?;
    tx.commit().await?;
    Ok(())
}

async fn check_second_factor(app: &App, tx: &mut Tx, user: &UserRow, code: &str, now: i64) -> Result<bool> {
    let code = code.trim();
    if code.contains('-') || code.chars().any(|c| c.is_ascii_alphabetic()) {
        let hash = kith_crypto::token_hash(&code.to_lowercase());
        return Ok(users::use_recovery_code(tx, user.id, &hash, now).await?);
    }
    let Some(sealed) = user.totp_secret.as_deref().filter(|_| user.totp_enabled) else {
        return Ok(false);
    };
    let secret = app.keyring().open_user_secret(user.id, "totp_secret", sealed)?;
    match kith_crypto::totp::verify(&secret, code, (now / 1000) as u64, 1) {
        // A step already used cannot be used again (replay of an observed code).
        Some(step) => Ok(users::use_totp_step(tx, user.id, step as i64).await?),
        None => Ok(false),
    }
}

/// Start enrolling TOTP: a fresh secret, stored sealed but not yet enabled.
#[derive(Debug, Clone)]
pub struct TotpEnrollment {
    pub secret_base32: String,
    pub otpauth_uri: String,
}

pub async fn begin_totp(app: &App, user: &UserRow) -> Result<TotpEnrollment> {
    if user.totp_enabled {
        return Err(AppError::Conflict(crate::ErrorCode::AlreadyExists, "two-factor sign-in is already on"));
    }
    let secret = kith_crypto::totp::generate_secret();
    let sealed = app.keyring().seal_user_secret(user.id, "totp_secret", &secret);
    let mut tx = app.db().begin().await?;
    users::set_totp(&mut tx, user.id, Some(&sealed), false, now_ms()).await?;
    tx.commit().await?;
    Ok(TotpEnrollment {
        secret_base32: kith_crypto::totp::base32_encode(&secret),
        otpauth_uri: kith_crypto::totp::otpauth_uri("Kith", &user.email, &secret),
    })
}

/// Confirm enrolment with a first code; returns the recovery codes (shown once).
pub async fn confirm_totp(app: &App, user_id: Uuid, code: &str) -> Result<Vec<String>> {
    let user = users::get(app.db(), user_id).await?.ok_or(AppError::NotFound)?;
    let sealed = user.totp_secret.as_deref().filter(|_| !user.totp_enabled).ok_or(AppError::InvalidMfaCode)?;
    let secret = app.keyring().open_user_secret(user.id, "totp_secret", sealed)?;
    let now = now_ms();
    let step = kith_crypto::totp::verify(&secret, code, (now / 1000) as u64, 1).ok_or(AppError::InvalidMfaCode)?;
    let codes = kith_crypto::recovery_codes(10);
    let hashes: Vec<[u8; 32]> = codes.iter().map(|c| kith_crypto::token_hash(c)).collect();
    let mut tx = app.db().begin().await?;
    users::set_totp(&mut tx, user.id, Some(sealed), true, now).await?;
    users::use_totp_step(&mut tx, user.id, step as i64).await?;
    users::replace_recovery_codes(&mut tx, user.id, &hashes).await?;
    tx.commit().await?;
    Ok(codes)
}

/// Turn two-factor off; needs the password again.
pub async fn disable_totp(app: &App, user: &UserRow, password: &str) -> Result<()> {
    if !verify_password(password, Some(&user.password_hash)).await {
        return Err(AppError::field("password", "is not your current password"));
    }
    let mut tx = app.db().begin().await?;
    users::set_totp(&mut tx, user.id, None, false, now_ms()).await?;
    users::replace_recovery_codes(&mut tx, user.id, &[]).await?;
    tx.commit().await?;
    Ok(())
}

/// Change the password; every other session of the user is signed out.
pub async fn change_password(app: &App, auth: &SessionAuth, current: &str, new: &str) -> Result<()> {
    if !verify_password(current, Some(&auth.user.password_hash)).await {
        return Err(AppError::field("current_password", "is not your current password"));
    }
    check_password(new).map_err(|m| AppError::field("new_password", m))?;
    let hash = hash_password(new).await?;
    let mut tx = app.db().begin().await?;
    users::set_password(&mut tx, auth.user.id, &hash, now_ms()).await?;
    sessions::delete_all_except(&mut tx, auth.user.id, Some(auth.session.id)).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn update_profile(app: &App, user_id: Uuid, name: &str) -> Result<()> {
    let name = clean_name(name, NAME_MAX).map_err(|m| AppError::field("name", m))?;
    let mut tx = app.db().begin().await?;
    users::set_name(&mut tx, user_id, &name, now_ms()).await?;
    tx.commit().await?;
    Ok(())
}

/// Make a password-reset secret for an address and, with SMTP, e-mail its
/// link. `None` for an unknown address (the caller answers the same either
/// way, so addresses cannot be probed). Throttled per address and IP.
pub async fn request_password_reset(app: &App, email: &str, origin: &Origin) -> Result<Option<(UserRow, String)>> {
    let Some(email) = normalize_email(email) else { return Ok(None) };
    let now = now_ms();
    let keys = throttle::keys("reset", &email, origin.ip.as_deref());
    throttle::check(app.db(), &keys, now).await?;
    let user = users::find_by_email(app.db(), &email).await?;
    let mut tx = app.db().begin().await?;
    throttle::fail(&mut tx, &keys, now).await?;
    let Some(user) = user else {
        tx.commit().await?;
        return Ok(None);
    };
    let token = kith_crypto::random_token("kith_rst");
    one_time::insert(&mut tx, &kith_crypto::token_hash(&token), RESET_PURPOSE, user.id, now, now + HOUR_MS).await?;
    let link = format!("{}/reset-password/{}", app.settings().public_url.trim_end_matches('/'), token);
    let text = format!(
        "Hello {},\n\nSomeone asked to reset the password of your Kith account. To choose a new one, open:\n{}\n\nThe link works once, for an hour. If it was not you, ignore this e-mail: your password stays as it is.\n",
        user.name, link
    );
    crate::mail::queue(app, &mut tx, &user.email, "Reset your Kith password", &text).await?;
    tx.commit().await?;
    Ok(Some((user, token)))
}

/// Spend a reset secret: new password, every session signed out.
pub async fn reset_password(app: &App, token: &str, new: &str) -> Result<()> {
    check_password(new).map_err(|m| AppError::field("password", m))?;
    let hash = hash_password(new).await?;
    let now = now_ms();
    let mut tx = app.db().begin().await?;
    let user_id = one_time::consume(&mut tx, &kith_crypto::token_hash(token), RESET_PURPOSE, now)
        .await?
        .ok_or(AppError::TokenInvalid)?;
    users::set_password(&mut tx, user_id, &hash, now).await?;
    sessions::delete_all_except(&mut tx, user_id, None).await?;
    tx.commit().await?;
    Ok(())
}

/// The operator's reset (`kith admin reset-password`).
pub async fn admin_reset_password(app: &App, email: &str, new: &str) -> Result<Uuid> {
    let email = normalize_email(email).ok_or_else(|| AppError::field("email", "is not a valid e-mail address"))?;
    let user = users::find_by_email(app.db(), &email).await?.ok_or(AppError::NotFound)?;
    check_password(new).map_err(|m| AppError::field("password", m))?;
    let hash = hash_password(new).await?;
    let mut tx = app.db().begin().await?;
    users::set_password(&mut tx, user.id, &hash, now_ms()).await?;
    sessions::delete_all_except(&mut tx, user.id, None).await?;
    tx.commit().await?;
    Ok(user.id)
}

/// E-mail a link that proves the address (only when SMTP is configured).
async fn queue_verification(app: &App, tx: &mut Tx, user: &UserRow, now: i64) -> Result<bool> {
    if app.mailer().is_none() {
        return Ok(false);
    }
    let token = kith_crypto::random_token("kith_vfy");
    one_time::insert(tx, &kith_crypto::token_hash(&token), VERIFY_PURPOSE, user.id, now, now + 24 * HOUR_MS).await?;
    let link = format!("{}/verify-email/{}", app.settings().public_url.trim_end_matches('/'), token);
    let text = format!(
        "Hello {},\n\nConfirm that this is your e-mail address for Kith:\n{}\n\nThe link works once, for 24 hours.\n",
        user.name, link
    );
    crate::mail::queue(app, tx, &user.email, "Confirm your e-mail address", &text).await
}

/// Send the verification e-mail again; false when there is no SMTP or nothing to verify.
pub async fn resend_verification(app: &App, user_id: Uuid, origin: &Origin) -> Result<bool> {
    let user = users::get(app.db(), user_id).await?.ok_or(AppError::NotFound)?;
    if user.email_verified_ms.is_some() {
        return Ok(false);
    }
    let now = now_ms();
    let keys = throttle::keys("verify-mail", &user.email, origin.ip.as_deref());
    throttle::check(app.db(), &keys, now).await?;
    let mut tx = app.db().begin().await?;
    // Every send counts, so repeated clicks slow down instead of flooding an inbox.
    throttle::fail(&mut tx, &keys, now).await?;
    let queued = queue_verification(app, &mut tx, &user, now).await?;
    tx.commit().await?;
    Ok(queued)
}

pub async fn verify_email(app: &App, token: &str) -> Result<Uuid> {
    let now = now_ms();
    let mut tx = app.db().begin().await?;
    let user_id = one_time::consume(&mut tx, &kith_crypto::token_hash(token), VERIFY_PURPOSE, now)
        .await?
        .ok_or(AppError::TokenInvalid)?;
    users::mark_email_verified(&mut tx, user_id, now).await?;
    tx.commit().await?;
    Ok(user_id)
}

/// The acting user and their current workspace. API requests get it from
/// token authentication (the same read); other callers from `me`.
#[derive(Debug, Clone)]
pub struct Me {
    pub user: users::UserSummary,
    pub workspace: WorkspaceRow,
}

pub async fn me(app: &App, ctx: &Context) -> Result<Me> {
    // One read: the member's user row joined with their workspace.
    let (user, workspace) =
        users::get_with_workspace(app.db(), ctx.user_id(), ctx.org_id).await?.ok_or(AppError::NotFound)?;
    Ok(Me { user: user.into(), workspace })
}

/// No account exists yet (the sign-up page then says the first user runs the instance).
pub async fn instance_is_empty(app: &App) -> Result<bool> {
    Ok(users::count_all(app.db()).await? == 0)
}

/// What the security settings page shows about a user.
#[derive(Debug, Clone)]
pub struct SecuritySummary {
    pub totp_enabled: bool,
    pub recovery_codes_left: i64,
    /// An enrolment started but not confirmed: the same secret, to retry with.
    pub pending_enrolment: Option<TotpEnrollment>,
}

pub async fn security_summary(app: &App, user_id: Uuid) -> Result<SecuritySummary> {
    let user = users::get(app.db(), user_id).await?.ok_or(AppError::NotFound)?;
    let recovery_codes_left = users::unused_recovery_codes(app.db(), user_id).await?;
    let pending_enrolment = match user.totp_secret.as_deref().filter(|_| !user.totp_enabled) {
        Some(sealed) => {
            let secret = app.keyring().open_user_secret(user.id, "totp_secret", sealed)?;
            Some(TotpEnrollment {
                secret_base32: kith_crypto::totp::base32_encode(&secret),
                otpauth_uri: kith_crypto::totp::otpauth_uri("Kith", &user.email, &secret),
            })
        }
        None => None,
    };
    Ok(SecuritySummary { totp_enabled: user.totp_enabled, recovery_codes_left, pending_enrolment })
}
