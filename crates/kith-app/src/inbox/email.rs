//! E-mail channels (issue #4 §6): IMAP in, SMTP out.
//!
//! **In.** `kith serve` runs [`run_pollers`]: a supervisor that lists the
//! connected e-mail channels every little while and keeps one poller task
//! per channel (restarted when the channel's settings change, stopped when
//! it is disconnected). A poller takes a lease on its mailbox in the
//! database (one node polls a mailbox at a time, as with the job queue),
//! logs in, selects INBOX and fetches every message above the last UID it
//! stored. Each message is parsed (`kith_providers::email`: HTML sanitised,
//! attachments listed) and stored like a webhook event — sealed, deduplicated
//! by Message-ID, with its `inbox.process` job — in one transaction that
//! also moves the channel's cursor (UIDVALIDITY, last UID): a restart
//! resumes after the last message stored, never before, never past. Then it
//! waits with IDLE (or polls where the server has no IDLE) and does it
//! again. The first synchronisation of a mailbox takes the messages of the
//! last [`FIRST_SYNC_DAYS`] days (at most [`FIRST_SYNC_MAX`]); a changed
//! UIDVALIDITY does the same again (duplicates fall to the Message-ID).
//! Messages the channel's own address sent are skipped.
//!
//! **Processing** ([`process`], run by `inbox.process`): the sender is found
//! among workspace-shared contacts by e-mail (never a personal contact) or
//! created; the message joins the open conversation that holds a message
//! whose Message-ID it names in In-Reply-To/References, else the open
//! conversation of (channel, contact), else a new one. The body shown is
//! the plain-text part when there is one (else text from the sanitised
//! HTML); subject, threading ids, sanitised HTML and the attachment list
//! are sealed beside the message (`email_messages`).
//!
//! **Out.** The `inbox.send` job hands a reply of an e-mail conversation to
//! [`send`]: SMTP submission with the channel's credentials, `From` the
//! channel's address, `To` the conversation's peer, `Re:` the subject of
//! the last inbound message, `In-Reply-To` its Message-ID and `References`
//! its References plus its Message-ID. The reply's Message-ID is made from
//! the message id (`<id@domain>`), so a retried job sends the same id, and
//! is stored as the provider id: the customer's answer to it threads back.
//!
//! **Attachments**: the poller puts each part's bytes in the object store
//! before the event is stored (`media::keep_email_parts`; over 25 MB a part
//! is listed, not kept, and the message says so); processing gives the
//! message one `attachments` row per stored part.

use super::channels::open_config;
use super::process::{create_contact, find_contact, find_or_open, message_entry, message_time, SenderKey};
use super::{publish, PROCESS_JOB};
use crate::crm::timeline;
use crate::{App, AppError, Result};
use kith_domain::time::now_ms;
use kith_domain::{new_id, Context};
use kith_infra::events::{CONVERSATION_UPDATED, MESSAGE_CREATED};
use kith_infra::imap::{ImapConfig, ImapError, Mailbox};
use kith_infra::mail::MailError;
use kith_infra::smtp::{SmtpConfig, ThreadedMail};
use kith_providers::email::{self as parser, Attachment, InboundEmail};
use kith_providers::{InboundEvent, SendError, Sent};
use kith_store::channels::ChannelRow;
use kith_store::email as store;
use kith_store::inbox::{self as rows, ConversationRow, InboundEventRow, MessageRow};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

/// How far back the first synchronisation of a mailbox reaches.
pub const FIRST_SYNC_DAYS: i64 = 14;
/// The most messages the first synchronisation takes (the newest).
pub const FIRST_SYNC_MAX: usize = 500;
/// Messages fetched and stored per transaction.
pub const BATCH: usize = 25;
/// Larger messages are stored with their header only and a note.
pub const MAX_MESSAGE_BYTES: u64 = 25 * 1024 * 1024;

/// Timings of the pollers (tests shorten them).
#[derive(Debug, Clone)]
pub struct PollerOptions {
    /// How often the supervisor looks for new, changed or removed channels.
    pub scan_every: Duration,
    /// How long one IDLE lasts before the lease is renewed and IDLE re-issued
    /// (well under the servers' 30-minute limit and the lease).
    pub idle_window: Duration,
    /// The wait between polls when the server has no IDLE.
    pub poll_every: Duration,
    /// How long a lease holds without renewal.
    pub lease: Duration,
    /// First and longest wait after a failed connection.
    pub retry_min: Duration,
    pub retry_max: Duration,
    /// Connecting, TLS, login and each IMAP/SMTP command.
    pub timeout: Duration,
}

