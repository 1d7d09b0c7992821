//! Removing an upload before it is sent (`attachments::delete_unsent`, the
//! composer's Remove and `DELETE /api/v1/attachments/{id}`), both backends:
//! row and object go; a sent file is `attachment_sent` and nothing is
//! deleted; another workspace's id and another conversation's are not
//! found; the uploader or an admin may, another member or a viewer may
//! not; a reply naming a removed upload is refused. When the object store
//! fails to remove the file, the `objects.delete` job queued in the row's
//! transaction removes it later. A removal racing a reply for the same
//! upload: one wins, and row and object stay or go together.

use crate::support::*;
use kith_app::inbox::attachments::{self, Attachment};
use kith_app::inbox::conversations::{self, ConversationQuery};
use kith_app::inbox::outbound::{self, OutboundMessage};
use kith_app::objects::{ObjectStore, ObjectStoreConfig};
use kith_app::{App, AppError, ErrorCode};
use kith_domain::{Context, PageRequest, Role};
use kith_testkit::{TempDir, TestApp, TestDb};
use uuid::Uuid;

fn settings(twilio: String, objects: Option<ObjectStore>) -> kith_app::AppSettings {
    kith_app::AppSettings {
        provider_bases: kith_app::ProviderBases { twilio, ..Default::default() },
        object_store: objects,
        ..kith_testkit::app::test_settings()
    }
}

/// The conversation an inbound SMS from `from` opens (the newest).
async fn conversation(app: &App, o: &Context, channel: Uuid, sid: &str, from: &str) -> Uuid {
    crate::inbox::deliver(app, channel, &crate::inbox::sms(sid, from, "hello")).await.unwrap();
    crate::inbox::drain(app).await;
    let q = ConversationQuery { channel_id: Some(channel), ..Default::default() };
    conversations::list(app, o, &q, &PageRequest::default()).await.unwrap().items[0].id
}

async fn upload(app: &App, ctx: &Context, conv: Uuid, name: &str) -> Attachment {
    let body = kith_app::objects::once(name.as_bytes().to_vec().into());
    attachments::upload(app, ctx, conv, name, Some("text/plain"), body).await.unwrap()
}

fn is_sent(r: &Result<(), AppError>) -> bool {
    matches!(r, Err(AppError::Conflict(ErrorCode::AttachmentSent, _)))
}

