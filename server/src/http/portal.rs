//! `GET /auth/jwt?token=…`: the hospital portal's sign-in link. A valid
//! token opens a staff session and goes to the dashboard; any other answer
//! is a plain page saying why, with a way to sign in by password.

use super::sso::{page, signed_in};
use crate::state::AppState;
use app::ssr::{ClientInfo, CookieUpdate};
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct PortalQuery {
    #[serde(default)]
    token: String,
}

pub async fn sign_in(
    State(state): State<AppState>,
    client: Option<Extension<ClientInfo>>,
    query: Result<Query<PortalQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(portal) = &state.portal else {
        return page(
            StatusCode::NOT_FOUND,
            "Sign-in from the hospital portal is not set up on this server.",
        );
    };
    let token = query.map(|Query(q)| q.token).unwrap_or_default();
    let client = client.map(|Extension(c)| c).unwrap_or_default();
    match state
        .accounts
        .sign_in_with_portal(portal, &token, &client)
        .await
    {
        Ok(CookieUpdate(cookie)) => signed_in([cookie]),
        Err(refusal) => page(
            StatusCode::UNAUTHORIZED,
            &format!(
                "You could not be signed in: {refusal}. Go back to the portal and open Visita from there again, or sign in with your password."
            ),
        ),
    }
}