impl Default for PollerOptions {
    fn default() -> Self {
        PollerOptions {
            scan_every: Duration::from_secs(30),
            idle_window: Duration::from_secs(20),
            poll_every: Duration::from_secs(60),
            lease: Duration::from_secs(90),
            retry_min: Duration::from_secs(5),
            retry_max: Duration::from_secs(300),
            timeout: Duration::from_secs(30),
        }
    }
}

// ------------------------------------------------------------------ parts

/// What an e-mail message has beyond the neutral message (sealed JSON in
/// `email_messages.parts`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Parts {
    subject: String,
    message_id: String,
    #[serde(default)]
    in_reply_to: Vec<String>,
    #[serde(default)]
    references: Vec<String>,
    #[serde(default)]
    html: Option<String>,
    #[serde(default)]
    attachments: Vec<Attachment>,
}

const PARTS_TABLE: &str = "email_messages";
const PARTS_COLUMN: &str = "parts";

async fn seal_parts(app: &App, org_id: Uuid, message_id: Uuid, parts: &Parts) -> Result<Vec<u8>> {
    let json = serde_json::to_vec(parts).map_err(|e| AppError::Internal(e.to_string()))?;
    app.keyring().seal(app.db(), org_id, PARTS_TABLE, PARTS_COLUMN, message_id, &json).await
}

async fn open_parts(app: &App, org_id: Uuid, message_id: Uuid) -> Result<Option<Parts>> {
    let Some(sealed) = store::parts(app.db(), org_id, message_id).await? else { return Ok(None) };
    let json = app.keyring().open(app.db(), org_id, PARTS_TABLE, PARTS_COLUMN, message_id, &sealed).await?;
    Ok(Some(serde_json::from_slice(&json).map_err(|e| AppError::Internal(format!("e-mail parts: {e}")))?))
}

/// The e-mail side of a message, for the thread view.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EmailDetails {
    pub subject: String,
    /// Without angle brackets.
    pub message_id: String,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    /// Sanitised HTML (scripts, event handlers and `javascript:` URLs
    /// removed); still to be shown in a sandboxed frame, remote images off.
    pub html: Option<String>,
    pub attachments: Vec<AttachmentInfo>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AttachmentInfo {
    pub name: Option<String>,
    pub content_type: String,
    pub size: u64,
    pub inline: bool,
    /// True when the bytes are kept (see `attachment_id`); false for a part
    /// over the size cap.
    pub stored: bool,
    /// The stored attachment (`GET /api/v1/attachments/{id}`).
    pub attachment_id: Option<Uuid>,
}

/// The e-mail details of a message the viewer may see; None when the
/// message is no e-mail.
pub async fn details(app: &App, ctx: &Context, message_id: Uuid) -> Result<Option<EmailDetails>> {
    let m = rows::get_message(app.db(), ctx.org_id, message_id).await?.ok_or(AppError::NotFound)?;
    super::conversations::visible(app, ctx, m.conversation_id).await?;
    Ok(open_parts(app, ctx.org_id, message_id).await?.map(|p| EmailDetails {
        subject: p.subject,
        message_id: p.message_id,
        in_reply_to: p.in_reply_to,
        references: p.references,
        html: p.html,
        attachments: p
            .attachments
            .into_iter()
            .map(|a| AttachmentInfo {
                name: a.name,
                content_type: a.content_type,
                size: a.size,
                inline: a.inline,
                stored: a.stored_as.is_some(),
                attachment_id: a.stored_as.as_deref().and_then(|id| Uuid::parse_str(id).ok()),
            })
            .collect(),
    }))
}

// ------------------------------------------------------------- settings

