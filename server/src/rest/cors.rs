//! Cross-origin calls to the REST API from the pages of origins an
//! administrator allowed (`VISITA_API_CORS_ORIGINS`): the preflight is
//! answered here, answers carry `Access-Control-Allow-Origin` for those
//! origins only. No credentials (cookies) are ever allowed: the API's only
//! authority is the key in the `Authorization` header.

use super::problem::Problem;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct AllowedOrigins(pub Arc<Vec<String>>);

pub async fn layer(
    State(allowed): State<AllowedOrigins>,
    request: Request,
    next: Next,
) -> Response {
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    let Some(origin) = origin else {
        return next.run(request).await;
    };
    let is_allowed = allowed.0.contains(&origin);
    if request.method() == Method::OPTIONS {
        if !is_allowed {
            return Problem::new(
                StatusCode::FORBIDDEN,
                "Pages of this origin may not call the API (VISITA_API_CORS_ORIGINS).",
            )
            .into_response();
        }
        let mut response = StatusCode::NO_CONTENT.into_response();
        let headers = response.headers_mut();
        allow(headers, &origin);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, DELETE"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type, idempotency-key, x-api-key"),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        return response;
    }
    let mut response = next.run(request).await;
    if is_allowed {
        let headers = response.headers_mut();
        allow(headers, &origin);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("location, retry-after, idempotent-replayed"),
        );
    }
    response
}

fn allow(headers: &mut axum::http::HeaderMap, origin: &str) {
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    headers.append(header::VARY, HeaderValue::from_static("origin"));
}
