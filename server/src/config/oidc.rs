//! OpenID Connect providers: a `[oidc.<id>]` table each in `visita.toml`,
//! or in the environment `VISITA_OIDC_PROVIDERS=hospital,partner` with
//! `VISITA_OIDC_HOSPITAL_ISSUER`, `VISITA_OIDC_HOSPITAL_CLIENT_ID`… (the id
//! upper-cased, `-` as `_`). The environment wins key by key.

use super::{ConfigError, Secret};
use crate::auth::external::RoleMapping;
use crate::auth::oidc::{OidcConfig, valid_id};
use std::collections::BTreeMap;

/// The keys of one provider.
const KEYS: &[&str] = &[
    "label",
    "issuer",
    "client_id",
    "client_secret",
    "scopes",
    "email_claim",
    "name_claim",
    "groups_claim",
    "role_map",
    "queue_map",
    "default_roles",
    "create_accounts",
];

/// One provider's raw values: key → (value, where it came from).
pub(super) type RawProvider = BTreeMap<&'static str, (String, String)>;

/// Reads the providers' raw values from the file's `oidc` table (if any)
/// and the environment.
pub(super) fn gather(
    file_label: &str,
    table: Option<&toml::Value>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, RawProvider>, ConfigError> {
    let mut providers: BTreeMap<String, RawProvider> = BTreeMap::new();
    if let Some(table) = table {
        let toml::Value::Table(table) = table else {
            return Err(ConfigError {
                key: format!("{file_label}: oidc"),
                problem: "must be tables like [oidc.hospital]".into(),
            });
        };
        for (id, keys) in table {
            let where_ = format!("{file_label}: oidc.{id}");
            let toml::Value::Table(keys) = keys else {
                return Err(ConfigError {
                    key: where_,
                    problem: "must be a table like [oidc.hospital]".into(),
                });
            };
            let provider = providers.entry(id.clone()).or_default();
            for (name, value) in keys {
                let Some(key) = KEYS.iter().find(|k| **k == name) else {
                    return Err(ConfigError {
                        key: format!("{where_}.{name}"),
                        problem: format!("is not a provider setting (known: {})", KEYS.join(", ")),
                    });
                };
                let value = match value {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Boolean(b) => b.to_string(),
                    toml::Value::Integer(i) => i.to_string(),
                    other => {
                        return Err(ConfigError {
                            key: format!("{where_}.{name}"),
                            problem: format!("must be a string, not {}", other.type_str()),
                        });
                    }
                };
                provider.insert(key, (value, format!("{where_}.{name}")));
            }
        }
    }
    let listed = env("VISITA_OIDC_PROVIDERS").unwrap_or_default();
    for id in listed.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        providers.entry(id.to_string()).or_default();
    }
    for (id, provider) in providers.iter_mut() {
        for key in KEYS {
            let name = env_name(id, key);
            if let Some(value) = env(&name) {
                provider.insert(key, (value, name));
            }
        }
    }
    Ok(providers)
}

fn env_name(id: &str, key: &str) -> String {
    format!(
        "VISITA_OIDC_{}_{}",
        id.to_ascii_uppercase().replace('-', "_"),
        key.to_ascii_uppercase()
    )
}

pub(super) fn parse(
    providers: &BTreeMap<String, RawProvider>,
) -> Result<Vec<OidcConfig>, ConfigError> {
    providers
        .iter()
        .map(|(id, raw)| parse_one(id, raw))
        .collect()
}

