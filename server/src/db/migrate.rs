//! Numbered schema migrations, applied in order at start-up, each in one
//! transaction together with the record that says it was applied — so a
//! crash leaves either all of a migration or none of it.

use super::DbError;
use surrealdb::Surreal;
use surrealdb::engine::any::Any;

/// (version, name, SurrealQL). Append only: never edit an applied migration.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "0001_accounts",
        include_str!("migrations/0001_accounts.surql"),
    ),
    (
        2,
        "0002_consultations",
        include_str!("migrations/0002_consultations.surql"),
    ),
    (
        3,
        "0003_translator_orgs",
        include_str!("migrations/0003_translator_orgs.surql"),
    ),
    (4, "0004_media", include_str!("migrations/0004_media.surql")),
    (
        5,
        "0005_notifications",
        include_str!("migrations/0005_notifications.surql"),
    ),
    (
        6,
        "0006_settings",
        include_str!("migrations/0006_settings.surql"),
    ),
    (7, "0007_api", include_str!("migrations/0007_api.surql")),
    (
        8,
        "0008_idempotency",
        include_str!("migrations/0008_idempotency.surql"),
    ),
    (
        9,
        "0009_webhooks",
        include_str!("migrations/0009_webhooks.surql"),
    ),
    (
        10,
        "0010_link_hosts",
        include_str!("migrations/0010_link_hosts.surql"),
    ),
    (
        11,
        "0011_fhir_sync",
        include_str!("migrations/0011_fhir_sync.surql"),
    ),
    (
        12,
        "0012_portal",
        include_str!("migrations/0012_portal.surql"),
    ),
    (13, "0013_sso", include_str!("migrations/0013_sso.surql")),
    (14, "0014_totp", include_str!("migrations/0014_totp.surql")),
];

const BOOKKEEPING: &str = "
DEFINE TABLE IF NOT EXISTS migration SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS name ON migration TYPE string;
DEFINE FIELD IF NOT EXISTS applied_at ON migration TYPE datetime DEFAULT time::now();
";

/// Applies what is missing; returns the names applied now.
pub async fn apply(db: &Surreal<Any>) -> Result<Vec<String>, DbError> {
    db.query(BOOKKEEPING).await?.check()?;
    let done: Vec<i64> = db
        .query("SELECT VALUE record::id(id) FROM migration")
        .await?
        .take(0)?;
    let mut applied = Vec::new();
    for (version, name, script) in MIGRATIONS {
        if done.contains(version) {
            continue;
        }
        let sql = format!(
            "BEGIN;\n{script}\n;CREATE type::record('migration', $version) SET name = $name;\nCOMMIT;"
        );
        let mut response = db
            .query(sql)
            .bind(("version", *version))
            .bind(("name", name.to_string()))
            .await
            .map_err(|e| DbError::Migration {
                name: name.to_string(),
                reason: e.message().to_string(),
            })?;
        let errors = response.take_errors();
        // Inside a failed transaction most statements only say "not executed";
        // the root cause is the one error that says something else.
        if let Some(root) = errors
            .values()
            .find(|e| {
                !e.message().contains("not executed") && !e.message().contains("Cannot COMMIT")
            })
            .or_else(|| errors.values().next())
        {
            // Two nodes starting together: the other one applied it first.
            if is_recorded(db, *version).await? {
                continue;
            }
            return Err(DbError::Migration {
                name: name.to_string(),
                reason: root.message().to_string(),
            });
        }
        applied.push(name.to_string());
    }
    Ok(applied)
}

async fn is_recorded(db: &Surreal<Any>, version: i64) -> Result<bool, DbError> {
    let found: Option<i64> = db
        .query("SELECT VALUE record::id(id) FROM type::record('migration', $version)")
        .bind(("version", version))
        .await?
        .take(0)?;
    Ok(found.is_some())
}

#[cfg(test)]
mod tests {
    use crate::db::Db;

    #[tokio::test]
    async fn migrations_apply_once_and_are_recorded() {
        let db = Db::connect_to("mem://", "t", "t", None, None)
            .await
            .unwrap();
        assert_eq!(
            db.migrate().await.unwrap(),
            vec![
                "0001_accounts".to_string(),
                "0002_consultations".to_string(),
                "0003_translator_orgs".to_string(),
                "0004_media".to_string(),
                "0005_notifications".to_string(),
                "0006_settings".to_string(),
                "0007_api".to_string(),
                "0008_idempotency".to_string(),
                "0009_webhooks".to_string(),
                "0010_link_hosts".to_string(),
                "0011_fhir_sync".to_string(),
                "0012_portal".to_string(),
                "0013_sso".to_string(),
                "0014_totp".to_string()
            ]
        );
        assert!(
            db.migrate().await.unwrap().is_empty(),
            "second run applies nothing"
        );
        db.ping().await.unwrap();
    }

    #[tokio::test]
    async fn applied_versions_are_recognised_so_a_racing_node_can_skip_them() {
        let db = Db::connect_to("mem://", "t", "t", None, None)
            .await
            .unwrap();
        db.migrate().await.unwrap();
        assert!(super::is_recorded(db.surreal(), 1).await.unwrap());
        assert!(!super::is_recorded(db.surreal(), 99).await.unwrap());
    }

    #[test]
    fn versions_are_strictly_increasing() {
        let versions: Vec<i64> = super::MIGRATIONS.iter().map(|m| m.0).collect();
        assert!(versions.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(versions[0], 1);
    }
}
