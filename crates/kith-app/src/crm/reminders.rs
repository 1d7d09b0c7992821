//! Task reminders: a job every minute e-mails the assignee (or, for an
//! unassigned task, its creator) of each open task whose reminder time has
//! come, once. Marking a task reminded and queueing its mail happen in one
//! transaction, so a reminder is neither lost nor sent twice when several
//! nodes run workers. Without SMTP the task is still marked reminded (the
//! task inbox shows what is due); a person no longer in the workspace gets
//! nothing. The mail carries the task's title and times, never the notes of
//! the record it hangs off.

use crate::worker::{JobError, Registry};
use crate::{App, Result};
use kith_domain::time::{now_ms, UtcDateTime};
use kith_store::tasks::{self as rows, TaskRow};

pub const JOB: &str = "crm.task_reminders";
pub const SCHEDULE: &str = "task-reminders";
pub const CRON: &str = "* * * * *";
/// Reminders handled per pass; a pass continues until none are due.
const BATCH: i64 = 200;

pub fn register(registry: &mut Registry) {
    registry.register(JOB, |app: App, _job| async move {
        send_due(&app, now_ms()).await.map(|_| ()).map_err(|e| JobError::from(e.to_string()))
    });
}

/// Send every reminder due at `now`; how many mails were queued.
pub async fn send_due(app: &App, now: i64) -> Result<u64> {
    let mut queued = 0;
    loop {
        let due = rows::due_reminders(app.db(), now, BATCH).await?;
        for task in &due {
            queued += remind(app, task, now).await? as u64;
        }
        if (due.len() as i64) < BATCH {
            return Ok(queued);
        }
    }
}

async fn remind(app: &App, task: &TaskRow, now: i64) -> Result<bool> {
    let person = task.assignee_id.unwrap_or(task.created_by);
    let member = kith_store::members::get_member(app.db(), task.org_id, person).await?;
    let mut tx = app.db().begin().await?;
    if !rows::mark_reminded(&mut tx, task.id, now).await? {
        // Another worker got to it first.
        tx.rollback().await?;
        return Ok(false);
    }
    let queued = match member {
        Some(m) => {
            let (subject, text) = reminder_mail(app, task);
            crate::mail::queue(app, &mut tx, &m.email, &subject, &text).await?
        }
        None => false,
    };
    tx.commit().await?;
    Ok(queued)
}

fn reminder_mail(app: &App, task: &TaskRow) -> (String, String) {
    let title: String = task.title.chars().take(120).collect();
    let mut text = format!("Reminder: {title}\n");
    if let Some(due) = task.due_ms {
        let t = UtcDateTime::from_ms(due);
        text += &format!("Due: {} {:02}:{:02} UTC\n", t.date(), t.hour, t.minute);
    }
    text += &format!("\nOpen your tasks: {}/tasks?view=open\n", app.settings().public_url.trim_end_matches('/'));
    (format!("Reminder: {title}"), text)
}
