//! Queues (departments): administrators create them and say who works in
//! which. A consultation belongs to one queue; clinicians see the queues
//! they work in.

use crate::consultation::QueueSummary;
use crate::error::AppError;
use leptos::prelude::*;

#[server(endpoint = "queues/list")]
pub async fn list_queues() -> Result<Vec<QueueSummary>, AppError> {
    use crate::authz::{Action, Resource, authorize};
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            authorize(ctx.staff(), Action::ManageQueues, &Resource::System)?;
            let actor = ctx.require_principal()?;
            ctx.services.accounts.list_queues(actor).await
        }
        .await,
    )
}

#[server(endpoint = "queues/create")]
pub async fn create_queue(name: String) -> Result<QueueSummary, AppError> {
    use crate::authz::{Action, Resource, authorize};
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            authorize(ctx.staff(), Action::ManageQueues, &Resource::System)?;
            let actor = ctx.require_principal()?;
            ctx.services
                .accounts
                .create_queue(actor, &name, &ctx.client)
                .await
        }
        .await,
    )
}

/// `members` are the ids of everyone who works in the queue after this.
#[server(endpoint = "queues/set-members")]
pub async fn set_queue_members(
    queue: String,
    #[server(default)] members: Vec<String>,
) -> Result<(), AppError> {
    use crate::authz::{Action, Resource, authorize};
    use crate::consultation::QueueId;
    use crate::domain::UserId;
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            authorize(ctx.staff(), Action::ManageQueues, &Resource::System)?;
            let actor = ctx.require_principal()?;
            let members: Vec<UserId> = members.into_iter().map(UserId).collect();
            ctx.services
                .accounts
                .set_queue_members(actor, &QueueId(queue), &members, &ctx.client)
                .await
        }
        .await,
    )
}
