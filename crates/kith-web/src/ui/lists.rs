//! The record lists (contacts, companies, deals) as one kit: what a list's
//! address holds (the API's filters, a sort of up to three keys, the chosen
//! columns, the saved view it came from), the table's columns and cells, the
//! view picker with "save view", and the bulk bar. Every part is a link or a
//! plain form; the script only adds shift-click sorting and the selection
//! count.

use super::crm::*;
use super::pages::{Link, Opt, Shell, When};
use super::{redirect_with, render, Flash, UiCtx};
use crate::state::WebState;
use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use kith_app::crm::views::{self, View, ViewInput};
use kith_app::crm::{companies, contacts, custom_fields, deals, pipelines};
use kith_app::records::{ListFilter, Sort, SortCursor, SortField, SortedPageRequest};
use kith_app::{AppError, Context};
use kith_domain::crm::RecordType;
use serde_json::Value;
use std::collections::HashMap;
use uuid::Uuid;

/// Rows per page.
const PAGE_SIZE: u32 = 50;

/// What differs between the three lists.
pub struct Kind {
    /// `/contacts`.
    pub base: &'static str,
    /// "Contacts".
    pub title: &'static str,
    /// "contact".
    pub one: &'static str,
    /// "contacts".
    pub many: &'static str,
}

const CONTACTS: Kind = Kind { base: "/contacts", title: "Contacts", one: "contact", many: "contacts" };
const COMPANIES: Kind = Kind { base: "/companies", title: "Companies", one: "company", many: "companies" };
const DEALS: Kind = Kind { base: "/deals", title: "Deals", one: "deal", many: "deals" };

pub fn kind(rt: RecordType) -> &'static Kind {
    match rt {
        RecordType::Contact => &CONTACTS,
        RecordType::Company => &COMPANIES,
        RecordType::Deal => &DEALS,
    }
}

// ---------- the address of a list ----------

/// A list as its address describes it. Filters are the API's own parameters
/// (`tag`, `owner`, `pipeline`, `cf.tier`…), so a saved view's query works in
/// both; `mine=1` is the form checkbox's spelling of `owner=me`.
#[derive(Debug, Clone)]
pub struct ListState {
    pub rt: RecordType,
    /// Filter parameters in order, API spelling, no empty values.
    pub filters: Vec<(String, String)>,
    pub sort: Sort,
    /// The address chose a sort other than the default.
    pub sort_given: bool,
    /// The address named a sort at all (even the default one).
    pub sort_named: bool,
    /// Column keys as the address gave them (empty: the default columns).
    pub cols: Vec<String>,
    pub view: Option<Uuid>,
    pub cursor: Option<String>,
    /// A selection (`ids=a,b`), for exports of ticked rows.
    pub ids: Vec<Uuid>,
    /// What in the address could not be used, as sentences.
    pub problems: Vec<String>,
}

