//! The browser's side of single sign-on: `GET /auth/oidc/{id}` sends the
//! browser to the provider; `GET /auth/oidc/{id}/callback` takes its answer,
//! opens a staff session and goes to the dashboard, or says plainly why
//! not. The sign-in under way lives in the database (any node can take the
//! answer) under the digest of a short-lived cookie, so an answer only
//! counts in the browser that started it, once.

use crate::auth::cookie::SessionCookie;
use crate::auth::external::{ExternalIdentity, RoleMapping, try_report};
use crate::auth::oidc::{OidcProvider, OidcRefusal, PendingOidc};
use crate::auth::token;
use crate::db::SsoFlowRow;
use crate::state::AppState;
use app::ssr::{ClientInfo, CookieUpdate};
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;

/// How long a person may spend at the provider before the answer is stale.
const FLOW_MINUTES: i64 = 10;

#[derive(Debug, Deserialize)]
pub struct StartQuery {
    /// "Try login" by an administrator: show what comes back, sign nobody in.
    #[serde(rename = "try", default)]
    try_only: Option<String>,
}

/// Someone not signed in as an administrator asked to try a method.
pub struct NotAnAdmin;

impl IntoResponse for NotAnAdmin {
    fn into_response(self) -> Response {
        page(
            StatusCode::FORBIDDEN,
            "Only a signed-in administrator can try a sign-in method.",
        )
    }
}

/// The administrator asking to try a method (`try` in the query), `None`
/// for an ordinary sign-in, or the page refusing anyone else.
pub fn trying_admin(
    query: &Query<StartQuery>,
    session: Option<&Extension<app::ssr::CurrentSession>>,
) -> Result<Option<String>, NotAnAdmin> {
    if query.try_only.is_none() {
        return Ok(None);
    }
    match session {
        Some(Extension(s)) if s.principal.has_role(app::domain::Role::Admin) => {
            Ok(Some(s.principal.email.clone()))
        }
        _ => Err(NotAnAdmin),
    }
}

pub async fn oidc_start(
    State(state): State<AppState>,
    Path(id): Path<String>,
    client: Option<Extension<ClientInfo>>,
    session: Option<Extension<app::ssr::CurrentSession>>,
    query: Query<StartQuery>,
) -> Response {
    let Some(provider) = state.accounts.oidc_provider(&id) else {
        return page(
            StatusCode::NOT_FOUND,
            "This sign-in method is not set up on this server.",
        );
    };
    let try_by = match trying_admin(&query, session.as_ref()) {
        Ok(try_by) => try_by,
        Err(refused) => return refused.into_response(),
    };
    let client = client.map(|Extension(c)| c).unwrap_or_default();
    let (location, mut pending) = match provider.start().await {
        Ok(started) => started,
        Err(refusal) => return refused(&state, &provider, refusal, &client).await,
    };
    pending.try_by = try_by;
    let secret = token::generate();
    let row = SsoFlowRow {
        method: provider.method(),
        data: serde_json::to_string(&pending).unwrap_or_default(),
        expires_at: chrono::Utc::now() + chrono::Duration::minutes(FLOW_MINUTES),
    };
    if let Err(error) = state.db.create_sso_flow(&token::digest(&secret), row).await {
        tracing::error!(%error, "could not record a sign-in under way");
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Visita cannot start the sign-in right now. Try again in a moment.",
        );
    }
    let cookie = SessionCookie::sso(state.config.is_https());
    (
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                format!("{}; Max-Age={}", cookie.set(&secret), FLOW_MINUTES * 60),
            ),
            (header::LOCATION, location),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
    /// Set instead of `code` when the provider refused or the person
    /// cancelled.
    error: Option<String>,
}

pub async fn oidc_callback(
    State(state): State<AppState>,
    Path(id): Path<String>,
    client: Option<Extension<ClientInfo>>,
    headers: HeaderMap,
    query: Result<Query<CallbackQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(provider) = state.accounts.oidc_provider(&id) else {
        return page(
            StatusCode::NOT_FOUND,
            "This sign-in method is not set up on this server.",
        );
    };
    let client = client.map(|Extension(c)| c).unwrap_or_default();
    let flow_cookie = SessionCookie::sso(state.config.is_https());
    let pending = take_pending(&state, &provider, flow_cookie.read(&headers)).await;
    let try_by = pending.as_ref().ok().and_then(|p| p.try_by.clone());
    let outcome = match (pending, query) {
        (Err(refusal), _) => Err(refusal),
        (_, Err(_)) => Err(OidcRefusal::Malformed),
        (Ok(_), Ok(Query(q))) if q.error.is_some() => {
            // The provider's error code is a short token (RFC 6749 §4.1.2.1).
            let code: String = q
                .error
                .unwrap_or_default()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(40)
                .collect();
            Err(OidcRefusal::ProviderError(code))
        }
        (Ok(pending), Ok(Query(q))) => provider.finish(pending, &q.code, &q.state).await,
    };
    let person = match outcome {
        Ok(person) => person,
        Err(refusal) => return refused(&state, &provider, refusal, &client).await,
    };
    if let Some(admin) = try_by {
        let received = person
            .claims
            .iter()
            .map(|(k, v)| (format!("claim {k}"), v.to_string()))
            .collect();
        let mapping = &provider.config.mapping;
        return tried(&state, &admin, &person.identity, mapping, received, &client).await;
    }
    match state
        .accounts
        .sign_in_external(
            &person.identity,
            person.email_verified,
            &provider.config.mapping,
            &client,
            "login.oidc",
        )
        .await
    {
        Ok(CookieUpdate(session)) => signed_in([session, flow_cookie.clear()]),
        Err(refusal) => page(
            StatusCode::FORBIDDEN,
            &format!(
                "You could not be signed in with {}: {refusal}.",
                provider.config.label
            ),
        ),
    }
}

