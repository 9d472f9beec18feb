//! `GET /healthz`: is this node able to serve? Load balancers and `make run`
//! ask it. 503 when the database does not answer.

use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

pub async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let reachable = tokio::time::timeout(Duration::from_secs(2), state.db.ping())
        .await
        .is_ok_and(|r| r.is_ok());
    let version = env!("CARGO_PKG_VERSION");
    if reachable {
        (
            StatusCode::OK,
            Json(json!({ "status": "ok", "db": "ok", "version": version })),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "degraded", "db": "unreachable", "version": version })),
        )
    }
}