impl ListState {
    pub fn parse(rt: RecordType, raw: Option<&str>) -> ListState {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or("")).unwrap_or_default();
        let mut st = ListState {
            rt,
            filters: vec![],
            sort: Sort::default_for(rt),
            sort_given: false,
            sort_named: false,
            cols: vec![],
            view: None,
            cursor: None,
            ids: vec![],
            problems: vec![],
        };
        let mut sort_raw: Option<String> = None;
        let mut then_by: Vec<String> = vec![];
        let mut mine = false;
        for (k, v) in pairs {
            let v = v.trim().to_string();
            match k.as_str() {
                "cols" => st.cols.extend(v.split(',').map(str::trim).filter(|c| !c.is_empty()).map(str::to_string)),
                "col" if !v.is_empty() => st.cols.push(v),
                "view" => st.view = Uuid::try_parse(&v).ok(),
                "cursor" if !v.is_empty() => st.cursor = Some(v),
                "mine" => mine |= !v.is_empty() && v != "0",
                "sort" if !v.is_empty() => sort_raw = Some(v),
                "sort1" | "sort2" | "sort3" if !v.is_empty() => then_by.push(v),
                "ids" => st.ids.extend(v.split(',').filter_map(|i| Uuid::try_parse(i.trim()).ok())),
                "limit" | "col" | "cursor" | "sort" | "sort1" | "sort2" | "sort3" => {}
                _ if v.is_empty() => {}
                _ => st.filters.push((k, v)),
            }
        }
        if mine && !st.filters.iter().any(|(k, _)| k == "owner") {
            st.filters.push(("owner".into(), "me".into()));
        }
        if !then_by.is_empty() {
            sort_raw = Some(then_by.join(","));
        }
        let mut seen = Vec::new();
        st.cols.retain(|c| {
            let fresh = !seen.contains(c);
            seen.push(c.clone());
            fresh
        });
        if let Some(raw) = sort_raw {
            st.sort_named = true;
            match Sort::parse(rt, &raw) {
                Ok(s) => {
                    st.sort_given = s != Sort::default_for(rt);
                    st.sort = s;
                }
                Err(m) => {
                    st.problems.push(format!("This list cannot be sorted that way ({m}); it is in the usual order."))
                }
            }
        }
        st
    }

    pub fn filter(&self, key: &str) -> &str {
        self.filters.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).unwrap_or("")
    }

    pub fn mine(&self) -> bool {
        self.filter("owner") == "me"
    }

    /// Only the address's view, nothing else: the view's own state applies.
    fn only_view(&self) -> bool {
        self.view.is_some() && self.filters.is_empty() && !self.sort_named && self.cols.is_empty()
    }

    /// `tag=vip&owner=me&sort=last_name`: what a saved view keeps.
    pub fn view_query(&self) -> String {
        let mut pairs: Vec<(&str, &str)> = self.filters.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let sort = self.sort.to_param();
        if self.sort_given {
            pairs.push(("sort", &sort));
        }
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }

    /// The filters as `?a=1&b=2` (export links), or "".
    pub fn filter_qs(&self) -> String {
        if self.filters.is_empty() {
            return String::new();
        }
        format!("?{}", serde_urlencoded::to_string(&self.filters).unwrap_or_default())
    }

    /// This list's address with another sort and columns, from its first page.
    pub fn url_with(&self, sort: Option<&str>, cols: &[String], cursor: Option<&str>) -> String {
        let mut pairs: Vec<(&str, &str)> = self.filters.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let current = self.sort.to_param();
        let sort = sort.or(self.sort_given.then_some(current.as_str()));
        if let Some(s) = sort {
            pairs.push(("sort", s));
        }
        let cols = cols.join(",");
        if !cols.is_empty() {
            pairs.push(("cols", &cols));
        }
        let view = self.view.map(|v| v.to_string()).unwrap_or_default();
        if !view.is_empty() {
            pairs.push(("view", &view));
        }
        if let Some(c) = cursor {
            pairs.push(("cursor", c));
        }
        let base = kind(self.rt).base;
        if pairs.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", serde_urlencoded::to_string(pairs).unwrap_or_default())
        }
    }

    /// Hidden inputs that keep everything but `skip` (for a form that changes that part).
    fn hidden(&self, skip: &str, cols: &[String]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if skip != "filters" {
            out.extend(self.filters.iter().cloned());
        } else {
            // The filter form shows only some filters; the others ride along.
            let shown = ["tag", "owner", "pipeline", "status"];
            out.extend(self.filters.iter().filter(|(k, _)| !shown.contains(&k.as_str())).cloned());
            if self.filter("owner") != "me" && !self.filter("owner").is_empty() {
                out.push(("owner".into(), self.filter("owner").into()));
            }
        }
        if skip != "sort" && self.sort_given {
            out.push(("sort".into(), self.sort.to_param()));
        }
        if skip != "cols" && !cols.is_empty() {
            out.push(("cols".into(), cols.join(",")));
        }
        if let Some(v) = self.view {
            out.push(("view".into(), v.to_string()));
        }
        out
    }

    /// The list filter, through the API's parser (one set of rules for both).
    pub async fn list_filter(&self, state: &WebState, ctx: &Context) -> Result<ListFilter, String> {
        let qs = serde_urlencoded::to_string(&self.filters).unwrap_or_default();
        match crate::api::records::parse(&state.app, ctx, Some(&qs), self.rt).await {
            Ok(q) => Ok(ListFilter { ids: self.ids.clone(), ..q.filter }),
            Err(e) if e.fields.is_empty() => Err(super::pages::sentence("", &e.message)),
            Err(e) => Err(e
                .fields
                .iter()
                .map(|f| super::pages::sentence(&format!("The filter {}", f.field), &f.message))
                .collect::<Vec<_>>()
                .join(" ")),
        }
    }
}

// ---------- columns ----------

/// A column a list can show.
pub struct ColumnDef {
    pub key: String,
    pub label: String,
    /// The sort field behind it (`name`, `updated_at`…), if it sorts.
    pub sort: Option<&'static str>,
    pub default: bool,
    /// Right-aligned (amounts).
    pub num: bool,
    /// Hidden on mid-size screens.
    pub opt: bool,
}

fn col(key: &str, label: &str, sort: Option<&'static str>, default: bool) -> ColumnDef {
    ColumnDef { key: key.into(), label: label.into(), sort, default, num: false, opt: false }
}

