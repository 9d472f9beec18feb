//! What every single-sign-on method (OpenID Connect, SAML, LDAP) hands to
//! the accounts: who the identity provider says the person is, and the rules
//! that turn their groups into Visita roles and queues. Kept free of any
//! protocol so the mapping is tested once for all of them.

use app::domain::Role;
use std::collections::BTreeSet;

/// A person as an identity provider vouched for them, after the protocol's
/// own checks (signature, audience, nonce…) passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIdentity {
    /// Which configured method vouched (`oidc:hospital`, `ldap`…).
    pub method: String,
    /// The provider's stable identifier for the person (`sub`, NameID, DN).
    pub subject: String,
    /// Lower-case.
    pub email: String,
    pub name: Option<String>,
    pub groups: Vec<String>,
}

/// How a provider's groups become Visita roles and queues.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleMapping {
    /// `(group, role)`: a member of `group` has `role`.
    pub roles: Vec<(String, Role)>,
    /// `(group, queue name)`: a member of `group` works in that queue.
    pub queues: Vec<(String, String)>,
    /// Roles given to a new account when no group rule exists.
    pub default_roles: Vec<Role>,
    /// Whether a person without an account gets one at first sign-in.
    pub create_accounts: bool,
}

/// What the mapping decides for one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapped {
    /// The provider's groups decide: these roles (never empty) and queues.
    Managed {
        roles: Vec<Role>,
        queues: Vec<String>,
    },
    /// No group rules: an existing account keeps its roles; a new one gets
    /// these (empty when accounts are not created).
    Unmanaged { new_account_roles: Vec<Role> },
    /// Group rules exist and none matches: not allowed in.
    NoRole,
}

impl RoleMapping {
    /// Reads `group=role; group=role` (the form the file, the environment
    /// and the console share). Group names are compared without regard to
    /// case, as directories do.
    pub fn parse_roles(text: &str) -> Result<Vec<(String, Role)>, String> {
        pairs(text)?
            .into_iter()
            .map(|(group, role)| {
                role.parse::<Role>()
                    .ok()
                    .map(|r| (group, r))
                    .ok_or_else(|| {
                        format!(
                            "{role:?} is not a role (admin, doctor, nurse, scheduler, translator)"
                        )
                    })
            })
            .collect()
    }

    /// Reads `group=queue name; group=queue name`.
    pub fn parse_queues(text: &str) -> Result<Vec<(String, String)>, String> {
        pairs(text)
    }

    /// Reads `doctor, nurse`.
    pub fn parse_role_list(text: &str) -> Result<Vec<Role>, String> {
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|r| {
                r.parse::<Role>()
                    .map_err(|_| format!("{r:?} is not a role"))
            })
            .collect()
    }

    pub fn map(&self, groups: &[String]) -> Mapped {
        if self.roles.is_empty() {
            let new_account_roles = if self.create_accounts {
                self.default_roles.clone()
            } else {
                Vec::new()
            };
            return Mapped::Unmanaged { new_account_roles };
        }
        let member = |group: &str| groups.iter().any(|g| g.eq_ignore_ascii_case(group));
        let roles: BTreeSet<Role> = self
            .roles
            .iter()
            .filter(|(group, _)| member(group))
            .map(|(_, role)| *role)
            .collect();
        if roles.is_empty() {
            return Mapped::NoRole;
        }
        let queues: BTreeSet<String> = self
            .queues
            .iter()
            .filter(|(group, _)| member(group))
            .map(|(_, queue)| queue.clone())
            .collect();
        Mapped::Managed {
            roles: Role::ALL
                .into_iter()
                .filter(|r| roles.contains(r))
                .collect(),
            queues: queues.into_iter().collect(),
        }
    }
}

impl Mapped {
    /// In words, for "try login".
    pub fn describe(&self) -> String {
        let names = |roles: &[Role]| {
            roles
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Mapped::Managed { roles, queues } if queues.is_empty() => {
                format!("signs in as {}", names(roles))
            }
            Mapped::Managed { roles, queues } => {
                format!(
                    "signs in as {}, in the queues {}",
                    names(roles),
                    queues.join(", ")
                )
            }
            Mapped::Unmanaged { new_account_roles } if new_account_roles.is_empty() => {
                "signs in to an existing account with its roles; no account is made".into()
            }
            Mapped::Unmanaged { new_account_roles } => format!(
                "signs in to an existing account with its roles; a new account gets {}",
                names(new_account_roles)
            ),
            Mapped::NoRole => "refused: in none of the groups the role map names".into(),
        }
    }
}

