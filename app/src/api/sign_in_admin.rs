//! The sign-in methods for administrators: what is configured, and "try
//! sign-in" (what a method says about someone and what Visita would make of
//! it, without signing anyone in).

use crate::domain::SignInMethodInfo;
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
fn sign_in_admin() -> Result<crate::ssr::RequestCtx, AppError> {
    use crate::authz::{Action, Resource, authorize};
    let ctx = crate::ssr::ctx()?;
    authorize(ctx.staff(), Action::ManageSignIn, &Resource::System)?;
    Ok(ctx)
}

#[server(endpoint = "sign-in-methods")]
pub async fn load_sign_in_methods() -> Result<Vec<SignInMethodInfo>, AppError> {
    use crate::ssr::respond;
    respond(
        async {
            let ctx = sign_in_admin()?;
            Ok(ctx.services.accounts.sign_in_methods())
        }
        .await,
    )
}

/// Binds as `login` in the directory and reports what it found.
#[server(endpoint = "sign-in-methods/try-directory")]
pub async fn try_directory_login(
    login: String,
    password: String,
) -> Result<Vec<(String, String)>, AppError> {
    use crate::ssr::respond;
    respond(
        async {
            let ctx = sign_in_admin()?;
            let who = ctx.require_principal()?;
            if login.trim().is_empty() || password.is_empty() {
                return Err(AppError::invalid(
                    "login",
                    "Type a directory login and its password.",
                ));
            }
            ctx.services
                .accounts
                .try_directory(who, &login, &password, &ctx.client)
                .await
        }
        .await,
    )
}
