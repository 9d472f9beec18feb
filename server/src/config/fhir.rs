//! The FHIR client's keys: the practice system (OpenEMR or any FHIR R4
//! server) Visita polls for telehealth Appointments and writes back to.

use super::{ConfigError, Secret, Sources};
use std::time::Duration;

/// How the client proves who it is.
#[derive(Debug, Clone)]
pub enum FhirAuth {
    /// OAuth2 client credentials (SMART backend services): a token from
    /// `token_url`, or from the server's `.well-known/smart-configuration`.
    ClientCredentials {
        client_id: String,
        client_secret: Secret,
        token_url: Option<String>,
        scope: String,
    },
    Basic {
        username: String,
        password: Secret,
    },
    None,
}

#[derive(Debug, Clone)]
pub struct FhirClientConfig {
    /// The FHIR base, e.g. `https://emr.hospital.example/apis/default/fhir`.
    pub base_url: String,
    pub auth: FhirAuth,
    pub poll_every: Duration,
}

pub const DEFAULT_SCOPE: &str =
    "system/Appointment.read system/Appointment.write system/Patient.read system/Practitioner.read";

pub(super) fn parse(src: &Sources) -> Result<Option<FhirClientConfig>, ConfigError> {
    let text = |key: &'static str| {
        src.get(key)
            .map(|r| r.value.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let Some(base_url) = text("fhir_client_base_url") else {
        return Ok(None);
    };
    if !(base_url.starts_with("https://") || base_url.starts_with("http://"))
        || reqwest::Url::parse(&base_url).is_err()
    {
        return Err(src.error(
            "fhir_client_base_url",
            format!(
                "{base_url:?} is not a URL like https://emr.hospital.example/apis/default/fhir"
            ),
        ));
    }
    let secret = |key: &'static str| src.get(key).map(|r| Secret::new(r.value.trim()));
    let auth = match text("fhir_client_auth").as_deref() {
        None | Some("client_credentials") if text("fhir_client_id").is_some() => {
            FhirAuth::ClientCredentials {
                client_id: text("fhir_client_id").unwrap_or_default(),
                client_secret: secret("fhir_client_secret").ok_or_else(|| {
                    src.error(
                        "fhir_client_secret",
                        "is missing: the client id needs its secret".into(),
                    )
                })?,
                token_url: text("fhir_client_token_url"),
                scope: text("fhir_client_scope").unwrap_or_else(|| DEFAULT_SCOPE.into()),
            }
        }
        Some("client_credentials") => {
            return Err(src.error(
                "fhir_client_id",
                "is missing: client credentials need a client id and secret".into(),
            ));
        }
        Some("basic") => FhirAuth::Basic {
            username: text("fhir_client_username").ok_or_else(|| {
                src.error(
                    "fhir_client_username",
                    "is missing for basic authentication".into(),
                )
            })?,
            password: secret("fhir_client_password").ok_or_else(|| {
                src.error(
                    "fhir_client_password",
                    "is missing for basic authentication".into(),
                )
            })?,
        },
        None | Some("none") => FhirAuth::None,
        Some(other) => {
            return Err(src.error(
                "fhir_client_auth",
                format!("{other:?} is not client_credentials, basic or none"),
            ));
        }
    };
    let poll_every = match text("fhir_client_poll_seconds") {
        None => Duration::from_secs(60),
        Some(raw) => raw
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=86_400).contains(n))
            .map(Duration::from_secs)
            .ok_or_else(|| {
                src.error(
                    "fhir_client_poll_seconds",
                    format!("{raw:?} is not a number of seconds from 1 to 86400"),
                )
            })?,
    };
    Ok(Some(FhirClientConfig {
        base_url: base_url.trim_end_matches('/').to_string(),
        auth,
        poll_every,
    }))
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn config(vars: &[(&str, &str)]) -> Result<Config, String> {
        Config::from_sources(None, &|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
        .map_err(|e| e.to_string())
    }

    #[test]
    fn the_client_is_off_unless_a_base_url_is_set() {
        assert!(config(&[]).unwrap().fhir_client.is_none());
    }

    #[test]
    fn client_credentials_need_their_secret_and_name_what_is_wrong() {
        let base = (
            "VISITA_FHIR_CLIENT_BASE_URL",
            "https://emr.example/apis/default/fhir/",
        );
        let error = config(&[base, ("VISITA_FHIR_CLIENT_ID", "visita")]).unwrap_err();
        assert!(error.contains("VISITA_FHIR_CLIENT_SECRET"), "{error}");
        let ok = config(&[
            base,
            ("VISITA_FHIR_CLIENT_ID", "visita"),
            ("VISITA_FHIR_CLIENT_SECRET", "s3cret"),
        ])
        .unwrap()
        .fhir_client
        .unwrap();
        assert_eq!(ok.base_url, "https://emr.example/apis/default/fhir");
        assert!(
            !format!("{ok:?}").contains("s3cret"),
            "the secret stays out of logs"
        );
        let error = config(&[("VISITA_FHIR_CLIENT_BASE_URL", "emr.example")]).unwrap_err();
        assert!(error.contains("VISITA_FHIR_CLIENT_BASE_URL"), "{error}");
        let error = config(&[base, ("VISITA_FHIR_CLIENT_AUTH", "basic")]).unwrap_err();
        assert!(error.contains("VISITA_FHIR_CLIENT_USERNAME"), "{error}");
        let error = config(&[base, ("VISITA_FHIR_CLIENT_POLL_SECONDS", "0")]).unwrap_err();
        assert!(error.contains("VISITA_FHIR_CLIENT_POLL_SECONDS"), "{error}");
    }
}
