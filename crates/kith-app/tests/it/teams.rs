//! Teams: versions, unique names, membership, keyset pages.

use crate::support::*;
use kith_app::{teams, AppError, ErrorCode};
use kith_domain::{PageRequest, Role};
use kith_testkit::TestApp;
use std::collections::HashSet;
use uuid::Uuid;

#[tokio::test]
async fn create_and_rename_with_versions() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("owner@example.com").await;
        let o = owner_ctx(app, &owner).await;

        let team = teams::create(app, &o, "  Sales ", &nowhere()).await.expect("create");
        assert_eq!((team.name.as_str(), team.version, team.org_id), ("Sales", 1, o.org_id), "{l}");
        let fields = invalid_fields(l, "blank name", teams::create(app, &o, "   ", &nowhere()).await);
        assert_eq!(fields, ["name"], "{l}");

        let renamed = teams::rename(app, &o, team.id, "Field sales", Some(1), &nowhere())
            .await
            .expect("rename at the current version");
        assert_eq!((renamed.name.as_str(), renamed.version), ("Field sales", 2), "{l}");

        let r = teams::rename(app, &o, team.id, "Inside sales", Some(1), &nowhere()).await;
        assert!(matches!(r, Err(AppError::StaleVersion)), "{l}: stale version: {r:?}");
        assert_eq!(
            teams::get(app, &o, team.id).await.unwrap().name,
            "Field sales",
            "{l}: a stale rename changes nothing"
        );

        let again =
            teams::rename(app, &o, team.id, "Inside sales", None, &nowhere()).await.expect("rename without a version");
        assert_eq!(again.version, 3, "{l}");

        let r = teams::rename(app, &o, Uuid::now_v7(), "Ghosts", Some(1), &nowhere()).await;
        assert!(matches!(r, Err(AppError::NotFound)), "{l}: missing team: {r:?}");

        teams::delete(app, &o, team.id, &nowhere()).await.expect("delete");
        let r = teams::get(app, &o, team.id).await;
        assert!(matches!(r, Err(AppError::NotFound)), "{l}: {r:?}");
    }
}

#[tokio::test]
async fn team_names_are_unique_per_workspace() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let a = t.user("a@example.com").await;
        let b = t.user("b@example.com").await;
        let ac = owner_ctx(app, &a).await;
        let bc = owner_ctx(app, &b).await;

        teams::create(app, &ac, "Sales", &nowhere()).await.unwrap();
        let r = teams::create(app, &ac, "Sales", &nowhere()).await;
        assert!(matches!(r, Err(AppError::Conflict(ErrorCode::AlreadyExists, _))), "{l}: duplicate create: {r:?}");
        let support = teams::create(app, &ac, "Support", &nowhere()).await.unwrap();
        let r = teams::rename(app, &ac, support.id, "Sales", None, &nowhere()).await;
        assert!(
            matches!(r, Err(AppError::Conflict(ErrorCode::AlreadyExists, _))),
            "{l}: rename onto a taken name: {r:?}"
        );
        assert_eq!(teams::get(app, &ac, support.id).await.unwrap().name, "Support", "{l}");

        // Another workspace has its own names.
        teams::create(app, &bc, "Sales", &nowhere()).await.expect("same name in another workspace");
    }
}

#[tokio::test]
async fn only_workspace_members_join_teams() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("owner@example.com").await;
        let stranger = t.user("stranger@example.com").await;
        let o = owner_ctx(app, &owner).await;
        let member = join(app, &o, "member@example.com", Role::Member).await;
        let m = ctx(app, o.org_id, member.user_id).await;
        let team = teams::create(app, &o, "Sales", &nowhere()).await.unwrap();

        let fields = invalid_fields(
            l,
            "add a non-member",
            teams::add_member(app, &o, team.id, stranger.user_id, &nowhere()).await,
        );
        assert_eq!(fields, ["user_id"], "{l}");

        teams::add_member(app, &o, team.id, member.user_id, &nowhere()).await.expect("add");
        teams::add_member(app, &o, team.id, member.user_id, &nowhere()).await.expect("adding twice is harmless");
        let listed = teams::list_members(app, &m, team.id, &PageRequest::default()).await.expect("members read teams");
        let ids: Vec<Uuid> = listed.items.iter().map(|r| r.user_id).collect();
        assert_eq!(ids, [member.user_id], "{l}");

        let r = teams::create(app, &m, "Mine", &nowhere()).await;
        assert!(matches!(r, Err(AppError::Forbidden)), "{l}: member creates a team: {r:?}");
        let r = teams::add_member(app, &m, team.id, owner.user_id, &nowhere()).await;
        assert!(matches!(r, Err(AppError::Forbidden)), "{l}: member adds to a team: {r:?}");
        let r = teams::add_member(app, &o, Uuid::now_v7(), member.user_id, &nowhere()).await;
        assert!(matches!(r, Err(AppError::NotFound)), "{l}: missing team: {r:?}");

        teams::remove_member(app, &o, team.id, member.user_id, &nowhere()).await.expect("remove");
        let r = teams::remove_member(app, &o, team.id, member.user_id, &nowhere()).await;
        assert!(matches!(r, Err(AppError::NotFound)), "{l}: removed twice: {r:?}");
        assert!(teams::list_members(app, &o, team.id, &PageRequest::default()).await.unwrap().items.is_empty(), "{l}");
    }
}

#[tokio::test]
async fn pages_return_every_team_exactly_once() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("owner@example.com").await;
        let o = owner_ctx(app, &owner).await;
        let mut created = HashSet::new();
        for i in 0..7 {
            created.insert(teams::create(app, &o, &format!("Team {i}"), &nowhere()).await.unwrap().id);
        }
        // Another workspace's teams never show up.
        let other = t.user("other@example.com").await;
        let oc = owner_ctx(app, &other).await;
        teams::create(app, &oc, "Elsewhere", &nowhere()).await.unwrap();

        let mut seen = Vec::new();
        let mut sizes = Vec::new();
        let mut after = None;
        loop {
            let page = teams::list(app, &o, &PageRequest::new(Some(3), after)).await.unwrap();
            sizes.push(page.items.len());
            seen.extend(page.items.iter().map(|t| t.id));
            match page.next {
                Some(c) => after = Some(c),
                None => break,
            }
            assert!(sizes.len() < 10, "{l}: pages never end");
        }
        assert_eq!(sizes, [3, 3, 1], "{l}");
        let unique: HashSet<Uuid> = seen.iter().copied().collect();
        assert_eq!(unique.len(), seen.len(), "{l}: no team twice");
        assert_eq!(unique, created, "{l}: every team, and only these");
    }
}
