//! `/api/v1/consultations`: book for a clinician (by email), read one, list
//! with filters and a cursor, cancel. Bodies and queries are read strictly:
//! an unknown or malformed field is a 400 that names it.

use super::keys::Scope;
use super::problem::{
    BadRequest, Conflict, Forbidden, NotFound, NotJson, Problem, Refused, TooManyRequests,
    Unauthorized,
};
use super::{Client, client_of, looks_like_id, read_json};
use crate::consultations::api::{
    ApiBooking, ApiConsultation, ApiHost, ApiPage, Brand, parse_cursor,
};
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

/// A consultation to book.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = NewConsultation)]
pub struct CreateRequest {
    /// 1 to 120 characters.
    #[schema(example = "Zoë Lambert")]
    pub patient_name: String,
    #[serde(default)]
    pub patient_email: Option<String>,
    #[serde(default)]
    pub patient_phone: Option<String>,
    /// `en` (default) or `fr`: the patient's pages and messages.
    #[serde(default)]
    #[schema(example = "fr")]
    pub language: Option<String>,
    /// The patient's IANA time zone, e.g. `Europe/Paris`.
    #[schema(example = "Europe/Paris")]
    pub timezone: String,
    /// RFC 3339 to the minute; absent or null: now.
    #[serde(default)]
    #[schema(example = "2030-05-04T09:30:00+02:00")]
    pub scheduled_at: Option<DateTime<FixedOffset>>,
    /// The queue's id; absent: `default`.
    #[serde(default)]
    pub queue: Option<String>,
    /// The host: an active staff account working in the queue. Give this
    /// or `clinicianName`.
    #[serde(default)]
    #[schema(example = "dr.martin@hospital.example")]
    pub clinician_email: Option<String>,
    /// The host by name, when they have no Visita account: the answer's
    /// `doctorLink` is then their own link, which opens this one
    /// consultation as its host (1 to 120 characters).
    #[serde(default)]
    pub clinician_name: Option<String>,
    /// True (default): the patient gets the invite and reminders by email
    /// and text message.
    #[serde(default = "yes")]
    #[schema(example = false)]
    pub send_invite: bool,
    /// Free data kept with the consultation, at most 16 KiB.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// Your own identifier, 1 to 200 characters.
    #[serde(default)]
    pub external_id: Option<String>,
}

fn yes() -> bool {
    true
}

/// Book a consultation.
#[utoipa::path(
    post,
    path = "/api/v1/consultations",
    tag = "consultations",
    params(("Idempotency-Key" = Option<String>, Header, description = "Any unique string (a UUID): a retry with the same key gets the first answer again instead of acting twice. Kept a day.", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    request_body = CreateRequest,
    responses(
        (status = 201, description = "Booked; its links are in the answer.", body = ApiConsultation,
            headers(("Location" = String, description = "Where it can be read"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 415, response = NotJson),
        (status = 422, response = Refused),
        (status = 429, response = TooManyRequests),
    ),
    security(("api_key" = ["consultations:write"]))
)]
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
    let host = match (&request.clinician_email, request.clinician_name) {
        (Some(email), None) => ApiHost::Account(
            state
                .accounts
                .principal_by_email(email)
                .await
                .map_err(Problem::from)?
                .ok_or_else(|| {
                    Problem::field(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "clinicianEmail",
                        "No active staff account has this email address.",
                    )
                })?,
        ),
        (None, Some(name)) => ApiHost::ByLink(name),
        _ => {
            return Err(Problem::field(
                StatusCode::UNPROCESSABLE_ENTITY,
                "clinicianEmail",
                "Give the host as clinicianEmail (a staff account) or as clinicianName (no account), one of the two.",
            ));
        }
    };
    if let Some(queue) = &request.queue
        && !looks_like_id(queue)
    {
        return Err(Problem::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "queue",
            "No queue has this id.",
        ));
    }
    let scheduled_for = match request.scheduled_at {
        None => String::new(),
        Some(at) => to_the_minute(at)?.format("%Y-%m-%dT%H:%M").to_string(),
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
        host_by_link: false,
        auto_admit: false,
        brand: Brand::default(),
    };
    let created = state
        .consultations
        .api_create(&who.caller, host, booking, extra, &client_of(client))
        .await?;
    let location = format!("/api/v1/consultations/{}", created.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(created),
    )
        .into_response())
}

/// Read one consultation.
#[utoipa::path(
    get,
    path = "/api/v1/consultations/{id}",
    tag = "consultations",
    params(("id" = String, Path, description = "The consultation's id")),
    responses(
        (status = 200, description = "The consultation.", body = ApiConsultation),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
    ),
    security(("api_key" = ["consultations:read"]))
)]
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

