//! The seam between `app` and `server` (feature `ssr` only). Server functions
//! are compiled here, but the database and the session store live in
//! `server`, which depends on `app` and not the other way round. So this
//! module declares what server functions need as traits; `server` implements
//! them and hands them in as Leptos context for every request.

use crate::authz::Caller;
use crate::consultation::{
    BookingOptions, ChatMessage, ConsultationId, ConsultationSummary, CreatedConsultation,
    InviteOutcome, IssuedLink, MessageId, NewConsultation, ParticipantId, QueueId, QueueSummary,
    RoomState, TranslationRequest, Visitor,
};
use crate::domain::{
    ApiKeySummary, CreatedApiKey, MessagingSettings, NewUser, OutboxEntry, Principal,
    TranslatorOrgSummary, UserId, UserSummary,
};
use crate::error::AppError;
use crate::i18n::Lang;
use async_trait::async_trait;
use leptos::prelude::*;
use std::net::IpAddr;
use std::sync::Arc;

/// Where a request came from, for rate limits and the audit trail.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

/// The signed-in staff member behind a request, put in the request's
/// extensions by the server's session middleware.
#[derive(Debug, Clone)]
pub struct CurrentSession {
    pub principal: Principal,
    /// The raw cookie secret, needed only to end this session.
    pub secret: String,
    /// How it was opened (`password`, `oidc:hospital`…), when known.
    pub method: Option<String>,
}

/// A session just opened or closed: the `Set-Cookie` value to send.
#[derive(Debug, Clone)]
pub struct CookieUpdate(pub String);

/// Where a correct password leads.
#[derive(Debug, Clone)]
pub enum LoginStep {
    /// Signed in: the session cookie.
    SignedIn(CookieUpdate),
    /// The code of an authenticator app is needed first (`setup`: the
    /// account must set one up now); the cookie keeps the sign-in pending.
    SecondFactor { pending: CookieUpdate, setup: bool },
}

/// A session ended: the cookie that clears it, and where the browser goes
/// next (the identity provider's sign-out, when the session came from one
/// that offers it; else the sign-in page).
#[derive(Debug, Clone)]
pub struct SignedOut {
    pub cookie: CookieUpdate,
    pub then: String,
}

