//! The one visibility filter (rules in `kith_domain::visibility`), rendered
//! as SQL for any table alias that has the four visibility columns
//! (`visibility`, `owner_id`, `team_id`, `created_by`). Lists, search,
//! timelines, exports and matching all call this; none filters afterwards.

use crate::sql::Sql;
use kith_domain::visibility::Viewer;

/// Append `(condition)` for rows of alias `t` that `viewer` may see.
pub fn push_filter(sql: &mut Sql, t: &str, viewer: &Viewer) {
    let me = viewer.user_id;
    if viewer.sees_all_shared {
        sql.push(&format!("({t}.visibility <> 'personal' OR {t}.created_by = ")).bind(me).push(")");
        return;
    }
    sql.push(&format!("(({t}.visibility = 'personal' AND {t}.created_by = "))
        .bind(me)
        .push(&format!(") OR ({t}.visibility <> 'personal' AND ({t}.owner_id = "))
        .bind(me)
        .push(" OR (NOT EXISTS (SELECT 1 FROM memberships vm WHERE vm.org_id = ")
        .bind(viewer.org_id)
        .push(" AND vm.user_id = ")
        .bind(me)
        .push(&format!(
            " AND vm.own_records_only) AND ({t}.visibility = 'everyone' OR ({t}.visibility = 'team' AND {t}.team_id IN \
             (SELECT vt.team_id FROM team_members vt WHERE vt.org_id = "
        ))
        .bind(viewer.org_id)
        .push(" AND vt.user_id = ")
        .bind(me)
        .push(")))))))");
}
