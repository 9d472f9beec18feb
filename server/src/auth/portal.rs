//! Sign-in from the hospital's own portal: the portal signs a JWT for the
//! person and sends their browser to `/auth/jwt?token=…`. The algorithm is
//! the one configured, never the token's own say (`alg: none`, or HS256
//! "signed" with the RSA public key as secret, are refused by construction);
//! `exp`, `iat`, `iss`, `aud`, `sub` and `jti` are required; `exp` must be a
//! number (jsonwebtoken ≥ 10.3 refuses a string); each `jti` opens one
//! session only. The person is the active staff account whose email the
//! token names.

use crate::config::Secret;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// A fetched key set is used this long before it is fetched again.
const JWKS_FRESH_FOR: Duration = Duration::from_secs(600);
/// A token with a key id the set lacks (the portal rotated its keys)
/// fetches the set again, at most this often.
const JWKS_REFETCH_AFTER: Duration = Duration::from_secs(30);

/// What the portal's tokens are checked with.
#[derive(Clone)]
pub struct PortalConfig {
    pub algorithm: Algorithm,
    pub key: PortalKey,
    pub issuer: String,
    pub audience: String,
    /// The claim that carries the person's email.
    pub email_claim: String,
    /// The claims with their name and their groups (or roles).
    pub name_claim: String,
    pub groups_claim: String,
    /// Groups to roles and queues; accounts made at first sign-in when
    /// allowed.
    pub mapping: crate::auth::external::RoleMapping,
}

impl std::fmt::Debug for PortalConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortalConfig")
            .field("algorithm", &self.algorithm)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
pub enum PortalKey {
    /// The PEM of the portal's public key (RS256, ES256).
    PublicPem(Vec<u8>),
    /// The portal's key set (RS256, ES256), chosen by the token's `kid`.
    Jwks(String),
    /// A shared secret (HS256, only when chosen explicitly).
    Shared(Secret),
}

/// Why a portal token opens nothing (said plainly to the person, and
/// written to the audit trail).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortalRefusal {
    #[error("the sign-in link carries no valid token")]
    Malformed,
    #[error("the portal's keys cannot be fetched right now; try again in a moment")]
    KeysUnavailable,
    #[error("the token is not signed as this server expects")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not for this server (issuer or audience)")]
    WrongParty,
    #[error("the token lacks a required claim or has one of the wrong type")]
    Claims,
    #[error("this sign-in link was already used")]
    Replayed,
    #[error("no active staff account has the email this token names")]
    NoAccount,
    #[error("{0}")]
    Account(crate::auth::external::ExternalRefusal),
}

impl PortalRefusal {
    /// The audit trail's word for it.
    pub fn code(&self) -> &'static str {
        match self {
            PortalRefusal::Malformed => "malformed",
            PortalRefusal::KeysUnavailable => "keys_unavailable",
            PortalRefusal::BadSignature => "bad_signature",
            PortalRefusal::Expired => "expired",
            PortalRefusal::WrongParty => "wrong_party",
            PortalRefusal::Claims => "claims",
            PortalRefusal::Replayed => "replayed",
            PortalRefusal::NoAccount => "no_account",
            PortalRefusal::Account(refusal) => refusal.code(),
        }
    }
}

/// The claims Visita reads; `exp` and `iat` are numbers or the token is
/// refused.
#[derive(Debug, Deserialize)]
pub struct PortalClaims {
    pub sub: String,
    pub jti: String,
    pub exp: u64,
    pub iat: u64,
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}

/// Checks portal tokens.
pub struct PortalJwt {
    config: PortalConfig,
    key: Keys,
}

enum Keys {
    Fixed(DecodingKey),
    Fetched {
        url: String,
        http: reqwest::Client,
        /// The set, and when it was fetched.
        cache: Mutex<Option<(JwkSet, Instant)>>,
    },
}

