//! Exports: view exports (CSV, JSON, vCard) page through every visible row
//! exactly once, even while rows change; spreadsheet formulas are defused;
//! the workspace export job writes a ZIP archive of everything the
//! requester may see, readable only by them, purged after seven days.

use crate::support::*;
use kith_app::crm::contacts::{self, Contact, ContactInput, LabeledValue};
use kith_app::crm::custom_fields::{self, CustomFieldInput};
use kith_app::crm::deals::{self, DealInput};
use kith_app::crm::exports::{self, ViewExport, ViewFormat};
use kith_app::crm::notes::{self, NoteInput};
use kith_app::crm::tasks::{self, TaskInput};
use kith_app::crm::{companies, tags};
use kith_app::worker::{Registry, Worker};
use kith_app::{App, AppError, ErrorCode};
use kith_domain::crm::{FieldKind, RecordType};
use kith_domain::time::{now_ms, DAY_MS};
use kith_domain::visibility::Visibility;
use kith_domain::{Context, PageRequest, Role};
use kith_formats::zip_out::Crc32;
use kith_store::records::{ListFilter, SortKey};
use kith_testkit::TestApp;
use serde_json::{json, Value};
use std::collections::HashSet;
use uuid::Uuid;

fn person(first: &str, last: &str, email: &str) -> ContactInput {
    ContactInput {
        first_name: Some(first.into()),
        last_name: Some(last.into()),
        emails: Some(vec![LabeledValue { value: email.into(), label: Some("work".into()) }]),
        ..Default::default()
    }
}

/// The whole file and how many chunks it came in.
async fn drain_view(mut e: ViewExport) -> (Vec<u8>, usize) {
    let (mut bytes, mut chunks) = (Vec::new(), 0);
    while let Some(chunk) = e.next_chunk().await.unwrap() {
        assert!(!chunk.is_empty(), "no empty chunks");
        bytes.extend(chunk);
        chunks += 1;
    }
    (bytes, chunks)
}

async fn view(app: &App, ctx: &Context, rt: RecordType, filter: ListFilter, sort: SortKey, f: ViewFormat) -> Vec<u8> {
    drain_view(exports::export_view(app, ctx, rt, filter, sort, f).await.unwrap()).await.0
}

/// Header and rows of a CSV export (through the importer's reader, which
/// also takes the byte order mark off).
fn csv_rows(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 BOM for spreadsheets");
    let rows = kith_formats::csv_in::Rows::new(bytes).unwrap();
    let header = rows.headers().to_vec();
    (header, rows.map(|r| r.unwrap().cells).collect())
}

fn ids_of_csv(rows: &[Vec<String>]) -> Vec<Uuid> {
    rows.iter().map(|r| Uuid::parse_str(&r[0]).unwrap()).collect()
}

fn ids_of_json(bytes: &[u8]) -> Vec<Uuid> {
    let items: Vec<Value> = serde_json::from_slice(bytes).unwrap();
    items.iter().map(|v| Uuid::parse_str(v["id"].as_str().unwrap()).unwrap()).collect()
}

fn assert_once(label: &str, ids: &[Uuid], expected: &HashSet<Uuid>) {
    let unique: HashSet<Uuid> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "{label}: every row once");
    assert_eq!(&unique, expected, "{label}: exactly the visible rows");
}

async fn all_visible(app: &App, ctx: &Context) -> Vec<Contact> {
    let (mut out, mut after) = (Vec::new(), None);
    loop {
        let page =
            contacts::list(app, ctx, &ListFilter::default(), SortKey::CreatedAsc, &PageRequest::new(Some(200), after))
                .await
                .unwrap();
        out.extend(page.items);
        match page.next {
            Some(n) => after = Some(n),
            None => return out,
        }
    }
}

