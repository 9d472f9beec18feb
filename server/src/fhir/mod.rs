//! A FHIR R4 facade over Visita's consultations, for records systems that
//! speak FHIR: `/fhir/metadata` (the CapabilityStatement), read and search
//! of `Appointment` and `Encounter`, read of `Patient` and `Practitioner`,
//! and `POST /fhir/Appointment` to book a video consultation from an
//! Appointment whose service type says so. The same API keys as the REST
//! API; errors are OperationOutcomes. Every read is audited under the key.

pub mod booking;
pub mod resources;
pub mod sync;

use crate::consultations::api::ApiCaller;
use crate::db::{AuditEntry, ConsultationFilter, ConsultationRow, ParticipantRow, record_key};
use crate::rest::keys::Scope;
use crate::rest::looks_like_id;
use crate::rest::problem::Problem;
use crate::state::AppState;
use app::ssr::ClientInfo;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

pub const PREFIX: &str = "/fhir";
const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";
const MAX_COUNT: usize = 200;

pub fn router<S: Clone + Send + Sync + 'static>(state: AppState) -> Router<S> {
    Router::new()
        .route("/fhir/metadata", get(metadata))
        .route(
            "/fhir/Appointment",
            get(search_appointments).post(booking::create),
        )
        .route("/fhir/Appointment/{id}", get(read_appointment))
        .route("/fhir/Encounter", get(search_encounters))
        .route("/fhir/Encounter/{id}", get(read_encounter))
        .route("/fhir/Patient/{id}", get(read_patient))
        .route("/fhir/Practitioner/{id}", get(read_practitioner))
        .route("/fhir/{*rest}", axum::routing::any(unknown))
        .with_state(state)
}

/// A FHIR answer: the resource as `application/fhir+json`.
pub struct Fhir(pub StatusCode, pub Value);

impl IntoResponse for Fhir {
    fn into_response(self) -> Response {
        let mut response = (self.0, self.1.to_string()).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
        response
    }
}

/// An error as FHIR says errors are: an OperationOutcome with the right
/// status, the reason in words and, when one element is at fault, where.
pub struct Outcome(pub Problem);

impl From<Problem> for Outcome {
    fn from(problem: Problem) -> Self {
        Self(problem)
    }
}

impl From<app::error::AppError> for Outcome {
    fn from(error: app::error::AppError) -> Self {
        Self(Problem::from(error))
    }
}

impl IntoResponse for Outcome {
    fn into_response(self) -> Response {
        let Problem {
            status,
            detail,
            field,
            retry_after,
        } = self.0;
        let code = match status.as_u16() {
            400 | 415 => "invalid",
            401 => "login",
            403 => "forbidden",
            404 | 410 => "not-found",
            409 => "conflict",
            422 => "business-rule",
            429 => "throttled",
            _ => "exception",
        };
        let mut issue = json!({ "severity": "error", "code": code, "diagnostics": detail });
        if let Some(field) = field {
            issue["expression"] = json!([field]);
        }
        let mut response = Fhir(
            status,
            json!({ "resourceType": "OperationOutcome", "issue": [issue] }),
        )
        .into_response();
        if let Some(seconds) = retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"visita\""),
            );
        }
        response
    }
}

type Answer = Result<Fhir, Outcome>;

fn not_found(what: &str) -> Outcome {
    Outcome(Problem::new(
        StatusCode::NOT_FOUND,
        format!("There is no such {what}."),
    ))
}

fn base(state: &AppState) -> String {
    format!("{}{PREFIX}", state.config.public_url)
}

async fn unknown() -> Outcome {
    Outcome(Problem::new(
        StatusCode::NOT_FOUND,
        "This FHIR server has Appointment, Encounter, Patient and Practitioner (see /fhir/metadata).",
    ))
}

/// The CapabilityStatement: public, as FHIR clients read it first.
async fn metadata(State(state): State<AppState>) -> Fhir {
    Fhir(
        StatusCode::OK,
        resources::capability_statement(
            &base(&state),
            env!("CARGO_PKG_VERSION"),
            chrono::DateTime::UNIX_EPOCH,
        ),
    )
}

async fn audit(
    state: &AppState,
    caller: &ApiCaller,
    action: &'static str,
    target: String,
    client: &ClientInfo,
) {
    state
        .db
        .audit_or_log(AuditEntry::by_api_key(&caller.key, action, target, client))
        .await;
}

/// A consultation with its people, or "not found".
async fn loaded(
    state: &AppState,
    id: &str,
) -> Result<(ConsultationRow, Vec<ParticipantRow>), Outcome> {
    if !looks_like_id(id) {
        return Err(not_found("resource"));
    }
    let row = state
        .db
        .consultation(id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| not_found("resource"))?;
    let participants = state
        .db
        .participants_of(&[id.to_string()])
        .await
        .map_err(db_error)?;
    Ok((row, participants))
}

