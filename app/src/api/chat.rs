//! The chat of a consultation. New lines reach the other side over `/ws`;
//! these functions write a line and read the history.

use crate::consultation::ChatMessage;
use crate::error::AppError;
use leptos::prelude::*;

#[server(endpoint = "chat/send")]
pub async fn send_message(consultation: String, body: String) -> Result<ChatMessage, AppError> {
    use crate::consultation::ConsultationId;
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            let id = ConsultationId(consultation);
            let caller = ctx.caller_for(&id).ok_or(AppError::NotSignedIn)?;
            ctx.services
                .consultations
                .send_message(caller, &id, &body, &ctx.client)
                .await
        }
        .await,
    )
}

/// The chat after `after` (everything when empty), oldest first.
#[server(endpoint = "chat/messages")]
pub async fn messages(
    consultation: String,
    after: Option<String>,
) -> Result<Vec<ChatMessage>, AppError> {
    use crate::consultation::{ConsultationId, MessageId};
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            let id = ConsultationId(consultation);
            let caller = ctx.caller_for(&id).ok_or(AppError::NotSignedIn)?;
            let after = after.filter(|a| !a.is_empty()).map(MessageId);
            ctx.services
                .consultations
                .messages(caller, &id, after.as_ref(), &ctx.client)
                .await
        }
        .await,
    )
}

/// Notes that the caller has seen the chat up to `message` (read markers).
#[server(endpoint = "chat/read")]
pub async fn mark_read(consultation: String, message: String) -> Result<(), AppError> {
    use crate::consultation::{ConsultationId, MessageId};
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            let id = ConsultationId(consultation);
            let caller = ctx.caller_for(&id).ok_or(AppError::NotSignedIn)?;
            ctx.services
                .consultations
                .mark_read(caller, &id, &MessageId(message), &ctx.client)
                .await
        }
        .await,
    )
}
