//! The audit chain: gapless sequence, verification, detection of an altered
//! entry, erasable details, and who may read it.
//!
//! Tampering: kith-app's tests cannot run raw SQL (kith-app has no `sqlx`
//! dependency and `kith_store::Db`'s pools are crate-private), so an altered
//! row is written through `kith_store::audit::insert` instead: an entry whose
//! stored fields differ from the ones its hash was computed over — exactly
//! what `UPDATE audit_log SET action = 'x'` leaves behind.

use crate::support::*;
use kith_app::audit::{self, ChainCheck};
use kith_app::{invitations, members, teams, tokens, AppError};
use kith_domain::time::now_ms;
use kith_domain::{new_id, Cursor, Role};
use kith_store::audit::{AuditDetails, AuditRow};
use kith_testkit::TestApp;
use uuid::Uuid;

/// Append an entry whose `action` was changed after its hash was computed.
async fn append_altered_entry(app: &kith_app::App, org_id: Uuid, actor: Uuid) -> i64 {
    let mut tx = app.db().begin().await.unwrap();
    // The head exists (the workspace's first entry made it), so the genesis
    // argument is not used.
    let (seq, prev_hash) = kith_store::audit::advance_head(&mut tx, org_id, &[]).await.unwrap();
    let mut row = AuditRow {
        id: new_id(),
        org_id,
        seq,
        at_ms: now_ms(),
        actor_id: Some(actor),
        action: "team.created".into(),
        target_type: Some("team".into()),
        target_id: Some(new_id()),
        prev_hash,
        hash: Vec::new(),
    };
    row.hash = audit::entry_hash(&row);
    row.action = "x".into();
    let details = AuditDetails { ip: None, user_agent: None, detail: None };
    kith_store::audit::insert(&mut tx, &row, &details).await.unwrap();
    tx.commit().await.unwrap();
    seq
}

#[tokio::test]
async fn actions_append_a_gapless_verified_chain() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("owner@example.com").await;
        let o = owner_ctx(app, &owner).await;
        assert_eq!(
            audit::verify(app.db(), o.org_id).await.unwrap(),
            ChainCheck::Intact { entries: 1 },
            "{l}: the workspace's creation is entry 1"
        );

        let here = from_ip("192.0.2.77");
        let team = teams::create(app, &o, "Sales", &here).await.unwrap();
        teams::rename(app, &o, team.id, "Field sales", None, &here).await.unwrap();
        let invited = invitations::create(app, &o, "x@example.com", Role::Member, &here).await.unwrap();
        let x = join(app, &o, "y@example.com", Role::Member).await;
        members::change_role(app, &o, x.user_id, Role::Viewer, None, &here).await.unwrap();

        let (entries, next) = audit::list(app, &o, None, 50).await.unwrap();
        assert!(next.is_none(), "{l}");
        let seqs: Vec<i64> = entries.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=7).rev().collect::<Vec<_>>(), "{l}: newest first, no gaps");
        let actions: Vec<&str> = entries.iter().rev().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "workspace.created",
                "team.created",
                "team.renamed",
                "member.invited",
                "member.invited",
                "member.joined",
                "member.role_changed"
            ],
            "{l}"
        );
        let invite = &entries[3];
        assert_eq!(invite.target_id, Some(invited.invitation.id), "{l}");
        assert_eq!(invite.detail.as_deref(), Some("x@example.com as member"), "{l}");
        assert_eq!(invite.ip.as_deref(), Some("192.0.2.77"), "{l}: origin beside the chain");
        assert_eq!(invite.actor_email.as_deref(), Some("owner@example.com"), "{l}");
        assert_eq!(entries[1].actor_id, Some(x.user_id), "{l}: the joiner records their joining");

        assert_eq!(audit::verify(app.db(), o.org_id).await.unwrap(), ChainCheck::Intact { entries: 7 }, "{l}");

        // Pages of two walk the whole log once.
        let mut seen = Vec::new();
        let mut before: Option<Cursor> = None;
        loop {
            let (page, next) = audit::list(app, &o, before, 2).await.unwrap();
            assert!(page.len() <= 2, "{l}");
            seen.extend(page.iter().map(|e| e.seq));
            match next {
                Some(c) => before = Some(c),
                None => break,
            }
        }
        assert_eq!(seen, (1..=7).rev().collect::<Vec<_>>(), "{l}: pages");

        // Another workspace has its own chain, starting at 1.
        let other = t.user("other@example.com").await;
        assert_eq!(audit::verify(app.db(), other.org_id).await.unwrap(), ChainCheck::Intact { entries: 1 }, "{l}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_keep_the_chain_gapless() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("owner@example.com").await;
        let o = owner_ctx(app, &owner).await;
        let handles: Vec<_> = (0..12)
            .map(|i| {
                let (app, o) = (app.clone(), o.clone());
                tokio::spawn(async move { teams::create(&app, &o, &format!("Team {i}"), &nowhere()).await })
            })
            .collect();
        for h in handles {
            h.await.unwrap().unwrap_or_else(|e| panic!("{l}: concurrent create: {e:?}"));
        }
        assert_eq!(audit::verify(app.db(), o.org_id).await.unwrap(), ChainCheck::Intact { entries: 13 }, "{l}");
    }
}

