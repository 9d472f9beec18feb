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
            let step = ctx
                .services
                .accounts
                .login(&email, &password, &ctx.client)
                .await?;
            match step {
                crate::ssr::LoginStep::SignedIn(cookie) => {
                    set_cookie(cookie);
                    leptos_axum::redirect("/");
                }
                crate::ssr::LoginStep::SecondFactor { pending, setup } => {
                    set_cookie(pending);
                    leptos_axum::redirect(if setup { "/login/setup" } else { "/login/code" });
                }
            }
            Ok(())
        }
        .await,
    )
}

/// The second step of password sign-in: the code of the authenticator app
/// (for an account setting one up, its first code). Opens the session.
#[server(endpoint = "login/code")]
pub async fn finish_second_factor(code: String) -> Result<(), AppError> {
    use crate::ssr::{ctx, request_headers, respond, set_cookie};
    respond(
        async {
            let ctx = ctx()?;
            if code.trim().is_empty() {
                return Err(AppError::invalid(
                    "code",
                    "Type the six-digit code your app shows.",
                ));
            }
            let (session, clear) = ctx
                .services
                .accounts
                .finish_second_factor(&request_headers(), &code, &ctx.client)
                .await?;
            set_cookie(session);
            set_cookie(clear);
            leptos_axum::redirect("/");
            Ok(())
        }
        .await,
    )
}

/// Starts setting up (or replacing) the signed-in person's authenticator
/// app: on to the set-up page, whose first code confirms it.
#[server(endpoint = "account/two-factor")]
pub async fn begin_second_factor() -> Result<(), AppError> {
    use crate::authz::{Action, Caller, Resource, authorize};
    use crate::ssr::{ctx, respond, set_cookie};
    respond(
        async {
            let ctx = ctx()?;
            let session = ctx.require_session()?;
            authorize(
                Some(Caller::Staff(&session.principal)),
                Action::ChangeOwnPassword,
                &Resource::User(session.principal.user_id.clone()),
            )?;
            let pending = ctx
                .services
                .accounts
                .begin_second_factor(&session.principal, &ctx.client)
                .await?;
            set_cookie(pending);
            leptos_axum::redirect("/login/setup");
            Ok(())
        }
        .await,
    )
}

/// The secret and QR code of the authenticator being set up at sign-in.
#[server(endpoint = "login/setup")]
pub async fn second_factor_setup() -> Result<crate::domain::SecondFactorSetup, AppError> {
    use crate::ssr::{ctx, request_headers, respond};
    respond(
        async {
            let ctx = ctx()?;
            ctx.services
                .accounts
                .second_factor_setup(&request_headers())
                .await
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
