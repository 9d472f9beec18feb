//! Outgoing webhooks, for administrators: the subscriptions integrators
//! made with their keys, the delivery log, sending a delivery again and
//! deleting a subscription.

use crate::domain::WebhooksOverview;
use crate::error::AppError;
use leptos::prelude::*;

/// The request, when it comes from someone allowed to manage the API.
#[cfg(feature = "ssr")]
fn webhook_admin() -> Result<crate::ssr::RequestCtx, AppError> {
    use crate::authz::{Action, Resource, authorize};
    let ctx = crate::ssr::ctx()?;
    authorize(ctx.staff(), Action::ManageApiKeys, &Resource::System)?;
    Ok(ctx)
}

#[server(endpoint = "webhooks/list")]
pub async fn load_webhooks() -> Result<WebhooksOverview, AppError> {
    use crate::ssr::respond;
    respond(
        async {
            let ctx = webhook_admin()?;
            let who = ctx.require_principal()?;
            ctx.services.webhooks.overview(who, &ctx.client).await
        }
        .await,
    )
}

/// Sends a delivery's event again (a new delivery, tried at once).
#[server(endpoint = "webhooks/replay")]
pub async fn replay_webhook_delivery(id: String) -> Result<(), AppError> {
    use crate::ssr::respond;
    respond(
        async {
            let ctx = webhook_admin()?;
            let who = ctx.require_principal()?;
            ctx.services.webhooks.replay(who, &id, &ctx.client).await
        }
        .await,
    )
}

#[server(endpoint = "webhooks/delete")]
pub async fn delete_webhook(id: String) -> Result<(), AppError> {
    use crate::ssr::respond;
    respond(
        async {
            let ctx = webhook_admin()?;
            let who = ctx.require_principal()?;
            ctx.services.webhooks.delete(who, &id, &ctx.client).await
        }
        .await,
    )
}
