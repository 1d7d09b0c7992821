use kith_store::{Backend, Db};
use kith_testkit::TestDb;

#[test]
fn migration_files_are_in_lockstep() {
    let sqlite = Db::embedded_migrations(Backend::Sqlite);
    let postgres = Db::embedded_migrations(Backend::Postgres);
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, postgres, "migrations/sqlite and migrations/postgres must have the same numbers and names");
}

#[tokio::test]
async fn both_backends_hold_the_same_tables_and_columns() {
    let sqlite = TestDb::sqlite().await;
    let outline = sqlite.db.schema_outline().await.unwrap();
    assert!(outline.contains(&("users".into(), "email".into())));
    if let Some(pg) = TestDb::postgres().await {
        assert_eq!(outline, pg.db.schema_outline().await.unwrap());
    } else {
        kith_testkit::skip_or_fail("KITH_TEST_POSTGRES_URL is not set: schema comparison");
    }
}

#[tokio::test]
async fn ready_after_migrations_and_idempotent_rerun() {
    for t in TestDb::all().await {
        assert!(t.db.ready().await.unwrap(), "{}", t.label);
        t.db.migrate().await.unwrap();
    }
}

#[tokio::test]
async fn unknown_scheme_and_missing_database_are_errors() {
    let err = Db::connect("mysql://root@127.0.0.1/x", &Default::default()).await.unwrap_err();
    assert!(err.to_string().contains("unsupported database url"), "{err}");
    let dir = kith_testkit::TempDir::new();
    let missing = format!("sqlite://{}/nope.db", dir.path().display());
    assert!(Db::connect(&missing, &Default::default()).await.is_err(), "a missing sqlite file is not created silently");
    if let Ok(base) = std::env::var("KITH_TEST_POSTGRES_URL") {
        let url = format!("{}/kith_missing_{}", base.rsplit_once('/').unwrap().0, uuid::Uuid::now_v7().simple());
        assert!(Db::connect(&url, &Default::default()).await.is_err());
    }
}
