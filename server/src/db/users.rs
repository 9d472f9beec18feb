//! Queries on `user`: staff accounts.

use super::{Db, DbError, is_field_rejection, is_unique_violation};
use chrono::{DateTime, Utc};
use surrealdb::types::{RecordId, RecordIdKey, SurrealValue};

/// One staff account as stored.
#[derive(Debug, Clone, SurrealValue)]
pub struct UserRow {
    pub id: RecordId,
    pub email: String,
    pub name: String,
    #[surreal(default)]
    pub roles: Vec<String>,
    pub password_hash: Option<String>,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    /// Absent on rows read before the consultations migration.
    #[surreal(default)]
    pub queues: Vec<RecordId>,
    /// What the person's translator organisations cover (derived).
    #[surreal(default)]
    pub languages: Vec<String>,
    #[surreal(default)]
    pub translator_orgs: Vec<RecordId>,
    /// The authenticator's secret, sealed; `None` without two-step sign-in.
    #[surreal(default)]
    pub totp_secret: Option<String>,
    /// The last time step whose code was used.
    #[surreal(default)]
    pub totp_last_step: Option<i64>,
}

impl UserRow {
    /// The key after `user:`, which is what the rest of Visita calls the id.
    pub fn key(&self) -> String {
        record_key(&self.id)
    }
}

pub(crate) fn record_key(id: &RecordId) -> String {
    match &id.key {
        RecordIdKey::String(s) => s.clone(),
        other => surrealdb::types::ToSql::to_sql(other),
    }
}

/// Keys are random, so ids reveal neither order nor count.
pub(crate) fn new_key() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..20)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

impl Db {
    pub async fn create_user(
        &self,
        email: &str,
        name: &str,
        roles: &[String],
        password_hash: Option<String>,
    ) -> Result<UserRow, DbError> {
        let result = self
            .inner
            .query(
                "CREATE type::record('user', $key) SET email = $email, name = $name, roles = $roles, \
                 password_hash = $hash, disabled = false",
            )
            .bind(("key", new_key()))
            .bind(("email", email.to_string()))
            .bind(("name", name.to_string()))
            .bind(("roles", roles.to_vec()))
            .bind(("hash", password_hash))
            .await?
            .take::<Option<UserRow>>(0);
        match result {
            Ok(Some(row)) => Ok(row),
            Ok(None) => Err(DbError::Query("CREATE user returned nothing".into())),
            Err(e) if is_unique_violation(&e, "user_email") => {
                Err(DbError::Duplicate("email address"))
            }
            Err(e) if is_field_rejection(&e, "email") => Err(DbError::Rejected("email")),
            Err(e) => Err(e.into()),
        }
    }

