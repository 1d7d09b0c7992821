//! Contact imports: presets, encodings, per-row errors, dedupe, re-runs,
//! resuming after a restart, and the report.

use crate::support::*;
use kith_app::crm::contacts;
use kith_app::crm::imports::{self, Dedupe, ImportOptions};
use kith_app::worker::{Registry, Worker};
use kith_app::App;
use kith_domain::{Context, PageRequest, Role};
use kith_store::records::{ListFilter, SortKey};
use kith_testkit::TestApp;
use uuid::Uuid;

const HUBSPOT: &str = "Record ID,First Name,Last Name,Email,Phone Number,Company Name,Lifecycle Stage\r\n\
1,Ada,Lovelace,ada@engine.test,+44 20 7946 0958,Analytical Engines,lead\r\n\
2,Grace,Hopper,grace@navy.test,not a phone,US Navy,customer\r\n\
3,\"Broken,Row\"x,oops,,,,\r\n\
4,Alan,Turing,bad-email,,Bletchley,lead\r\n\
5,Ada,Lovelace,ADA@engine.test,,Analytical Engines,customer\r\n\
6,Katherine,Johnson,,+1 757 555 0101,NASA,lead\r\n";

async fn upload(app: &App, ctx: &Context, name: &str, bytes: &[u8], dedupe: Dedupe, dry_run: bool) -> Uuid {
    let mut up = imports::begin(
        app,
        ctx,
        ImportOptions { file_name: name.into(), preset: None, mapping: None, dedupe, dry_run },
    )
    .unwrap();
    // Several writes, as a streamed upload would make.
    for part in bytes.chunks(7) {
        up.write(part).await.unwrap();
    }
    up.finish().await.unwrap().id
}

async fn drain(app: &App) {
    let mut registry = Registry::default();
    imports::register(&mut registry);
    let w = Worker::new(app.clone(), registry);
    while w.run_once().await.unwrap() > 0 {}
}

async fn count(app: &App, ctx: &Context) -> usize {
    contacts::list(app, ctx, &ListFilter::default(), SortKey::default(), &PageRequest::new(Some(200), None))
        .await
        .unwrap()
        .items
        .len()
}

#[tokio::test]
async fn a_hubspot_csv_imports_with_row_errors_and_a_rerun_creates_nothing() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("import@crm.test").await;
        let o = owner_ctx(app, &owner).await;
        let id = upload(app, &o, "hubspot.csv", HUBSPOT.as_bytes(), Dedupe::Update, false).await;
        let queued = imports::get(app, &o, id).await.unwrap();
        assert_eq!((queued.status.as_str(), queued.preset.as_str()), ("queued", "hubspot"), "{l}: preset detected");
        drain(app).await;
        let done = imports::get(app, &o, id).await.unwrap();
        assert_eq!(done.status, "done", "{l}: {:?}", done.error);
        assert_eq!(
            (done.total, done.created, done.updated, done.failed),
            (6, 3, 1, 2),
            "{l}: rows 3 (quoting) and 4 (e-mail) fail; row 5 is Ada again"
        );
        assert!(done.warnings >= 1, "{l}: the bad phone is a warning");
        assert_eq!(count(app, &o).await, 3, "{l}");
        let grace = contacts::list(app, &o, &ListFilter::default(), SortKey::default(), &PageRequest::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .find(|c| c.first_name == "Grace")
            .unwrap();
        assert_eq!((grace.phones[0].valid, grace.phones[0].value.as_str()), (false, "not a phone"), "{l}: kept raw");
        assert!(grace.company_id.is_some(), "{l}: company made from its name");
        let report = String::from_utf8(imports::report_csv(app, &o, id).await.unwrap()).unwrap();
        assert!(report.contains("broken_quoting") && report.contains("invalid_email"), "{l}: {report}");

        // The same file again: nothing new.
        let again = upload(app, &o, "hubspot.csv", HUBSPOT.as_bytes(), Dedupe::Update, false).await;
        drain(app).await;
        let second = imports::get(app, &o, again).await.unwrap();
        assert_eq!((second.created, second.updated), (0, 4), "{l}: a re-run only updates");
        assert_eq!(count(app, &o).await, 3, "{l}: and creates nothing");
        let skip = upload(app, &o, "hubspot.csv", HUBSPOT.as_bytes(), Dedupe::Skip, false).await;
        drain(app).await;
        assert_eq!(imports::get(app, &o, skip).await.unwrap().skipped, 4, "{l}: skip leaves them alone");

        // A dry run writes nothing but counts.
        let other = owner_ctx(app, &t.user("dry@crm.test").await).await;
        let dry = upload(app, &other, "hubspot.csv", HUBSPOT.as_bytes(), Dedupe::Update, true).await;
        drain(app).await;
        let d = imports::get(app, &other, dry).await.unwrap();
        assert_eq!((d.created, count(app, &other).await), (3, 0), "{l}: dry run");
        assert!(matches!(imports::get(app, &other, id).await, Err(kith_app::AppError::NotFound)), "{l}: scoped");
    }
}

