//! The one question every server function and route asks first: may this
//! principal do this action to this resource? Kept as a pure function so the
//! whole policy is a table in the tests below.

use crate::domain::{Principal, Role, UserId};

/// Something a person can try to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// See the clinician dashboard.
    ViewDashboard,
    /// List staff accounts.
    ListUsers,
    /// Create a staff account.
    CreateUser,
    /// Disable or re-enable an account.
    DisableUser,
    /// Set someone else's password.
    ResetPassword,
    /// Change one's own password.
    ChangeOwnPassword,
}

/// What the action is done to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// The installation as a whole.
    System,
    /// One staff account.
    User(UserId),
}

/// Why a request was refused; worded for the person who made it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("Please sign in first.")]
    NotSignedIn,
    #[error("You are not allowed to do this.")]
    Forbidden,
}

pub fn authorize(
    principal: Option<&Principal>,
    action: Action,
    resource: &Resource,
) -> Result<(), Denied> {
    let who = principal.ok_or(Denied::NotSignedIn)?;
    let is_admin = who.has_role(Role::Admin);
    let allowed = match (action, resource) {
        (Action::ViewDashboard, Resource::System) => !who.roles.is_empty(),
        (Action::ListUsers | Action::CreateUser, Resource::System) => is_admin,
        // An admin may not lock themselves out by disabling their own account.
        (Action::DisableUser, Resource::User(target)) => is_admin && *target != who.user_id,
        // Setting one's own password goes through ChangeOwnPassword, which asks
        // for the current one: a borrowed admin session cannot take the account.
        (Action::ResetPassword, Resource::User(target)) => is_admin && *target != who.user_id,
        (Action::ChangeOwnPassword, Resource::User(target)) => *target == who.user_id,
        _ => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(Denied::Forbidden)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(id: &str, roles: &[Role]) -> Principal {
        Principal {
            user_id: UserId(id.into()),
            email: format!("{id}@h.org"),
            name: id.into(),
            roles: roles.to_vec(),
        }
    }

    /// The whole policy, one row per (role, action, resource): expected answer.
    #[test]
    fn policy_matrix() {
        let me = UserId("me".into());
        let other = UserId("other".into());
        let admin_only = [Action::ListUsers, Action::CreateUser];
        for role in Role::ALL {
            let p = person("me", &[role]);
            let is_admin = role == Role::Admin;
            assert!(
                authorize(Some(&p), Action::ViewDashboard, &Resource::System).is_ok(),
                "{role}"
            );
            for action in admin_only {
                assert_eq!(
                    authorize(Some(&p), action, &Resource::System).is_ok(),
                    is_admin,
                    "{role} {action:?}"
                );
            }
            assert_eq!(
                authorize(
                    Some(&p),
                    Action::DisableUser,
                    &Resource::User(other.clone())
                )
                .is_ok(),
                is_admin,
                "{role} disable other"
            );
            assert!(
                authorize(Some(&p), Action::DisableUser, &Resource::User(me.clone())).is_err(),
                "{role} disable self"
            );
            assert_eq!(
                authorize(
                    Some(&p),
                    Action::ResetPassword,
                    &Resource::User(other.clone())
                )
                .is_ok(),
                is_admin,
                "{role} reset other"
            );
            assert!(
                authorize(Some(&p), Action::ResetPassword, &Resource::User(me.clone())).is_err(),
                "{role} reset self"
            );
            assert!(
                authorize(
                    Some(&p),
                    Action::ChangeOwnPassword,
                    &Resource::User(me.clone())
                )
                .is_ok()
            );
            assert_eq!(
                authorize(
                    Some(&p),
                    Action::ChangeOwnPassword,
                    &Resource::User(other.clone())
                ),
                Err(Denied::Forbidden)
            );
            // Actions aimed at the wrong kind of resource are refused, never guessed.
            assert!(
                authorize(Some(&p), Action::ViewDashboard, &Resource::User(me.clone())).is_err()
            );
        }
    }

    #[test]
    fn nobody_signed_in_may_do_nothing() {
        for action in [
            Action::ViewDashboard,
            Action::ListUsers,
            Action::CreateUser,
            Action::DisableUser,
            Action::ResetPassword,
            Action::ChangeOwnPassword,
        ] {
            assert_eq!(
                authorize(None, action, &Resource::System),
                Err(Denied::NotSignedIn)
            );
        }
    }

    #[test]
    fn an_account_without_roles_sees_nothing() {
        let p = person("me", &[]);
        assert_eq!(
            authorize(Some(&p), Action::ViewDashboard, &Resource::System),
            Err(Denied::Forbidden)
        );
    }
}
