//! The administrators' side of the API keys (`app::ssr::ApiKeyAdmin`): the
//! list with times in the clinic's zone, a new key shown once, revoking;
//! each written to the audit trail.

use super::keys::{ApiKeys, KeyError};
use chrono::{DateTime, Utc};

#[async_trait::async_trait]
impl app::ssr::ApiKeyAdmin for ApiKeys {
    async fn list(
        &self,
        who: &app::domain::Principal,
        client: &app::ssr::ClientInfo,
    ) -> Result<Vec<app::domain::ApiKeySummary>, app::error::AppError> {
        let rows = self.list().await.map_err(admin_error)?;
        self.audit_admin(who, "api_key.list", "api_keys".into(), client)
            .await;
        let at = |t: DateTime<Utc>| crate::timezones::short_in_zone(t, &self.timezone);
        Ok(rows
            .into_iter()
            .map(|row| app::domain::ApiKeySummary {
                id: row.key(),
                name: row.name.clone(),
                scopes: row.scopes.clone(),
                requests_per_minute: u32::try_from(row.rate_per_minute).unwrap_or(0),
                created_label: at(row.created_at),
                created_by: row.created_by.clone(),
                last_used_label: row.last_used_at.map_or_else(|| "never".into(), at),
                revoked_label: row.revoked_at.map(at),
            })
            .collect())
    }

    async fn create(
        &self,
        who: &app::domain::Principal,
        name: &str,
        scopes: Vec<String>,
        requests_per_minute: u32,
        client: &app::ssr::ClientInfo,
    ) -> Result<app::domain::CreatedApiKey, app::error::AppError> {
        let issued = self
            .create(name, &scopes, requests_per_minute, &who.email)
            .await
            .map_err(admin_error)?;
        self.audit_admin(
            who,
            "api_key.create",
            format!("api_key:{}", issued.id),
            client,
        )
        .await;
        Ok(app::domain::CreatedApiKey {
            id: issued.id,
            key: issued.key,
        })
    }

    async fn revoke(
        &self,
        who: &app::domain::Principal,
        id: &str,
        client: &app::ssr::ClientInfo,
    ) -> Result<(), app::error::AppError> {
        self.revoke(id, Utc::now()).await.map_err(admin_error)?;
        self.audit_admin(who, "api_key.revoke", format!("api_key:{id}"), client)
            .await;
        Ok(())
    }
}

impl ApiKeys {
    async fn audit_admin(
        &self,
        who: &app::domain::Principal,
        action: &'static str,
        target: String,
        client: &app::ssr::ClientInfo,
    ) {
        self.db
            .audit_or_log(crate::db::AuditEntry::by_staff(
                who, action, target, client, "ok",
            ))
            .await;
    }
}

/// A key problem in the words of the admin page.
fn admin_error(error: KeyError) -> app::error::AppError {
    use app::error::AppError;
    match error {
        KeyError::Name => {
            AppError::invalid("name", "Say what uses the key, in 1 to 80 characters.")
        }
        KeyError::NoScope | KeyError::Scope(_) => {
            AppError::invalid("scopes", "Tick at least one thing the key may do.")
        }
        KeyError::NotFound(_) => {
            AppError::Conflict("This key does not exist or is already revoked.".into())
        }
        KeyError::Db(error) => {
            tracing::error!(%error, "API keys: database error");
            AppError::Internal
        }
    }
}
