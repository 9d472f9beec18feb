//! Staff accounts and sessions: the implementation of `app::ssr::Accounts`
//! on the database, with password hashing, sign-in rate limits, session
//! expiry and the audit trail.

use crate::auth::cookie::SessionCookie;
use crate::auth::external::{ExternalIdentity, ExternalRefusal, Mapped, RoleMapping};
use crate::auth::ldap::{LdapDirectory, LdapRefusal};
use crate::auth::oidc::OidcProvider;
use crate::auth::rate_limit::{FailureLimiter, Policy};
use crate::auth::saml::SamlSp;
use crate::auth::totp;
use crate::auth::{password, token};
use crate::config::{Config, PasswordLogin};
use crate::db::{AuditEntry, Db, DbError, TranslatorOrgRow, UserRow};
use crate::notify::console::SecretBox;
use app::consultation::{QueueId, QueueSummary};
use app::domain::{
    NewUser, Principal, Role, SecondFactorSetup, TranslatorOrgSummary, UserId, UserSummary,
};
use app::error::AppError;
use app::ssr::{Accounts, ClientInfo, CookieUpdate, CurrentSession, LoginStep, SignedOut};
use async_trait::async_trait;
use chrono::Utc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Failed sign-ins tolerated per account before it is paused.
const ACCOUNT_POLICY: Policy = Policy {
    max_failures: 8,
    window: Duration::from_secs(15 * 60),
};
/// Failed sign-ins tolerated per client address (a whole clinic may share one).
const ADDRESS_POLICY: Policy = Policy {
    max_failures: 15,
    window: Duration::from_secs(10 * 60),
};
/// A session ends after this long, however active.
const ABSOLUTE_LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);
/// `last_seen` is written at most this often, not on every request.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// What `ensure_first_admin` found or did, for the start-up banner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirstAdmin {
    /// Created now; `password` is set when it was generated (print it once).
    Created {
        email: String,
        password: Option<String>,
    },
    Existing {
        email: String,
    },
}

pub struct AccountService {
    db: Db,
    cookie: SessionCookie,
    idle_timeout: Duration,
    by_account: FailureLimiter,
    by_address: FailureLimiter,
    /// The OpenID Connect providers, in the configured order.
    oidc: Vec<Arc<OidcProvider>>,
    /// The hospital's directory, when sign-in against it is set up.
    ldap: Option<LdapDirectory>,
    /// The SAML identity provider, when set up.
    saml: Option<Arc<SamlSp>>,
    /// Whether administrators signing in by password need a second step.
    totp_admins_required: bool,
    /// Who may sign in with a Visita password.
    password_login: PasswordLogin,
    /// Seals authenticator secrets (absent: two-step sign-in unavailable,
    /// as in command-line tools).
    secrets: Option<SecretBox>,
    /// The cookie of a password sign-in waiting for its second step.
    second_factor_cookie: SessionCookie,
    /// The portal's sign-in as the console shows it (issuer, algorithm).
    portal: Option<(String, String)>,
}

impl AccountService {
    pub fn new(db: Db, config: &Config) -> Self {
        Self {
            db,
            cookie: SessionCookie::staff(config.is_https()),
            idle_timeout: config.session_idle_timeout,
            by_account: FailureLimiter::new(ACCOUNT_POLICY),
            by_address: FailureLimiter::new(ADDRESS_POLICY),
            // Each was checked when the configuration was read.
            oidc: config
                .oidc
                .iter()
                .filter_map(|c| OidcProvider::new(c.clone(), &config.public_url).ok())
                .map(Arc::new)
                .collect(),
            ldap: config.ldap.clone().map(LdapDirectory::new),
            saml: config
                .saml
                .clone()
                .map(|c| Arc::new(SamlSp::new(c, &config.public_url))),
            totp_admins_required: config.totp_admins_required,
            password_login: config.password_login,
            secrets: None,
            second_factor_cookie: SessionCookie::second_factor(config.is_https()),
            portal: config
                .portal_jwt
                .as_ref()
                .map(|p| (p.issuer.clone(), format!("{:?}", p.algorithm))),
        }
    }

    /// With the box that seals authenticator secrets.
    pub fn with_secrets(mut self, secrets: SecretBox) -> Self {
        self.secrets = Some(secrets);
        self
    }

    /// The SAML identity provider, when set up.
    pub fn saml(&self) -> Option<Arc<SamlSp>> {
        self.saml.clone()
    }

    /// The OpenID Connect provider with this id.
    pub fn oidc_provider(&self, id: &str) -> Option<Arc<OidcProvider>> {
        self.oidc.iter().find(|p| p.config.id == id).cloned()
    }

    pub fn cookie(&self) -> SessionCookie {
        self.cookie
    }

    /// Creates the first admin when no admin account exists yet.
    pub async fn ensure_first_admin(
        &self,
        email: &str,
        password: Option<&str>,
    ) -> Result<FirstAdmin, AppError> {
        if let Some(existing) = self.db.any_admin_email().await.map_err(internal)? {
            return Ok(FirstAdmin::Existing { email: existing });
        }
        let generated = password.is_none().then(password::generate);
        let chosen = password
            .map(str::to_string)
            .or_else(|| generated.clone())
            .unwrap_or_default();
        let user = NewUser {
            email: email.to_string(),
            name: "Administrator".into(),
            roles: vec![Role::Admin],
            password: chosen,
        }
        .validate()?;
        match self.create_user_unchecked(user, None, None).await {
            Ok(created) => Ok(FirstAdmin::Created {
                email: created.email,
                password: generated,
            }),
            // Another node created an admin a moment ago, or the email is taken.
            Err(AppError::Conflict(_)) => {
                match self.db.any_admin_email().await.map_err(internal)? {
                    Some(existing) => Ok(FirstAdmin::Existing { email: existing }),
                    None => Err(AppError::Conflict(format!(
                        "VISITA_ADMIN_EMAIL: {email} belongs to an account that is not an admin; choose another address"
                    ))),
                }
            }
            Err(other) => Err(other),
        }
    }

