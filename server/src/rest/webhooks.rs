//! `/api/v1/webhooks`: a key with `webhooks:manage` subscribes to events,
//! lists and deletes its subscriptions, reads their delivery log and sends a
//! delivery again. A key sees only its own subscriptions.

use super::keys::Scope;
use super::problem::{
    BadRequest, Conflict, Forbidden, NotFound, NotJson, Problem, Refused, TooManyRequests,
    Unauthorized,
};
use super::{Client, client_of, read_json};
use crate::state::AppState;
use crate::webhooks::{CreatedSubscription, DeliveryView, SubscribeRequest, Subscription};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// Most deliveries one read returns.
const MAX_DELIVERIES: usize = 100;

/// Subscribe to events.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks",
    tag = "webhooks",
    params(("Idempotency-Key" = Option<String>, Header, description = "Any unique string (a UUID): a retry with the same key gets the first answer again instead of acting twice. Kept a day.", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    request_body = SubscribeRequest,
    responses(
        (status = 201, description = "Subscribed. The secret is shown this once.", body = CreatedSubscription,
            headers(("Location" = String, description = "The subscription's URL"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 415, response = NotJson),
        (status = 422, response = Refused),
        (status = 429, response = TooManyRequests),
    ),
    security(("api_key" = ["webhooks:manage"]))
)]
pub async fn create(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let who = state
        .api_keys
        .authenticate(&headers, Scope::WebhooksManage)
        .await?;
    let request: SubscribeRequest = read_json(&headers, &body)?;
    let created = state
        .webhooks
        .subscribe(&who.caller, request, &client_of(client))
        .await?;
    let location = format!("/api/v1/webhooks/{}", created.subscription.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(created),
    )
        .into_response())
}

/// This key's subscriptions.
#[utoipa::path(
    get,
    path = "/api/v1/webhooks",
    tag = "webhooks",
    responses(
        (status = 200, description = "The subscriptions (never their secrets).", body = Vec<Subscription>),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 429, response = TooManyRequests),
    ),
    security(("api_key" = ["webhooks:manage"]))
)]
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<Subscription>>, Problem> {
    let who = state
        .api_keys
        .authenticate(&headers, Scope::WebhooksManage)
        .await?;
    Ok(Json(state.webhooks.subscriptions(&who.caller).await?))
}

/// One subscription.
#[utoipa::path(
    get,
    path = "/api/v1/webhooks/{id}",
    tag = "webhooks",
    params(("id" = String, Path, description = "The subscription's id")),
    responses(
        (status = 200, description = "The subscription.", body = Subscription),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
    ),
    security(("api_key" = ["webhooks:manage"]))
)]
pub async fn get_one(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Subscription>, Problem> {
    let who = state
        .api_keys
        .authenticate(&headers, Scope::WebhooksManage)
        .await?;
    Ok(Json(state.webhooks.subscription(&who.caller, &id).await?))
}

/// End a subscription: nothing more is sent, and deliveries still being
/// retried are given up.
#[utoipa::path(
    delete,
    path = "/api/v1/webhooks/{id}",
    tag = "webhooks",
    params(("id" = String, Path, description = "The subscription's id")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
    ),
    security(("api_key" = ["webhooks:manage"]))
)]
pub async fn delete(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    let who = state
        .api_keys
        .authenticate(&headers, Scope::WebhooksManage)
        .await?;
    state
        .webhooks
        .unsubscribe(&who.caller, &id, &client_of(client))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// How many, newest first (1 to 100, default 50).
    #[serde(default)]
    #[param(minimum = 1, maximum = 100)]
    limit: Option<usize>,
}

/// The delivery log of a subscription: each delivery, its status and every
/// try with the receiver's answer.
#[utoipa::path(
    get,
    path = "/api/v1/webhooks/{id}/deliveries",
    tag = "webhooks",
    params(("id" = String, Path, description = "The subscription's id"), DeliveriesQuery),
    responses(
        (status = 200, description = "The latest deliveries.", body = Vec<DeliveryView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
    ),
    security(("api_key" = ["webhooks:manage"]))
)]
pub async fn deliveries(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Result<Query<DeliveriesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<DeliveryView>>, Problem> {
    let who = state
        .api_keys
        .authenticate(&headers, Scope::WebhooksManage)
        .await?;
    let Query(query) = query.map_err(|e| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            format!("The query is not valid: {}.", e.body_text()),
        )
    })?;
    let limit = match query.limit {
        None => 50,
        Some(n) if (1..=MAX_DELIVERIES).contains(&n) => n,
        Some(_) => {
            return Err(Problem {
                field: Some("limit".into()),
                ..Problem::new(
                    StatusCode::BAD_REQUEST,
                    format!("limit is a number from 1 to {MAX_DELIVERIES}."),
                )
            });
        }
    };
    Ok(Json(
        state
            .webhooks
            .deliveries_of(&who.caller, &id, limit)
            .await?,
    ))
}

/// Send a delivery again: a new delivery of the same event with the same
/// body (and event id), tried at once.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/{id}/deliveries/{deliveryId}/replay",
    tag = "webhooks",
    params(
        ("id" = String, Path, description = "The subscription's id"),
        ("deliveryId" = String, Path, description = "The delivery to send again"),
        ("Idempotency-Key" = Option<String>, Header, description = "Any unique string (a UUID): a retry with the same key gets the first answer again instead of acting twice. Kept a day.", min_length = 1, max_length = 255, pattern = "^[!-~]+$")
    ),
    responses(
        (status = 202, description = "Queued; it is tried within a second or two.", body = DeliveryView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = Refused),
        (status = 429, response = TooManyRequests),
    ),
    security(("api_key" = ["webhooks:manage"]))
)]
pub async fn replay(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let who = state
        .api_keys
        .authenticate(&headers, Scope::WebhooksManage)
        .await?;
    let replayed = state
        .webhooks
        .api_replay(&who.caller, &id, &delivery, &client_of(client))
        .await?;
    Ok((StatusCode::ACCEPTED, Json(replayed)).into_response())
}
