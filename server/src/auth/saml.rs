//! Visita as a SAML 2.0 service provider (on `samael`, signatures checked by
//! xmlsec). The identity provider's metadata (file or URL) must carry a
//! signing key — `samael` would otherwise skip the signature check without a
//! word, so such metadata is refused when it is loaded. A response is
//! accepted only when its assertion is signed by that key with an allowed
//! algorithm (no SHA-1), was asked for by a request this server made (its
//! id served once) unless IdP-initiated sign-in is switched on, is for this
//! server (audience required, recipient, destination), within its time
//! (60 s of skew), and its assertion id not seen before.

use super::external::{ExternalIdentity, RoleMapping, normalise_email};
use samael::crypto::{AllowedSignatureAlgorithm, CertificateDer};
use samael::metadata::{EntityDescriptor, HTTP_REDIRECT_BINDING};
use samael::schema::Assertion;
use samael::service_provider::{Error as SpError, ServiceProvider, ServiceProviderBuilder};
use samael::traits::ToXml;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::RwLock;

/// The largest `SAMLResponse` read (base64): real ones are a few KiB.
pub const MAX_RESPONSE_CHARS: usize = 256 * 1024;
const CLOCK_SKEW_SECONDS: i64 = 60;
/// A response older than this (from its IssueInstant) is stale.
const MAX_ISSUE_DELAY_SECONDS: i64 = 180;

/// Where the identity provider's metadata comes from.
#[derive(Debug, Clone)]
pub enum IdpMetadataSource {
    File(std::path::PathBuf),
    Url(String),
}

#[derive(Clone)]
pub struct SamlConfig {
    pub label: String,
    pub metadata: IdpMetadataSource,
    /// Visita's certificate and key (PEM), advertised in its metadata and
    /// used to decrypt encrypted assertions; optional.
    pub sp_certificate_pem: Option<Vec<u8>>,
    pub sp_key_pem: Option<Vec<u8>>,
    pub allow_idp_initiated: bool,
    /// Attribute names tried in order for each.
    pub email_attributes: Vec<String>,
    pub name_attributes: Vec<String>,
    pub groups_attributes: Vec<String>,
    pub mapping: RoleMapping,
}

impl std::fmt::Debug for SamlConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SamlConfig")
            .field("metadata", &self.metadata)
            .field("allow_idp_initiated", &self.allow_idp_initiated)
            .finish_non_exhaustive()
    }
}

/// Why a SAML sign-in failed (said to the person, audited).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SamlRefusal {
    #[error("the sign-in service is not usable right now: {0}")]
    Unavailable(String),
    #[error("the answer is too large")]
    TooLarge,
    #[error("the answer cannot be read")]
    Malformed,
    #[error("the answer is not signed")]
    Unsigned,
    #[error("the answer is not signed by the sign-in service Visita knows")]
    BadSignature,
    #[error("the answer is signed with an algorithm Visita does not accept (SHA-1)")]
    WeakAlgorithm,
    #[error(
        "the answer does not belong to a sign-in started here, or it was already used; start again"
    )]
    UnknownRequest,
    #[error("the answer has expired; start again")]
    Expired,
    #[error("the answer is not for Visita (audience, recipient or issuer)")]
    WrongParty,
    #[error("this answer was already used")]
    Replayed,
    #[error("the sign-in service refused the sign-in")]
    ProviderError,
}

impl SamlRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            SamlRefusal::Unavailable(_) => "unavailable",
            SamlRefusal::TooLarge => "too_large",
            SamlRefusal::Malformed => "malformed",
            SamlRefusal::Unsigned => "unsigned",
            SamlRefusal::BadSignature => "bad_signature",
            SamlRefusal::WeakAlgorithm => "weak_algorithm",
            SamlRefusal::UnknownRequest => "unknown_request",
            SamlRefusal::Expired => "expired",
            SamlRefusal::WrongParty => "wrong_party",
            SamlRefusal::Replayed => "replayed",
            SamlRefusal::ProviderError => "provider_error",
        }
    }
}

