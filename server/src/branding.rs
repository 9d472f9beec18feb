//! Company logos for sessions made by the seed-compatible route: fetched
//! once by the server from the URL the integrator gave (through the same
//! address guard as webhooks), checked to be an image, stored, and served
//! from `/brand/{key}`. Patients' browsers so load nothing from elsewhere,
//! and a logo that moves or disappears later does not break old sessions.

use crate::db::{Db, DbError};
use crate::files::{FileKind, sniff};
use crate::state::AppState;
use crate::webhooks::guard::{AddressGuard, UrlRefusal};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use std::sync::Arc;
use std::time::Duration;

/// The largest logo taken.
const MAX_BYTES: usize = 512 * 1024;
/// A logo fetched this recently from the same URL is used again.
const REUSE_FOR: chrono::Duration = chrono::Duration::hours(24);
const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum LogoError {
    #[error("{0}")]
    Refused(#[from] UrlRefusal),
    #[error("the logo could not be fetched: {0}")]
    Unreachable(String),
    #[error("the logo is larger than 512 KiB")]
    TooLarge,
    #[error("the logo is not a PNG, JPEG, GIF or WebP image")]
    NotImage,
    #[error(transparent)]
    Db(#[from] DbError),
}

pub struct Logos {
    db: Db,
    guard: Arc<AddressGuard>,
    client: reqwest::Client,
}

impl Logos {
    pub fn new(db: Db, guard: Arc<AddressGuard>) -> Self {
        let client = guard.client(TIMEOUT);
        Self { db, guard, client }
    }

    /// The stored logo of `url`: fetched now, or the copy of the last day.
    pub async fn fetch(&self, url: &str) -> Result<String, LogoError> {
        let url = self.guard.check_url(url).await?;
        if let Some(key) = self
            .db
            .recent_logo(url.as_str(), Utc::now() - REUSE_FOR)
            .await?
        {
            return Ok(key);
        }
        let mut response = self
            .client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| LogoError::Unreachable(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(LogoError::Unreachable(format!(
                "the server answered {}",
                response.status().as_u16()
            )));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| LogoError::Unreachable(e.without_url().to_string()))?
        {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > MAX_BYTES {
                return Err(LogoError::TooLarge);
            }
        }
        let kind = sniff(&bytes)
            .filter(|k| k.is_image())
            .ok_or(LogoError::NotImage)?;
        Ok(self
            .db
            .store_logo(url.as_str(), kind.content_type(), bytes, Utc::now())
            .await?)
    }
}

/// `GET /brand/{key}`: a stored logo, as an image and nothing else.
pub async fn logo(State(state): State<AppState>, Path(key): Path<String>) -> Response {
    if !crate::rest::looks_like_id(&key) {
        return StatusCode::NOT_FOUND.into_response();
    }
    match state.db.logo(&key).await {
        Ok(Some(row)) if FileKind::from_content_type(&row.content_type).is_some() => {
            let mut response = row.bytes.into_inner().into_response();
            let h = response.headers_mut();
            if let Ok(value) = HeaderValue::from_str(&row.content_type) {
                h.insert(header::CONTENT_TYPE, value);
            }
            // A stored logo never changes: its key is new for new bytes.
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=604800, immutable"),
            );
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; sandbox"),
            );
            response
        }
        Ok(_) => StatusCode::NOT_FOUND.into_response(),
        Err(error) => {
            tracing::error!(%error, "reading a logo");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}