#[tokio::test]
async fn a_view_export_has_every_visible_row_once_and_defuses_formulas() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("owner@export.test").await;
        let o = owner_ctx(app, &owner).await;
        let ann = join(app, &o, "ann@export.test", Role::Member).await;
        let a = ctx(app, ann.org_id, ann.user_id).await;
        let bob = join(app, &o, "bob@export.test", Role::Member).await;
        let b = ctx(app, bob.org_id, bob.user_id).await;
        let tier = CustomFieldInput {
            record_type: Some(RecordType::Contact),
            key: Some("tier".into()),
            label: Some("Tier".into()),
            kind: Some(FieldKind::Text),
            options: None,
            required: None,
            position: None,
        };
        custom_fields::create(app, &o, &tier).await.unwrap();

        // More than one page of 200.
        for i in 0..205 {
            let mut input = person(&format!("P{i:03}"), "Person", &format!("p{i}@export.test"));
            if i % 50 == 0 {
                input.tags = Some(vec!["vip".into()]);
                input.custom = Some(json!({"tier": "-gold"}).as_object().unwrap().clone());
            }
            contacts::create(app, &a, &input).await.unwrap();
        }
        let evil = contacts::create(app, &a, &person("=HYPERLINK(\"x\")", "Evil", "evil@export.test")).await.unwrap();
        let secret =
            ContactInput { visibility: Some(Visibility::Personal), ..person("Bob", "Secret", "s@export.test") };
        let secret = contacts::create(app, &b, &secret).await.unwrap();

        let visible: HashSet<Uuid> = all_visible(app, &a).await.into_iter().map(|c| c.id).collect();
        assert_eq!(visible.len(), 206, "{l}");
        assert!(!visible.contains(&secret.id), "{l}");

        for sort in [SortKey::UpdatedDesc, SortKey::UpdatedAsc, SortKey::CreatedAsc, SortKey::CreatedDesc] {
            let e = exports::export_view(app, &a, RecordType::Contact, ListFilter::default(), sort, ViewFormat::Csv)
                .await
                .unwrap();
            let (csv, chunks) = drain_view(e).await;
            assert!(chunks >= 2, "{l}: {sort:?}: paged ({chunks} chunks)");
            let (header, rows) = csv_rows(&csv);
            assert_eq!(header.last().map(String::as_str), Some("tier"), "{l}: custom field column");
            assert_once(&format!("{l}: CSV {sort:?}"), &ids_of_csv(&rows), &visible);
            let row = rows.iter().find(|r| r[0] == evil.id.to_string()).unwrap();
            assert_eq!(row[1], "'=HYPERLINK(\"x\")", "{l}: the formula is text");
            let gold = rows.iter().filter(|r| r.last().unwrap() == "'-gold").count();
            assert_eq!(gold, 5, "{l}: custom values, defused too");
        }

        let json_bytes =
            view(app, &a, RecordType::Contact, ListFilter::default(), SortKey::UpdatedDesc, ViewFormat::Json).await;
        assert_once(&format!("{l}: JSON"), &ids_of_json(&json_bytes), &visible);
        let items: Vec<Value> = serde_json::from_slice(&json_bytes).unwrap();
        let from_api = serde_json::to_value(contacts::get(app, &a, evil.id).await.unwrap()).unwrap();
        assert!(items.contains(&from_api), "{l}: the API's shape");

        // The list's filters apply.
        let vip = tags::id_by_name(app, &a, "vip").await.unwrap().unwrap();
        let filter = ListFilter { tag_ids: vec![vip], ..Default::default() };
        let tagged = view(app, &a, RecordType::Contact, filter, SortKey::UpdatedDesc, ViewFormat::Json).await;
        assert_eq!(ids_of_json(&tagged).len(), 5, "{l}: tag filter");

        // Owners see the personal contact of nobody but themselves, too.
        let owner_json =
            view(app, &o, RecordType::Contact, ListFilter::default(), SortKey::default(), ViewFormat::Json).await;
        assert!(!ids_of_json(&owner_json).contains(&secret.id), "{l}: personal stays personal");
    }
}

