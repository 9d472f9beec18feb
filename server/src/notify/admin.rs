//! The administrators' side of messaging (`app::ssr::Messaging`): the
//! effective set-up with secrets masked, a test message sent at once whose
//! answer (or the provider's exact error) is shown as it is, and the outbox
//! of the `log` gateway. Each is written to the audit trail.

use super::templates::{Kind, Values};
use super::{ChannelConfig, Notifier, NotifyConfig, Origin, SmsChoice, phone};
use crate::timezones::short_in_zone;
use app::channel_setup::ChannelSetup;
use app::domain::{MessagingSettings, OutboxEntry, Principal, looks_like_email};
use app::error::AppError;
use app::i18n::Lang;
use app::ssr::{ClientInfo, Messaging};
use async_trait::async_trait;

type Rows = Vec<(String, String)>;

/// Label/value rows of the email and text-message set-up; a secret is only
/// said to be set.
fn channel_rows(n: &ChannelConfig, public_url: &str) -> (Rows, Rows) {
    let row = |label: &str, value: String| (label.to_string(), value);
    let set = |present: bool| {
        if present {
            "set (not shown)"
        } else {
            "not set"
        }
        .to_string()
    };
    let email = match &n.smtp {
        None => vec![row(
            "Email",
            "not set up (VISITA_SMTP_HOST is empty)".into(),
        )],
        Some(s) => vec![
            row("Server", format!("{}:{}", s.host, s.port)),
            row("Security", format!("{:?}", s.security).to_lowercase()),
            row("Sender", s.from.to_string()),
            row(
                "Reply-to",
                s.reply_to.as_ref().map_or("—".into(), ToString::to_string),
            ),
            row("Login", s.username.clone().unwrap_or_else(|| "none".into())),
            row("Password", set(s.password.is_some())),
            row(
                "Extra authority",
                s.ca_file
                    .as_ref()
                    .map_or("—".into(), |p| p.display().to_string()),
            ),
        ],
    };
    let sms = match &n.sms {
        SmsChoice::None => vec![row("Gateway", "none: text messages are not sent".into())],
        SmsChoice::Log => vec![row(
            "Gateway",
            "log: nothing is sent, texts are kept in the outbox below".into(),
        )],
        SmsChoice::Twilio(t) => vec![
            row("Gateway", "Twilio".into()),
            row("Account SID", t.account_sid.clone()),
            row("Auth token", set(true)),
            row(
                "Sender",
                t.messaging_service_sid
                    .clone()
                    .or_else(|| t.from.clone())
                    .unwrap_or_default(),
            ),
            row("API", t.api_base.clone()),
            row(
                "Incoming messages webhook",
                format!("{public_url}{}", crate::http::webhooks::INBOUND_PATH),
            ),
        ],
        SmsChoice::Http(h) => vec![
            row("Gateway", "your HTTP gateway".into()),
            row("Address", format!("{} {}", h.method, h.url)),
            row(
                "Headers",
                if h.headers.is_empty() {
                    "none".into()
                } else {
                    h.headers
                        .iter()
                        .map(|(name, _)| format!("{name}: (not shown)"))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            ),
            row("Body", format!("{} — {}", h.content_type, h.body)),
        ],
    };
    (email, sms)
}

/// The rows only the server's file and environment set.
pub(super) fn general_settings(n: &NotifyConfig) -> Rows {
    let row = |label: &str, value: String| (label.to_string(), value);
    vec![
        row(
            "Country of numbers without a code",
            n.default_country.code().to_string(),
        ),
        row(
            "Reminders before",
            if n.reminder_offsets.is_empty() {
                "none".into()
            } else {
                n.reminder_offsets
                    .iter()
                    .map(|o| o.key())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        ),
        row(
            "Messages per recipient per hour",
            match n.max_per_recipient_per_hour {
                0 => "no limit".into(),
                max => max.to_string(),
            },
        ),
        row(
            "Templates",
            n.templates_dir.as_ref().map_or("built in".into(), |d| {
                format!("built in, overridden by {}", d.display())
            }),
        ),
    ]
}

impl Notifier {
    fn test_values(&self) -> Values {
        Values {
            clinic: self.clinic.clone(),
            ..Values::default()
        }
    }
}

#[async_trait]
impl Messaging for Notifier {
    fn settings(&self) -> MessagingSettings {
        let channels = self.channels();
        let (email, sms) = channel_rows(&channels.config, &self.public_url);
        let (values, secrets_set) = channels.config.values.for_form();
        let (origin, problem) = match &channels.origin {
            Origin::File { problem } => (
                "Set in the server's visita.toml or VISITA_* variables (see the README)."
                    .to_string(),
                problem.clone(),
            ),
            Origin::Console { by, at } => (
                format!(
                    "Saved in this console by {by} on {}; it takes the place of the server's file for email and text messages.",
                    short_in_zone(*at, &self.timezone)
                ),
                None,
            ),
        };
        MessagingSettings {
            email,
            sms,
            general: self.general_settings.clone(),
            setup: ChannelSetup {
                values,
                secrets_set,
                from_console: matches!(channels.origin, Origin::Console { .. }),
                origin,
                problem,
            },
        }
    }

    async fn save_setup(
        &self,
        who: &Principal,
        values: std::collections::BTreeMap<String, String>,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        self.save_console(who, values, client).await
    }

    async fn forget_setup(&self, who: &Principal, client: &ClientInfo) -> Result<(), AppError> {
        self.forget_console(who, client).await
    }

    async fn outbox(
        &self,
        who: &Principal,
        client: &ClientInfo,
    ) -> Result<Vec<OutboxEntry>, AppError> {
        let rows = self.db.outbox(100).await.map_err(|error| {
            tracing::error!(%error, "could not read the outbox");
            AppError::Internal
        })?;
        self.audit(who, "messaging.outbox", "outbox".into(), client, "ok")
            .await;
        Ok(rows
            .into_iter()
            .map(|row| OutboxEntry {
                at_label: short_in_zone(row.sent_at.unwrap_or(row.due_at), &self.timezone),
                recipient: row.recipient,
                kind: row.kind,
                text: row.outbox.unwrap_or_default(),
            })
            .collect())
    }

    async fn send_test(
        &self,
        who: &Principal,
        channel: &str,
        to: &str,
        client: &ClientInfo,
    ) -> Result<String, AppError> {
        let to = to.trim();
        let channels = self.channels();
        let rendered = self
            .templates
            .render(Lang::default(), Kind::Test, &self.test_values());
        let outcome = match channel {
            "email" => {
                if !looks_like_email(to) {
                    return Err(AppError::invalid(
                        "to",
                        "Enter an email address like name@example.org.",
                    ));
                }
                let Some(mailer) = &channels.mailer else {
                    return Err(AppError::Conflict(
                        super::NO_EMAIL.trim_start_matches("Not sent: ").into(),
                    ));
                };
                mailer
                    .send(super::email::Email {
                        to: to.to_string(),
                        subject: rendered.subject,
                        text: rendered.text,
                        html: rendered.html,
                        calendar: None,
                        message_id: format!(
                            "<test.{}@{}>",
                            crate::auth::token::generate(),
                            self.host()
                        ),
                    })
                    .await
                    .map(|receipt| {
                        format!(
                            "The email server accepted the test message for {to} (Message-ID {}).",
                            receipt.provider_id.unwrap_or_default()
                        )
                    })
            }
            "sms" => {
                let number = phone::to_e164(to, self.country)
                    .map_err(|e| AppError::invalid("to", e.to_string()))?;
                let Some(gateway) = &channels.sms else {
                    return Err(AppError::Conflict(
                        super::NO_SMS.trim_start_matches("Not sent: ").into(),
                    ));
                };
                gateway.send(&number, &rendered.sms).await.map(|receipt| {
                    match (receipt.outbox, receipt.provider_id) {
                        (Some(_), _) => format!(
                            "The log gateway kept the test message for {number}: see the outbox below (nothing was sent)."
                        ),
                        (None, Some(id)) => format!(
                            "The {} gateway accepted the test message for {number} (id {id}).",
                            gateway.name()
                        ),
                        (None, None) => format!(
                            "The {} gateway accepted the test message for {number}.",
                            gateway.name()
                        ),
                    }
                })
            }
            _ => {
                return Err(AppError::invalid(
                    "channel",
                    "Choose email or text message.",
                ));
            }
        };
        let target = format!("test:{channel}");
        match outcome {
            Ok(answer) => {
                self.audit(who, "messaging.test", target, client, "ok")
                    .await;
                Ok(answer)
            }
            Err(error) => {
                self.audit(who, "messaging.test", target, client, "failed")
                    .await;
                Err(AppError::Upstream(format!(
                    "Not sent: {}.",
                    error.reason.trim_end_matches('.')
                )))
            }
        }
    }
}