    /// Creates an account without an authorization check: for the CLI and
    /// start-up, which run with the operator's authority.
    pub async fn create_user_unchecked(
        &self,
        user: NewUser,
        actor: Option<&Principal>,
        client: Option<&ClientInfo>,
    ) -> Result<UserSummary, AppError> {
        let hash = hash_blocking(user.password.clone()).await?;
        let roles: Vec<String> = user.roles.iter().map(|r| r.as_str().to_string()).collect();
        let row = self
            .db
            .create_user(&user.email, &user.name, &roles, Some(hash))
            .await
            .map_err(|e| match e {
                DbError::Duplicate(_) => AppError::Conflict(format!(
                    "An account with the email {} already exists.",
                    user.email
                )),
                DbError::Rejected("email") => {
                    AppError::invalid("email", "Enter an email address like name@hospital.org.")
                }
                other => internal(other),
            })?;
        self.audit(actor, "user.create", Some(row.email.clone()), client, "ok")
            .await;
        Ok(summary(&row))
    }

    /// The active staff member with this email (the clinician an API
    /// booking names); `None` for no one or a disabled account.
    pub async fn principal_by_email(&self, email: &str) -> Result<Option<Principal>, AppError> {
        let email = email.trim().to_lowercase();
        let user = self.db.user_by_email(&email).await.map_err(internal)?;
        Ok(user.filter(|u| !u.disabled).map(|u| principal(&u)))
    }

    /// For `visita admin reset-password`.
    pub async fn reset_password_by_email(&self, email: &str, new: &str) -> Result<(), AppError> {
        let email = email.trim().to_lowercase();
        let user = self
            .db
            .user_by_email(&email)
            .await
            .map_err(internal)?
            .ok_or_else(|| AppError::NotFound(format!("No account has the email {email}.")))?;
        self.set_password_and_end_sessions(&user.key(), new, None)
            .await?;
        self.audit(None, "user.reset_password", Some(email), None, "ok")
            .await;
        Ok(())
    }

    /// The session behind a cookie secret, if it is still valid. Idle or
    /// too-old sessions, and those of disabled users, are ended here.
    pub async fn resolve_session(&self, secret: &str) -> Result<Option<CurrentSession>, AppError> {
        if !token::looks_valid(secret) {
            return Ok(None);
        }
        let hash = token::digest(secret);
        let Some(session) = self.db.session_by_hash(&hash).await.map_err(internal)? else {
            return Ok(None);
        };
        let now = Utc::now();
        let idle = (now - session.last_seen).to_std().unwrap_or_default();
        let age = (now - session.created_at).to_std().unwrap_or_default();
        let user_key = crate::db::record_key(&session.user);
        let user = self.db.user_by_key(&user_key).await.map_err(internal)?;
        let valid_user = user.filter(|u| !u.disabled);
        let (Some(user), true) = (
            valid_user,
            idle < self.idle_timeout && age < ABSOLUTE_LIFETIME,
        ) else {
            self.db.delete_session(&hash).await.map_err(internal)?;
            return Ok(None);
        };
        // Touch well before the idle limit, even when the limit is short.
        if idle >= TOUCH_EVERY.min(self.idle_timeout / 2) {
            self.db.touch_session(&session.id).await.map_err(internal)?;
        }
        Ok(Some(CurrentSession {
            principal: principal(&user),
            secret: secret.to_string(),
            method: session.method,
        }))
    }

    /// Deletes the rows of sessions that expired without their browser
    /// coming back. Run periodically by `serve`.
    pub async fn sweep_stale_sessions(&self) -> Result<usize, AppError> {
        self.db
            .delete_stale_sessions(self.idle_timeout, ABSOLUTE_LIFETIME)
            .await
            .map_err(internal)
    }

    async fn set_password_and_end_sessions(
        &self,
        user_key: &str,
        new: &str,
        keep_secret: Option<&str>,
    ) -> Result<(), AppError> {
        let hash = hash_blocking(new.to_string()).await?;
        if !self
            .db
            .set_password_hash(user_key, hash)
            .await
            .map_err(internal)?
        {
            return Err(AppError::NotFound("This account no longer exists.".into()));
        }
        let keep = keep_secret.map(token::digest);
        self.db
            .delete_sessions_of(user_key, keep.as_deref())
            .await
            .map_err(internal)
    }

    /// Records an event; a failure to record is logged, never shown.
    async fn audit(
        &self,
        actor: Option<&Principal>,
        action: &'static str,
        target: Option<String>,
        client: Option<&ClientInfo>,
        outcome: &'static str,
    ) {
        let entry = AuditEntry {
            actor_key: actor.map(|p| p.user_id.0.clone()),
            actor_email: actor.map(|p| p.email.clone()),
            action,
            target,
            ip: client.and_then(|c| c.ip).map(|ip| ip.to_string()),
            outcome,
            actor_participant: None,
        };
        self.db.audit_or_log(entry).await;
    }

    /// Counts this attempt against the account and the address, or refuses
    /// it when either has used up its allowance.
    fn reserve_attempt(
        &self,
        account_key: &str,
        address_key: Option<&str>,
        now: Instant,
    ) -> Result<(), AppError> {
        let limited = |wait: Duration| AppError::RateLimited {
            minutes: wait.as_secs().div_ceil(60).max(1),
        };
        self.by_account.reserve(account_key, now).map_err(limited)?;
        if let Some(key) = address_key
            && let Err(wait) = self.by_address.reserve(key, now)
        {
            self.by_account.release(account_key, now);
            return Err(limited(wait));
        }
        Ok(())
    }
}

impl AccountService {
    /// A new staff session for `user`, whatever proved who they are; the
    /// cookie that carries it.
    async fn open_session(
        &self,
        user: &crate::db::UserRow,
        client: &ClientInfo,
        method: &str,
    ) -> Result<CookieUpdate, crate::db::DbError> {
        let secret = token::generate();
        self.db
            .create_session(
                &token::digest(&secret),
                &user.key(),
                client.ip.map(|ip| ip.to_string()),
                client.user_agent.clone(),
                method,
            )
            .await?;
        Ok(CookieUpdate(self.cookie.set(&secret)))
    }