#[tokio::test]
async fn rows_changed_during_an_export_by_update_time_still_come_once() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("moving@export.test").await;
        let o = owner_ctx(app, &owner).await;
        let mut made = Vec::new();
        for i in 0..450 {
            made.push(
                contacts::create(app, &o, &person(&format!("M{i}"), "Mover", &format!("m{i}@x.test"))).await.unwrap(),
            );
        }
        let expected: HashSet<Uuid> = made.iter().map(|c| c.id).collect();
        for sort in [SortKey::UpdatedDesc, SortKey::UpdatedAsc] {
            let mut e =
                exports::export_view(app, &o, RecordType::Contact, ListFilter::default(), sort, ViewFormat::Json)
                    .await
                    .unwrap();
            let mut bytes = e.next_chunk().await.unwrap().unwrap();
            let written: Vec<Uuid> = {
                let mut partial = bytes.clone();
                partial.extend_from_slice(b"\n]");
                ids_of_json(&partial)
            };
            assert_eq!(written.len(), 200, "{l}: one page so far");
            // One row not written yet and one already written both change:
            // each moves to the other end of the order.
            let pending = made.iter().find(|c| !written.contains(&c.id)).unwrap();
            let done = made.iter().find(|c| written.contains(&c.id)).unwrap();
            for c in [pending, done] {
                let change = ContactInput { title: Some(format!("changed {sort:?}")), ..Default::default() };
                contacts::update(app, &o, c.id, &change, None).await.unwrap();
            }
            while let Some(chunk) = e.next_chunk().await.unwrap() {
                bytes.extend(chunk);
            }
            assert_once(&format!("{l}: {sort:?}"), &ids_of_json(&bytes), &expected);
        }
    }
}

#[tokio::test]
async fn vcard_exports_reimport_and_are_for_contacts_only() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("vcard@export.test").await;
        let o = owner_ctx(app, &owner).await;
        let acme = companies::create(
            app,
            &o,
            &companies::CompanyInput { name: Some("Acme; Rockets".into()), ..Default::default() },
        )
        .await
        .unwrap();
        let ada = ContactInput {
            company_id: Some(Some(acme.id)),
            phones: Some(vec![LabeledValue { value: "+1 415 555 0100".into(), label: Some("mobile".into()) }]),
            tags: Some(vec!["math".into()]),
            ..person("Ada", "Lovelace", "ada@export.test")
        };
        contacts::create(app, &o, &ada).await.unwrap();
        contacts::create(app, &o, &person("Grace", "Hopper", "grace@export.test")).await.unwrap();
        let vcf =
            view(app, &o, RecordType::Contact, ListFilter::default(), SortKey::CreatedAsc, ViewFormat::Vcard).await;
        let cards: Vec<_> = kith_formats::vcard::parse(&vcf[..]).map(Result::unwrap).collect();
        assert_eq!(cards.len(), 2, "{l}");
        assert_eq!(cards[0].first_name.as_deref(), Some("Ada"), "{l}");
        assert_eq!(cards[0].emails, [("ada@export.test".to_string(), Some("work".to_string()))], "{l}");
        assert_eq!(cards[0].phones, [("+14155550100".to_string(), Some("mobile".to_string()))], "{l}");
        assert_eq!(cards[0].company.as_deref(), Some("Acme; Rockets"), "{l}: the company's name");
        assert_eq!(cards[0].tags, ["math"], "{l}");
        assert_eq!(cards[1].last_name.as_deref(), Some("Hopper"), "{l}");

        for rt in [RecordType::Company, RecordType::Deal] {
            let r =
                exports::export_view(app, &o, rt, ListFilter::default(), SortKey::default(), ViewFormat::Vcard).await;
            assert_eq!(invalid_fields(l, "vCard of non-contacts", r), ["format"], "{l}");
        }
        // Deals and companies export as CSV with their own columns.
        deals::create(
            app,
            &o,
            &DealInput { title: Some("+Big deal".into()), value_minor: Some(125_000), ..Default::default() },
        )
        .await
        .unwrap();
        let csv = view(app, &o, RecordType::Deal, ListFilter::default(), SortKey::default(), ViewFormat::Csv).await;
        let (header, rows) = csv_rows(&csv);
        assert_eq!((header[1].as_str(), header[2].as_str()), ("Title", "Value (minor units)"), "{l}");
        assert_eq!((rows[0][1].as_str(), rows[0][2].as_str()), ("'+Big deal", "125000"), "{l}");
        assert!(!rows[0][4].is_empty() && !rows[0][5].is_empty(), "{l}: pipeline and stage names");
        let csv = view(app, &o, RecordType::Company, ListFilter::default(), SortKey::default(), ViewFormat::Csv).await;
        assert_eq!(csv_rows(&csv).1[0][1], "Acme; Rockets", "{l}");
    }
}

