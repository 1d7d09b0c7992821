//! Record lists in an order of several keys: every visible record exactly
//! once whatever the page size, ties broken by id, text compared without
//! case, on each backend. Also what the list pages lean on: a deal's people
//! changed one at a time, and people found by their company's current name.

use crate::support::*;
use kith_app::crm::companies::{self, CompanyInput};
use kith_app::crm::contacts::{self, ContactInput};
use kith_app::crm::deals::{self, DealInput};
use kith_app::records::{ListFilter, Sort, SortedPageRequest};
use kith_domain::crm::RecordType;
use kith_domain::visibility::Visibility;
use kith_domain::{Context, Role};
use kith_testkit::TestApp;
use uuid::Uuid;

/// Every page of contacts in `sort`, `limit` at a time.
async fn contact_pages(app: &kith_app::App, ctx: &Context, filter: &ListFilter, sort: &str, limit: u32) -> Vec<Uuid> {
    let sort = Sort::parse(RecordType::Contact, sort).unwrap();
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page =
            contacts::list_sorted(app, ctx, filter, &sort, &SortedPageRequest::new(Some(limit), after)).await.unwrap();
        assert!(page.items.len() <= limit as usize);
        out.extend(page.items.iter().map(|c| c.id));
        match page.next {
            Some(n) => after = Some(n),
            None => return out,
        }
    }
}

