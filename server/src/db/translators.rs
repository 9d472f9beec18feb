//! Queries on `translator_org` and on who belongs to which. A translator's
//! `languages` are always what their organisations cover: every change of
//! membership recomputes them in the same transaction.

use super::users::new_key;
use super::{Db, DbError, is_unique_violation};
use surrealdb::types::{RecordId, SurrealValue};

#[derive(Debug, Clone, SurrealValue)]
pub struct TranslatorOrgRow {
    pub id: RecordId,
    pub name: String,
    #[surreal(default)]
    pub languages: Vec<String>,
}

/// Sets every user's languages to the union of their organisations'.
const RECOMPUTE_LANGUAGES: &str =
    "UPDATE user SET languages = array::distinct(array::flatten(translator_orgs.languages ?? []));";

impl Db {
    pub async fn create_translator_org(
        &self,
        name: &str,
        languages: &[String],
    ) -> Result<TranslatorOrgRow, DbError> {
        let result = self
            .inner
            .query(
                "CREATE type::record('translator_org', $key) SET name = $name, languages = $languages
                 RETURN id, name, languages",
            )
            .bind(("key", new_key()))
            .bind(("name", name.to_string()))
            .bind(("languages", languages.to_vec()))
            .await?
            .take::<Option<TranslatorOrgRow>>(0);
        match result {
            Ok(Some(row)) => Ok(row),
            Ok(None) => Err(DbError::Query(
                "CREATE translator_org returned nothing".into(),
            )),
            Err(e) if is_unique_violation(&e, "translator_org_name") => {
                Err(DbError::Duplicate("translator organisation name"))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn all_translator_orgs(&self) -> Result<Vec<TranslatorOrgRow>, DbError> {
        Ok(self
            .inner
            .query("SELECT id, name, languages FROM translator_org ORDER BY name")
            .await?
            .take(0)?)
    }

    pub async fn translator_org_exists(&self, key: &str) -> Result<bool, DbError> {
        let found: Vec<RecordId> = self
            .inner
            .query("SELECT VALUE id FROM translator_org WHERE id = type::record('translator_org', $key)")
            .bind(("key", key.to_string()))
            .await?
            .take(0)?;
        Ok(!found.is_empty())
    }

    /// Makes `user_keys` exactly the members of the organisation, and
    /// everyone's languages follow, all or nothing.
    pub async fn set_translator_org_members(
        &self,
        org_key: &str,
        user_keys: &[String],
    ) -> Result<(), DbError> {
        self.set_membership(
            "translator_orgs",
            "translator_org",
            org_key,
            user_keys,
            RECOMPUTE_LANGUAGES,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use crate::db::{Db, DbError};

    #[tokio::test]
    async fn members_get_the_languages_of_their_organisations() {
        let db = Db::in_memory().await.unwrap();
        let roles = vec!["translator".to_string()];
        let amal = db
            .create_user("amal@t.org", "Amal", &roles, None)
            .await
            .unwrap();
        let olena = db
            .create_user("olena@t.org", "Olena", &roles, None)
            .await
            .unwrap();
        let arabic = db
            .create_translator_org("Arabic desk", &["ar".into(), "fr".into()])
            .await
            .unwrap();
        let slavic = db
            .create_translator_org("Slavic desk", &["uk".into(), "fr".into()])
            .await
            .unwrap();
        assert!(matches!(
            db.create_translator_org("Arabic desk", &[]).await,
            Err(DbError::Duplicate(_))
        ));
        let key = |row: &super::TranslatorOrgRow| crate::db::record_key(&row.id);
        let languages = |email: &'static str| {
            let db = db.clone();
            async move {
                let mut l = db.user_by_email(email).await.unwrap().unwrap().languages;
                l.sort();
                l
            }
        };

        db.set_translator_org_members(&key(&arabic), &[amal.key(), olena.key()])
            .await
            .unwrap();
        db.set_translator_org_members(&key(&slavic), &[olena.key()])
            .await
            .unwrap();
        assert_eq!(languages("amal@t.org").await, ["ar", "fr"]);
        assert_eq!(languages("olena@t.org").await, ["ar", "fr", "uk"]);

        // Taken out of the Arabic desk: Olena keeps what the other covers.
        db.set_translator_org_members(&key(&arabic), &[amal.key()])
            .await
            .unwrap();
        assert_eq!(languages("olena@t.org").await, ["fr", "uk"]);
        db.set_translator_org_members(&key(&slavic), &[])
            .await
            .unwrap();
        assert!(languages("olena@t.org").await.is_empty());
        assert!(db.translator_org_exists(&key(&arabic)).await.unwrap());
        assert!(!db.translator_org_exists("nope").await.unwrap());
        assert_eq!(db.all_translator_orgs().await.unwrap().len(), 2);
    }
}