#[tokio::test]
async fn an_unsent_upload_is_removed_row_and_object_and_only_by_who_may() {
    for db in TestDb::all().await {
        let (base, _) = crate::inbox::twilio_stand_in().await;
        let t = TestApp::new(db, settings(base, None));
        let (app, l) = (&t.app, t.label);
        let owner = t.user("remove-owner@inbox.test").await;
        let o = owner_ctx(app, &owner).await;
        let ch = crate::inbox::twilio_channel(app, &o).await;
        let conv = conversation(app, &o, ch, "SMrm1", "+15557771001").await;
        let member = join(app, &o, "remove-member@inbox.test", Role::Member).await;
        let m = ctx(app, o.org_id, member.user_id).await;
        let other_member = join(app, &o, "remove-other@inbox.test", Role::Member).await;
        let m2 = ctx(app, o.org_id, other_member.user_id).await;
        let viewer = join(app, &o, "remove-viewer@inbox.test", Role::Viewer).await;
        let v = ctx(app, o.org_id, viewer.user_id).await;
        let admin = join(app, &o, "remove-admin@inbox.test", Role::Admin).await;
        let a = ctx(app, o.org_id, admin.user_id).await;
        let key = |id| attachments::object_key(o.org_id, id);
        // The row as the store holds it (not raw SQL: SQLite keeps ids as blobs).
        let row =
            |id: Uuid| async move { kith_store::attachments::get(app.db(), o.org_id, id).await.unwrap().is_some() };
        let backstops = "SELECT COUNT(*) FROM jobs WHERE kind = 'objects.delete'";

        // The uploader removes their own: row and object gone, a backstop job queued.
        let mine = upload(app, &m, conv, "mine.txt").await;
        assert!(app.objects().get_bytes(&key(mine.id)).await.unwrap().is_some(), "{l}");
        attachments::delete_unsent(app, &m, mine.id, Some(conv)).await.unwrap();
        assert!(!row(mine.id).await, "{l}: the row is gone");
        assert_eq!(app.objects().get_bytes(&key(mine.id)).await.unwrap(), None, "{l}: the object is gone");
        assert_eq!(kith_testkit::raw_i64(&t.db.raw_url, backstops).await, 1, "{l}: one backstop job");
        let again = attachments::delete_unsent(app, &m, mine.id, Some(conv)).await;
        assert!(matches!(again, Err(AppError::NotFound)), "{l}: twice is not found: {again:?}");
        // A reply naming it is refused.
        let reply = OutboundMessage { attachment_ids: vec![mine.id], ..OutboundMessage::text("here") };
        let fields = invalid_fields(l, "reply with a removed file", outbound::send(app, &m, conv, &reply).await);
        assert_eq!(fields, vec!["attachment_ids.0".to_string()], "{l}");

        // Another member and a viewer may not remove the member's upload; an admin may.
        let theirs = upload(app, &m, conv, "theirs.txt").await;
        let r = attachments::delete_unsent(app, &m2, theirs.id, None).await;
        assert!(matches!(r, Err(AppError::Forbidden)), "{l}: another member: {r:?}");
        let r = attachments::delete_unsent(app, &v, theirs.id, None).await;
        assert!(matches!(r, Err(AppError::Forbidden)), "{l}: a viewer: {r:?}");
        assert!(app.objects().get_bytes(&key(theirs.id)).await.unwrap().is_some(), "{l}: still there");
        attachments::delete_unsent(app, &a, theirs.id, None).await.unwrap();
        assert!(!row(theirs.id).await, "{l}: the admin removed it");
        assert_eq!(app.objects().get_bytes(&key(theirs.id)).await.unwrap(), None, "{l}");
        // The owner too (an admin and more).
        let by_owner = upload(app, &m, conv, "owner-removes.txt").await;
        attachments::delete_unsent(app, &o, by_owner.id, Some(conv)).await.unwrap();

        // Another conversation's id in the route, or another workspace: not found, nothing deleted.
        let conv2 = conversation(app, &o, ch, "SMrm2", "+15557771002").await;
        assert_ne!(conv, conv2, "{l}");
        let kept = upload(app, &m, conv, "kept.txt").await;
        let r = attachments::delete_unsent(app, &m, kept.id, Some(conv2)).await;
        assert!(matches!(r, Err(AppError::NotFound)), "{l}: another conversation: {r:?}");
        let stranger = t.user("remove-stranger@inbox.test").await;
        let s = owner_ctx(app, &stranger).await;
        let r = attachments::delete_unsent(app, &s, kept.id, None).await;
        assert!(matches!(r, Err(AppError::NotFound)), "{l}: another workspace: {r:?}");
        assert!(row(kept.id).await, "{l}: kept");
        assert!(app.objects().get_bytes(&key(kept.id)).await.unwrap().is_some(), "{l}: kept");

        // A sent file: attachment_sent, for its uploader and an admin alike; nothing deleted.
        let sent = upload(app, &m, conv, "sent.txt").await;
        let reply = OutboundMessage { attachment_ids: vec![sent.id], ..OutboundMessage::text("with a file") };
        outbound::send(app, &m, conv, &reply).await.unwrap();
        for who in [&m, &a] {
            let r = attachments::delete_unsent(app, who, sent.id, Some(conv)).await;
            assert!(is_sent(&r), "{l}: {r:?}");
        }
        // The store's delete re-checks too (a reply that linked it between the read and the delete).
        let mut tx = app.db().begin().await.unwrap();
        let gone = kith_store::attachments::delete_unsent_one(&mut tx, o.org_id, conv, sent.id).await.unwrap();
        tx.commit().await.unwrap();
        assert!(!gone, "{l}");
        assert!(row(sent.id).await, "{l}: the sent row stays");
        assert_eq!(
            app.objects().get_bytes(&key(sent.id)).await.unwrap().as_deref(),
            Some(&b"sent.txt"[..]),
            "{l}: its object stays"
        );
        assert_eq!(kith_testkit::raw_i64(&t.db.raw_url, backstops).await, 3, "{l}: one job per removal");
    }
}

