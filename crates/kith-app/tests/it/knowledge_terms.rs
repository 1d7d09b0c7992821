//! Retrieval's per-word document counts (`kith_store::knowledge::word_counts`)
//! on both backends: after entries are created, edited (re-indexed) and
//! deleted, and after concurrent re-indexing in one workspace, each word's
//! count equals a brute-force count of the workspace's chunks matching it
//! through the engine's own full-text match, and another workspace's chunks
//! never count. On PostgreSQL the counts come from `knowledge_terms`
//! (migration 0018), so the whole table is also compared with the chunks'
//! lexemes, and its backfill is checked; on SQLite, where FTS5 counts and
//! the table stays empty by design, that it stays empty. And the full-text
//! search scores no more matches than it is allowed (the postings budget).

use crate::support::*;
use kith_app::ai::knowledge::{self, KnowledgePatch, NewKnowledge};
use kith_app::ai::retrieval;
use kith_app::worker::{Registry, Worker};
use kith_app::App;
use kith_store::knowledge::{self as rows, Indexed, NewChunk};
use kith_store::sql::Sql;
use kith_store::{Backend, Db};
use kith_testkit::TestApp;
use uuid::Uuid;

/// Words asked about: stems shared by several inflections, a stop word,
/// words only the other workspace holds, and a word nobody holds.
const WORDS: [&str; 14] = [
    "refund",
    "refunds",
    "delivery",
    "delivering",
    "sunday",
    "beans",
    "roast",
    "the",
    "café",
    "grinder",
    "zebra",
    "wholesale",
    "2024",
    "nowhere",
];

async fn drain(app: &App) {
    let w = Worker::new(app.clone(), Registry::standard());
    while w.run_once().await.unwrap() > 0 {}
}

fn faq(q: &str, a: &str) -> NewKnowledge {
    NewKnowledge { kind: "faq".into(), question: Some(q.into()), answer: Some(a.into()), ..Default::default() }
}

fn text(title: &str, body: &str) -> NewKnowledge {
    NewKnowledge { kind: "text".into(), title: Some(title.into()), body: Some(body.into()), ..Default::default() }
}

fn words() -> Vec<String> {
    WORDS.iter().map(|w| w.to_string()).collect()
}

/// Each word's number of the workspace's chunks the engine matches, with no
/// cap and no help from the counts under test.
async fn brute_counts(db: &Db, org_id: Uuid, words: &[String]) -> Vec<i64> {
    let mut out = Vec::new();
    for w in words {
        let mut sql = Sql::new("");
        match db.backend() {
            Backend::Sqlite => {
                sql.push("SELECT COUNT(*) FROM fts_knowledge WHERE fts_knowledge MATCH ")
                    .bind(format!("org : \"{}\" AND \"{w}\"", rows::org_token(org_id)));
            }
            Backend::Postgres => {
                sql.push("SELECT COUNT(*) FROM knowledge_chunks WHERE org_id = ")
                    .bind(org_id)
                    .push(" AND fts_vector @@ to_tsquery('english', ")
                    .bind(w.as_str())
                    .push(")");
            }
        }
        let n: Vec<(i64,)> = sql.fetch_all(db).await.unwrap();
        out.push(n[0].0);
    }
    out
}

/// The workspace's `knowledge_terms` rows, and what they should be: each
/// lexeme of its chunks' vectors with the number of chunks holding it.
async fn terms_and_truth(db: &Db, org_id: Uuid) -> (Vec<(String, i64)>, Vec<(String, i64)>) {
    let mut table = Sql::new("");
    table.push("SELECT lexeme, chunks FROM knowledge_terms WHERE org_id = ").bind(org_id).push(" ORDER BY lexeme");
    let mut truth = Sql::new("");
    truth
        .push(
            "SELECT l.lexeme, COUNT(*) FROM knowledge_chunks c
             CROSS JOIN LATERAL unnest(tsvector_to_array(c.fts_vector)) AS l(lexeme) WHERE c.org_id = ",
        )
        .bind(org_id)
        .push(" GROUP BY l.lexeme ORDER BY l.lexeme");
    (table.fetch_all(db).await.unwrap(), truth.fetch_all(db).await.unwrap())
}

