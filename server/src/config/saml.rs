//! The keys of sign-in through a SAML 2.0 identity provider.

use super::{ConfigError, Sources};
use crate::auth::saml::{IdpMetadataSource, SamlConfig};

pub(super) fn parse(src: &Sources) -> Result<Option<SamlConfig>, ConfigError> {
    let text = |key: &'static str| {
        src.get(key)
            .map(|r| r.value.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let metadata = match (
        text("saml_idp_metadata_url"),
        text("saml_idp_metadata_file"),
    ) {
        (None, None) => return Ok(None),
        (Some(_), Some(_)) => {
            return Err(src.error(
                "saml_idp_metadata_file",
                "is set together with VISITA_SAML_IDP_METADATA_URL: choose one".into(),
            ));
        }
        (Some(url), None) => {
            if reqwest::Url::parse(&url)
                .map(|u| !matches!(u.scheme(), "https" | "http"))
                .unwrap_or(true)
            {
                return Err(src.error(
                    "saml_idp_metadata_url",
                    format!("{url:?} is not a URL like https://idp.hospital.example/metadata"),
                ));
            }
            IdpMetadataSource::Url(url)
        }
        (None, Some(path)) => IdpMetadataSource::File(path.into()),
    };
    let read = |key: &'static str| -> Result<Option<Vec<u8>>, ConfigError> {
        text(key)
            .map(|path| {
                std::fs::read(&path)
                    .map_err(|e| src.error(key, format!("{path} cannot be read: {e}")))
            })
            .transpose()
    };
    let sp_certificate_pem = read("saml_sp_cert_file")?;
    let sp_key_pem = read("saml_sp_key_file")?;
    if sp_certificate_pem.is_some() != sp_key_pem.is_some() {
        return Err(src.error(
            "saml_sp_key_file",
            "and VISITA_SAML_SP_CERT_FILE go together (Visita's certificate and its key)".into(),
        ));
    }
    let flag = |key: &'static str| -> Result<bool, ConfigError> {
        match text(key).as_deref() {
            None | Some("false") | Some("off") => Ok(false),
            Some("true") | Some("on") => Ok(true),
            Some(other) => Err(src.error(key, format!("{other:?} is not true or false"))),
        }
    };
    let names = |key: &'static str, defaults: &[&str]| -> Vec<String> {
        match text(key) {
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            None => defaults.iter().map(|s| s.to_string()).collect(),
        }
    };
    let mapping = super::mapping::parse(
        src,
        super::mapping::MappingKeys {
            roles: "saml_role_map",
            queues: "saml_queue_map",
            default_roles: "saml_default_roles",
            create_accounts: "saml_create_accounts",
        },
    )?;
    Ok(Some(SamlConfig {
        label: text("saml_label").unwrap_or_else(|| "Sign in with your organisation".into()),
        metadata,
        sp_certificate_pem,
        sp_key_pem,
        allow_idp_initiated: flag("saml_allow_idp_initiated")?,
        email_attributes: names(
            "saml_email_attribute",
            &[
                "email",
                "mail",
                "urn:oid:0.9.2342.19200300.100.1.3",
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
            ],
        ),
        name_attributes: names(
            "saml_name_attribute",
            &[
                "displayName",
                "name",
                "cn",
                "urn:oid:2.16.840.1.113730.3.1.241",
                "http://schemas.microsoft.com/identity/claims/displayname",
            ],
        ),
        groups_attributes: names(
            "saml_groups_attribute",
            &[
                "groups",
                "memberOf",
                "urn:oid:1.3.6.1.4.1.5923.1.5.1.1",
                "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
            ],
        ),
        mapping,
    }))
}
