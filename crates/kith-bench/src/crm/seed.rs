//! Seeding one workspace at scale, fast: rows are written with multi-row
//! INSERTs straight into the tables, a few thousand records per
//! transaction. What Kith derives from a record is derived with Kith's own
//! functions, so the rows are the rows the app would have written:
//! contacts go through `contacts::apply_input` (normalised e-mails, E.164
//! phones), search documents come from each record type's `search_doc`
//! (FTS5 triggers / PostgreSQL's generated tsvector index them), note
//! bodies are sealed through the app's keyring exactly as
//! `kith_app::crm::notes` does, and their search documents hold the same
//! blind tokens `kith_crypto::blind_tokens` makes.

use super::data::{self, Rng, VOCABULARY};
use anyhow::{bail, Context as _, Result};
use kith_app::crm::contacts::{self as app_contacts, ContactInput, LabeledValue, PhonePolicy};
use kith_app::crm::custom_fields::CustomFieldInput;
use kith_app::crm::pipelines::PipelineInput;
use kith_app::identity::{create_account_as_operator, SignUp};
use kith_app::App;
use kith_domain::crm::{FieldKind, RecordType};
use kith_domain::visibility::{Placement, Visibility};
use kith_domain::{new_id, Actor, Context, Credential, Role};
use kith_store::contacts::ContactRow;
use kith_store::deals::DealRow;
use kith_store::members::MembershipRow;
use kith_store::records::SearchDoc;
use kith_store::users::UserRow;
use kith_store::{Backend, Tx};
use std::time::{Duration, Instant};
use uuid::Uuid;

pub const OWNER_EMAIL: &str = "bench@example.com";
pub const MEMBER_EMAIL: &str = "member1@example.com";
/// Members records are spread over (the owner and four members).
pub const MEMBERS: usize = 5;
pub const TIERS: [(&str, u64); 4] = [("Bronze", 40), ("Silver", 30), ("Gold", 20), ("Platinum", 10)];
pub const VIP_SHARE: f64 = 0.20;
/// Open deals on the board pipeline (fewer when the workspace has fewer deals).
pub const BOARD_DEALS: u64 = 5_000;
/// Records (contacts, companies, deals, notes) per transaction.
const RECORDS_PER_TX: usize = 2_500;
/// Bound parameters per multi-row statement: moderate on SQLite (sqlx
/// binds each one through its worker thread), larger on PostgreSQL (each
/// statement is a round trip).
fn param_budget(backend: Backend) -> usize {
    match backend {
        Backend::Sqlite => 400,
        Backend::Postgres => 2_000,
    }
}
/// Search-query samples kept from the seeded contacts.
const SAMPLES: u64 = 4_000;

/// How many of each record a workspace of `contacts` contacts gets.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    pub contacts: u64,
    pub companies: u64,
    pub deals: u64,
    pub notes: u64,
}

impl Scale {
    pub fn of(contacts: u64) -> Scale {
        Scale { contacts, companies: (contacts / 5).max(1), deals: contacts * 3 / 10, notes: contacts }
    }
}

/// The seeded workspace and who is in it.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub org_id: Uuid,
    pub owner: Uuid,
    /// The owner first, then four plain members.
    pub members: Vec<Uuid>,
    pub owner_token: String,
    /// A token of `members[1]` (role `member`): the visibility filter's long form.
    pub member_token: String,
    pub vip_tag: Uuid,
    pub tier_field: Uuid,
    pub board_pipeline: Uuid,
}

impl Workspace {
    pub fn owner_ctx(&self) -> Context {
        Context {
            org_id: self.org_id,
            actor: Actor { user_id: self.owner, credential: Credential::Cli },
            role: Role::Owner,
        }
    }
}

/// A seeded contact kept to build search queries from.
#[derive(Debug, Clone)]
pub struct Sample {
    pub first: String,
    pub last: String,
    pub email: String,
    pub phone: String,
}

