//! Queries on `session`: one row per signed-in browser, keyed by the SHA-256
//! of its cookie secret.

use super::{Db, DbError};
use chrono::{DateTime, Utc};
use surrealdb::types::{RecordId, SurrealValue};

#[derive(Debug, Clone, SurrealValue)]
pub struct SessionRow {
    pub id: RecordId,
    pub user: RecordId,
    pub created_at: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// How it was opened (`password`, `portal`, `oidc:hospital`…); absent
    /// on sessions opened before single sign-on.
    #[surreal(default)]
    pub method: Option<String>,
}

impl Db {
    pub async fn create_session(
        &self,
        token_hash: &str,
        user_key: &str,
        ip: Option<String>,
        user_agent: Option<String>,
        method: &str,
    ) -> Result<(), DbError> {
        self.inner
            .query(
                "CREATE session SET token_hash = $hash, user = type::record('user', $user), ip = $ip, user_agent = $ua, method = $method",
            )
            .bind(("method", method.to_string()))
            .bind(("hash", token_hash.to_string()))
            .bind(("user", user_key.to_string()))
            .bind(("ip", ip))
            .bind(("ua", user_agent))
            .await?
            .check()?;
        Ok(())
    }

    pub async fn session_by_hash(&self, token_hash: &str) -> Result<Option<SessionRow>, DbError> {
        Ok(self
            .inner
            .query("SELECT id, user, created_at, last_seen, method FROM session WHERE token_hash = $hash LIMIT 1")
            .bind(("hash", token_hash.to_string()))
            .await?
            .take(0)?)
    }

    pub async fn touch_session(&self, id: &RecordId) -> Result<(), DbError> {
        self.inner
            .query("UPDATE $id SET last_seen = time::now()")
            .bind(("id", id.clone()))
            .await?
            .check()?;
        Ok(())
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<(), DbError> {
        self.inner
            .query("DELETE session WHERE token_hash = $hash")
            .bind(("hash", token_hash.to_string()))
            .await?
            .check()?;
        Ok(())
    }

    /// Ends every session of a user except, optionally, the one in use.
    pub async fn delete_sessions_of(
        &self,
        user_key: &str,
        keep_hash: Option<&str>,
    ) -> Result<(), DbError> {
        self.inner
            .query(
                "DELETE session WHERE user = type::record('user', $user) AND token_hash != $keep",
            )
            .bind(("user", user_key.to_string()))
            .bind(("keep", keep_hash.unwrap_or("").to_string()))
            .await?
            .check()?;
        Ok(())
    }
}

impl Db {
    /// Deletes sessions idle longer than `idle` or older than `lifetime`
    /// (those whose browser never came back to be told). Returns how many.
    pub async fn delete_stale_sessions(
        &self,
        idle: std::time::Duration,
        lifetime: std::time::Duration,
    ) -> Result<usize, DbError> {
        let now = Utc::now();
        let to_chrono =
            |d: std::time::Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
        let deleted: Vec<SessionRow> = self
            .inner
            .query("DELETE session WHERE last_seen < $idle_cut OR created_at < $life_cut RETURN BEFORE")
            .bind(("idle_cut", now - to_chrono(idle)))
            .bind(("life_cut", now - to_chrono(lifetime)))
            .await?
            .take(0)?;
        Ok(deleted.len())
    }
}

impl Db {
    /// Marks a portal token's `jti` (its digest) used until `expires_at`;
    /// false when it already was (a replay).
    pub async fn use_portal_token(
        &self,
        jti_digest: &str,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, DbError> {
        let result = self
            .inner
            .query(
                "DELETE portal_token WHERE expires_at < time::now();
                 CREATE type::record('portal_token', $key) SET expires_at = $expires RETURN NONE",
            )
            .bind(("key", jti_digest.to_string()))
            .bind(("expires", expires_at))
            .await?
            .check();
        match result {
            Ok(_) => Ok(true),
            Err(error) if error.message().contains("already exists") => Ok(false),
            Err(error) => Err(error.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::db::Db;

    #[tokio::test]
    async fn sessions_are_found_by_hash_and_ended_per_user() {
        let db = Db::in_memory().await.unwrap();
        let user = db
            .create_user("a@h.org", "A", &["doctor".into()], None)
            .await
            .unwrap();
        db.create_session(
            "h1",
            &user.key(),
            Some("127.0.0.1".into()),
            None,
            "password",
        )
        .await
        .unwrap();
        db.create_session("h2", &user.key(), None, Some("test".into()), "oidc:h")
            .await
            .unwrap();
        let s = db.session_by_hash("h1").await.unwrap().unwrap();
        assert_eq!(s.method.as_deref(), Some("password"));
        assert_eq!(s.user, user.id);
        db.touch_session(&s.id).await.unwrap();
        db.delete_sessions_of(&user.key(), Some("h2"))
            .await
            .unwrap();
        assert!(db.session_by_hash("h1").await.unwrap().is_none());
        assert!(db.session_by_hash("h2").await.unwrap().is_some());
        db.delete_session("h2").await.unwrap();
        assert!(db.session_by_hash("h2").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn stale_sessions_are_swept() {
        use std::time::Duration;
        let db = Db::in_memory().await.unwrap();
        let user = db
            .create_user("a@h.org", "A", &["doctor".into()], None)
            .await
            .unwrap();
        db.create_session("fresh", &user.key(), None, None, "password")
            .await
            .unwrap();
        db.create_session("idle", &user.key(), None, None, "password")
            .await
            .unwrap();
        db.surreal()
            .query("UPDATE session SET last_seen = time::now() - 2h WHERE token_hash = 'idle'")
            .await
            .unwrap()
            .check()
            .unwrap();
        let swept = db
            .delete_stale_sessions(Duration::from_secs(1800), Duration::from_secs(12 * 3600))
            .await
            .unwrap();
        assert_eq!(swept, 1);
        assert!(db.session_by_hash("fresh").await.unwrap().is_some());
        assert!(db.session_by_hash("idle").await.unwrap().is_none());
    }
}
