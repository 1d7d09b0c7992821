//! CRM use cases: visibility everywhere (lists, search, timelines), sealed
//! notes found through blind tokens, deals moving through stages, tasks.

use crate::support::*;
use kith_app::crm::contacts::{self, ContactInput, LabeledValue};
use kith_app::crm::deals::{self, DealInput, DealStatus};
use kith_app::crm::notes::{self, NoteInput};
use kith_app::crm::tasks::{self, TaskInput, TaskView};
use kith_app::crm::{activities, companies, pipelines, search, timeline};
use kith_app::{members, teams, AppError, ErrorCode};
use kith_domain::crm::RecordType;
use kith_domain::visibility::Visibility;
use kith_domain::{Context, PageRequest, Role};
use kith_store::records::{ListFilter, SortKey};
use kith_testkit::TestApp;
use uuid::Uuid;

fn person(first: &str, last: &str, email: &str) -> ContactInput {
    ContactInput {
        first_name: Some(first.into()),
        last_name: Some(last.into()),
        emails: Some(vec![LabeledValue { value: email.into(), label: Some("work".into()) }]),
        ..Default::default()
    }
}

async fn visible_ids(app: &kith_app::App, ctx: &Context) -> Vec<Uuid> {
    let page = contacts::list(app, ctx, &ListFilter::default(), SortKey::default(), &PageRequest::new(Some(200), None))
        .await
        .unwrap();
    page.items.into_iter().map(|c| c.id).collect()
}

async fn found(app: &kith_app::App, ctx: &Context, q: &str) -> Vec<Uuid> {
    search::search(app, ctx, q, 50).await.unwrap().into_iter().map(|h| h.id).collect()
}

