//! Queries on `api_key`: the keys integrators' software calls the REST API
//! with. Only a hash of each key's secret is stored.

use super::users::new_key;
use super::{Db, DbError, record_key};
use chrono::{DateTime, Utc};
use surrealdb::types::{RecordId, SurrealValue};

#[derive(Debug, Clone, SurrealValue)]
pub struct ApiKeyRow {
    pub id: RecordId,
    pub name: String,
    pub secret_hash: String,
    pub scopes: Vec<String>,
    pub rate_per_minute: i64,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKeyRow {
    pub fn key(&self) -> String {
        record_key(&self.id)
    }
}

const FIELDS: &str = "id, name, secret_hash, scopes, rate_per_minute, created_by, created_at, last_used_at, revoked_at";

impl Db {
    /// A new key's row; returns its id (the public part of the key).
    pub async fn create_api_key(
        &self,
        name: &str,
        secret_hash: &str,
        scopes: &[String],
        rate_per_minute: u32,
        created_by: &str,
    ) -> Result<String, DbError> {
        let key = new_key();
        self.inner
            .query(
                "CREATE type::record('api_key', $key) SET name = $name, secret_hash = $hash,
                     scopes = $scopes, rate_per_minute = $rate, created_by = $by RETURN NONE",
            )
            .bind(("key", key.clone()))
            .bind(("name", name.to_string()))
            .bind(("hash", secret_hash.to_string()))
            .bind(("scopes", scopes.to_vec()))
            .bind(("rate", i64::from(rate_per_minute)))
            .bind(("by", created_by.to_string()))
            .await?
            .check()
            .map_err(|e| {
                if e.message().contains("ASSERT") || e.message().contains("assert") {
                    DbError::Rejected("key name")
                } else {
                    e.into()
                }
            })?;
        Ok(key)
    }

    pub async fn api_key(&self, key: &str) -> Result<Option<ApiKeyRow>, DbError> {
        Ok(self
            .inner
            .query(format!(
                "SELECT {FIELDS} FROM ONLY type::record('api_key', $key)"
            ))
            .bind(("key", key.to_string()))
            .await?
            .take(0)?)
    }

    pub async fn api_keys(&self) -> Result<Vec<ApiKeyRow>, DbError> {
        Ok(self
            .inner
            .query(format!("SELECT {FIELDS} FROM api_key ORDER BY created_at"))
            .await?
            .take(0)?)
    }

    /// Revokes a key now; false when there is no such key or it already was.
    pub async fn revoke_api_key(&self, key: &str, at: DateTime<Utc>) -> Result<bool, DbError> {
        // Its webhook subscriptions stop with it: a revoked integrator hears
        // nothing more.
        let response = self
            .inner
            .query(
                "BEGIN;
                 LET $changed = UPDATE type::record('api_key', $key) SET revoked_at = $at
                     WHERE revoked_at = NONE RETURN VALUE id;
                 UPDATE webhook SET active = false WHERE api_key = $key;
                 RETURN array::len($changed) > 0;
                 COMMIT;",
            )
            .bind(("key", key.to_string()))
            .bind(("at", at))
            .await?;
        super::transaction_answer(response, "revoking a key")
    }

    pub async fn touch_api_key(&self, key: &str, at: DateTime<Utc>) -> Result<(), DbError> {
        self.inner
            .query("UPDATE type::record('api_key', $key) SET last_used_at = $at RETURN NONE")
            .bind(("key", key.to_string()))
            .bind(("at", at))
            .await?
            .check()?;
        Ok(())
    }
}
