//! Queries on `brand_logo`: company logos fetched once for the sessions of
//! the seed-compatible route, served from here.

use super::users::new_key;
use super::{Db, DbError};
use chrono::{DateTime, Utc};
use surrealdb::types::SurrealValue;

#[derive(Debug, Clone, SurrealValue)]
pub struct LogoRow {
    pub content_type: String,
    pub bytes: surrealdb::types::Bytes,
}

impl Db {
    /// The key of a logo fetched from `url` since `since`, if any.
    pub async fn recent_logo(
        &self,
        url: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<String>, DbError> {
        let keys: Vec<String> = self
            .inner
            .query(
                "SELECT VALUE record::id(id) FROM brand_logo WHERE url = $url AND fetched_at > $since
                 ORDER BY fetched_at DESC LIMIT 1",
            )
            .bind(("url", url.to_string()))
            .bind(("since", since))
            .await?
            .take(0)?;
        Ok(keys.into_iter().next())
    }

    pub async fn store_logo(
        &self,
        url: &str,
        content_type: &str,
        bytes: Vec<u8>,
        at: DateTime<Utc>,
    ) -> Result<String, DbError> {
        let key = new_key();
        self.inner
            .query(
                "CREATE type::record('brand_logo', $key) SET url = $url, content_type = $type,
                     bytes = $bytes, fetched_at = $at RETURN NONE",
            )
            .bind(("key", key.clone()))
            .bind(("url", url.to_string()))
            .bind(("type", content_type.to_string()))
            .bind(("bytes", surrealdb::types::Bytes::from(bytes)))
            .bind(("at", at))
            .await?
            .check()?;
        Ok(key)
    }

    pub async fn logo(&self, key: &str) -> Result<Option<LogoRow>, DbError> {
        Ok(self
            .inner
            .query("SELECT content_type, bytes FROM ONLY type::record('brand_logo', $key)")
            .bind(("key", key.to_string()))
            .await?
            .take(0)?)
    }
}