#[tokio::test]
async fn visibility_holds_in_lists_search_and_timelines() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("owner@crm.test").await;
        let o = owner_ctx(app, &owner).await;
        let ann = join(app, &o, "ann@crm.test", Role::Member).await;
        let a = ctx(app, ann.org_id, ann.user_id).await;
        let bob = join(app, &o, "bob@crm.test", Role::Member).await;
        let b = ctx(app, bob.org_id, bob.user_id).await;

        let shared = contacts::create(app, &a, &person("Shared", "Person", "shared@x.test")).await.unwrap();
        let personal = contacts::create(
            app,
            &a,
            &ContactInput { visibility: Some(Visibility::Personal), ..person("Secret", "Friend", "friend@x.test") },
        )
        .await
        .unwrap();
        let owned = contacts::create(
            app,
            &a,
            &ContactInput { visibility: Some(Visibility::Owner), ..person("Owned", "Lead", "owned@x.test") },
        )
        .await
        .unwrap();
        let team = teams::create(app, &o, "Field", &nowhere()).await.unwrap();
        let team_only = contacts::create(
            app,
            &a,
            &ContactInput {
                visibility: Some(Visibility::Team),
                team_id: Some(Some(team.id)),
                ..person("Team", "Member", "team@x.test")
            },
        )
        .await;
        assert!(
            matches!(team_only, Err(AppError::Validation(_)) | Ok(_)),
            "{l}: team contact by a non-member of the team is allowed"
        );
        let team_only = team_only.unwrap();

        // Ann sees all of hers; Bob only the shared one; the owner all but the personal one.
        let ann_sees = visible_ids(app, &a).await;
        for c in [shared.id, personal.id, owned.id, team_only.id] {
            assert!(ann_sees.contains(&c), "{l}: the creator sees {c}");
        }
        assert_eq!(visible_ids(app, &b).await, vec![shared.id], "{l}: Bob sees only the shared contact");
        let owner_sees = visible_ids(app, &o).await;
        assert!(!owner_sees.contains(&personal.id), "{l}: not even the owner sees a personal contact");
        assert_eq!(owner_sees.len(), 3, "{l}: the owner sees every shared record");

        // Same in search, and for single reads, notes and timelines.
        assert_eq!(found(app, &b, "secret").await, Vec::<Uuid>::new(), "{l}: search hides personal contacts");
        assert_eq!(found(app, &a, "secret").await, vec![personal.id], "{l}: the creator finds it");
        assert!(found(app, &o, "friend@x").await.is_empty(), "{l}: owner cannot search a personal contact");
        assert!(matches!(contacts::get(app, &b, personal.id).await, Err(AppError::NotFound)), "{l}");
        assert!(matches!(contacts::get(app, &b, owned.id).await, Err(AppError::NotFound)), "{l}");
        let r = timeline::page(app, &b, RecordType::Contact, personal.id, &PageRequest::default()).await;
        assert!(matches!(r, Err(AppError::NotFound)), "{l}: no timeline of an invisible contact");
        let note = NoteInput {
            record_type: Some(RecordType::Contact),
            record_id: Some(personal.id),
            body: Some("hi".into()),
            is_private: None,
        };
        assert!(matches!(notes::create(app, &b, &note).await, Err(AppError::Validation(_))), "{l}");
        let upd = contacts::update(app, &b, personal.id, &person("X", "Y", "x@y.test"), None).await;
        assert!(matches!(upd, Err(AppError::NotFound)), "{l}: cannot edit what you cannot see");

        // A team contact appears once Bob joins the team.
        teams::add_member(app, &o, team.id, bob.user_id, &nowhere()).await.unwrap();
        let mut bob_sees = visible_ids(app, &b).await;
        bob_sees.sort();
        let mut expect = vec![shared.id, team_only.id];
        expect.sort();
        assert_eq!(bob_sees, expect, "{l}: team visibility follows team membership");
        assert_eq!(found(app, &b, "team").await, vec![team_only.id], "{l}: and search follows too");

        // "Own records only": Bob then sees only what he owns.
        let bobs = contacts::create(app, &b, &person("Bobs", "Own", "bobs@x.test")).await.unwrap();
        members::set_own_records_only(app, &o, bob.user_id, true, &nowhere()).await.unwrap();
        assert_eq!(visible_ids(app, &b).await, vec![bobs.id], "{l}: limited to own records");
        assert!(found(app, &b, "shared").await.is_empty(), "{l}: the limit applies to search");
        let r = members::set_own_records_only(app, &a, bob.user_id, false, &nowhere()).await;
        assert!(matches!(r, Err(AppError::Forbidden)), "{l}: members cannot lift limits");

        // Visibility changes move the record's notes in search.
        let n = notes::create(
            app,
            &a,
            &NoteInput {
                record_type: Some(RecordType::Contact),
                record_id: Some(shared.id),
                body: Some("Budget approved for the quarterly retainer".into()),
                is_private: None,
            },
        )
        .await
        .unwrap();
        members::set_own_records_only(app, &o, bob.user_id, false, &nowhere()).await.unwrap();
        assert_eq!(found(app, &b, "retainer").await, vec![n.id], "{l}: Bob finds the shared note");
        contacts::update(
            app,
            &a,
            shared.id,
            &ContactInput { visibility: Some(Visibility::Owner), ..Default::default() },
            None,
        )
        .await
        .unwrap();
        assert!(found(app, &b, "retainer").await.is_empty(), "{l}: the note followed its contact out of sight");
    }
}