impl PortalJwt {
    pub fn new(config: PortalConfig) -> Result<Self, String> {
        let key = match (&config.key, config.algorithm) {
            (PortalKey::PublicPem(pem), Algorithm::RS256) => Keys::Fixed(
                DecodingKey::from_rsa_pem(pem)
                    .map_err(|e| format!("not an RSA public key: {e}"))?,
            ),
            (PortalKey::PublicPem(pem), Algorithm::ES256) => Keys::Fixed(
                DecodingKey::from_ec_pem(pem).map_err(|e| format!("not an EC public key: {e}"))?,
            ),
            (PortalKey::Shared(secret), Algorithm::HS256) => {
                Keys::Fixed(DecodingKey::from_secret(secret.expose().as_bytes()))
            }
            (PortalKey::Jwks(url), Algorithm::RS256 | Algorithm::ES256) => Keys::Fetched {
                url: url.clone(),
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(5))
                    .build()
                    .map_err(|e| e.to_string())?,
                cache: Mutex::new(None),
            },
            _ => return Err("the key does not fit the algorithm".into()),
        };
        Ok(Self { config, key })
    }

    /// The key a token with key id `kid` is checked with.
    async fn key_for(&self, kid: Option<&str>) -> Result<DecodingKey, PortalRefusal> {
        let (url, http, cache) = match &self.key {
            Keys::Fixed(key) => return Ok(key.clone()),
            Keys::Fetched { url, http, cache } => (url, http, cache),
        };
        let mut cache = cache.lock().await;
        let find = |set: &JwkSet| match kid {
            Some(kid) => set.find(kid).cloned(),
            // No kid: the set's only key, if it has one.
            None => (set.keys.len() == 1).then(|| set.keys[0].clone()),
        };
        let stale = cache.as_ref().is_none_or(|(set, at)| {
            at.elapsed() > JWKS_FRESH_FOR
                || (find(set).is_none() && at.elapsed() > JWKS_REFETCH_AFTER)
        });
        if stale {
            match fetch_jwks(http, url).await {
                Ok(set) => *cache = Some((set, Instant::now())),
                // The set held stays usable while the portal is unreachable.
                Err(error) if cache.is_some() => {
                    tracing::warn!(%error, "portal JWKS not refreshed")
                }
                Err(error) => {
                    tracing::warn!(%error, "portal JWKS unavailable");
                    return Err(PortalRefusal::KeysUnavailable);
                }
            }
        }
        let jwk = cache
            .as_ref()
            .and_then(|(set, _)| find(set))
            .ok_or(PortalRefusal::BadSignature)?;
        DecodingKey::from_jwk(&jwk).map_err(|_| PortalRefusal::BadSignature)
    }

    /// The claims of a token that may open a session, and the email it
    /// names. Replay is checked by the caller (it needs the database).
    pub fn config(&self) -> &PortalConfig {
        &self.config
    }

    pub async fn verify(&self, token: &str) -> Result<(PortalClaims, String), PortalRefusal> {
        use jsonwebtoken::errors::ErrorKind;
        let token = token.trim();
        if token.is_empty() || token.len() > 8 * 1024 {
            return Err(PortalRefusal::Malformed);
        }
        // The header first: a token that names another algorithm (or
        // `none`, which is no algorithm at all) is not ours, whatever its
        // claims say.
        let header = match jsonwebtoken::decode_header(token) {
            Ok(header) if header.alg == self.config.algorithm => header,
            Ok(_) => return Err(PortalRefusal::BadSignature),
            Err(error) => {
                return Err(match error.kind() {
                    ErrorKind::Json(_) => PortalRefusal::BadSignature,
                    _ => PortalRefusal::Malformed,
                });
            }
        };
        let key = self.key_for(header.kid.as_deref()).await?;
        let mut validation = Validation::new(self.config.algorithm);
        validation.set_issuer(&[self.config.issuer.as_str()]);
        validation.set_audience(&[self.config.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = 60;
        let data =
            jsonwebtoken::decode::<PortalClaims>(token, &key, &validation).map_err(|e| match e
                .kind()
            {
                ErrorKind::ExpiredSignature | ErrorKind::ImmatureSignature => {
                    PortalRefusal::Expired
                }
                ErrorKind::InvalidIssuer | ErrorKind::InvalidAudience => PortalRefusal::WrongParty,
                ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => {
                    PortalRefusal::BadSignature
                }
                ErrorKind::MissingRequiredClaim(_) | ErrorKind::Json(_) => PortalRefusal::Claims,
                _ => PortalRefusal::Malformed,
            })?;
        let claims = data.claims;
        if claims.jti.trim().is_empty() || claims.sub.trim().is_empty() {
            return Err(PortalRefusal::Claims);
        }
        let email = claims
            .rest
            .get(&self.config.email_claim)
            .and_then(|v| v.as_str())
            .map(|e| e.trim().to_lowercase())
            .filter(|e| e.contains('@'))
            .ok_or(PortalRefusal::Claims)?;
        Ok((claims, email))
    }
}

async fn fetch_jwks(http: &reqwest::Client, url: &str) -> Result<JwkSet, String> {
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    if !response.status().is_success() {
        return Err(format!(
            "the key set answered {}",
            response.status().as_u16()
        ));
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|e| e.without_url().to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| format!("not a JWK set: {e}"))
}