#[tokio::test]
async fn an_altered_entry_breaks_the_chain_at_its_seq() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("owner@example.com").await;
        let o = owner_ctx(app, &owner).await;
        teams::create(app, &o, "Sales", &nowhere()).await.unwrap();
        let altered = append_altered_entry(app, o.org_id, owner.user_id).await;
        assert_eq!(altered, 3, "{l}");
        // Honest entries after it do not hide it.
        teams::create(app, &o, "Support", &nowhere()).await.unwrap();
        teams::create(app, &o, "Success", &nowhere()).await.unwrap();

        match audit::verify(app.db(), o.org_id).await.unwrap() {
            ChainCheck::Broken { seq, reason } => {
                assert_eq!(seq, altered, "{l}: {reason}");
                assert!(reason.contains("altered"), "{l}: {reason}");
            }
            other => panic!("{l}: expected Broken at {altered}, got {other:?}"),
        }
        // Other workspaces are unaffected.
        let other = t.user("other@example.com").await;
        assert!(matches!(audit::verify(app.db(), other.org_id).await.unwrap(), ChainCheck::Intact { .. }), "{l}");
    }
}

#[tokio::test]
async fn erasing_details_keeps_the_chain_intact() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("owner@example.com").await;
        let o = owner_ctx(app, &owner).await;
        let here = from_ip("192.0.2.99");
        invitations::create(app, &o, "x@example.com", Role::Member, &here).await.unwrap();
        let team = teams::create(app, &o, "Sales", &here).await.unwrap();
        teams::add_member(app, &o, team.id, owner.user_id, &here).await.unwrap();
        let before = audit::verify(app.db(), o.org_id).await.unwrap();
        assert_eq!(before, ChainCheck::Intact { entries: 4 }, "{l}");

        let mut tx = app.db().begin().await.unwrap();
        let erased = kith_store::audit::erase_details_of_actor(&mut tx, o.org_id, owner.user_id).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(erased, 3, "{l}: the three entries with details");

        let (entries, _) = audit::list(app, &o, None, 50).await.unwrap();
        assert_eq!(entries.len(), 4, "{l}: the chain rows stay");
        for e in &entries {
            assert!(
                e.ip.is_none() && e.user_agent.is_none() && e.detail.is_none(),
                "{l}: seq {} still has details",
                e.seq
            );
        }
        assert_eq!(audit::verify(app.db(), o.org_id).await.unwrap(), before, "{l}: still intact");
    }
}

#[tokio::test]
async fn only_admins_read_the_audit_log() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("owner@example.com").await;
        let o = owner_ctx(app, &owner).await;
        let admin = join(app, &o, "admin@example.com", Role::Admin).await;
        let member = join(app, &o, "member@example.com", Role::Member).await;
        let viewer = join(app, &o, "viewer@example.com", Role::Viewer).await;

        for (who, user) in [("member", &member), ("viewer", &viewer)] {
            let c = ctx(app, o.org_id, user.user_id).await;
            let r = audit::list(app, &c, None, 10).await;
            assert!(matches!(r, Err(AppError::Forbidden)), "{l}: {who}: {r:?}");
        }
        let (_, narrow) = tokens::create(app, &o, "narrow", Some(Role::Member), &nowhere()).await.unwrap();
        let nc = tokens::authenticate(app, &narrow).await.unwrap().unwrap();
        let r = audit::list(app, &nc, None, 10).await;
        assert!(matches!(r, Err(AppError::Forbidden)), "{l}: member-scoped owner token: {r:?}");

        let a = ctx(app, o.org_id, admin.user_id).await;
        let (entries, _) = audit::list(app, &a, None, 10).await.expect("admin reads");
        assert!(!entries.is_empty(), "{l}");
        audit::list(app, &o, None, 10).await.expect("owner reads");
    }
}