/// What "try login" shows about a person a method vouched for.
pub fn try_report(
    identity: &ExternalIdentity,
    mapping: &RoleMapping,
    received: Vec<(String, String)>,
) -> Vec<(String, String)> {
    let mut lines = vec![
        ("Method".to_string(), identity.method.clone()),
        ("Subject".to_string(), identity.subject.clone()),
        ("Email".to_string(), identity.email.clone()),
        (
            "Name".to_string(),
            identity.name.clone().unwrap_or_default(),
        ),
        ("Groups".to_string(), identity.groups.join(", ")),
        (
            "In Visita".to_string(),
            mapping.map(&identity.groups).describe(),
        ),
    ];
    lines.extend(received);
    lines
}

fn pairs(text: &str) -> Result<Vec<(String, String)>, String> {
    text.split([';', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|pair| {
            let (left, right) = pair
                .split_once('=')
                .ok_or_else(|| format!("{pair:?} is not `group=value`"))?;
            let (left, right) = (left.trim(), right.trim());
            if left.is_empty() || right.is_empty() {
                return Err(format!("{pair:?} is not `group=value`"));
            }
            Ok((left.to_string(), right.to_string()))
        })
        .collect()
}

/// Why an identity the provider vouched for still opens no session (said
/// to the person, and written to the audit trail).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExternalRefusal {
    #[error(
        "your account there gives you no role in Visita (you are in none of the groups allowed)"
    )]
    NoRole,
    #[error("there is no Visita account for {0}; ask your Visita administrator for one")]
    NoAccount(String),
    #[error("your Visita account is disabled")]
    Disabled,
    #[error("the identity provider did not give an email address")]
    NoEmail,
    #[error("the identity provider says your email address is not verified")]
    EmailUnverified,
    #[error("Visita could not record the sign-in; try again in a moment")]
    Internal,
}

impl ExternalRefusal {
    /// The audit trail's word for it.
    pub fn code(&self) -> &'static str {
        match self {
            ExternalRefusal::NoRole => "no_role",
            ExternalRefusal::NoAccount(_) => "no_account",
            ExternalRefusal::Disabled => "disabled",
            ExternalRefusal::NoEmail => "no_email",
            ExternalRefusal::EmailUnverified => "email_unverified",
            ExternalRefusal::Internal => "internal",
        }
    }
}

/// An email as the accounts store it, or `None` when it is not one.
pub fn normalise_email(raw: &str) -> Option<String> {
    let email = raw.trim().to_lowercase();
    let (local, domain) = email.split_once('@')?;
    let ok = !local.is_empty()
        && domain.contains('.')
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then_some(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn group_rules_give_roles_and_queues_and_nothing_else() {
        let mapping = RoleMapping {
            roles: RoleMapping::parse_roles(
                "Visita-Doctors=doctor; visita-admins = admin\nnurses=nurse",
            )
            .unwrap(),
            queues: RoleMapping::parse_queues("cardio=Cardiology; visita-doctors=General").unwrap(),
            default_roles: vec![],
            create_accounts: true,
        };
        assert_eq!(
            mapping.map(&groups(&["visita-doctors", "cardio", "other"])),
            Mapped::Managed {
                roles: vec![Role::Doctor],
                queues: vec!["Cardiology".into(), "General".into()],
            }
        );
        assert_eq!(
            mapping.map(&groups(&["VISITA-ADMINS", "nurses"])),
            Mapped::Managed {
                roles: vec![Role::Admin, Role::Nurse],
                queues: vec![],
            }
        );
        assert_eq!(mapping.map(&groups(&["cardio"])), Mapped::NoRole);
        assert_eq!(mapping.map(&[]), Mapped::NoRole);
    }

    #[test]
    fn without_group_rules_accounts_keep_their_roles() {
        let mut mapping = RoleMapping {
            default_roles: vec![Role::Doctor],
            ..RoleMapping::default()
        };
        assert_eq!(
            mapping.map(&groups(&["x"])),
            Mapped::Unmanaged {
                new_account_roles: vec![]
            }
        );
        mapping.create_accounts = true;
        assert_eq!(
            mapping.map(&[]),
            Mapped::Unmanaged {
                new_account_roles: vec![Role::Doctor]
            }
        );
    }

    #[test]
    fn bad_rules_are_named() {
        assert!(
            RoleMapping::parse_roles("doctors=surgeon")
                .unwrap_err()
                .contains("surgeon")
        );
        assert!(
            RoleMapping::parse_roles("doctors")
                .unwrap_err()
                .contains("group=value")
        );
        assert!(RoleMapping::parse_roles("=doctor").is_err());
        assert_eq!(RoleMapping::parse_roles(" ; ").unwrap(), vec![]);
        assert_eq!(
            RoleMapping::parse_role_list("doctor, nurse").unwrap(),
            vec![Role::Doctor, Role::Nurse]
        );
    }

    #[test]
    fn emails_are_checked_and_lower_cased() {
        assert_eq!(
            normalise_email(" Ann@Clinic.Example "),
            Some("ann@clinic.example".into())
        );
        assert_eq!(normalise_email("ann"), None);
        assert_eq!(normalise_email("ann@localhost"), None);
        assert_eq!(normalise_email("a b@c.d"), None);
    }
}