/// `word_counts` equals the brute-force counts (uncapped and capped), and on
/// PostgreSQL the whole table equals the chunks' lexemes. Returns the counts.
async fn assert_exact(t: &TestApp, org_id: Uuid, when: &str) -> Vec<i64> {
    let db = t.app.db();
    let words = words();
    let brute = brute_counts(db, org_id, &words).await;
    let counted = rows::word_counts(db, org_id, &words, 1_000_000).await.unwrap();
    assert_eq!(counted, brute, "{} {when}: counts of {words:?}", t.label);
    let capped = rows::word_counts(db, org_id, &words, 2).await.unwrap();
    assert_eq!(capped, brute.iter().map(|n| (*n).min(2)).collect::<Vec<_>>(), "{} {when}: capped at 2", t.label);
    if db.backend() == Backend::Postgres {
        let (table, truth) = terms_and_truth(db, org_id).await;
        assert_eq!(table, truth, "{} {when}: knowledge_terms against the chunks", t.label);
    }
    brute
}

fn at(words: &[String], counts: &[i64], w: &str) -> i64 {
    counts[words.iter().position(|x| x == w).unwrap()]
}

#[tokio::test]
async fn document_counts_follow_creates_edits_and_deletes() {
    for t in TestApp::all().await {
        let app = &t.app;
        let acct = t.user(&format!("kt-crud-{}@example.com", t.label)).await;
        let ctx = owner_ctx(app, &acct).await;
        let other = t.user(&format!("kt-crud-other-{}@example.com", t.label)).await;
        let other_ctx = owner_ctx(app, &other).await;
        let w = words();

        let refunds = knowledge::create(app, &ctx, &faq("Can I get a refund?", "Refunds within 30 days of delivery."))
            .await
            .unwrap();
        let sunday =
            knowledge::create(app, &ctx, &faq("Do you deliver on Sundays?", "Delivering on Sunday in Bristol."))
                .await
                .unwrap();
        let long: String = (0..40)
            .map(|i| format!("Paragraph {i}: the wholesale beans are roasted on Monday and sent from the café.\n\n"))
            .collect();
        let doc = knowledge::create(app, &ctx, &text("Wholesale terms 2024", &long)).await.unwrap();
        // The other workspace holds the same words, more often, and its own.
        for i in 0..3 {
            let answer = format!("Refund {i} of a zebra grinder delivered on Sunday; beans roast.");
            knowledge::create(app, &other_ctx, &faq("Refund for a zebra grinder?", &answer)).await.unwrap();
        }
        drain(app).await;
        assert!(knowledge::get(app, &ctx, doc.id).await.unwrap().chunk_count >= 3, "{}: several chunks", t.label);

        let c = assert_exact(&t, acct.org_id, "after creating").await;
        assert_eq!(at(&w, &c, "refund"), 1, "{}: refund and refunds are one stem", t.label);
        assert_eq!(at(&w, &c, "refunds"), 1, "{}", t.label);
        assert!(at(&w, &c, "beans") >= 3, "{}: a word in every chunk of the long text", t.label);
        assert_eq!(at(&w, &c, "zebra"), 0, "{}: only the other workspace says zebra", t.label);
        assert_eq!(at(&w, &c, "nowhere"), 0, "{}", t.label);
        let theirs = assert_exact(&t, other.org_id, "the other workspace").await;
        assert_eq!((at(&w, &theirs, "zebra"), at(&w, &theirs, "refund")), (3, 3), "{}", t.label);

        // An edit re-indexes: the old chunk's words leave, the new ones come.
        let patch = KnowledgePatch { answer: Some("Yes: a grinder rental every Sunday.".into()), ..Default::default() };
        knowledge::update(app, &ctx, sunday.id, &patch, None).await.unwrap();
        let shorter: String = (0..2).map(|i| format!("Paragraph {i}: wholesale only.\n\n")).collect();
        let patch = KnowledgePatch { body: Some(shorter), ..Default::default() };
        knowledge::update(app, &ctx, doc.id, &patch, None).await.unwrap();
        drain(app).await;
        let c = assert_exact(&t, acct.org_id, "after editing").await;
        assert_eq!(at(&w, &c, "grinder"), 1, "{}", t.label);
        assert_eq!(at(&w, &c, "beans"), 0, "{}: the long text's words are gone", t.label);

        // Deleting subtracts; deleting everything leaves no rows behind.
        knowledge::delete(app, &ctx, refunds.id).await.unwrap();
        let c = assert_exact(&t, acct.org_id, "after deleting one").await;
        assert_eq!(at(&w, &c, "refund"), 0, "{}", t.label);
        knowledge::delete(app, &ctx, sunday.id).await.unwrap();
        knowledge::delete(app, &ctx, doc.id).await.unwrap();
        let c = assert_exact(&t, acct.org_id, "after deleting all").await;
        assert!(c.iter().all(|n| *n == 0), "{}: {c:?}", t.label);
        if t.app.db().backend() == Backend::Postgres {
            assert!(terms_and_truth(t.app.db(), acct.org_id).await.0.is_empty(), "rows that reach 0 are deleted");
        }
        assert_eq!(assert_exact(&t, other.org_id, "the other workspace at the end").await, theirs, "{}", t.label);
        // Retrieval still answers from what is left (the other workspace's).
        let found = retrieval::retrieve(app, other.org_id, "refund for my zebra grinder", 3).await.unwrap();
        assert_eq!(found.len(), 3, "{}", t.label);
        assert!(retrieval::retrieve(app, acct.org_id, "refund", 3).await.unwrap().is_empty(), "{}", t.label);
    }
}

