//! `/api/v1/consultations`: book for a clinician (by email), read one, list
//! with filters and a cursor, cancel. Bodies and queries are read strictly:
//! an unknown or malformed field is a 400 that names it.

use super::keys::Scope;
use super::problem::Problem;
use super::{Client, client_of, read_json};
use crate::consultations::api::{ApiBooking, ApiConsultation, ApiPage, parse_cursor};
use crate::db::ConsultationFilter;
use crate::state::AppState;
use app::consultation::{ConsultationId, DEFAULT_QUEUE, NewConsultation, QueueId};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, FixedOffset, Timelike, Utc};
use serde::Deserialize;

/// Most consultations a list page holds.
const MAX_LIMIT: usize = 200;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRequest {
    pub patient_name: String,
    #[serde(default)]
    pub patient_email: Option<String>,
    #[serde(default)]
    pub patient_phone: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    pub timezone: String,
    /// RFC 3339; absent or null: now.
    #[serde(default)]
    pub scheduled_at: Option<DateTime<FixedOffset>>,
    #[serde(default)]
    pub queue: Option<String>,
    pub clinician_email: String,
    #[serde(default = "yes")]
    pub send_invite: bool,
    #[serde(default)]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    pub external_id: Option<String>,
}

fn yes() -> bool {
    true
}

pub async fn create(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let who = state
        .api_keys
        .authenticate(&headers, Scope::ConsultationsWrite)
        .await?;
    let request: CreateRequest = read_json(&headers, &body)?;
    if let Some(id) = &request.external_id
        && (id.trim().is_empty() || id.chars().count() > 200)
    {
        return Err(Problem::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "externalId",
            "Give an identifier of 1 to 200 characters, or leave it out.",
        ));
    }
    if let Some(metadata) = &request.metadata
        && serde_json::to_vec(metadata).map_or(0, |v| v.len()) > 16 * 1024
    {
        return Err(Problem::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "metadata",
            "Keep the metadata under 16 KiB.",
        ));
    }
    let host = state
        .accounts
        .principal_by_email(&request.clinician_email)
        .await
        .map_err(Problem::from)?
        .ok_or_else(|| {
            Problem::field(
                StatusCode::UNPROCESSABLE_ENTITY,
                "clinicianEmail",
                "No active staff account has this email address.",
            )
        })?;
    let scheduled_for = match request.scheduled_at {
        None => String::new(),
        Some(at) => {
            if at.second() != 0 || at.nanosecond() != 0 {
                return Err(Problem::field(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "scheduledAt",
                    "Give the time to the minute (seconds 00).",
                ));
            }
            at.with_timezone(&Utc).format("%Y-%m-%dT%H:%M").to_string()
        }
    };
    let booking = NewConsultation {
        queue: QueueId(request.queue.unwrap_or_else(|| DEFAULT_QUEUE.to_string())),
        patient_name: request.patient_name,
        patient_email: request.patient_email.unwrap_or_default(),
        patient_phone: request.patient_phone.unwrap_or_default(),
        language: request.language.unwrap_or_else(|| "en".into()),
        timezone: request.timezone,
        scheduled_for,
        clinician_timezone: "UTC".into(),
    };
    let extra = ApiBooking {
        key: who.caller.key.clone(),
        external_id: request.external_id.map(|s| s.trim().to_string()),
        metadata: request.metadata.map(serde_json::Value::Object),
        send_invite: request.send_invite,
    };
    let created = state
        .consultations
        .api_create(&who.caller, &host, booking, extra, &client_of(client))
        .await?;
    let location = format!("/api/v1/consultations/{}", created.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(created),
    )
        .into_response())
}

pub async fn get_one(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<ApiConsultation>, Problem> {
    let who = state
        .api_keys
        .authenticate(&headers, Scope::ConsultationsRead)
        .await?;
    let id = consultation_id(&id)?;
    Ok(Json(
        state
            .consultations
            .api_get(&who.caller, &id, &client_of(client))
            .await?,
    ))
}

pub async fn cancel(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<ApiConsultation>, Problem> {
    let who = state
        .api_keys
        .authenticate(&headers, Scope::ConsultationsWrite)
        .await?;
    let id = consultation_id(&id)?;
    Ok(Json(
        state
            .consultations
            .api_cancel(&who.caller, &id, &client_of(client))
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    queue: Option<String>,
    #[serde(default)]
    external_id: Option<String>,
    #[serde(default)]
    from: Option<DateTime<FixedOffset>>,
    #[serde(default)]
    to: Option<DateTime<FixedOffset>>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
}

pub async fn list(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ApiPage>, Problem> {
    let who = state
        .api_keys
        .authenticate(&headers, Scope::ConsultationsRead)
        .await?;
    let Query(query) = query.map_err(|e| {
        let text = e.body_text();
        Problem {
            field: super::field_named_in(&text),
            ..Problem::new(StatusCode::BAD_REQUEST, text)
        }
    })?;
    if let Some(status) = &query.status
        && !app::consultation::ConsultationStatus::ALL
            .iter()
            .any(|s| s.as_str() == status)
    {
        return Err(Problem::field(
            StatusCode::BAD_REQUEST,
            "status",
            format!(
                "{status:?} is none of {}.",
                app::consultation::ConsultationStatus::ALL
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let after = match &query.cursor {
        None => None,
        Some(cursor) => Some(parse_cursor(cursor).ok_or_else(|| {
            Problem::field(
                StatusCode::BAD_REQUEST,
                "cursor",
                "This cursor is not one this API gave out.",
            )
        })?),
    };
    let limit = query.limit.unwrap_or(50);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Problem::field(
            StatusCode::BAD_REQUEST,
            "limit",
            format!("Ask for 1 to {MAX_LIMIT} consultations per page."),
        ));
    }
    let filter = ConsultationFilter {
        status: query.status,
        queue: query.queue,
        external_id: query.external_id,
        from: query.from.map(|t| t.with_timezone(&Utc)),
        to: query.to.map(|t| t.with_timezone(&Utc)),
        after,
        limit,
    };
    Ok(Json(
        state
            .consultations
            .api_list(&who.caller, filter, &client_of(client))
            .await?,
    ))
}

/// A consultation id from a path: ours are letters and digits; anything
/// else names no consultation.
fn consultation_id(id: &str) -> Result<ConsultationId, Problem> {
    if !id.is_empty() && id.len() <= 40 && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(ConsultationId(id.to_string()))
    } else {
        Err(Problem::new(
            StatusCode::NOT_FOUND,
            "This consultation does not exist.",
        ))
    }
}
