//! Live events across nodes (DESIGN.md, Events): two apps on one PostgreSQL
//! database stand for two nodes; an event published on either reaches the
//! other's listeners once, and its own listeners once.

use kith_app::{App, Keyring, MasterKeys};
use kith_crypto::SecretKey;
use kith_infra::events::{Event, CONVERSATION_UPDATED, MESSAGE_CREATED};
use kith_store::{Db, DbOptions};
use kith_testkit::app::test_settings;
use kith_testkit::{skip_or_fail, TestApp, TestDb};
use std::time::Duration;
use tokio::sync::broadcast::Receiver;
use uuid::Uuid;

async fn next(rx: &mut Receiver<Event>) -> Event {
    tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.expect("an event within 5 s").unwrap()
}

async fn nothing_more(rx: &mut Receiver<Event>) {
    let more = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await;
    assert!(more.is_err(), "no second copy: {more:?}");
}

#[tokio::test]
async fn events_reach_every_node_sharing_a_postgresql_database() {
    let Some(pg) = TestDb::postgres().await else {
        skip_or_fail("KITH_TEST_POSTGRES_URL is not set: live events across nodes");
        return;
    };
    let a = TestApp::new(pg, test_settings());
    let db_b = Db::connect(&a.db.raw_url, &DbOptions::default()).await.unwrap();
    let b = App::new(db_b, Keyring::new(MasterKeys::single(SecretKey::generate())), test_settings()).unwrap();
    let _relay_a = kith_app::live::start(&a.app).await.unwrap().expect("PostgreSQL relays");
    let _relay_b = kith_app::live::start(&b).await.unwrap().expect("PostgreSQL relays");
    assert!(kith_app::live::start(&a.app).await.unwrap().is_none(), "one relay per app");
    let (mut on_a, mut on_b) = (a.app.events().subscribe(), b.events().subscribe());

    let from_a = Event {
        org_id: Uuid::now_v7(),
        kind: MESSAGE_CREATED,
        conversation_id: Some(Uuid::now_v7()),
        message_id: None,
    };
    a.app.events().publish(from_a.clone());
    assert_eq!(next(&mut on_a).await, from_a);
    assert_eq!(next(&mut on_b).await, from_a);

    let from_b = Event { kind: CONVERSATION_UPDATED, ..from_a.clone() };
    b.events().publish(from_b.clone());
    assert_eq!(next(&mut on_b).await, from_b);
    assert_eq!(next(&mut on_a).await, from_b);

    // A burst arrives whole and in order, each event once on each node.
    let burst: Vec<Event> = (0..300).map(|_| Event { message_id: Some(Uuid::now_v7()), ..from_a.clone() }).collect();
    for e in &burst {
        a.app.events().publish(e.clone());
    }
    for e in &burst {
        assert_eq!(&next(&mut on_a).await, e);
    }
    for e in &burst {
        assert_eq!(&next(&mut on_b).await, e);
    }
    nothing_more(&mut on_a).await;
    nothing_more(&mut on_b).await;
}

#[tokio::test]
async fn sqlite_is_one_node_without_a_relay() {
    let app = TestApp::sqlite().await;
    assert!(kith_app::live::start(&app.app).await.unwrap().is_none());
}