/// What a verified assertion says, with what is needed to remember it.
#[derive(Debug, Clone)]
pub struct SamlPerson {
    pub identity: ExternalIdentity,
    /// The assertion's id: served once.
    pub assertion_id: String,
    /// Until when it must be remembered.
    pub valid_until: chrono::DateTime<chrono::Utc>,
    /// Every attribute received, for "try login".
    pub attributes: Vec<(String, Vec<String>)>,
}

pub struct SamlSp {
    pub config: SamlConfig,
    entity_id: String,
    acs_url: String,
    /// Built once the identity provider's metadata is read.
    sp: RwLock<Option<Arc<ServiceProvider>>>,
}

impl SamlSp {
    pub fn new(config: SamlConfig, public_url: &str) -> Self {
        Self {
            config,
            entity_id: format!("{public_url}/auth/saml/metadata"),
            acs_url: format!("{public_url}/auth/saml/acs"),
            sp: RwLock::new(None),
        }
    }

    /// Reads the identity provider's metadata (again) and checks it: the
    /// error says what is wrong with it.
    pub async fn load(&self) -> Result<(), String> {
        let xml = match &self.config.metadata {
            IdpMetadataSource::File(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("{} cannot be read: {e}", path.display()))?,
            IdpMetadataSource::Url(url) => fetch_metadata(url).await?,
        };
        let sp = build_sp(&xml, &self.entity_id, &self.acs_url, &self.config)?;
        *self.sp.write().await = Some(Arc::new(sp));
        Ok(())
    }

    async fn sp(&self) -> Result<Arc<ServiceProvider>, SamlRefusal> {
        if let Some(sp) = self.sp.read().await.clone() {
            return Ok(sp);
        }
        self.load().await.map_err(|e| {
            tracing::error!(error = %e, "the SAML identity provider's metadata is unusable");
            SamlRefusal::Unavailable(e)
        })?;
        self.sp
            .read()
            .await
            .clone()
            .ok_or_else(|| SamlRefusal::Unavailable("no metadata".into()))
    }

    /// Visita's own metadata, for the identity provider's administrators.
    pub async fn metadata_xml(&self) -> Result<String, SamlRefusal> {
        let sp = self.sp().await?;
        let descriptor = sp
            .metadata()
            .map_err(|e| SamlRefusal::Unavailable(e.to_string()))?;
        descriptor
            .to_string()
            .map_err(|e| SamlRefusal::Unavailable(e.to_string()))
    }

    /// Where to send the browser, and the request's id (remembered until
    /// the answer).
    pub async fn start(&self) -> Result<(String, String), SamlRefusal> {
        let sp = self.sp().await?;
        let sso = sp
            .sso_binding_location(HTTP_REDIRECT_BINDING)
            .ok_or_else(|| {
                SamlRefusal::Unavailable(
                    "the identity provider has no HTTP-Redirect sign-in endpoint".into(),
                )
            })?;
        let mut request = sp
            .make_authentication_request(&sso)
            .map_err(|e| SamlRefusal::Unavailable(e.to_string()))?;
        // samael's ids carry 32 random bits; ours 128 (an id starts with a
        // letter or '_').
        request.id = format!("_{}", crate::auth::token::generate());
        let url = request
            .redirect("")
            .map_err(|e| SamlRefusal::Unavailable(e.to_string()))?
            .ok_or_else(|| SamlRefusal::Unavailable("no request URL".into()))?;
        Ok((url.to_string(), request.id))
    }

    /// The `InResponseTo` the answer claims (unverified: only to find the
    /// request it names), or `None` for an unsolicited answer.
    pub fn claimed_request(xml: &str) -> Option<String> {
        // The root is the first tag that is not the declaration, a comment
        // or a processing instruction.
        let mut rest = xml;
        loop {
            let start = rest.find('<')?;
            rest = &rest[start..];
            if rest.starts_with("<?") || rest.starts_with("<!") {
                rest = &rest[rest.find('>')? + 1..];
                continue;
            }
            let end = rest.find('>')?;
            return attribute(&rest[..end], "InResponseTo");
        }
    }