/// The sign-in this browser started with this provider, taken (so it
/// serves once).
async fn take_pending(
    state: &AppState,
    provider: &OidcProvider,
    secret: Option<String>,
) -> Result<PendingOidc, OidcRefusal> {
    let secret = secret
        .filter(|s| token::looks_valid(s))
        .ok_or(OidcRefusal::NoPendingSignIn)?;
    let row = state
        .db
        .take_sso_flow(&token::digest(&secret))
        .await
        .map_err(|error| {
            tracing::error!(%error, "could not read a sign-in under way");
            OidcRefusal::Unavailable
        })?
        .filter(|row| row.method == provider.method())
        .ok_or(OidcRefusal::NoPendingSignIn)?;
    serde_json::from_str(&row.data).map_err(|_| OidcRefusal::NoPendingSignIn)
}

async fn refused(
    state: &AppState,
    provider: &Arc<OidcProvider>,
    refusal: OidcRefusal,
    client: &ClientInfo,
) -> Response {
    state
        .db
        .audit_or_log(crate::db::AuditEntry::anonymous(
            "login.oidc",
            format!("{}: {}", provider.method(), refusal.code()),
            client,
            "denied",
        ))
        .await;
    let status = match refusal {
        OidcRefusal::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::UNAUTHORIZED,
    };
    page(
        status,
        &format!(
            "You could not be signed in with {}: {refusal}.",
            provider.config.label
        ),
    )
}

/// Signed in: on to the dashboard with these cookies (the session, and any
/// that clear a sign-in under way).
pub fn signed_in(cookies: impl IntoIterator<Item = String>) -> Response {
    let mut response = (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/".to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
    )
        .into_response();
    for cookie in cookies {
        if let Ok(value) = cookie.parse() {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// "Try login": what the method said and what Visita would make of it, for
/// the administrator who tried (audited; nobody is signed in).
pub async fn tried(
    state: &AppState,
    admin: &str,
    identity: &ExternalIdentity,
    mapping: &RoleMapping,
    received: Vec<(String, String)>,
    client: &ClientInfo,
) -> Response {
    let method = identity.method.as_str();
    let report = try_report(identity, mapping, received);
    state
        .db
        .audit_or_log(crate::db::AuditEntry {
            actor_email: Some(admin.to_string()),
            ..crate::db::AuditEntry::anonymous("sso.try", method.to_string(), client, "ok")
        })
        .await;
    let rows: String = report
        .iter()
        .map(|(k, v)| {
            format!(
                "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
                escape(k),
                escape(v)
            )
        })
        .collect();
    (
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>Try sign-in — Visita</title><link rel=\"stylesheet\" href=\"/pkg/visita.css\"></head>\
             <body><main id=\"main\"><h1>Try sign-in: {}</h1>\
             <p class=\"lead\">What the sign-in method sent, and what Visita would do with it. Nobody was signed in.</p>\
             <table class=\"list\" data-testid=\"try-report\"><tbody>{rows}</tbody></table>\
             <p><a class=\"button\" href=\"/admin/sign-in\">Back to the sign-in methods</a></p></main></body></html>",
            escape(method)
        )),
    )
        .into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A plain page saying why, with the way back to the sign-in page.
pub fn page(status: StatusCode, message: &str) -> Response {
    let message = escape(message);
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>Sign-in — Visita</title><link rel=\"stylesheet\" href=\"/pkg/visita.css\"></head>\
             <body><main id=\"main\" class=\"narrow\"><h1>Sign-in</h1>\
             <p class=\"notice error\" role=\"alert\" data-testid=\"sign-in-refused\">{message}</p>\
             <p><a class=\"button\" href=\"/login\">Back to the sign-in page</a></p></main></body></html>"
        )),
    )
        .into_response()
}
