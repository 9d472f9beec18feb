//! The audit trail: who did what, to what, from where, and how it ended.

use super::{Db, DbError};
use surrealdb::types::SurrealValue;

/// One event to record.
#[derive(Debug, Clone, Default)]
pub struct AuditEntry {
    pub actor_key: Option<String>,
    pub actor_email: Option<String>,
    /// A stable dotted name: `login`, `user.create`, `user.disable`, …
    pub action: &'static str,
    pub target: Option<String>,
    pub ip: Option<String>,
    /// `ok`, `denied` or `failed`.
    pub outcome: &'static str,
    /// For people without an account: `participant:<key>`.
    pub actor_participant: Option<String>,
}

/// An event as read back.
#[derive(Debug, Clone, SurrealValue)]
pub struct AuditRow {
    pub action: String,
    pub actor_email: Option<String>,
    pub target: Option<String>,
    pub outcome: String,
}

/// An event with everything an administrator reads.
#[derive(Debug, Clone, SurrealValue)]
pub struct AuditEventRow {
    pub at: chrono::DateTime<chrono::Utc>,
    pub action: String,
    pub actor_email: Option<String>,
    #[surreal(default)]
    pub actor_participant: Option<String>,
    #[surreal(default)]
    pub actor_key: Option<String>,
    pub target: Option<String>,
    pub ip: Option<String>,
    pub outcome: String,
}

impl AuditEntry {
    /// An event by a signed-in staff member, from where the request came.
    pub fn by_staff(
        who: &app::domain::Principal,
        action: &'static str,
        target: String,
        client: &app::ssr::ClientInfo,
        outcome: &'static str,
    ) -> Self {
        Self {
            actor_key: Some(who.user_id.0.clone()),
            actor_email: Some(who.email.clone()),
            action,
            target: Some(target),
            ip: client.ip.map(|ip| ip.to_string()),
            outcome,
            actor_participant: None,
        }
    }

    /// An event by someone not (yet) known: a refused sign-in.
    pub fn anonymous(
        action: &'static str,
        target: String,
        client: &app::ssr::ClientInfo,
        outcome: &'static str,
    ) -> Self {
        Self {
            action,
            target: Some(target),
            ip: client.ip.map(|ip| ip.to_string()),
            outcome,
            ..Self::default()
        }
    }

    /// An event by an API key (the REST API, FHIR, webhooks' management).
    pub fn by_api_key(
        key: &str,
        action: &'static str,
        target: String,
        client: &app::ssr::ClientInfo,
    ) -> Self {
        Self {
            actor_key: Some(format!("api_key:{key}")),
            actor_email: None,
            action,
            target: Some(target),
            ip: client.ip.map(|ip| ip.to_string()),
            outcome: "ok",
            actor_participant: None,
        }
    }
}

impl Db {
    /// Records an event; a failure to record is logged, never shown to
    /// the person acting (their action already happened).
    pub async fn audit_or_log(&self, entry: AuditEntry) {
        let action = entry.action;
        if let Err(error) = self.audit(entry).await {
            tracing::error!(%error, action, "could not write an audit event");
        }
    }

    pub async fn audit(&self, entry: AuditEntry) -> Result<(), DbError> {
        self.inner
            .query(
                "CREATE audit SET actor = IF $actor THEN type::record('user', $actor) ELSE NONE END, \
                 actor_email = $email, action = $action, target = $target, ip = $ip, outcome = $outcome, \
                 actor_participant = $participant",
            )
            .bind(("actor", entry.actor_key))
            .bind(("email", entry.actor_email))
            .bind(("action", entry.action.to_string()))
            .bind(("target", entry.target))
            .bind(("ip", entry.ip))
            .bind(("outcome", entry.outcome.to_string()))
            .bind(("participant", entry.actor_participant))
            .await?
            .check()?;
        Ok(())
    }

    /// The newest `limit` events whose action starts with `action` and
    /// whose outcome is `outcome` (empty: any).
    pub async fn audit_events(
        &self,
        action: &str,
        outcome: &str,
        limit: i64,
    ) -> Result<Vec<AuditEventRow>, DbError> {
        Ok(self
            .inner
            .query(
                "SELECT at, action, actor_email, actor_participant, IF actor THEN record::id(actor) ELSE NONE END AS actor_key,
                        target, ip, outcome FROM audit
                 WHERE string::starts_with(action, $action) AND ($outcome = '' OR outcome = $outcome)
                 ORDER BY at DESC LIMIT $limit",
            )
            .bind(("action", action.to_string()))
            .bind(("outcome", outcome.to_string()))
            .bind(("limit", limit))
            .await?
            .take(0)?)
    }

    /// Most recent events first.
    pub async fn recent_audit(&self, limit: i64) -> Result<Vec<AuditRow>, DbError> {
        Ok(self
            .inner
            .query("SELECT action, actor_email, target, outcome, at FROM audit ORDER BY at DESC LIMIT $limit")
            .bind(("limit", limit))
            .await?
            .take(0)?)
    }
}
