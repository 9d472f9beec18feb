//! Queries on `setting`: what administrators saved in the console, one row
//! per part, read by every node.

use super::{Db, DbError};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use surrealdb::types::SurrealValue;

#[derive(Debug, Clone, SurrealValue)]
pub struct SettingRow {
    pub values: BTreeMap<String, String>,
    pub sealed: BTreeMap<String, String>,
    /// New on each save: nodes compare it with the one they use.
    pub revision: String,
    /// The administrator's email.
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

impl Db {
    /// The row of `part`, if one was saved.
    pub async fn setting(&self, part: &str) -> Result<Option<SettingRow>, DbError> {
        Ok(self
            .inner
            .query(
                "SELECT values, sealed, revision, updated_by, updated_at
                 FROM ONLY type::record('setting', $part)",
            )
            .bind(("part", part.to_string()))
            .await?
            .take(0)?)
    }

    /// The revision of `part`'s row: cheap enough to ask every few seconds.
    pub async fn setting_revision(&self, part: &str) -> Result<Option<String>, DbError> {
        Ok(self
            .inner
            .query("SELECT VALUE revision FROM ONLY type::record('setting', $part)")
            .bind(("part", part.to_string()))
            .await?
            .take(0)?)
    }

    pub async fn save_setting(&self, part: &str, row: SettingRow) -> Result<(), DbError> {
        self.inner
            .query("UPSERT type::record('setting', $part) CONTENT $row RETURN NONE")
            .bind(("part", part.to_string()))
            .bind(("row", row))
            .await?
            .check()?;
        Ok(())
    }

    pub async fn forget_setting(&self, part: &str) -> Result<(), DbError> {
        self.inner
            .query("DELETE type::record('setting', $part)")
            .bind(("part", part.to_string()))
            .await?
            .check()?;
        Ok(())
    }
}