/// Cancel a consultation not yet under way.
#[utoipa::path(
    post,
    path = "/api/v1/consultations/{id}/cancel",
    tag = "consultations",
    params(("id" = String, Path, description = "The consultation's id"), ("Idempotency-Key" = Option<String>, Header, description = "Any unique string (a UUID): a retry with the same key gets the first answer again instead of acting twice. Kept a day.", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses(
        (status = 200, description = "Cancelled.", body = ApiConsultation),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 400, response = BadRequest),
        (status = 409, response = Conflict),
        (status = 422, response = Refused),
        (status = 429, response = TooManyRequests),
    ),
    security(("api_key" = ["consultations:write"]))
)]
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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only those in this status.
    #[serde(default)]
    status: Option<String>,
    /// Only those of this queue.
    #[serde(default)]
    queue: Option<String>,
    /// Only those with this identifier of yours.
    #[serde(default)]
    external_id: Option<String>,
    /// Scheduled (or, for "now", created) at or after (RFC 3339).
    #[serde(default)]
    from: Option<DateTime<FixedOffset>>,
    /// Scheduled (or created) before (RFC 3339).
    #[serde(default)]
    to: Option<DateTime<FixedOffset>>,
    /// The previous page's `nextCursor`.
    #[serde(default)]
    cursor: Option<String>,
    /// 1 to 200 (default 50).
    #[serde(default)]
    #[param(minimum = 1, maximum = 200)]
    limit: Option<usize>,
}

/// List consultations, oldest first, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/consultations",
    tag = "consultations",
    params(ListQuery),
    responses(
        (status = 200, description = "A page.", body = ApiPage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 429, response = TooManyRequests),
    ),
    security(("api_key" = ["consultations:read"]))
)]
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
    if let Some(queue) = &query.queue
        && !looks_like_id(queue)
    {
        return Err(Problem::field(
            StatusCode::BAD_REQUEST,
            "queue",
            "A queue id is 1 to 40 letters, digits, - or _.",
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
        statuses: Vec::new(),
        updated_since: None,
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

/// A new time.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = NewTime)]
pub struct RescheduleRequest {
    /// RFC 3339, to the minute, in the future.
    #[schema(example = "2030-05-04T09:30:00+02:00")]
    pub scheduled_at: DateTime<FixedOffset>,
}

/// Move a consultation nobody has joined yet; the patient is told at once.
#[utoipa::path(
    post,
    path = "/api/v1/consultations/{id}/reschedule",
    tag = "consultations",
    params(("id" = String, Path, description = "The consultation's id"), ("Idempotency-Key" = Option<String>, Header, description = "Any unique string (a UUID): a retry with the same key gets the first answer again instead of acting twice. Kept a day.", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    request_body = RescheduleRequest,
    responses(
        (status = 200, description = "Moved.", body = ApiConsultation),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 415, response = NotJson),
        (status = 422, response = Refused),
        (status = 429, response = TooManyRequests),
    ),
    security(("api_key" = ["consultations:write"]))
)]
pub async fn reschedule(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<ApiConsultation>, Problem> {
    let who = state
        .api_keys
        .authenticate(&headers, Scope::ConsultationsWrite)
        .await?;
    let id = consultation_id(&id)?;
    let request: RescheduleRequest = read_json(&headers, &body)?;
    let at = to_the_minute(request.scheduled_at)?;
    Ok(Json(
        state
            .consultations
            .api_reschedule(&who.caller, &id, at, &client_of(client))
            .await?,
    ))
}

/// Give the patient a new link; the old one stops working at once.
#[utoipa::path(
    post,
    path = "/api/v1/consultations/{id}/patient-link",
    tag = "consultations",
    params(("id" = String, Path, description = "The consultation's id"), ("Idempotency-Key" = Option<String>, Header, description = "Any unique string (a UUID): a retry with the same key gets the first answer again instead of acting twice. Kept a day.", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses(
        (status = 200, description = "The consultation with the new patientLink.", body = ApiConsultation),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 400, response = BadRequest),
        (status = 409, response = Conflict),
        (status = 422, response = Refused),
        (status = 429, response = TooManyRequests),
    ),
    security(("api_key" = ["consultations:write"]))
)]
pub async fn new_patient_link(
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
            .api_new_patient_link(&who.caller, &id, &client_of(client))
            .await?,
    ))
}

/// Someone to add.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = NewGuest)]
pub struct GuestRequest {
    /// As the others will see it, 1 to 80 characters.
    #[schema(example = "Samir Haddad (son)")]
    pub name: String,
    /// `en` (default) or `fr`: their pages.
    #[serde(default)]
    pub language: Option<String>,
    /// `guest` (default: a relative, a colleague without an account) or
    /// `translator` (an interpreter the clinic books itself), as the others
    /// see them.
    #[serde(default)]
    #[schema(example = "guest")]
    pub role: Option<String>,
}

