//! Queries on `idempotency`: the first answer to each REST request that
//! carried an `Idempotency-Key`, kept a day. Claiming a key is one CREATE,
//! which the database refuses for an id that exists: of two requests racing
//! with the same key (on any nodes), exactly one goes through.

use super::{Db, DbError};
use chrono::{DateTime, Utc};
use surrealdb::types::SurrealValue;

#[derive(Debug, Clone, SurrealValue)]
pub struct IdempotencyRow {
    pub request_hash: String,
    /// `None` while the first request is still being answered.
    pub status: Option<i64>,
    pub content_type: Option<String>,
    pub location: Option<String>,
    pub body: Option<String>,
}

/// The answer to store.
pub struct StoredAnswer {
    pub status: u16,
    pub content_type: Option<String>,
    pub location: Option<String>,
    pub body: String,
}

impl Db {
    /// Claims `id` for a request: `None` when it is new (now pending, for
    /// this caller to answer), the earlier row when it was seen.
    pub async fn claim_idempotency(
        &self,
        id: &str,
        request_hash: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<Option<IdempotencyRow>, DbError> {
        // What has expired goes first, so a key may be used again after a day.
        self.inner
            .query("DELETE idempotency WHERE expires_at < $now")
            .bind(("now", now))
            .await?
            .check()?;
        let created = self
            .inner
            .query(
                "CREATE type::record('idempotency', $id) SET request_hash = $hash,
                     created_at = $now, expires_at = $expires RETURN NONE",
            )
            .bind(("id", id.to_string()))
            .bind(("hash", request_hash.to_string()))
            .bind(("now", now))
            .bind(("expires", expires_at))
            .await?
            .check();
        match created {
            Ok(_) => Ok(None),
            Err(error) if error.message().contains("already exists") => Ok(self
                .inner
                .query(
                    "SELECT request_hash, status, content_type, location, body
                     FROM ONLY type::record('idempotency', $id)",
                )
                .bind(("id", id.to_string()))
                .await?
                .take(0)?),
            Err(error) => Err(error.into()),
        }
    }

    pub async fn finish_idempotency(&self, id: &str, answer: StoredAnswer) -> Result<(), DbError> {
        self.inner
            .query(
                "UPDATE type::record('idempotency', $id) SET status = $status,
                     content_type = $content_type, location = $location, body = $body RETURN NONE",
            )
            .bind(("id", id.to_string()))
            .bind(("status", i64::from(answer.status)))
            .bind(("content_type", answer.content_type))
            .bind(("location", answer.location))
            .bind(("body", answer.body))
            .await?
            .check()?;
        Ok(())
    }

    /// Forgets a claim whose request failed on our side: a retry may go
    /// through.
    pub async fn drop_idempotency(&self, id: &str) -> Result<(), DbError> {
        self.inner
            .query("DELETE type::record('idempotency', $id)")
            .bind(("id", id.to_string()))
            .await?
            .check()?;
        Ok(())
    }
}