#[derive(Debug, Clone, Default)]
pub struct Counts {
    pub companies: u64,
    pub contacts: u64,
    pub contact_handles: u64,
    pub record_tags: u64,
    pub custom_values: u64,
    pub deals: u64,
    pub deal_contacts: u64,
    pub notes: u64,
    pub search_docs: u64,
}

impl Counts {
    pub fn rows(&self) -> u64 {
        self.companies
            + self.contacts
            + self.contact_handles
            + self.record_tags
            + self.custom_values
            + self.deals
            + self.deal_contacts
            + self.notes
            + self.search_docs
    }
}

pub struct Seeded {
    pub ws: Workspace,
    pub counts: Counts,
    /// Each phase and how long it took.
    pub phases: Vec<(&'static str, Duration)>,
    pub total: Duration,
    pub samples: Vec<Sample>,
    /// How often each vocabulary word occurs in the notes.
    pub word_counts: Vec<u64>,
    pub board_deals: u64,
}

/// A value of one column of one seeded row.
#[derive(Debug, Clone)]
pub enum V {
    U(Uuid),
    OU(Option<Uuid>),
    I(i64),
    OI(Option<i64>),
    T(String),
    OT(Option<String>),
    B(Vec<u8>),
    Bool(bool),
    OF(Option<f64>),
}

macro_rules! bind_v {
    ($q:expr, $v:expr) => {
        match $v {
            V::U(x) => $q.bind(*x),
            V::OU(x) => $q.bind(*x),
            V::I(x) => $q.bind(*x),
            V::OI(x) => $q.bind(*x),
            V::T(x) => $q.bind(x.as_str()),
            V::OT(x) => $q.bind(x.as_deref()),
            V::B(x) => $q.bind(x.as_slice()),
            V::Bool(x) => $q.bind(*x),
            V::OF(x) => $q.bind(*x),
        }
    };
}

async fn execute(tx: &mut Tx, sql: &str, values: &[V]) -> Result<()> {
    match tx {
        Tx::Sqlite(t) => {
            let mut q = sqlx::query(sql);
            for v in values {
                q = bind_v!(q, v);
            }
            q.execute(&mut **t).await?;
        }
        Tx::Postgres(t) => {
            let mut q = sqlx::query(sql);
            for v in values {
                q = bind_v!(q, v);
            }
            q.execute(&mut **t).await?;
        }
    }
    Ok(())
}

/// `INSERT INTO table (cols) VALUES (…), (…)` for `rows` rows: anonymous `?`
/// on SQLite (sqlx-sqlite looks each numbered `$N` up by a linear scan),
/// `$1…$n` on PostgreSQL.
fn insert_sql(backend: Backend, table: &str, columns: &[&str], rows: usize) -> String {
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    let mut n = 0;
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..columns.len() {
            if c > 0 {
                sql.push(',');
            }
            n += 1;
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => sql.push_str(&format!("${n}")),
            }
        }
        sql.push(')');
    }
    sql
}

/// Rows waiting to be written to one table.
struct Table {
    backend: Backend,
    name: &'static str,
    columns: &'static [&'static str],
    per_statement: usize,
    full: String,
    buf: Vec<V>,
    written: u64,
}