    /// Checks an answer (its XML, decoded) against the request it answers
    /// (`None`: unsolicited, only when allowed) and says who it is.
    pub async fn finish(
        &self,
        xml: &str,
        request_id: Option<&str>,
    ) -> Result<SamlPerson, SamlRefusal> {
        if request_id.is_none() && !self.config.allow_idp_initiated {
            return Err(SamlRefusal::UnknownRequest);
        }
        if !has_signature(xml) {
            return Err(SamlRefusal::Unsigned);
        }
        if uses_sha1(xml) {
            return Err(SamlRefusal::WeakAlgorithm);
        }
        let sp = self.sp().await?;
        let ids: Vec<&str> = request_id.into_iter().collect();
        let assertion = sp
            .parse_xml_response(xml, request_id.map(|_| ids.as_slice()))
            .map_err(|error| {
                tracing::warn!(%error, "SAML response refused");
                refusal(&error)
            })?;
        self.person(&assertion)
    }

    fn person(&self, assertion: &Assertion) -> Result<SamlPerson, SamlRefusal> {
        // samael checks the audience only when one is given: require it.
        let audiences = assertion
            .conditions
            .as_ref()
            .and_then(|c| c.audience_restrictions.as_ref())
            .ok_or(SamlRefusal::WrongParty)?;
        if !audiences
            .iter()
            .any(|r| r.audience.contains(&self.entity_id))
        {
            return Err(SamlRefusal::WrongParty);
        }
        let name_id = assertion
            .subject
            .as_ref()
            .and_then(|s| s.name_id.as_ref())
            .map(|n| n.value.trim().to_string())
            .filter(|v| !v.is_empty())
            .ok_or(SamlRefusal::Malformed)?;
        // (name, friendly name, values): either name may be the one asked for.
        let received: Vec<(String, String, Vec<String>)> = assertion
            .attribute_statements
            .iter()
            .flatten()
            .flat_map(|s| s.attributes.iter())
            .map(|a| {
                (
                    a.name.clone().unwrap_or_default(),
                    a.friendly_name.clone().unwrap_or_default(),
                    a.values.iter().filter_map(|v| v.value.clone()).collect(),
                )
            })
            .collect();
        let named = |names: &[String]| -> Vec<String> {
            names
                .iter()
                .flat_map(|wanted| {
                    received
                        .iter()
                        .filter(move |(name, friendly, _)| {
                            name.eq_ignore_ascii_case(wanted)
                                || friendly.eq_ignore_ascii_case(wanted)
                        })
                        .flat_map(|(_, _, values)| values.iter().cloned())
                })
                .collect()
        };
        let attributes = received
            .iter()
            .map(|(name, _, values)| (name.clone(), values.clone()))
            .collect();
        let email = named(&self.config.email_attributes)
            .into_iter()
            .chain(std::iter::once(name_id.clone()))
            .find_map(|e| normalise_email(&e))
            .unwrap_or_default();
        let valid_until = assertion
            .conditions
            .as_ref()
            .and_then(|c| c.not_on_or_after)
            .unwrap_or_else(|| {
                assertion.issue_instant + chrono::Duration::seconds(MAX_ISSUE_DELAY_SECONDS)
            })
            + chrono::Duration::seconds(CLOCK_SKEW_SECONDS * 2);
        Ok(SamlPerson {
            identity: ExternalIdentity {
                method: "saml".into(),
                subject: name_id,
                email,
                name: named(&self.config.name_attributes).into_iter().next(),
                groups: named(&self.config.groups_attributes),
            },
            assertion_id: assertion.id.clone(),
            valid_until,
            attributes,
        })
    }
}

