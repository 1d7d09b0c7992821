//! Query plans that the planner's statistics could spoil, checked with the
//! engine's own `EXPLAIN QUERY PLAN` after [`kith_store::Db::optimize`].

use kith_domain::visibility::Viewer;
use kith_store::contacts;
use kith_store::sql::Sql;
use kith_store::Backend;
use kith_testkit::TestDb;
use uuid::Uuid;

/// Sampled statistics put a workspace at about a thousand rows however
/// large it is; with 5,000 contacts in one workspace SQLite then walked the
/// workspace's index for a list of 500 ids instead of looking each one up.
#[tokio::test]
async fn contacts_by_a_list_of_ids_are_looked_up_by_primary_key() {
    let t = TestDb::sqlite().await;
    let db = &t.db;
    let (org, me) = (Uuid::now_v7(), Uuid::now_v7());
    let ids: Vec<Uuid> = (0..5_000).map(|_| Uuid::now_v7()).collect();
    let mut tx = db.begin().await.unwrap();
    let mut ws = Sql::new("INSERT INTO workspaces (id, name, created_ms, updated_ms) VALUES (");
    ws.bind(org).push(", 'w', 0, 0)");
    ws.execute(&mut tx).await.unwrap();
    for chunk in ids.chunks(500) {
        let mut ins = Sql::new(
            "INSERT INTO contacts (id, org_id, visibility, owner_id, created_by, created_ms, updated_ms) VALUES ",
        );
        for (i, id) in chunk.iter().enumerate() {
            ins.push(if i == 0 { "(" } else { ", (" });
            ins.bind(*id).push(", ").bind(org).push(", 'everyone', ").bind(me).push(", ").bind(me);
            ins.push(", ").bind(i as i64).push(", ").bind(i as i64).push(")");
        }
        ins.execute(&mut tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    db.optimize().await.unwrap();

    let wanted: Vec<Uuid> = ids.iter().step_by(10).copied().collect();
    for sees_all_shared in [true, false] {
        let viewer = Viewer { org_id: org, user_id: me, sees_all_shared };
        let sql = contacts::get_many_visible_sql(Backend::Sqlite, &viewer, &wanted);
        let plan: Vec<(i64, i64, i64, String)> = sql.behind("EXPLAIN QUERY PLAN ").fetch_all(db).await.unwrap();
        let contacts_step = plan.iter().map(|r| r.3.as_str()).find(|d| d.contains(" r ")).unwrap_or_default();
        assert!(
            contacts_step.contains("sqlite_autoindex_contacts_1 (id=?)"),
            "looked up by primary key, not by the workspace's index: {plan:?}"
        );
        let found = contacts::get_many_visible(db, &viewer, &wanted).await.unwrap();
        assert_eq!(found.len(), wanted.len());
    }
}

/// A list filtered by owner walks the owner index and checks each candidate
/// against the viewer's visibility before the tag and custom-field probes;
/// the index holds the visibility columns so that the check does not read
/// the table row (at a million contacts a 4 % selective filter read ~1,300
/// rows for 51 results). SQLite only (see migration 0021).
#[tokio::test]
async fn the_owner_index_holds_every_visibility_column() {
    let t = TestDb::sqlite().await;
    let rows: Vec<(String,)> =
        Sql::new("SELECT name FROM pragma_index_info('contacts_owner') ORDER BY seqno").fetch_all(&t.db).await.unwrap();
    let columns: Vec<String> = rows.into_iter().map(|(c,)| c).collect();
    assert_eq!(columns, ["org_id", "owner_id", "updated_ms", "id", "visibility", "created_by", "team_id"]);
    // The columns the visibility filter reads, for every kind of viewer.
    let org = Uuid::now_v7();
    for sees_all_shared in [true, false] {
        let mut sql = Sql::new("SELECT 1 FROM contacts r WHERE ");
        kith_store::visibility::push_filter(&mut sql, "r", &Viewer { org_id: org, user_id: org, sees_all_shared });
        let text = sql.text().to_string();
        for used in
            ["visibility", "created_by", "owner_id", "team_id"].iter().filter(|c| text.contains(&format!("r.{c}")))
        {
            assert!(columns.iter().any(|c| c == used), "r.{used} is read by the filter but not in the index");
        }
        for other in ["first_name", "last_name", "emails", "phones", "company_id", "title"] {
            assert!(!text.contains(&format!("r.{other}")), "the filter reads r.{other}, which the index lacks");
        }
    }
}

/// Import dedupe of rows that only have a name looks the names up in the
/// partial `contacts_name_only` index (contacts without e-mails or phones),
/// not by walking the workspace's contacts.
#[tokio::test]
async fn name_only_contacts_are_found_through_their_partial_index() {
    let t = TestDb::sqlite().await;
    let db = &t.db;
    let (org, me) = (Uuid::now_v7(), Uuid::now_v7());
    let mut tx = db.begin().await.unwrap();
    let mut ws = Sql::new("INSERT INTO workspaces (id, name, created_ms, updated_ms) VALUES (");
    ws.bind(org).push(", 'w', 0, 0)");
    ws.execute(&mut tx).await.unwrap();
    for chunk in 0..8 {
        let mut ins = Sql::new(
            "INSERT INTO contacts (id, org_id, first_name, last_name, emails, visibility, owner_id, created_by, \
             created_ms, updated_ms) VALUES ",
        );
        for i in 0..500 {
            let n = chunk * 500 + i;
            // Half the contacts have an e-mail: those stay out of the index.
            let emails = if n % 2 == 0 { "[]" } else { "[{\"value\":\"x@y.test\"}]" };
            ins.push(if i == 0 { "(" } else { ", (" });
            ins.bind(Uuid::now_v7()).push(", ").bind(org).push(", ").bind(format!("First{n}"));
            ins.push(", ").bind(format!("Last{}", n % 100)).push(", ").bind(emails);
            ins.push(", 'everyone', ").bind(me).push(", ").bind(me);
            ins.push(", ").bind(n as i64).push(", ").bind(n as i64).push(")");
        }
        ins.execute(&mut tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    db.optimize().await.unwrap();

    let viewer = Viewer { org_id: org, user_id: me, sees_all_shared: true };
    let pairs: Vec<(String, String)> =
        [(0, 0), (2, 102), (3, 103)].iter().map(|(l, f)| (format!("Last{l}"), format!("First{f}"))).collect();
    let plan: Vec<(i64, i64, i64, String)> =
        contacts::name_only_sql(&viewer, &pairs).behind("EXPLAIN QUERY PLAN ").fetch_all(db).await.unwrap();
    assert!(plan.iter().any(|r| r.3.contains("USING INDEX contacts_name_only")), "{plan:?}");
    let found = contacts::find_name_only(db, &viewer, &pairs).await.unwrap();
    let names: Vec<&str> = found.iter().map(|c| c.first_name.as_str()).collect();
    // First103 has an e-mail (odd): not a name-only contact.
    assert_eq!(names, ["First0", "First102"]);
}
