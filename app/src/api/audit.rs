//! The audit trail for administrators: every sign-in (by any method, and
//! every refusal), and who saw or changed what.

use crate::domain::{AuditEvent, AuditFilter};
use crate::error::AppError;
use leptos::prelude::*;

/// The most recent events matching `filter` (at most 200). Reading the
/// trail is itself recorded.
#[server(endpoint = "audit/list")]
pub async fn load_audit(filter: AuditFilter) -> Result<Vec<AuditEvent>, AppError> {
    use crate::authz::{Action, Resource, authorize};
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            authorize(ctx.staff(), Action::ViewAudit, &Resource::System)?;
            let who = ctx.require_principal()?;
            if filter.action.len() > 60
                || !filter
                    .action
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_')
            {
                return Err(AppError::invalid(
                    "action",
                    "Type the start of an action, like login or user.create.",
                ));
            }
            if !matches!(filter.outcome.as_str(), "" | "ok" | "denied" | "failed") {
                return Err(AppError::invalid("outcome", "Choose ok, denied or failed."));
            }
            ctx.services
                .accounts
                .audit_log(who, &filter, &ctx.client)
                .await
        }
        .await,
    )
}