/// Staff accounts and their sessions. Methods that change something take the
/// acting principal so the implementation can write the audit trail; the
/// authorization check itself happens in the server function, before the call.
#[async_trait]
pub trait Accounts: Send + Sync {
    /// Checks the password (with rate limits) and opens a session.
    async fn login(
        &self,
        email: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<LoginStep, AppError>;
    /// The second step of a pending password sign-in (its cookie is among
    /// `headers`): the session cookie, then the cookie that clears the
    /// pending one.
    async fn finish_second_factor(
        &self,
        headers: &http::HeaderMap,
        code: &str,
        client: &ClientInfo,
    ) -> Result<(CookieUpdate, CookieUpdate), AppError>;
    /// Starts setting up a signed-in person's authenticator (accounts with
    /// a password only): the cookie of the pending set-up.
    async fn begin_second_factor(
        &self,
        who: &Principal,
        client: &ClientInfo,
    ) -> Result<CookieUpdate, AppError>;
    /// What an account setting up its authenticator needs to see.
    async fn second_factor_setup(
        &self,
        headers: &http::HeaderMap,
    ) -> Result<crate::domain::SecondFactorSetup, AppError>;
    /// Ends the session whose secret is given.
    async fn logout(
        &self,
        session: &CurrentSession,
        client: &ClientInfo,
    ) -> Result<SignedOut, AppError>;
    /// The most recent events of the audit trail that match `filter`.
    async fn audit_log(
        &self,
        actor: &Principal,
        filter: &crate::domain::AuditFilter,
        client: &ClientInfo,
    ) -> Result<Vec<crate::domain::AuditEvent>, AppError>;
    /// Every configured way to sign in, for the administrators' console.
    fn sign_in_methods(&self) -> Vec<crate::domain::SignInMethodInfo>;
    /// "Try sign-in" against the directory: what it says about `login`
    /// and what Visita would make of it; nobody is signed in.
    async fn try_directory(
        &self,
        who: &Principal,
        login: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<Vec<(String, String)>, AppError>;
    /// The sign-in page's ways in besides the password form.
    fn sign_in_options(&self) -> crate::domain::SignInChoices;
    async fn list_users(&self, actor: &Principal) -> Result<Vec<UserSummary>, AppError>;
    async fn list_queues(&self, actor: &Principal) -> Result<Vec<QueueSummary>, AppError>;
    async fn create_queue(
        &self,
        actor: &Principal,
        name: &str,
        client: &ClientInfo,
    ) -> Result<QueueSummary, AppError>;
    /// Says exactly who works in `queue` (everyone else is taken out).
    async fn set_queue_members(
        &self,
        actor: &Principal,
        queue: &QueueId,
        members: &[UserId],
        client: &ClientInfo,
    ) -> Result<(), AppError>;
    async fn create_user(
        &self,
        actor: &Principal,
        user: NewUser,
        client: &ClientInfo,
    ) -> Result<UserSummary, AppError>;
    async fn list_translator_orgs(
        &self,
        actor: &Principal,
    ) -> Result<Vec<TranslatorOrgSummary>, AppError>;
    /// `languages` are checked codes, at least one.
    async fn create_translator_org(
        &self,
        actor: &Principal,
        name: &str,
        languages: &[String],
        client: &ClientInfo,
    ) -> Result<TranslatorOrgSummary, AppError>;
    /// Says exactly who belongs to `org`; their languages follow.
    async fn set_translator_org_members(
        &self,
        actor: &Principal,
        org: &str,
        members: &[UserId],
        client: &ClientInfo,
    ) -> Result<(), AppError>;
    async fn set_disabled(
        &self,
        actor: &Principal,
        user: &UserId,
        disabled: bool,
        client: &ClientInfo,
    ) -> Result<(), AppError>;
    /// Sets another person's password and ends all their sessions.
    async fn reset_password(
        &self,
        actor: &Principal,
        user: &UserId,
        password: &str,
        client: &ClientInfo,
    ) -> Result<(), AppError>;
    /// Checks the current password, sets the new one, ends the other sessions.
    async fn change_own_password(
        &self,
        session: &CurrentSession,
        current: &str,
        new: &str,
        client: &ClientInfo,
    ) -> Result<(), AppError>;
}

/// Consultations, their links, waiting rooms and chat. Every method is
/// given the caller and asks `authz::authorize` itself, because the answer
/// depends on facts (the consultation's queue, who is admitted) that only
/// the implementation reads.
#[async_trait]
pub trait Consultations: Send + Sync {
    /// The queues the caller may book in, and the clinic's time zone.
    async fn booking_options(&self, who: &Principal) -> Result<BookingOptions, AppError>;
    async fn create(
        &self,
        who: &Principal,
        booking: NewConsultation,
        client: &ClientInfo,
    ) -> Result<CreatedConsultation, AppError>;
    /// Today's and the coming week's consultations of every queue the
    /// caller works in.
    async fn day_list(&self, who: &Principal) -> Result<Vec<ConsultationSummary>, AppError>;
    /// A new link for one participant; the old one stops working at once.
    async fn reissue_link(
        &self,
        who: &Principal,
        participant: &ParticipantId,
        client: &ClientInfo,
    ) -> Result<IssuedLink, AppError>;
    /// Lets a waiting participant in; the clinician enters the room too.
    async fn admit(
        &self,
        caller: Caller<'_>,
        participant: &ParticipantId,
        client: &ClientInfo,
    ) -> Result<ConsultationId, AppError>;
    async fn set_auto_admit(
        &self,
        caller: Caller<'_>,
        consultation: &ConsultationId,
        on: bool,
        client: &ClientInfo,
    ) -> Result<(), AppError>;
    /// What an invite link shows, or why it shows nothing.
    async fn open_invite(&self, token: &str) -> Result<InviteOutcome, AppError>;
    /// Enters the waiting room through a link: opens a visitor session.
    async fn join(
        &self,
        token: &str,
        language: Option<Lang>,
        client: &ClientInfo,
    ) -> Result<(ConsultationId, CookieUpdate), AppError>;
    /// Leaves the waiting room (or the room); the link still works.
    async fn leave(&self, visitor: &Visitor, client: &ClientInfo) -> Result<(), AppError>;
    /// Goes back to the waiting room with the session already open.
    async fn rejoin(&self, visitor: &Visitor, client: &ClientInfo) -> Result<(), AppError>;
    /// The consultation as this caller's page shows it.
    async fn room(
        &self,
        caller: Caller<'_>,
        consultation: &ConsultationId,
        client: &ClientInfo,
    ) -> Result<RoomState, AppError>;
    async fn send_message(
        &self,
        caller: Caller<'_>,
        consultation: &ConsultationId,
        body: &str,
        client: &ClientInfo,
    ) -> Result<ChatMessage, AppError>;
    /// The chat after `after` (all of it when `None`), oldest first.
    async fn messages(
        &self,
        caller: Caller<'_>,
        consultation: &ConsultationId,
        after: Option<&MessageId>,
        client: &ClientInfo,
    ) -> Result<Vec<ChatMessage>, AppError>;
    /// The clinician's notes.
    async fn notes(
        &self,
        caller: Caller<'_>,
        consultation: &ConsultationId,
        client: &ClientInfo,
    ) -> Result<String, AppError>;
    async fn save_notes(
        &self,
        caller: Caller<'_>,
        consultation: &ConsultationId,
        notes: &str,
        client: &ClientInfo,
    ) -> Result<(), AppError>;
    /// A link for a guest (family, a colleague outside Visita).
    async fn invite_guest(
        &self,
        caller: Caller<'_>,
        consultation: &ConsultationId,
        name: &str,
        language: Lang,
        client: &ClientInfo,
    ) -> Result<IssuedLink, AppError>;
    /// Takes someone out; their link and sessions die at once.
    async fn remove_participant(
        &self,
        caller: Caller<'_>,
        participant: &ParticipantId,
        client: &ClientInfo,
    ) -> Result<(), AppError>;
    /// Asks every translator of `language` to join.
    async fn request_translator(
        &self,
        who: &Principal,
        consultation: &ConsultationId,
        language: &str,
        client: &ClientInfo,
    ) -> Result<(), AppError>;
    /// Open requests in the translator's languages.
    async fn translation_requests(
        &self,
        who: &Principal,
    ) -> Result<Vec<TranslationRequest>, AppError>;
    /// Takes a request (first come); the translator joins the consultation.
    async fn accept_translation(
        &self,
        who: &Principal,
        request: &str,
        client: &ClientInfo,
    ) -> Result<ConsultationId, AppError>;
    /// Notes that the caller has seen the chat up to `message`.
    async fn mark_read(
        &self,
        caller: Caller<'_>,
        consultation: &ConsultationId,
        message: &MessageId,
        client: &ClientInfo,
    ) -> Result<(), AppError>;
    /// Moves a consultation nobody has joined yet to another time; the
    /// patient is told at once and the reminders follow.
    async fn reschedule(
        &self,
        who: &Principal,
        consultation: &ConsultationId,
        scheduled_for: &str,
        clinician_timezone: &str,
        client: &ClientInfo,
    ) -> Result<(), AppError>;
    /// Sends the patient's invite again (a few times an hour at most).
    async fn resend_invite(
        &self,
        who: &Principal,
        consultation: &ConsultationId,
        client: &ClientInfo,
    ) -> Result<(), AppError>;
    /// Calls off a consultation not yet under way; its links stop working.
    async fn cancel(
        &self,
        who: &Principal,
        consultation: &ConsultationId,
        client: &ClientInfo,
    ) -> Result<(), AppError>;
    /// Ends the consultation for everyone; every link stops working.
    async fn close(
        &self,
        caller: Caller<'_>,
        consultation: &ConsultationId,
        client: &ClientInfo,
    ) -> Result<(), AppError>;
}

/// Email and text messages, for administrators. The server function has
/// checked the caller's role; the implementation writes the audit trail.
#[async_trait]
pub trait Messaging: Send + Sync {
    /// The effective set-up, secrets masked.
    fn settings(&self) -> MessagingSettings;
    /// What the `log` gateway kept, newest first.
    async fn outbox(
        &self,
        who: &Principal,
        client: &ClientInfo,
    ) -> Result<Vec<OutboxEntry>, AppError>;
    /// Sends a test now; the provider's answer, or its error in its words.
    async fn send_test(
        &self,
        who: &Principal,
        channel: &str,
        to: &str,
        client: &ClientInfo,
    ) -> Result<String, AppError>;
    /// Checks and saves the email and text-message set-up (keys of
    /// `channel_setup::FIELDS`; a secret left empty keeps its value,
    /// `forget_<key>` removes it); every node uses it within seconds.
    async fn save_setup(
        &self,
        who: &Principal,
        values: std::collections::BTreeMap<String, String>,
        client: &ClientInfo,
    ) -> Result<(), AppError>;
    /// Drops the console's set-up: the server's file and environment apply.
    async fn forget_setup(&self, who: &Principal, client: &ClientInfo) -> Result<(), AppError>;
}

/// The REST API's keys, for administrators (the server function has checked
/// the role; the implementation writes the audit trail).
#[async_trait]
pub trait ApiKeyAdmin: Send + Sync {
    async fn list(
        &self,
        who: &Principal,
        client: &ClientInfo,
    ) -> Result<Vec<ApiKeySummary>, AppError>;
    /// `scopes` by name (`consultations:write`…).
    async fn create(
        &self,
        who: &Principal,
        name: &str,
        scopes: Vec<String>,
        requests_per_minute: u32,
        client: &ClientInfo,
    ) -> Result<CreatedApiKey, AppError>;
    async fn revoke(&self, who: &Principal, id: &str, client: &ClientInfo) -> Result<(), AppError>;
}

/// Outgoing webhooks, for administrators: what is subscribed, the delivery
/// log, sending a delivery again, turning a subscription off.
#[async_trait]
pub trait WebhookAdmin: Send + Sync {
    async fn overview(
        &self,
        who: &Principal,
        client: &ClientInfo,
    ) -> Result<crate::domain::WebhooksOverview, AppError>;
    async fn replay(
        &self,
        who: &Principal,
        delivery: &str,
        client: &ClientInfo,
    ) -> Result<(), AppError>;
    async fn delete(
        &self,
        who: &Principal,
        webhook: &str,
        client: &ClientInfo,
    ) -> Result<(), AppError>;
}

/// Everything the server hands to server functions.
#[derive(Clone)]
pub struct Services {
    pub accounts: Arc<dyn Accounts>,
    pub consultations: Arc<dyn Consultations>,
    pub messaging: Arc<dyn Messaging>,
    pub api_keys: Arc<dyn ApiKeyAdmin>,
    pub webhooks: Arc<dyn WebhookAdmin>,
}

/// Someone who came in through an invite link, put in the request's
/// extensions by the server's session middleware.
#[derive(Debug, Clone)]
pub struct CurrentVisitor {
    pub visitor: Visitor,
    /// The raw cookie secret, needed only to end this session.
    pub secret: String,
}

/// What a server function starts with: the services, who is asking (if
/// anyone), and where from.
pub struct RequestCtx {
    pub services: Services,
    pub session: Option<CurrentSession>,
    pub visitor: Option<CurrentVisitor>,
    pub client: ClientInfo,
}

impl RequestCtx {
    /// The signed-in staff member, if any.
    pub fn principal(&self) -> Option<&Principal> {
        self.session.as_ref().map(|s| &s.principal)
    }

    /// The staff member as a caller of `authorize`.
    pub fn staff(&self) -> Option<Caller<'_>> {
        self.principal().map(Caller::Staff)
    }

    /// Who is asking about consultation `id`: the visitor whose place is in
    /// that consultation, else the staff member, else the other visitor
    /// (who will be refused).
    pub fn caller_for(&self, id: &ConsultationId) -> Option<Caller<'_>> {
        Caller::for_consultation(
            self.visitor.as_ref().map(|v| &v.visitor),
            self.principal(),
            id,
        )
    }