/// Every column of `rt`'s list, the record type's own first, then its custom fields.
pub fn column_defs(rt: RecordType, custom: &[custom_fields::CustomField]) -> Vec<ColumnDef> {
    let mut cols = match rt {
        RecordType::Contact => vec![
            col("name", "Name", Some("name"), true),
            col("email", "E-mail", None, true),
            col("phone", "Phone", None, true),
            col("company", "Company", None, true),
            col("title", "Job title", Some("title"), false),
            ColumnDef { opt: true, ..col("owner", "Owner", None, true) },
            col("tags", "Tags", None, true),
            col("source", "Source", Some("source"), false),
            col("updated", "Updated", Some("updated_at"), true),
            col("created", "Created", Some("created_at"), false),
        ],
        RecordType::Company => vec![
            col("name", "Name", Some("name"), true),
            col("domain", "Website", Some("domain"), true),
            col("industry", "Industry", Some("industry"), true),
            ColumnDef { opt: true, ..col("owner", "Owner", None, true) },
            col("tags", "Tags", None, true),
            col("updated", "Updated", Some("updated_at"), true),
            col("created", "Created", Some("created_at"), false),
        ],
        RecordType::Deal => vec![
            col("name", "Deal", Some("title"), true),
            ColumnDef { num: true, ..col("value", "Value", Some("value"), true) },
            col("stage", "Stage", None, true),
            col("status", "Status", Some("status"), true),
            ColumnDef { opt: true, ..col("owner", "Owner", None, true) },
            col("company", "Company", None, false),
            col("expected_close", "Expected close", Some("expected_close"), true),
            col("tags", "Tags", None, false),
            col("updated", "Updated", Some("updated_at"), true),
            col("created", "Created", Some("created_at"), false),
        ],
    };
    cols.extend(custom.iter().map(|f| col(&format!("cf.{}", f.key), &f.label, None, false)));
    cols
}

/// The columns to show: the chosen ones that exist (the name always, first),
/// in the list's own order; the defaults when none was chosen.
fn shown_columns(defs: Vec<ColumnDef>, chosen: &[String]) -> Vec<ColumnDef> {
    if chosen.is_empty() {
        return defs.into_iter().filter(|d| d.default).collect();
    }
    defs.into_iter().filter(|d| d.key == "name" || chosen.contains(&d.key)).collect()
}

/// The words of a sort field, for the sort menu and headings.
fn field_label(rt: RecordType, f: SortField) -> &'static str {
    match (f, rt) {
        (SortField::Name, _) => "Name",
        (SortField::FirstName, _) => "First name",
        (SortField::LastName, _) => "Last name",
        (SortField::Title, RecordType::Deal) => "Deal",
        (SortField::Title, _) => "Job title",
        (SortField::Source, _) => "Source",
        (SortField::Domain, _) => "Website",
        (SortField::Industry, _) => "Industry",
        (SortField::Value, _) => "Value",
        (SortField::Status, _) => "Status",
        (SortField::ExpectedClose, _) => "Expected close",
        (SortField::Updated, _) => "Updated",
        (SortField::Created, _) => "Created",
    }
}

/// "A→Z", "newest first"… for one direction of a field.
fn direction_words(f: SortField, desc: bool) -> &'static str {
    match (f, desc) {
        (SortField::Updated | SortField::Created | SortField::ExpectedClose, false) => "oldest first",
        (SortField::Updated | SortField::Created, true) => "newest first",
        (SortField::ExpectedClose, true) => "latest first",
        (SortField::Value, false) => "low to high",
        (SortField::Value, true) => "high to low",
        (_, false) => "A→Z",
        (_, true) => "Z→A",
    }
}

// ---------- what the template shows ----------

pub struct HeaderView {
    pub label: String,
    pub class: &'static str,
    /// Where clicking the heading goes (sorted by this column); "" when it does not sort.
    pub sort_url: String,
    pub sort_key: &'static str,
    /// `ascending`, `descending` or `none` (aria-sort).
    pub aria_sort: &'static str,
    /// 1 for the first sort key, 2 for the second…; 0 when not sorted by it.
    pub rank: usize,
    /// ↑ or ↓ when sorted by it.
    pub arrow: &'static str,
    /// The list is sorted by more than one key (the rank is worth showing).
    pub multi: bool,
}

/// One cell: `kind` says how the template draws it.
pub struct Cell {
    /// `name`, `link`, `mail`, `tel`, `ext`, `text`, `tags`, `when`, `badge`.
    pub kind: &'static str,
    pub text: String,
    pub url: String,
    pub tags: Vec<Link>,
    pub when: Option<When>,
    pub class: &'static str,
    /// Shown before the value when rows stack on a phone.
    pub label: String,
}

impl Cell {
    fn new(kind: &'static str, text: impl Into<String>) -> Cell {
        Cell { kind, text: text.into(), url: String::new(), tags: vec![], when: None, class: "", label: String::new() }
    }

    fn class(mut self, class: &'static str) -> Cell {
        self.class = class;
        self
    }

    fn url(mut self, url: impl Into<String>) -> Cell {
        self.url = url.into();
        self
    }

    fn label(mut self, label: &str) -> Cell {
        self.label = label.to_string();
        self
    }

    fn when(ms: i64, label: &str) -> Cell {
        Cell { when: Some(When::new(ms)), ..Cell::new("when", "") }.class("muted").label(label)
    }

    fn tags(list: Vec<Link>) -> Cell {
        Cell { tags: list, ..Cell::new("tags", "") }.class("col-tags")
    }

    fn link(link: Option<Link>) -> Cell {
        match link {
            Some(l) => Cell::new("link", l.name).url(l.url).class("clip"),
            None => Cell::new("text", "").class("clip"),
        }
    }
}

pub struct RowView {
    pub id: String,
    pub name: String,
    pub cells: Vec<Cell>,
}

