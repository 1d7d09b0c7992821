//! Batch create and update of contacts, companies and deals: up to 1,000
//! items per request, one result per item. Each item succeeds or fails on
//! its own (a bad item does not undo the good ones), with the same rules and
//! error codes as the single-record endpoints.

use crate::error::{status_of, ApiError, ErrorBody, ErrorDetail};
use crate::extract::ApiJson;
use crate::state::WebState;
use axum::extract::State;
use axum::{Extension, Json};
use kith_app::crm::{companies, contacts, deals};
use kith_app::{App, Context, ErrorCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::future::Future;
use utoipa::ToSchema;
use uuid::Uuid;

pub const MAX_ITEMS: usize = 1_000;
/// A full batch of large records stays well under this.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchCreate {
    /// Up to 1,000 objects, each shaped like the single create body.
    #[schema(value_type = Vec<Object>)]
    pub create: Vec<Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchUpdateItem {
    pub id: Uuid,
    /// Like `If-Match`: the change applies only at this version.
    #[serde(default)]
    pub if_version: Option<i64>,
    /// Shaped like the single PATCH body.
    #[schema(value_type = Object)]
    pub changes: Value,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchUpdate {
    pub update: Vec<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchItemResult {
    /// Position of the item in the request.
    pub index: usize,
    /// The HTTP status the item would have had on its own.
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResult {
    pub succeeded: usize,
    pub failed: usize,
    pub results: Vec<BatchItemResult>,
}

fn too_many(len: usize) -> Result<(), ApiError> {
    if len == 0 || len > MAX_ITEMS {
        let mut e = ApiError::new(ErrorCode::ValidationFailed, format!("send 1 to {MAX_ITEMS} items"));
        e.fields
            .push(kith_app::error::FieldError { field: "items".into(), message: format!("1 to {MAX_ITEMS} items") });
        return Err(e);
    }
    Ok(())
}

/// Parse one item; a shape error is that item's 422.
fn parse<T: DeserializeOwned>(index: usize, v: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let mut err = ApiError::new(ErrorCode::ValidationFailed, format!("item {index}: {}", e.inner()));
        err.fields.push(kith_app::error::FieldError {
            field: if path == "." { "item".into() } else { path },
            message: e.inner().to_string(),
        });
        err
    })
}

async fn run_items<T, F, Fut, O>(items: Vec<Value>, ok_status: u16, mut f: F) -> BatchResult
where
    T: DeserializeOwned,
    F: FnMut(T) -> Fut,
    Fut: Future<Output = Result<O, kith_app::AppError>>,
    O: Serialize,
{
    let mut results = Vec::with_capacity(items.len());
    let (mut succeeded, mut failed) = (0, 0);
    for (index, item) in items.into_iter().enumerate() {
        let outcome = match parse::<T>(index, item) {
            Ok(input) => f(input).await.map_err(ApiError::from),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(o) => {
                succeeded += 1;
                results.push(BatchItemResult {
                    index,
                    status: ok_status,
                    data: Some(serde_json::to_value(o).unwrap_or(Value::Null)),
                    error: None,
                });
            }
            Err(e) => {
                failed += 1;
                results.push(BatchItemResult {
                    index,
                    status: status_of(e.code).as_u16(),
                    data: None,
                    error: Some(e.detail()),
                });
            }
        }
    }
    BatchResult { succeeded, failed, results }
}

async fn update_items<T, F, Fut, O>(app: &App, ctx: &Context, items: Vec<Value>, f: F) -> BatchResult
where
    T: DeserializeOwned,
    F: Fn(App, Context, Uuid, T, Option<i64>) -> Fut,
    Fut: Future<Output = Result<O, kith_app::AppError>>,
    O: Serialize,
{
    run_items::<BatchUpdateItem, _, _, O>(items, 200, |item| {
        let parsed = parse::<T>(0, item.changes);
        let fut = parsed.map(|changes| f(app.clone(), ctx.clone(), item.id, changes, item.if_version));
        async move {
            match fut {
                Ok(fut) => fut.await,
                Err(e) => Err(kith_app::AppError::Validation(e.fields)),
            }
        }
    })
    .await
}

macro_rules! batch_endpoints {
    ($create:ident, $update:ident, $path:literal, $tag:literal, $module:ident, $input:ty) => {
        #[doc = concat!("Create up to 1,000 ", $tag, " at once; one result per item.")]
        #[utoipa::path(post, path = $path, tag = $tag, request_body = BatchCreate,
            responses((status = 200, body = BatchResult), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
            security(("bearer" = [])))]
        pub async fn $create(
            State(state): State<WebState>,
            Extension(ctx): Extension<Context>,
            ApiJson(body): ApiJson<BatchCreate>,
        ) -> Result<Json<BatchResult>, ApiError> {
            too_many(body.create.len())?;
            let (app, ctx) = (&state.app, &ctx);
            Ok(Json(run_items::<$input, _, _, _>(body.create, 201, |input| async move { $module::create(app, ctx, &input).await }).await))
        }

        #[doc = concat!("Change up to 1,000 ", $tag, " at once (`id`, optional `if_version`, `changes`).")]
        #[utoipa::path(patch, path = $path, tag = $tag, request_body = BatchUpdate,
            responses((status = 200, body = BatchResult), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
            security(("bearer" = [])))]
        pub async fn $update(
            State(state): State<WebState>,
            Extension(ctx): Extension<Context>,
            ApiJson(body): ApiJson<BatchUpdate>,
        ) -> Result<Json<BatchResult>, ApiError> {
            too_many(body.update.len())?;
            Ok(Json(
                update_items::<$input, _, _, _>(&state.app, &ctx, body.update, |app, ctx, id, changes, v| async move {
                    $module::update(&app, &ctx, id, &changes, v).await
                })
                .await,
            ))
        }
    };
}

batch_endpoints!(
    create_contacts,
    update_contacts,
    "/api/v1/contacts/batch",
    "contacts",
    contacts,
    contacts::ContactInput
);
batch_endpoints!(
    create_companies,
    update_companies,
    "/api/v1/companies/batch",
    "companies",
    companies,
    companies::CompanyInput
);
batch_endpoints!(create_deals, update_deals, "/api/v1/deals/batch", "deals", deals, deals::DealInput);
