//! Configuration: defaults, then `visita.toml` (optional), then `VISITA_*`
//! environment variables. Every value is checked before anything starts; a bad
//! one becomes a [`ConfigError`] that names the key and says what is wrong in
//! one line, which `main` prints before exiting with status 2.

pub mod fhir;
mod ldap;
mod mapping;
mod notify;
mod oidc;
mod portal;
mod saml;

use crate::notify::ChannelConfig;
use crate::notify::console::ChannelValues;
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A value that must never reach a log line: `Debug` and `Display` print a
/// placeholder.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The whole, validated configuration of one Visita node.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the HTTP server listens.
    pub addr: SocketAddr,
    /// Everything Visita writes to disk lives under here (the embedded database first).
    pub data_dir: PathBuf,
    /// Base of every link we hand out; also the origin CSRF checks expect.
    pub public_url: String,
    /// `surrealkv://…` (embedded, default), `mem://` (tests) or `ws://host:port`.
    pub database: String,
    pub db_namespace: String,
    pub db_name: String,
    /// Root credentials for a remote SurrealDB server; unused when embedded.
    pub db_user: Option<String>,
    pub db_password: Option<Secret>,
    /// The first administrator, created at start-up when no admin exists.
    pub admin_email: String,
    /// When absent, a password is generated and printed once.
    pub admin_password: Option<Secret>,
    /// A staff session ends after this long without a request.
    pub session_idle_timeout: Duration,
    /// Where the compiled site (WASM, JS, CSS, public files) is served from.
    pub site_dir: PathBuf,
    pub log_format: LogFormat,
    /// Reverse proxies whose `X-Forwarded-For` tells the client's address.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The name patients see on their invite ("Hôpital de la Tour").
    pub clinic_name: String,
    /// The clinic's time zone: the clinicians' "today", and the default
    /// zone of patients and of typed appointment times.
    pub timezone: String,
    /// How long a link for a consultation "now" works.
    pub invite_valid_now: Duration,
    /// How long after its scheduled time a link still works.
    pub invite_valid_after: Duration,
    /// Largest chat attachment accepted, in bytes.
    pub attachment_max_bytes: u64,
    /// The SFU and TURN.
    pub media: MediaConfig,
    /// Email, text messages, reminders.
    pub notify: crate::notify::NotifyConfig,
    /// Seals the secrets saved in the admin console; without it they are
    /// sealed under the installation secret, which lives in the database.
    pub secrets_key: Option<Secret>,
    /// Web origins (`https://agenda.hospital.example`) whose pages may call
    /// the REST API from a browser.
    pub api_cors_origins: Vec<String>,
    /// Where webhooks may go and how soon they are tried again.
    pub webhooks: WebhookConfig,
    /// The practice system the FHIR client polls, when one is set.
    pub fhir_client: Option<fhir::FhirClientConfig>,
    /// Sign-in by a JWT from the hospital's portal, when set up.
    pub portal_jwt: Option<crate::auth::portal::PortalConfig>,
    /// OpenID Connect providers, each a button on the sign-in page.
    pub oidc: Vec<crate::auth::oidc::OidcConfig>,
    /// Sign-in against the hospital's directory, when set up.
    pub ldap: Option<crate::auth::ldap::LdapConfig>,
    /// Whether administrators who sign in by password must use a second
    /// step (an authenticator app): `VISITA_TOTP_ADMINS`, on by default.
    pub totp_admins_required: bool,
    /// Who may sign in with a Visita password (`VISITA_PASSWORD_LOGIN`).
    pub password_login: PasswordLogin,
    /// Sign-in through a SAML identity provider, when set up.
    pub saml: Option<crate::auth::saml::SamlConfig>,
}

/// Who may sign in with a Visita password once single sign-on works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordLogin {
    Everyone,
    /// Administrators only: the way in when the identity provider is down.
    AdminsOnly,
    Off,
}

/// Outgoing webhooks.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Internal networks webhooks may reach all the same (a receiver inside
    /// the hospital); every other internal address is refused.
    pub allow_networks: Vec<ipnet::IpNet>,
    /// The wait before the first retry; each next one waits twice as long.
    pub retry_base: Duration,
}

/// Where media flows: the SFU's UDP ports, the address it announces, the
/// built-in TURN server and any external one.
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// UDP ports the SFU takes for media, first and last.
    pub ports: (u16, u16),
    /// The address announced to browsers when the node sits behind a 1:1
    /// NAT (its public IP); otherwise the addresses of the interfaces.
    pub public_ip: Option<std::net::IpAddr>,
    /// Consultations with media this node takes at once.
    pub max_sessions: u32,
    /// How long a pass to the call stays valid once issued (the browser
    /// joins at once, so a short pass is a small window for a stolen one).
    pub pass_lifetime: std::time::Duration,
    /// The most video each participant is sent, in bits per second (sites
    /// on metered or shared links); `None`: what their connection takes.
    pub max_receive_bps: Option<u64>,
    /// External TURN/STUN servers (`turn:host:3478?transport=udp`, …).
    pub turn_urls: Vec<String>,
    /// The shared secret of the external TURN server (coturn's
    /// `static-auth-secret`), to give each participant its credentials.
    pub turn_secret: Option<Secret>,
    /// Browsers use relayed candidates only (networks that forbid direct
    /// UDP; also how tests prove TURN works).
    pub relay_only: bool,
    /// The built-in TURN server's port (UDP and TCP), `None` when it is off.
    pub builtin_turn_port: Option<u16>,
    /// The host browsers reach the built-in TURN server at: the public IP,
    /// or the host of the public URL.
    pub builtin_turn_host: String,
}

