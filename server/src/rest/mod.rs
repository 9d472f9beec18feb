//! The REST API under `/api/v1`: JSON in and out, an API key on every
//! request (`Authorization: Bearer vk_…`, checked for the scope each route
//! needs), errors as `application/problem+json`.

pub mod consultations;
pub mod cors;
pub mod idempotency;
pub mod key_admin;
pub mod keys;
pub mod openapi;
pub mod problem;
pub mod seed;
pub mod webhooks;

use crate::state::AppState;
use app::ssr::ClientInfo;
use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use problem::Problem;
use serde::de::DeserializeOwned;

pub const PREFIX: &str = "/api/v1";

/// The API's routes, with their state; `S` is whatever the router they
/// join still needs.
pub fn router<S: Clone + Send + Sync + 'static>(state: AppState) -> Router<S> {
    Router::new()
        .route(
            "/api/v1/consultations",
            post(consultations::create).get(consultations::list),
        )
        .route("/api/v1/consultations/{id}", get(consultations::get_one))
        .route(
            "/api/v1/consultations/{id}/cancel",
            post(consultations::cancel),
        )
        .route(
            "/api/v1/consultations/{id}/reschedule",
            post(consultations::reschedule),
        )
        .route(
            "/api/v1/consultations/{id}/patient-link",
            post(consultations::new_patient_link),
        )
        .route(
            "/api/v1/consultations/{id}/guests",
            post(consultations::add_guest),
        )
        .route(
            "/api/v1/consultations/{id}/report.pdf",
            get(consultations::report),
        )
        .route("/api/v1/queues", get(consultations::queues))
        .route(
            "/api/v1/webhooks",
            post(webhooks::create).get(webhooks::list),
        )
        .route(
            "/api/v1/webhooks/{id}",
            get(webhooks::get_one).delete(webhooks::delete),
        )
        .route(
            "/api/v1/webhooks/{id}/deliveries",
            get(webhooks::deliveries),
        )
        .route(
            "/api/v1/webhooks/{id}/deliveries/{delivery}/replay",
            post(webhooks::replay),
        )
        .route(seed::ROUTE, post(seed::create))
        .route("/api/v1/openapi.json", get(openapi::json))
        .route("/api/v1/docs", get(openapi::page))
        .route("/api/v1/{*rest}", axum::routing::any(not_found))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            idempotency::layer,
        ))
        .layer(axum::middleware::from_fn_with_state(
            cors::AllowedOrigins(std::sync::Arc::new(state.config.api_cors_origins.clone())),
            cors::layer,
        ))
        .with_state(state)
}

async fn not_found() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "There is no such API route.")
}

/// Who is on the other end (address, agent), as the session layer read it.
pub type Client = Option<axum::Extension<ClientInfo>>;

pub fn client_of(client: Client) -> ClientInfo {
    client.map(|c| c.0).unwrap_or_default()
}

/// The shape of our record ids (queues, consultations): checked before a
/// lookup, so an odd one is "not found" and never a database error.
pub(crate) fn looks_like_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 40
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A JSON body read strictly: 415 unless it says JSON, 400 naming the field
/// that is missing, unknown or of the wrong type.
fn read_json<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, Problem> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            let v = v.trim();
            v.eq_ignore_ascii_case("application/json") || v.ends_with("+json")
        });
    if !is_json {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Send the body as JSON, with Content-Type: application/json.",
        ));
    }
    let mut reader = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut reader).map_err(|error| {
        let path = error.path().to_string();
        let message = error.inner().to_string();
        let field = if path == "." {
            field_named_in(&message)
        } else {
            Some(path)
        };
        Problem {
            field,
            ..Problem::new(
                StatusCode::BAD_REQUEST,
                format!("The body is not valid: {message}."),
            )
        }
    })
}

/// The field a serde message names (`missing field `x``, `unknown field `y``).
fn field_named_in(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_name_their_field() {
        assert_eq!(
            field_named_in("missing field `timezone` at line 1 column 2"),
            Some("timezone".into())
        );
        assert_eq!(field_named_in("expected a string"), None);
    }
}