fn contact(first: &str, last: &str, title: &str) -> ContactInput {
    ContactInput {
        first_name: Some(first.into()),
        last_name: Some(last.into()),
        title: Some(title.into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn contacts_sort_by_several_keys_with_keyset_pages() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("owner@lists.test").await;
        let o = owner_ctx(app, &owner).await;
        let bob = join(app, &o, "bob@lists.test", Role::Member).await;
        let b = ctx(app, bob.org_id, bob.user_id).await;

        // Last names repeat, in several cases; titles tie too.
        let people = [
            ("Ada", "lovelace", "Countess"),
            ("Byron", "Lovelace", "Poet"),
            ("Alan", "Turing", "Cryptanalyst"),
            ("Grace", "hopper", "Admiral"),
            ("Ann", "LOVELACE", "Countess"),
            ("Zed", "Adams", ""),
            ("Yan", "adams", ""),
            ("Xia", "Adams", ""),
            ("Kim", "Turing", "Cryptanalyst"),
            ("Lee", "Hopper", "Admiral"),
            ("Mo", "Hopper", "Admiral"),
        ];
        let mut made = Vec::new();
        for (first, last, title) in people {
            let c = contacts::create(app, &o, &contact(first, last, title)).await.unwrap();
            made.push((c.id, first, last, title));
        }
        // Touch two, so that update times differ from creation order.
        let touched = [made[0].0, made[6].0];
        for id in touched {
            let input = ContactInput { source: Some("touched".into()), ..Default::default() };
            contacts::update(app, &o, id, &input, None).await.unwrap();
        }
        // Bob's personal contact is not the owner's to see.
        let hidden = contacts::create(
            app,
            &b,
            &ContactInput { visibility: Some(Visibility::Personal), ..contact("Hidden", "Adams", "") },
        )
        .await
        .unwrap();

        // last_name, then title, then the id (all ascending): fully determined.
        let mut want = made.clone();
        want.sort_by(|a, b| {
            (a.2.to_lowercase(), a.3.to_lowercase(), a.0).cmp(&(b.2.to_lowercase(), b.3.to_lowercase(), b.0))
        });
        let want: Vec<Uuid> = want.iter().map(|m| m.0).collect();
        let all = ListFilter::default();
        for limit in [1, 2, 3, 200] {
            assert_eq!(contact_pages(app, &o, &all, "last_name,title", limit).await, want, "{l}: limit {limit}");
        }
        assert!(!want.contains(&hidden.id));

        // Descending keys and a descending id.
        let mut rev = want.clone();
        rev.reverse();
        assert_eq!(contact_pages(app, &o, &all, "-last_name,-title", 2).await, rev, "{l}: all descending");

        // Mixed directions: last name A→Z, most recently changed first; the
        // same with any page size, every contact once.
        let mixed = contact_pages(app, &o, &all, "last_name,-updated_at", 200).await;
        for limit in [1, 4] {
            assert_eq!(contact_pages(app, &o, &all, "last_name,-updated_at", limit).await, mixed, "{l}: {limit}");
        }
        let adams: Vec<Uuid> = mixed.iter().take(3).copied().collect();
        assert_eq!(adams[0], made[6].0, "{l}: the touched Adams comes first among the Adamses");
        let mut sorted = mixed.clone();
        sorted.sort();
        let mut ids = want.clone();
        ids.sort();
        assert_eq!(sorted, ids, "{l}: each contact once");

        // Three keys, and the filters still apply.
        let vip = ListFilter { ids: vec![made[1].0, made[4].0, made[9].0], ..Default::default() };
        let three = contact_pages(app, &o, &vip, "title,-last_name,first_name", 1).await;
        assert_eq!(three, vec![made[9].0, made[4].0, made[1].0], "{l}: Admiral, then Countess, then Poet");

        // Bob sees his personal contact among the Adamses, by name (first and last).
        let by_name = contact_pages(app, &b, &all, "name", 2).await;
        assert_eq!(by_name.len(), made.len() + 1, "{l}");
        assert_eq!(by_name, contact_pages(app, &b, &all, "name", 200).await, "{l}");
    }
}

#[tokio::test]
async fn companies_and_deals_sort_by_their_own_fields() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("owner@lists2.test").await;
        let o = owner_ctx(app, &owner).await;

        let mut companies_made = Vec::new();
        for (name, industry) in [("beta", "Retail"), ("Alpha", ""), ("gamma", "retail"), ("Delta", "Banking")] {
            let input = CompanyInput { name: Some(name.into()), industry: Some(industry.into()), ..Default::default() };
            companies_made.push(companies::create(app, &o, &input).await.unwrap());
        }
        let sort = Sort::parse(RecordType::Company, "industry,-name").unwrap();
        let mut after = None;
        let mut names = Vec::new();
        loop {
            let page =
                companies::list_sorted(app, &o, &ListFilter::default(), &sort, &SortedPageRequest::new(Some(1), after))
                    .await
                    .unwrap();
            names.extend(page.items.iter().map(|c| c.name.clone()));
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        // No industry sorts first; "Retail" and "retail" tie, then the name Z→A.
        assert_eq!(names, ["Alpha", "Delta", "gamma", "beta"], "{l}");

        for (title, value) in [("Small", 100), ("big", 90_000), ("Also big", 90_000), ("none", 0)] {
            let input = DealInput { title: Some(title.into()), value_minor: Some(value), ..Default::default() };
            deals::create(app, &o, &input).await.unwrap();
        }
        let sort = Sort::parse(RecordType::Deal, "-value,title").unwrap();
        let mut after = None;
        let mut titles = Vec::new();
        loop {
            let req = SortedPageRequest::new(Some(3), after);
            let page = deals::list_sorted(app, &o, &ListFilter::default(), &sort, &req).await.unwrap();
            titles.extend(page.items.iter().map(|d| d.title.clone()));
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        assert_eq!(titles, ["Also big", "big", "Small", "none"], "{l}");
    }
}

async fn drain(app: &kith_app::App) {
    let worker = kith_app::worker::Worker::new(app.clone(), kith_app::worker::Registry::standard());
    while worker.run_once().await.unwrap() > 0 {}
}

async fn found(app: &kith_app::App, ctx: &Context, q: &str) -> Vec<Uuid> {
    kith_app::crm::search::search(app, ctx, q, 50).await.unwrap().into_iter().map(|h| h.id).collect()
}

#[tokio::test]
async fn renaming_or_deleting_a_company_refreshes_its_peoples_search_words() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("owner@upkeep.test").await;
        let o = owner_ctx(app, &owner).await;
        let company = companies::create(app, &o, &CompanyInput { name: Some("Initech".into()), ..Default::default() })
            .await
            .unwrap();
        let peter = contacts::create(
            app,
            &o,
            &ContactInput { company_id: Some(Some(company.id)), ..contact("Peter", "Gibbons", "Engineer") },
        )
        .await
        .unwrap();
        assert!(found(app, &o, "initech").await.contains(&peter.id), "{l}: found by the company's name");

        let rename = CompanyInput { name: Some("Initrode".into()), ..Default::default() };
        companies::update(app, &o, company.id, &rename, None).await.unwrap();
        drain(app).await;
        assert!(found(app, &o, "initrode").await.contains(&peter.id), "{l}: by the new name");
        assert!(!found(app, &o, "initech").await.contains(&peter.id), "{l}: not by the old one");

        // Another edit that keeps the name queues nothing for the people.
        let other = CompanyInput { industry: Some("Software".into()), ..Default::default() };
        companies::update(app, &o, company.id, &other, None).await.unwrap();
        companies::delete(app, &o, company.id, &nowhere()).await.unwrap();
        drain(app).await;
        assert!(!found(app, &o, "initrode").await.contains(&peter.id), "{l}: the deleted company's name is gone");
        assert!(found(app, &o, "gibbons").await.contains(&peter.id), "{l}: the rest of the document stays");
    }
}