fn db_error(error: crate::db::DbError) -> Outcome {
    tracing::error!(%error, "FHIR: database error");
    Outcome(Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "The database cannot be reached; try again in a moment.",
    ))
}

async fn read_appointment(
    State(state): State<AppState>,
    client: crate::rest::Client,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    read_consultation(&state, client, &headers, &id, resources::appointment).await
}

async fn read_encounter(
    State(state): State<AppState>,
    client: crate::rest::Client,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    read_consultation(&state, client, &headers, &id, resources::encounter).await
}

/// One consultation, as the resource `shape` makes of it.
async fn read_consultation(
    state: &AppState,
    client: crate::rest::Client,
    headers: &HeaderMap,
    id: &str,
    shape: fn(&ConsultationRow, &[ParticipantRow]) -> Value,
) -> Answer {
    let who = state
        .api_keys
        .authenticate(headers, Scope::ConsultationsRead)
        .await?;
    let (row, participants) = loaded(state, id).await?;
    audit(
        state,
        &who.caller,
        "fhir.read",
        format!("consultation:{id}"),
        &crate::rest::client_of(client),
    )
    .await;
    Ok(Fhir(StatusCode::OK, shape(&row, &participants)))
}

async fn read_patient(
    State(state): State<AppState>,
    client: crate::rest::Client,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    let who = state
        .api_keys
        .authenticate(&headers, Scope::ConsultationsRead)
        .await?;
    if !looks_like_id(&id) {
        return Err(not_found("Patient"));
    }
    let participant = state
        .db
        .participant(&id)
        .await
        .map_err(db_error)?
        .filter(|p| p.role == "patient")
        .ok_or_else(|| not_found("Patient"))?;
    let row = state
        .db
        .consultation(&record_key(&participant.consultation))
        .await
        .map_err(db_error)?
        .ok_or_else(|| not_found("Patient"))?;
    audit(
        &state,
        &who.caller,
        "fhir.read",
        format!("participant:{id}"),
        &crate::rest::client_of(client),
    )
    .await;
    Ok(Fhir(StatusCode::OK, resources::patient(&row, &participant)))
}

async fn read_practitioner(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    state
        .api_keys
        .authenticate(&headers, Scope::ConsultationsRead)
        .await?;
    if !looks_like_id(&id) {
        return Err(not_found("Practitioner"));
    }
    // A staff account that hosts consultations, or a host by link.
    if let Some(user) = state.db.user_by_key(&id).await.map_err(db_error)?
        && user.roles.iter().any(|r| r == "doctor" || r == "nurse")
    {
        return Ok(Fhir(StatusCode::OK, resources::practitioner_of_user(&user)));
    }
    let place = state
        .db
        .participant(&id)
        .await
        .map_err(db_error)?
        .filter(|p| p.role == "host" && p.user.is_none())
        .ok_or_else(|| not_found("Practitioner"))?;
    Ok(Fhir(
        StatusCode::OK,
        resources::practitioner_of_place(&place),
    ))
}

/// The search parameters of a request, in order; repeated ones kept.
fn params(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn bad_param(name: &str, detail: impl Into<String>) -> Outcome {
    Outcome(Problem::field(StatusCode::BAD_REQUEST, name, detail))
}

/// `ge2030-05-04`, `lt2030-05-04T10:00:00Z`…: the prefix and the instant
/// (a date alone is its midnight UTC).
fn date_param(name: &str, value: &str) -> Result<(String, DateTime<Utc>), Outcome> {
    let (prefix, rest) = match value.get(..2) {
        Some(p @ ("ge" | "gt" | "le" | "lt" | "eq")) => (p.to_string(), &value[2..]),
        _ => ("eq".to_string(), value),
    };
    let at = DateTime::parse_from_rfc3339(rest)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(rest, "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
        })
        .map_err(|_| {
            bad_param(
                name,
                format!("{value:?} is not a date like ge2030-05-04 or lt2030-05-04T10:00:00Z."),
            )
        })?;
    Ok((prefix, at))
}

