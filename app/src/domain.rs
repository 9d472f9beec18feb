//! Domain types shared by the browser and the server: who people are and what
//! they may be. Nothing here touches the database or the network.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a staff member does at the hospital. A person may hold several roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Doctor,
    Nurse,
    Scheduler,
    Translator,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Doctor,
        Role::Nurse,
        Role::Scheduler,
        Role::Translator,
    ];

    /// The stored and typed form (`doctor`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Doctor => "doctor",
            Role::Nurse => "nurse",
            Role::Scheduler => "scheduler",
            Role::Translator => "translator",
        }
    }

    /// The form people read (`Doctor`).
    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Administrator",
            Role::Doctor => "Doctor",
            Role::Nurse => "Nurse",
            Role::Scheduler => "Scheduler",
            Role::Translator => "Translator",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a string is not a role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a role (admin, doctor, nurse, scheduler or translator)")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownRole(s.to_string()))
    }
}

/// The database key of a staff account (the part after `user:`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UserId(pub String);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who is asking: the result of a valid session. Handed to `authorize`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub user_id: UserId,
    pub email: String,
    pub name: String,
    pub roles: Vec<Role>,
    /// The queues (departments) this person works in.
    #[serde(default)]
    pub queues: Vec<crate::consultation::QueueId>,
    /// For translators: the languages they translate (`fr`, `ar`).
    #[serde(default)]
    pub languages: Vec<String>,
}

impl Principal {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// A staff account as the admin page shows it: never the password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub roles: Vec<Role>,
    pub disabled: bool,
    /// RFC 3339; shown as is.
    pub created_at: String,
    #[serde(default)]
    pub queues: Vec<crate::consultation::QueueId>,
    /// What their translator organisations cover.
    #[serde(default)]
    pub languages: Vec<String>,
    /// The translator organisations they belong to (ids).
    #[serde(default)]
    pub translator_orgs: Vec<String>,
}

/// A translator organisation: who it is and which languages it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranslatorOrgSummary {
    pub id: String,
    pub name: String,
    pub languages: Vec<String>,
}

/// One event of the audit trail, as administrators read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// RFC 3339, UTC.
    pub at: String,
    pub action: String,
    /// The staff member's email, `api_key:…`, `participant:…`, or empty.
    pub actor: String,
    pub target: String,
    pub ip: String,
    /// `ok`, `denied` or `failed`.
    pub outcome: String,
}

/// Which events of the audit trail to show.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    /// Events whose action starts with this (`login` finds every sign-in).
    pub action: String,
    /// `ok`, `denied`, `failed`, or empty for all.
    pub outcome: String,
}

/// One configured way to sign in, as the administrators' console shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInMethodInfo {
    /// `OpenID Connect`, `SAML 2.0`, `LDAP`, `Portal JWT`, `Password`.
    pub kind: String,
    pub name: String,
    /// Settings worth seeing (never secrets).
    pub details: Vec<(String, String)>,
    /// Where "Try sign-in" goes (providers the browser visits).
    pub try_href: Option<String>,
    /// Whether "Try sign-in" is a login and password typed here (LDAP).
    pub try_directory: bool,
}

/// What setting up an authenticator app shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondFactorSetup {
    /// The secret in base32, in groups of four, to type by hand.
    pub secret: String,
    /// The `otpauth://` address as a QR code (SVG, made by the server).
    pub qr_svg: String,
}

/// What the sign-in page offers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInChoices {
    /// Identity providers, a button each.
    pub providers: Vec<SignInOption>,
    /// Whether the form takes directory logins (LDAP) besides emails.
    pub directory: bool,
    /// Whether the email-and-password form is offered at all.
    pub password_form: bool,
}

/// A way to sign in besides the password form: an identity provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInOption {
    /// The button's words (`Sign in with Hospital account`).
    pub label: String,
    /// Where the button goes (`/auth/oidc/hospital`).
    pub href: String,
}

/// What a new account needs. Checked by [`NewUser::validate`] on both sides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub roles: Vec<Role>,
    pub password: String,
}

/// A field-level problem, phrased for the person who typed the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

impl NewUser {
    /// Normalises (trims, lower-cases the email) and checks every field.
    pub fn validate(mut self) -> Result<Self, FieldError> {
        self.email = self.email.trim().to_lowercase();
        self.name = self.name.trim().to_string();
        if !looks_like_email(&self.email) {
            return Err(FieldError::new(
                "email",
                "Enter an email address like name@hospital.org.",
            ));
        }
        if self.name.is_empty() || self.name.chars().count() > 120 {
            return Err(FieldError::new(
                "name",
                "Enter a name of 1 to 120 characters.",
            ));
        }
        if self.roles.is_empty() {
            return Err(FieldError::new("role", "Choose a role."));
        }
        self.roles.sort();
        self.roles.dedup();
        check_password_strength(&self.password).map_err(|m| FieldError::new("password", m))?;
        Ok(self)
    }
}

