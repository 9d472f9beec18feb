//! The REST API's keys, for administrators: list (never the keys), create
//! (the key shown once), revoke.

use crate::domain::{ApiKeySummary, CreatedApiKey};
use crate::error::AppError;
use leptos::prelude::*;

/// The request, when it comes from someone allowed to manage API keys.
#[cfg(feature = "ssr")]
fn key_admin() -> Result<crate::ssr::RequestCtx, AppError> {
    use crate::authz::{Action, Resource, authorize};
    let ctx = crate::ssr::ctx()?;
    authorize(ctx.staff(), Action::ManageApiKeys, &Resource::System)?;
    Ok(ctx)
}

#[server(endpoint = "api-keys/list")]
pub async fn load_api_keys() -> Result<Vec<ApiKeySummary>, AppError> {
    use crate::ssr::respond;
    respond(
        async {
            let ctx = key_admin()?;
            let who = ctx.require_principal()?;
            ctx.services.api_keys.list(who, &ctx.client).await
        }
        .await,
    )
}

/// A new key with the ticked scopes (`read`, `write`, `webhooks`: checkboxes).
#[server(endpoint = "api-keys/create")]
pub async fn create_api_key(
    name: String,
    read: Option<String>,
    write: Option<String>,
    webhooks: Option<String>,
    requests_per_minute: Option<String>,
) -> Result<CreatedApiKey, AppError> {
    use crate::ssr::respond;
    respond(
        async {
            let ctx = key_admin()?;
            let who = ctx.require_principal()?;
            let mut scopes = Vec::new();
            if read.is_some() {
                scopes.push("consultations:read".to_string());
            }
            if write.is_some() {
                scopes.push("consultations:write".to_string());
            }
            if webhooks.is_some() {
                scopes.push("webhooks:manage".to_string());
            }
            let rate = match requests_per_minute.as_deref().map(str::trim) {
                None | Some("") => 600,
                Some(text) => text
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=100_000).contains(n))
                    .ok_or_else(|| {
                        AppError::invalid(
                            "requests_per_minute",
                            "Enter a number of requests per minute from 1 to 100000.",
                        )
                    })?,
            };
            ctx.services
                .api_keys
                .create(who, &name, scopes, rate, &ctx.client)
                .await
        }
        .await,
    )
}

#[server(endpoint = "api-keys/revoke")]
pub async fn revoke_api_key(id: String) -> Result<(), AppError> {
    use crate::ssr::respond;
    respond(
        async {
            let ctx = key_admin()?;
            let who = ctx.require_principal()?;
            ctx.services.api_keys.revoke(who, &id, &ctx.client).await
        }
        .await,
    )
}