#[tokio::test]
async fn latin1_utf16_and_vcard_files_import() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("enc@crm.test").await;
        let o = owner_ctx(app, &owner).await;
        // Windows-1252 "Müller" and a semicolon-separated sheet.
        let mut latin1 = b"First name;Last name;E-mail\r\nJ\xfcrgen;M\xfcller;juergen@example.test\r\n".to_vec();
        latin1.extend_from_slice(b"Ren\xe9e;Dupr\xe9;renee@example.test\r\n");
        let a = upload(app, &o, "latin1.csv", &latin1, Dedupe::Update, false).await;
        // UTF-16LE with a BOM.
        let text = "First Name,Last Name,Email\r\nŽofia,Nováková,zofia@example.test\r\n";
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(text.encode_utf16().flat_map(|u| u.to_le_bytes()));
        let b = upload(app, &o, "utf16.csv", &utf16, Dedupe::Update, false).await;
        let vcf = "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Curie;Marie;;;\r\nFN:Marie Curie\r\nEMAIL;TYPE=INTERNET,WORK:marie@radium.test\r\nTEL;TYPE=CELL:+33 1 23 45 67 89\r\nORG:Institut du Radium\r\nCATEGORIES:science,nobel\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:4.0\r\nFN:Pierre Curie\r\nN:Curie;Pierre;;;\r\nEMAIL;TYPE=work:pierre@radium.test\r\nEND:VCARD\r\n";
        let c = upload(app, &o, "people.vcf", vcf.as_bytes(), Dedupe::Update, false).await;
        drain(app).await;
        for (id, created) in [(a, 2), (b, 1), (c, 2)] {
            let i = imports::get(app, &o, id).await.unwrap();
            assert_eq!(
                (i.status.as_str(), i.created, i.failed),
                ("done", created, 0),
                "{l}: {} {:?}",
                i.file_name,
                i.error
            );
        }
        let mut names: Vec<String> =
            contacts::list(app, &o, &ListFilter::default(), SortKey::CreatedAsc, &PageRequest::default())
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|c| c.display_name)
                .collect();
        names.sort();
        assert_eq!(names, ["Jürgen Müller", "Marie Curie", "Pierre Curie", "Renée Dupré", "Žofia Nováková"], "{l}");
        let marie = kith_app::crm::search::search(app, &o, "marie", 5).await.unwrap();
        assert_eq!(marie.len(), 1, "{l}");
        let m = contacts::get(app, &o, marie[0].id).await.unwrap();
        assert_eq!((m.phones[0].value.as_str(), m.tags.len()), ("+33123456789", 2), "{l}");
    }
}

#[tokio::test]
async fn an_import_resumes_after_a_restart_without_doing_rows_twice() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("resume@crm.test").await;
        let o = owner_ctx(app, &owner).await;
        let mut csv = String::from("First Name,Last Name,Email\n");
        let rows = imports::BATCH * 2 + 17;
        for i in 0..rows {
            csv.push_str(&format!("P{i},Resume,p{i}@resume.test\n"));
        }
        let id = upload(app, &o, "big.csv", csv.as_bytes(), Dedupe::Create, false).await;
        drain(app).await;
        assert_eq!(imports::get(app, &o, id).await.unwrap().created as usize, rows, "{l}");

        // Pretend the process died after the first batch: progress says one
        // batch is done and the job runs again on a fresh upload.
        let member = join(app, &o, "m@resume.test", Role::Member).await;
        let m = ctx(app, member.org_id, member.user_id).await;
        let id2 = upload(app, &m, "big.csv", csv.as_bytes(), Dedupe::Create, false).await;
        let mut registry = Registry::default();
        imports::register(&mut registry);
        // Run once but stop after the first batch by failing the transaction of
        // the second: simulate with a raw progress write instead.
        let done_rows = imports::BATCH as i64;
        kith_testkit::raw_execute(
            &t.db.raw_url,
            &format!("UPDATE imports SET rows_done = {done_rows}, total = {done_rows}, created = {done_rows}, status = 'running' WHERE file_name = 'big.csv' AND created = 0"),
        )
        .await;
        drain(app).await;
        let resumed = imports::get(app, &m, id2).await.unwrap();
        assert_eq!(resumed.status, "done", "{l}");
        assert_eq!(resumed.total as usize, rows, "{l}: every row counted once");
        assert_eq!(resumed.created as usize, rows, "{l}: the counters continue from the committed batch");
        let _ = (member, Uuid::nil());
    }
}

