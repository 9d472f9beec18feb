//! API keys: `vk_<id>_<secret>`. The id finds the row; only the SHA-256 of
//! the secret is stored, so a copy of the database opens nothing. Each key
//! has scopes and a rate (requests per minute, counted on each node).

use super::problem::Problem;
use crate::db::{ApiKeyRow, Db};
use axum::http::{HeaderMap, StatusCode, header};
use chrono::{DateTime, Utc};
use rand::RngCore;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    ConsultationsRead,
    ConsultationsWrite,
    WebhooksManage,
}

impl Scope {
    pub const ALL: [Scope; 3] = [
        Scope::ConsultationsRead,
        Scope::ConsultationsWrite,
        Scope::WebhooksManage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ConsultationsRead => "consultations:read",
            Scope::ConsultationsWrite => "consultations:write",
            Scope::WebhooksManage => "webhooks:manage",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text.trim())
    }
}

/// A key just made: shown once, in full.
#[derive(Debug)]
pub struct IssuedKey {
    pub id: String,
    pub key: String,
}

/// Who is calling: the key, with what it may do.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub caller: crate::consultations::api::ApiCaller,
    pub scopes: Vec<String>,
}

/// Why a key could not be made or changed, for the command line.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("--name: give the key a name of 1 to 80 characters (what uses it)")]
    Name,
    #[error(
        "--scopes: {0:?} is not a scope (known: consultations:read, consultations:write, webhooks:manage)"
    )]
    Scope(String),
    #[error("--scopes: give at least one scope")]
    NoScope,
    #[error("there is no key {0} that is not already revoked")]
    NotFound(String),
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
}

/// A bucket of requests per key: full at `rate`, one back every 60/rate s.
struct Bucket {
    tokens: f64,
    at: Instant,
}

pub struct ApiKeys {
    pub(super) db: Db,
    /// The clinic's zone, for times on the admin page.
    pub(super) timezone: String,
    buckets: Mutex<HashMap<String, Bucket>>,
    /// When each key's `last_used_at` was last written (at most once a
    /// minute: a busy key does not write on every request).
    touched: Mutex<HashMap<String, Instant>>,
}

const TOUCH_EVERY: Duration = Duration::from_secs(60);
/// Requests per minute a new key may make (each node counts its own).
pub const DEFAULT_RATE_PER_MINUTE: u32 = 600;