#[tokio::test]
async fn a_deals_people_change_one_at_a_time_among_visible_contacts() {
    for t in TestApp::all().await {
        let (app, l) = (&t.app, t.label);
        let owner = t.user("owner@links.test").await;
        let o = owner_ctx(app, &owner).await;
        let bob = join(app, &o, "bob@links.test", Role::Member).await;
        let b = ctx(app, bob.org_id, bob.user_id).await;
        let viewer = join(app, &o, "vic@links.test", Role::Viewer).await;
        let v = ctx(app, viewer.org_id, viewer.user_id).await;

        let grace = contacts::create(app, &o, &contact("Grace", "Hopper", "")).await.unwrap();
        let alan = contacts::create(app, &o, &contact("Alan", "Turing", "")).await.unwrap();
        let secret = contacts::create(
            app,
            &b,
            &ContactInput { visibility: Some(Visibility::Personal), ..contact("Secret", "Friend", "") },
        )
        .await
        .unwrap();
        let deal = deals::create(
            app,
            &o,
            &DealInput { title: Some("Compiler".into()), contact_ids: Some(vec![grace.id]), ..Default::default() },
        )
        .await
        .unwrap();

        let d = deals::link_contact(app, &o, deal.id, alan.id, Some(deal.version)).await.unwrap();
        assert_eq!(d.contact_ids.len(), 2, "{l}");
        assert_eq!(d.version, deal.version + 1, "{l}: a change of the deal");
        let again = deals::link_contact(app, &o, deal.id, alan.id, None).await.unwrap();
        assert_eq!(again.version, d.version, "{l}: linking twice changes nothing");
        let stale = deals::link_contact(app, &o, deal.id, alan.id, Some(deal.version)).await;
        assert!(matches!(stale, Err(kith_app::AppError::StaleVersion)), "{l}");

        // Only contacts the actor sees; a viewer changes nothing.
        let hidden = deals::link_contact(app, &o, deal.id, secret.id, None).await;
        assert!(matches!(hidden, Err(kith_app::AppError::Validation(_))), "{l}: {hidden:?}");
        let refused = deals::unlink_contact(app, &v, deal.id, grace.id, None).await;
        assert!(matches!(refused, Err(kith_app::AppError::Forbidden)), "{l}");

        // Bob links his personal contact; the owner's unlink of Grace keeps it.
        deals::link_contact(app, &b, deal.id, secret.id, None).await.unwrap();
        let d = deals::unlink_contact(app, &o, deal.id, grace.id, None).await.unwrap();
        let mut want = vec![alan.id, secret.id];
        want.sort();
        let mut got = d.contact_ids.clone();
        got.sort();
        assert_eq!(got, want, "{l}");
    }
}