#[tokio::test]
async fn rows_matching_one_contact_by_different_handles_update_it_once_and_bad_tags_only_warn() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("fold@crm.test").await;
        let o = owner_ctx(app, &owner).await;
        let input = contacts::ContactInput {
            first_name: Some("Mary".into()),
            emails: Some(vec![contacts::LabeledValue { value: "mary@fold.test".into(), label: None }]),
            phones: Some(vec![contacts::LabeledValue { value: "+1 415 555 0134".into(), label: None }]),
            ..Default::default()
        };
        let mary = contacts::create(app, &o, &input).await.unwrap();
        let long_tag = "x".repeat(80);
        let csv = format!(
            "first_name,last_name,email,phone,title,tags\n\
             Mary,Jackson,mary@fold.test,,Engineer,vip\n\
             ,,,+14155550134,,\"vip;{long_tag};Langley\"\n\
             Dorothy,Vaughan,dorothy@fold.test,,,{long_tag}\n"
        );
        let id = upload(app, &o, "fold.csv", csv.as_bytes(), Dedupe::Update, false).await;
        drain(app).await;
        let done = imports::get(app, &o, id).await.unwrap();
        assert_eq!(done.status, "done", "{l}: {:?}", done.error);
        assert_eq!(
            (done.created, done.updated, done.failed),
            (1, 2, 0),
            "{l}: both rows are Mary; a bad tag fails nothing"
        );
        assert_eq!(done.warnings, 2, "{l}: the over-long tag is a warning on two rows");
        assert_eq!(count(app, &o).await, 2, "{l}");
        let after = contacts::get(app, &o, mary.id).await.unwrap();
        assert_eq!((after.last_name.as_str(), after.title.as_deref()), ("Jackson", Some("Engineer")), "{l}");
        let mut tags = after.tags.clone();
        tags.sort();
        assert_eq!(tags, ["Langley", "vip"], "{l}: tags of both rows, the bad one left out");
        let report = String::from_utf8(imports::report_csv(app, &o, id).await.unwrap()).unwrap();
        assert!(report.contains("tag_ignored"), "{l}: {report}");
    }
}

/// The dedupe reads of a batch run while the batch before it is written, so
/// they cannot see it: rows matching what the previous batch created or
/// changed (a contact made from a row, a phone added to an existing contact,
/// a name-only row) must still find it, and the whole file, run again,
/// creates nothing.
#[tokio::test]
async fn rows_matching_what_the_previous_batch_wrote_update_it() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("overlap@crm.test").await;
        let o = owner_ctx(app, &owner).await;
        let input = contacts::ContactInput {
            first_name: Some("Cee".into()),
            emails: Some(vec![contacts::LabeledValue { value: "cee@overlap.test".into(), label: None }]),
            ..Default::default()
        };
        let cee = contacts::create(app, &o, &input).await.unwrap();
        let mut csv = String::from("first_name,last_name,email,phone,company,title\n");
        // Batch 1: Cee gets a phone, fillers, a name-only row, a new contact.
        csv.push_str("Cee,Overlap,cee@overlap.test,+1 415 555 0199,,\n");
        for i in 2..imports::BATCH - 1 {
            csv.push_str(&format!("F{i},Filler,f{i}@overlap.test,,,\n"));
        }
        csv.push_str("Solo,Person,,,Lonely Inc,\n");
        csv.push_str("Nina,Fresh,nina@fresh.test,,,\n");
        // Batch 2: each row names someone batch 1 wrote.
        csv.push_str(",,,+14155550199,,Chief\n");
        csv.push_str(",,NINA@fresh.test,,,Engineer\n");
        csv.push_str("Solo,Person,,,Lonely Inc,Hermit\n");
        let id = upload(app, &o, "overlap.csv", csv.as_bytes(), Dedupe::Update, false).await;
        drain(app).await;
        let done = imports::get(app, &o, id).await.unwrap();
        assert_eq!(done.status, "done", "{l}: {:?}", done.error);
        let fresh_in_batch_1 = imports::BATCH as i64 - 1;
        assert_eq!(
            (done.total, done.created, done.updated, done.failed),
            (imports::BATCH as i64 + 3, fresh_in_batch_1, 4, 0),
            "{l}: batch 2 only updates"
        );
        let after = contacts::get(app, &o, cee.id).await.unwrap();
        assert_eq!(after.phones.len(), 1, "{l}: {:?}", after.phones);
        assert_eq!((after.phones[0].value.as_str(), after.title.as_deref()), ("+14155550199", Some("Chief")), "{l}");
        for (q, title) in [("nina@fresh.test", "Engineer"), ("Solo Person", "Hermit")] {
            let hits = kith_app::crm::search::search(app, &o, q, 5).await.unwrap();
            let hits: Vec<_> = hits.into_iter().filter(|h| h.kind == "contact").collect();
            assert_eq!(hits.len(), 1, "{l}: one contact for {q}: {hits:?}");
            let c = contacts::get(app, &o, hits[0].id).await.unwrap();
            assert_eq!(c.title.as_deref(), Some(title), "{l}: {q}");
        }

        // The same file again: every row finds its contact, the name-only
        // rows too (through the name-only index).
        let again = upload(app, &o, "overlap.csv", csv.as_bytes(), Dedupe::Update, false).await;
        drain(app).await;
        let second = imports::get(app, &o, again).await.unwrap();
        assert_eq!((second.status.as_str(), second.created), ("done", 0), "{l}: {:?}", second.error);
        // And with skip, nothing is touched.
        let skip = upload(app, &o, "overlap.csv", csv.as_bytes(), Dedupe::Skip, false).await;
        drain(app).await;
        let skipped = imports::get(app, &o, skip).await.unwrap();
        assert_eq!((skipped.created, skipped.updated), (0, 0), "{l}");
    }
}