pub struct SortSelect {
    pub name: &'static str,
    pub label: &'static str,
    pub opts: Vec<Opt>,
}

pub struct ColChoice {
    pub key: String,
    pub label: String,
    pub checked: bool,
    /// The name column cannot be hidden.
    pub fixed: bool,
}

pub struct ViewLink {
    pub name: String,
    pub url: String,
    pub current: bool,
    pub shared: bool,
}

pub struct CurrentView {
    pub id: String,
    pub name: String,
    pub shared: bool,
    pub can_change: bool,
    /// The list differs from what the view saved.
    pub changed: bool,
}

#[derive(Template)]
#[template(path = "record_list.html")]
pub struct RecordListPage {
    pub shell: Shell,
    pub k: &'static Kind,
    pub is_deal: bool,
    pub columns: Vec<HeaderView>,
    pub rows: Vec<RowView>,
    pub next_url: Option<String>,
    /// What in the address could not be used.
    pub problem: Option<String>,
    pub filtered: bool,
    /// The same list without filters.
    pub clear_url: String,
    pub export_qs: String,
    pub tags: Vec<Opt>,
    pub pipelines: Vec<Opt>,
    pub statuses: Vec<Opt>,
    pub mine: bool,
    pub keep_for_filters: Vec<(String, String)>,
    pub keep_for_sort: Vec<(String, String)>,
    pub keep_for_cols: Vec<(String, String)>,
    pub sort_param: String,
    pub sort_text: String,
    /// The address without its sort (the script adds one on shift-click).
    pub sort_base: String,
    pub sort_selects: Vec<SortSelect>,
    pub col_choices: Vec<ColChoice>,
    pub views_mine: Vec<ViewLink>,
    pub views_shared: Vec<ViewLink>,
    pub current_view: Option<CurrentView>,
    pub view_label: String,
    pub view_query: String,
    pub view_cols: String,
    pub can_share: bool,
    /// This page's own address (forms come back to it).
    pub here: String,
    /// The filters, for "every record that matches".
    pub filter_query: String,
    pub members: Vec<Opt>,
    pub board_url: String,
}

impl RecordListPage {
    pub fn table_url(&self) -> &str {
        "/deals"
    }

    pub fn board_link(&self) -> &str {
        &self.board_url
    }

    pub fn is_board(&self) -> bool {
        false
    }
}

// ---------- the page ----------

pub async fn contacts_page(s: State<WebState>, ui: Extension<UiCtx>, raw: RawQuery) -> Response {
    list_page(s, ui, raw, RecordType::Contact).await
}

pub async fn companies_page(s: State<WebState>, ui: Extension<UiCtx>, raw: RawQuery) -> Response {
    list_page(s, ui, raw, RecordType::Company).await
}

pub async fn deals_page(s: State<WebState>, ui: Extension<UiCtx>, raw: RawQuery) -> Response {
    list_page(s, ui, raw, RecordType::Deal).await
}

/// Where a saved view shows its list: its query, columns and id.
fn view_url(v: &View) -> String {
    let k = kind(v.record_type);
    let mut qs = v.query.clone();
    if !qs.split('&').any(|p| p.starts_with("sort=")) {
        // Always name the sort, so the address is never the bare `?view=`.
        qs = if qs.is_empty() { "sort=-updated_at".into() } else { format!("{qs}&sort=-updated_at") };
    }
    let mut pairs: Vec<(String, String)> = vec![];
    if !v.columns.is_empty() {
        pairs.push(("cols".into(), v.columns.join(",")));
    }
    pairs.push(("view".into(), v.id.to_string()));
    format!("{}?{qs}&{}", k.base, serde_urlencoded::to_string(pairs).unwrap_or_default())
}

/// The parts of a list state a view compares: filters (any order), sort, columns.
fn same_as_view(st: &ListState, cols: &[String], v: &View) -> bool {
    let saved = ListState::parse(st.rt, Some(view_url(v).split_once('?').map(|x| x.1).unwrap_or("")));
    let mut a = st.filters.clone();
    let mut b = saved.filters.clone();
    a.sort();
    b.sort();
    let saved_cols: Vec<String> = v.columns.clone();
    a == b && st.sort == saved.sort && (cols == saved_cols.as_slice() || (cols.is_empty() && saved_cols.is_empty()))
}