fn parse_one(id: &str, raw: &RawProvider) -> Result<OidcConfig, ConfigError> {
    let error = |key: &str, problem: String| ConfigError {
        key: raw
            .get(key)
            .map(|(_, source)| source.clone())
            .unwrap_or_else(|| env_name(id, key)),
        problem,
    };
    if !valid_id(id) {
        return Err(ConfigError {
            key: format!("oidc.{id}"),
            problem: "a provider's id is lower-case letters, digits and '-' (at most 32)".into(),
        });
    }
    let text = |key: &str| {
        raw.get(key)
            .map(|(v, _)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let required =
        |key: &str, what: &str| text(key).ok_or_else(|| error(key, format!("is missing: {what}")));
    let issuer = required(
        "issuer",
        "the provider's issuer URL (its discovery document is under it)",
    )?;
    if reqwest::Url::parse(&issuer)
        .map(|u| !matches!(u.scheme(), "https" | "http"))
        .unwrap_or(true)
    {
        return Err(error(
            "issuer",
            format!("{issuer:?} is not a URL like https://login.hospital.example/realms/staff"),
        ));
    }
    let flag = |key: &str| -> Result<bool, ConfigError> {
        match text(key).as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(error(key, format!("{other:?} is not true or false"))),
        }
    };
    let mapping = RoleMapping {
        roles: RoleMapping::parse_roles(&text("role_map").unwrap_or_default())
            .map_err(|e| error("role_map", e))?,
        queues: RoleMapping::parse_queues(&text("queue_map").unwrap_or_default())
            .map_err(|e| error("queue_map", e))?,
        default_roles: RoleMapping::parse_role_list(&text("default_roles").unwrap_or_default())
            .map_err(|e| error("default_roles", e))?,
        create_accounts: flag("create_accounts")?,
    };
    if mapping.create_accounts && mapping.roles.is_empty() && mapping.default_roles.is_empty() {
        return Err(error(
            "create_accounts",
            "is true, but neither role_map nor default_roles says which roles new accounts get"
                .into(),
        ));
    }
    let scopes = text("scopes")
        .unwrap_or_else(|| "email profile".into())
        .split([' ', ','])
        .filter(|s| !s.is_empty() && *s != "openid")
        .map(str::to_string)
        .collect();
    Ok(OidcConfig {
        id: id.to_string(),
        label: text("label").unwrap_or_else(|| format!("Sign in with {id}")),
        issuer,
        client_id: required("client_id", "the client id Visita has at the provider")?,
        client_secret: text("client_secret").map(Secret::new),
        scopes,
        email_claim: text("email_claim").unwrap_or_else(|| "email".into()),
        name_claim: text("name_claim").unwrap_or_else(|| "name".into()),
        groups_claim: text("groups_claim").unwrap_or_else(|| "groups".into()),
        mapping,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::domain::Role;

    fn load(file: &str, env: &[(&str, &str)]) -> Result<Vec<OidcConfig>, ConfigError> {
        let table: toml::Table = file.parse().unwrap();
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let raw = gather("visita.toml", table.get("oidc"), &|name| {
            env.get(name).cloned()
        })?;
        parse(&raw)
    }

    #[test]
    fn file_tables_and_environment_make_providers() {
        let providers = load(
            r#"
            [oidc.hospital]
            label = "Hospital account"
            issuer = "https://login.hospital.example/realms/staff"
            client_id = "visita"
            role_map = "doctors=doctor"
            create_accounts = true
            "#,
            &[
                ("VISITA_OIDC_HOSPITAL_CLIENT_SECRET", "s3cret"),
                ("VISITA_OIDC_PROVIDERS", "partner-2"),
                ("VISITA_OIDC_PARTNER_2_ISSUER", "https://id.partner.example"),
                ("VISITA_OIDC_PARTNER_2_CLIENT_ID", "abc"),
                ("VISITA_OIDC_PARTNER_2_SCOPES", "openid email groups"),
            ],
        )
        .unwrap();
        assert_eq!(providers.len(), 2);
        let hospital = &providers[0];
        assert_eq!(hospital.id, "hospital");
        assert_eq!(hospital.label, "Hospital account");
        assert_eq!(hospital.client_secret.as_ref().unwrap().expose(), "s3cret");
        assert_eq!(
            hospital.mapping.roles,
            vec![("doctors".into(), Role::Doctor)]
        );
        assert!(hospital.mapping.create_accounts);
        let partner = &providers[1];
        assert_eq!(partner.id, "partner-2");
        assert_eq!(
            partner.scopes,
            vec!["email".to_string(), "groups".to_string()]
        );
        assert!(partner.client_secret.is_none());
        assert!(format!("{partner:?}").contains("partner-2"));
    }

    #[test]
    fn mistakes_name_their_key() {
        let e = load("[oidc.h]\nissuer = \"ftp://x\"\nclient_id = \"a\"", &[]).unwrap_err();
        assert_eq!(e.key, "visita.toml: oidc.h.issuer");
        let e = load("[oidc.h]\nissuer = \"https://x.example\"", &[]).unwrap_err();
        assert_eq!(e.key, "VISITA_OIDC_H_CLIENT_ID");
        let e = load(
            "[oidc.h]\nissuer = \"https://x.example\"\nclient_id = \"a\"\nsecret = \"x\"",
            &[],
        )
        .unwrap_err();
        assert_eq!(e.key, "visita.toml: oidc.h.secret");
        let e = load(
            "[oidc.h]\nissuer = \"https://x.example\"\nclient_id = \"a\"\ncreate_accounts = true",
            &[],
        )
        .unwrap_err();
        assert!(e.problem.contains("role_map"), "{}", e.problem);
        let e = load("", &[("VISITA_OIDC_PROVIDERS", "Bad/Id")]).unwrap_err();
        assert!(e.problem.contains("lower-case"));
        let e = load(
            "[oidc.h]\nissuer = \"https://x.example\"\nclient_id = \"a\"\nrole_map = \"g=boss\"",
            &[],
        )
        .unwrap_err();
        assert!(e.problem.contains("boss"));
    }
}