    /// A session for the person a portal token names, or why not; every
    /// outcome is audited (`login.portal`).
    pub async fn sign_in_with_portal(
        &self,
        portal: &crate::auth::portal::PortalJwt,
        token: &str,
        client: &ClientInfo,
    ) -> Result<CookieUpdate, crate::auth::portal::PortalRefusal> {
        use crate::auth::portal::PortalRefusal;
        let outcome = async {
            let (claims, email) = portal.verify(token).await?;
            // Kept a little past expiry: the check allows 60 s of skew.
            let until = chrono::DateTime::from_timestamp(claims.exp as i64 + 120, 0)
                .unwrap_or_else(chrono::Utc::now);
            let fresh = self
                .db
                .use_portal_token(&token::digest(&claims.jti), until)
                .await
                .map_err(|error| {
                    tracing::error!(%error, "portal sign-in: database error");
                    PortalRefusal::Malformed
                })?;
            if !fresh {
                return Err(PortalRefusal::Replayed);
            }
            let config = portal.config();
            let text = |name: &str| {
                claims
                    .rest
                    .get(name)
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            };
            let groups = match claims.rest.get(&config.groups_claim) {
                Some(serde_json::Value::Array(items)) => items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
                Some(serde_json::Value::String(one)) => vec![one.clone()],
                _ => Vec::new(),
            };
            let identity = ExternalIdentity {
                method: "portal".into(),
                subject: claims.sub.clone(),
                email: crate::auth::external::normalise_email(&email).unwrap_or_default(),
                name: text(&config.name_claim),
                groups,
            };
            // The portal vouches for its people's addresses.
            let user = self
                .external_account(&identity, None, &config.mapping)
                .await
                .map_err(|refusal| match refusal {
                    ExternalRefusal::NoAccount(_) => PortalRefusal::NoAccount,
                    other => PortalRefusal::Account(other),
                })?;
            Ok((user, email))
        }
        .await;
        match outcome {
            Err(refusal) => {
                self.audit(
                    None,
                    "login.portal",
                    Some(refusal.code().to_string()),
                    Some(client),
                    "denied",
                )
                .await;
                Err(refusal)
            }
            Ok((user, email)) => {
                let cookie = self
                    .open_session(&user, client, "portal")
                    .await
                    .map_err(|error| {
                        tracing::error!(%error, "portal sign-in: database error");
                        PortalRefusal::Malformed
                    })?;
                self.audit(
                    Some(&principal(&user)),
                    "login.portal",
                    Some(email),
                    Some(client),
                    "ok",
                )
                .await;
                Ok(cookie)
            }
        }
    }
}

impl AccountService {
    /// A session for a person an identity provider vouched for (`action`
    /// is the audit trail's name for the method, `login.oidc`…): the
    /// account linked to them at that provider, else the one with their
    /// email (never an unverified one), else a new one when the provider
    /// allows it. When the provider's groups decide roles, the account gets
    /// exactly those. Every outcome is audited.
    pub async fn sign_in_external(
        &self,
        identity: &ExternalIdentity,
        email_verified: Option<bool>,
        mapping: &RoleMapping,
        client: &ClientInfo,
        action: &'static str,
    ) -> Result<CookieUpdate, ExternalRefusal> {
        let outcome = self
            .external_account(identity, email_verified, mapping)
            .await;
        let user = match outcome {
            Ok(user) => user,
            Err(refusal) => {
                self.audit(
                    None,
                    action,
                    Some(format!(
                        "{} {}: {}",
                        identity.method,
                        identity.email,
                        refusal.code()
                    )),
                    Some(client),
                    "denied",
                )
                .await;
                return Err(refusal);
            }
        };
        let cookie = self
            .open_session(&user, client, &identity.method)
            .await
            .map_err(|error| {
                tracing::error!(%error, "single sign-on: database error");
                ExternalRefusal::Internal
            })?;
        self.audit(
            Some(&principal(&user)),
            action,
            Some(format!("{} {}", identity.method, user.email)),
            Some(client),
            "ok",
        )
        .await;
        Ok(cookie)
    }

    /// An account as it is now (after the provider's groups changed it).
    async fn fresh_user(&self, key: &str) -> Result<UserRow, ExternalRefusal> {
        match self.db.user_by_key(key).await {
            Ok(Some(user)) => Ok(user),
            Ok(None) => Err(ExternalRefusal::Internal),
            Err(error) => {
                tracing::error!(%error, "single sign-on: database error");
                Err(ExternalRefusal::Internal)
            }
        }
    }

    /// The account a vouched-for person signs in to, created or brought in
    /// line with the provider's groups as the mapping says.
    async fn external_account(
        &self,
        identity: &ExternalIdentity,
        email_verified: Option<bool>,
        mapping: &RoleMapping,
    ) -> Result<UserRow, ExternalRefusal> {
        let db_error = |error: DbError| {
            tracing::error!(%error, "single sign-on: database error");
            ExternalRefusal::Internal
        };
        let mut user = self
            .db
            .user_by_identity(&identity.method, &identity.subject)
            .await
            .map_err(db_error)?;
        if user.is_none() {
            if identity.email.is_empty() {
                return Err(ExternalRefusal::NoEmail);
            }
            // An address the provider has not verified could be anyone's.
            if email_verified == Some(false) {
                return Err(ExternalRefusal::EmailUnverified);
            }
            user = self
                .db
                .user_by_email(&identity.email)
                .await
                .map_err(db_error)?;
        }
        let mapped = mapping.map(&identity.groups);
        let queues = (!mapping.queues.is_empty()).then_some(());
        let user = match (user, mapped) {
            (Some(user), _) if user.disabled => return Err(ExternalRefusal::Disabled),
            (_, Mapped::NoRole) => return Err(ExternalRefusal::NoRole),
            (Some(user), Mapped::Unmanaged { .. }) => user,
            (
                Some(user),
                Mapped::Managed {
                    roles,
                    queues: names,
                },
            ) => {
                let roles: Vec<String> = roles.iter().map(|r| r.as_str().to_string()).collect();
                if user.roles != roles || queues.is_some() {
                    self.db
                        .set_roles_and_queues(&user.key(), &roles, queues.map(|_| names.as_slice()))
                        .await
                        .map_err(db_error)?;
                    if user.roles != roles {
                        let target = granted(&user.email, &roles, identity);
                        self.audit(None, "user.roles", Some(target), None, "ok")
                            .await;
                    }
                }
                self.fresh_user(&user.key()).await?
            }
            (None, mapped) => {
                let (roles, names) = match mapped {
                    Mapped::Managed { roles, queues } if mapping.create_accounts => (roles, queues),
                    Mapped::Unmanaged { new_account_roles } if !new_account_roles.is_empty() => {
                        (new_account_roles, Vec::new())
                    }
                    _ => return Err(ExternalRefusal::NoAccount(identity.email.clone())),
                };
                let roles: Vec<String> = roles.iter().map(|r| r.as_str().to_string()).collect();
                let name = identity
                    .name
                    .clone()
                    .unwrap_or_else(|| identity.email.split('@').next().unwrap_or("").to_string());
                let name: String = name.trim().chars().take(120).collect();
                let created = self
                    .db
                    .create_user(&identity.email, &name, &roles, None)
                    .await
                    .map_err(db_error)?;
                if queues.is_some() {
                    self.db
                        .set_roles_and_queues(&created.key(), &roles, Some(&names))
                        .await
                        .map_err(db_error)?;
                }
                let target = granted(&created.email, &roles, identity);
                self.audit(None, "user.create", Some(target), None, "ok")
                    .await;
                self.fresh_user(&created.key()).await?
            }
        };
        self.db
            .link_identity(&identity.method, &identity.subject, &user.key())
            .await
            .map_err(db_error)?;
        Ok(user)
    }
}

