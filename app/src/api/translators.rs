//! Translator organisations: administrators create them (a name and the
//! languages they cover) and say which translators belong to each. A
//! clinician's request for a language reaches every member of an
//! organisation that covers it.

use crate::domain::TranslatorOrgSummary;
use crate::error::AppError;
use leptos::prelude::*;

#[server(endpoint = "translators/orgs")]
pub async fn list_translator_orgs() -> Result<Vec<TranslatorOrgSummary>, AppError> {
    use crate::authz::{Action, Resource, authorize};
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            authorize(ctx.staff(), Action::ManageTranslators, &Resource::System)?;
            let actor = ctx.require_principal()?;
            ctx.services.accounts.list_translator_orgs(actor).await
        }
        .await,
    )
}

/// `languages`: codes separated by commas (`ar, fr`).
#[server(endpoint = "translators/create")]
pub async fn create_translator_org(
    name: String,
    languages: String,
) -> Result<TranslatorOrgSummary, AppError> {
    use crate::authz::{Action, Resource, authorize};
    use crate::domain::parse_languages;
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            authorize(ctx.staff(), Action::ManageTranslators, &Resource::System)?;
            let actor = ctx.require_principal()?;
            let name = name.trim();
            if name.is_empty() || name.chars().count() > 80 {
                return Err(AppError::invalid(
                    "name",
                    "Enter a name of 1 to 80 characters.",
                ));
            }
            let languages = parse_languages(&languages)?;
            if languages.is_empty() {
                return Err(AppError::invalid(
                    "languages",
                    "Enter at least one language code, like ar or uk.",
                ));
            }
            ctx.services
                .accounts
                .create_translator_org(actor, name, &languages, &ctx.client)
                .await
        }
        .await,
    )
}

/// `members` are the ids of everyone who belongs to the organisation after this.
#[server(endpoint = "translators/set-members")]
pub async fn set_translator_org_members(
    org: String,
    #[server(default)] members: Vec<String>,
) -> Result<(), AppError> {
    use crate::authz::{Action, Resource, authorize};
    use crate::domain::UserId;
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            authorize(ctx.staff(), Action::ManageTranslators, &Resource::System)?;
            let actor = ctx.require_principal()?;
            let members: Vec<UserId> = members.into_iter().map(UserId).collect();
            ctx.services
                .accounts
                .set_translator_org_members(actor, &org, &members, &ctx.client)
                .await
        }
        .await,
    )
}