async fn list_page(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    RawQuery(raw): RawQuery,
    rt: RecordType,
) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    let k = kind(rt);
    let st = ListState::parse(rt, raw.as_deref());
    let saved = views::list(&state.app, &ctx, rt).await.unwrap_or_default();
    let current = st.view.and_then(|id| saved.iter().find(|v| v.id == id));
    if st.only_view() {
        return match current {
            Some(v) => Redirect::to(&view_url(v)).into_response(),
            None => redirect_with(
                k.base,
                Flash::error("That saved view does not exist any more, or it is not shared with you."),
                state.config.secure_cookies,
            ),
        };
    }
    let custom = custom_fields::list(&state.app, &ctx, rt).await.unwrap_or_default();
    let defs = column_defs(rt, &custom);
    let mut problems = st.problems.clone();
    let unknown: Vec<&String> = st.cols.iter().filter(|c| !defs.iter().any(|d| &d.key == *c)).collect();
    if !unknown.is_empty() {
        let names: Vec<&str> = unknown.iter().map(|c| c.as_str()).collect();
        problems.push(format!("Some columns no longer exist and are not shown: {}.", names.join(", ")));
    }
    let chosen_keys: Vec<String> = if st.cols.is_empty() {
        vec![]
    } else {
        defs.iter().filter(|d| d.key == "name" || st.cols.contains(&d.key)).map(|d| d.key.clone()).collect()
    };
    let col_choices: Vec<ColChoice> = defs
        .iter()
        .map(|d| ColChoice {
            key: d.key.clone(),
            label: d.label.clone(),
            checked: if chosen_keys.is_empty() { d.default } else { chosen_keys.contains(&d.key) },
            fixed: d.key == "name",
        })
        .collect();
    let shown = shown_columns(defs, &chosen_keys);

    let filter = match st.list_filter(&state, &ctx).await {
        Ok(f) => Some(f),
        Err(m) => {
            problems.push(m);
            None
        }
    };
    let after = match st.cursor.as_deref() {
        Some(c) => match SortCursor::decode(c, &st.sort) {
            Some(c) => Some(c),
            None => {
                problems.push("That page link is out of date; here is the first page.".into());
                None
            }
        },
        None => None,
    };
    let page = SortedPageRequest::new(Some(PAGE_SIZE), after);
    let people = People::load(&state, &ctx).await;
    let (rows, next) = match &filter {
        Some(f) => match rows_of(&state, &ctx, rt, f, &st.sort, &page, &shown, &people).await {
            Ok(r) => r,
            Err(e) => return load_error(e),
        },
        None => (vec![], None),
    };

    // Headings: a click sorts by the column (again: the other way round).
    let primary = st.sort.keys().first().copied();
    let columns: Vec<HeaderView> = shown
        .iter()
        .map(|d| {
            let field = d.sort.and_then(|s| Sort::parse(rt, s).ok()).and_then(|s| s.keys().first().map(|k| k.0));
            let rank = field.and_then(|f| st.sort.keys().iter().position(|(k, _)| *k == f)).map_or(0, |i| i + 1);
            let desc = field.and_then(|f| st.sort.keys().iter().find(|(k, _)| *k == f).map(|k| k.1));
            let sort_url = match (d.sort, field) {
                (Some(name), Some(f)) => {
                    let next = if primary == Some((f, false)) { format!("-{name}") } else { name.to_string() };
                    st.url_with(Some(&next), &chosen_keys, None)
                }
                _ => String::new(),
            };
            HeaderView {
                label: d.label.clone(),
                class: match (d.num, d.opt) {
                    (true, _) => "num",
                    (_, true) => "col-opt",
                    _ => "",
                },
                sort_url,
                sort_key: d.sort.unwrap_or(""),
                aria_sort: match desc {
                    _ if rank != 1 => "none",
                    Some(true) => "descending",
                    _ => "ascending",
                },
                rank,
                arrow: match desc {
                    Some(true) => "↓",
                    Some(false) => "↑",
                    None => "",
                },
                multi: st.sort.keys().len() > 1,
            }
        })
        .collect();

    // The sort menu: three selects, each field both ways.
    let keys = st.sort.keys();
    let sort_selects = ["sort1", "sort2", "sort3"]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let current = keys.get(i).map(|(f, d)| format!("{}{}", if *d { "-" } else { "" }, f.name(rt)));
            let current = current.unwrap_or_default();
            let mut opts = vec![Opt::new("", if i == 0 { "Most recently updated" } else { "—" }, &current)];
            for (name, f) in SortField::all(rt) {
                for desc in [false, true] {
                    let value = format!("{}{name}", if desc { "-" } else { "" });
                    let label = format!("{} {}", field_label(rt, *f), direction_words(*f, desc));
                    opts.push(Opt::new(value, label, &current));
                }
            }
            SortSelect { name, label: ["Sort by", "then by", "then by"][i], opts }
        })
        .collect();
    let sort_text = keys
        .iter()
        .map(|(f, d)| format!("{} {}", field_label(rt, *f), direction_words(*f, *d)))
        .collect::<Vec<_>>()
        .join(", then ");

    // Saved views: the user's own, then the shared ones of others.
    let me = ctx.user_id();
    let link = |v: &View| ViewLink {
        name: v.name.clone(),
        url: format!("{}?view={}", k.base, v.id),
        current: Some(v.id) == st.view,
        shared: v.shared,
    };
    let views_mine: Vec<ViewLink> = saved.iter().filter(|v| v.owner_id == me).map(link).collect();
    let views_shared: Vec<ViewLink> = saved.iter().filter(|v| v.owner_id != me).map(link).collect();
    let current_view = current.map(|v| CurrentView {
        id: v.id.to_string(),
        name: v.name.clone(),
        shared: v.shared,
        can_change: views::can_change(&ctx, v),
        changed: !same_as_view(&st, &chosen_keys, v),
    });
    let view_label = current.map(|v| v.name.clone()).unwrap_or_else(|| format!("All {}", k.many));

    let tags =
        if rt == RecordType::Deal { vec![] } else { super::contacts::tag_opts(&state, &ctx, st.filter("tag")).await };
    let (pipelines, statuses) = if rt == RecordType::Deal {
        let current = st.filter("pipeline");
        let all = pipelines::list(&state.app, &ctx).await.unwrap_or_default();
        let mut p = vec![Opt::new("", "All pipelines", current)];
        p.extend(all.iter().map(|x| Opt::new(x.id.to_string(), x.name.clone(), current)));
        let status = st.filter("status");
        let mut s = vec![Opt::new("", "Any status", status)];
        s.extend([("open", "Open"), ("won", "Won"), ("lost", "Lost")].iter().map(|(v, l)| Opt::new(*v, *l, status)));
        (p, s)
    } else {
        (vec![], vec![])
    };
    let here = st.url_with(None, &chosen_keys, st.cursor.as_deref());
    let mut no_sort = st.clone();
    no_sort.sort_given = false;
    let shell = Shell::build(&state, &ui, &auth, Some(&ctx), k.title, k.many, "").await;
    let members = people.opts("");
    render(&RecordListPage {
        k,
        is_deal: rt == RecordType::Deal,
        columns,
        rows,
        next_url: next.map(|c| st.url_with(None, &chosen_keys, Some(&c.encode()))),
        problem: (!problems.is_empty()).then(|| problems.join(" ")),
        filtered: !st.filters.is_empty(),
        clear_url: {
            let mut bare = st.clone();
            bare.filters.clear();
            bare.url_with(None, &chosen_keys, None)
        },
        export_qs: st.filter_qs(),
        tags,
        pipelines,
        statuses,
        mine: st.mine(),
        keep_for_filters: st.hidden("filters", &chosen_keys),
        keep_for_sort: st.hidden("sort", &chosen_keys),
        keep_for_cols: st.hidden("cols", &chosen_keys),
        sort_param: st.sort.to_param(),
        sort_text,
        sort_base: no_sort.url_with(None, &chosen_keys, None),
        sort_selects,
        col_choices,
        views_mine,
        views_shared,
        current_view,
        view_label,
        view_query: st.view_query(),
        view_cols: chosen_keys.join(","),
        can_share: ctx.can(kith_domain::Action::WriteRecords),
        filter_query: serde_urlencoded::to_string(&st.filters).unwrap_or_default(),
        here,
        members,
        board_url: format!("/deals/board{}", query_string(&[("pipeline", st.filter("pipeline"))])),
        shell,
    })
}