fn text(config: &Map<String, Value>, key: &str) -> String {
    config.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

fn port(config: &Map<String, Value>, key: &str) -> u16 {
    config
        .get(key)
        .and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
        .and_then(|n| u16::try_from(n).ok())
        .unwrap_or(0)
}

fn imap_config(app: &App, config: &Map<String, Value>, timeout: Duration) -> ImapConfig {
    ImapConfig {
        host: text(config, "imap_host"),
        port: port(config, "imap_port"),
        username: text(config, "username"),
        password: text(config, "password"),
        allow_private_networks: app.settings().allow_private_networks,
        timeout,
    }
}

fn smtp_config(app: &App, config: &Map<String, Value>, timeout: Duration) -> SmtpConfig {
    SmtpConfig {
        host: text(config, "smtp_host"),
        port: port(config, "smtp_port"),
        username: text(config, "username"),
        password: text(config, "password"),
        allow_private_networks: app.settings().allow_private_networks,
        timeout,
    }
}

// -------------------------------------------------------------- polling

/// What one synchronisation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollReport {
    /// Messages fetched from the server.
    pub fetched: usize,
    /// New events stored (each with its processing job).
    pub stored: usize,
    /// Messages whose Message-ID the channel already had.
    pub duplicates: usize,
    /// Messages skipped: sent by the channel's own address, or unreadable.
    pub skipped: usize,
}

