//! Sign-in through an OpenID Connect provider (Entra ID, Keycloak, Okta,
//! Google Workspace…): the authorization-code flow with PKCE, a `state`
//! that ties the answer to the browser that asked and a `nonce` that ties
//! the ID token to this sign-in; the ID token's signature (asymmetric
//! algorithms only), issuer, audience and expiry checked by `openidconnect`.
//! Claims the ID token lacks are read from the user-info endpoint, whose
//! `sub` must be the token's. Several providers may be configured; each is
//! a button on the sign-in page.

use super::external::{ExternalIdentity, RoleMapping, normalise_email};
use crate::config::Secret;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadataWithLogout,
    RedirectUrl, Scope, SignatureVerificationError, TokenResponse,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Discovery (and the key set it includes) is used this long before it is
/// read again.
const METADATA_FRESH_FOR: Duration = Duration::from_secs(3600);
/// A token signed with a key the cached set lacks (the provider rotated its
/// keys) reads discovery again, at most this often.
const REFETCH_AFTER: Duration = Duration::from_secs(30);
/// What one exchange with the provider may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// The ID token algorithms accepted: asymmetric ones only, so the client
/// secret can never stand in for the provider's key.
const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 7] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// One provider as configured.
#[derive(Clone)]
pub struct OidcConfig {
    /// In URLs and the audit trail: `[a-z0-9-]`, at most 32.
    pub id: String,
    /// The button's words.
    pub label: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    /// Asked for besides `openid`.
    pub scopes: Vec<String>,
    pub email_claim: String,
    pub name_claim: String,
    pub groups_claim: String,
    pub mapping: RoleMapping,
}

impl std::fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcConfig")
            .field("id", &self.id)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Whether an id is usable in URLs and keys.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 32
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// What a sign-in under way keeps (server side) until the provider answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingOidc {
    state: String,
    nonce: String,
    verifier: String,
    /// Set when an administrator is trying the provider ("try login"):
    /// their email; the answer is shown, no session is opened.
    #[serde(default)]
    pub try_by: Option<String>,
}

/// Why a sign-in through a provider failed (said to the person, audited).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcRefusal {
    #[error("the sign-in service cannot be reached right now; try again in a moment")]
    Unavailable,
    #[error("the sign-in took too long or was already finished; start again")]
    NoPendingSignIn,
    #[error("the answer does not belong to the sign-in this browser started (state); start again")]
    WrongState,
    #[error("the sign-in was cancelled or refused at the sign-in service ({0})")]
    ProviderError(String),
    #[error("the sign-in service did not accept Visita's request for your identity")]
    CodeRefused,
    #[error("the identity the sign-in service sent is not signed by it")]
    BadSignature,
    #[error("the identity the sign-in service sent was not made for this sign-in (nonce)")]
    WrongNonce,
    #[error("the identity the sign-in service sent has expired")]
    Expired,
    #[error("the identity the sign-in service sent is not for Visita (issuer or audience)")]
    WrongParty,
    #[error("the identity the sign-in service sent cannot be read")]
    Malformed,
}

impl OidcRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            OidcRefusal::Unavailable => "unavailable",
            OidcRefusal::NoPendingSignIn => "no_pending_sign_in",
            OidcRefusal::WrongState => "wrong_state",
            OidcRefusal::ProviderError(_) => "provider_error",
            OidcRefusal::CodeRefused => "code_refused",
            OidcRefusal::BadSignature => "bad_signature",
            OidcRefusal::WrongNonce => "wrong_nonce",
            OidcRefusal::Expired => "expired",
            OidcRefusal::WrongParty => "wrong_party",
            OidcRefusal::Malformed => "malformed",
        }
    }
}

/// What the provider said about the person, before the accounts decide.
#[derive(Debug, Clone)]
pub struct OidcPerson {
    pub identity: ExternalIdentity,
    /// `email_verified` as the provider gave it (absent: not said).
    pub email_verified: Option<bool>,
    /// Every claim received (ID token, then user info), for "try login".
    pub claims: Map<String, Value>,
}

struct Cached {
    metadata: Arc<ProviderMetadataWithLogout>,
    fetched: Instant,
}

/// One configured provider, with its discovery document cached.
pub struct OidcProvider {
    pub config: OidcConfig,
    redirect: RedirectUrl,
    after_logout: String,
    http: reqwest::Client,
    cached: Mutex<Option<Cached>>,
}

