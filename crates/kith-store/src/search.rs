//! Global search over `search_docs` with the engine's full-text index,
//! through the one visibility filter.

use crate::dialect::{fulltext_query, search_head_sql};
use crate::sql::Sql;
use crate::visibility::push_filter;
use crate::{Db, Result};
use kith_domain::visibility::Viewer;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HitRow {
    pub record_type: String,
    pub record_id: Uuid,
    pub title: String,
    pub parent_type: Option<String>,
    pub parent_id: Option<Uuid>,
    pub updated_ms: i64,
    pub rank: f64,
}

/// The best `limit` documents the viewer may see, best first.
pub async fn search(
    db: &Db,
    viewer: &Viewer,
    prefix_words: &[String],
    exact_words: &[String],
    limit: i64,
) -> Result<Vec<HitRow>> {
    if prefix_words.is_empty() && exact_words.is_empty() {
        return Ok(vec![]);
    }
    let query = fulltext_query(db.backend(), prefix_words, exact_words);
    let mut sql = Sql::new("");
    // The head uses $1 and $2; bind them first so the numbering matches.
    sql.push_bound(search_head_sql(db.backend()), [query.into(), viewer.org_id.into()]);
    sql.push(" AND ");
    push_filter(&mut sql, "d", viewer);
    sql.push(" ORDER BY rank DESC, d.updated_ms DESC LIMIT ").bind(limit);
    sql.fetch_all(db).await
}
