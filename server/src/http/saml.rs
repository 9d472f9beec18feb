//! The browser's side of SAML sign-in: `GET /auth/saml` sends the browser
//! to the identity provider with a request (HTTP-Redirect) whose id is
//! remembered for ten minutes, served once; `POST /auth/saml/acs` takes the
//! answer (HTTP-POST), checks it and opens a staff session, or says plainly
//! why not; `GET /auth/saml/metadata` is Visita's metadata for the
//! provider's administrators.

use super::sso::{StartQuery, page, signed_in, tried, trying_admin};
use crate::auth::saml::{MAX_RESPONSE_CHARS, SamlRefusal, SamlSp};
use crate::auth::token;
use crate::db::SsoFlowRow;
use crate::state::AppState;
use app::ssr::{ClientInfo, CookieUpdate};
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;

pub const ACS_PATH: &str = "/auth/saml/acs";
const FLOW_MINUTES: i64 = 10;
const METHOD: &str = "saml";

fn not_set_up() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "Sign-in through SAML is not set up on this server.",
    )
}

pub async fn metadata(State(state): State<AppState>) -> Response {
    let Some(saml) = state.accounts.saml() else {
        return not_set_up();
    };
    match saml.metadata_xml().await {
        Ok(xml) => (
            [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
            xml,
        )
            .into_response(),
        Err(refusal) => page(StatusCode::SERVICE_UNAVAILABLE, &format!("{refusal}.")),
    }
}

pub async fn start(
    State(state): State<AppState>,
    client: Option<Extension<ClientInfo>>,
    session: Option<Extension<app::ssr::CurrentSession>>,
    query: Query<StartQuery>,
) -> Response {
    let Some(saml) = state.accounts.saml() else {
        return not_set_up();
    };
    // "Try login": the flow remembers the administrator (the answer comes
    // back as a cross-site post, without their session cookie).
    let try_by = match trying_admin(&query, session.as_ref()) {
        Ok(try_by) => try_by.unwrap_or_default(),
        Err(refused) => return refused.into_response(),
    };
    let client = client.map(|Extension(c)| c).unwrap_or_default();
    let (location, request_id) = match saml.start().await {
        Ok(started) => started,
        Err(refusal) => return refused(&state, &saml, refusal, &client).await,
    };
    let row = SsoFlowRow {
        method: METHOD.into(),
        data: try_by,
        expires_at: chrono::Utc::now() + chrono::Duration::minutes(FLOW_MINUTES),
    };
    if let Err(error) = state
        .db
        .create_sso_flow(&token::digest(&request_id), row)
        .await
    {
        tracing::error!(%error, "could not record a sign-in under way");
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Visita cannot start the sign-in right now. Try again in a moment.",
        );
    }
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
pub struct AcsForm {
    #[serde(rename = "SAMLResponse", default)]
    saml_response: String,
}

pub async fn acs(
    State(state): State<AppState>,
    client: Option<Extension<ClientInfo>>,
    form: Result<axum::Form<AcsForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Some(saml) = state.accounts.saml() else {
        return not_set_up();
    };
    let client = client.map(|Extension(c)| c).unwrap_or_default();
    let encoded = match form {
        Ok(axum::Form(form)) => Some(form.saml_response),
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return refused(&state, &saml, SamlRefusal::TooLarge, &client).await;
        }
        Err(_) => None,
    };
    let (person, try_by) = match check(&state, &saml, encoded).await {
        Ok(checked) => checked,
        Err(refusal) => return refused(&state, &saml, refusal, &client).await,
    };
    if let Some(admin) = try_by {
        let received = person
            .attributes
            .iter()
            .map(|(name, values)| (format!("attribute {name}"), values.join(", ")))
            .collect();
        let mapping = &saml.config.mapping;
        return tried(&state, &admin, &person.identity, mapping, received, &client).await;
    }
    match state
        .accounts
        .sign_in_external(
            &person.identity,
            None,
            &saml.config.mapping,
            &client,
            "login.saml",
        )
        .await
    {
        Ok(CookieUpdate(session)) => signed_in([session]),
        Err(refusal) => page(
            StatusCode::FORBIDDEN,
            &format!(
                "You could not be signed in with {}: {refusal}.",
                saml.config.label
            ),
        ),
    }
}

/// The answer, checked: size first, then the request it claims to answer
/// (taken, so it serves once), then the signature and conditions, then
/// the assertion's id (served once).
async fn check(
    state: &AppState,
    saml: &SamlSp,
    encoded: Option<String>,
) -> Result<(crate::auth::saml::SamlPerson, Option<String>), SamlRefusal> {
    let encoded = encoded
        .filter(|e| !e.is_empty())
        .ok_or(SamlRefusal::Malformed)?;
    if encoded.len() > MAX_RESPONSE_CHARS {
        return Err(SamlRefusal::TooLarge);
    }
    let compact: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| SamlRefusal::Malformed)?;
    let xml = String::from_utf8(bytes).map_err(|_| SamlRefusal::Malformed)?;
    let mut try_by = None;
    let request_id = match SamlSp::claimed_request(&xml) {
        Some(id) => {
            let taken = state
                .db
                .take_sso_flow(&token::digest(&id))
                .await
                .map_err(|error| {
                    tracing::error!(%error, "could not read a sign-in under way");
                    SamlRefusal::Unavailable("the database is not answering".into())
                })?
                .filter(|row| row.method == METHOD);
            match taken {
                Some(row) => {
                    try_by = Some(row.data).filter(|admin| !admin.is_empty());
                    Some(id)
                }
                // Unsolicited answers are taken only when allowed.
                None if saml.config.allow_idp_initiated => None,
                None => return Err(SamlRefusal::UnknownRequest),
            }
        }
        None => None,
    };
    let person = saml.finish(&xml, request_id.as_deref()).await?;
    let fresh = state
        .db
        .use_portal_token(
            &token::digest(&format!("saml-assertion:{}", person.assertion_id)),
            person.valid_until,
        )
        .await
        .map_err(|error| {
            tracing::error!(%error, "could not record a SAML assertion");
            SamlRefusal::Unavailable("the database is not answering".into())
        })?;
    if !fresh {
        return Err(SamlRefusal::Replayed);
    }
    Ok((person, try_by))
}

async fn refused(
    state: &AppState,
    saml: &SamlSp,
    refusal: SamlRefusal,
    client: &ClientInfo,
) -> Response {
    state
        .db
        .audit_or_log(crate::db::AuditEntry::anonymous(
            "login.saml",
            format!("saml: {}", refusal.code()),
            client,
            "denied",
        ))
        .await;
    let status = match refusal {
        SamlRefusal::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        SamlRefusal::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::UNAUTHORIZED,
    };
    page(
        status,
        &format!(
            "You could not be signed in with {}: {refusal}.",
            saml.config.label
        ),
    )
}