impl OidcProvider {
    /// `public_url` is Visita's own (the redirect and post-logout URLs are
    /// made from it).
    pub fn new(config: OidcConfig, public_url: &str) -> Result<Self, String> {
        IssuerUrl::new(config.issuer.clone()).map_err(|e| format!("issuer: {e}"))?;
        let redirect = RedirectUrl::new(format!("{public_url}/auth/oidc/{}/callback", config.id))
            .map_err(|e| format!("redirect URL: {e}"))?;
        let http = reqwest::Client::builder()
            // The spec forbids following redirects here (a stolen code could
            // be replayed elsewhere); the provider's answers are direct.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(HTTP_TIMEOUT)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            config,
            redirect,
            after_logout: format!("{public_url}/login"),
            http,
            cached: Mutex::new(None),
        })
    }

    /// What to register at the provider as the redirect URI.
    pub fn redirect_uri(&self) -> String {
        self.redirect.as_str().to_string()
    }

    pub fn method(&self) -> String {
        format!("oidc:{}", self.config.id)
    }

    /// The provider's discovery document and keys: cached, read again when
    /// stale or when `refresh` (a key was missing) and not read too lately.
    async fn metadata(
        &self,
        refresh: bool,
    ) -> Result<Arc<ProviderMetadataWithLogout>, OidcRefusal> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref() {
            let age = c.fetched.elapsed();
            let fresh = if refresh {
                age < REFETCH_AFTER
            } else {
                age < METADATA_FRESH_FOR
            };
            if fresh {
                return Ok(c.metadata.clone());
            }
        }
        let issuer =
            IssuerUrl::new(self.config.issuer.clone()).map_err(|_| OidcRefusal::Unavailable)?;
        match ProviderMetadataWithLogout::discover_async(issuer, &self.http).await {
            Ok(metadata) => {
                let metadata = Arc::new(metadata);
                *cached = Some(Cached {
                    metadata: metadata.clone(),
                    fetched: Instant::now(),
                });
                Ok(metadata)
            }
            Err(error) => {
                tracing::warn!(provider = %self.config.id, error = %error_chain(&error), "OpenID Connect discovery failed");
                // A stale document beats none when the provider blips.
                cached
                    .as_ref()
                    .map(|c| c.metadata.clone())
                    .ok_or(OidcRefusal::Unavailable)
            }
        }
    }

    fn client(&self, metadata: &ProviderMetadataWithLogout) -> Client {
        CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(self.config.client_id.clone()),
            self.config
                .client_secret
                .as_ref()
                .map(|s| ClientSecret::new(s.expose().to_string())),
        )
        .set_redirect_uri(self.redirect.clone())
    }

    /// Where to send the browser, and what to keep until it comes back.
    pub async fn start(&self) -> Result<(String, PendingOidc), OidcRefusal> {
        let metadata = self.metadata(false).await?;
        let client = self.client(&metadata);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in &self.config.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.url();
        Ok((
            url.to_string(),
            PendingOidc {
                state: state.secret().clone(),
                nonce: nonce.secret().clone(),
                verifier: verifier.secret().clone(),
                try_by: None,
            },
        ))
    }

    /// Checks the provider's answer against the sign-in it belongs to and
    /// says who the person is.
    pub async fn finish(
        &self,
        pending: PendingOidc,
        code: &str,
        state: &str,
    ) -> Result<OidcPerson, OidcRefusal> {
        if !crate::auth::token::constant_time_eq(state.as_bytes(), pending.state.as_bytes()) {
            return Err(OidcRefusal::WrongState);
        }
        if code.is_empty() || code.len() > 4096 {
            return Err(OidcRefusal::Malformed);
        }
        let metadata = self.metadata(false).await?;
        let client = self.client(&metadata);
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|_| OidcRefusal::Unavailable)?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier))
            .request_async(&self.http)
            .await
            .map_err(|error| {
                tracing::warn!(provider = %self.config.id, %error, "OpenID Connect code exchange refused");
                OidcRefusal::CodeRefused
            })?;
        let id_token = token.id_token().ok_or(OidcRefusal::Malformed)?.clone();
        let nonce = Nonce::new(pending.nonce);
        let subject = match verify(&client, &id_token, &nonce) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                // The provider may have rotated its keys since discovery.
                let metadata = self.metadata(true).await?;
                verify(&self.client(&metadata), &id_token, &nonce)
            }
            other => other,
        }
        .map_err(|error| {
            tracing::warn!(provider = %self.config.id, %error, "ID token refused");
            refusal(&error)
        })?;

        let mut claims = jwt_payload(&id_token.to_string()).ok_or(OidcRefusal::Malformed)?;
        if let Some(endpoint) = metadata.userinfo_endpoint() {
            match self
                .user_info(endpoint.url().as_str(), token.access_token().secret())
                .await
            {
                Ok(info) if info.get("sub").and_then(Value::as_str) == Some(subject.as_str()) => {
                    for (key, value) in info {
                        claims.entry(key).or_insert(value);
                    }
                }
                Ok(_) => {
                    tracing::warn!(provider = %self.config.id, "user info is for another subject: ignored");
                }
                Err(error) => {
                    tracing::warn!(provider = %self.config.id, %error, "user info could not be read");
                }
            }
        }
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_string);
        let groups = match claims.get(&self.config.groups_claim) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            Some(Value::String(one)) => vec![one.clone()],
            _ => Vec::new(),
        };
        let identity = ExternalIdentity {
            method: self.method(),
            subject,
            email: text(&self.config.email_claim)
                .and_then(|e| normalise_email(&e))
                .unwrap_or_default(),
            name: text(&self.config.name_claim).filter(|n| !n.trim().is_empty()),
            groups,
        };
        Ok(OidcPerson {
            identity,
            email_verified: claims.get("email_verified").and_then(|v| match v {
                Value::Bool(b) => Some(*b),
                Value::String(s) => Some(s == "true"),
                _ => None,
            }),
            claims,
        })
    }

    async fn user_info(&self, url: &str, access_token: &str) -> Result<Map<String, Value>, String> {
        let response = self
            .http
            .get(url)
            .bearer_auth(access_token)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("status {}", response.status()));
        }
        let body = response.bytes().await.map_err(|e| e.to_string())?;
        if body.len() > 256 * 1024 {
            return Err("too large".into());
        }
        // A signed user-info answer (application/jwt) is not read: the
        // ID token's claims stand alone then.
        serde_json::from_slice(&body).map_err(|e| e.to_string())
    }

    /// Where to send the browser to sign out at the provider too, when it
    /// offers RP-initiated logout.
    pub async fn end_session_url(&self) -> Option<String> {
        let metadata = self.metadata(false).await.ok()?;
        let endpoint = metadata
            .additional_metadata()
            .end_session_endpoint
            .clone()?;
        let after = PostLogoutRedirectUrl::new(self.after_logout.clone()).ok()?;
        Some(
            openidconnect::LogoutRequest::from(endpoint)
                .set_client_id(ClientId::new(self.config.client_id.clone()))
                .set_post_logout_redirect_uri(after)
                .http_get_url()
                .to_string(),
        )
    }
}

