//! Per-request identity: reads the session cookie, resolves it (ending it if
//! idle for too long), and puts who is asking into the request extensions
//! where server functions and pages find it. Then, before any HTML is
//! rendered, staff pages ask `authorize` whether this person may see them.

use crate::state::AppState;
use app::authz::{Action, Caller, Denied, Resource, authorize};
use app::ssr::{ClientInfo, CurrentSession};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use std::net::SocketAddr;

pub async fn attach(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let client = ClientInfo {
        ip: super::client_ip::resolve(peer, request.headers(), &state.config.trusted_proxies),
        user_agent: request
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(256).collect()),
    };
    let mut clear_cookie = None;
    let mut clear_visitor = None;
    if let Some(secret) = state.accounts.cookie().read(request.headers()) {
        match state.accounts.resolve_session(&secret).await {
            Ok(Some(session)) => {
                request.extensions_mut().insert(session);
            }
            // Expired or unknown: tell the browser to forget it.
            Ok(None) => clear_cookie = Some(state.accounts.cookie().clear()),
            // Not "please sign in": the session may be fine, the database is not.
            Err(_) => return database_unavailable(),
        }
    }
    let visitor_cookie = state.consultations.cookie();
    if let Some(secret) = visitor_cookie.read(request.headers()) {
        match state.consultations.resolve_visitor(&secret).await {
            Ok(Some(visitor)) => {
                request.extensions_mut().insert(visitor);
            }
            Ok(None) => clear_visitor = Some(visitor_cookie.clear()),
            Err(_) => return database_unavailable(),
        }
    }
    request.extensions_mut().insert(client);
    let mut response = next.run(request).await;
    for value in [clear_cookie, clear_visitor]
        .into_iter()
        .flatten()
        .filter_map(|v| v.parse().ok())
    {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

fn database_unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "Visita cannot reach its database right now. Please try again in a minute.",
    )
        .into_response()
}

/// What seeing a staff page means, in the policy's terms.
fn page_action(path: &str, session: Option<&CurrentSession>) -> Option<(Action, Resource)> {
    let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
    if path == "/" {
        Some((Action::ViewDashboard, Resource::System))
    } else if under("/admin") {
        Some((Action::ListUsers, Resource::System))
    } else if under("/account") {
        let me = session
            .map(|s| s.principal.user_id.clone())
            .unwrap_or_default();
        Some((Action::ChangeOwnPassword, Resource::User(me)))
    } else {
        None
    }
}

/// Sends anonymous visitors of staff pages to the sign-in page, answers 403
/// to staff whose role does not cover the page, and sends signed-in staff
/// away from the sign-in page.
pub async fn gate_staff_pages(request: Request, next: Next) -> Response {
    let session = request.extensions().get::<CurrentSession>();
    let path = request.uri().path();
    if request.method() == Method::GET {
        if let Some((action, resource)) = page_action(path, session) {
            match authorize(
                session.map(|s| Caller::Staff(&s.principal)),
                action,
                &resource,
            ) {
                Ok(()) => {}
                Err(Denied::NotSignedIn) => return Redirect::to("/login").into_response(),
                Err(Denied::Forbidden) => {
                    return (StatusCode::FORBIDDEN, Html(FORBIDDEN_PAGE)).into_response();
                }
            }
        }
        if session.is_some() && path == "/login" {
            return Redirect::to("/").into_response();
        }
    }
    next.run(request).await
}

const FORBIDDEN_PAGE: &str = r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Not allowed — Visita</title><link rel="stylesheet" href="/pkg/visita.css"></head>
<body><main id="main" class="narrow"><h1>Not allowed</h1>
<p class="notice error" role="alert">You are not allowed to do this.</p>
<p>Your account does not give access to this page. <a href="/">Go back to your dashboard</a>.</p>
</main></body></html>"#;

#[cfg(test)]
mod tests {
    use super::page_action;
    use app::authz::Action;

    #[test]
    fn staff_pages_map_to_actions() {
        assert_eq!(
            page_action("/", None).map(|a| a.0),
            Some(Action::ViewDashboard)
        );
        assert_eq!(
            page_action("/admin/users", None).map(|a| a.0),
            Some(Action::ListUsers)
        );
        assert_eq!(
            page_action("/account/password", None).map(|a| a.0),
            Some(Action::ChangeOwnPassword)
        );
        assert!(page_action("/login", None).is_none());
        assert!(page_action("/pkg/visita.js", None).is_none());
        assert!(page_action("/administrator", None).is_none());
        assert!(page_action("/healthz", None).is_none());
    }
}