#[derive(Debug, thiserror::Error)]
enum PollError {
    #[error(transparent)]
    Imap(#[from] ImapError),
    #[error(transparent)]
    App(#[from] AppError),
    #[error("another node holds this mailbox now")]
    LeaseLost,
}

impl From<kith_store::StoreError> for PollError {
    fn from(e: kith_store::StoreError) -> Self {
        PollError::App(e.into())
    }
}

/// "14-Nov-2023": the date form IMAP SEARCH takes.
fn imap_date(ms: i64) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = ms.div_euclid(86_400_000) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{day}-{}-{year}", MONTHS[(month - 1) as usize])
}

/// One channel's poller identity: the channel and the lease holder.
#[derive(Debug, Clone, Copy)]
struct Poller {
    channel_id: Uuid,
    org_id: Uuid,
    owner: Uuid,
}

/// Fetch and store everything new in the selected mailbox.
async fn sync(app: &App, p: &Poller, address: &str, mb: &mut Mailbox) -> std::result::Result<PollReport, PollError> {
    let mut report = PollReport::default();
    let state = store::mailbox(app.db(), p.channel_id).await?;
    let (known_validity, last_uid) = state.map(|s| (s.uid_validity, s.last_uid)).unwrap_or((0, 0));
    let validity = i64::from(mb.uid_validity());
    let steady = known_validity == validity && validity != 0;
    let (mut uids, mut cursor) = if steady {
        (mb.uids_after(u32::try_from(last_uid).unwrap_or(0), BATCH * 4).await?, last_uid)
    } else {
        if known_validity != 0 {
            tracing::info!(channel_id = %p.channel_id, "UIDVALIDITY changed: synchronising the mailbox again");
        }
        let since = imap_date(now_ms() - FIRST_SYNC_DAYS * kith_domain::time::DAY_MS);
        (mb.uids_since(&since, FIRST_SYNC_MAX).await?, 0)
    };
    if uids.is_empty() && (!steady || cursor == 0) {
        // Nothing to take: start from what the server will number next.
        let next = i64::from(mb.uid_next().unwrap_or(1)).saturating_sub(1).max(cursor);
        let mut tx = app.db().begin().await?;
        if !store::advance(&mut tx, p.channel_id, p.owner, validity, next, now_ms()).await? {
            return Err(PollError::LeaseLost);
        }
        tx.commit().await?;
        return Ok(report);
    }
    loop {
        let full = steady && uids.len() == BATCH * 4;
        while !uids.is_empty() {
            let chunk: Vec<u32> = uids.drain(..uids.len().min(BATCH)).collect();
            let mut events = Vec::with_capacity(chunk.len());
            for uid in &chunk {
                let Some(fetched) = mb.fetch(*uid, MAX_MESSAGE_BYTES).await? else { continue };
                report.fetched += 1;
                match parser::parse(&fetched.raw) {
                    Ok(mut email) => {
                        if email.message.from.email.as_deref() == Some(address) {
                            report.skipped += 1;
                            continue;
                        }
                        if fetched.header_only {
                            email.message.text = format!(
                                "[This e-mail is {} MB, more than Kith imports ({} MB); read it in the mailbox.]",
                                fetched.size.div_ceil(1024 * 1024),
                                MAX_MESSAGE_BYTES / (1024 * 1024)
                            );
                        }
                        super::media::keep_email_parts(app, p.org_id, &mut email).await?;
                        events.push(InboundEvent::Email(Box::new(email)));
                    }
                    Err(e) => {
                        // Not an e-mail we can read (no sender): nothing to answer.
                        tracing::warn!(channel_id = %p.channel_id, uid, error = %e, "skipped an unreadable e-mail");
                        report.skipped += 1;
                    }
                }
            }
            cursor = cursor.max(i64::from(*chunk.last().expect("a chunk is never empty")));
            let (stored, duplicates) = store_events(app, p, events, validity, cursor).await?;
            report.stored += stored;
            report.duplicates += duplicates;
        }
        if !full {
            break;
        }
        // More may wait: keep the lease and take the next batch.
        if !claim(app, p, PollerOptions::default().lease).await? {
            return Err(PollError::LeaseLost);
        }
        uids = mb.uids_after(u32::try_from(cursor).unwrap_or(0), BATCH * 4).await?;
        if uids.is_empty() {
            break;
        }
    }
    Ok(report)
}

/// Seal the events, then store them with their processing jobs and the new
/// cursor in one transaction (as webhook ingest does, plus the cursor).
async fn store_events(
    app: &App,
    p: &Poller,
    events: Vec<InboundEvent>,
    validity: i64,
    cursor: i64,
) -> std::result::Result<(usize, usize), PollError> {
    let now = now_ms();
    let mut prepared = Vec::with_capacity(events.len());
    let stored_files: Vec<Vec<Uuid>> = events.iter().map(super::media::stored_parts).collect();
    for event in events {
        let id = new_id();
        let json = serde_json::to_vec(&event).map_err(|e| AppError::Internal(e.to_string()))?;
        let payload = app.keyring().seal(app.db(), p.org_id, "inbound_events", "payload", id, &json).await?;
        prepared.push(InboundEventRow {
            id,
            org_id: p.org_id,
            channel_id: p.channel_id,
            provider_event_id: event.provider_event_id(),
            kind: "email".into(),
            payload,
            received_ms: now,
            processed_ms: None,
            error: None,
        });
    }
    let (mut stored, mut duplicates) = (0, 0);
    let mut orphans = Vec::new();
    let mut tx = app.db().begin().await?;
    for (row, files) in prepared.iter().zip(&stored_files) {
        if rows::insert_event(&mut tx, row).await? {
            crate::worker::enqueue(&mut tx, PROCESS_JOB, Some(p.org_id), &serde_json::json!({"event_id": row.id}), now)
                .await?;
            stored += 1;
        } else {
            duplicates += 1;
            orphans.extend(files.iter().cloned());
        }
    }
    if !store::advance(&mut tx, p.channel_id, p.owner, validity, cursor, now).await? {
        return Err(PollError::LeaseLost);
    }
    tx.commit().await?;
    // A message fetched twice: the second copy's parts are not needed.
    super::media::forget_stored(app, p.org_id, &orphans).await;
    Ok((stored, duplicates))
}

async fn claim(app: &App, p: &Poller, lease: Duration) -> Result<bool> {
    let now = now_ms();
    Ok(store::claim(app.db(), p.channel_id, p.org_id, p.owner, now, now + lease.as_millis() as i64).await?)
}

/// The channel's settings, or None when it is gone or no e-mail channel.
async fn channel_config(app: &App, org_id: Uuid, id: Uuid) -> Result<Option<(ChannelRow, Map<String, Value>)>> {
    let Some(row) = kith_store::channels::get(app.db(), org_id, id).await? else { return Ok(None) };
    if row.kind != "email" {
        return Ok(None);
    }
    let config = open_config(app, org_id, id, row.config.as_deref()).await?;
    Ok(Some((row, config)))
}

/// Connect, synchronise once and log out: what a poller does on each round,
/// for tests and for a "check now" from the settings page. Takes the lease
/// for this call when nobody holds it.
pub async fn poll_once(app: &App, org_id: Uuid, channel_id: Uuid) -> Result<PollReport> {
    let p = Poller { channel_id, org_id, owner: new_id() };
    let opts = PollerOptions::default();
    if !claim(app, &p, opts.lease).await? {
        return Err(AppError::Conflict(crate::ErrorCode::InUse, "a poller is reading this mailbox now"));
    }
    let result = async {
        let (_, config) = channel_config(app, org_id, channel_id).await?.ok_or(AppError::NotFound)?;
        let mut mb = Mailbox::open(&imap_config(app, &config, opts.timeout)).await.map_err(imap_error)?;
        let report = sync(app, &p, &text(&config, "address").to_lowercase(), &mut mb).await;
        mb.close().await;
        report.map_err(|e| match e {
            PollError::App(e) => e,
            PollError::Imap(e) => imap_error(e),
            PollError::LeaseLost => AppError::Conflict(crate::ErrorCode::InUse, "a poller is reading this mailbox now"),
        })
    }
    .await;
    store::release(app.db(), channel_id, p.owner).await?;
    result
}

/// A connection problem as a field error of the channel's settings.
fn imap_error(e: ImapError) -> AppError {
    let field = match e {
        ImapError::Login(_) => "config.password",
        _ => "config.imap_host",
    };
    AppError::field(field, e.to_string())
}

/// One connection's life: log in, then synchronise, renew the lease and
/// wait for news until stopped (Ok) or something breaks (Err).
async fn session(
    app: &App,
    p: &Poller,
    opts: &PollerOptions,
    stop: &mut watch::Receiver<bool>,
) -> std::result::Result<(), PollError> {
    let Some((_, config)) = channel_config(app, p.org_id, p.channel_id).await? else { return Ok(()) };
    let address = text(&config, "address").to_lowercase();
    let mut mb = Mailbox::open(&imap_config(app, &config, opts.timeout)).await?;
    loop {
        let report = sync(app, p, &address, &mut mb).await?;
        if report.fetched > 0 {
            tracing::info!(
                channel_id = %p.channel_id,
                fetched = report.fetched,
                stored = report.stored,
                duplicates = report.duplicates,
                "e-mail fetched"
            );
        }
        if !claim(app, p, opts.lease).await? {
            mb.close().await;
            return Err(PollError::LeaseLost);
        }
        tokio::select! {
            // Renewed well before it runs out.
            r = mb.wait_for_change(opts.idle_window.min(opts.lease / 3), opts.poll_every) => r?,
            _ = stop.changed() => {
                mb.close().await;
                return Ok(());
            }
        }
        if *stop.borrow() {
            mb.close().await;
            return Ok(());
        }
    }
}

/// Wait `d` unless stopped first; true when stopped.
async fn pause(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    if *stop.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => *stop.borrow(),
        _ = stop.changed() => true,
    }
}