/// Rows matching existing contacts are written as one set of updates per
/// batch: each contact keeps the e-mails and phones it had and gains the
/// row's (dedupe and search find it by either), its search document carries
/// its new name, and the documents of its notes follow the new name.
#[tokio::test]
async fn updated_contacts_keep_their_handles_gain_the_rows_and_search_follows() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("updates@crm.test").await;
        let o = owner_ctx(app, &owner).await;
        let one = |first: &str, email: &str, phone: Option<&str>| contacts::ContactInput {
            first_name: Some(first.into()),
            emails: Some(vec![contacts::LabeledValue { value: email.into(), label: None }]),
            phones: Some(phone.map(|p| contacts::LabeledValue { value: p.into(), label: None }).into_iter().collect()),
            ..Default::default()
        };
        let ann = contacts::create(app, &o, &one("Ann", "ann@old.test", Some("+1 415 555 0142"))).await.unwrap();
        let bob = contacts::create(app, &o, &one("Bob", "bob@same.test", None)).await.unwrap();
        let note = kith_app::crm::notes::NoteInput {
            record_type: Some(kith_domain::crm::RecordType::Contact),
            record_id: Some(ann.id),
            body: Some("quarterly ledger review".into()),
            is_private: None,
        };
        kith_app::crm::notes::create(app, &o, &note).await.unwrap();
        let csv = "first_name,last_name,email,phone\n\
                   Annie,Newname,ann@old.test,+1 212 555 0199\n\
                   Bob,,bob@same.test,\n";
        let id = upload(app, &o, "updates.csv", csv.as_bytes(), Dedupe::Update, false).await;
        drain(app).await;
        let done = imports::get(app, &o, id).await.unwrap();
        assert_eq!((done.status.as_str(), done.created, done.updated), ("done", 0, 2), "{l}: {:?}", done.error);
        let after = contacts::get(app, &o, ann.id).await.unwrap();
        let phones: Vec<&str> = after.phones.iter().map(|p| p.value.as_str()).collect();
        assert_eq!((after.first_name.as_str(), phones), ("Annie", vec!["+14155550142", "+12125550199"]), "{l}");
        assert_eq!(contacts::get(app, &o, bob.id).await.unwrap().version, bob.version, "{l}: nothing new for Bob");
        for q in ["Newname", "2125550199", "4155550142", "ann@old.test"] {
            let hits = kith_app::crm::search::search(app, &o, q, 5).await.unwrap();
            let ids: Vec<Uuid> = hits.iter().filter(|h| h.kind == "contact").map(|h| h.id).collect();
            assert_eq!(ids, [ann.id], "{l}: {q} finds Ann");
        }
        let hits = kith_app::crm::search::search(app, &o, "ledger", 5).await.unwrap();
        let titles: Vec<&str> = hits.iter().filter(|h| h.kind == "note").map(|h| h.title.as_str()).collect();
        assert_eq!(titles, ["Annie Newname"], "{l}: the note's document follows the new name");
        // Both phones are handles now: a row with only the old or only the
        // new one finds Ann.
        let csv = "email,phone,title\n,+1 415 555 0142,Chief\n,+1 212 555 0199,Chief\n";
        let again = upload(app, &o, "phones.csv", csv.as_bytes(), Dedupe::Update, false).await;
        drain(app).await;
        let second = imports::get(app, &o, again).await.unwrap();
        assert_eq!((second.created, second.updated), (0, 2), "{l}: {:?}", second.error);
        assert_eq!(contacts::get(app, &o, ann.id).await.unwrap().title.as_deref(), Some("Chief"), "{l}");
    }
}

