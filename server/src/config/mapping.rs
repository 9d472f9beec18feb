//! The group rules of a sign-in method (LDAP, SAML, the portal): the same
//! four keys under each method's prefix.

use super::{ConfigError, Sources, env_name};
use crate::auth::external::RoleMapping;

/// The keys of one method's rules (`ldap_role_map`…).
pub(super) struct MappingKeys {
    pub roles: &'static str,
    pub queues: &'static str,
    pub default_roles: &'static str,
    pub create_accounts: &'static str,
}

pub(super) fn parse(src: &Sources, keys: MappingKeys) -> Result<RoleMapping, ConfigError> {
    let text = |key: &'static str| {
        src.get(key)
            .map(|r| r.value.trim().to_string())
            .unwrap_or_default()
    };
    let create_accounts = match text(keys.create_accounts).as_str() {
        "" | "false" | "off" => false,
        "true" | "on" => true,
        other => {
            return Err(src.error(
                keys.create_accounts,
                format!("{other:?} is not true or false"),
            ));
        }
    };
    let mapping = RoleMapping {
        roles: RoleMapping::parse_roles(&text(keys.roles)).map_err(|e| src.error(keys.roles, e))?,
        queues: RoleMapping::parse_queues(&text(keys.queues))
            .map_err(|e| src.error(keys.queues, e))?,
        default_roles: RoleMapping::parse_role_list(&text(keys.default_roles))
            .map_err(|e| src.error(keys.default_roles, e))?,
        create_accounts,
    };
    if mapping.create_accounts && mapping.roles.is_empty() && mapping.default_roles.is_empty() {
        return Err(src.error(
            keys.create_accounts,
            format!(
                "is true, but neither {} nor {} says which roles new accounts get",
                env_name(keys.roles),
                env_name(keys.default_roles)
            ),
        ));
    }
    Ok(mapping)
}
