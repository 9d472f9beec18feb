//! Per-request identity: reads the session cookie, resolves it (ending it if
//! idle for too long), and puts who is asking into the request extensions
//! where server functions and pages find it. Also keeps anonymous visitors
//! out of staff pages before any HTML is rendered.

use crate::state::AppState;
use app::ssr::ClientInfo;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use std::net::SocketAddr;

pub async fn attach(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let client = ClientInfo {
        ip: request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip()),
        user_agent: request
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(256).collect()),
    };
    let mut clear_cookie = None;
    if let Some(secret) = state.accounts.cookie().read(request.headers()) {
        match state.accounts.resolve_session(&secret).await {
            Ok(Some(session)) => {
                request.extensions_mut().insert(session);
            }
            // Expired or unknown: tell the browser to forget it.
            Ok(None) => clear_cookie = Some(state.accounts.cookie().clear()),
            Err(error) => tracing::error!(%error, "could not resolve a session"),
        }
    }
    request.extensions_mut().insert(client);
    let mut response = next.run(request).await;
    if let Some(value) = clear_cookie.and_then(|v| v.parse().ok()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// Pages only staff may see; everything under them needs a session.
const STAFF_PAGES: &[&str] = &["/", "/admin", "/account"];

fn is_staff_page(path: &str) -> bool {
    STAFF_PAGES
        .iter()
        .any(|p| path == *p || (p.len() > 1 && path.starts_with(&format!("{p}/"))))
}

/// Sends anonymous visitors of staff pages to the sign-in page, and signed-in
/// staff away from it, with a real HTTP redirect before any rendering.
pub async fn gate_staff_pages(
    State(_state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let signed_in = request
        .extensions()
        .get::<app::ssr::CurrentSession>()
        .is_some();
    let path = request.uri().path();
    if request.method() == Method::GET {
        if !signed_in && is_staff_page(path) {
            return Redirect::to("/login").into_response();
        }
        if signed_in && path == "/login" {
            return Redirect::to("/").into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::is_staff_page;

    #[test]
    fn staff_pages_are_recognised() {
        assert!(is_staff_page("/"));
        assert!(is_staff_page("/admin/users"));
        assert!(is_staff_page("/account/password"));
        assert!(!is_staff_page("/login"));
        assert!(!is_staff_page("/pkg/visita.js"));
        assert!(!is_staff_page("/administrator"));
        assert!(!is_staff_page("/healthz"));
    }
}