/// The service provider for this identity provider, or why its metadata
/// cannot be used.
fn build_sp(
    xml: &str,
    entity_id: &str,
    acs_url: &str,
    config: &SamlConfig,
) -> Result<ServiceProvider, String> {
    let idp: EntityDescriptor = xml
        .parse()
        .map_err(|e| format!("the identity provider's metadata is not SAML metadata ({e})"))?;
    // The parser is lenient: an EntityDescriptor has an entityID.
    if idp.entity_id.as_deref().is_none_or(str::is_empty) {
        return Err("the identity provider's metadata is not SAML metadata (no entityID)".into());
    }
    let mut builder = ServiceProviderBuilder::default();
    builder
        .entity_id(entity_id.to_string())
        .acs_url(acs_url.to_string())
        .idp_metadata(idp)
        .allow_idp_initiated(config.allow_idp_initiated)
        .max_clock_skew(chrono::Duration::seconds(CLOCK_SKEW_SECONDS))
        .max_issue_delay(chrono::Duration::seconds(MAX_ISSUE_DELAY_SECONDS))
        .allowed_signature_algorithms(vec![
            AllowedSignatureAlgorithm::RsaSha256,
            AllowedSignatureAlgorithm::RsaSha384,
            AllowedSignatureAlgorithm::RsaSha512,
            AllowedSignatureAlgorithm::EcdsaSha256,
            AllowedSignatureAlgorithm::EcdsaSha384,
            AllowedSignatureAlgorithm::EcdsaSha512,
        ]);
    if let (Some(cert), Some(key)) = (&config.sp_certificate_pem, &config.sp_key_pem) {
        let cert = openssl::x509::X509::from_pem(cert)
            .and_then(|c| c.to_der())
            .map_err(|e| format!("Visita's SAML certificate cannot be read: {e}"))?;
        let key = openssl::pkey::PKey::private_key_from_pem(key)
            .map_err(|e| format!("Visita's SAML key cannot be read: {e}"))?;
        builder.certificate(CertificateDer::from(cert)).key(key);
    }
    let sp = builder.build().map_err(|e| e.to_string())?;
    // Without a signing key samael would accept anything: refuse now.
    match sp.idp_signing_certs() {
        Ok(Some(certs)) if !certs.is_empty() => {}
        Ok(_) => {
            return Err(
                "the identity provider's metadata has no signing key (KeyDescriptor with an X509Certificate): Visita would not be able to check its answers".into(),
            );
        }
        Err(e) => {
            return Err(format!(
                "the identity provider's signing key cannot be read: {e}"
            ));
        }
    }
    if sp.sso_binding_location(HTTP_REDIRECT_BINDING).is_none() {
        return Err(
            "the identity provider's metadata has no HTTP-Redirect SingleSignOnService".into(),
        );
    }
    Ok(sp)
}

async fn fetch_metadata(url: &str) -> Result<String, String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()
        .map_err(|e| e.to_string())?;
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("{url} cannot be fetched: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("{url} answered {}", response.status()));
    }
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    if body.len() > 2 * 1024 * 1024 {
        return Err(format!("{url} is larger than 2 MiB"));
    }
    String::from_utf8(body.to_vec()).map_err(|_| format!("{url} is not UTF-8 text"))
}

fn refusal(error: &SpError) -> SamlRefusal {
    match error {
        SpError::FailedToValidateSignature | SpError::CryptoXmlError(_) => {
            SamlRefusal::BadSignature
        }
        SpError::AssertionExpired { .. }
        | SpError::ResponseExpired { .. }
        | SpError::AssertionConditionExpired { .. }
        | SpError::AssertionConditionExpiredBefore { .. }
        | SpError::AssertionSubjectConfirmationExpired { .. }
        | SpError::AssertionSubjectConfirmationExpiredBefore { .. } => SamlRefusal::Expired,
        SpError::AssertionInResponseToInvalid { .. }
        | SpError::ResponseInResponseToInvalid { .. } => SamlRefusal::UnknownRequest,
        SpError::DestinationValidationError { .. }
        | SpError::AssertionIssuerMismatch { .. }
        | SpError::ResponseIssuerMismatch { .. }
        | SpError::AssertionConditionAudienceRestrictionFailed { .. }
        | SpError::AssertionRecipientMismatch { .. } => SamlRefusal::WrongParty,
        SpError::ResponseBadStatusCode { .. } => SamlRefusal::ProviderError,
        _ => SamlRefusal::Malformed,
    }
}