/// The audit trail's words for roles a provider gave an account.
fn granted(email: &str, roles: &[String], identity: &ExternalIdentity) -> String {
    format!("{email} {} from {}", roles.join(","), identity.method)
}

/// How long a password sign-in waits for its second step.
const SECOND_FACTOR_MINUTES: i64 = 10;
/// Wrong codes tolerated for one pending sign-in.
const SECOND_FACTOR_TRIES: u32 = 5;
/// The field name authenticator secrets are sealed under.
const TOTP_FIELD: &str = "totp_secret";

/// A password sign-in waiting for its second step (kept in `sso_flow`).
#[derive(serde::Serialize, serde::Deserialize)]
struct PendingSecondFactor {
    user: String,
    /// The new authenticator's secret, sealed, while one is set up.
    new_secret: Option<String>,
    tries: u32,
}

impl AccountService {
    fn secrets(&self) -> Result<&SecretBox, AppError> {
        self.secrets.as_ref().ok_or(AppError::Internal)
    }

    /// Records a password sign-in that waits for its code; the cookie
    /// that carries it.
    async fn pend_second_factor(
        &self,
        user: &UserRow,
        setup: bool,
    ) -> Result<CookieUpdate, AppError> {
        let new_secret = if setup {
            Some(
                self.secrets()?
                    .seal(TOTP_FIELD, &totp::base32(&totp::new_secret())),
            )
        } else {
            None
        };
        let token = token::generate();
        self.save_pending(
            &token,
            &PendingSecondFactor {
                user: user.key(),
                new_secret,
                tries: 0,
            },
        )
        .await?;
        Ok(CookieUpdate(format!(
            "{}; Max-Age={}",
            self.second_factor_cookie.set(&token),
            SECOND_FACTOR_MINUTES * 60
        )))
    }

    async fn save_pending(
        &self,
        token: &str,
        pending: &PendingSecondFactor,
    ) -> Result<(), AppError> {
        let row = crate::db::SsoFlowRow {
            method: "totp".into(),
            data: serde_json::to_string(pending).map_err(|_| AppError::Internal)?,
            expires_at: Utc::now() + chrono::Duration::minutes(SECOND_FACTOR_MINUTES),
        };
        self.db
            .create_sso_flow(&token::digest(token), row)
            .await
            .map_err(internal)
    }

    /// The pending sign-in of this browser, and its cookie's secret.
    async fn pending(
        &self,
        headers: &http::HeaderMap,
        take: bool,
    ) -> Result<(String, PendingSecondFactor), AppError> {
        let expired = || {
            AppError::Refused(
                "Your sign-in waited too long for its code. Sign in again with your password."
                    .into(),
            )
        };
        let token = self
            .second_factor_cookie
            .read(headers)
            .filter(|t| token::looks_valid(t))
            .ok_or_else(expired)?;
        let key = token::digest(&token);
        let row = if take {
            self.db.take_sso_flow(&key).await
        } else {
            self.db.peek_sso_flow(&key).await
        }
        .map_err(internal)?
        .filter(|row| row.method == "totp")
        .ok_or_else(expired)?;
        let pending = serde_json::from_str(&row.data).map_err(|_| expired())?;
        Ok((token, pending))
    }

    /// Removes an account's authenticator (it lost its phone): its next
    /// password sign-in sets up a new one when one is required.
    pub async fn reset_second_factor_by_email(&self, email: &str) -> Result<(), AppError> {
        let user = self
            .db
            .user_by_email(email)
            .await
            .map_err(internal)?
            .ok_or_else(|| AppError::NotFound(format!("No account has the email {email}.")))?;
        self.db
            .set_totp(&user.key(), None, None)
            .await
            .map_err(internal)?;
        self.audit(None, "user.totp_reset", Some(user.email), None, "ok")
            .await;
        Ok(())
    }
}