/// Entries of a ZIP archive, read through its central directory; every
/// entry's CRC-32 and sizes are checked against its local header and data
/// descriptor.
fn unzip(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
    let u16_at = |at: usize| u16::from_le_bytes([zip[at], zip[at + 1]]) as usize;
    let u32_at = |at: usize| u32::from_le_bytes(zip[at..at + 4].try_into().unwrap());
    let end = zip.len() - 22;
    assert_eq!(u32_at(end), 0x0605_4b50, "end of central directory");
    let mut at = u32_at(end + 16) as usize;
    let mut out = Vec::new();
    for _ in 0..u16_at(end + 10) {
        assert_eq!(u32_at(at), 0x0201_4b50, "central header");
        let (crc, size) = (u32_at(at + 16), u32_at(at + 24) as usize);
        let name_len = u16_at(at + 28);
        let local = u32_at(at + 42) as usize;
        let name = String::from_utf8(zip[at + 46..at + 46 + name_len].to_vec()).unwrap();
        at += 46 + name_len + u16_at(at + 30) + u16_at(at + 32);
        assert_eq!(u32_at(local), 0x0403_4b50, "local header of {name}");
        let data_at = local + 30 + u16_at(local + 26) + u16_at(local + 28);
        let data = zip[data_at..data_at + size].to_vec();
        assert_eq!(Crc32::of(&data), crc, "{name}: CRC");
        assert_eq!(u32_at(data_at + size), 0x0807_4b50, "{name}: data descriptor");
        assert_eq!((u32_at(data_at + size + 4), u32_at(data_at + size + 12) as usize), (crc, size));
        out.push((name, data));
    }
    out
}

async fn run_jobs(app: &App) {
    let mut registry = Registry::default();
    exports::register(&mut registry);
    let w = Worker::new(app.clone(), registry);
    while w.run_once().await.unwrap() > 0 {}
}

async fn download_all(app: &App, ctx: &Context, id: Uuid) -> Vec<u8> {
    let mut d = exports::download(app, ctx, id, &nowhere()).await.unwrap();
    let mut bytes = Vec::new();
    while let Some(chunk) = d.next_chunk().await.unwrap() {
        assert!(chunk.len() <= 1024 * 1024);
        bytes.extend(chunk);
    }
    assert_eq!(bytes.len() as i64, d.export.file_bytes);
    bytes
}

fn note(record: Uuid, body: &str, private: bool) -> NoteInput {
    NoteInput {
        record_type: Some(RecordType::Contact),
        record_id: Some(record),
        body: Some(body.into()),
        is_private: Some(private),
    }
}

