//! Email through an SMTP server with `lettre`: STARTTLS (port 587), TLS
//! from the first byte (465) or, for a relay on the same host or in tests,
//! plain; optional login; the sender and reply-to the hospital chose. Each
//! message has a text and an HTML part and, for a consultation at a set
//! time, its calendar file.

use super::delivery::{Receipt, SendError};
use crate::config::Secret;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;
use std::time::Duration;

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain, then upgraded with STARTTLS; refuses a server that cannot.
    StartTls,
    /// TLS from the first byte (SMTPS).
    Tls,
    /// No encryption: a relay on the same host or network only.
    None,
}

impl Security {
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "starttls" => Some(Self::StartTls),
            "tls" | "smtps" => Some(Self::Tls),
            "none" | "plain" | "off" => Some(Self::None),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// `Hôpital de la Tour <visio@hopital.example>`.
    pub from: Mailbox,
    pub reply_to: Option<Mailbox>,
    /// A CA certificate (PEM) to trust besides the system's, for a server
    /// with a certificate from the hospital's own authority.
    pub ca_file: Option<PathBuf>,
}

/// One email to send.
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// A calendar file: its name, its contents, and whether it cancels.
    pub calendar: Option<(String, String, bool)>,
    /// The Message-ID to give it (kept as the provider id).
    pub message_id: String,
}

pub struct Mailer {
    config: SmtpConfig,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mailer({}:{})", self.config.host, self.config.port)
    }
}

impl Mailer {
    pub fn new(config: SmtpConfig) -> Result<Self, String> {
        let tls = match config.security {
            Security::None => Tls::None,
            Security::StartTls => Tls::Required(tls_parameters(&config)?),
            Security::Tls => Tls::Wrapper(tls_parameters(&config)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            .port(config.port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(20)));
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose().to_string(),
            ));
        }
        Ok(Self {
            transport: builder.build(),
            config,
        })
    }

    pub fn from_address(&self) -> &Mailbox {
        &self.config.from
    }

    pub async fn send(&self, email: Email) -> Result<Receipt, SendError> {
        let to: Mailbox = email
            .to
            .parse()
            .map_err(|_| SendError::permanent(format!("{:?} is not an email address", email.to)))?;
        let mut builder = Message::builder()
            .from(self.config.from.clone())
            .to(to)
            .subject(email.subject)
            .message_id(Some(email.message_id.clone()));
        if let Some(reply_to) = &self.config.reply_to {
            builder = builder.reply_to(reply_to.clone());
        }
        let body = MultiPart::alternative_plain_html(email.text, email.html);
        let message = match email.calendar {
            None => builder.multipart(body),
            Some((name, ics, cancelled)) => {
                let method = if cancelled { "CANCEL" } else { "PUBLISH" };
                let kind =
                    ContentType::parse(&format!("text/calendar; charset=utf-8; method={method}"))
                        .map_err(|_| SendError::permanent("the calendar part could not be made"))?;
                let calendar: SinglePart = Attachment::new(name).body(ics, kind);
                builder.multipart(MultiPart::mixed().multipart(body).singlepart(calendar))
            }
        }
        .map_err(|e| SendError::permanent(format!("the email could not be made: {e}")))?;
        self.transport
            .send(message)
            .await
            .map_err(|e| smtp_error(&e))?;
        Ok(Receipt {
            provider_id: Some(email.message_id),
            outbox: None,
        })
    }

    /// Connects and says hello without sending, for the admin's check.
    pub async fn check(&self) -> Result<(), SendError> {
        match self.transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(SendError::transient("the email server did not answer")),
            Err(e) => Err(smtp_error(&e)),
        }
    }
}

fn tls_parameters(config: &SmtpConfig) -> Result<TlsParameters, String> {
    let mut builder = TlsParameters::builder(config.host.clone());
    if let Some(path) = &config.ca_file {
        let pem =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let cert = Certificate::from_pem(&pem)
            .map_err(|e| format!("{} is not a PEM certificate: {e}", path.display()))?;
        builder = builder.add_root_certificate(cert);
    }
    builder
        .build_rustls()
        .map_err(|e| format!("TLS cannot be set up: {e}"))
}

/// lettre's error in words. A 5xx answer is permanent (the server refused
/// this message or this login); anything else may pass on a later try.
fn smtp_error(e: &lettre::transport::smtp::Error) -> SendError {
    let words = e.to_string();
    let reason = if e.is_timeout() {
        "the email server did not answer in time".to_string()
    } else if e.is_tls() {
        format!("the secure connection to the email server failed: {words}")
    } else {
        format!("the email server refused: {words}")
    };
    if e.is_permanent() {
        SendError::permanent(reason)
    } else {
        SendError::transient(reason)
    }
}
