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
            let mut then = "/login".to_string();
            if let Some(session) = &ctx.session {
                let signed_out = ctx.services.accounts.logout(session, &ctx.client).await?;
                set_cookie(signed_out.cookie);
                then = signed_out.then;
            }
            leptos_axum::redirect(&then);
            Ok(())
        }
        .await,
    )
}

/// The ways to sign in besides the password form (identity providers),
/// for the sign-in page. Public: the sign-in page is.
#[server(endpoint = "sign-in-options")]
pub async fn sign_in_options() -> Result<crate::domain::SignInChoices, AppError> {
    Ok(crate::ssr::ctx()?.services.accounts.sign_in_options())
}

/// The signed-in staff member, or `None`.
#[server(endpoint = "me")]
pub async fn current_user() -> Result<Option<Principal>, AppError> {
    Ok(crate::ssr::ctx()?.principal().cloned())
}