impl AccountService {
    /// The sign-in form's answer when the directory decides (`login.ldap`
    /// in the audit trail).
    #[allow(clippy::too_many_arguments)]
    async fn login_with_directory(
        &self,
        directory: &LdapDirectory,
        login: &str,
        password: &str,
        client: &ClientInfo,
        account_key: &str,
        address_key: Option<&str>,
        now: Instant,
    ) -> Result<CookieUpdate, AppError> {
        let identity = match directory.authenticate(login, password).await {
            Ok(identity) => identity,
            Err(refusal) => {
                let target = Some(format!("{login}: {}", refusal.code()));
                if refusal == LdapRefusal::Unavailable {
                    // Not the person's failure: the attempt is given back.
                    self.by_account.release(account_key, now);
                    if let Some(key) = address_key {
                        self.by_address.release(key, now);
                    }
                    self.audit(None, "login.ldap", target, Some(client), "denied")
                        .await;
                    return Err(AppError::Upstream(
                        "The hospital directory cannot be reached right now. Try again in a moment.".into(),
                    ));
                }
                self.audit(None, "login.ldap", target, Some(client), "failed")
                    .await;
                return Err(AppError::InvalidCredentials);
            }
        };
        // The directory's addresses are the hospital's own: trusted.
        let user = match self
            .external_account(&identity, None, &directory.config.mapping)
            .await
        {
            Ok(user) => user,
            Err(refusal) => {
                self.audit(
                    None,
                    "login.ldap",
                    Some(format!("ldap {}: {}", identity.email, refusal.code())),
                    Some(client),
                    "denied",
                )
                .await;
                return Err(match refusal {
                    ExternalRefusal::Internal => AppError::Internal,
                    other => AppError::Refused(format!("You could not be signed in: {other}.")),
                });
            }
        };
        self.by_account.clear(account_key);
        if let Some(key) = address_key {
            self.by_address.release(key, now);
        }
        let cookie = self
            .open_session(&user, client, "ldap")
            .await
            .map_err(internal)?;
        self.audit(
            Some(&principal(&user)),
            "login.ldap",
            Some(format!("ldap {}", user.email)),
            Some(client),
            "ok",
        )
        .await;
        Ok(cookie)
    }
}