/// `fr, AR ,pt-br` → `["fr", "ar", "pt-br"]`: language codes, checked.
pub fn parse_languages(list: &str) -> Result<Vec<String>, FieldError> {
    let mut codes: Vec<String> = Vec::new();
    for code in list.split(',').map(|c| c.trim().to_ascii_lowercase()) {
        if code.is_empty() {
            continue;
        }
        let (main, region) = code.split_once('-').unwrap_or((&code, ""));
        let valid = (2..=3).contains(&main.len())
            && main.chars().all(|c| c.is_ascii_lowercase())
            && region.len() <= 4
            && region.chars().all(|c| c.is_ascii_alphanumeric());
        if !valid {
            return Err(FieldError::new(
                "languages",
                format!("{code:?} is not a language code like fr, ar or pt-br."),
            ));
        }
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    if codes.len() > 20 {
        return Err(FieldError::new("languages", "List at most 20 languages."));
    }
    Ok(codes)
}

/// Minimum length only, as NIST 800-63B advises; no composition rules.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Bounds argon2's work per request.
pub const MAX_PASSWORD_CHARS: usize = 256;

pub fn check_password_strength(password: &str) -> Result<(), &'static str> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        Err("The password must have at least 12 characters.")
    } else if n > MAX_PASSWORD_CHARS {
        Err("The password must have at most 256 characters.")
    } else {
        Ok(())
    }
}

/// Shape check for an email address; delivery is the real test. As strict
/// as the database's `string::is_email`, so a form never gets past this
/// check only to be refused by the schema: a local part of common characters,
/// and a domain of at least two labels of letters, digits and inner hyphens.
pub fn looks_like_email(value: &str) -> bool {
    let Some((local, domain)) = value.rsplit_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && domain.len() <= 253
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    local_ok && domain_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert_eq!(" Doctor ".parse::<Role>().unwrap(), Role::Doctor);
        assert!("surgeon".parse::<Role>().is_err());
    }

    #[test]
    fn email_shapes() {
        assert!(looks_like_email("a@b.org"));
        assert!(!looks_like_email("a@b"));
        assert!(!looks_like_email("@b.org"));
        assert!(!looks_like_email("a b@c.org"));
        assert!(!looks_like_email("a@@c.org"));
        assert!(
            !looks_like_email("a@x_y.org"),
            "the database refuses underscores in domains"
        );
        assert!(!looks_like_email("a@-x.org"));
        assert!(!looks_like_email("a..b@x.org"));
        assert!(looks_like_email("first.last+tag@sub.hospital-ge.ch"));
    }

    #[test]
    fn new_user_is_normalised_and_checked() {
        let user = NewUser {
            email: " Dr.House@Hospital.ORG ".into(),
            name: " Greg House ".into(),
            roles: vec![Role::Doctor, Role::Doctor],
            password: "a long enough password".into(),
        }
        .validate()
        .unwrap();
        assert_eq!(user.email, "dr.house@hospital.org");
        assert_eq!(user.name, "Greg House");
        assert_eq!(user.roles, vec![Role::Doctor]);
        assert_eq!(
            parse_languages(" FR, ar,fr").unwrap(),
            vec!["fr", "ar"],
            "trimmed, lower case, once each"
        );
        assert!(parse_languages("french").is_err());
        assert!(parse_languages("fr;drop").is_err());

        let short = NewUser {
            password: "short".into(),
            ..user.clone()
        }
        .validate()
        .unwrap_err();
        assert_eq!(short.field, "password");
        let no_role = NewUser {
            roles: vec![],
            ..user
        }
        .validate()
        .unwrap_err();
        assert_eq!(no_role.field, "role");
    }
}

/// How messages are set up, as the administrator sees it: label and value
/// rows per part, secrets shown only as "set", and the editable set-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessagingSettings {
    pub email: Vec<(String, String)>,
    pub sms: Vec<(String, String)>,
    pub general: Vec<(String, String)>,
    pub setup: crate::channel_setup::ChannelSetup,
}

/// A text the `log` gateway kept instead of sending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub at_label: String,
    pub recipient: String,
    pub kind: String,
    pub text: String,
}

/// A REST API key as administrators see it (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeySummary {
    pub id: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub requests_per_minute: u32,
    pub created_label: String,
    pub created_by: String,
    /// "never" or when.
    pub last_used_label: String,
    /// When it was revoked, if it was.
    pub revoked_label: Option<String>,
}

/// A webhook subscription as administrators see it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookSummary {
    pub id: String,
    /// The name of the API key that subscribed.
    pub key_name: String,
    pub url: String,
    pub events: Vec<String>,
    /// False once its key was revoked.
    pub active: bool,
    pub description: Option<String>,
    pub created_label: String,
}

/// One delivery of an event to a subscription, with its tries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDeliverySummary {
    pub id: String,
    pub webhook_id: String,
    pub url: String,
    /// The event (`consultation.created`…).
    pub kind: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub created_label: String,
    /// When it is tried next, while pending.
    pub next_label: Option<String>,
    /// The delivery this one sends again, if it is a replay.
    pub replay_of: Option<String>,
    pub tries: Vec<WebhookTry>,
}

/// One try: the receiver's status, or why there was none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookTry {
    pub at_label: String,
    pub status: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// The webhooks page: subscriptions and the latest deliveries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhooksOverview {
    pub subscriptions: Vec<WebhookSummary>,
    pub deliveries: Vec<WebhookDeliverySummary>,
}

/// A key just made: the only time it is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedApiKey {
    pub id: String,
    pub key: String,
}
