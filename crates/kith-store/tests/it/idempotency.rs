use kith_store::idempotency::{self, IdemScope};
use kith_testkit::TestDb;
use uuid::Uuid;

#[tokio::test]
async fn reserve_finish_replay_and_release() {
    for t in TestDb::all().await {
        let db = &t.db;
        let s = IdemScope {
            org_id: Uuid::now_v7(),
            credential_id: Uuid::now_v7(),
            method: "POST",
            path: "/api/v1/teams",
            key: "k1",
        };
        assert!(idempotency::reserve(db, &s, b"h1", 1).await.unwrap().is_none(), "first use reserves");
        let running = idempotency::reserve(db, &s, b"h1", 2).await.unwrap().unwrap();
        assert_eq!(running.status_code, None, "{}: still running", t.label);
        idempotency::finish(db, &s, 201, b"{\"id\":1}").await.unwrap();
        let done = idempotency::reserve(db, &s, b"h1", 3).await.unwrap().unwrap();
        assert_eq!(
            (done.status_code, done.response.as_deref(), done.request_hash.as_slice()),
            (Some(201), Some(&b"{\"id\":1}"[..]), &b"h1"[..])
        );
        // Another credential's identical key is a different scope.
        let other = IdemScope { credential_id: Uuid::now_v7(), ..s.clone() };
        assert!(idempotency::reserve(db, &other, b"h1", 4).await.unwrap().is_none());
        idempotency::release(db, &other).await.unwrap();
        assert!(idempotency::reserve(db, &other, b"h2", 5).await.unwrap().is_none(), "released keys can be used again");
    }
}