async fn poll_channel(app: App, p: Poller, opts: PollerOptions, mut stop: watch::Receiver<bool>) {
    let mut backoff = opts.retry_min;
    loop {
        if *stop.borrow() {
            break;
        }
        match claim(&app, &p, opts.lease).await {
            Ok(true) => {}
            Ok(false) => {
                // Another node polls this mailbox; look again when its lease may have run out.
                if pause(opts.lease / 2, &mut stop).await {
                    break;
                }
                continue;
            }
            Err(e) => {
                tracing::warn!(channel_id = %p.channel_id, error = %e, "e-mail poller: lease not taken");
                if pause(backoff, &mut stop).await {
                    break;
                }
                continue;
            }
        }
        match session(&app, &p, &opts, &mut stop).await {
            Ok(()) => break,
            Err(PollError::LeaseLost) => {
                tracing::info!(channel_id = %p.channel_id, "e-mail poller: another node took the mailbox");
                backoff = opts.retry_min;
            }
            Err(e) => {
                let message = e.to_string();
                tracing::warn!(channel_id = %p.channel_id, error = %message, "e-mail poller: will retry");
                let _ = store::note_poll(app.db(), p.channel_id, p.owner, Some(&message), now_ms()).await;
                if pause(backoff, &mut stop).await {
                    break;
                }
                backoff = (backoff * 2).min(opts.retry_max);
            }
        }
    }
    let _ = store::release(app.db(), p.channel_id, p.owner).await;
}

/// The poller supervisor `kith serve` runs until `shutdown` turns true.
pub async fn run_pollers(app: App, shutdown: watch::Receiver<bool>) {
    run_pollers_with(app, shutdown, PollerOptions::default()).await
}

