//! The session route of the Jitsi-based telemedicine service ("seed")
//! Visita replaces, so its integrations work unchanged:
//! `POST /v1/abm/video/sessions/create/simple` with the doctor's and the
//! patient's names and the company's branding answers the room and, for
//! each of the two, a JWT and the link that carries it. The doctor needs no
//! account: their link opens this one consultation as its host; the patient
//! goes straight in (no waiting to be admitted), as in the service replaced.
//!
//! The JWTs are signed by Visita (HS256 under a key derived from the
//! installation secret, the algorithm pinned on reading) and checked when a
//! link is opened (`GET /session/{room}?jwt=…`); their `jti` is the
//! participant's invite secret, so a valid JWT leads to the same invite page
//! as the invite link, and stops working with it.

use super::keys::Scope;
use super::problem::{
    BadRequest, Forbidden, NotJson, Problem, Refused, TooManyRequests, Unauthorized,
};
use super::{Client, client_of, read_json};
use crate::auth::token;
use crate::consultations::api::{ApiBooking, ApiHost, Brand};
use crate::state::AppState;
use app::consultation::{DEFAULT_QUEUE, NewConsultation, QueueId};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

pub const ROUTE: &str = "/v1/abm/video/sessions/create/simple";
const AUDIENCE: &str = "visita-session";

/// What the seed service takes. Fields it does not know are ignored, as
/// that service did (integrations may send more).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = SimpleSessionRequest)]
pub struct SimpleSessionRequest {
    /// 1 to 120 characters.
    #[schema(example = "Dr Claire Martin")]
    pub doctor_full_name: String,
    /// 1 to 120 characters.
    #[schema(example = "Zoë Lambert")]
    pub patient_full_name: String,
    /// Shown on both pages instead of the clinic's name.
    #[serde(default)]
    #[schema(example = "Clinique des Lilas")]
    pub company_name: Option<String>,
    /// A PNG, JPEG, GIF or WebP image (at most 512 KiB) shown beside the
    /// name; fetched once by the server.
    #[serde(default)]
    #[schema(example = "https://www.clinique-des-lilas.example/logo.png")]
    pub company_logo_url: Option<String>,
    /// Kept with the session.
    #[serde(default)]
    pub display_mode: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = SimpleSession)]
pub struct SimpleSession {
    /// The consultation's id (the REST API's `id`).
    pub session_id: String,
    /// Always `OPEN`: a new session can be joined at once.
    #[schema(example = "OPEN")]
    pub status: &'static str,
    pub room: String,
    pub doctor_jwt: String,
    /// `…/session/{room}?jwt={doctorJwt}`: opens the consultation as its host.
    pub doctor_link: String,
    pub patient_jwt: String,
    /// `…/session/{room}?jwt={patientJwt}`: straight into the consultation.
    pub patient_link: String,
}

/// What the session JWTs say.
#[derive(Debug, Serialize, Deserialize)]
struct SessionClaims {
    iss: String,
    aud: String,
    /// `{room}:doctor` or `{room}:patient`.
    sub: String,
    room: String,
    /// `doctor` or `patient`.
    role: String,
    name: String,
    iat: i64,
    exp: i64,
    /// The participant's invite secret.
    jti: String,
}

/// Signs and checks the session JWTs.
pub struct SessionTokens {
    issuer: String,
    key: [u8; 32],
}

impl SessionTokens {
    pub fn new(installation_secret: &[u8], public_url: &str) -> Self {
        Self {
            issuer: public_url.to_string(),
            key: token::mac(installation_secret, b"visita/session-jwt/v1"),
        }
    }

    fn sign(&self, claims: &SessionClaims) -> String {
        // HS256 over our own claims cannot fail.
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(&self.key),
        )
        .unwrap_or_default()
    }

    /// The invite secret of a valid, unexpired JWT for `room`. The
    /// algorithm is ours, never the token's; every claim is required.
    fn check(&self, jwt: &str, room: &str) -> Option<String> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[self.issuer.as_str()]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub", "jti"]);
        validation.leeway = 30;
        let data = jsonwebtoken::decode::<SessionClaims>(
            jwt,
            &DecodingKey::from_secret(&self.key),
            &validation,
        )
        .ok()?;
        (data.claims.room == room && token::looks_like_invite(&data.claims.jti))
            .then_some(data.claims.jti)
    }
}