/// One page of rows, drawn in the shown columns.
#[allow(clippy::too_many_arguments)]
async fn rows_of(
    state: &WebState,
    ctx: &Context,
    rt: RecordType,
    filter: &ListFilter,
    sort: &Sort,
    page: &SortedPageRequest,
    shown: &[ColumnDef],
    people: &People,
) -> Result<(Vec<RowView>, Option<SortCursor>), AppError> {
    match rt {
        RecordType::Contact => {
            let list = contacts::list_sorted(&state.app, ctx, filter, sort, page).await?;
            let mut names: HashMap<Uuid, String> = HashMap::new();
            for id in list.items.iter().filter_map(|c| c.company_id) {
                if let std::collections::hash_map::Entry::Vacant(slot) = names.entry(id) {
                    if let Ok(c) = companies::get(&state.app, ctx, id).await {
                        slot.insert(c.name);
                    }
                }
            }
            let rows = list
                .items
                .iter()
                .map(|c| {
                    let cells = shown
                        .iter()
                        .map(|d| match d.key.as_str() {
                            "name" => {
                                Cell::new("name", &c.display_name).url(format!("/contacts/{}", c.id)).class("col-name")
                            }
                            "email" => {
                                let e = c.emails.first().map(|e| e.value.clone()).unwrap_or_default();
                                Cell::new("mail", e.clone()).url(format!("mailto:{e}")).class("clip")
                            }
                            "phone" => match c.phones.first() {
                                Some(p) => Cell::new("tel", fmt_phone(&p.value))
                                    .url(format!("tel:{}", p.value))
                                    .class("nowrap"),
                                None => Cell::new("text", "").class("nowrap"),
                            },
                            "company" => Cell::link(c.company_id.and_then(|id| {
                                names.get(&id).map(|n| Link { url: format!("/companies/{id}"), name: n.clone() })
                            })),
                            "title" => Cell::new("text", c.title.clone().unwrap_or_default()).class("clip"),
                            "owner" => Cell::new("text", people.name(c.owner_id)).class("muted clip col-opt"),
                            "tags" => Cell::tags(tag_links("/contacts", &c.tags)),
                            "source" => Cell::new("text", c.source.clone().unwrap_or_default()).class("clip"),
                            "updated" => Cell::when(c.updated_at_ms, "Updated"),
                            "created" => Cell::when(c.created_at_ms, "Created"),
                            key => custom_cell(&c.custom, key, &d.label),
                        })
                        .collect();
                    RowView { id: c.id.to_string(), name: c.display_name.clone(), cells }
                })
                .collect();
            Ok((rows, list.next))
        }
        RecordType::Company => {
            let list = companies::list_sorted(&state.app, ctx, filter, sort, page).await?;
            let rows = list
                .items
                .iter()
                .map(|c| {
                    let cells = shown
                        .iter()
                        .map(|d| match d.key.as_str() {
                            "name" => Cell::new("name", &c.name).url(format!("/companies/{}", c.id)).class("col-name"),
                            "domain" => match &c.domain {
                                Some(dom) => Cell::new("ext", dom).url(format!("https://{dom}")).class("clip"),
                                None => Cell::new("text", "").class("clip"),
                            },
                            "industry" => Cell::new("text", c.industry.clone().unwrap_or_default()).class("clip"),
                            "owner" => Cell::new("text", people.name(c.owner_id)).class("muted clip col-opt"),
                            "tags" => Cell::tags(tag_links("/companies", &c.tags)),
                            "updated" => Cell::when(c.updated_at_ms, "Updated"),
                            "created" => Cell::when(c.created_at_ms, "Created"),
                            key => custom_cell(&c.custom, key, &d.label),
                        })
                        .collect();
                    RowView { id: c.id.to_string(), name: c.name.clone(), cells }
                })
                .collect();
            Ok((rows, list.next))
        }
        RecordType::Deal => {
            let list = deals::list_sorted(&state.app, ctx, filter, sort, page).await?;
            let stages = Stages::load(state, ctx).await;
            let mut names: HashMap<Uuid, String> = HashMap::new();
            if shown.iter().any(|d| d.key == "company") {
                for id in list.items.iter().filter_map(|d| d.company_id) {
                    if let std::collections::hash_map::Entry::Vacant(slot) = names.entry(id) {
                        if let Ok(c) = companies::get(&state.app, ctx, id).await {
                            slot.insert(c.name);
                        }
                    }
                }
            }
            let rows = list
                .items
                .iter()
                .map(|d| {
                    let cells = shown
                        .iter()
                        .map(|col| match col.key.as_str() {
                            "name" => Cell::new("name", &d.title).url(format!("/deals/{}", d.id)).class("col-name"),
                            "value" => Cell::new("text", fmt_money(d.value_minor, &d.currency)).class("num nowrap"),
                            "stage" => Cell::new("text", stages.name(d.stage_id)).class("clip"),
                            "status" => Cell::new("badge", d.status.as_str()),
                            "owner" => Cell::new("text", people.name(d.owner_id)).class("muted clip col-opt"),
                            "company" => Cell::link(d.company_id.and_then(|id| {
                                names.get(&id).map(|n| Link { url: format!("/companies/{id}"), name: n.clone() })
                            })),
                            "expected_close" => Cell::new("text", d.expected_close.clone().unwrap_or_default())
                                .class("muted nowrap")
                                .label(if d.expected_close.is_some() { "Close" } else { "" }),
                            "tags" => Cell::tags(
                                d.tags.iter().map(|t| Link { url: String::new(), name: t.clone() }).collect(),
                            ),
                            "updated" => Cell::when(d.updated_at_ms, "Updated"),
                            "created" => Cell::when(d.created_at_ms, "Created"),
                            key => custom_cell(&d.custom, key, &col.label),
                        })
                        .collect();
                    RowView { id: d.id.to_string(), name: d.title.clone(), cells }
                })
                .collect();
            Ok((rows, list.next))
        }
    }
}