/// The same with chosen timings.
pub async fn run_pollers_with(app: App, mut shutdown: watch::Receiver<bool>, opts: PollerOptions) {
    let owner = new_id();
    let mut running: HashMap<Uuid, (i64, watch::Sender<bool>, tokio::task::JoinHandle<()>)> = HashMap::new();
    loop {
        match store::active_channels(app.db(), 10_000).await {
            Ok(channels) => {
                running.retain(|id, (version, stop, handle)| {
                    let keep = channels.iter().any(|c| c.id == *id && c.version == *version) && !handle.is_finished();
                    if !keep {
                        let _ = stop.send(true);
                    }
                    keep
                });
                for c in channels {
                    if running.contains_key(&c.id) {
                        continue;
                    }
                    let (tx, rx) = watch::channel(false);
                    let p = Poller { channel_id: c.id, org_id: c.org_id, owner };
                    let handle = tokio::spawn(poll_channel(app.clone(), p, opts.clone(), rx));
                    running.insert(c.id, (c.version, tx, handle));
                }
            }
            Err(e) => tracing::warn!(error = %e, "e-mail pollers: cannot list the channels"),
        }
        tokio::select! {
            _ = tokio::time::sleep(opts.scan_every) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            break;
        }
    }
    for (_, (_, stop, _)) in running.iter() {
        let _ = stop.send(true);
    }
    for (_, (_, _, handle)) in running {
        let _ = tokio::time::timeout(Duration::from_secs(10), handle).await;
    }
}

// ----------------------------------------------------------- processing

/// `inbox.process` for an e-mail: contact, conversation (threaded), message.
pub(crate) async fn process(app: &App, ev: &InboundEventRow, channel: &ChannelRow, email: InboundEmail) -> Result<()> {
    let org_id = ev.org_id;
    let now = now_ms();
    let m = &email.message;
    let key = SenderKey::of("email", m);
    if key.email.is_none() {
        let mut tx = app.db().begin().await?;
        rows::mark_event_processed(&mut tx, ev.id, now, Some("the sender has no usable e-mail address")).await?;
        tx.commit().await?;
        return Ok(());
    }
    let at = message_time(m, ev.received_ms);
    let message_id = new_id();
    let body = app.keyring().seal(app.db(), org_id, "messages", "body", message_id, m.text.as_bytes()).await?;
    let parts = Parts {
        subject: email.subject.clone(),
        message_id: m.provider_message_id.clone(),
        in_reply_to: email.in_reply_to.clone(),
        references: email.references.clone(),
        html: email.html.clone(),
        attachments: email.attachments.clone(),
    };
    let sealed_parts = seal_parts(app, org_id, message_id, &parts).await?;
    let thread_ids = email.thread_ids();
    let mut files = super::media::email_rows(app, org_id, message_id, &email.attachments).await?;

    let mut tx = app.db().begin().await?;
    rows::lock_inbound_key(&mut tx, key.lock_key(org_id)).await?;
    if rows::message_by_provider_id(&mut tx, channel.id, &m.provider_message_id).await?.is_some() {
        rows::mark_event_processed(&mut tx, ev.id, now, None).await?;
        tx.commit().await?;
        return Ok(());
    }
    let contact_id = match find_contact(&mut tx, org_id, &key).await? {
        Some(id) => id,
        None => create_contact(app, &mut tx, org_id, "email", &key, m.from.display_name.as_deref(), now).await?,
    };
    rows::add_channel_id(&mut tx, org_id, contact_id, &key.channel_id.0, &key.channel_id.1, now).await?;
    let conversation: ConversationRow = match store::thread_conversation(&mut tx, channel.id, &thread_ids).await? {
        Some(c) => c,
        None => find_or_open(&mut tx, org_id, channel.id, contact_id, &email.reply_to, at, now).await?,
    };
    let row = MessageRow {
        id: message_id,
        org_id,
        conversation_id: conversation.id,
        channel_id: channel.id,
        direction: "in".into(),
        kind: "message".into(),
        body,
        media: None,
        mentions: "[]".into(),
        author_user_id: None,
        provider_message_id: Some(m.provider_message_id.clone()),
        state: "received".into(),
        error_code: None,
        error_message: None,
        created_ms: at,
        updated_ms: now,
        sent_ms: Some(at),
    };
    if !rows::insert_message(&mut tx, &row).await? {
        rows::mark_event_processed(&mut tx, ev.id, now, None).await?;
        tx.commit().await?;
        return Ok(());
    }
    store::insert_parts(&mut tx, message_id, org_id, &sealed_parts).await?;
    for file in &mut files {
        file.conversation_id = conversation.id;
        kith_store::attachments::insert(&mut tx, file).await?;
    }
    rows::note_message(&mut tx, conversation.id, at, true, now).await?;
    timeline::append(
        &mut tx,
        message_entry(org_id, conversation.contact_id, message_id, at, None, "in", "email", conversation.id),
    )
    .await?;
    if channel.ai_mode != "off" {
        crate::ai::autoreply::enqueue(&mut tx, org_id, message_id, now).await?;
    }
    rows::mark_event_processed(&mut tx, ev.id, now, None).await?;
    tx.commit().await?;
    publish(app, org_id, MESSAGE_CREATED, conversation.id, Some(message_id));
    publish(app, org_id, CONVERSATION_UPDATED, conversation.id, None);
    Ok(())
}