/// A small deterministic generator (xorshift), so each run writes the same chunks.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Chunks drawn from a small vocabulary, so that concurrent writers share
/// most of their lexemes.
fn random_chunks(state: &mut u64) -> Vec<NewChunk> {
    const VOCAB: [&str; 12] = [
        "refund",
        "delivery",
        "sunday",
        "beans",
        "roast",
        "grinder",
        "wholesale",
        "café",
        "espresso",
        "kettle",
        "filter",
        "subscription",
    ];
    (0..1 + next(state) % 4)
        .map(|seq| {
            let text: Vec<&str> = (0..3 + next(state) % 8).map(|_| VOCAB[(next(state) % 12) as usize]).collect();
            NewChunk {
                id: kith_domain::new_id(),
                seq: seq as i64,
                title: VOCAB[(next(state) % 12) as usize].to_string(),
                text: text.join(" "),
                url: None,
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reindexing_in_one_workspace_keeps_exact_counts() {
    for t in TestApp::all().await {
        let app = &t.app;
        let acct = t.user(&format!("kt-race-{}@example.com", t.label)).await;
        let ctx = owner_ctx(app, &acct).await;
        let mut entries = Vec::new();
        for i in 0..6 {
            let e = knowledge::create(app, &ctx, &faq(&format!("Question {i} about beans?"), "Roast on Sunday."))
                .await
                .unwrap();
            entries.push(e.id);
        }
        drain(app).await;
        // Each task re-indexes its own entry several times, each time in its
        // own transaction, all at once; two of them then delete theirs.
        let mut tasks = Vec::new();
        for (n, id) in entries.iter().copied().enumerate() {
            let (app, org_id) = (app.clone(), acct.org_id);
            let version = knowledge::get(&app, &ctx, id).await.unwrap().version;
            let ctx = ctx.clone();
            tasks.push(tokio::spawn(async move {
                let mut state = 0x9e37_79b9_7f4a_7c15 ^ (n as u64 + 1);
                for _ in 0..8 {
                    let chunks = random_chunks(&mut state);
                    let ix = Indexed { version, chunks: &chunks, report: None, done: chunks.len() as i64 };
                    let mut tx = app.db().begin().await.unwrap();
                    assert!(rows::replace_chunks(&mut tx, org_id, id, &ix, 1).await.unwrap());
                    tx.commit().await.unwrap();
                }
                if n % 3 == 0 {
                    knowledge::delete(&app, &ctx, id).await.unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let c = assert_exact(&t, acct.org_id, "after concurrent re-indexing").await;
        assert!(c.iter().any(|n| *n > 0), "{}: something is left to count", t.label);
    }
}

/// PostgreSQL: migration 0018 fills the table from the chunks already
/// stored (the table is dropped and the migration applied again here),
/// leaving out chunks of a workspace that no longer exists. SQLite: the
/// table stays empty (FTS5 counts there; see the migration).
#[tokio::test]
async fn the_migration_backfills_existing_chunks() {
    for t in TestApp::all().await {
        let app = &t.app;
        let acct = t.user(&format!("kt-backfill-{}@example.com", t.label)).await;
        let ctx = owner_ctx(app, &acct).await;
        knowledge::create(app, &ctx, &faq("Can I get a refund?", "Refunds within 30 days of delivery.")).await.unwrap();
        let long: String = (0..30).map(|i| format!("Paragraph {i}: wholesale beans, roasted weekly.\n\n")).collect();
        knowledge::create(app, &ctx, &text("Wholesale", &long)).await.unwrap();
        drain(app).await;
        let url = &t.db.raw_url;
        if app.db().backend() == Backend::Sqlite {
            assert_eq!(kith_testkit::raw_i64(url, "SELECT COUNT(*) FROM knowledge_terms").await, 0);
            assert_exact(&t, acct.org_id, "sqlite").await;
            continue;
        }
        // An entry and chunk of a workspace that is gone (knowledge rows have
        // no foreign key to workspaces), written around the store.
        kith_testkit::raw_execute(
            url,
            "INSERT INTO knowledge_entries (id, org_id, kind, title, body, status, created_by, version, created_ms,
               updated_ms)
             VALUES ('00000000-0000-7000-8000-0000000000e1', '00000000-0000-7000-8000-00000000dead', 'text', 'Gone',
               'x', 'ready', '00000000-0000-7000-8000-0000000000a1', 1, 0, 0)",
        )
        .await;
        kith_testkit::raw_execute(
            url,
            "INSERT INTO knowledge_chunks (id, org_id, entry_id, seq, title, text, created_ms)
             VALUES ('00000000-0000-7000-8000-0000000000c1', '00000000-0000-7000-8000-00000000dead',
               '00000000-0000-7000-8000-0000000000e1', 0, 'Gone', 'refund beans', 0)",
        )
        .await;
        let before = terms_and_truth(app.db(), acct.org_id).await.0;
        assert!(!before.is_empty());
        kith_testkit::raw_execute(url, "DROP TABLE knowledge_terms").await;
        kith_testkit::raw_execute(url, "DELETE FROM _sqlx_migrations WHERE version = 18").await;
        app.db().migrate().await.unwrap();
        assert_eq!(terms_and_truth(app.db(), acct.org_id).await.0, before, "the backfill counts what was maintained");
        assert_exact(&t, acct.org_id, "after the backfill").await;
        let orphan = kith_testkit::raw_i64(
            url,
            "SELECT COUNT(*) FROM knowledge_terms WHERE org_id = '00000000-0000-7000-8000-00000000dead'",
        )
        .await;
        assert_eq!(orphan, 0, "a deleted workspace's chunks are not counted");
    }
}

#[tokio::test]
async fn the_search_scores_at_most_the_budget() {
    for t in TestApp::all().await {
        let app = &t.app;
        let acct = t.user(&format!("kt-budget-{}@example.com", t.label)).await;
        let ctx = owner_ctx(app, &acct).await;
        for i in 0..6 {
            let answer = format!("Answer {i}: beans are roasted weekly.");
            knowledge::create(app, &ctx, &faq(&format!("Beans question {i}?"), &answer)).await.unwrap();
        }
        drain(app).await;
        let beans = vec!["beans".to_string()];
        let all = rows::search(app.db(), acct.org_id, &beans, 40, 1_000).await.unwrap();
        assert_eq!(all.len(), 6, "{}", t.label);
        let some = rows::search(app.db(), acct.org_id, &beans, 40, 2).await.unwrap();
        assert_eq!(some.len(), 2, "{}: two matches scored, so two candidates", t.label);
        assert!(some.iter().all(|h| all.iter().any(|a| a.id == h.id)), "{}", t.label);
    }
}