#[tokio::test]
async fn notes_are_sealed_and_found_by_blind_tokens() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("seal@crm.test").await;
        let o = owner_ctx(app, &owner).await;
        let member = join(app, &o, "m@crm.test", Role::Member).await;
        let m = ctx(app, member.org_id, member.user_id).await;
        let c = contacts::create(app, &o, &person("Zoë", "Quill", "zoe@quill.test")).await.unwrap();
        let body = "Prefers morning calls; allergic to hazelnuts";
        let shared = notes::create(
            app,
            &o,
            &NoteInput {
                record_type: Some(RecordType::Contact),
                record_id: Some(c.id),
                body: Some(body.into()),
                is_private: Some(false),
            },
        )
        .await
        .unwrap();
        let private = notes::create(
            app,
            &o,
            &NoteInput {
                record_type: Some(RecordType::Contact),
                record_id: Some(c.id),
                body: Some("Private: considering a discount".into()),
                is_private: Some(true),
            },
        )
        .await
        .unwrap();
        let raw = kith_testkit::raw_bytes(&t.db.raw_url, "SELECT body FROM notes").await;
        for bytes in &raw {
            let text = String::from_utf8_lossy(bytes);
            assert!(!text.contains("hazelnut") && !text.contains("discount"), "{l}: note bodies are sealed");
        }
        let as_bytes =
            if t.db.raw_url.starts_with("postgres") { "convert_to(terms, 'UTF8')" } else { "CAST(terms AS BLOB)" };
        let sql = format!("SELECT {as_bytes} FROM search_docs WHERE record_type = 'note'");
        let terms = kith_testkit::raw_bytes(&t.db.raw_url, &sql).await;
        assert_eq!(terms.len(), 2, "{l}");
        for bytes in terms {
            assert!(!String::from_utf8_lossy(&bytes).contains("hazelnut"), "{l}: search holds blind tokens only");
        }
        assert_eq!(found(app, &o, "HAZELNUTS").await, vec![shared.id], "{l}: exact word, any case");
        assert_eq!(found(app, &m, "hazelnuts").await, vec![shared.id], "{l}: a member finds the shared note");
        assert!(found(app, &m, "discount").await.is_empty(), "{l}: nobody else finds a private note");
        assert_eq!(found(app, &o, "discount").await, vec![private.id], "{l}: its author does");
        assert!(found(app, &o, "hazel").await.is_empty(), "{l}: sealed text matches whole words only");
        assert_eq!(found(app, &o, "zoe").await, vec![c.id], "{l}: accents fold in names");
        assert_eq!(found(app, &o, "qui").await, vec![c.id], "{l}: name prefixes match");

        let tl = timeline::page(app, &m, RecordType::Contact, c.id, &PageRequest::default()).await.unwrap();
        assert_eq!(tl.items.len(), 1, "{l}: the member's timeline lacks the private note");
        assert_eq!(tl.items[0].note.as_ref().unwrap().body, body, "{l}: opened for reading");
        let tl = timeline::page(app, &o, RecordType::Contact, c.id, &PageRequest::default()).await.unwrap();
        assert_eq!(tl.items.len(), 2, "{l}: the author sees both");

        let r = notes::update(app, &m, shared.id, &NoteInput { body: Some("x".into()), ..empty_note() }, None).await;
        assert!(matches!(r, Err(AppError::Forbidden)), "{l}: only the author edits");
        assert!(matches!(notes::get(app, &m, private.id).await, Err(AppError::NotFound)), "{l}");

        contacts::delete(app, &o, c.id, &nowhere()).await.unwrap();
        assert!(found(app, &o, "hazelnuts").await.is_empty(), "{l}: deleting a contact removes its notes from search");
        assert_eq!(
            kith_testkit::raw_bytes(&t.db.raw_url, "SELECT body FROM notes").await.len(),
            0,
            "{l}: and the notes themselves"
        );
    }
}

fn empty_note() -> NoteInput {
    NoteInput { record_type: None, record_id: None, body: None, is_private: None }
}

