//! Staff accounts: the admin's list, creation, disabling and password resets,
//! and everyone's own password change.

use crate::domain::UserSummary;
use crate::error::AppError;
use leptos::prelude::*;

#[server(endpoint = "users/list")]
pub async fn list_users() -> Result<Vec<UserSummary>, AppError> {
    use crate::authz::{Action, Resource, authorize};
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            authorize(ctx.staff(), Action::ListUsers, &Resource::System)?;
            let actor = ctx.require_session()?.principal.clone();
            ctx.services.accounts.list_users(&actor).await
        }
        .await,
    )
}

/// `role` is one role name (`doctor`); the form offers a choice of them.
#[server(endpoint = "users/create")]
pub async fn create_user(
    email: String,
    name: String,
    role: String,
    password: String,
) -> Result<UserSummary, AppError> {
    use crate::authz::{Action, Resource, authorize};
    use crate::domain::{NewUser, Role};
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            authorize(ctx.staff(), Action::CreateUser, &Resource::System)?;
            let role: Role = role
                .parse()
                .map_err(|_| AppError::invalid("role", "Choose a role."))?;
            let user = NewUser {
                email,
                name,
                roles: vec![role],
                password,
            }
            .validate()?;
            let actor = ctx.require_session()?.principal.clone();
            ctx.services
                .accounts
                .create_user(&actor, user, &ctx.client)
                .await
        }
        .await,
    )
}

/// Disables (`disabled = true`) or re-enables an account. Disabling ends
/// the person's sessions at once.
#[server(endpoint = "users/set-disabled")]
pub async fn set_user_disabled(id: String, disabled: bool) -> Result<(), AppError> {
    use crate::authz::{Action, Resource, authorize};
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            let id = crate::domain::UserId(id);
            authorize(
                ctx.staff(),
                Action::DisableUser,
                &Resource::User(id.clone()),
            )?;
            let actor = ctx.require_session()?.principal.clone();
            ctx.services
                .accounts
                .set_disabled(&actor, &id, disabled, &ctx.client)
                .await
        }
        .await,
    )
}

#[server(endpoint = "users/reset-password")]
pub async fn reset_password(id: String, password: String) -> Result<(), AppError> {
    use crate::authz::{Action, Resource, authorize};
    use crate::domain::check_password_strength;
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            let id = crate::domain::UserId(id);
            authorize(
                ctx.staff(),
                Action::ResetPassword,
                &Resource::User(id.clone()),
            )?;
            check_password_strength(&password).map_err(|m| AppError::invalid("password", m))?;
            let actor = ctx.require_session()?.principal.clone();
            ctx.services
                .accounts
                .reset_password(&actor, &id, &password, &ctx.client)
                .await
        }
        .await,
    )
}

#[server(endpoint = "account/password")]
pub async fn change_own_password(
    current: String,
    new: String,
    confirm: String,
) -> Result<(), AppError> {
    use crate::authz::{Action, Caller, Resource, authorize};
    use crate::domain::check_password_strength;
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            let session = ctx.require_session()?;
            authorize(
                Some(Caller::Staff(&session.principal)),
                Action::ChangeOwnPassword,
                &Resource::User(session.principal.user_id.clone()),
            )?;
            if new != confirm {
                return Err(AppError::invalid(
                    "confirm",
                    "The two new passwords are not the same.",
                ));
            }
            check_password_strength(&new).map_err(|m| AppError::invalid("new", m))?;
            ctx.services
                .accounts
                .change_own_password(session, &current, &new, &ctx.client)
                .await
        }
        .await,
    )
}
