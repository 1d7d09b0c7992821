use kith_store::jobs::{self, NewJob, ScheduleRow};
use kith_testkit::TestDb;
use uuid::Uuid;

fn job(kind: &str, run_at: i64) -> NewJob {
    NewJob {
        id: Uuid::now_v7(),
        kind: kind.into(),
        org_id: None,
        payload: b"{}".to_vec(),
        run_at_ms: run_at,
        max_attempts: 3,
    }
}

#[tokio::test]
async fn claim_lease_complete_and_retry() {
    for t in TestDb::all().await {
        let db = &t.db;
        let mut tx = db.begin().await.unwrap();
        let ready = job("ready", 1_000);
        let later = job("later", 5_000);
        jobs::enqueue(&mut tx, &ready, 0).await.unwrap();
        jobs::enqueue(&mut tx, &later, 0).await.unwrap();
        tx.commit().await.unwrap();

        let claimed = jobs::claim(db, "w1", 2_000, 10_000, 10).await.unwrap();
        assert_eq!(claimed.len(), 1, "{}: only the due job", t.label);
        assert_eq!(claimed[0].id, ready.id);
        assert_eq!(claimed[0].attempts, 1);
        // Held by w1's lease: nobody else gets it.
        assert!(jobs::claim(db, "w2", 3_000, 10_000, 10).await.unwrap().is_empty());
        // The lease ran out: w2 takes it over, and w1 can no longer finish it.
        let again = jobs::claim(db, "w2", 12_001, 10_000, 10).await.unwrap();
        assert!(again.iter().any(|j| j.id == ready.id && j.attempts == 2), "{}", t.label);
        assert!(!jobs::complete(db, ready.id, "w1").await.unwrap());
        // w2 fails it: back in the queue at the retry time.
        assert!(jobs::fail(db, ready.id, "w2", "boom", 20_000, false, 12_001).await.unwrap());
        let row = jobs::get(db, ready.id).await.unwrap().unwrap();
        assert_eq!((row.status.as_str(), row.run_at_ms, row.last_error.as_deref()), ("queued", 20_000, Some("boom")));
        // Dead after the last attempt; replay revives it.
        let c = jobs::claim(db, "w3", 20_000, 10_000, 10).await.unwrap();
        assert!(c.iter().any(|j| j.id == ready.id));
        assert!(jobs::fail(db, ready.id, "w3", "still boom", 20_000, true, 20_000).await.unwrap());
        assert_eq!(jobs::list_dead(db, 10).await.unwrap().len(), 1);
        assert!(jobs::replay(db, ready.id, 21_000).await.unwrap());
        let c = jobs::claim(db, "w4", 21_000, 10_000, 10).await.unwrap();
        let revived = c.iter().find(|j| j.id == ready.id).expect("replayed job is claimable");
        assert_eq!(revived.attempts, 1);
        assert!(jobs::complete(db, ready.id, "w4").await.unwrap());
        assert!(jobs::get(db, ready.id).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn concurrent_claimers_never_share_a_job() {
    for t in TestDb::all().await {
        let mut tx = t.db.begin().await.unwrap();
        for _ in 0..60 {
            jobs::enqueue(&mut tx, &job("bulk", 0), 0).await.unwrap();
        }
        tx.commit().await.unwrap();
        let mut handles = Vec::new();
        for w in 0..4 {
            let db = t.db.clone();
            handles.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let got = jobs::claim(&db, &format!("w{w}"), 1, 60_000, 5).await.unwrap();
                    if got.is_empty() {
                        break;
                    }
                    mine.extend(got.into_iter().map(|j| j.id));
                }
                mine
            }));
        }
        let mut all = Vec::new();
        for h in handles {
            all.extend(h.await.unwrap());
        }
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!((n, all.len()), (60, 60), "{}: every job claimed exactly once", t.label);
    }
}

#[tokio::test]
async fn schedules_advance_once() {
    for t in TestDb::all().await {
        let db = &t.db;
        let mut tx = db.begin().await.unwrap();
        let s = ScheduleRow {
            name: "cleanup".into(),
            kind: "cleanup".into(),
            cron: "0 * * * *".into(),
            payload: vec![],
            next_run_ms: 1_000,
        };
        jobs::upsert_schedule(&mut tx, &s).await.unwrap();
        // Re-registering with the same cron keeps the pending time.
        jobs::upsert_schedule(&mut tx, &ScheduleRow { next_run_ms: 9_999, ..s.clone() }).await.unwrap();
        tx.commit().await.unwrap();
        let due = jobs::due_schedules(db, 1_000).await.unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].next_run_ms, 1_000);
        let mut tx = db.begin().await.unwrap();
        assert!(jobs::advance_schedule(&mut tx, "cleanup", 1_000, 3_600_000).await.unwrap());
        assert!(!jobs::advance_schedule(&mut tx, "cleanup", 1_000, 3_600_000).await.unwrap(), "second node loses");
        tx.commit().await.unwrap();
        assert!(jobs::due_schedules(db, 2_000).await.unwrap().is_empty());
    }
}