    /// Who runs a consultation from this page, for actions named by a
    /// participant: a visitor who hosts by link, else the staff member, else
    /// any visitor (whom the policy will refuse).
    pub fn host_caller(&self) -> Option<Caller<'_>> {
        let visitor = self.visitor.as_ref().map(|v| &v.visitor);
        match (visitor, self.principal()) {
            (Some(v), _) if v.role == crate::consultation::ParticipantRole::Host => {
                Some(Caller::Visitor(v))
            }
            (_, Some(p)) => Some(Caller::Staff(p)),
            (Some(v), None) => Some(Caller::Visitor(v)),
            (None, None) => None,
        }
    }

    /// The staff member, or `NotSignedIn`.
    pub fn require_principal(&self) -> Result<&Principal, AppError> {
        self.principal().ok_or(AppError::NotSignedIn)
    }

    /// The visitor, or `NotSignedIn`.
    pub fn require_visitor(&self) -> Result<&CurrentVisitor, AppError> {
        self.visitor.as_ref().ok_or(AppError::NotSignedIn)
    }

    /// The session, or `NotSignedIn`.
    pub fn require_session(&self) -> Result<&CurrentSession, AppError> {
        self.session.as_ref().ok_or(AppError::NotSignedIn)
    }
}

/// Reads the request context. Fails only if the server forgot to provide it.
pub fn ctx() -> Result<RequestCtx, AppError> {
    let services = use_context::<Services>().ok_or_else(|| {
        tracing::error!("server functions called without Services in context");
        AppError::Internal
    })?;
    let parts = use_context::<http::request::Parts>();
    let session = parts
        .as_ref()
        .and_then(|p| p.extensions.get::<CurrentSession>().cloned());
    let visitor = parts
        .as_ref()
        .and_then(|p| p.extensions.get::<CurrentVisitor>().cloned());
    let client = parts
        .as_ref()
        .and_then(|p| p.extensions.get::<ClientInfo>().cloned())
        .unwrap_or_default();
    Ok(RequestCtx {
        services,
        session,
        visitor,
        client,
    })
}