/// A guest's own link.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = GuestLink)]
pub struct GuestLink {
    pub participant_id: String,
    pub link: String,
}

/// Add a guest (a relative, a colleague without an account, an interpreter
/// the clinic books itself): their own link, which lets them into the
/// waiting room.
#[utoipa::path(
    post,
    path = "/api/v1/consultations/{id}/guests",
    tag = "consultations",
    params(("id" = String, Path, description = "The consultation's id"), ("Idempotency-Key" = Option<String>, Header, description = "Any unique string (a UUID): a retry with the same key gets the first answer again instead of acting twice. Kept a day.", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    request_body = GuestRequest,
    responses(
        (status = 201, description = "Added.", body = GuestLink),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 415, response = NotJson),
        (status = 422, response = Refused),
        (status = 429, response = TooManyRequests),
    ),
    security(("api_key" = ["consultations:write"]))
)]
pub async fn add_guest(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Problem> {
    let who = state
        .api_keys
        .authenticate(&headers, Scope::ConsultationsWrite)
        .await?;
    let id = consultation_id(&id)?;
    let request: GuestRequest = read_json(&headers, &body)?;
    let language = match request.language.as_deref() {
        None => app::i18n::Lang::default(),
        Some(code) => app::i18n::Lang::from_code(code).ok_or_else(|| {
            Problem::field(
                StatusCode::UNPROCESSABLE_ENTITY,
                "language",
                "Choose en or fr.",
            )
        })?,
    };
    let role = match request.role.as_deref() {
        None | Some("guest") => app::consultation::ParticipantRole::Guest,
        Some("translator") => app::consultation::ParticipantRole::Translator,
        Some(_) => {
            return Err(Problem::field(
                StatusCode::UNPROCESSABLE_ENTITY,
                "role",
                "Choose guest or translator.",
            ));
        }
    };
    let issued = state
        .consultations
        .api_add_guest(
            &who.caller,
            &id,
            &request.name,
            language,
            role,
            &client_of(client),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(GuestLink {
            participant_id: issued.participant.0,
            link: issued.link,
        }),
    )
        .into_response())
}

/// The consultation's report (PDF): who took part, when, the notes and the
/// chat with its images.
#[utoipa::path(
    get,
    path = "/api/v1/consultations/{id}/report.pdf",
    tag = "consultations",
    params(("id" = String, Path, description = "The consultation's id")),
    responses(
        (status = 200, description = "The report.", content_type = "application/pdf", body = Vec<u8>),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
    ),
    security(("api_key" = ["consultations:read"]))
)]
pub async fn report(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let who = state
        .api_keys
        .authenticate(&headers, Scope::ConsultationsRead)
        .await?;
    let id = consultation_id(&id)?;
    let data = state
        .consultations
        .api_report(&who.caller, &id, &client_of(client))
        .await?;
    let bytes = data.to_pdf().await.map_err(|error| {
        tracing::error!(%error, "could not make a report");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The report could not be made.",
        )
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"consultation-{}.pdf\"", id.0),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        bytes,
    )
        .into_response())
}

/// A time the API takes: to the minute, as an instant.
fn to_the_minute(at: DateTime<FixedOffset>) -> Result<DateTime<Utc>, Problem> {
    if at.second() != 0 || at.nanosecond() != 0 {
        return Err(Problem::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "scheduledAt",
            "Give the time to the minute (seconds 00).",
        ));
    }
    Ok(at.with_timezone(&Utc))
}

/// A queue (department) consultations are booked in.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[schema(as = Queue)]
pub struct ApiQueue {
    /// What `queue` takes when booking.
    pub id: String,
    pub name: String,
}

/// The queues, to book in the right one.
#[utoipa::path(
    get,
    path = "/api/v1/queues",
    tag = "consultations",
    responses(
        (status = 200, description = "Every queue, by name.", body = Vec<ApiQueue>),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 429, response = TooManyRequests),
    ),
    security(("api_key" = ["consultations:read"]))
)]
pub async fn queues(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<ApiQueue>>, Problem> {
    state
        .api_keys
        .authenticate(&headers, Scope::ConsultationsRead)
        .await?;
    let rows = state.db.all_queues().await.map_err(|error| {
        tracing::error!(%error, "could not list the queues");
        Problem::from(app::error::AppError::Internal)
    })?;
    Ok(Json(
        rows.into_iter()
            .map(|q| ApiQueue {
                id: crate::db::record_key(&q.id),
                name: q.name,
            })
            .collect(),
    ))
}