impl Table {
    fn new(backend: Backend, name: &'static str, columns: &'static [&'static str]) -> Table {
        let per_statement = (param_budget(backend) / columns.len()).max(1);
        Table {
            backend,
            name,
            columns,
            per_statement,
            full: insert_sql(backend, name, columns, per_statement),
            buf: Vec::new(),
            written: 0,
        }
    }

    fn row<const N: usize>(&mut self, values: [V; N]) {
        debug_assert_eq!(N, self.columns.len(), "{}", self.name);
        self.buf.extend(values);
    }

    /// Write everything buffered (full statements, then one shorter one).
    async fn flush(&mut self, tx: &mut Tx) -> Result<()> {
        let cols = self.columns.len();
        let per = self.per_statement * cols;
        let mut start = 0;
        while self.buf.len() - start >= per {
            execute(tx, &self.full, &self.buf[start..start + per]).await.with_context(|| self.name)?;
            start += per;
        }
        if start < self.buf.len() {
            let sql = insert_sql(self.backend, self.name, self.columns, (self.buf.len() - start) / cols);
            execute(tx, &sql, &self.buf[start..]).await.with_context(|| self.name)?;
        }
        self.written += (self.buf.len() / cols) as u64;
        self.buf.clear();
        Ok(())
    }
}

const COMPANIES: &[&str] = &[
    "id",
    "org_id",
    "name",
    "domain",
    "industry",
    "size",
    "address",
    "custom",
    "visibility",
    "owner_id",
    "team_id",
    "created_by",
    "version",
    "created_ms",
    "updated_ms",
];
const CONTACTS: &[&str] = &[
    "id",
    "org_id",
    "first_name",
    "last_name",
    "emails",
    "phones",
    "addresses",
    "social",
    "company_id",
    "title",
    "birthday",
    "time_zone",
    "source",
    "custom",
    "visibility",
    "owner_id",
    "team_id",
    "created_by",
    "version",
    "created_ms",
    "updated_ms",
];
const HANDLES: &[&str] = &["org_id", "contact_id", "kind", "value"];
const RECORD_TAGS: &[&str] = &["org_id", "tag_id", "record_type", "record_id"];
const CUSTOM_VALUES: &[&str] = &["org_id", "field_id", "record_id", "ord", "text_value", "number_value"];
const SEARCH_DOCS: &[&str] = &[
    "org_id",
    "record_type",
    "record_id",
    "parent_type",
    "parent_id",
    "title",
    "terms",
    "visibility",
    "owner_id",
    "team_id",
    "created_by",
    "updated_ms",
];
const DEALS: &[&str] = &[
    "id",
    "org_id",
    "title",
    "value_minor",
    "currency",
    "pipeline_id",
    "stage_id",
    "expected_close",
    "company_id",
    "status",
    "lost_reason",
    "closed_ms",
    "custom",
    "visibility",
    "owner_id",
    "team_id",
    "created_by",
    "version",
    "created_ms",
    "updated_ms",
];
const DEAL_CONTACTS: &[&str] = &["org_id", "deal_id", "contact_id"];
const NOTES: &[&str] = &[
    "id",
    "org_id",
    "record_type",
    "record_id",
    "body",
    "is_private",
    "author_id",
    "version",
    "created_ms",
    "updated_ms",
];

fn search_doc_row(d: &SearchDoc) -> [V; 12] {
    let (parent_type, parent_id) = match &d.parent {
        Some((t, id)) => (Some(t.clone()), Some(*id)),
        None => (None, None),
    };
    [
        V::U(d.org_id),
        V::T(d.record_type.clone()),
        V::U(d.record_id),
        V::OT(parent_type),
        V::OU(parent_id),
        V::T(d.title.clone()),
        V::T(d.terms.clone()),
        V::T(d.placement.visibility.as_str().into()),
        V::OU(d.placement.owner_id),
        V::OU(d.placement.team_id),
        V::U(d.placement.created_by),
        V::I(d.updated_ms),
    ]
}

const DAY_MS: i64 = 86_400_000;

/// (created, updated): within the last two years, updated after created.
fn times(rng: &mut Rng, now: i64) -> (i64, i64) {
    let updated = now - rng.range(0, 730 * DAY_MS);
    let created = updated - rng.range(0, 365 * DAY_MS);
    (created, updated)
}

/// What notes need to know of the contact they hang off.
struct ContactBrief {
    id: Uuid,
    placement: Placement,
    title: String,
}

/// The account, four more members, tokens, the `vip` tag, the `tier` field
/// and two pipelines (the board's first, so it is the default board).
async fn setup(app: &App) -> Result<Workspace> {
    let db = app.db();
    let done = create_account_as_operator(
        app,
        SignUp {
            email: OWNER_EMAIL.into(),
            name: "Bench Owner".into(),
            password: "correct horse battery staple bench".into(),
            workspace_name: Some("Bench CRM".into()),
            invitation: None,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("create account: {e}"))?;
    let (org_id, owner) = (done.org_id, done.user_id);
    let now = kith_domain::time::now_ms();
    let mut members = vec![owner];
    let mut tx = db.begin().await?;
    for k in 1..MEMBERS {
        let user = UserRow {
            id: new_id(),
            email: format!("member{k}@example.com"),
            name: format!("Member {k}"),
            password_hash: "!".into(),
            is_operator: false,
            email_verified_ms: Some(now),
            totp_secret: None,
            totp_enabled: false,
            totp_last_step: 0,
            created_ms: now,
            updated_ms: now,
        };
        kith_store::users::insert(&mut tx, &user).await?;
        let m = MembershipRow { org_id, user_id: user.id, role: "member".into(), version: 1, created_ms: now };
        kith_store::members::insert(&mut tx, &m).await?;
        members.push(user.id);
    }
    tx.commit().await?;
    let err = |what: &'static str| move |e: kith_app::AppError| anyhow::anyhow!("{what}: {e}");
    let (_, owner_token) =
        kith_app::tokens::create_for_member(app, org_id, OWNER_EMAIL, "bench").await.map_err(err("owner token"))?;
    let (_, member_token) =
        kith_app::tokens::create_for_member(app, org_id, MEMBER_EMAIL, "bench").await.map_err(err("member token"))?;
    let ctx = Context { org_id, actor: Actor { user_id: owner, credential: Credential::Cli }, role: Role::Owner };
    let vip = kith_app::crm::tags::create(app, &ctx, "vip", Some("purple")).await.map_err(err("tag"))?;
    let tier = kith_app::crm::custom_fields::create(
        app,
        &ctx,
        &CustomFieldInput {
            record_type: Some(RecordType::Contact),
            key: Some("tier".into()),
            label: Some("Tier".into()),
            kind: Some(FieldKind::Select),
            options: Some(TIERS.iter().map(|(t, _)| t.to_string()).collect()),
            required: None,
            position: None,
        },
    )
    .await
    .map_err(err("custom field"))?;
    let pipeline =
        |name: &str, position| PipelineInput { name: Some(name.into()), stages: None, position: Some(position) };
    let board =
        kith_app::crm::pipelines::create(app, &ctx, &pipeline("Board", 0)).await.map_err(err("board pipeline"))?;
    Ok(Workspace {
        org_id,
        owner,
        members,
        owner_token,
        member_token,
        vip_tag: vip.id,
        tier_field: tier.id,
        board_pipeline: board.id,
    })
}

fn pick_tier(rng: &mut Rng) -> &'static str {
    let total: u64 = TIERS.iter().map(|(_, w)| w).sum();
    let mut x = rng.below(total);
    for (t, w) in TIERS {
        if x < w {
            return t;
        }
        x -= w;
    }
    TIERS[0].0
}

/// Seed a new workspace with `scale` records. `seed` fixes every random choice.
/// `sqlite_analyze`: run a full `ANALYZE` on SQLite instead of Kith's sampled one (a diagnostic).
pub async fn seed(app: &App, scale: Scale, seed: u64, sqlite_analyze: bool) -> Result<Seeded> {
    let started = Instant::now();
    let db = app.db().clone();
    let backend = db.backend();
    let mut rng = Rng::new(seed);
    let mut phases = Vec::new();
    let mut counts = Counts::default();

    let t = Instant::now();
    let ws = setup(app).await?;
    let ctx = ws.owner_ctx();
    let other_pipeline = kith_app::crm::pipelines::create(
        app,
        &ctx,
        &PipelineInput { name: Some("Sales".into()), stages: None, position: Some(1) },
    )
    .await
    .map_err(|e| anyhow::anyhow!("pipeline: {e}"))?;
    let board = kith_app::crm::pipelines::get(app, &ctx, ws.board_pipeline)
        .await
        .map_err(|e| anyhow::anyhow!("board pipeline: {e}"))?;
    phases.push(("account, members, tokens, tag, field, pipelines", t.elapsed()));
    let org = ws.org_id;
    let now = kith_domain::time::now_ms();
    let member = |rng: &mut Rng| ws.members[rng.index(MEMBERS)];

    // Companies.
    let t = Instant::now();
    let mut companies = Table::new(backend, "companies", COMPANIES);
    let mut docs = Table::new(backend, "search_docs", SEARCH_DOCS);
    let mut company_ids = Vec::with_capacity(scale.companies as usize);
    let mut company_names = Vec::with_capacity(scale.companies as usize);
    let mut company_domains = Vec::with_capacity(scale.companies as usize);
    let mut done = 0u64;
    while done < scale.companies {
        let chunk = (scale.companies - done).min(RECORDS_PER_TX as u64);
        for i in done..done + chunk {
            let name = data::company_name(i as usize);
            let domain = data::company_domain(&name);
            let (created, updated) = times(&mut rng, now);
            let owner = member(&mut rng);
            let row = kith_store::companies::CompanyRow {
                id: new_id(),
                org_id: org,
                name: name.clone(),
                domain: Some(domain.clone()),
                industry: Some(rng.pick(&data::INDUSTRIES).to_string()),
                size: Some(rng.pick(&data::SIZES).to_string()),
                address: "{}".into(),
                custom: "{}".into(),
                visibility: Visibility::Everyone.as_str().into(),
                owner_id: Some(owner),
                team_id: None,
                created_by: owner,
                version: 1,
                created_ms: created,
                updated_ms: updated,
            };
            docs.row(search_doc_row(&kith_app::crm::companies::search_doc(&row)));
            companies.row([
                V::U(row.id),
                V::U(org),
                V::T(row.name),
                V::OT(row.domain),
                V::OT(row.industry),
                V::OT(row.size),
                V::T(row.address),
                V::T(row.custom),
                V::T(row.visibility),
                V::OU(row.owner_id),
                V::OU(row.team_id),
                V::U(row.created_by),
                V::I(row.version),
                V::I(row.created_ms),
                V::I(row.updated_ms),
            ]);
            company_ids.push(row.id);
            company_names.push(name);
            company_domains.push(domain);
        }
        let mut tx = db.begin().await?;
        companies.flush(&mut tx).await?;
        docs.flush(&mut tx).await?;
        tx.commit().await?;
        done += chunk;
    }
    counts.companies = companies.written;
    phases.push(("companies (+ search docs)", t.elapsed()));

    // Contacts with handles, the vip tag, the tier value and search docs.
    let t = Instant::now();
    let mut contacts = Table::new(backend, "contacts", CONTACTS);
    let mut handles = Table::new(backend, "contact_handles", HANDLES);
    let mut tags = Table::new(backend, "record_tags", RECORD_TAGS);
    let mut custom = Table::new(backend, "custom_values", CUSTOM_VALUES);
    let mut briefs: Vec<ContactBrief> = Vec::with_capacity(scale.contacts as usize);
    let mut samples = Vec::new();
    let sample_every = (scale.contacts / SAMPLES).max(1);
    let (firsts, lasts) = (data::first_names(), data::last_names());
    let mut done = 0u64;
    while done < scale.contacts {
        let chunk = (scale.contacts - done).min(RECORDS_PER_TX as u64);
        for i in done..done + chunk {
            let first = *rng.pick(firsts);
            let last = *rng.pick(lasts);
            let company = rng.chance(0.7).then(|| rng.index(company_ids.len()));
            let domain = match company {
                Some(c) => company_domains[c].clone(),
                None => data::free_mail_domain(&mut rng).to_string(),
            };
            let email = format!("{}.{}{}@{}", data::ascii_slug(first), data::ascii_slug(last), i, domain);
            let mut emails = vec![LabeledValue { value: email.clone(), label: Some("work".into()) }];
            if rng.chance(0.1) {
                let personal = format!(
                    "{}{}.{}@{}",
                    data::ascii_slug(first),
                    i,
                    data::ascii_slug(last),
                    data::free_mail_domain(&mut rng)
                );
                emails.push(LabeledValue { value: personal, label: Some("home".into()) });
            }
            let (e164, typed) = data::phone(&mut rng);
            let title = rng.chance(0.5).then(|| rng.pick(&data::TITLES).to_string());
            let input = ContactInput {
                first_name: Some(first.into()),
                last_name: Some(last.into()),
                emails: Some(emails),
                phones: Some(vec![LabeledValue { value: typed, label: Some("mobile".into()) }]),
                title,
                ..Default::default()
            };
            let owner = member(&mut rng);
            let visibility = match rng.below(100) {
                0..=94 => Visibility::Everyone,
                95..=97 => Visibility::Owner,
                _ => Visibility::Personal,
            };
            let (created, updated) = times(&mut rng, now);
            let tier = pick_tier(&mut rng);
            let mut row = ContactRow {
                id: new_id(),
                org_id: org,
                first_name: String::new(),
                last_name: String::new(),
                emails: "[]".into(),
                phones: "[]".into(),
                addresses: "[]".into(),
                social: "{}".into(),
                company_id: company.map(|c| company_ids[c]),
                title: None,
                birthday: None,
                time_zone: None,
                source: None,
                custom: serde_json::json!({ "tier": tier }).to_string(),
                visibility: visibility.as_str().into(),
                owner_id: Some(owner),
                team_id: None,
                created_by: owner,
                version: 1,
                created_ms: created,
                updated_ms: updated,
            };
            app_contacts::apply_input(&mut row, &input, "", PhonePolicy::Strict)
                .map_err(|e| anyhow::anyhow!("contact {i}: {e}"))?;
            for (kind, value) in app_contacts::handles_of(&row) {
                handles.row([V::U(org), V::U(row.id), V::T(kind.into()), V::T(value)]);
            }
            if rng.chance(VIP_SHARE) {
                tags.row([V::U(org), V::U(ws.vip_tag), V::T("contact".into()), V::U(row.id)]);
            }
            custom.row([V::U(org), V::U(ws.tier_field), V::U(row.id), V::I(0), V::OT(Some(tier.into())), V::OF(None)]);
            let doc = app_contacts::search_doc(&row, company.map(|c| company_names[c].as_str()));
            docs.row(search_doc_row(&doc));
            if i % sample_every == 0 {
                samples.push(Sample { first: first.into(), last: last.into(), email, phone: e164 });
            }
            briefs.push(ContactBrief { id: row.id, placement: doc.placement, title: doc.title });
            contacts.row([
                V::U(row.id),
                V::U(org),
                V::T(row.first_name),
                V::T(row.last_name),
                V::T(row.emails),
                V::T(row.phones),
                V::T(row.addresses),
                V::T(row.social),
                V::OU(row.company_id),
                V::OT(row.title),
                V::OT(row.birthday),
                V::OT(row.time_zone),
                V::OT(row.source),
                V::T(row.custom),
                V::T(row.visibility),
                V::OU(row.owner_id),
                V::OU(row.team_id),
                V::U(row.created_by),
                V::I(row.version),
                V::I(row.created_ms),
                V::I(row.updated_ms),
            ]);
        }
        let mut tx = db.begin().await?;
        contacts.flush(&mut tx).await?;
        handles.flush(&mut tx).await?;
        tags.flush(&mut tx).await?;
        custom.flush(&mut tx).await?;
        docs.flush(&mut tx).await?;
        tx.commit().await?;
        done += chunk;
    }
    counts.contacts = contacts.written;
    counts.contact_handles = handles.written;
    counts.record_tags = tags.written;
    counts.custom_values = custom.written;
    phases.push(("contacts (+ handles, tags, custom values, search docs)", t.elapsed()));

    // Deals: the board pipeline's open deals first, then the rest in "Sales".
    let t = Instant::now();
    let mut deals = Table::new(backend, "deals", DEALS);
    let mut links = Table::new(backend, "deal_contacts", DEAL_CONTACTS);
    let board_deals = BOARD_DEALS.min(scale.deals);
    let mut done = 0u64;
    while done < scale.deals {
        let chunk = (scale.deals - done).min(RECORDS_PER_TX as u64);
        for i in done..done + chunk {
            let on_board = i < board_deals;
            let pipeline = if on_board { &board } else { &other_pipeline };
            let stage = rng.pick(&pipeline.stages).id;
            let (status, closed, lost_reason) = match (on_board, rng.below(100)) {
                (true, _) | (false, 0..=59) => ("open", None, None),
                (false, 60..=84) => ("won", Some(now - rng.range(0, 365 * DAY_MS)), None),
                _ => ("lost", Some(now - rng.range(0, 365 * DAY_MS)), Some("price".to_string())),
            };
            let company = rng.index(company_ids.len());
            let owner = member(&mut rng);
            let (created, updated) = times(&mut rng, now);
            let currency = match rng.below(10) {
                0..=6 => "EUR",
                7 | 8 => "USD",
                _ => "GBP",
            };
            let row = DealRow {
                id: new_id(),
                org_id: org,
                title: data::deal_title(&mut rng, &company_names[company]),
                value_minor: rng.range(10, 5_000) * 10_000,
                currency: currency.into(),
                pipeline_id: pipeline.id,
                stage_id: stage,
                expected_close: Some(format!("2026-{:02}-{:02}", rng.range(1, 12), rng.range(1, 28))),
                company_id: Some(company_ids[company]),
                status: status.into(),
                lost_reason,
                closed_ms: closed,
                custom: "{}".into(),
                visibility: Visibility::Everyone.as_str().into(),
                owner_id: Some(owner),
                team_id: None,
                created_by: owner,
                version: 1,
                created_ms: created,
                updated_ms: updated,
            };
            docs.row(search_doc_row(&kith_app::crm::deals::search_doc(&row)));
            links.row([V::U(org), V::U(row.id), V::U(briefs[rng.index(briefs.len())].id)]);
            deals.row([
                V::U(row.id),
                V::U(org),
                V::T(row.title),
                V::I(row.value_minor),
                V::T(row.currency),
                V::U(row.pipeline_id),
                V::U(row.stage_id),
                V::OT(row.expected_close),
                V::OU(row.company_id),
                V::T(row.status),
                V::OT(row.lost_reason),
                V::OI(row.closed_ms),
                V::T(row.custom),
                V::T(row.visibility),
                V::OU(row.owner_id),
                V::OU(row.team_id),
                V::U(row.created_by),
                V::I(row.version),
                V::I(row.created_ms),
                V::I(row.updated_ms),
            ]);
        }
        let mut tx = db.begin().await?;
        deals.flush(&mut tx).await?;
        links.flush(&mut tx).await?;
        docs.flush(&mut tx).await?;
        tx.commit().await?;
        done += chunk;
    }
    counts.deals = deals.written;
    counts.deal_contacts = links.written;
    phases.push(("deals (+ contact links, search docs)", t.elapsed()));

    // Notes: sealed bodies, blind-token search documents.
    let t = Instant::now();
    let key = app.keyring().search_key(&db, org).await.map_err(|e| anyhow::anyhow!("search key: {e}"))?;
    let tokens: Vec<String> = data::vocabulary().iter().map(|w| kith_crypto::blind_token(&key, w)).collect();
    let mut notes = Table::new(backend, "notes", NOTES);
    let mut word_counts = vec![0u64; VOCABULARY];
    let mut seen = vec![u32::MAX; VOCABULARY];
    let mut done = 0u64;
    while done < scale.notes {
        let chunk = (scale.notes - done).min(RECORDS_PER_TX as u64);
        for i in done..done + chunk {
            let parent = &briefs[rng.index(briefs.len())];
            let author = member(&mut rng);
            let private = rng.chance(0.03);
            let (body, drawn) = data::note_text(&mut rng, &mut word_counts);
            let id = new_id();
            let sealed = app
                .keyring()
                .seal(&db, org, "notes", "body", id, body.as_bytes())
                .await
                .map_err(|e| anyhow::anyhow!("seal: {e}"))?;
            // The blind tokens of the note's distinct words, in order of first appearance.
            let mut terms = String::with_capacity(drawn.len() * 18);
            for &w in &drawn {
                if seen[w as usize] != i as u32 {
                    seen[w as usize] = i as u32;
                    if !terms.is_empty() {
                        terms.push(' ');
                    }
                    terms.push_str(&tokens[w as usize]);
                }
            }
            if i < 50 && terms != kith_crypto::blind_tokens(&key, &body).join(" ") {
                bail!("note {i}: cached blind tokens differ from kith_crypto::blind_tokens");
            }
            let (created, updated) = times(&mut rng, now);
            let placement = if private {
                Placement {
                    visibility: Visibility::Personal,
                    owner_id: Some(author),
                    team_id: None,
                    created_by: author,
                }
            } else {
                parent.placement
            };
            let doc = SearchDoc {
                org_id: org,
                record_type: "note".into(),
                record_id: id,
                parent: Some(("contact".into(), parent.id)),
                title: parent.title.clone(),
                terms,
                placement,
                updated_ms: updated,
            };
            docs.row(search_doc_row(&doc));
            notes.row([
                V::U(id),
                V::U(org),
                V::T("contact".into()),
                V::U(parent.id),
                V::B(sealed),
                V::Bool(private),
                V::U(author),
                V::I(1),
                V::I(created),
                V::I(updated),
            ]);
        }
        let mut tx = db.begin().await?;
        notes.flush(&mut tx).await?;
        docs.flush(&mut tx).await?;
        tx.commit().await?;
        done += chunk;
    }
    counts.notes = notes.written;
    counts.search_docs = docs.written;
    phases.push(("notes (sealed, + blind-token search docs)", t.elapsed()));

    let t = Instant::now();
    match backend {
        // What autovacuum does shortly after a bulk load (PostgreSQL 13 and
        // later vacuum insert-only tables too): fresh statistics, and the
        // visibility map that lets index-only scans skip the table. Without
        // it every index probe of a freshly loaded table reads the table row
        // as well, which no running database is left doing for long.
        Backend::Postgres => {
            if let kith_store::Db::Postgres(pool) = &db {
                sqlx::query("VACUUM (ANALYZE)").execute(pool).await?;
            }
            phases.push(("VACUUM (ANALYZE) (what autovacuum does after a bulk load)", t.elapsed()));
        }
        // Kith refreshes SQLite's statistics at start and after imports
        // (`Db::optimize`, a sampled ANALYZE): do what a started instance has done.
        Backend::Sqlite => {
            if sqlite_analyze {
                let mut tx = db.begin().await?;
                execute(&mut tx, "ANALYZE", &[]).await?;
                tx.commit().await?;
            } else {
                db.optimize().await?;
            }
            db.checkpoint().await?;
            let what = if sqlite_analyze {
                "full ANALYZE (--sqlite-analyze) and WAL checkpoint"
            } else {
                "`Db::optimize` (sampled ANALYZE, as at start) and WAL checkpoint"
            };
            phases.push((what, t.elapsed()));
        }
    }
    Ok(Seeded { ws, counts, phases, total: started.elapsed(), samples, word_counts, board_deals })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_text_per_backend() {
        assert_eq!(insert_sql(Backend::Sqlite, "t", &["a", "b"], 2), "INSERT INTO t (a, b) VALUES (?,?),(?,?)");
        assert_eq!(insert_sql(Backend::Postgres, "t", &["a", "b"], 2), "INSERT INTO t (a, b) VALUES ($1,$2),($3,$4)");
    }

    #[test]
    fn scale_from_contacts() {
        let s = Scale::of(1_000_000);
        assert_eq!((s.companies, s.deals, s.notes), (200_000, 300_000, 1_000_000));
    }
}
