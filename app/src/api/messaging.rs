//! Messaging for administrators: how email and text messages are set up,
//! a test message that reports the provider's exact answer, and the
//! development outbox (what the `log` gateway kept).

use crate::domain::{MessagingSettings, OutboxEntry};
use crate::error::AppError;
use leptos::prelude::*;

/// The request, when it comes from someone allowed to manage messaging.
#[cfg(feature = "ssr")]
fn messaging_admin() -> Result<crate::ssr::RequestCtx, AppError> {
    use crate::authz::{Action, Resource, authorize};
    let ctx = crate::ssr::ctx()?;
    authorize(ctx.staff(), Action::ManageMessaging, &Resource::System)?;
    Ok(ctx)
}

#[server(endpoint = "messaging/settings")]
pub async fn load_messaging_settings() -> Result<MessagingSettings, AppError> {
    use crate::ssr::respond;
    respond(
        async {
            let ctx = messaging_admin()?;
            Ok(ctx.services.messaging.settings())
        }
        .await,
    )
}

#[server(endpoint = "messaging/outbox")]
pub async fn load_outbox() -> Result<Vec<OutboxEntry>, AppError> {
    use crate::ssr::respond;
    respond(
        async {
            let ctx = messaging_admin()?;
            let who = ctx.require_principal()?;
            ctx.services.messaging.outbox(who, &ctx.client).await
        }
        .await,
    )
}

/// Sends a test message now (`channel`: `email` or `sms`) and says what the
/// provider answered.
#[server(endpoint = "messaging/test")]
pub async fn send_test_message(channel: String, to: String) -> Result<String, AppError> {
    use crate::ssr::respond;
    respond(
        async {
            let ctx = messaging_admin()?;
            let who = ctx.require_principal()?;
            ctx.services
                .messaging
                .send_test(who, &channel, &to, &ctx.client)
                .await
        }
        .await,
    )
}

/// Saves the email and text-message set-up from the console (the fields of
/// `channel_setup::FIELDS`, as `values[key]`).
#[server(endpoint = "messaging/setup")]
pub async fn save_messaging_setup(
    values: std::collections::BTreeMap<String, String>,
) -> Result<(), AppError> {
    use crate::ssr::respond;
    respond(
        async {
            let ctx = messaging_admin()?;
            let who = ctx.require_principal()?;
            ctx.services
                .messaging
                .save_setup(who, values, &ctx.client)
                .await
        }
        .await,
    )
}

/// Goes back to the set-up of the server's file and environment.
#[server(endpoint = "messaging/setup/forget")]
pub async fn forget_messaging_setup() -> Result<(), AppError> {
    use crate::ssr::respond;
    respond(
        async {
            let ctx = messaging_admin()?;
            let who = ctx.require_principal()?;
            ctx.services.messaging.forget_setup(who, &ctx.client).await
        }
        .await,
    )
}