impl MediaConfig {
    /// The built-in TURN server's addresses for browsers, UDP then TCP.
    pub fn builtin_turn_urls(&self) -> Vec<String> {
        let Some(port) = self.builtin_turn_port else {
            return Vec::new();
        };
        let host = &self.builtin_turn_host;
        ["udp", "tcp"]
            .iter()
            .map(|transport| format!("turn:{host}:{port}?transport={transport}"))
            .collect()
    }
}

/// The host of an `http(s)://host[:port]/…` URL (IPv6 kept in brackets).
fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or(rest);
    if authority.starts_with('[') {
        return authority.split_inclusive(']').next().unwrap_or(authority);
    }
    authority.split(':').next().unwrap_or(authority)
}

impl Config {
    /// True when links are https, so cookies must carry `Secure`.
    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// Scheme + host + port of the public URL, as a browser sends it in `Origin`.
    pub fn public_origin(&self) -> &str {
        let after_scheme = self.public_url.find("://").map_or(0, |i| i + 3);
        match self.public_url[after_scheme..].find('/') {
            Some(slash) => &self.public_url[..after_scheme + slash],
            None => &self.public_url,
        }
    }
}

/// One bad configuration value, worded for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct ConfigError {
    /// `VISITA_ADDR` when the value came from the environment,
    /// `visita.toml: addr` when it came from the file.
    pub key: String,
    pub problem: String,
}

/// Every key we know, with its environment variable. The file uses the lower
/// case name without the prefix.
const KEYS: &[&str] = &[
    "addr",
    "data_dir",
    "public_url",
    "database",
    "db_namespace",
    "db_name",
    "db_user",
    "db_password",
    "admin_email",
    "admin_password",
    "session_idle_minutes",
    "totp_admins",
    "password_login",
    "site_dir",
    "log_format",
    "trusted_proxies",
    "clinic_name",
    "timezone",
    "invite_valid_hours_now",
    "invite_valid_hours_after",
    "attachment_max_mb",
    "media_ports",
    "media_public_ip",
    "media_max_sessions",
    "media_pass_seconds",
    "media_max_receive_kbps",
    "turn_urls",
    "turn_secret",
    "media_relay_only",
    "turn_port",
    "default_country",
    "reminder_offsets",
    "notify_max_per_hour",
    "notify_templates_dir",
    "secrets_key",
    "api_cors_origins",
    "webhook_allow_networks",
    "webhook_retry_seconds",
    "fhir_client_base_url",
    "fhir_client_auth",
    "fhir_client_id",
    "fhir_client_secret",
    "fhir_client_token_url",
    "fhir_client_scope",
    "fhir_client_username",
    "fhir_client_password",
    "fhir_client_poll_seconds",
    "portal_jwt_algorithm",
    "portal_jwt_public_key_file",
    "portal_jwt_jwks_url",
    "portal_jwt_secret",
    "portal_jwt_issuer",
    "portal_jwt_audience",
    "portal_jwt_email_claim",
    "portal_jwt_name_claim",
    "portal_jwt_groups_claim",
    "portal_jwt_role_map",
    "portal_jwt_queue_map",
    "portal_jwt_default_roles",
    "portal_jwt_create_accounts",
    "saml_idp_metadata_url",
    "saml_idp_metadata_file",
    "saml_label",
    "saml_sp_cert_file",
    "saml_sp_key_file",
    "saml_allow_idp_initiated",
    "saml_email_attribute",
    "saml_name_attribute",
    "saml_groups_attribute",
    "saml_role_map",
    "saml_queue_map",
    "saml_default_roles",
    "saml_create_accounts",
    "ldap_url",
    "ldap_starttls",
    "ldap_bind_dn",
    "ldap_bind_password",
    "ldap_user_base",
    "ldap_user_filter",
    "ldap_email_attribute",
    "ldap_name_attribute",
    "ldap_group_base",
    "ldap_group_search",
    "ldap_role_map",
    "ldap_queue_map",
    "ldap_default_roles",
    "ldap_create_accounts",
    "smtp_host",
    "smtp_port",
    "smtp_security",
    "smtp_username",
    "smtp_password",
    "smtp_from",
    "smtp_reply_to",
    "smtp_ca_file",
    "sms_provider",
    "twilio_account_sid",
    "twilio_auth_token",
    "twilio_from",
    "twilio_messaging_service_sid",
    "twilio_api_base",
    "sms_http_url",
    "sms_http_method",
    "sms_http_headers",
    "sms_http_content_type",
    "sms_http_body",
];

fn env_name(key: &str) -> String {
    format!("VISITA_{}", key.to_ascii_uppercase())
}

/// A raw value and where it came from, so errors can name the right place.
struct Raw {
    value: String,
    source: String,
}

/// Raw values gathered from the file and the environment, before parsing.
struct Sources {
    values: BTreeMap<&'static str, Raw>,
    /// Values typed in the console: an error names the field, not a
    /// variable.
    from_console: bool,
    /// OpenID Connect providers (`[oidc.<id>]` tables and their variables).
    oidc: BTreeMap<String, oidc::RawProvider>,
}