/// Whether the document carries an XML signature at all (samael's answer
/// to "unsigned" and "badly signed" is the same; people deserve to know).
fn has_signature(xml: &str) -> bool {
    xml.contains("SignatureValue")
}

/// SHA-1 signatures or digests (refused whatever the key).
fn uses_sha1(xml: &str) -> bool {
    [
        "xmldsig#rsa-sha1",
        "xmldsig#dsa-sha1",
        "xmldsig#sha1",
        "xmldsig#hmac-sha1",
    ]
    .iter()
    .any(|alg| xml.contains(alg))
}

/// The value of `name="…"` in an element's opening tag.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let mut rest = tag;
    while let Some(at) = rest.find(name) {
        let before = rest[..at].chars().last();
        let after = &rest[at + name.len()..];
        if before.is_some_and(char::is_whitespace)
            && let Some(value) = after.trim_start().strip_prefix('=')
        {
            let value = value.trim_start();
            let quote = value.chars().next()?;
            if quote == '"' || quote == '\'' {
                let value = &value[1..];
                return value.find(quote).map(|end| value[..end].to_string());
            }
        }
        rest = after;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_claimed_request_is_read_from_the_root_only() {
        let xml = r#"<?xml version="1.0"?><samlp:Response xmlns:samlp="x" ID="_r" InResponseTo="_abc" Version="2.0"><a InResponseTo="_other"/></samlp:Response>"#;
        assert_eq!(SamlSp::claimed_request(xml).as_deref(), Some("_abc"));
        assert_eq!(
            SamlSp::claimed_request("<samlp:Response ID='x'>").as_deref(),
            None
        );
        assert_eq!(SamlSp::claimed_request("<r XInResponseTo='x'>"), None);
        assert_eq!(SamlSp::claimed_request("nothing"), None);
        let declared = "<?xml version='1.0'?>\n<!-- c --><ns0:Response InResponseTo=\"_x\">";
        assert_eq!(SamlSp::claimed_request(declared).as_deref(), Some("_x"));
    }

    #[test]
    fn sha1_and_missing_signatures_are_seen() {
        assert!(uses_sha1(
            r#"<ds:SignatureMethod Algorithm="http://www.w3.org/2000/09/xmldsig#rsa-sha1"/>"#
        ));
        assert!(!uses_sha1(
            r#"<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>"#
        ));
        assert!(!has_signature("<Response/>"));
    }

    fn config() -> SamlConfig {
        SamlConfig {
            label: "x".into(),
            metadata: IdpMetadataSource::File("/nonexistent".into()),
            sp_certificate_pem: None,
            sp_key_pem: None,
            allow_idp_initiated: false,
            email_attributes: vec![],
            name_attributes: vec![],
            groups_attributes: vec![],
            mapping: RoleMapping::default(),
        }
    }

    #[test]
    fn metadata_without_a_signing_key_is_refused() {
        let without_key = r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example/">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"#;
        let error = build_sp(
            without_key,
            "https://v/auth/saml/metadata",
            "https://v/auth/saml/acs",
            &config(),
        )
        .err()
        .unwrap();
        assert!(error.contains("no signing key"), "{error}");
        assert!(
            build_sp("<html/>", "a", "b", &config())
                .err()
                .unwrap()
                .contains("not SAML metadata")
        );
    }
}