#[tokio::test]
async fn search_finds_phones_emails_companies_and_deals() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("search@crm.test").await;
        let o = owner_ctx(app, &owner).await;
        let acme = companies::create(
            app,
            &o,
            &companies::CompanyInput {
                name: Some("Acme Rockets".into()),
                domain: Some("https://www.acme-rockets.test/".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(acme.domain.as_deref(), Some("acme-rockets.test"), "{l}");
        let c = contacts::create(
            app,
            &o,
            &ContactInput {
                phones: Some(vec![LabeledValue { value: "+1 (415) 555-0100".into(), label: Some("mobile".into()) }]),
                company_id: Some(Some(acme.id)),
                ..person("Wile", "Coyote", "wile.e@acme-rockets.test")
            },
        )
        .await
        .unwrap();
        assert_eq!(c.phones[0].value, "+14155550100", "{l}");
        assert_eq!(c.phones[0].raw, "+1 (415) 555-0100", "{l}: the raw input is kept");
        for q in ["415-555-0100", "(415) 555 0100", "+14155550100", "4155550100", "wile.e@acme", "coyo", "WILE"] {
            assert!(found(app, &o, q).await.contains(&c.id), "{l}: {q:?} finds the contact");
        }
        assert_eq!(found(app, &o, "rockets").await.len(), 2, "{l}: company name finds the company and its contact");
        let d = deals::create(
            app,
            &o,
            &DealInput { title: Some("Giant magnet order".into()), value_minor: Some(125_000), ..Default::default() },
        )
        .await
        .unwrap();
        assert_eq!(found(app, &o, "magnet").await, vec![d.id], "{l}");
        assert!(found(app, &o, "   ").await.is_empty(), "{l}: blank query");
        assert!(found(app, &o, "\"* OR NEAR(").await.is_empty(), "{l}: engine syntax is not interpreted");

        // Phones without a country code need the workspace's default.
        let r = contacts::create(
            app,
            &o,
            &ContactInput {
                phones: Some(vec![LabeledValue { value: "415 555 0101".into(), label: None }]),
                ..person("No", "Code", "nocode@x.test")
            },
        )
        .await;
        assert_eq!(invalid_fields(l, "phone without code", r), ["phones[0].value"], "{l}");
    }
}

#[tokio::test]
async fn deals_move_through_stages_on_the_timeline_and_board() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("deals@crm.test").await;
        let o = owner_ctx(app, &owner).await;
        let viewer_acct = join(app, &o, "viewer@crm.test", Role::Viewer).await;
        let v = ctx(app, viewer_acct.org_id, viewer_acct.user_id).await;
        let buyer = contacts::create(app, &o, &person("Bea", "Buyer", "bea@x.test")).await.unwrap();
        let deal = deals::create(
            app,
            &o,
            &DealInput {
                title: Some("Annual plan".into()),
                value_minor: Some(99_000),
                currency: Some("eur".into()),
                contact_ids: Some(vec![buyer.id]),
                expected_close: Some("2027-01-31".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(deal.currency, "EUR", "{l}");
        let pipeline = pipelines::get(app, &o, deal.pipeline_id).await.unwrap();
        assert_eq!(pipeline.stages[0].id, deal.stage_id, "{l}: a new deal starts in the first stage");
        let next = pipeline.stages[1].clone();
        let moved =
            deals::update(app, &o, deal.id, &DealInput { stage_id: Some(next.id), ..Default::default() }, Some(1))
                .await
                .unwrap();
        assert_eq!((moved.stage_id, moved.version), (next.id, 2), "{l}");
        let stale =
            deals::update(app, &o, deal.id, &DealInput { title: Some("x".into()), ..Default::default() }, Some(1))
                .await;
        assert!(matches!(stale, Err(AppError::StaleVersion)), "{l}");
        let tl = timeline::page(app, &o, RecordType::Deal, deal.id, &PageRequest::default()).await.unwrap();
        let change = tl.items[0].stage_change.as_ref().expect("newest entry is the move");
        assert_eq!(
            (change.from_stage.as_deref(), change.to_stage.as_deref()),
            (Some(pipeline.stages[0].name.as_str()), Some(next.name.as_str())),
            "{l}: the timeline names both stages"
        );
        assert_eq!(tl.items.len(), 2, "{l}: creation and move");

        let board = deals::board(app, &v, Some(pipeline.id)).await.unwrap();
        let col = board.columns.iter().find(|c| c.stage.id == next.id).unwrap();
        assert_eq!((col.count, col.deals.len(), col.totals[0].value_minor), (1, 1, 99_000), "{l}");
        let r =
            deals::update(app, &v, deal.id, &DealInput { title: Some("x".into()), ..Default::default() }, None).await;
        assert!(matches!(r, Err(AppError::Forbidden)), "{l}: viewers do not write");

        // A stage with deals cannot be removed; a foreign stage is refused.
        let keep_first_only = pipelines::PipelineInput {
            name: None,
            position: None,
            stages: Some(vec![pipelines::StageInput {
                id: Some(pipeline.stages[0].id),
                name: "Lead".into(),
                probability: Some(10),
            }]),
        };
        let r = pipelines::update(app, &o, pipeline.id, &keep_first_only, None).await;
        assert!(matches!(r, Err(AppError::Conflict(ErrorCode::InUse, _))), "{l}: {r:?}");
        let other = t.user("other@crm.test").await;
        let oc = owner_ctx(app, &other).await;
        let foreign =
            deals::create(app, &oc, &DealInput { title: Some("Theirs".into()), ..Default::default() }).await.unwrap();
        let r = deals::update(
            app,
            &o,
            deal.id,
            &DealInput { stage_id: Some(foreign.stage_id), ..Default::default() },
            None,
        )
        .await;
        assert_eq!(invalid_fields(l, "foreign stage", r), ["stage_id"], "{l}");

        let won =
            deals::update(app, &o, deal.id, &DealInput { status: Some(DealStatus::Won), ..Default::default() }, None)
                .await
                .unwrap();
        assert!(won.closed_at_ms.is_some(), "{l}");
        assert_eq!(deals::of_contact(app, &o, buyer.id).await.unwrap().len(), 1, "{l}");
        let board = deals::board(app, &o, Some(pipeline.id)).await.unwrap();
        assert_eq!(board.columns.iter().map(|c| c.count).sum::<i64>(), 0, "{l}: won deals leave the board");
    }
}

#[tokio::test]
async fn tasks_and_activities_land_on_the_timeline() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("tasks@crm.test").await;
        let o = owner_ctx(app, &owner).await;
        let c = contacts::create(app, &o, &person("Tess", "Task", "tess@x.test")).await.unwrap();
        let now = kith_domain::time::now_ms();
        let overdue = tasks::create(
            app,
            &o,
            &TaskInput {
                title: Some("Send contract".into()),
                due_at_ms: Some(Some(now - 3_600_000)),
                record_type: Some(RecordType::Contact),
                record_id: Some(c.id),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let later = tasks::create(
            app,
            &o,
            &TaskInput {
                title: Some("Plan QBR".into()),
                due_at_ms: Some(Some(now + 10 * 86_400_000)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let req = PageRequest::default();
        let list = |view| tasks::list(app, &o, None, view, None, &req);
        assert_eq!(
            list(TaskView::Overdue).await.unwrap().items.iter().map(|t| t.id).collect::<Vec<_>>(),
            [overdue.id],
            "{l}"
        );
        assert_eq!(list(TaskView::Open).await.unwrap().items.len(), 2, "{l}");
        tasks::update(app, &o, overdue.id, &TaskInput { done: Some(true), ..Default::default() }, None).await.unwrap();
        assert_eq!(list(TaskView::Done).await.unwrap().items[0].id, overdue.id, "{l}");
        assert_eq!(list(TaskView::Open).await.unwrap().items[0].id, later.id, "{l}");

        let call = activities::create(
            app,
            &o,
            &activities::ActivityInput {
                kind: Some(activities::ActivityKind::Meeting),
                subject: Some("Renewal strategy".into()),
                body: Some("Discussed the board's concerns".into()),
                occurred_at_ms: Some(now - 60_000),
                duration_s: Some(1800),
                record_type: Some(RecordType::Contact),
                record_id: Some(c.id),
            },
        )
        .await
        .unwrap();
        let raw = kith_testkit::raw_bytes(&t.db.raw_url, "SELECT subject FROM activities").await;
        assert!(!String::from_utf8_lossy(&raw[0]).contains("Renewal"), "{l}: meeting titles are sealed");
        let tl = timeline::page(app, &o, RecordType::Contact, c.id, &PageRequest::new(Some(1), None)).await.unwrap();
        assert_eq!(tl.items.len(), 1, "{l}");
        let second =
            timeline::page(app, &o, RecordType::Contact, c.id, &PageRequest::new(Some(1), tl.next)).await.unwrap();
        let kinds: Vec<&str> = tl.items.iter().chain(second.items.iter()).map(|i| i.kind.as_str()).collect();
        assert_eq!(kinds, ["task", "activity"], "{l}: newest first, paged");
        assert_eq!(second.items[0].activity.as_ref().unwrap().subject, "Renewal strategy", "{l}");
        assert_eq!(call.duration_s, Some(1800), "{l}");
    }
}

#[tokio::test]
async fn keyset_pages_visit_every_contact_once_and_filters_apply() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("pages@crm.test").await;
        let o = owner_ctx(app, &owner).await;
        let mut made = Vec::new();
        for i in 0..7 {
            let tags = if i % 2 == 0 { Some(vec!["VIP".to_string()]) } else { None };
            let c = contacts::create(
                app,
                &o,
                &ContactInput { tags, ..person(&format!("P{i}"), "Page", &format!("p{i}@x.test")) },
            )
            .await
            .unwrap();
            made.push(c.id);
        }
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = contacts::list(
                app,
                &o,
                &ListFilter::default(),
                SortKey::UpdatedDesc,
                &PageRequest::new(Some(3), cursor),
            )
            .await
            .unwrap();
            seen.extend(page.items.iter().map(|c| c.id));
            cursor = page.next;
            if cursor.is_none() {
                break;
            }
        }
        made.reverse();
        assert_eq!(seen, made, "{l}: newest first, each once");
        let vip = kith_app::crm::tags::id_by_name(app, &o, "vip").await.unwrap().expect("tag exists");
        let filter = ListFilter { tag_ids: vec![vip], ..Default::default() };
        let page = contacts::list(app, &o, &filter, SortKey::CreatedAsc, &PageRequest::default()).await.unwrap();
        assert_eq!(page.items.len(), 4, "{l}: tag filter");
        assert!(page.items.iter().all(|c| c.tags == ["VIP"]), "{l}");
    }
}

#[tokio::test]
async fn duplicates_are_found_and_a_merge_keeps_everything() {
    use kith_app::crm::duplicates;
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("dupes@crm.test").await;
        let o = owner_ctx(app, &owner).await;
        let member = join(app, &o, "dm@crm.test", Role::Member).await;
        let m = ctx(app, member.org_id, member.user_id).await;
        let keep = contacts::create(
            app,
            &o,
            &ContactInput { tags: Some(vec!["client".into()]), ..person("Ida", "Tarbell", "ida@press.test") },
        )
        .await
        .unwrap();
        let other = contacts::create(
            app,
            &o,
            &ContactInput {
                phones: Some(vec![LabeledValue { value: "+1 212 555 0199".into(), label: None }]),
                title: Some(Some("Editor".into())).flatten(),
                tags: Some(vec!["press".into()]),
                ..person("Ida M.", "Tarbell", "IDA@press.test")
            },
        )
        .await
        .unwrap();
        let personal_twin = contacts::create(
            app,
            &m,
            &ContactInput { visibility: Some(Visibility::Personal), ..person("Ida", "Tarbell", "ida@press.test") },
        )
        .await
        .unwrap();
        let dupes = duplicates::of_contact(app, &o, keep.id).await.unwrap();
        assert_eq!(dupes.len(), 1, "{l}: the member's personal twin is not offered to the owner");
        assert_eq!((dupes[0].contact.id, dupes[0].reasons.as_slice()), (other.id, &["email".to_string()][..]), "{l}");
        let same_name = duplicates::of_contact(app, &m, personal_twin.id).await.unwrap();
        assert!(same_name.iter().any(|d| d.contact.id == keep.id), "{l}: found by e-mail and name");

        let note = notes::create(
            app,
            &o,
            &NoteInput {
                record_type: Some(RecordType::Contact),
                record_id: Some(other.id),
                body: Some("Met at the muckrakers' dinner".into()),
                is_private: None,
            },
        )
        .await
        .unwrap();
        let task = tasks::create(
            app,
            &o,
            &TaskInput {
                title: Some("Send the article".into()),
                record_type: Some(RecordType::Contact),
                record_id: Some(other.id),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let deal = deals::create(
            app,
            &o,
            &DealInput { title: Some("Serial rights".into()), contact_ids: Some(vec![other.id]), ..Default::default() },
        )
        .await
        .unwrap();

        let r = duplicates::merge(app, &m, keep.id, other.id, None, &nowhere()).await;
        assert!(matches!(r, Err(AppError::Forbidden)), "{l}: a member cannot merge away the owner's contact: {r:?}");
        let merged = duplicates::merge(app, &o, keep.id, other.id, Some(keep.version), &nowhere()).await.unwrap();
        assert_eq!(merged.phones.len(), 1, "{l}: phones united");
        assert_eq!(merged.emails.len(), 1, "{l}: the same address once");
        assert_eq!(merged.title.as_deref(), Some("Editor"), "{l}: empty fields filled");
        let mut tags = merged.tags.clone();
        tags.sort();
        assert_eq!(tags, ["client", "press"], "{l}: tags united");
        assert!(matches!(contacts::get(app, &o, other.id).await, Err(AppError::NotFound)), "{l}: the other is gone");
        let tl = timeline::page(app, &o, RecordType::Contact, keep.id, &PageRequest::default()).await.unwrap();
        assert!(tl.items.iter().any(|i| i.note.as_ref().is_some_and(|n| n.id == note.id)), "{l}: note kept");
        assert!(tl.items.iter().any(|i| i.task.as_ref().is_some_and(|x| x.id == task.id)), "{l}: task kept");
        assert_eq!(tasks::get(app, &o, task.id).await.unwrap().record_id, Some(keep.id), "{l}");
        assert_eq!(deals::get(app, &o, deal.id).await.unwrap().contact_ids, [keep.id], "{l}: deal link kept");
        assert_eq!(found(app, &o, "muckrakers").await, vec![note.id], "{l}: the note is still found");
        assert!(found(app, &o, "2125550199").await.contains(&keep.id), "{l}: by the phone that came along");
        let (audit, _) = kith_app::audit::list(app, &o, None, 50).await.unwrap();
        assert!(audit.iter().any(|e| e.action == "contact.merged"), "{l}: recorded in the audit trail");
        let r = duplicates::merge(app, &o, keep.id, keep.id, None, &nowhere()).await;
        assert_eq!(invalid_fields(l, "self merge", r), ["other_id"], "{l}");
    }
}

#[tokio::test]
async fn saved_views_and_bulk_actions() {
    use kith_app::crm::bulk::{self, BulkInput, BulkKind};
    use kith_app::crm::views::{self, ViewInput};
    use kith_app::worker::{Registry, Worker};
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("bulk@crm.test").await;
        let o = owner_ctx(app, &owner).await;
        let member = join(app, &o, "bm@crm.test", Role::Member).await;
        let m = ctx(app, member.org_id, member.user_id).await;
        let viewer = join(app, &o, "bv@crm.test", Role::Viewer).await;
        let v = ctx(app, viewer.org_id, viewer.user_id).await;

        // Views: private by default, shared on request, validated.
        let mine = ViewInput {
            record_type: Some(RecordType::Contact),
            name: Some("VIPs".into()),
            query: Some("tag=vip&sort=-updated_at".into()),
            columns: Some(vec!["name".into(), "email".into(), "cf.tier".into()]),
            shared: None,
        };
        let view = views::create(app, &m, &mine).await.unwrap();
        assert!(views::list(app, &o, RecordType::Contact).await.unwrap().is_empty(), "{l}: private to its owner");
        let bad = ViewInput { query: Some("cursor=abc".into()), ..mine.clone() };
        assert_eq!(invalid_fields(l, "cursor in a view", views::create(app, &m, &bad).await), ["query"], "{l}");
        let bad = ViewInput { columns: Some(vec!["password".into()]), ..mine.clone() };
        assert_eq!(invalid_fields(l, "unknown column", views::create(app, &m, &bad).await), ["columns"], "{l}");
        let shared = ViewInput { shared: Some(true), ..ViewInput::default() };
        views::update(app, &m, view.id, &shared, Some(1)).await.unwrap();
        assert_eq!(views::list(app, &o, RecordType::Contact).await.unwrap().len(), 1, "{l}: shared");
        let r =
            views::update(app, &v, view.id, &ViewInput { name: Some("Mine now".into()), ..Default::default() }, None)
                .await;
        assert!(matches!(r, Err(AppError::Forbidden)), "{l}: not the viewer's view");
        let r = views::create(app, &v, &ViewInput { shared: Some(true), ..mine.clone() }).await;
        assert!(matches!(r, Err(AppError::Forbidden)), "{l}: viewers keep views to themselves");

        // Bulk: tag and assign many; records the actor cannot touch fail, the rest go on.
        let mut ids = Vec::new();
        for i in 0..5 {
            ids.push(
                contacts::create(app, &o, &person(&format!("B{i}"), "Bulk", &format!("b{i}@x.test"))).await.unwrap().id,
            );
        }
        let hidden = contacts::create(
            app,
            &o,
            &ContactInput { visibility: Some(Visibility::Personal), ..person("Hidden", "Bulk", "h@x.test") },
        )
        .await
        .unwrap();
        let mut all = ids.clone();
        all.push(hidden.id);
        let job = bulk::start(
            app,
            &m,
            &BulkInput {
                record_type: RecordType::Contact,
                action: BulkKind::Tag,
                ids: all,
                tag: Some("Hot".into()),
                owner_id: None,
            },
        )
        .await
        .unwrap();
        assert_eq!((job.status.as_str(), job.total), ("queued", 6), "{l}");
        let mut registry = Registry::default();
        bulk::register(&mut registry);
        let w = Worker::new(app.clone(), registry);
        while w.run_once().await.unwrap() > 0 {}
        let done = bulk::get(app, &m, job.id).await.unwrap();
        assert_eq!((done.status.as_str(), done.done, done.failed), ("done", 5, 1), "{l}: the personal contact fails");
        let hot = kith_app::crm::tags::id_by_name(app, &o, "hot").await.unwrap().unwrap();
        let tagged = contacts::list(
            app,
            &o,
            &ListFilter { tag_ids: vec![hot], ..Default::default() },
            SortKey::default(),
            &PageRequest::default(),
        )
        .await
        .unwrap();
        assert_eq!(tagged.items.len(), 5, "{l}");
        let assign = BulkInput {
            record_type: RecordType::Contact,
            action: BulkKind::Assign,
            ids: ids.clone(),
            tag: None,
            owner_id: Some(member.user_id),
        };
        let job = bulk::start(app, &o, &assign).await.unwrap();
        while w.run_once().await.unwrap() > 0 {}
        assert_eq!(bulk::get(app, &o, job.id).await.unwrap().done, 5, "{l}");
        let mine = ListFilter { owner_id: Some(member.user_id), ..Default::default() };
        assert_eq!(
            contacts::list(app, &m, &mine, SortKey::default(), &PageRequest::default()).await.unwrap().items.len(),
            5,
            "{l}"
        );
        let r = bulk::start(app, &v, &BulkInput { action: BulkKind::Delete, ..assign.clone() }).await;
        assert!(matches!(r, Err(AppError::Forbidden)), "{l}: viewers cannot");
        let r = bulk::start(app, &o, &BulkInput { ids: vec![], ..assign.clone() }).await;
        assert_eq!(invalid_fields(l, "no ids", r), ["ids"], "{l}");
        let del = bulk::start(app, &o, &BulkInput { action: BulkKind::Delete, ..assign }).await.unwrap();
        while w.run_once().await.unwrap() > 0 {}
        assert_eq!(bulk::get(app, &o, del.id).await.unwrap().done, 5, "{l}");
        assert_eq!(
            visible_ids(app, &o).await,
            vec![hidden.id],
            "{l}: the five are gone; the owner's personal one stays"
        );
    }
}