#[tokio::test]
async fn the_workspace_export_zips_what_the_requester_may_see() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("zip@export.test").await;
        let o = owner_ctx(app, &owner).await;
        let ann = join(app, &o, "ann@zip.test", Role::Member).await;
        let a = ctx(app, ann.org_id, ann.user_id).await;
        let eve = join(app, &o, "eve@zip.test", Role::Admin).await;
        let e = ctx(app, eve.org_id, eve.user_id).await;

        let shared = contacts::create(app, &a, &person("Shared", "Contact", "shared@zip.test")).await.unwrap();
        let anns = ContactInput { visibility: Some(Visibility::Personal), ..person("Anns", "Own", "a@zip.test") };
        let anns = contacts::create(app, &a, &anns).await.unwrap();
        let mine = ContactInput { visibility: Some(Visibility::Personal), ..person("Owners", "Own", "o@zip.test") };
        let mine = contacts::create(app, &o, &mine).await.unwrap();
        companies::create(app, &a, &companies::CompanyInput { name: Some("Zip Co".into()), ..Default::default() })
            .await
            .unwrap();
        deals::create(app, &a, &DealInput { title: Some("Zip deal".into()), ..Default::default() }).await.unwrap();
        notes::create(app, &a, &note(shared.id, "shared words", false)).await.unwrap();
        notes::create(app, &a, &note(shared.id, "ann's private words", true)).await.unwrap();
        notes::create(app, &o, &note(shared.id, "owner's private words", true)).await.unwrap();
        // Enough note text for the archive to span several 1 MiB chunks.
        let long = "x".repeat(99_000);
        for _ in 0..12 {
            notes::create(app, &a, &note(shared.id, &long, false)).await.unwrap();
        }
        tasks::create(app, &a, &TaskInput { title: Some("Call back".into()), ..Default::default() }).await.unwrap();

        let refused = exports::start_workspace_export(app, &a, &nowhere()).await;
        assert!(matches!(refused, Err(AppError::Forbidden)), "{l}: members may not export the workspace");
        let started = exports::start_workspace_export(app, &o, &nowhere()).await.unwrap();
        assert_eq!((started.status.as_str(), started.scope.as_str()), ("queued", "workspace"), "{l}");
        let early = exports::download(app, &o, started.id, &nowhere()).await;
        assert!(matches!(early, Err(AppError::Conflict(ErrorCode::InUse, _))), "{l}: not before it is done");

        run_jobs(app).await;
        let done = exports::get_export(app, &o, started.id).await.unwrap();
        assert_eq!(done.status, "done", "{l}: {:?}", done.error);
        assert!(done.finished_at_ms.is_some() && done.file_bytes > 1024 * 1024, "{l}: {done:?}");
        let zip = download_all(app, &o, started.id).await;
        let entries = unzip(&zip);
        let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "contacts.json",
                "contacts.csv",
                "companies.json",
                "companies.csv",
                "deals.json",
                "deals.csv",
                "notes.json",
                "tasks.json",
                "pipelines.json",
                "tags.json"
            ],
            "{l}"
        );
        let entry = |name: &str| &entries.iter().find(|(n, _)| n == name).unwrap().1;
        let json = |name: &str| -> Vec<Value> {
            serde_json::from_slice(entry(name)).unwrap_or_else(|e| panic!("{l}: {name}: {e}"))
        };
        let contact_ids = ids_of_json(entry("contacts.json"));
        assert!(contact_ids.contains(&shared.id) && contact_ids.contains(&mine.id), "{l}");
        assert!(!contact_ids.contains(&anns.id), "{l}: another member's personal contact stays out");
        assert_eq!(ids_of_csv(&csv_rows(entry("contacts.csv")).1), contact_ids, "{l}: CSV and JSON agree");
        let bodies: Vec<String> = json("notes.json").iter().map(|n| n["body"].as_str().unwrap().to_string()).collect();
        assert!(bodies.contains(&"shared words".to_string()), "{l}: bodies opened");
        assert!(bodies.contains(&"owner's private words".to_string()), "{l}: the requester's private note");
        assert!(!bodies.iter().any(|b| b.contains("ann's private")), "{l}: others' private notes stay out");
        assert_eq!(bodies.len(), 14, "{l}");
        assert_eq!(json("companies.json").len(), 1, "{l}");
        assert_eq!(json("deals.json").len(), 1, "{l}");
        assert_eq!(csv_rows(entry("deals.csv")).1.len(), 1, "{l}");
        assert_eq!(json("tasks.json").len(), 1, "{l}");
        assert!(!json("pipelines.json").is_empty(), "{l}");
        assert!(json("tags.json").is_empty(), "{l}");
        assert_eq!(done.records, 2 + 1 + 1 + 14 + 1 + json("pipelines.json").len() as i64, "{l}: records counted once");

        // Who sees and opens it.
        assert!(matches!(exports::get_export(app, &a, started.id).await, Err(AppError::NotFound)), "{l}");
        assert!(exports::list_exports(app, &a, &PageRequest::default()).await.unwrap().items.is_empty(), "{l}");
        assert_eq!(exports::get_export(app, &e, started.id).await.unwrap().id, started.id, "{l}: admins see it");
        assert_eq!(exports::list_exports(app, &e, &PageRequest::default()).await.unwrap().items.len(), 1, "{l}");
        let other_admin = exports::download(app, &e, started.id, &nowhere()).await;
        assert!(matches!(other_admin, Err(AppError::Forbidden)), "{l}: it holds the requester's private notes");

        // Another workspace knows nothing of it.
        let stranger = owner_ctx(app, &t.user("stranger@zip.test").await).await;
        assert!(matches!(exports::get_export(app, &stranger, started.id).await, Err(AppError::NotFound)), "{l}");

        // Kept seven days.
        assert_eq!(exports::purge(app, now_ms()).await.unwrap(), 0, "{l}");
        assert_eq!(exports::purge(app, now_ms() + 7 * DAY_MS + 1).await.unwrap(), 1, "{l}");
        assert!(matches!(exports::get_export(app, &o, started.id).await, Err(AppError::NotFound)), "{l}");
        assert!(kith_store::files::chunk(app.db(), o.org_id, started.id, 0).await.unwrap().is_none(), "{l}");
    }
}