impl Sources {
    fn gather(
        file: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut values = BTreeMap::new();
        let mut oidc_table = None;
        let mut file_label = String::from("visita.toml");
        if let Some(path) = file {
            file_label = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
                key: file_label.clone(),
                problem: format!("cannot be read ({e})"),
            })?;
            let table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError {
                key: file_label.clone(),
                problem: format!("is not valid TOML: {}", e.message()),
            })?;
            for (name, value) in table {
                if name == "oidc" {
                    oidc_table = Some(value);
                    continue;
                }
                let Some(key) = KEYS.iter().find(|k| **k == name) else {
                    return Err(ConfigError {
                        key: format!("{file_label}: {name}"),
                        problem: format!(
                            "is not a setting Visita knows (known: {})",
                            KEYS.join(", ")
                        ),
                    });
                };
                let value = match value {
                    toml::Value::String(s) => s,
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Boolean(b) => b.to_string(),
                    other => {
                        return Err(ConfigError {
                            key: format!("{file_label}: {name}"),
                            problem: format!(
                                "must be a string or a number, not {}",
                                other.type_str()
                            ),
                        });
                    }
                };
                values.insert(
                    *key,
                    Raw {
                        value,
                        source: format!("{file_label}: {name}"),
                    },
                );
            }
        }
        for key in KEYS {
            let name = env_name(key);
            if let Some(value) = env(&name) {
                values.insert(
                    *key,
                    Raw {
                        value,
                        source: name,
                    },
                );
            }
        }
        let oidc = oidc::gather(&file_label, oidc_table.as_ref(), env)?;
        Ok(Self {
            values,
            from_console: false,
            oidc,
        })
    }

    /// The console's values of the email and text-message keys.
    fn console(values: &ChannelValues) -> Self {
        let values = values
            .iter()
            .filter_map(|(name, value)| {
                let key = KEYS.iter().find(|k| **k == name)?;
                Some((
                    *key,
                    Raw {
                        value: value.to_string(),
                        source: key.to_string(),
                    },
                ))
            })
            .collect();
        Self {
            values,
            from_console: true,
            oidc: BTreeMap::new(),
        }
    }

    fn get(&self, key: &'static str) -> Option<&Raw> {
        self.values
            .get(key)
            .filter(|raw| !raw.value.trim().is_empty())
    }

    fn error(&self, key: &'static str, problem: String) -> ConfigError {
        let source = match self.values.get(key) {
            Some(raw) => raw.source.clone(),
            None if self.from_console => key.to_string(),
            None => env_name(key),
        };
        ConfigError {
            key: source,
            problem,
        }
    }
}

/// `https://host[:port]` in lower case, or `None` for anything else (a
/// path, a wildcard, another scheme).
fn parse_origin(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))?;
    let ok = !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    ok.then_some(lower)
}

/// The email and text-message set-up from the values an administrator saved
/// in the console, checked as the same keys of `visita.toml` are; an
/// error's `key` is the field's.
pub fn channels_from_console(
    values: &ChannelValues,
    public_url: &str,
) -> Result<ChannelConfig, ConfigError> {
    notify::parse_channels(&Sources::console(values), public_url)
}

