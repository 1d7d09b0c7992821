//! The query string of contact, company and deal lists: paging, sort, tag,
//! owner, company (contacts), pipeline/stage/status (deals) and time filters,
//! and `cf.<key>[.gt|.lt]` custom-field filters.
//! Parsed by hand because custom-field keys are each workspace's own; every
//! parameter it does not know is a 422, so a typo never widens a list.

use crate::error::ApiError;
use crate::extract::ListQuery;
use kith_app::error::FieldError;
use kith_app::records::{CustomFilter, CustomOp, ListFilter, Sort, SortCursor, SortKey, SortedPageRequest};
use kith_app::{App, AppError, Context};
use kith_domain::crm::{check_date, FieldKind, RecordType};
use kith_domain::page::PageRequest;
use uuid::Uuid;

/// The documented parameters (the handlers parse with [`parse`]; this only
/// describes them in the OpenAPI document).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct RecordListParams {
    /// Page size, 1–200 (larger values are clamped to 200); default 50.
    limit: Option<u32>,
    /// The `next_cursor` of the previous page (with the same `sort`).
    cursor: Option<String>,
    /// Up to three fields, comma-separated, `-` for descending: e.g.
    /// `last_name,-updated_at`. Default `-updated_at`. Contacts sort by `name`,
    /// `first_name`, `last_name`, `title`, `source`; companies by `name`,
    /// `domain`, `industry`; deals by `title`, `value`, `status`,
    /// `expected_close`; all by `updated_at` and `created_at`. Text sorts
    /// ignore case; ties are broken by id.
    sort: Option<String>,
    /// Tag names, repeated or comma-separated; a record must carry all of them.
    tag: Option<Vec<String>>,
    /// A user id, or `me`.
    owner: Option<String>,
    /// Only records changed at or after this time (ms since 1970).
    updated_since: Option<i64>,
}

/// The `company` filter, which only contacts have.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct CompanyParam {
    /// Only contacts of this company (its id).
    company: Option<Uuid>,
}

/// The filters only deals have.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct DealParams {
    /// Only deals in this pipeline (its id).
    pipeline: Option<Uuid>,
    /// Only deals in this stage (its id).
    stage: Option<Uuid>,
    /// `open`, `won` or `lost`.
    status: Option<String>,
}

/// What a list request asks for, ready for `kith_app::crm::*::list`.
#[derive(Debug)]
pub struct RecordQuery {
    pub filter: ListFilter,
    pub sort: SortKey,
    pub page: PageRequest,
    /// An order other than one of the four time orders (several keys, or a
    /// name, value…): list with `list_sorted` and this page instead.
    pub sorted: Option<(Sort, SortedPageRequest)>,
}

/// One `cf.…` parameter before its field is looked up.
struct CustomParam<'a> {
    param: &'a str,
    key: &'a str,
    op: CustomOp,
    value: &'a str,
}