#[tokio::test]
async fn an_export_fails_when_its_requester_is_no_longer_an_admin() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("demoted@export.test").await;
        let o = owner_ctx(app, &owner).await;
        let eve = join(app, &o, "eve@demoted.test", Role::Admin).await;
        let e = ctx(app, eve.org_id, eve.user_id).await;
        let started = exports::start_workspace_export(app, &e, &nowhere()).await.unwrap();
        kith_app::members::change_role(app, &o, eve.user_id, Role::Member, None, &nowhere()).await.unwrap();
        run_jobs(app).await;
        let failed = exports::get_export(app, &o, started.id).await.unwrap();
        assert_eq!(failed.status, "failed", "{l}");
        assert!(failed.error.unwrap().contains("no longer"), "{l}");
    }
}

#[tokio::test]
async fn the_purge_is_a_standard_schedule() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        kith_app::worker::install_standard_schedules(app).await.unwrap();
        let due = kith_store::jobs::due_schedules(app.db(), i64::MAX).await.unwrap();
        let purge = due.iter().find(|s| s.name == exports::PURGE_SCHEDULE).unwrap_or_else(|| panic!("{l}: installed"));
        assert_eq!((purge.kind.as_str(), purge.cron.as_str()), (exports::PURGE_JOB, exports::PURGE_CRON), "{l}");
    }
}

#[tokio::test]
async fn a_run_that_lost_its_lease_cannot_write_over_the_new_one() {
    use kith_store::exports as rows;
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let o = owner_ctx(app, &t.user("lease@export.test").await).await;
        let id = exports::start_workspace_export(app, &o, &nowhere()).await.unwrap().id;
        let mut tx = app.db().begin().await.unwrap();
        rows::restart(&mut tx, id, now_ms()).await.unwrap();
        assert!(rows::advance(&mut tx, id, 0, 10, 1, now_ms()).await.unwrap(), "{l}: the first run stores a chunk");
        // A second run (the first one's lease ran out) starts over...
        rows::restart(&mut tx, id, now_ms()).await.unwrap();
        // ...so the first run's next chunk and its completion are refused.
        assert!(!rows::advance(&mut tx, id, 10, 20, 2, now_ms()).await.unwrap(), "{l}");
        assert!(!rows::complete(&mut tx, id, 10, 2, now_ms()).await.unwrap(), "{l}");
        assert!(rows::complete(&mut tx, id, 0, 0, now_ms()).await.unwrap(), "{l}: the second run finishes");
        tx.commit().await.unwrap();
        assert_eq!(exports::get_export(app, &o, id).await.unwrap().status, "done", "{l}");
    }
}
