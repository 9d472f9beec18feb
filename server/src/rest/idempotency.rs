//! `Idempotency-Key` on the API's POSTs: a request retried with the same key
//! (by the same API key) gets the first answer again, marked
//! `Idempotent-Replayed: true`, instead of booking twice. The same key with
//! another request is refused (422); while the first is still being
//! answered, a second gets 409. Answers are kept a day; a failure on our
//! side (5xx) or of the caller's key (401, 403, 429) is not kept.

use super::problem::Problem;
use crate::db::StoredAnswer;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub const HEADER: &str = "idempotency-key";
const REPLAYED: &str = "idempotent-replayed";
/// Largest body (and answer) handled; the router's own limit is lower.
const MAX_BYTES: usize = 4 * 1024 * 1024;

pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let Some(value) = request.headers().get(HEADER) else {
        return next.run(request).await;
    };
    let Some(key) = value
        .to_str()
        .ok()
        .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
    else {
        return Problem::field(
            StatusCode::BAD_REQUEST,
            "Idempotency-Key",
            "An Idempotency-Key is 1 to 255 visible ASCII characters, e.g. a UUID.",
        )
        .into_response();
    };
    let caller = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    // Without anything like a key the handler refuses it anyway: nothing to
    // remember, and nothing written for anonymous callers.
    if !caller.starts_with("Bearer vk_") {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BYTES).await else {
        return Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "The body is too large.")
            .into_response();
    };
    use crate::auth::token::digest;
    // Scoped to the API key: another key's same Idempotency-Key is another request.
    let id = digest(&format!("{caller}\n{key}"));
    let request_hash = digest(&format!(
        "{} {}\n{}",
        parts.method,
        parts.uri,
        String::from_utf8_lossy(&bytes)
    ));
    let now = chrono::Utc::now();
    let claimed = state
        .db
        .claim_idempotency(&id, &request_hash, now, now + chrono::Duration::hours(24))
        .await;
    match claimed {
        Err(error) => {
            tracing::error!(%error, "could not read the Idempotency-Key store");
            Problem::new(StatusCode::SERVICE_UNAVAILABLE, "Try again in a moment.").into_response()
        }
        Ok(Some(seen)) if seen.request_hash != request_hash => Problem::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Idempotency-Key",
            "This Idempotency-Key was used with another request; use a new one for a new request.",
        )
        .into_response(),
        Ok(Some(seen)) => match seen.status {
            None => Problem::field(
                StatusCode::CONFLICT,
                "Idempotency-Key",
                "The first request with this Idempotency-Key is still being answered; try again in a moment.",
            )
            .into_response(),
            Some(status) => replay(status, seen.content_type, seen.location, seen.body),
        },
        Ok(None) => {
            let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
            keep(&state, &id, response).await
        }
    }
}

/// Stores the answer when a retry should see it again, and passes it on.
async fn keep(state: &AppState, id: &str, response: Response) -> Response {
    let status = response.status();
    let kept = status.is_success()
        || (status.is_client_error() && !matches!(status.as_u16(), 401 | 403 | 429));
    if !kept {
        if let Err(error) = state.db.drop_idempotency(id).await {
            tracing::warn!(%error, "could not release an Idempotency-Key");
        }
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BYTES).await else {
        return Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The answer could not be read.",
        )
        .into_response();
    };
    let text = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    // Binary answers (the report) are not kept: a retry makes it again.
    if let Ok(body) = String::from_utf8(bytes.to_vec()) {
        let answer = StoredAnswer {
            status: status.as_u16(),
            content_type: text(header::CONTENT_TYPE),
            location: text(header::LOCATION),
            body,
        };
        if let Err(error) = state.db.finish_idempotency(id, answer).await {
            tracing::warn!(%error, "could not keep an answer for its Idempotency-Key");
        }
    } else if let Err(error) = state.db.drop_idempotency(id).await {
        tracing::warn!(%error, "could not release an Idempotency-Key");
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn replay(
    status: i64,
    content_type: Option<String>,
    location: Option<String>,
    body: Option<String>,
) -> Response {
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let mut response = (status, body.unwrap_or_default()).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, content_type),
        (header::LOCATION, location),
    ] {
        if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(name, value);
        }
    }
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    response
}