/// Parse the raw query string of a `record_type` list. All problems are
/// reported at once, each naming its parameter.
pub async fn parse(
    app: &App,
    ctx: &Context,
    raw: Option<&str>,
    record_type: RecordType,
) -> Result<RecordQuery, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))?;
    let mut errors = Vec::new();

    let (mut limit, mut cursor, mut sort, mut owner, mut company, mut since) = (None, None, None, None, None, None);
    let (mut pipeline, mut stage, mut status) = (None, None, None);
    let mut tag_names: Vec<&str> = Vec::new();
    let mut custom: Vec<CustomParam> = Vec::new();
    for (name, value) in &pairs {
        let slot = match name.as_str() {
            "limit" => &mut limit,
            "cursor" => &mut cursor,
            "sort" => &mut sort,
            "owner" => &mut owner,
            "company" if record_type == RecordType::Contact => &mut company,
            "pipeline" if record_type == RecordType::Deal => &mut pipeline,
            "stage" if record_type == RecordType::Deal => &mut stage,
            "status" if record_type == RecordType::Deal => &mut status,
            "updated_since" => &mut since,
            "tag" => {
                tag_names.extend(value.split(',').map(str::trim).filter(|t| !t.is_empty()));
                continue;
            }
            n if n.starts_with("cf.") => {
                let rest = &n[3..];
                let (key, op) = match rest.rsplit_once('.') {
                    Some((k, "gt")) => (k, CustomOp::Gt),
                    Some((k, "lt")) => (k, CustomOp::Lt),
                    _ => (rest, CustomOp::Eq),
                };
                custom.push(CustomParam { param: n, key, op, value });
                continue;
            }
            other => {
                bad(&mut errors, other, "is not a parameter of this list");
                continue;
            }
        };
        // An empty value is the same as none (clients often send `cursor=`).
        if value.is_empty() {
            continue;
        }
        if slot.replace(value.as_str()).is_some() {
            bad(&mut errors, name, "is given more than once");
        }
    }

    let legacy = match sort {
        None | Some("-updated_at") => Some(SortKey::UpdatedDesc),
        Some("updated_at") => Some(SortKey::UpdatedAsc),
        Some("-created_at") => Some(SortKey::CreatedDesc),
        Some("created_at") => Some(SortKey::CreatedAsc),
        Some(_) => None,
    };
    let mut sorted = None;
    let page = if legacy.is_some() {
        match (ListQuery { limit: limit.map(str::to_string), cursor: cursor.map(str::to_string) }).page() {
            Ok(p) => p,
            Err(e) => {
                errors.extend(e.fields);
                PageRequest::default()
            }
        }
    } else {
        match Sort::parse(record_type, sort.unwrap_or_default()) {
            Ok(order) => {
                let limit = match crate::extract::parse_limit(limit) {
                    Ok(l) => l,
                    Err(e) => {
                        errors.extend(e.fields);
                        None
                    }
                };
                let after = cursor.and_then(|c| {
                    let decoded = SortCursor::decode(c, &order);
                    if decoded.is_none() {
                        bad(&mut errors, "cursor", "is not a cursor of this list and sort");
                    }
                    decoded
                });
                sorted = Some((order, SortedPageRequest::new(limit, after)));
            }
            Err(message) => bad(&mut errors, "sort", &message),
        }
        PageRequest::default()
    };
    let sort = legacy.unwrap_or_default();
    let owner_id = match owner {
        None => None,
        Some("me") => Some(ctx.user_id()),
        Some(s) => Uuid::try_parse(s).map_err(|_| bad(&mut errors, "owner", "must be a user id or `me`")).ok(),
    };
    let company_id =
        company.and_then(|s| Uuid::try_parse(s).map_err(|_| bad(&mut errors, "company", "must be a company id")).ok());
    let pipeline_id = pipeline
        .and_then(|s| Uuid::try_parse(s).map_err(|_| bad(&mut errors, "pipeline", "must be a pipeline id")).ok());
    let stage_id =
        stage.and_then(|s| Uuid::try_parse(s).map_err(|_| bad(&mut errors, "stage", "must be a stage id")).ok());
    let status = match status {
        None => None,
        Some(s @ ("open" | "won" | "lost")) => Some(s.to_string()),
        Some(_) => {
            bad(&mut errors, "status", "must be open, won or lost");
            None
        }
    };
    let updated_since_ms = since.and_then(|s| {
        let ms = s.parse::<i64>().ok().filter(|n| *n >= 0);
        if ms.is_none() {
            bad(&mut errors, "updated_since", "must be a time in milliseconds since 1970");
        }
        ms
    });

    let mut tag_ids = Vec::new();
    for name in tag_names {
        // An unknown tag matches no record. Filtering on an id no tag has keeps
        // the answer (an empty page) and the permission check with the app.
        let id = kith_app::crm::tags::id_by_name(app, ctx, name).await?.unwrap_or(Uuid::nil());
        if !tag_ids.contains(&id) {
            tag_ids.push(id);
        }
    }

    let mut custom_filters = Vec::new();
    if !custom.is_empty() {
        let fields = kith_app::crm::custom_fields::list(app, ctx, record_type).await?;
        for c in custom {
            let Some(field) = fields.iter().find(|f| f.key == c.key) else {
                let message = format!("{:?} is not a {} custom field", c.key, record_type.as_str());
                bad(&mut errors, c.param, &message);
                continue;
            };
            match filter_value(field.kind, &field.options, c.op, c.value) {
                Ok((text, number)) => custom_filters.push(CustomFilter { field_id: field.id, op: c.op, text, number }),
                Err(message) => bad(&mut errors, c.param, &message),
            }
        }
    }

    if !errors.is_empty() {
        return Err(AppError::Validation(errors).into());
    }
    let filter = ListFilter {
        tag_ids,
        owner_id,
        company_id,
        pipeline_id,
        stage_id,
        status,
        custom: custom_filters,
        updated_since_ms,
        ids: vec![],
    };
    Ok(RecordQuery { filter, sort, page, sorted })
}

