//! Queries for single sign-on: sign-ins under way at an identity provider
//! (`sso_flow`, each served once) and the link from a provider's person to
//! a Visita account (`external_identity`).

use super::{Db, DbError, UserRow};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use surrealdb::types::SurrealValue;

#[derive(Debug, Clone, SurrealValue)]
pub struct SsoFlowRow {
    pub method: String,
    /// The method's own JSON.
    pub data: String,
    pub expires_at: DateTime<Utc>,
}

/// The key of a provider's person: their method and subject, hashed so any
/// subject (a DN with commas, a long NameID) makes a plain key.
fn identity_key(method: &str, subject: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update([0]);
    hasher.update(subject.as_bytes());
    hex::encode(hasher.finalize())
}

impl Db {
    /// Records a sign-in under way (and forgets those that expired).
    pub async fn create_sso_flow(&self, key: &str, row: SsoFlowRow) -> Result<(), DbError> {
        self.inner
            .query(
                "DELETE sso_flow WHERE expires_at < time::now();
                 CREATE type::record('sso_flow', $key) CONTENT $row RETURN NONE",
            )
            .bind(("key", key.to_string()))
            .bind(("row", row))
            .await?
            .check()?;
        Ok(())
    }

    /// Takes the sign-in under `key`: it is gone after this, whatever the
    /// answer; `None` when there is none or it expired.
    pub async fn take_sso_flow(&self, key: &str) -> Result<Option<SsoFlowRow>, DbError> {
        let taken: Option<SsoFlowRow> = self
            .inner
            .query("DELETE ONLY type::record('sso_flow', $key) RETURN BEFORE")
            .bind(("key", key.to_string()))
            .await?
            .take(0)?;
        Ok(taken.filter(|row| row.expires_at > Utc::now()))
    }

    /// The sign-in under `key`, left in place; `None` when there is none or
    /// it expired.
    pub async fn peek_sso_flow(&self, key: &str) -> Result<Option<SsoFlowRow>, DbError> {
        let row: Option<SsoFlowRow> = self
            .inner
            .query("SELECT method, data, expires_at FROM ONLY type::record('sso_flow', $key)")
            .bind(("key", key.to_string()))
            .await?
            .take(0)?;
        Ok(row.filter(|row| row.expires_at > Utc::now()))
    }

    /// The account a provider's person was linked to, if any.
    pub async fn user_by_identity(
        &self,
        method: &str,
        subject: &str,
    ) -> Result<Option<UserRow>, DbError> {
        Ok(self
            .inner
            .query("SELECT * FROM (SELECT VALUE user FROM ONLY type::record('external_identity', $key)).*")
            .bind(("key", identity_key(method, subject)))
            .await?
            .take(0)?)
    }

    /// Links a provider's person to an account (again: notes the time).
    pub async fn link_identity(
        &self,
        method: &str,
        subject: &str,
        user_key: &str,
    ) -> Result<(), DbError> {
        self.inner
            .query(
                "UPSERT type::record('external_identity', $key) SET method = $method,
                 subject = $subject, user = type::record('user', $user), last_seen = time::now()
                 RETURN NONE",
            )
            .bind(("key", identity_key(method, subject)))
            .bind(("method", method.to_string()))
            .bind(("subject", subject.to_string()))
            .bind(("user", user_key.to_string()))
            .await?
            .check()?;
        Ok(())
    }

    /// Sets an account's roles and, when given, its queues (by name; names
    /// no queue has are left out), in one transaction.
    pub async fn set_roles_and_queues(
        &self,
        user_key: &str,
        roles: &[String],
        queue_names: Option<&[String]>,
    ) -> Result<(), DbError> {
        let query = if queue_names.is_some() {
            "UPDATE type::record('user', $user) SET roles = $roles,
                 queues = (SELECT VALUE id FROM queue WHERE name IN $queues), updated_at = time::now()
                 RETURN NONE"
        } else {
            "UPDATE type::record('user', $user) SET roles = $roles, updated_at = time::now() RETURN NONE"
        };
        self.inner
            .query(query)
            .bind(("user", user_key.to_string()))
            .bind(("roles", roles.to_vec()))
            .bind((
                "queues",
                queue_names.map(<[String]>::to_vec).unwrap_or_default(),
            ))
            .await?
            .check()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_flow_serves_once_and_expires() {
        let db = Db::in_memory().await.unwrap();
        let row = |minutes: i64| SsoFlowRow {
            method: "oidc:h".into(),
            data: "{}".into(),
            expires_at: Utc::now() + chrono::Duration::minutes(minutes),
        };
        db.create_sso_flow("a", row(10)).await.unwrap();
        db.create_sso_flow("old", row(-1)).await.unwrap();
        assert_eq!(
            db.take_sso_flow("a").await.unwrap().unwrap().method,
            "oidc:h"
        );
        assert!(
            db.take_sso_flow("a").await.unwrap().is_none(),
            "served once"
        );
        assert!(db.take_sso_flow("old").await.unwrap().is_none(), "expired");
        assert!(db.take_sso_flow("never").await.unwrap().is_none());
        db.create_sso_flow("b", row(10)).await.unwrap();
        assert!(db.peek_sso_flow("b").await.unwrap().is_some());
        assert!(
            db.peek_sso_flow("b").await.unwrap().is_some(),
            "peeking leaves it"
        );
        assert!(db.peek_sso_flow("old").await.unwrap().is_none());
        assert!(db.create_sso_flow("a", row(10)).await.is_ok());
    }

    #[tokio::test]
    async fn identities_link_to_accounts_and_roles_follow_the_provider() {
        let db = Db::in_memory().await.unwrap();
        let user = db
            .create_user("ann@clinic.example", "Ann", &["doctor".into()], None)
            .await
            .unwrap();
        assert!(
            db.user_by_identity("ldap", "uid=ann,dc=x")
                .await
                .unwrap()
                .is_none()
        );
        db.link_identity("ldap", "uid=ann,dc=x", &user.key())
            .await
            .unwrap();
        db.link_identity("ldap", "uid=ann,dc=x", &user.key())
            .await
            .unwrap();
        let found = db
            .user_by_identity("ldap", "uid=ann,dc=x")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.key(), user.key());
        assert!(
            db.user_by_identity("oidc:h", "uid=ann,dc=x")
                .await
                .unwrap()
                .is_none()
        );

        db.set_roles_and_queues(
            &user.key(),
            &["nurse".into(), "admin".into()],
            Some(&["General".into(), "Nowhere".into()]),
        )
        .await
        .unwrap();
        let after = db.user_by_key(&user.key()).await.unwrap().unwrap();
        assert_eq!(after.roles, vec!["nurse".to_string(), "admin".to_string()]);
        assert_eq!(after.queues.len(), 1, "the default queue (General) only");
    }
}