/// A row without a company updates a contact that has one: the contact
/// keeps its company, and searching the company's name still finds it.
#[tokio::test]
async fn an_update_from_a_row_without_a_company_keeps_the_company_searchable() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("keepco@crm.test").await;
        let o = owner_ctx(app, &owner).await;
        let company =
            kith_app::crm::companies::CompanyInput { name: Some("Zephyrine Labs".into()), ..Default::default() };
        let company = kith_app::crm::companies::create(app, &o, &company).await.unwrap();
        let carl = contacts::ContactInput {
            first_name: Some("Carl".into()),
            emails: Some(vec![contacts::LabeledValue { value: "carl@zephyrine.test".into(), label: None }]),
            company_id: Some(Some(company.id)),
            ..Default::default()
        };
        let carl = contacts::create(app, &o, &carl).await.unwrap();
        let csv = "first_name,email,title\nCarl,carl@zephyrine.test,Head of Research\n";
        let id = upload(app, &o, "no-company.csv", csv.as_bytes(), Dedupe::Update, false).await;
        drain(app).await;
        let done = imports::get(app, &o, id).await.unwrap();
        assert_eq!((done.status.as_str(), done.updated), ("done", 1), "{l}: {:?}", done.error);
        let after = contacts::get(app, &o, carl.id).await.unwrap();
        assert_eq!(after.title.as_deref(), Some("Head of Research"), "{l}");
        assert_eq!(after.company_id, Some(company.id), "{l}: the contact keeps its company");
        let hits = kith_app::crm::search::search(app, &o, "Zephyrine", 10).await.unwrap();
        let contacts_found: Vec<Uuid> = hits.iter().filter(|h| h.kind == "contact").map(|h| h.id).collect();
        assert_eq!(contacts_found, [carl.id], "{l}: the company's name still finds the contact");
    }
}

#[tokio::test]
async fn a_rerun_of_rows_with_only_a_name_matches_the_contacts_the_first_run_made() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("names@crm.test").await;
        let o = owner_ctx(app, &owner).await;
        // A member's personal contact with the same name: not the importer's to match.
        let member = join(app, &o, "names-member@crm.test", Role::Member).await;
        let m = owner_ctx(app, &member).await;
        let private = contacts::ContactInput {
            first_name: Some("Ivo".into()),
            last_name: Some("Petrov".into()),
            visibility: Some(kith_domain::visibility::Visibility::Personal),
            ..Default::default()
        };
        let private = contacts::create(app, &m, &private).await.unwrap();
        let csv = "first_name,last_name,company\nMira,Okafor,Lumen Dyes\nMira,Okafor,\nTeodor,Vance,Lumen Dyes\n\
                   Ivo,Petrov,\n";
        let first = upload(app, &o, "names.csv", csv.as_bytes(), Dedupe::Update, false).await;
        drain(app).await;
        let first = imports::get(app, &o, first).await.unwrap();
        assert_eq!((first.status.as_str(), first.created), ("done", 4), "{l}: {:?}", first.error);

        // The same file again: every row finds the contact the first run made.
        let again = upload(app, &o, "names.csv", csv.as_bytes(), Dedupe::Update, false).await;
        drain(app).await;
        let again = imports::get(app, &o, again).await.unwrap();
        assert_eq!((again.created, again.updated), (0, 4), "{l}: a re-run creates nothing");
        assert_eq!(count(app, &o).await, 4, "{l}");

        // The same name at another company is another person.
        let other = "first_name,last_name,company\nMira,Okafor,Harbor Mills\n";
        let other = upload(app, &o, "other.csv", other.as_bytes(), Dedupe::Update, false).await;
        drain(app).await;
        assert_eq!(imports::get(app, &o, other).await.unwrap().created, 1, "{l}: a new contact");
        assert_eq!(count(app, &o).await, 5, "{l}");
        let kept = contacts::get(app, &m, private.id).await.unwrap();
        assert_eq!(kept.version, private.version, "{l}: the personal contact was not touched");
    }
}