/// The object store refuses to remove the file (here: a folder stands
/// where the file was): the row is still deleted and the removal succeeds
/// for the caller; the `objects.delete` job queued with the row's delete
/// removes the file when it runs.
#[tokio::test]
async fn a_failed_object_removal_is_finished_by_the_queued_job() {
    for db in TestDb::all().await {
        let (base, _) = crate::inbox::twilio_stand_in().await;
        let dir = TempDir::new();
        let store = ObjectStore::new(&ObjectStoreConfig::Local(dir.path().to_path_buf())).unwrap();
        let t = TestApp::new(db, settings(base, Some(store)));
        let (app, l) = (&t.app, t.label);
        let owner = t.user("remove-fails@inbox.test").await;
        let o = owner_ctx(app, &owner).await;
        let ch = crate::inbox::twilio_channel(app, &o).await;
        let conv = conversation(app, &o, ch, "SMrm3", "+15557771003").await;
        let up = upload(app, &o, conv, "stuck.txt").await;
        let key = attachments::object_key(o.org_id, up.id);
        let path = key.split('/').fold(dir.path().to_path_buf(), |p, part| p.join(part));
        assert!(path.is_file(), "{l}: {}", path.display());
        // A folder where the file was: removing the key fails.
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir_all(path.join("blocker")).unwrap();
        assert!(app.objects().delete(&key).await.is_err(), "{l}: the store fails");

        attachments::delete_unsent(app, &o, up.id, Some(conv)).await.unwrap();
        let row = kith_store::attachments::get(app.db(), o.org_id, up.id).await.unwrap();
        assert!(row.is_none(), "{l}: the row is gone");
        assert!(path.exists(), "{l}: the object could not go yet");

        // The store works again (the file is back in place); the job, once due, removes it.
        std::fs::remove_dir_all(&path).unwrap();
        std::fs::write(&path, b"stuck.txt").unwrap();
        let due = "UPDATE jobs SET run_at_ms = 0 WHERE kind = 'objects.delete'";
        assert_eq!(kith_testkit::raw_execute(&t.db.raw_url, due).await, 1, "{l}: one job");
        crate::inbox::drain(app).await;
        assert!(!path.exists(), "{l}: the job removed it");
        assert_eq!(app.objects().get_bytes(&key).await.unwrap(), None, "{l}");
        let left = "SELECT COUNT(*) FROM jobs WHERE kind = 'objects.delete'";
        assert_eq!(kith_testkit::raw_i64(&t.db.raw_url, left).await, 0, "{l}: the job is done");
    }
}

/// A removal and a reply naming the same upload, at the same time, twelve
/// times over: exactly one of them wins each time, and afterwards a file's
/// object is in the store exactly when its row is (a sent file keeps its
/// object; a removed one loses both).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removal_racing_a_reply_leaves_row_and_object_together() {
    for db in TestDb::all().await {
        let (base, _) = crate::inbox::twilio_stand_in().await;
        let t = TestApp::new(db, settings(base, None));
        let (app, l) = (&t.app, t.label);
        let owner = t.user("remove-race@inbox.test").await;
        let o = owner_ctx(app, &owner).await;
        let ch = crate::inbox::twilio_channel(app, &o).await;
        let conv = conversation(app, &o, ch, "SMrm4", "+15557771004").await;
        let mut ups = Vec::new();
        for i in 0..12 {
            ups.push(upload(app, &o, conv, &format!("race-{i}.txt")).await);
        }
        let mut races = Vec::new();
        for up in &ups {
            let (app, o, id) = (app.clone(), o.clone(), up.id);
            races.push(tokio::spawn(async move {
                let reply = OutboundMessage { attachment_ids: vec![id], ..OutboundMessage::text("racing") };
                let (removed, sent) = tokio::join!(
                    attachments::delete_unsent(&app, &o, id, Some(conv)),
                    outbound::send(&app, &o, conv, &reply)
                );
                (id, removed, sent.map(drop))
            }));
        }
        for race in races {
            let (id, removed, sent) = race.await.unwrap();
            match (&removed, &sent) {
                (Ok(()), Err(AppError::Validation(f))) if f[0].field == "attachment_ids.0" => {}
                (r, Ok(())) if is_sent(r) => {}
                other => panic!("{l}: {id}: exactly one should win: {other:?}"),
            }
            let row = kith_store::attachments::get(app.db(), o.org_id, id).await.unwrap();
            let object = app.objects().get_bytes(&attachments::object_key(o.org_id, id)).await.unwrap();
            assert_eq!(row.is_some(), sent.is_ok(), "{l}: {id}: the row stays only when sent");
            assert_eq!(object.is_some(), row.is_some(), "{l}: {id}: object and row together");
        }
    }
}