// ---------------------------------------------------------------- send

fn send_error(e: MailError) -> SendError {
    match e {
        MailError::Rejected { code, message } if code >= 500 => {
            SendError::Permanent { code: format!("smtp_{code}"), message }
        }
        MailError::Config(message) => SendError::Permanent { code: "smtp_settings".into(), message },
        MailError::Message(message) => SendError::Permanent { code: "invalid_message".into(), message },
        other => SendError::Transient(other.to_string()),
    }
}

/// Hand one queued reply to the channel's SMTP server (the `inbox.send` job).
pub(crate) async fn send(
    app: &App,
    channel: &ChannelRow,
    config: &Map<String, Value>,
    conv: &ConversationRow,
    m: &MessageRow,
    body: &str,
) -> std::result::Result<Sent, SendError> {
    let internal = |e: AppError| SendError::Transient(e.to_string());
    let address = text(config, "address").to_lowercase();
    let domain = address.rsplit_once('@').map(|(_, d)| d.to_string()).unwrap_or_else(|| "kith.invalid".into());
    let message_id = format!("{}@{domain}", m.id.simple());
    let parent = store::last_inbound(app.db(), m.org_id, conv.id).await.map_err(|e| internal(e.into()))?;
    let (in_reply_to, references, subject) = match parent {
        Some((parent_id, Some(parent_mid))) => {
            let parts = open_parts(app, m.org_id, parent_id).await.map_err(internal)?.unwrap_or_default();
            let refs = parser::reply_references(&parts.references, &parts.in_reply_to, &parent_mid);
            (Some(parent_mid), refs, parser::reply_subject(&parts.subject))
        }
        _ => (None, vec![], format!("Message from {}", channel.name)),
    };
    let mail = ThreadedMail {
        from: address,
        from_name: Some(channel.name.clone()),
        to: conv.peer.clone(),
        subject: subject.clone(),
        text: body.to_string(),
        message_id: message_id.clone(),
        in_reply_to: in_reply_to.clone(),
        references: references.clone(),
        attachments: super::attachments::mail_parts(app, m.org_id, m.id).await.map_err(internal)?,
    };
    let timeout = PollerOptions::default().timeout;
    kith_infra::smtp::send(&smtp_config(app, config, timeout), &mail).await.map_err(send_error)?;
    // Keep the subject and threading ids of the reply beside it.
    let parts = Parts {
        subject,
        message_id: message_id.clone(),
        in_reply_to: in_reply_to.into_iter().collect(),
        references,
        html: None,
        attachments: vec![],
    };
    let stored = async {
        let sealed = seal_parts(app, m.org_id, m.id, &parts).await?;
        let mut tx = app.db().begin().await?;
        store::insert_parts(&mut tx, m.id, m.org_id, &sealed).await?;
        tx.commit().await?;
        Ok::<(), AppError>(())
    };
    if let Err(e) = stored.await {
        // The mail is out; only the thread view's subject line is missing.
        tracing::warn!(message_id = %m.id, error = %e, "sent e-mail: its headers were not kept");
    }
    Ok(Sent { provider_message_id: message_id })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imap_dates() {
        assert_eq!(imap_date(0), "1-Jan-1970");
        assert_eq!(imap_date(1_700_000_000_000), "14-Nov-2023");
        assert_eq!(imap_date(951_782_400_000), "29-Feb-2000");
    }
}