/// The page of consultations a search asks for (or the one consultation,
/// by id).
fn filter_of(
    params: &[(String, String)],
    kind: &str,
) -> Result<(ConsultationFilter, Option<String>), Outcome> {
    let mut filter = ConsultationFilter {
        status: None,
        queue: None,
        external_id: None,
        from: None,
        to: None,
        statuses: Vec::new(),
        updated_since: None,
        after: None,
        limit: 50,
    };
    let mut only_id = None;
    for (name, value) in params {
        match (kind, name.as_str()) {
            (_, "_id") => only_id = Some(value.clone()),
            (_, "_count") => {
                filter.limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_COUNT).contains(n))
                    .ok_or_else(|| {
                        bad_param(
                            "_count",
                            format!("_count is a number from 1 to {MAX_COUNT}."),
                        )
                    })?;
            }
            (_, "_cursor") => {
                filter.after = Some(
                    crate::consultations::api::parse_cursor(value)
                        .ok_or_else(|| bad_param("_cursor", "This _cursor is not one of ours."))?,
                );
            }
            (_, "_format") if value.contains("json") => {}
            ("Appointment", "status") => {
                for code in value.split(',') {
                    let statuses =
                        resources::statuses_of_appointment(code.trim()).ok_or_else(|| {
                            bad_param("status", format!("{code:?} is not an Appointment status."))
                        })?;
                    filter
                        .statuses
                        .extend(statuses.iter().map(|s| s.to_string()));
                }
                if filter.statuses.is_empty() {
                    // Statuses Visita never has: nothing matches.
                    filter.statuses.push("none".into());
                }
            }
            ("Appointment", "date") => {
                let (prefix, at) = date_param("date", value)?;
                match prefix.as_str() {
                    "ge" | "gt" => filter.from = Some(at),
                    "le" | "lt" => filter.to = Some(at),
                    _ => {
                        filter.from = Some(at);
                        filter.to = Some(at + chrono::Duration::days(1));
                    }
                }
            }
            ("Appointment", "identifier") => {
                let value = value.rsplit('|').next().unwrap_or_default();
                filter.external_id = Some(value.to_string());
            }
            ("Appointment", "_lastUpdated") => {
                let (_, at) = date_param("_lastUpdated", value)?;
                filter.updated_since = Some(at);
            }
            ("Encounter", "appointment") => {
                only_id = Some(value.trim_start_matches("Appointment/").to_string());
            }
            (_, other) => {
                return Err(bad_param(
                    other,
                    format!("This server does not search {kind} by {other} (see /fhir/metadata)."),
                ));
            }
        }
    }
    Ok((filter, only_id))
}

async fn search(
    state: &AppState,
    headers: &HeaderMap,
    query: Option<String>,
    kind: &str,
    client: ClientInfo,
) -> Answer {
    let who = state
        .api_keys
        .authenticate(headers, Scope::ConsultationsRead)
        .await?;
    let params = params(query.as_deref());
    let (filter, only_id) = filter_of(&params, kind)?;
    let rows: Vec<ConsultationRow> = match only_id {
        // One id: that consultation, if it exists (the other parameters
        // are not applied to it).
        Some(id) => match loaded(state, &id).await {
            Ok((row, _)) => vec![row],
            Err(_) => Vec::new(),
        },
        None => state
            .db
            .consultations_page(&filter)
            .await
            .map_err(db_error)?,
    };
    let keys: Vec<String> = rows.iter().map(ConsultationRow::key).collect();
    let participants = state.db.participants_of(&keys).await.map_err(db_error)?;
    let entries = rows
        .iter()
        .map(|row| {
            let own: Vec<ParticipantRow> = participants
                .iter()
                .filter(|p| record_key(&p.consultation) == row.key())
                .cloned()
                .collect();
            match kind {
                "Encounter" => resources::encounter(row, &own),
                _ => resources::appointment(row, &own),
            }
        })
        .collect();
    let base = base(state);
    let self_url = match &query {
        Some(q) if !q.is_empty() => format!("{base}/{kind}?{q}"),
        _ => format!("{base}/{kind}"),
    };
    let next = (rows.len() == filter.limit)
        .then(|| rows.last())
        .flatten()
        .map(|last| {
            let cursor = crate::consultations::api::cursor_of(last.created_at, &last.key());
            let kept: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(params.iter().filter(|(k, _)| k != "_cursor"))
                .append_pair("_cursor", &cursor)
                .finish();
            format!("{base}/{kind}?{kept}")
        });
    audit(
        state,
        &who.caller,
        "fhir.search",
        kind.to_lowercase(),
        &client,
    )
    .await;
    Ok(Fhir(
        StatusCode::OK,
        resources::bundle(&base, &self_url, entries, next),
    ))
}

async fn search_appointments(
    State(state): State<AppState>,
    client: crate::rest::Client,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Answer {
    search(
        &state,
        &headers,
        query,
        "Appointment",
        crate::rest::client_of(client),
    )
    .await
}

async fn search_encounters(
    State(state): State<AppState>,
    client: crate::rest::Client,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Answer {
    search(
        &state,
        &headers,
        query,
        "Encounter",
        crate::rest::client_of(client),
    )
    .await
}

/// A FHIR JSON body (`application/fhir+json` or `application/json`).
fn read_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, Outcome> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().ends_with("json"));
    if !is_json {
        return Err(Outcome(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Send the resource as JSON, with Content-Type: application/fhir+json.",
        )));
    }
    serde_json::from_slice(body).map_err(|e| {
        Outcome(Problem::new(
            StatusCode::BAD_REQUEST,
            format!("The body is not JSON: {e}."),
        ))
    })
}