/// Create a session the way the seed service did.
#[utoipa::path(
    post,
    path = "/v1/abm/video/sessions/create/simple",
    tag = "compatibility",
    request_body = SimpleSessionRequest,
    responses(
        (status = 200, description = "The session and its two links.", body = SimpleSession),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
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
) -> Result<Json<SimpleSession>, Problem> {
    let who = state
        .api_keys
        .authenticate(&headers, Scope::ConsultationsWrite)
        .await?;
    let request: SimpleSessionRequest = read_json(&headers, &body)?;
    for (field, value) in [
        ("doctorFullName", &request.doctor_full_name),
        ("patientFullName", &request.patient_full_name),
    ] {
        if value.trim().is_empty() || value.chars().count() > 120 {
            return Err(Problem::field(
                StatusCode::UNPROCESSABLE_ENTITY,
                field,
                "Give a name of 1 to 120 characters.",
            ));
        }
    }
    let company = request
        .company_name
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    if company.as_ref().is_some_and(|n| n.chars().count() > 120) {
        return Err(Problem::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "companyName",
            "Keep the company name to 120 characters.",
        ));
    }
    let display_mode = request
        .display_mode
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty());
    if display_mode
        .as_ref()
        .is_some_and(|m| m.chars().count() > 40)
    {
        return Err(Problem::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "displayMode",
            "Keep the display mode to 40 characters.",
        ));
    }
    // A logo that cannot be had does not stop the session: the pages show
    // the company's name alone, and the log says why.
    let logo = match request
        .company_logo_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        None => None,
        Some(url) => match state.logos.fetch(url).await {
            Ok(key) => Some(key),
            Err(error) => {
                tracing::warn!(%error, "company logo left out");
                None
            }
        },
    };
    let booking = NewConsultation {
        queue: QueueId(DEFAULT_QUEUE.to_string()),
        patient_name: request.patient_full_name.trim().to_string(),
        patient_email: String::new(),
        patient_phone: String::new(),
        language: "en".into(),
        timezone: state.config.timezone.clone(),
        scheduled_for: String::new(),
        clinician_timezone: String::new(),
    };
    let extra = ApiBooking {
        key: who.caller.key.clone(),
        external_id: None,
        metadata: None,
        send_invite: false,
        host_by_link: true,
        auto_admit: true,
        brand: Brand {
            name: company,
            logo,
            display_mode,
        },
    };
    let created = state
        .consultations
        .api_create(
            &who.caller,
            ApiHost::ByLink(request.doctor_full_name.trim().to_string()),
            booking,
            extra,
            &client_of(client),
        )
        .await?;
    let room = created.id.clone();
    let secret_of = |link: Option<&String>| {
        link.and_then(|l| l.rsplit('/').next())
            .map(str::to_string)
            .ok_or_else(|| {
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The links could not be made.",
                )
            })
    };
    let now = chrono::Utc::now().timestamp();
    let exp = now + i64::try_from(state.config.invite_valid_now.as_secs()).unwrap_or(86_400);
    let tokens = &state.session_tokens;
    let jwt = |role: &str, name: &str, jti: String| {
        tokens.sign(&SessionClaims {
            iss: tokens.issuer.clone(),
            aud: AUDIENCE.into(),
            sub: format!("{room}:{role}"),
            room: room.clone(),
            role: role.into(),
            name: name.trim().into(),
            iat: now,
            exp,
            jti,
        })
    };
    let doctor_jwt = jwt(
        "doctor",
        &request.doctor_full_name,
        secret_of(created.doctor_link.as_ref())?,
    );
    let patient_jwt = jwt(
        "patient",
        &created.patient_name,
        secret_of(created.patient_link.as_ref())?,
    );
    let link = |jwt: &str| format!("{}/session/{room}?jwt={jwt}", state.config.public_url);
    Ok(Json(SimpleSession {
        doctor_link: link(&doctor_jwt),
        patient_link: link(&patient_jwt),
        session_id: room.clone(),
        status: "OPEN",
        room: room.clone(),
        doctor_jwt,
        patient_jwt,
    }))
}

#[derive(Debug, Deserialize)]
pub struct SessionQuery {
    #[serde(default)]
    jwt: String,
}

/// `GET /session/{room}?jwt=…`: a link of the seed route. A valid JWT for
/// this room leads to the invite page of the person it was made for.
pub async fn open(
    State(state): State<AppState>,
    Path(room): Path<String>,
    query: Result<Query<SessionQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let jwt = query.map(|Query(q)| q.jwt).unwrap_or_default();
    match state.session_tokens.check(jwt.trim(), &room) {
        Some(secret) => Redirect::to(&format!("/j/{secret}")).into_response(),
        None => (
            StatusCode::FORBIDDEN,
            [(header::CACHE_CONTROL, "no-store")],
            Html(
                "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
                 <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
                 <title>Link not valid — Visita</title><link rel=\"stylesheet\" href=\"/pkg/visita.css\"></head>\
                 <body><main id=\"main\" class=\"patient\"><h1>This link does not work</h1>\
                 <p class=\"notice error\" role=\"alert\" data-testid=\"bad-session-link\">It is not valid, or it has expired. \
                 Ask the person who sent it to you for a new one.</p></main></body></html>",
            ),
        )
            .into_response(),
    }
}