fn bad(errors: &mut Vec<FieldError>, field: &str, message: &str) {
    errors.push(FieldError { field: field.into(), message: message.into() });
}

/// The typed value a filter compares with, in the form kith-app stores
/// (`kith_domain::crm::check_custom_value`): text lower-cased for text
/// fields, numbers for numbers, currencies (their amount) and checkboxes.
fn filter_value(
    kind: FieldKind,
    options: &[String],
    op: CustomOp,
    value: &str,
) -> Result<(Option<String>, Option<f64>), String> {
    let number =
        || value.trim().parse::<f64>().ok().filter(|n| n.is_finite()).ok_or_else(|| "must be a number".to_string());
    match (kind, op) {
        (FieldKind::Number | FieldKind::Currency, _) => Ok((None, Some(number()?))),
        (FieldKind::Date, _) => {
            check_date(value)?;
            Ok((Some(value.to_string()), None))
        }
        (_, CustomOp::Gt | CustomOp::Lt) => {
            Err("only number, currency and date fields compare with .gt and .lt".into())
        }
        (FieldKind::Text, CustomOp::Eq) => Ok((Some(value.to_lowercase()), None)),
        (FieldKind::Select | FieldKind::MultiSelect, CustomOp::Eq) => {
            // Options are stored as defined; match them without regard to case,
            // and still allow a value that is no longer an option.
            let option = options.iter().find(|o| o.eq_ignore_ascii_case(value)).map_or(value, String::as_str);
            Ok((Some(option.to_string()), None))
        }
        (FieldKind::Checkbox, CustomOp::Eq) => match value {
            "true" => Ok((None, Some(1.0))),
            "false" => Ok((None, Some(0.0))),
            _ => Err("must be true or false".into()),
        },
        (FieldKind::Url, CustomOp::Eq) => Ok((Some(value.trim().to_string()), None)),
        (FieldKind::Email, CustomOp::Eq) => kith_domain::validate::normalize_email(value)
            .map(|e| (Some(e), None))
            .ok_or_else(|| "must be an e-mail address".to_string()),
        (FieldKind::Phone, CustomOp::Eq) => {
            kith_domain::phone::to_e164(value, "").map(|e| (Some(e), None)).map_err(|e| e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_values_take_the_stored_form() {
        let opts = vec!["Gold".to_string()];
        assert_eq!(filter_value(FieldKind::Text, &[], CustomOp::Eq, "ACME"), Ok((Some("acme".into()), None)));
        assert_eq!(filter_value(FieldKind::Select, &opts, CustomOp::Eq, "gold"), Ok((Some("Gold".into()), None)));
        assert_eq!(filter_value(FieldKind::Number, &[], CustomOp::Gt, "5"), Ok((None, Some(5.0))));
        assert!(filter_value(FieldKind::Number, &[], CustomOp::Eq, "five").is_err());
        assert!(filter_value(FieldKind::Number, &[], CustomOp::Eq, "NaN").is_err());
        assert!(filter_value(FieldKind::Date, &[], CustomOp::Lt, "2026-02-30").is_err());
        assert!(filter_value(FieldKind::Text, &[], CustomOp::Gt, "a").is_err());
        assert_eq!(filter_value(FieldKind::Checkbox, &[], CustomOp::Eq, "true"), Ok((None, Some(1.0))));
    }
}