impl ApiKeys {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            timezone: "UTC".into(),
            buckets: Mutex::default(),
            touched: Mutex::default(),
        }
    }

    /// Times on the admin page in the clinic's zone.
    pub fn with_timezone(mut self, timezone: &str) -> Self {
        self.timezone = timezone.to_string();
        self
    }

    pub async fn create(
        &self,
        name: &str,
        scopes: &[String],
        rate_per_minute: u32,
        created_by: &str,
    ) -> Result<IssuedKey, KeyError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 80 {
            return Err(KeyError::Name);
        }
        let mut checked = Vec::new();
        for scope in scopes.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            let scope = Scope::parse(scope).ok_or_else(|| KeyError::Scope(scope.to_string()))?;
            if !checked.contains(&scope.as_str().to_string()) {
                checked.push(scope.as_str().to_string());
            }
        }
        if checked.is_empty() {
            return Err(KeyError::NoScope);
        }
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let secret = hex::encode(secret);
        let id = self
            .db
            .create_api_key(
                name,
                &crate::auth::token::digest(&secret),
                &checked,
                rate_per_minute.clamp(1, 100_000),
                created_by,
            )
            .await?;
        Ok(IssuedKey {
            key: format!("vk_{id}_{secret}"),
            id,
        })
    }

    pub async fn list(&self) -> Result<Vec<ApiKeyRow>, KeyError> {
        Ok(self.db.api_keys().await?)
    }

    pub async fn revoke(&self, id: &str, at: DateTime<Utc>) -> Result<(), KeyError> {
        if self.db.revoke_api_key(id, at).await? {
            Ok(())
        } else {
            Err(KeyError::NotFound(id.to_string()))
        }
    }

    /// The caller of a request that needs `scope`: 401 without a valid key,
    /// 403 when the key lacks the scope, 429 past its rate.
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        scope: Scope,
    ) -> Result<Authenticated, Problem> {
        // `X-API-Key` too: integrations written for the seed service send it
        // that way.
        let token = match (headers.get(header::AUTHORIZATION), headers.get("x-api-key")) {
            (Some(value), _) => {
                let value = value.to_str().unwrap_or_default();
                value
                    .strip_prefix("Bearer ")
                    .or_else(|| value.strip_prefix("bearer "))
                    .map(str::trim)
                    .ok_or_else(|| {
                        Problem::unauthorized("The Authorization header must be: Bearer vk_…")
                    })?
            }
            (None, Some(value)) => value.to_str().unwrap_or_default().trim(),
            (None, None) => {
                return Err(Problem::unauthorized(
                    "Send your API key as: Authorization: Bearer vk_…",
                ));
            }
        };
        let wrong = || Problem::unauthorized("This API key is not valid.");
        let (id, secret) = parse_key(token).ok_or_else(wrong)?;
        let row = self
            .db
            .api_key(id)
            .await
            .map_err(|error| {
                tracing::error!(%error, "could not read an API key");
                Problem::new(StatusCode::SERVICE_UNAVAILABLE, "Try again in a moment.")
            })?
            .ok_or_else(wrong)?;
        if row.secret_hash != crate::auth::token::digest(secret) {
            return Err(wrong());
        }
        if row.revoked_at.is_some() {
            return Err(Problem::unauthorized("This API key has been revoked."));
        }
        if !row.scopes.iter().any(|s| s == scope.as_str()) {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                format!("This API key does not have the {} scope.", scope.as_str()),
            ));
        }
        self.take_token(&row)?;
        self.touch(&row).await;
        Ok(Authenticated {
            caller: crate::consultations::api::ApiCaller {
                key: row.key(),
                name: row.name.clone(),
            },
            scopes: row.scopes,
        })
    }

    fn take_token(&self, row: &ApiKeyRow) -> Result<(), Problem> {
        let rate = row.rate_per_minute.max(1) as f64;
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let bucket = buckets.entry(row.key()).or_insert(Bucket {
            tokens: rate,
            at: now,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() * rate / 60.0;
        bucket.tokens = (bucket.tokens + refill).min(rate);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - bucket.tokens) * 60.0 / rate).ceil() as u64;
            Err(Problem {
                retry_after: Some(wait.max(1)),
                ..Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "This API key may make {} requests per minute; wait {} s.",
                        row.rate_per_minute,
                        wait.max(1)
                    ),
                )
            })
        }
    }

    async fn touch(&self, row: &ApiKeyRow) {
        let due = {
            let mut touched = self
                .touched
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = Instant::now();
            match touched.get(&row.key()) {
                Some(at) if now.duration_since(*at) < TOUCH_EVERY => false,
                _ => {
                    touched.insert(row.key(), now);
                    true
                }
            }
        };
        if due && let Err(error) = self.db.touch_api_key(&row.key(), Utc::now()).await {
            tracing::warn!(%error, "could not record an API key's use");
        }
    }
}

/// `vk_<id>_<secret>` → (id, secret), shapes checked before any lookup.
fn parse_key(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix("vk_")?;
    let (id, secret) = rest.split_once('_')?;
    let id_ok = (8..=40).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let secret_ok = secret.len() == 64 && secret.bytes().all(|b| b.is_ascii_hexdigit());
    (id_ok && secret_ok).then_some((id, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_only_in_their_shape() {
        let secret = "a".repeat(64);
        assert_eq!(
            parse_key(&format!("vk_abcdefgh12_{secret}")),
            Some(("abcdefgh12", secret.as_str()))
        );
        assert_eq!(parse_key(&format!("vk_ABC_{secret}")), None);
        assert_eq!(parse_key("vk_abcdefgh12_short"), None);
        assert_eq!(parse_key(&format!("pk_abcdefgh12_{secret}")), None);
        assert_eq!(parse_key(&format!("vk_abcd'efgh_{secret}")), None);
    }

    #[test]
    fn scopes_parse_by_name() {
        assert_eq!(
            Scope::parse("consultations:write"),
            Some(Scope::ConsultationsWrite)
        );
        assert_eq!(Scope::parse("consultations:delete"), None);
    }
}
