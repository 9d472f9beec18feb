//! The database: one `Surreal<Any>` handle (embedded surrealkv by default, a
//! SurrealDB server over ws:// in a cluster), the schema migrations, and one
//! module per table with the queries on it. Every query binds its
//! parameters; no SurrealQL is ever assembled from input.

mod api_keys;
mod audit;
mod brand;
mod chat;
mod consultations;
mod fhir_sync;
mod idempotency;
mod media;
mod migrate;
mod notifications;
mod sessions;
mod settings;
mod sso;
mod translators;
mod users;
mod webhooks;

pub use api_keys::ApiKeyRow;
pub use audit::{AuditEntry, AuditEventRow};
pub use brand::LogoRow;
pub use chat::{AttachmentRow, MESSAGE_FIELDS, MessageRow, NewAttachment};
pub use consultations::{
    ConsultationFilter, ConsultationRow, CreatedBy, CreatedKeys, NewConsultationRow,
    NewParticipantRow, ParticipantRow, QueueRow, TranslationRow,
};
pub use idempotency::{IdempotencyRow, StoredAnswer};
pub use notifications::{MessageContext, NewNotification, NotificationRow};
pub use sessions::SessionRow;
pub use settings::SettingRow;
pub use sso::SsoFlowRow;
pub use translators::TranslatorOrgRow;
pub use users::UserRow;
pub(crate) use users::record_key;
pub use webhooks::{
    AfterAttempt, AttemptRecord, AttemptRow, DeliveryRow, EventRow, NewDelivery, NewWebhook,
    WebhookRow,
};

use crate::config::Config;
use surrealdb::Surreal;
use surrealdb::engine::any::{self, Any};
use surrealdb::opt::auth::Root;

/// What can go wrong talking to the database, worded for the operator.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot open the database {address}: {reason}")]
    Connect { address: String, reason: String },
    #[error("migration {name} failed: {reason}")]
    Migration { name: String, reason: String },
    /// A unique index refused the write (e.g. an email already in use).
    #[error("a record with this {0} already exists")]
    Duplicate(&'static str),
    /// The schema refused a field's value (its ASSERT or TYPE).
    #[error("the {0} was refused by the database schema")]
    Rejected(&'static str),
    #[error("database error: {0}")]
    Query(String),
}

impl From<surrealdb::Error> for DbError {
    fn from(error: surrealdb::Error) -> Self {
        DbError::Query(error.message().to_string())
    }
}

/// True when a write was refused by the unique index `index`.
fn is_unique_violation(error: &surrealdb::Error, index: &str) -> bool {
    let message = error.message();
    message.contains("already contains") && message.contains(&format!("`{index}`"))
}

/// True when the schema refused the value of `field` (ASSERT or type).
fn is_field_rejection(error: &surrealdb::Error, field: &str) -> bool {
    let message = error.message();
    message.contains(&format!("field `{field}`"))
        && (message.contains("must conform") || message.contains("coerce"))
}

/// The one typed answer of a `BEGIN … RETURN …; COMMIT` query. Which
/// statement index it lands on depends on how the transaction statements
/// are counted, so the first result of type `T` is taken; any statement's
/// error comes first.
fn transaction_answer<T: surrealdb::types::SurrealValue>(
    mut response: surrealdb::IndexedResults,
    what: &str,
) -> Result<T, DbError> {
    if let Some(error) = response.take_errors().into_values().next() {
        return Err(error.into());
    }
    for index in 0..response.num_statements() {
        if let Ok(Some(answer)) = response.take::<Option<T>>(index) {
            return Ok(answer);
        }
    }
    Err(DbError::Query(format!("{what} gave no answer")))
}

/// A cheap, cloneable handle to the database.
#[derive(Clone)]
pub struct Db {
    inner: Surreal<Any>,
}

impl Db {
    pub async fn connect(config: &Config) -> Result<Self, DbError> {
        Self::connect_to(
            &config.database,
            &config.db_namespace,
            &config.db_name,
            config.db_user.as_deref(),
            config.db_password.as_ref().map(|s| s.expose()),
        )
        .await
    }

    /// `address` as in `VISITA_DATABASE`. Credentials only matter for a server.
    pub async fn connect_to(
        address: &str,
        namespace: &str,
        database: &str,
        user: Option<&str>,
        password: Option<&str>,
    ) -> Result<Self, DbError> {
        let failed = |e: surrealdb::Error| DbError::Connect {
            address: address.to_string(),
            reason: e.message().to_string(),
        };
        let inner = any::connect(address).await.map_err(failed)?;
        if let (Some(username), Some(password)) = (user, password) {
            inner
                .signin(Root {
                    username: username.to_string(),
                    password: password.to_string(),
                })
                .await
                .map_err(failed)?;
        }
        inner
            .use_ns(namespace)
            .use_db(database)
            .await
            .map_err(failed)?;
        Ok(Self { inner })
    }

    /// Wraps an existing handle (already on its namespace and database).
    pub fn from_handle(inner: Surreal<Any>) -> Self {
        Self { inner }
    }

    /// The raw handle, for queries that have no method yet (and tests).
    pub fn surreal(&self) -> &Surreal<Any> {
        &self.inner
    }

    /// An empty in-memory database with the schema applied: the test fixture.
    pub async fn in_memory() -> Result<Self, DbError> {
        let db = Self::connect_to("mem://", "test", "test", None, None).await?;
        db.migrate().await?;
        Ok(db)
    }

    /// A real round trip through the query executor.
    pub async fn ping(&self) -> Result<(), DbError> {
        let one: Option<i64> = self.inner.query("RETURN 1").await?.take(0)?;
        match one {
            Some(1) => Ok(()),
            other => Err(DbError::Query(format!("RETURN 1 gave {other:?}"))),
        }
    }

    pub async fn migrate(&self) -> Result<Vec<String>, DbError> {
        migrate::apply(&self.inner).await
    }
}