impl Config {
    /// Loads from the process environment and `file` (or `./visita.toml` when
    /// it exists and `file` is `None`).
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let default_file = Path::new("visita.toml");
        let file = file.or_else(|| default_file.exists().then_some(default_file));
        Self::from_sources(file, &|name| std::env::var(name).ok())
    }

    /// Loads from an explicit environment lookup (tests pass a map).
    pub fn from_sources(
        file: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let src = Sources::gather(file, env)?;
        let text = |key: &'static str| src.get(key).map(|r| r.value.trim().to_string());

        let addr = match src.get("addr") {
            None => SocketAddr::from(([127, 0, 0, 1], 3000)),
            Some(raw) => raw.value.trim().parse().map_err(|_| {
                src.error(
                    "addr",
                    format!(
                        "{:?} is not a socket address like 127.0.0.1:3000",
                        raw.value
                    ),
                )
            })?,
        };

        let data_dir = PathBuf::from(text("data_dir").unwrap_or_else(|| "./data".into()));

        let public_url = match src.get("public_url") {
            None => default_public_url(addr),
            Some(raw) => parse_public_url(&raw.value).map_err(|p| src.error("public_url", p))?,
        };

        let database = match src.get("database") {
            None => format!("surrealkv://{}", data_dir.join("db").display()),
            Some(raw) => parse_database(&raw.value).map_err(|p| src.error("database", p))?,
        };

        let name_like = |key: &'static str, default: &str| -> Result<String, ConfigError> {
            let value = text(key).unwrap_or_else(|| default.to_string());
            if value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                Ok(value)
            } else {
                Err(src.error(
                    key,
                    format!("{value:?} may only contain letters, digits, '-' and '_'"),
                ))
            }
        };
        let db_namespace = name_like("db_namespace", "visita")?;
        let db_name = name_like("db_name", "visita")?;

        let admin_email = text("admin_email").unwrap_or_else(|| "admin@visita.local".into());
        if !app::domain::looks_like_email(&admin_email) {
            return Err(src.error(
                "admin_email",
                format!("{admin_email:?} is not an email address like admin@hospital.org"),
            ));
        }
        let admin_password = src
            .get("admin_password")
            .map(|r| Secret::new(r.value.clone()));
        if let Some(password) = &admin_password
            && let Err(problem) = app::domain::check_password_strength(password.expose())
        {
            return Err(src.error("admin_password", problem.to_string()));
        }

        let session_idle_timeout = match src.get("session_idle_minutes") {
            None => Duration::from_secs(30 * 60),
            Some(raw) => match raw.value.trim().parse::<u64>() {
                Ok(m) if (1..=24 * 60).contains(&m) => Duration::from_secs(m * 60),
                _ => {
                    return Err(src.error(
                        "session_idle_minutes",
                        format!(
                            "{:?} is not a number of minutes between 1 and 1440",
                            raw.value
                        ),
                    ));
                }
            },
        };

        let log_format = match text("log_format").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(src.error(
                    "log_format",
                    format!("{other:?} is neither \"text\" nor \"json\""),
                ));
            }
        };

        let trusted_proxies = match text("trusted_proxies") {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse().map_err(|_| {
                        src.error(
                            "trusted_proxies",
                            format!("{s:?} is not an IP address like 10.0.0.5"),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        };

        let clinic_name = text("clinic_name").unwrap_or_else(|| "Visita".into());
        if clinic_name.chars().count() > 120 {
            return Err(src.error("clinic_name", "is longer than 120 characters".into()));
        }
        let timezone = text("timezone").unwrap_or_else(|| "UTC".into());
        if jiff::tz::TimeZone::get(&timezone).is_err() {
            return Err(src.error(
                "timezone",
                format!("{timezone:?} is not a time zone like Europe/Zurich or UTC"),
            ));
        }
        let hours = |key: &'static str, default: u64| -> Result<Duration, ConfigError> {
            match src.get(key) {
                None => Ok(Duration::from_secs(default * 3600)),
                Some(raw) => match raw.value.trim().parse::<u64>() {
                    Ok(h) if (1..=24 * 30).contains(&h) => Ok(Duration::from_secs(h * 3600)),
                    _ => Err(src.error(
                        key,
                        format!("{:?} is not a number of hours between 1 and 720", raw.value),
                    )),
                },
            }
        };
        let invite_valid_now = hours("invite_valid_hours_now", 24)?;
        let invite_valid_after = hours("invite_valid_hours_after", 2)?;
        let attachment_max_bytes = match src.get("attachment_max_mb") {
            None => 10_000_000,
            Some(raw) => match raw.value.trim().parse::<u64>() {
                Ok(mb) if (1..=100).contains(&mb) => mb * 1_000_000,
                _ => {
                    return Err(src.error(
                        "attachment_max_mb",
                        format!(
                            "{:?} is not a number of megabytes between 1 and 100",
                            raw.value
                        ),
                    ));
                }
            },
        };

        let media = parse_media(&src, &public_url)?;
        let notify = notify::parse(&src, &public_url)?;
        let secrets_key = src.get("secrets_key").map(|r| Secret::new(r.value.trim()));
        let api_cors_origins = match text("api_cors_origins") {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|origin| {
                    parse_origin(origin).ok_or_else(|| {
                        src.error(
                            "api_cors_origins",
                            format!(
                                "{origin:?} is not an origin like https://agenda.hospital.example (scheme and host, no path)"
                            ),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        let webhooks = WebhookConfig {
            allow_networks: match text("webhook_allow_networks") {
                None => Vec::new(),
                Some(list) => crate::webhooks::guard::parse_networks(&list)
                    .map_err(|e| src.error("webhook_allow_networks", e))?,
            },
            retry_base: match text("webhook_retry_seconds") {
                None => Duration::from_secs(30),
                Some(raw) => raw
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (1..=3600).contains(n))
                    .map(Duration::from_secs)
                    .ok_or_else(|| {
                        src.error(
                            "webhook_retry_seconds",
                            format!("{raw:?} is not a number of seconds from 1 to 3600"),
                        )
                    })?,
            },
        };
        let fhir_client = fhir::parse(&src)?;
        let portal_jwt = portal::parse(&src)?;
        let oidc = oidc::parse(&src.oidc)?;
        let ldap = ldap::parse(&src)?;
        let totp_admins_required = match text("totp_admins").as_deref() {
            None | Some("required") => true,
            Some("optional") => false,
            Some(other) => {
                return Err(src.error(
                    "totp_admins",
                    format!("{other:?} is not required or optional"),
                ));
            }
        };
        let saml = saml::parse(&src)?;
        let password_login = match text("password_login").as_deref() {
            None | Some("on") => PasswordLogin::Everyone,
            Some("admins") => PasswordLogin::AdminsOnly,
            Some("off") => PasswordLogin::Off,
            Some(other) => {
                return Err(src.error(
                    "password_login",
                    format!("{other:?} is not on, admins or off"),
                ));
            }
        };
        if password_login == PasswordLogin::Off
            && oidc.is_empty()
            && saml.is_none()
            && ldap.is_none()
            && portal_jwt.is_none()
        {
            return Err(src.error(
                "password_login",
                "is off, but no other way to sign in is set up (OpenID Connect, SAML, LDAP or the portal): nobody could sign in".into(),
            ));
        }
        for provider in &oidc {
            crate::auth::oidc::OidcProvider::new(provider.clone(), &public_url).map_err(|e| {
                ConfigError {
                    key: format!("oidc.{}", provider.id),
                    problem: e,
                }
            })?;
        }
        if let Some(key) = &secrets_key
            && key.expose().len() < 32
        {
            return Err(src.error(
                "secrets_key",
                "is shorter than 32 characters: use a long random value (openssl rand -hex 32)"
                    .into(),
            ));
        }

        let db_user = text("db_user");
        let db_password = src.get("db_password").map(|r| Secret::new(r.value.clone()));
        match (&db_user, &db_password) {
            (Some(_), None) => {
                return Err(src.error(
                    "db_password",
                    "is missing: VISITA_DB_USER is set, so a password is needed too".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(src.error(
                    "db_user",
                    "is missing: VISITA_DB_PASSWORD is set, so a user is needed too".into(),
                ));
            }
            _ => {}
        }

        Ok(Config {
            addr,
            data_dir,
            public_url,
            database,
            db_namespace,
            db_name,
            db_user,
            db_password,
            admin_email: admin_email.to_lowercase(),
            admin_password,
            session_idle_timeout,
            site_dir: PathBuf::from(text("site_dir").unwrap_or_else(|| "target/site".into())),
            log_format,
            trusted_proxies,
            clinic_name,
            timezone,
            invite_valid_now,
            invite_valid_after,
            attachment_max_bytes,
            media,
            notify,
            secrets_key,
            api_cors_origins,
            webhooks,
            fhir_client,
            portal_jwt,
            oidc,
            ldap,
            saml,
            totp_admins_required,
            password_login,
        })
    }
}

fn parse_media(src: &Sources, public_url: &str) -> Result<MediaConfig, ConfigError> {
    let text = |key: &'static str| src.get(key).map(|r| r.value.trim().to_string());
    let ports = match text("media_ports") {
        None => (50_000, 50_199),
        Some(range) => {
            let parsed = range
                .split_once('-')
                .and_then(|(a, b)| {
                    Some((a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?))
                })
                .filter(|(a, b)| *a >= 1024 && a <= b);
            parsed.ok_or_else(|| {
                src.error(
                    "media_ports",
                    format!(
                        "{range:?} is not a UDP port range like 50000-50199 (ports 1024 and up)"
                    ),
                )
            })?
        }
    };
    let public_ip = match text("media_public_ip") {
        None => None,
        Some(ip) => Some(ip.parse().map_err(|_| {
            src.error(
                "media_public_ip",
                format!("{ip:?} is not an IP address like 203.0.113.7"),
            )
        })?),
    };
    let max_sessions = match text("media_max_sessions") {
        None => 50,
        Some(n) => match n.parse::<u32>() {
            Ok(n) if (1..=10_000).contains(&n) => n,
            _ => {
                return Err(src.error(
                    "media_max_sessions",
                    format!("{n:?} is not a number of consultations between 1 and 10000"),
                ));
            }
        },
    };
    let pass_lifetime = match text("media_pass_seconds") {
        None => crate::sfu::pass::PASS_LIFETIME,
        Some(n) => match n.parse::<u64>() {
            Ok(n) if (2..=3600).contains(&n) => std::time::Duration::from_secs(n),
            _ => {
                return Err(src.error(
                    "media_pass_seconds",
                    format!("{n:?} is not a number of seconds between 2 and 3600"),
                ));
            }
        },
    };
    let max_receive_bps = match text("media_max_receive_kbps") {
        None => None,
        Some(n) => match n.parse::<u64>() {
            Ok(n) if (16..=100_000).contains(&n) => Some(n * 1000),
            _ => {
                return Err(src.error(
                    "media_max_receive_kbps",
                    format!("{n:?} is not a number of kbit/s between 16 and 100000"),
                ));
            }
        },
    };
    let flag = |key: &'static str, default: bool| -> Result<bool, ConfigError> {
        match text(key).as_deref() {
            None => Ok(default),
            Some("true" | "on" | "yes" | "1") => Ok(true),
            Some("false" | "off" | "no" | "0") => Ok(false),
            Some(other) => Err(src.error(key, format!("{other:?} is neither on nor off"))),
        }
    };
    let turn_urls: Vec<String> = text("turn_urls")
        .map(|list| {
            list.split(',')
                .map(|u| u.trim().to_string())
                .filter(|u| !u.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if let Some(bad) = turn_urls.iter().find(|u| {
        !["turn:", "turns:", "stun:"]
            .iter()
            .any(|s| u.starts_with(s))
    }) {
        return Err(src.error(
            "turn_urls",
            format!("{bad:?} is not a TURN or STUN address like turn:turn.hospital.org:3478?transport=udp"),
        ));
    }
    let turn_secret = src.get("turn_secret").map(|r| Secret::new(r.value.trim()));
    if turn_secret.is_none() && turn_urls.iter().any(|u| u.starts_with("turn")) {
        return Err(src.error(
            "turn_secret",
            "is missing: the external TURN server in VISITA_TURN_URLS needs its shared secret"
                .into(),
        ));
    }
    let builtin_turn_port = match text("turn_port").as_deref() {
        None => Some(3478),
        Some("off" | "false" | "no") => None,
        Some(port) => match port.parse::<u16>() {
            Ok(port) if port > 0 => Some(port),
            _ => {
                return Err(src.error(
                    "turn_port",
                    format!("{port:?} is neither a port number like 3478 nor off"),
                ));
            }
        },
    };
    if let Some(port) = builtin_turn_port
        && (ports.0..=ports.1).contains(&port)
    {
        return Err(src.error(
            "turn_port",
            format!("{port} is one of the media ports (VISITA_MEDIA_PORTS): choose another"),
        ));
    }
    let builtin_turn_host = match public_ip {
        Some(std::net::IpAddr::V6(v6)) => format!("[{v6}]"),
        Some(ip) => ip.to_string(),
        None => url_host(public_url).to_string(),
    };
    let relay_only = flag("media_relay_only", false)?;
    if relay_only && builtin_turn_port.is_none() && !turn_urls.iter().any(|u| u.starts_with("turn"))
    {
        return Err(src.error(
            "media_relay_only",
            "is on, but there is no TURN server to relay through (the built-in one is off and VISITA_TURN_URLS is empty)".into(),
        ));
    }
    Ok(MediaConfig {
        ports,
        public_ip,
        max_sessions,
        pass_lifetime,
        max_receive_bps,
        turn_urls,
        turn_secret,
        relay_only,
        builtin_turn_port,
        builtin_turn_host,
    })
}

/// `http://127.0.0.1:3000` for `127.0.0.1:3000`; an unspecified listen address
/// (`0.0.0.0`) is announced as `localhost`, which at least works on the machine.
fn default_public_url(addr: SocketAddr) -> String {
    let host = match addr.ip() {
        ip if ip.is_unspecified() => "localhost".to_string(),
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        ip => ip.to_string(),
    };
    format!("http://{host}:{}", addr.port())
}

/// Normalises to what a browser sends as `Origin` (lower-case scheme and
/// host, no default port, no trailing slash) so origin checks compare exactly.
fn parse_public_url(raw: &str) -> Result<String, String> {
    let value = raw.trim().trim_end_matches('/');
    let lower = value.to_ascii_lowercase();
    let (scheme, rest) = if lower.starts_with("https://") {
        ("https", &value[8..])
    } else if lower.starts_with("http://") {
        ("http", &value[7..])
    } else {
        return Err(format!(
            "{raw:?} is not a URL starting with https:// or http://"
        ));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let shape = || format!("{raw:?} is not a URL like https://visio.hospital.org");
    if authority.is_empty()
        || authority.contains(['?', '#', '@', ' '])
        || path.contains(['?', '#', ' '])
    {
        return Err(shape());
    }
    let parse_port = |p: &str| p.parse::<u16>().map_err(|_| shape());
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (inner, after) = v6.split_once(']').ok_or_else(shape)?;
        let port = match after {
            "" => None,
            p => Some(parse_port(p.strip_prefix(':').ok_or_else(shape)?)?),
        };
        (format!("[{inner}]"), port)
    } else {
        match authority.split_once(':') {
            Some((host, p)) => (host.to_string(), Some(parse_port(p)?)),
            None => (authority.to_string(), None),
        }
    };
    if host.is_empty() || host == "[]" {
        return Err(shape());
    }
    let default_port = if scheme == "https" { 443 } else { 80 };
    let port = port
        .filter(|p| *p != default_port)
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    Ok(format!(
        "{scheme}://{}{port}{path}",
        host.to_ascii_lowercase()
    ))
}

fn parse_database(raw: &str) -> Result<String, String> {
    let value = raw.trim();
    let known = ["surrealkv://", "mem://", "ws://", "wss://"];
    if known.iter().any(|scheme| value.starts_with(scheme))
        && (value == "mem://" || value.len() > value.find("://").unwrap_or(0) + 3)
    {
        Ok(value.to_string())
    } else {
        Err(format!(
            "{raw:?} is not a database address like surrealkv://./data/db, mem:// or ws://db-host:8000"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_sources(None, &move |name| env.get(name).cloned())
    }

    #[test]
    fn a_directory_needs_its_service_account_and_a_login_placeholder() {
        let base = [
            ("VISITA_LDAP_URL", "ldaps://dc1.hospital.example"),
            ("VISITA_LDAP_BIND_DN", "cn=visita,dc=h"),
            ("VISITA_LDAP_BIND_PASSWORD", "pw"),
            ("VISITA_LDAP_USER_BASE", "ou=people,dc=h"),
        ];
        let ldap = load(&base).unwrap().ldap.unwrap();
        assert_eq!(ldap.group_base, "ou=people,dc=h");
        assert!(ldap.user_filter.contains("{login}"));
        assert!(
            !format!("{ldap:?}").contains("pw"),
            "the password never prints"
        );
        assert!(load(&[]).unwrap().ldap.is_none());
        let with = |extra: (&'static str, &'static str)| {
            let mut pairs = base.to_vec();
            pairs.push(extra);
            load(&pairs).unwrap_err()
        };
        assert_eq!(
            with(("VISITA_LDAP_URL", "dc1.hospital.example")).key,
            "VISITA_LDAP_URL"
        );
        assert_eq!(
            with(("VISITA_LDAP_USER_FILTER", "(uid=x)")).key,
            "VISITA_LDAP_USER_FILTER"
        );
        assert_eq!(
            with(("VISITA_LDAP_GROUP_SEARCH", "deep")).key,
            "VISITA_LDAP_GROUP_SEARCH"
        );
        assert_eq!(
            with(("VISITA_LDAP_CREATE_ACCOUNTS", "true")).key,
            "VISITA_LDAP_CREATE_ACCOUNTS"
        );
        assert_eq!(
            with(("VISITA_LDAP_ROLE_MAP", "g=chief")).key,
            "VISITA_LDAP_ROLE_MAP"
        );
        let e = load(&base[..3]).unwrap_err();
        assert_eq!(e.key, "VISITA_LDAP_USER_BASE");
    }

    #[test]
    fn defaults_are_local_and_embedded() {
        let config = load(&[]).unwrap();
        assert_eq!(config.addr.to_string(), "127.0.0.1:3000");
        assert_eq!(config.public_url, "http://127.0.0.1:3000");
        assert_eq!(config.database, "surrealkv://./data/db");
        assert_eq!(config.session_idle_timeout, Duration::from_secs(1800));
        assert!(!config.is_https());
    }

    #[test]
    fn media_defaults_and_bad_values() {
        let media = load(&[]).unwrap().media;
        assert_eq!(media.ports, (50_000, 50_199));
        assert!(!media.relay_only && media.turn_urls.is_empty());
        let media = load(&[
            ("VISITA_MEDIA_PORTS", "40000-40009"),
            ("VISITA_MEDIA_PUBLIC_IP", "203.0.113.7"),
            (
                "VISITA_TURN_URLS",
                "turn:turn.example.org:3478?transport=udp",
            ),
            ("VISITA_TURN_SECRET", "s3cret"),
        ])
        .unwrap()
        .media;
        assert_eq!(media.ports, (40_000, 40_009));
        assert_eq!(media.public_ip, Some("203.0.113.7".parse().unwrap()));
        assert_eq!(format!("{:?}", media.turn_secret), "Some(Secret(…))");
        let problem = |pairs: &[(&str, &str)]| load(pairs).unwrap_err().to_string();
        assert!(
            problem(&[("VISITA_MEDIA_PORTS", "9-3")]).starts_with("VISITA_MEDIA_PORTS: \"9-3\"")
        );
        assert!(
            problem(&[("VISITA_MEDIA_PUBLIC_IP", "example.org")]).contains("not an IP address")
        );
        assert!(
            problem(&[("VISITA_TURN_URLS", "turn:t.example.org:3478")])
                .starts_with("VISITA_TURN_SECRET: is missing")
        );
        assert!(
            problem(&[("VISITA_TURN_URLS", "http://t.example.org")])
                .contains("not a TURN or STUN address")
        );
        assert!(
            problem(&[
                ("VISITA_MEDIA_RELAY_ONLY", "on"),
                ("VISITA_TURN_PORT", "off")
            ])
            .contains("no TURN server")
        );
        assert!(problem(&[("VISITA_TURN_PORT", "50010")]).contains("one of the media ports"));
        assert!(problem(&[("VISITA_TURN_PORT", "0")]).contains("neither a port"));
        assert_eq!(load(&[]).unwrap().media.max_receive_bps, None);
        let capped = load(&[("VISITA_MEDIA_MAX_RECEIVE_KBPS", "300")]).unwrap();
        assert_eq!(capped.media.max_receive_bps, Some(300_000));
        for bad in ["0", "15", "100001", "fast"] {
            assert!(
                problem(&[("VISITA_MEDIA_MAX_RECEIVE_KBPS", bad)])
                    .contains("between 16 and 100000"),
                "{bad}"
            );
        }
        assert_eq!(load(&[]).unwrap().media.pass_lifetime.as_secs(), 120);
        let short = load(&[("VISITA_MEDIA_PASS_SECONDS", "30")]).unwrap();
        assert_eq!(short.media.pass_lifetime.as_secs(), 30);
        for bad in ["0", "1", "3601", "two"] {
            assert!(
                problem(&[("VISITA_MEDIA_PASS_SECONDS", bad)]).contains("between 2 and 3600"),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_builtin_turn_server_is_on_and_reached_where_visita_is() {
        let media = load(&[]).unwrap().media;
        assert_eq!(
            media.builtin_turn_urls(),
            [
                "turn:127.0.0.1:3478?transport=udp",
                "turn:127.0.0.1:3478?transport=tcp"
            ]
        );
        let media = load(&[
            ("VISITA_PUBLIC_URL", "https://visio.hopital.example/"),
            ("VISITA_TURN_PORT", "3479"),
        ])
        .unwrap()
        .media;
        assert_eq!(
            media.builtin_turn_urls()[0],
            "turn:visio.hopital.example:3479?transport=udp"
        );
        let media = load(&[("VISITA_MEDIA_PUBLIC_IP", "2001:db8::7")])
            .unwrap()
            .media;
        assert_eq!(
            media.builtin_turn_urls()[1],
            "turn:[2001:db8::7]:3478?transport=tcp"
        );
        assert_eq!(url_host("http://[::1]:3000/x"), "[::1]");
        assert!(
            load(&[("VISITA_TURN_PORT", "off")])
                .unwrap()
                .media
                .builtin_turn_urls()
                .is_empty()
        );
    }

    #[test]
    fn data_dir_moves_the_default_database() {
        let config = load(&[("VISITA_DATA_DIR", "/var/lib/visita")]).unwrap();
        assert_eq!(config.database, "surrealkv:///var/lib/visita/db");
    }

    #[test]
    fn a_bad_address_names_the_key_and_the_expected_shape() {
        let err = load(&[("VISITA_ADDR", "abc")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"VISITA_ADDR: "abc" is not a socket address like 127.0.0.1:3000"#
        );
    }

    #[test]
    fn public_url_must_be_http_or_https_and_loses_its_trailing_slash() {
        assert!(
            load(&[("VISITA_PUBLIC_URL", "visio.example.org")])
                .unwrap_err()
                .to_string()
                .starts_with("VISITA_PUBLIC_URL:")
        );
        let config = load(&[("VISITA_PUBLIC_URL", "https://visio.example.org/")]).unwrap();
        assert_eq!(config.public_url, "https://visio.example.org");
        assert_eq!(config.public_origin(), "https://visio.example.org");
        assert!(config.is_https());
    }

    #[test]
    fn public_url_is_normalised_like_a_browser_origin() {
        let config = load(&[("VISITA_PUBLIC_URL", "HTTPS://Visio.Example.ORG:443/")]).unwrap();
        assert_eq!(config.public_url, "https://visio.example.org");
        let config = load(&[("VISITA_PUBLIC_URL", "http://h.example.org:8080/Visita")]).unwrap();
        assert_eq!(config.public_url, "http://h.example.org:8080/Visita");
        assert!(load(&[("VISITA_PUBLIC_URL", "http://h.example.org:abc")]).is_err());
        assert!(load(&[("VISITA_PUBLIC_URL", "https://")]).is_err());
    }

    #[test]
    fn trusted_proxies_are_addresses_and_db_credentials_come_in_pairs() {
        let config = load(&[("VISITA_TRUSTED_PROXIES", "10.0.0.5, ::1")]).unwrap();
        assert_eq!(config.trusted_proxies.len(), 2);
        assert_eq!(
            load(&[("VISITA_TRUSTED_PROXIES", "10.0.0.0/8")])
                .unwrap_err()
                .key,
            "VISITA_TRUSTED_PROXIES"
        );
        assert_eq!(
            load(&[("VISITA_DB_USER", "root")]).unwrap_err().key,
            "VISITA_DB_PASSWORD"
        );
        assert_eq!(
            load(&[("VISITA_DB_PASSWORD", "x")]).unwrap_err().key,
            "VISITA_DB_USER"
        );
    }

    #[test]
    fn origin_drops_the_path() {
        let config = load(&[("VISITA_PUBLIC_URL", "https://h.example.org:8443/visita")]).unwrap();
        assert_eq!(config.public_origin(), "https://h.example.org:8443");
    }

    #[test]
    fn unknown_database_schemes_are_refused() {
        let err = load(&[("VISITA_DATABASE", "postgres://x")]).unwrap_err();
        assert_eq!(err.key, "VISITA_DATABASE");
        assert!(load(&[("VISITA_DATABASE", "ws://db:8000")]).is_ok());
        assert!(load(&[("VISITA_DATABASE", "mem://")]).is_ok());
    }

    #[test]
    fn weak_admin_passwords_and_bad_emails_are_refused() {
        assert_eq!(
            load(&[("VISITA_ADMIN_PASSWORD", "short")]).unwrap_err().key,
            "VISITA_ADMIN_PASSWORD"
        );
        assert_eq!(
            load(&[("VISITA_ADMIN_EMAIL", "nobody")]).unwrap_err().key,
            "VISITA_ADMIN_EMAIL"
        );
    }

    #[test]
    fn idle_timeout_is_bounded() {
        assert_eq!(
            load(&[("VISITA_SESSION_IDLE_MINUTES", "0")])
                .unwrap_err()
                .key,
            "VISITA_SESSION_IDLE_MINUTES"
        );
        assert_eq!(
            load(&[("VISITA_SESSION_IDLE_MINUTES", "5")])
                .unwrap()
                .session_idle_timeout,
            Duration::from_secs(300)
        );
    }

    #[test]
    fn api_origins_are_exact_origins() {
        let config = load(&[(
            "VISITA_API_CORS_ORIGINS",
            "https://Agenda.example, http://localhost:8080",
        )])
        .unwrap();
        assert_eq!(
            config.api_cors_origins,
            vec!["https://agenda.example", "http://localhost:8080"]
        );
        for bad in [
            "*",
            "https://agenda.example/path",
            "ftp://x.example",
            "agenda.example",
        ] {
            let err = load(&[("VISITA_API_CORS_ORIGINS", bad)]).unwrap_err();
            assert_eq!(err.key, "VISITA_API_CORS_ORIGINS", "{bad}");
        }
        let short = load(&[("VISITA_SECRETS_KEY", "too short")]).unwrap_err();
        assert_eq!(short.key, "VISITA_SECRETS_KEY");
    }

    #[test]
    fn secrets_do_not_print() {
        let config = load(&[("VISITA_ADMIN_PASSWORD", "correct horse battery")]).unwrap();
        assert!(!format!("{config:?}").contains("horse"));
    }

    #[test]
    fn file_values_are_overridden_by_the_environment_and_unknown_keys_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("visita.toml");
        std::fs::write(
            &path,
            "addr = \"0.0.0.0:8080\"\nsession_idle_minutes = 10\n",
        )
        .unwrap();
        let config = Config::from_sources(Some(&path), &|_| None).unwrap();
        assert_eq!(config.addr.port(), 8080);
        assert_eq!(config.public_url, "http://localhost:8080");
        assert_eq!(config.session_idle_timeout, Duration::from_secs(600));

        let config = Config::from_sources(Some(&path), &|name| {
            (name == "VISITA_ADDR").then(|| "127.0.0.1:9000".to_string())
        })
        .unwrap();
        assert_eq!(config.addr.port(), 9000);

        std::fs::write(&path, "adr = \"x\"\n").unwrap();
        let err = Config::from_sources(Some(&path), &|_| None).unwrap_err();
        assert!(err.key.ends_with("visita.toml: adr"), "{err}");

        std::fs::write(&path, "addr = \"nope\"\n").unwrap();
        let err = Config::from_sources(Some(&path), &|_| None).unwrap_err();
        assert!(
            err.to_string()
                .contains("visita.toml: addr: \"nope\" is not a socket address"),
            "{err}"
        );
    }
}
