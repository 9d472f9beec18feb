//! The keys of sign-in from the hospital's portal (a signed JWT).

use super::{ConfigError, Secret, Sources};
use crate::auth::portal::{PortalConfig, PortalKey};
use jsonwebtoken::Algorithm;

pub(super) fn parse(src: &Sources) -> Result<Option<PortalConfig>, ConfigError> {
    let text = |key: &'static str| {
        src.get(key)
            .map(|r| r.value.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let Some(algorithm) = text("portal_jwt_algorithm") else {
        return Ok(None);
    };
    let algorithm = match algorithm.as_str() {
        "RS256" => Algorithm::RS256,
        "ES256" => Algorithm::ES256,
        // A shared secret only when chosen in so many words.
        "HS256" => Algorithm::HS256,
        other => {
            return Err(src.error(
                "portal_jwt_algorithm",
                format!("{other:?} is not RS256, ES256 or HS256"),
            ));
        }
    };
    let key = match algorithm {
        Algorithm::HS256 => {
            let secret = src
                .get("portal_jwt_secret")
                .map(|r| Secret::new(r.value.trim()))
                .ok_or_else(|| src.error("portal_jwt_secret", "is missing for HS256".into()))?;
            if secret.expose().len() < 32 {
                return Err(src.error(
                    "portal_jwt_secret",
                    "is shorter than 32 characters: use a long random value".into(),
                ));
            }
            PortalKey::Shared(secret)
        }
        _ if text("portal_jwt_jwks_url").is_some() => {
            let url = text("portal_jwt_jwks_url").unwrap_or_default();
            if reqwest::Url::parse(&url).is_err() {
                return Err(src.error(
                    "portal_jwt_jwks_url",
                    format!(
                        "{url:?} is not a URL like https://portal.example/.well-known/jwks.json"
                    ),
                ));
            }
            PortalKey::Jwks(url)
        }
        _ => {
            let path = text("portal_jwt_public_key_file").ok_or_else(|| {
                src.error(
                    "portal_jwt_public_key_file",
                    "is missing: the portal's public key (PEM, or VISITA_PORTAL_JWT_JWKS_URL) checks its tokens".into(),
                )
            })?;
            let pem = std::fs::read(&path).map_err(|e| {
                src.error(
                    "portal_jwt_public_key_file",
                    format!("{path} cannot be read: {e}"),
                )
            })?;
            PortalKey::PublicPem(pem)
        }
    };
    let required = |key: &'static str| {
        text(key).ok_or_else(|| {
            src.error(
                key,
                "is missing: portal tokens are checked for their issuer and audience".into(),
            )
        })
    };
    let config = PortalConfig {
        algorithm,
        key,
        issuer: required("portal_jwt_issuer")?,
        audience: required("portal_jwt_audience")?,
        email_claim: text("portal_jwt_email_claim").unwrap_or_else(|| "email".into()),
        name_claim: text("portal_jwt_name_claim").unwrap_or_else(|| "name".into()),
        groups_claim: text("portal_jwt_groups_claim").unwrap_or_else(|| "groups".into()),
        mapping: super::mapping::parse(
            src,
            super::mapping::MappingKeys {
                roles: "portal_jwt_role_map",
                queues: "portal_jwt_queue_map",
                default_roles: "portal_jwt_default_roles",
                create_accounts: "portal_jwt_create_accounts",
            },
        )?,
    };
    // The key is checked now: a wrong file stops the server with its name.
    crate::auth::portal::PortalJwt::new(config.clone())
        .map_err(|e| src.error("portal_jwt_public_key_file", e))?;
    Ok(Some(config))
}