/// A custom field's value as text: lists joined, yes/no for checkboxes,
/// `EUR 12.50` for an amount with its currency.
fn custom_cell(custom: &serde_json::Map<String, Value>, key: &str, label: &str) -> Cell {
    let text = match key.strip_prefix("cf.").and_then(|k| custom.get(k)) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => if *b { "Yes" } else { "No" }.into(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
            .collect::<Vec<_>>()
            .join(", "),
        Some(Value::Object(o)) => match (o.get("amount"), o.get("currency").and_then(Value::as_str)) {
            (Some(a), Some(c)) => format!("{c} {a}"),
            _ => Value::Object(o.clone()).to_string(),
        },
    };
    let label = if text.is_empty() { "" } else { label };
    Cell::new("text", text).class("clip").label(label)
}

// ---------- saved views ----------

/// The save / change form of a view.
#[derive(serde::Deserialize, Default)]
pub struct ViewForm {
    #[serde(default)]
    record_type: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    shared: Option<String>,
    /// "1" when the form carries the sharing checkbox (unticked boxes send nothing).
    #[serde(default)]
    sharing: Option<String>,
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    cols: Option<String>,
    #[serde(default)]
    back: Option<String>,
}

fn split_cols(raw: &str) -> Vec<String> {
    raw.split(',').map(str::trim).filter(|c| !c.is_empty()).map(str::to_string).collect()
}