/// The client `from_provider_metadata` makes: authorization endpoint set,
/// token and user-info endpoints as discovery said.
type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The ID token's subject once its signature (asymmetric algorithms only),
/// issuer, audience, expiry and nonce are checked.
fn verify(
    client: &Client,
    id_token: &CoreIdToken,
    nonce: &Nonce,
) -> Result<String, ClaimsVerificationError> {
    let verifier = client.id_token_verifier().set_allowed_algs(ALLOWED_ALGS);
    id_token
        .claims(&verifier, nonce)
        .map(|claims| claims.subject().to_string())
}

fn refusal(error: &ClaimsVerificationError) -> OidcRefusal {
    match error {
        ClaimsVerificationError::SignatureVerification(_) => OidcRefusal::BadSignature,
        ClaimsVerificationError::InvalidNonce(_) => OidcRefusal::WrongNonce,
        ClaimsVerificationError::Expired(_) => OidcRefusal::Expired,
        ClaimsVerificationError::InvalidAudience(_) | ClaimsVerificationError::InvalidIssuer(_) => {
            OidcRefusal::WrongParty
        }
        _ => OidcRefusal::Malformed,
    }
}

/// The payload of a JWT whose signature was already checked.
fn jwt_payload(token: &str) -> Option<Map<String, Value>> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_plain() {
        assert!(valid_id("hospital-1"));
        assert!(!valid_id(""));
        assert!(!valid_id("Hospital"));
        assert!(!valid_id("a/b"));
        assert!(!valid_id(&"a".repeat(33)));
    }

    #[test]
    fn payload_and_comparison() {
        let token = format!(
            "e30.{}.sig",
            URL_SAFE_NO_PAD.encode(br#"{"sub":"x","groups":["a"]}"#)
        );
        assert_eq!(jwt_payload(&token).unwrap()["sub"], "x");
        assert!(jwt_payload("nope").is_none());
        assert!(crate::auth::token::constant_time_eq(b"abc", b"abc"));
        assert!(!crate::auth::token::constant_time_eq(b"abc", b"abd"));
        assert!(!crate::auth::token::constant_time_eq(b"abc", b"ab"));
    }
}