#[async_trait]
impl Accounts for AccountService {
    async fn login(
        &self,
        email: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<LoginStep, AppError> {
        let email = email.trim().to_lowercase();
        if password.chars().count() > app::domain::MAX_PASSWORD_CHARS || email.len() > 254 {
            return Err(AppError::InvalidCredentials);
        }
        let now = Instant::now();
        let account_key = format!("account:{email}");
        let address_key = client.ip.map(crate::http::client_ip::rate_limit_key);
        let target = Some(email.clone());
        if let Err(limited) = self.reserve_attempt(&account_key, address_key.as_deref(), now) {
            self.audit(None, "login", target, Some(client), "denied")
                .await;
            return Err(limited);
        }
        let user = self.db.user_by_email(&email).await.map_err(internal)?;
        // Without a Visita password, the directory (when set up) decides.
        if let Some(directory) = &self.ldap
            && user.as_ref().is_none_or(|u| u.password_hash.is_none())
        {
            return self
                .login_with_directory(
                    directory,
                    &email,
                    password,
                    client,
                    &account_key,
                    address_key.as_deref(),
                    now,
                )
                .await
                .map(LoginStep::SignedIn);
        }
        let matches = match user.as_ref().and_then(|u| u.password_hash.clone()) {
            Some(hash) => verify_blocking(password.to_string(), hash).await?,
            None => {
                let password = password.to_string();
                let _slot = ARGON2_SLOTS
                    .acquire()
                    .await
                    .map_err(|_| AppError::Internal)?;
                let _ = tokio::task::spawn_blocking(move || {
                    password::verify_against_nothing(&password)
                })
                .await;
                false
            }
        };
        let Some(user) = user.filter(|_| matches) else {
            // The reservations stay: they are this failure.
            self.audit(None, "login", target, Some(client), "failed")
                .await;
            return Err(AppError::InvalidCredentials);
        };
        if user.disabled {
            self.audit(None, "login", target, Some(client), "denied")
                .await;
            return Err(AppError::Forbidden);
        }
        let allowed = match self.password_login {
            PasswordLogin::Everyone => true,
            PasswordLogin::AdminsOnly => principal(&user).has_role(Role::Admin),
            PasswordLogin::Off => false,
        };
        if !allowed {
            self.audit(
                None,
                "login",
                Some(format!("{email}: password_login_off")),
                Some(client),
                "denied",
            )
            .await;
            return Err(AppError::Refused(
                "Signing in with a Visita password is turned off here. Use your organisation's sign-in button above.".into(),
            ));
        }
        self.by_account.clear(&account_key);
        if let Some(key) = &address_key {
            self.by_address.release(key, now);
        }
        // A second step when the account has an authenticator, or must
        // have one (administrators, unless the installation says otherwise).
        let must_set_up = self.totp_admins_required && principal(&user).has_role(Role::Admin);
        if user.totp_secret.is_some() || must_set_up {
            let setup = user.totp_secret.is_none();
            let pending = self.pend_second_factor(&user, setup).await?;
            self.audit(
                Some(&principal(&user)),
                "login.password",
                target,
                Some(client),
                "ok",
            )
            .await;
            return Ok(LoginStep::SecondFactor { pending, setup });
        }
        let cookie = self
            .open_session(&user, client, "password")
            .await
            .map_err(internal)?;
        self.audit(Some(&principal(&user)), "login", target, Some(client), "ok")
            .await;
        Ok(LoginStep::SignedIn(cookie))
    }

    async fn finish_second_factor(
        &self,
        headers: &http::HeaderMap,
        code: &str,
        client: &ClientInfo,
    ) -> Result<(CookieUpdate, CookieUpdate), AppError> {
        let (token, mut pending) = self.pending(headers, true).await?;
        let user = self
            .db
            .user_by_key(&pending.user)
            .await
            .map_err(internal)?
            .filter(|u| !u.disabled)
            .ok_or(AppError::Forbidden)?;
        let sealed = pending
            .new_secret
            .clone()
            .or_else(|| user.totp_secret.clone())
            .ok_or(AppError::Internal)?;
        let secret = self
            .secrets()?
            .open(TOTP_FIELD, &sealed)
            .ok()
            .and_then(|s| totp::from_base32(&s))
            .ok_or(AppError::Internal)?;
        let now_step = totp::step_of(Utc::now().timestamp().max(0) as u64);
        let last = user.totp_last_step.and_then(|s| u64::try_from(s).ok());
        let Some(step) = totp::verify(&secret, code, now_step, last) else {
            pending.tries += 1;
            let target = Some(user.email.clone());
            if pending.tries >= SECOND_FACTOR_TRIES {
                self.audit(
                    Some(&principal(&user)),
                    "login.totp",
                    target,
                    Some(client),
                    "denied",
                )
                .await;
                return Err(AppError::Refused(
                    "Too many wrong codes. Sign in again with your password.".into(),
                ));
            }
            self.save_pending(&token, &pending).await?;
            self.audit(
                Some(&principal(&user)),
                "login.totp",
                target,
                Some(client),
                "failed",
            )
            .await;
            return Err(AppError::invalid(
                "code",
                "This code is not right, or was already used. Type the code your app shows now.",
            ));
        };
        self.db
            .set_totp(&user.key(), Some(sealed), Some(step as i64))
            .await
            .map_err(internal)?;
        if pending.new_secret.is_some() {
            self.audit(
                Some(&principal(&user)),
                "user.totp_set",
                Some(user.email.clone()),
                Some(client),
                "ok",
            )
            .await;
        }
        let cookie = self
            .open_session(&user, client, "password+totp")
            .await
            .map_err(internal)?;
        self.audit(
            Some(&principal(&user)),
            "login",
            Some(user.email.clone()),
            Some(client),
            "ok",
        )
        .await;
        Ok((cookie, CookieUpdate(self.second_factor_cookie.clear())))
    }

    async fn begin_second_factor(
        &self,
        who: &Principal,
        client: &ClientInfo,
    ) -> Result<CookieUpdate, AppError> {
        let user = self
            .db
            .user_by_key(&who.user_id.0)
            .await
            .map_err(internal)?
            .filter(|u| !u.disabled)
            .ok_or(AppError::Forbidden)?;
        if user.password_hash.is_none() {
            return Err(AppError::Refused(
                "You sign in through your organisation: its own second step protects your account."
                    .into(),
            ));
        }
        self.audit(
            Some(who),
            "user.totp_begin",
            Some(user.email.clone()),
            Some(client),
            "ok",
        )
        .await;
        self.pend_second_factor(&user, true).await
    }

    async fn second_factor_setup(
        &self,
        headers: &http::HeaderMap,
    ) -> Result<SecondFactorSetup, AppError> {
        let (_, pending) = self.pending(headers, false).await?;
        let sealed = pending.new_secret.ok_or_else(|| {
            AppError::Refused("Your account already has an authenticator: type its code.".into())
        })?;
        let secret = self
            .secrets()?
            .open(TOTP_FIELD, &sealed)
            .map_err(|_| AppError::Internal)?;
        let user = self
            .db
            .user_by_key(&pending.user)
            .await
            .map_err(internal)?
            .ok_or(AppError::Forbidden)?;
        let bytes = totp::from_base32(&secret).ok_or(AppError::Internal)?;
        let uri = totp::provisioning_uri("Visita", &user.email, &bytes);
        let qr_svg = qrcode::QrCode::new(uri.as_bytes())
            .map_err(|_| AppError::Internal)?
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(220, 220)
            .build();
        let grouped = secret
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        Ok(SecondFactorSetup {
            secret: grouped,
            qr_svg,
        })
    }

    async fn logout(
        &self,
        session: &CurrentSession,
        client: &ClientInfo,
    ) -> Result<SignedOut, AppError> {
        self.db
            .delete_session(&token::digest(&session.secret))
            .await
            .map_err(internal)?;
        self.audit(
            Some(&session.principal),
            "logout",
            session.method.clone(),
            Some(client),
            "ok",
        )
        .await;
        // Signed in at a provider: sign out there too, when it offers it.
        let provider = session
            .method
            .as_deref()
            .and_then(|m| m.strip_prefix("oidc:"))
            .and_then(|id| self.oidc_provider(id));
        let then = match provider {
            Some(provider) => provider.end_session_url().await,
            None => None,
        };
        Ok(SignedOut {
            cookie: CookieUpdate(self.cookie.clear()),
            then: then.unwrap_or_else(|| "/login".into()),
        })
    }

    async fn audit_log(
        &self,
        actor: &Principal,
        filter: &app::domain::AuditFilter,
        client: &ClientInfo,
    ) -> Result<Vec<app::domain::AuditEvent>, AppError> {
        let rows = self
            .db
            .audit_events(&filter.action, &filter.outcome, 200)
            .await
            .map_err(internal)?;
        self.audit(
            Some(actor),
            "audit.view",
            Some(
                format!("{}* {}", filter.action, filter.outcome)
                    .trim()
                    .to_string(),
            ),
            Some(client),
            "ok",
        )
        .await;
        Ok(rows
            .into_iter()
            .map(|row| app::domain::AuditEvent {
                at: row.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                action: row.action,
                actor: row
                    .actor_email
                    .or(row.actor_participant)
                    .or(row.actor_key.filter(|k| k.starts_with("api_key:")))
                    .unwrap_or_default(),
                target: row.target.unwrap_or_default(),
                ip: row.ip.unwrap_or_default(),
                outcome: row.outcome,
            })
            .collect())
    }

    fn sign_in_methods(&self) -> Vec<app::domain::SignInMethodInfo> {
        use app::domain::SignInMethodInfo;
        let pair = |k: &str, v: String| (k.to_string(), v);
        let mapping_details = |m: &RoleMapping| {
            let roles = m
                .roles
                .iter()
                .map(|(g, r)| format!("{g} → {}", r.as_str()))
                .collect::<Vec<_>>()
                .join("; ");
            vec![
                pair(
                    "Roles from groups",
                    if roles.is_empty() {
                        "none: accounts keep the roles given in Visita".into()
                    } else {
                        roles
                    },
                ),
                pair(
                    "New accounts",
                    if m.create_accounts {
                        "made at first sign-in".into()
                    } else {
                        "not made: an account must exist".into()
                    },
                ),
            ]
        };
        let password = match self.password_login {
            PasswordLogin::Everyone => "everyone",
            PasswordLogin::AdminsOnly => "administrators only",
            PasswordLogin::Off => "off",
        };
        let mut methods = vec![SignInMethodInfo {
            kind: "Password".into(),
            name: "Visita accounts".into(),
            details: vec![
                pair("Who may use it", password.into()),
                pair(
                    "Second step for administrators",
                    if self.totp_admins_required {
                        "required (authenticator app)"
                    } else {
                        "optional"
                    }
                    .into(),
                ),
            ],
            try_href: None,
            try_directory: false,
        }];
        for provider in &self.oidc {
            let mut details = vec![
                pair("Issuer", provider.config.issuer.clone()),
                pair("Client id", provider.config.client_id.clone()),
                pair("Button", provider.config.label.clone()),
                pair("Redirect URI", provider.redirect_uri()),
            ];
            details.extend(mapping_details(&provider.config.mapping));
            methods.push(SignInMethodInfo {
                kind: "OpenID Connect".into(),
                name: provider.config.id.clone(),
                details,
                try_href: Some(format!("/auth/oidc/{}?try=1", provider.config.id)),
                try_directory: false,
            });
        }
        if let Some(saml) = &self.saml {
            let mut details = vec![
                pair(
                    "Identity provider metadata",
                    format!("{:?}", saml.config.metadata),
                ),
                pair("Visita's metadata", "/auth/saml/metadata".into()),
                pair(
                    "Unsolicited answers",
                    if saml.config.allow_idp_initiated {
                        "taken"
                    } else {
                        "refused"
                    }
                    .into(),
                ),
            ];
            details.extend(mapping_details(&saml.config.mapping));
            methods.push(SignInMethodInfo {
                kind: "SAML 2.0".into(),
                name: saml.config.label.clone(),
                details,
                try_href: Some("/auth/saml?try=1".into()),
                try_directory: false,
            });
        }
        if let Some(directory) = &self.ldap {
            let c = &directory.config;
            let mut details = vec![
                pair(
                    "Server",
                    format!("{}{}", c.url, if c.starttls { " (StartTLS)" } else { "" }),
                ),
                pair("Service account", c.bind_dn.clone()),
                pair("People under", c.user_base.clone()),
                pair("Groups under", c.group_base.clone()),
                pair("Nested groups", format!("{:?}", c.group_search)),
            ];
            details.extend(mapping_details(&c.mapping));
            methods.push(SignInMethodInfo {
                kind: "LDAP".into(),
                name: c.url.clone(),
                details,
                try_href: None,
                try_directory: true,
            });
        }
        if let Some((issuer, algorithm)) = &self.portal {
            methods.push(SignInMethodInfo {
                kind: "Portal JWT".into(),
                name: issuer.clone(),
                details: vec![
                    pair("Algorithm", algorithm.clone()),
                    pair("Sign-in link", "/auth/jwt?token=…".into()),
                ],
                try_href: None,
                try_directory: false,
            });
        }
        methods
    }

    async fn try_directory(
        &self,
        who: &Principal,
        login: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<Vec<(String, String)>, AppError> {
        let directory = self
            .ldap
            .as_ref()
            .ok_or_else(|| AppError::NotFound("No directory is set up.".into()))?;
        let outcome = directory.authenticate(login, password).await;
        self.audit(
            Some(who),
            "sso.try",
            Some(format!("ldap {login}")),
            Some(client),
            if outcome.is_ok() { "ok" } else { "failed" },
        )
        .await;
        match outcome {
            Ok(identity) => Ok(crate::auth::external::try_report(
                &identity,
                &directory.config.mapping,
                vec![],
            )),
            Err(refusal) => Err(AppError::Refused(format!(
                "The directory did not sign {login} in: {refusal}."
            ))),
        }
    }

    fn sign_in_options(&self) -> app::domain::SignInChoices {
        app::domain::SignInChoices {
            providers: self
                .oidc
                .iter()
                .map(|p| app::domain::SignInOption {
                    label: p.config.label.clone(),
                    href: format!("/auth/oidc/{}", p.config.id),
                })
                .chain(self.saml.iter().map(|s| app::domain::SignInOption {
                    label: s.config.label.clone(),
                    href: "/auth/saml".into(),
                }))
                .collect(),
            directory: self.ldap.is_some(),
            password_form: self.password_login != PasswordLogin::Off || self.ldap.is_some(),
        }
    }

    async fn list_users(&self, actor: &Principal) -> Result<Vec<UserSummary>, AppError> {
        let rows = self.db.list_users().await.map_err(internal)?;
        self.audit(Some(actor), "user.list", None, None, "ok").await;
        Ok(rows.iter().map(summary).collect())
    }

    async fn list_queues(&self, actor: &Principal) -> Result<Vec<QueueSummary>, AppError> {
        let rows = self.db.all_queues().await.map_err(internal)?;
        self.audit(Some(actor), "queue.list", None, None, "ok")
            .await;
        Ok(rows
            .into_iter()
            .map(|q| QueueSummary {
                id: QueueId(crate::db::record_key(&q.id)),
                name: q.name,
            })
            .collect())
    }

    async fn create_queue(
        &self,
        actor: &Principal,
        name: &str,
        client: &ClientInfo,
    ) -> Result<QueueSummary, AppError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 80 {
            return Err(AppError::invalid(
                "name",
                "Enter a queue name of 1 to 80 characters.",
            ));
        }
        let row = self.db.create_queue(name).await.map_err(|e| match e {
            DbError::Duplicate(_) => {
                AppError::Conflict(format!("A queue named {name} already exists."))
            }
            other => internal(other),
        })?;
        let id = QueueId(crate::db::record_key(&row.id));
        self.audit(
            Some(actor),
            "queue.create",
            Some(format!("queue:{id}")),
            Some(client),
            "ok",
        )
        .await;
        Ok(QueueSummary { id, name: row.name })
    }

    async fn set_queue_members(
        &self,
        actor: &Principal,
        queue: &QueueId,
        members: &[UserId],
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        if self
            .db
            .queues_by_keys(std::slice::from_ref(&queue.0))
            .await
            .map_err(internal)?
            .is_empty()
        {
            return Err(AppError::NotFound("This queue does not exist.".into()));
        }
        let keys: Vec<String> = members.iter().map(|m| m.0.clone()).collect();
        self.db
            .set_queue_members(&queue.0, &keys)
            .await
            .map_err(internal)?;
        self.audit(
            Some(actor),
            "queue.members",
            Some(format!("queue:{queue} ({} people)", keys.len())),
            Some(client),
            "ok",
        )
        .await;
        Ok(())
    }

    async fn create_user(
        &self,
        actor: &Principal,
        user: NewUser,
        client: &ClientInfo,
    ) -> Result<UserSummary, AppError> {
        self.create_user_unchecked(user, Some(actor), Some(client))
            .await
    }

    async fn list_translator_orgs(
        &self,
        actor: &Principal,
    ) -> Result<Vec<TranslatorOrgSummary>, AppError> {
        let rows = self.db.all_translator_orgs().await.map_err(internal)?;
        self.audit(Some(actor), "translator_org.list", None, None, "ok")
            .await;
        Ok(rows.into_iter().map(org_summary).collect())
    }

    async fn create_translator_org(
        &self,
        actor: &Principal,
        name: &str,
        languages: &[String],
        client: &ClientInfo,
    ) -> Result<TranslatorOrgSummary, AppError> {
        let row = self
            .db
            .create_translator_org(name, languages)
            .await
            .map_err(|e| match e {
                DbError::Duplicate(_) => AppError::Conflict(format!(
                    "A translator organisation named {name} already exists."
                )),
                other => internal(other),
            })?;
        let created = org_summary(row);
        self.audit(
            Some(actor),
            "translator_org.create",
            Some(format!(
                "translator_org:{} {}",
                created.id,
                languages.join(",")
            )),
            Some(client),
            "ok",
        )
        .await;
        Ok(created)
    }

    async fn set_translator_org_members(
        &self,
        actor: &Principal,
        org: &str,
        members: &[UserId],
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        if !self.db.translator_org_exists(org).await.map_err(internal)? {
            return Err(AppError::NotFound(
                "This translator organisation does not exist.".into(),
            ));
        }
        let keys: Vec<String> = members.iter().map(|m| m.0.clone()).collect();
        self.db
            .set_translator_org_members(org, &keys)
            .await
            .map_err(internal)?;
        self.audit(
            Some(actor),
            "translator_org.members",
            Some(format!("translator_org:{org} ({} people)", keys.len())),
            Some(client),
            "ok",
        )
        .await;
        Ok(())
    }

    async fn set_disabled(
        &self,
        actor: &Principal,
        user: &UserId,
        disabled: bool,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        if !self
            .db
            .set_user_disabled(&user.0, disabled)
            .await
            .map_err(internal)?
        {
            return Err(AppError::NotFound("This account no longer exists.".into()));
        }
        if disabled {
            self.db
                .delete_sessions_of(&user.0, None)
                .await
                .map_err(internal)?;
        }
        let action = if disabled {
            "user.disable"
        } else {
            "user.enable"
        };
        self.audit(
            Some(actor),
            action,
            Some(user.0.clone()),
            Some(client),
            "ok",
        )
        .await;
        Ok(())
    }

    async fn reset_password(
        &self,
        actor: &Principal,
        user: &UserId,
        new: &str,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        self.set_password_and_end_sessions(&user.0, new, None)
            .await?;
        self.audit(
            Some(actor),
            "user.reset_password",
            Some(user.0.clone()),
            Some(client),
            "ok",
        )
        .await;
        Ok(())
    }

    async fn change_own_password(
        &self,
        session: &CurrentSession,
        current: &str,
        new: &str,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        let me = &session.principal;
        let user = self
            .db
            .user_by_key(&me.user_id.0)
            .await
            .map_err(internal)?
            .ok_or(AppError::NotSignedIn)?;
        let ok = match user.password_hash.clone() {
            Some(hash) => verify_blocking(current.to_string(), hash).await?,
            None => false,
        };
        if !ok {
            self.audit(
                Some(me),
                "user.change_password",
                None,
                Some(client),
                "failed",
            )
            .await;
            return Err(AppError::invalid(
                "current",
                "Your current password is not right.",
            ));
        }
        self.set_password_and_end_sessions(&me.user_id.0, new, Some(&session.secret))
            .await?;
        self.audit(Some(me), "user.change_password", None, Some(client), "ok")
            .await;
        Ok(())
    }
}

pub(crate) fn principal(user: &UserRow) -> Principal {
    Principal {
        user_id: UserId(user.key()),
        email: user.email.clone(),
        name: user.name.clone(),
        roles: roles(user),
        queues: user
            .queues
            .iter()
            .map(|q| QueueId(crate::db::record_key(q)))
            .collect(),
        languages: user.languages.clone(),
    }
}

fn roles(user: &UserRow) -> Vec<Role> {
    user.roles.iter().filter_map(|r| r.parse().ok()).collect()
}

fn summary(user: &UserRow) -> UserSummary {
    UserSummary {
        id: UserId(user.key()),
        email: user.email.clone(),
        name: user.name.clone(),
        roles: roles(user),
        disabled: user.disabled,
        created_at: user.created_at.to_rfc3339(),
        queues: user
            .queues
            .iter()
            .map(|q| QueueId(crate::db::record_key(q)))
            .collect(),
        languages: user.languages.clone(),
        translator_orgs: user
            .translator_orgs
            .iter()
            .map(crate::db::record_key)
            .collect(),
    }
}

fn org_summary(row: TranslatorOrgRow) -> TranslatorOrgSummary {
    TranslatorOrgSummary {
        id: crate::db::record_key(&row.id),
        name: row.name,
        languages: row.languages,
    }
}

/// Logs the real cause once; the user reads a plain sentence.
fn internal(error: DbError) -> AppError {
    tracing::error!(%error, "database operation failed");
    AppError::Internal
}

/// argon2 takes tens of milliseconds of CPU and 19 MiB of memory per call:
/// run it off the async workers, and at most one per core at a time, so a
/// flood of sign-ins queues instead of exhausting memory.
static ARGON2_SLOTS: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
});

async fn hash_blocking(password: String) -> Result<String, AppError> {
    let _slot = ARGON2_SLOTS
        .acquire()
        .await
        .map_err(|_| AppError::Internal)?;
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(|_| AppError::Internal)
}

async fn verify_blocking(password: String, hash: String) -> Result<bool, AppError> {
    let _slot = ARGON2_SLOTS
        .acquire()
        .await
        .map_err(|_| AppError::Internal)?;
    tokio::task::spawn_blocking(move || password::verify(&password, &hash))
        .await
        .map_err(|_| AppError::Internal)
}