/// `POST /views`: save the list as it is now.
pub async fn create_view(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Form(f): Form<ViewForm>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(rt) = RecordType::parse(&f.record_type) else { return not_found_page() };
    let back = local_path(f.back.as_deref()).unwrap_or_else(|| kind(rt).base.to_string());
    let input = ViewInput {
        record_type: Some(rt),
        name: f.name.clone(),
        query: f.query.clone(),
        columns: f.cols.as_deref().map(split_cols),
        shared: Some(f.shared.is_some()),
    };
    match views::create(&state.app, &ctx, &input).await {
        Ok(v) => redirect_with(
            &view_url(&v),
            Flash::success(format!(
                "View {} saved{}.",
                v.name,
                if v.shared { "; everyone in the workspace can use it" } else { "; only you see it" }
            )),
            state.config.secure_cookies,
        ),
        Err(e) => done(&state, &back, Err(e), ""),
    }
}

/// `POST /views/{id}`: rename or share (name, shared), or keep the list as it
/// is now (query, cols).
pub async fn update_view(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
    Form(f): Form<ViewForm>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return not_found_page() };
    let input = ViewInput {
        record_type: None,
        name: f.name.clone(),
        query: f.query.clone(),
        columns: f.cols.as_deref().map(split_cols),
        shared: f.sharing.is_some().then_some(f.shared.is_some()),
    };
    let message =
        if input.query.is_some() { "View updated with this list's filters, sort and columns." } else { "View saved." };
    match views::update(&state.app, &ctx, id, &input, None).await {
        Ok(v) => redirect_with(&view_url(&v), Flash::success(message), state.config.secure_cookies),
        Err(AppError::NotFound) => not_found_page(),
        Err(e) => {
            let back = local_path(f.back.as_deref()).unwrap_or_else(|| "/contacts".into());
            done(&state, &back, Err(e), "")
        }
    }
}

/// `GET /views/{id}/delete`: the question, for browsers without the script's dialog.
pub async fn delete_view_page(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
) -> Response {
    let (auth, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return not_found_page() };
    let v = match views::get(&state.app, &ctx, id).await {
        Ok(v) => v,
        Err(e) => return load_error(e),
    };
    let k = kind(v.record_type);
    let shell = Shell::build(&state, &ui, &auth, Some(&ctx), "Delete view", k.many, "").await;
    render(&super::pages::ConfirmPage {
        shell,
        heading: format!("Delete the view {}?", v.name),
        message: if v.shared {
            format!("The view is gone for everyone it is shared with. The {} in it stay as they are.", k.many)
        } else {
            format!("The {} in it stay as they are; only the saved filters, sort and columns go.", k.many)
        },
        action: format!("/views/{id}/delete"),
        button: "Delete view".into(),
        cancel: view_url(&v),
    })
}

pub async fn delete_view(
    State(state): State<WebState>,
    Extension(ui): Extension<UiCtx>,
    Path(id): Path<String>,
) -> Response {
    let (_, ctx) = signed_in!(state, ui);
    let Some(id) = parse_id(&id) else { return not_found_page() };
    let v = match views::get(&state.app, &ctx, id).await {
        Ok(v) => v,
        Err(e) => return load_error(e),
    };
    let base = kind(v.record_type).base;
    match views::delete(&state.app, &ctx, id).await {
        Ok(()) => redirect_with(base, Flash::success(format!("View {} deleted.", v.name)), state.config.secure_cookies),
        Err(e) => done(&state, &view_url(&v), Err(e), ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip() {
        let st = ListState::parse(
            RecordType::Contact,
            Some("tag=vip&mine=1&sort=last_name%2C-updated_at&cols=name,email,cf.tier&view=&cursor=&cf.tier=Gold"),
        );
        assert_eq!(
            st.filters,
            vec![("tag".into(), "vip".into()), ("cf.tier".into(), "Gold".into()), ("owner".into(), "me".into())]
        );
        assert!(st.mine() && st.sort_given);
        assert_eq!(st.sort.to_param(), "last_name,-updated_at");
        assert_eq!(st.cols, vec!["name", "email", "cf.tier"]);
        assert_eq!(st.view_query(), "tag=vip&cf.tier=Gold&owner=me&sort=last_name%2C-updated_at");
        let st = ListState::parse(RecordType::Contact, Some("sort1=title&sort2=-created_at&sort3="));
        assert_eq!(st.sort.to_param(), "title,-created_at");
        let st = ListState::parse(RecordType::Deal, Some("sort=-updated_at&view=0193a0e8-6d6e-7c3a-9c1e-2b3c4d5e6f70"));
        assert!(!st.sort_given && !st.only_view(), "a view's address names its sort: no redirect loop");
        assert!(ListState::parse(RecordType::Deal, Some("view=0193a0e8-6d6e-7c3a-9c1e-2b3c4d5e6f70")).only_view());
        let st = ListState::parse(RecordType::Deal, Some("sort=nonsense"));
        assert_eq!(st.problems.len(), 1);
        assert_eq!(st.sort, Sort::default_for(RecordType::Deal));
    }
}
