//! Signing in and out, and who is signed in.

use crate::domain::Principal;
use crate::error::AppError;
use leptos::prelude::*;

/// Checks an email and password, opens a session (cookie) and goes to the
/// dashboard. Works as a plain form post without JavaScript too.
#[server(endpoint = "login")]
pub async fn login(email: String, password: String) -> Result<(), AppError> {
    use crate::ssr::{ctx, respond, set_cookie};
    respond(
        async {
            let ctx = ctx()?;
            if email.trim().is_empty() || password.is_empty() {
                return Err(AppError::invalid(
                    "email",
                    "Enter your email address and your password.",
                ));
            }
            let cookie = ctx
                .services
                .accounts
                .login(&email, &password, &ctx.client)
                .await?;
            set_cookie(cookie);
            leptos_axum::redirect("/");
            Ok(())
        }
        .await,
    )
}

/// Ends the current session and goes back to the sign-in page.
#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use crate::ssr::{ctx, respond, set_cookie};
    respond(
        async {
            let ctx = ctx()?;
            if let Some(session) = &ctx.session {
                let cookie = ctx.services.accounts.logout(session, &ctx.client).await?;
                set_cookie(cookie);
            }
            leptos_axum::redirect("/login");
            Ok(())
        }
        .await,
    )
}

/// The signed-in staff member, or `None`.
#[server(endpoint = "me")]
pub async fn current_user() -> Result<Option<Principal>, AppError> {
    Ok(crate::ssr::ctx()?.principal().cloned())
}