/// Turns the outcome of a server function into its HTTP answer: an error
/// sets the response status, so scripts and tests see 401/403/422/429.
/// A plain form post (no JavaScript) is left alone: leptos answers it with a
/// redirect back to the form, carrying the error, and that must stay a 302.
pub fn respond<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    if let Err(error) = &result
        && !is_plain_form_post()
        && let Some(response) = use_context::<leptos_axum::ResponseOptions>()
        && let Ok(status) = http::StatusCode::from_u16(error.status())
    {
        response.set_status(status);
    }
    result
}

fn is_plain_form_post() -> bool {
    use_context::<http::request::Parts>().is_some_and(|parts| {
        parts
            .headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"))
    })
}

/// Sends a `Set-Cookie` header with the server function's response.
pub fn set_cookie(update: CookieUpdate) {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>()
        && let Ok(value) = http::HeaderValue::from_str(&update.0)
    {
        response.append_header(http::header::SET_COOKIE, value);
    }
}

/// The request's headers (empty outside a request).
pub fn request_headers() -> http::HeaderMap {
    use_context::<http::request::Parts>()
        .map(|parts| parts.headers)
        .unwrap_or_default()
}

/// The first language of the request's `Accept-Language` that we speak.
pub fn accepted_language() -> Lang {
    use_context::<http::request::Parts>()
        .and_then(|parts| {
            parts
                .headers
                .get(http::header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::from_accept_language)
        })
        .unwrap_or_default()
}