    /// Makes `user_keys` exactly the users whose `field` (an array of links
    /// to `table`) holds `table:key`, then runs `then` (SurrealQL, may be
    /// empty), all in one transaction. `field`, `table` and `then` are ours,
    /// never user input.
    pub(crate) async fn set_membership(
        &self,
        field: &str,
        table: &str,
        key: &str,
        user_keys: &[String],
        then: &str,
    ) -> Result<(), DbError> {
        let users: Vec<RecordId> = user_keys
            .iter()
            .map(|k| RecordId::new("user", k.as_str()))
            .collect();
        let query = format!(
            "BEGIN;
             LET $group = type::record('{table}', $key);
             UPDATE user SET {field} = array::union({field}, [$group]) WHERE id IN $users;
             UPDATE user SET {field} = array::complement({field}, [$group]) WHERE id NOTINSIDE $users;
             {then}
             COMMIT;"
        );
        self.inner
            .query(query)
            .bind(("key", key.to_string()))
            .bind(("users", users))
            .await?
            .check()?;
        Ok(())
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>, DbError> {
        Ok(self
            .inner
            .query("SELECT * FROM user WHERE email = $email LIMIT 1")
            .bind(("email", email.to_string()))
            .await?
            .take(0)?)
    }

    pub async fn user_by_key(&self, key: &str) -> Result<Option<UserRow>, DbError> {
        Ok(self
            .inner
            .query("SELECT * FROM type::record('user', $key)")
            .bind(("key", key.to_string()))
            .await?
            .take(0)?)
    }

    pub async fn list_users(&self) -> Result<Vec<UserRow>, DbError> {
        Ok(self
            .inner
            .query("SELECT * FROM user ORDER BY name")
            .await?
            .take(0)?)
    }

    /// The email of some admin, if any admin exists (enabled or not).
    pub async fn any_admin_email(&self) -> Result<Option<String>, DbError> {
        Ok(self
            .inner
            .query("SELECT VALUE email FROM user WHERE roles CONTAINS 'admin' ORDER BY created_at LIMIT 1")
            .await?
            .take(0)?)
    }

    /// Returns false when no such user exists.
    pub async fn set_user_disabled(&self, key: &str, disabled: bool) -> Result<bool, DbError> {
        let updated: Option<UserRow> = self
            .inner
            .query("UPDATE type::record('user', $key) SET disabled = $disabled, updated_at = time::now()")
            .bind(("key", key.to_string()))
            .bind(("disabled", disabled))
            .await?
            .take(0)?;
        Ok(updated.is_some())
    }

    /// Sets (or, with `None`, removes) an account's authenticator and the
    /// last step used. Returns false when no such user exists.
    pub async fn set_totp(
        &self,
        key: &str,
        sealed_secret: Option<String>,
        last_step: Option<i64>,
    ) -> Result<bool, DbError> {
        let updated: Option<UserRow> = self
            .inner
            .query(
                "UPDATE type::record('user', $key) SET totp_secret = $secret,
                 totp_last_step = $step, updated_at = time::now()",
            )
            .bind(("key", key.to_string()))
            .bind(("secret", sealed_secret))
            .bind(("step", last_step))
            .await?
            .take(0)?;
        Ok(updated.is_some())
    }

    /// Returns false when no such user exists.
    pub async fn set_password_hash(&self, key: &str, hash: String) -> Result<bool, DbError> {
        let updated: Option<UserRow> = self
            .inner
            .query("UPDATE type::record('user', $key) SET password_hash = $hash, updated_at = time::now()")
            .bind(("key", key.to_string()))
            .bind(("hash", hash))
            .await?
            .take(0)?;
        Ok(updated.is_some())
    }
}

#[cfg(test)]
mod tests {
    use crate::db::{Db, DbError};

    #[tokio::test]
    async fn users_are_created_found_and_unique_by_email() {
        let db = Db::in_memory().await.unwrap();
        let roles = vec!["doctor".to_string()];
        let created = db
            .create_user("a@h.org", "Dr A", &roles, Some("h".into()))
            .await
            .unwrap();
        assert_eq!(created.email, "a@h.org");
        assert!(!created.disabled);
        let found = db.user_by_email("a@h.org").await.unwrap().unwrap();
        assert_eq!(found.key(), created.key());
        assert_eq!(
            db.user_by_key(&created.key()).await.unwrap().unwrap().name,
            "Dr A"
        );
        assert!(matches!(
            db.create_user("a@h.org", "Other", &roles, None).await,
            Err(DbError::Duplicate(_))
        ));
        assert!(db.user_by_key("nobody").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn the_schema_refuses_what_the_forms_would_refuse() {
        let db = Db::in_memory().await.unwrap();
        assert!(matches!(
            db.create_user("not-an-email", "X", &["doctor".into()], None)
                .await,
            Err(DbError::Rejected("email"))
        ));
        assert!(
            db.create_user("x@h.org", "X", &["surgeon".into()], None)
                .await
                .is_err()
        );
        assert!(db.create_user("y@h.org", "X", &[], None).await.is_err());
    }

    #[tokio::test]
    async fn disabling_and_password_changes_touch_only_existing_users() {
        let db = Db::in_memory().await.unwrap();
        let user = db
            .create_user("a@h.org", "A", &["nurse".into()], None)
            .await
            .unwrap();
        assert!(db.set_user_disabled(&user.key(), true).await.unwrap());
        assert!(db.user_by_key(&user.key()).await.unwrap().unwrap().disabled);
        assert!(!db.set_user_disabled("ghost", true).await.unwrap());
        assert!(
            db.set_password_hash(&user.key(), "new".into())
                .await
                .unwrap()
        );
        assert!(!db.set_password_hash("ghost", "new".into()).await.unwrap());
        assert!(
            db.user_by_key("ghost").await.unwrap().is_none(),
            "updates never create records"
        );
    }

    #[tokio::test]
    async fn user_input_is_bound_never_spliced() {
        let db = Db::in_memory().await.unwrap();
        db.create_user("a@h.org", "A", &["nurse".into()], None)
            .await
            .unwrap();
        let hostile = "x' OR true; DELETE user; --";
        assert!(db.user_by_email(hostile).await.unwrap().is_none());
        assert!(db.user_by_key(hostile).await.unwrap().is_none());
        assert_eq!(db.list_users().await.unwrap().len(), 1);
    }
}
