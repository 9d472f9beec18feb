//! The keys of sign-in against a directory (LDAP, Active Directory).

use super::{ConfigError, Secret, Sources};
use crate::auth::ldap::{GroupSearch, LdapConfig};

pub(super) fn parse(src: &Sources) -> Result<Option<LdapConfig>, ConfigError> {
    let text = |key: &'static str| {
        src.get(key)
            .map(|r| r.value.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let Some(url) = text("ldap_url") else {
        return Ok(None);
    };
    if !(url.starts_with("ldap://") || url.starts_with("ldaps://")) {
        return Err(src.error(
            "ldap_url",
            format!(
                "{url:?} is not like ldaps://dc1.hospital.example or ldap://ldap.hospital.example"
            ),
        ));
    }
    let flag = |key: &'static str| -> Result<bool, ConfigError> {
        match text(key).as_deref() {
            None | Some("false") | Some("off") => Ok(false),
            Some("true") | Some("on") => Ok(true),
            Some(other) => Err(src.error(key, format!("{other:?} is not true or false"))),
        }
    };
    let required = |key: &'static str, what: &str| {
        text(key).ok_or_else(|| src.error(key, format!("is missing: {what}")))
    };
    let bind_dn = required("ldap_bind_dn", "the service account Visita searches with")?;
    let bind_password = src
        .get("ldap_bind_password")
        .map(|r| Secret::new(r.value.clone()))
        .ok_or_else(|| {
            src.error(
                "ldap_bind_password",
                "is missing: the service account's password".into(),
            )
        })?;
    let user_base = required(
        "ldap_user_base",
        "where people are searched (ou=people,dc=hospital,dc=example)",
    )?;
    let user_filter =
        text("ldap_user_filter").unwrap_or_else(|| "(|(uid={login})(mail={login}))".into());
    if !user_filter.contains("{login}") {
        return Err(src.error(
            "ldap_user_filter",
            "must contain {login}, where the typed login goes".into(),
        ));
    }
    let group_search = match text("ldap_group_search").as_deref() {
        None | Some("recursive") => GroupSearch::Recursive,
        Some("in_chain") => GroupSearch::InChain,
        Some(other) => {
            return Err(src.error(
                "ldap_group_search",
                format!("{other:?} is not recursive or in_chain (Active Directory)"),
            ));
        }
    };
    let mapping = super::mapping::parse(
        src,
        super::mapping::MappingKeys {
            roles: "ldap_role_map",
            queues: "ldap_queue_map",
            default_roles: "ldap_default_roles",
            create_accounts: "ldap_create_accounts",
        },
    )?;
    Ok(Some(LdapConfig {
        starttls: flag("ldap_starttls")?,
        url,
        bind_dn,
        bind_password,
        group_base: text("ldap_group_base").unwrap_or_else(|| user_base.clone()),
        user_base,
        user_filter,
        email_attribute: text("ldap_email_attribute").unwrap_or_else(|| "mail".into()),
        name_attribute: text("ldap_name_attribute").unwrap_or_else(|| "cn".into()),
        group_search,
        mapping,
    }))
}
