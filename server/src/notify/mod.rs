//! Invites, reminders and cancellations by email and text message.
//!
//! Booking a consultation queues its messages as database rows in the same
//! transaction (the invite now, a reminder at each configured offset before
//! the appointment). The scheduler of every node claims due rows with a
//! lease, so two nodes never send one twice and a restart loses nothing;
//! it renders each message when it sends it (the current time, names and
//! link), sends it through SMTP or the text-message gateway, and records the
//! outcome: sent, or retried with backoff, or failed with the provider's
//! reason, which the clinician sees on the consultation.

pub mod admin;
pub mod clock;
pub mod console;
pub mod delivery;
pub mod email;
pub mod ics;
pub mod inbound;
pub mod phone;
pub mod schedule;
pub mod sms;
pub mod sms_text;
pub mod templates;

use crate::auth::token::{self, LinkKey};
use crate::db::{ConsultationRow, Db, MessageContext, NewNotification, NotificationRow};
use crate::timezones::{long_in_zone, short_in_zone};
use app::i18n::Lang;
use chrono::{DateTime, Utc};
use clock::Clock;
use delivery::{Receipt, SendError};
use email::{Email, Mailer};
use schedule::Offset;
use sms::SmsGateway;
use std::sync::Arc;
use std::time::Duration;
use templates::{Kind, Templates, Values};

/// How long a node holds a claimed message before another may take it
/// (sending takes at most the providers' 20 s timeouts).
const LEASE: Duration = Duration::from_secs(120);
/// How often the scheduler looks for due messages.
const TICK: Duration = Duration::from_secs(1);
/// Messages claimed per look.
const BATCH: usize = 20;
/// Waits before each new try: about a day in all, then it fails.
const BACKOFF: [Duration; 6] = [
    Duration::from_secs(60),
    Duration::from_secs(5 * 60),
    Duration::from_secs(15 * 60),
    Duration::from_secs(60 * 60),
    Duration::from_secs(4 * 60 * 60),
    Duration::from_secs(18 * 60 * 60),
];
/// How long a calendar entry lasts.
const CONSULTATION_MINUTES: i64 = 30;

/// Which text-message gateway sends.
#[derive(Debug, Clone)]
pub enum SmsChoice {
    /// Text messages are not set up: messages to phones fail visibly.
    None,
    /// Nothing leaves: the administrators' outbox page shows the messages.
    Log,
    Twilio(sms::TwilioConfig),
    Http(sms::HttpGatewayConfig),
}

/// The email and text-message part of the configuration: what the console
/// can change while the server runs.
#[derive(Debug, Clone)]
pub struct ChannelConfig {
    pub smtp: Option<email::SmtpConfig>,
    pub sms: SmsChoice,
    /// The values these were read from.
    pub values: console::ChannelValues,
}

/// The messaging part of the configuration.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    pub channels: ChannelConfig,
    /// Numbers typed without their country code are read in this one.
    pub default_country: phone::DefaultCountry,
    /// Reminders before a consultation at a set time.
    pub reminder_offsets: Vec<Offset>,
    /// At most this many messages to one number or address per hour.
    pub max_per_recipient_per_hour: u32,
    /// Where an administrator's own templates override ours.
    pub templates_dir: Option<std::path::PathBuf>,
}

/// What the booking says about where the patient hears from us.
pub struct Booking<'a> {
    pub email: Option<&'a str>,
    /// E.164.
    pub phone: Option<&'a str>,
    pub language: &'a str,
    pub timezone: &'a str,
    pub scheduled_at: Option<DateTime<Utc>>,
}

/// The senders in use: replaced whole when the console's set-up changes, so
/// a send in flight keeps the set it started with.
struct Channels {
    mailer: Option<Mailer>,
    sms: Option<Arc<dyn SmsGateway>>,
    twilio_token: Option<crate::config::Secret>,
    config: ChannelConfig,
    origin: Origin,
    /// The revision of the console's row these follow (or failed to).
    revision: Option<String>,
}

/// Where the senders' set-up comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Origin {
    /// The node's file and environment; `problem` says why a set-up saved in
    /// the console is not used.
    File {
        problem: Option<String>,
    },
    Console {
        by: String,
        at: DateTime<Utc>,
    },
}

impl Channels {
    fn new(
        config: ChannelConfig,
        origin: Origin,
        revision: Option<String>,
    ) -> Result<Self, SetupError> {
        let mailer = config
            .smtp
            .clone()
            .map(Mailer::new)
            .transpose()
            .map_err(SetupError::Smtp)?;
        let (sms, twilio_token): (Option<Arc<dyn SmsGateway>>, _) = match &config.sms {
            SmsChoice::None => (None, None),
            SmsChoice::Log => (Some(Arc::new(sms::LogGateway)), None),
            SmsChoice::Twilio(c) => (
                Some(Arc::new(sms::Twilio::new(c.clone()))),
                Some(c.auth_token.clone()),
            ),
            SmsChoice::Http(c) => (Some(Arc::new(sms::HttpGateway::new(c.clone()))), None),
        };
        Ok(Self {
            mailer,
            sms,
            twilio_token,
            config,
            origin,
            revision,
        })
    }
}

pub struct Notifier {
    db: Db,
    clock: Arc<dyn Clock>,
    templates: Templates,
    channels: std::sync::RwLock<Arc<Channels>>,
    /// What the node's file and environment say, for when the console's
    /// set-up is dropped.
    file_channels: ChannelConfig,
    /// Seals the secrets the console saves.
    secrets: console::SecretBox,
    offsets: Vec<Offset>,
    max_per_hour: u32,
    node: String,
    public_url: String,
    clinic: String,
    /// The clinic's zone, for times on the admin pages.
    timezone: String,
    country: phone::DefaultCountry,
    /// The rows of the admin page that only the file sets.
    general_settings: Vec<(String, String)>,
    links: LinkKey,
}

/// Why the messaging could not be set up, worded for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    #[error("notification templates: {0}")]
    Templates(#[from] templates::TemplateError),
    #[error("VISITA_SMTP_HOST: {0}")]
    Smtp(String),
}

const NO_EMAIL: &str = "Not sent: email is not set up on this server. Ask your administrator.";
const NO_SMS: &str =
    "Not sent: text messages are not set up on this server. Ask your administrator.";

impl Notifier {
    pub fn new(
        config: &crate::config::Config,
        db: Db,
        clock: Arc<dyn Clock>,
        installation_secret: &[u8],
        node: String,
    ) -> Result<Self, SetupError> {
        let links = LinkKey::derive(installation_secret);
        let n = &config.notify;
        let templates = Templates::load(n.templates_dir.as_deref())?;
        let channels = Channels::new(n.channels.clone(), Origin::File { problem: None }, None)?;
        Ok(Self {
            db,
            clock,
            templates,
            channels: std::sync::RwLock::new(Arc::new(channels)),
            file_channels: n.channels.clone(),
            secrets: console::SecretBox::new(config.secrets_key.as_ref(), installation_secret),
            offsets: n.reminder_offsets.clone(),
            max_per_hour: n.max_per_recipient_per_hour,
            node,
            public_url: config.public_url.clone(),
            clinic: config.clinic_name.clone(),
            timezone: config.timezone.clone(),
            country: n.default_country,
            general_settings: admin::general_settings(n),
            links,
        })
    }

    /// The key links are derived from.
    pub fn link_key(&self) -> &LinkKey {
        &self.links
    }

    /// The scheduler's time (the test's, in tests).
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Twilio's auth token, which signs its webhooks; `None` when Twilio is
    /// not the gateway (its webhooks are then refused).
    pub fn twilio_token(&self) -> Option<crate::config::Secret> {
        self.channels().twilio_token.clone()
    }

    /// The senders in use now.
    fn channels(&self) -> Arc<Channels> {
        self.channels
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn use_channels(&self, channels: Channels) {
        *self
            .channels
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(channels);
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The messages a new booking queues: an invite on each channel the
    /// patient gave, and the reminders still ahead.
    pub fn plan_booking(&self, booking: &Booking) -> Vec<NewNotification> {
        let first = match booking.scheduled_at {
            Some(_) => Kind::Invite,
            None => Kind::InviteNow,
        };
        self.plan(booking, first)
    }

    /// `first` now on each channel the patient gave, then the reminders
    /// still ahead.
    fn plan(&self, booking: &Booking, first: Kind) -> Vec<NewNotification> {
        let now = self.now();
        let mut rows = Vec::new();
        let senders = self.channels();
        let channels = [
            ("email", booking.email, senders.mailer.is_some(), NO_EMAIL),
            ("sms", booking.phone, senders.sms.is_some(), NO_SMS),
        ];
        let zone = crate::timezones::zone(booking.timezone).ok();
        for (channel, recipient, ready, not_ready) in channels {
            let Some(recipient) = recipient else { continue };
            let row = |kind: Kind, offset: Option<Offset>, due_at| NewNotification {
                channel: channel.to_string(),
                kind: kind.as_str().to_string(),
                offset: offset.map(Offset::key),
                recipient: recipient.to_string(),
                language: booking.language.to_string(),
                text: None,
                due_at,
                status: if ready { "queued" } else { "failed" }.to_string(),
                error: (!ready).then(|| not_ready.to_string()),
            };
            rows.push(row(first, None, now));
            if !ready {
                continue;
            }
            if let (Some(at), Some(zone)) = (booking.scheduled_at, &zone) {
                for (offset, due) in schedule::upcoming(at, zone, &self.offsets, now) {
                    rows.push(row(Kind::Reminder, Some(offset), due));
                }
            }
        }
        rows
    }

    /// A consultation moved: what was queued for the old time goes; the
    /// patient is told the new time on each channel, and the reminders
    /// follow the new time.
    pub async fn rescheduled(&self, row: &ConsultationRow) {
        let key = row.key();
        let booking = Booking {
            email: row.patient_email.as_deref(),
            phone: row.patient_phone.as_deref(),
            language: &row.language,
            timezone: &row.timezone,
            scheduled_at: row.scheduled_at,
        };
        let result = async {
            self.db
                .cancel_queued_notifications(&key, "the consultation was moved", self.now())
                .await?;
            let patient = self.db.patient_of(&key).await?;
            self.db
                .enqueue_notifications(
                    Some(&key),
                    patient.as_deref(),
                    self.plan(&booking, Kind::Reschedule),
                )
                .await
        }
        .await;
        if let Err(error) = result {
            tracing::error!(%error, "could not queue the messages of a new time");
        }
    }

    /// A consultation was called off: what was still queued goes, and each
    /// channel that told the patient about it tells them it is cancelled.
    pub async fn consultation_cancelled(&self, row: &ConsultationRow) {
        self.cancelled(row, None).await;
    }

    /// The patient answered NO by text message: the answer to that message
    /// tells them by text, email still tells them if it told them before.
    pub async fn consultation_cancelled_by_patient(&self, row: &ConsultationRow) {
        self.cancelled(row, Some("sms")).await;
    }

    async fn cancelled(&self, row: &ConsultationRow, answered_on: Option<&str>) {
        let key = row.key();
        let now = self.now();
        if let Err(error) = self
            .db
            .cancel_queued_notifications(&key, "the consultation was cancelled", now)
            .await
        {
            tracing::error!(%error, "could not call off queued messages");
        }
        let mut rows = Vec::new();
        for (channel, recipient) in [
            ("email", row.patient_email.as_deref()),
            ("sms", row.patient_phone.as_deref()),
        ] {
            let Some(recipient) = recipient else { continue };
            if answered_on == Some(channel) {
                continue;
            }
            match self.db.anything_sent(&key, channel).await {
                Ok(true) => rows.push(send_now(
                    channel,
                    Kind::Cancellation,
                    recipient,
                    &row.language,
                    now,
                )),
                Ok(false) => {}
                Err(error) => tracing::error!(%error, "could not read what was sent"),
            }
        }
        if answered_on.is_some() && self.channels().mailer.is_some() {
            // The patient cancelled: their clinician hears of it by email too.
            match self.db.host_email(&key).await {
                Ok(Some(email)) => rows.push(send_now(
                    "email",
                    Kind::PatientCancelled,
                    &email,
                    &row.language,
                    now,
                )),
                Ok(None) => {}
                Err(error) => tracing::error!(%error, "could not read the clinician's address"),
            }
        }
        if let Err(error) = self.db.enqueue_notifications(Some(&key), None, rows).await {
            tracing::error!(%error, "could not queue the cancellation messages");
        }
    }

    /// The invite once more, on each channel the patient gave.
    pub async fn resend_invite(&self, row: &ConsultationRow) -> Result<(), crate::db::DbError> {
        let booking = Booking {
            email: row.patient_email.as_deref(),
            phone: row.patient_phone.as_deref(),
            language: &row.language,
            timezone: &row.timezone,
            scheduled_at: row.scheduled_at,
        };
        let invites: Vec<NewNotification> = self
            .plan_booking(&booking)
            .into_iter()
            .filter(|n| n.kind != Kind::Reminder.as_str())
            .collect();
        let patient = self.db.patient_of(&row.key()).await?;
        self.db
            .enqueue_notifications(Some(&row.key()), patient.as_deref(), invites)
            .await
    }

    /// A consultation was closed: reminders still queued are pointless.
    pub async fn consultation_over(&self, consultation_key: &str) {
        if let Err(error) = self
            .db
            .cancel_queued_notifications(consultation_key, "the consultation is over", self.now())
            .await
        {
            tracing::error!(%error, "could not call off queued messages");
        }
    }

    /// Sends what is due until `stop` turns true.
    /// Follows the console's set-up as it changes.
    pub async fn run(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut last_look = std::time::Instant::now();
        loop {
            if last_look.elapsed() >= console::LOOK_EVERY {
                last_look = std::time::Instant::now();
                self.follow_console().await;
            }
            if let Err(error) = self.tick().await {
                tracing::error!(%error, "the message scheduler could not read the queue");
            }
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Claims and sends what is due now; returns how many were handled.
    pub async fn tick(&self) -> Result<usize, crate::db::DbError> {
        let now = self.now();
        let until = now + chrono::Duration::from_std(LEASE).unwrap_or_default();
        let due = self
            .db
            .claim_due_notifications(&self.node, now, until, BATCH)
            .await?;
        let count = due.len();
        for row in due {
            self.deliver(row).await?;
        }
        Ok(count)
    }

    async fn deliver(&self, row: NotificationRow) -> Result<(), crate::db::DbError> {
        let key = row.key();
        let now = self.now();
        if row.kind != Kind::Test.as_str() && self.max_per_hour > 0 {
            let recent = self
                .db
                .sent_to_since(&row.recipient, now - chrono::Duration::hours(1))
                .await?;
            if recent >= self.max_per_hour as usize {
                let later = now + chrono::Duration::minutes(15);
                let reason =
                    format!("{recent} messages already went to this recipient in the last hour.");
                return self
                    .db
                    .notification_retry(&key, &self.node, &reason, later, now)
                    .await;
            }
        }
        let senders = self.channels();
        let outcome = match self.compose(&row, &senders).await? {
            Composed::Drop(reason) => {
                return self
                    .db
                    .notification_dropped(&key, &self.node, reason, now)
                    .await;
            }
            Composed::Email(email) => match &senders.mailer {
                Some(mailer) => mailer.send(email).await,
                None => Err(SendError::permanent(NO_EMAIL)),
            },
            Composed::Sms(text) => match &senders.sms {
                Some(gateway) => gateway.send(&row.recipient, &text).await,
                None => Err(SendError::permanent(NO_SMS)),
            },
        };
        self.record(&row, outcome, now).await
    }

    async fn record(
        &self,
        row: &NotificationRow,
        outcome: Result<Receipt, SendError>,
        now: DateTime<Utc>,
    ) -> Result<(), crate::db::DbError> {
        let key = row.key();
        let to = match row.channel.as_str() {
            "sms" => sms::mask_number(&row.recipient),
            _ => mask_email(&row.recipient),
        };
        match outcome {
            Ok(receipt) => {
                tracing::info!(notification = %key, channel = %row.channel, kind = %row.kind, %to, "message sent");
                self.db
                    .notification_sent(&key, &self.node, receipt.provider_id, receipt.outbox, now)
                    .await
            }
            Err(error) => {
                let tries = row.attempts.max(1) as usize;
                match BACKOFF.get(tries - 1) {
                    Some(wait) if !error.permanent => {
                        tracing::warn!(notification = %key, channel = %row.channel, %to, reason = %error.reason, tries, "message not sent; will try again");
                        let later = now + chrono::Duration::from_std(*wait).unwrap_or_default();
                        self.db
                            .notification_retry(&key, &self.node, &error.reason, later, now)
                            .await
                    }
                    _ => {
                        tracing::warn!(notification = %key, channel = %row.channel, %to, reason = %error.reason, tries, "message failed");
                        self.db
                            .notification_failed(&key, &self.node, &error.reason, now)
                            .await
                    }
                }
            }
        }
    }

    /// The message as it is sent now, or why it is not sent any more.
    async fn compose(
        &self,
        row: &NotificationRow,
        senders: &Channels,
    ) -> Result<Composed, crate::db::DbError> {
        if let Some(text) = &row.text {
            return Ok(Composed::Sms(text.clone()));
        }
        let Some(kind) = Kind::parse(&row.kind) else {
            return Ok(Composed::Drop("unknown kind of message"));
        };
        let Some(consultation) = &row.consultation else {
            return Ok(Composed::Drop("the message is about no consultation"));
        };
        let Some(ctx) = self
            .db
            .message_context(consultation, row.participant.as_ref())
            .await?
        else {
            return Ok(Composed::Drop("the consultation no longer exists"));
        };
        let c = &ctx.consultation;
        let over = matches!(c.status.as_str(), "closed" | "cancelled");
        if over && kind != Kind::Cancellation {
            return Ok(Composed::Drop("the consultation is over"));
        }
        if kind == Kind::Reminder && matches!(c.status.as_str(), "waiting" | "active") {
            return Ok(Composed::Drop("the patient is already there"));
        }
        let link = if kind.has_link() {
            match self.current_link(&ctx) {
                Some(link) => link,
                None => return Ok(Composed::Drop("the patient's link no longer works")),
            }
        } else {
            String::new()
        };
        let lang = Lang::from_code(&row.language).unwrap_or_default();
        // A consultation "now" is today's (its cancellation says so).
        let today = || match lang.code() {
            "fr" => "aujourd’hui".to_string(),
            _ => "today".to_string(),
        };
        let values = Values {
            patient: c.patient_name.clone(),
            clinician: ctx.host_name.clone().unwrap_or_default(),
            clinic: self.clinic.clone(),
            when: c
                .scheduled_at
                .map(|at| long_in_zone(at, &c.timezone, lang))
                .unwrap_or_else(today),
            when_short: c
                .scheduled_at
                .map(|at| short_in_zone(at, &c.timezone))
                .unwrap_or_else(today),
            link: link.clone(),
            reply_hint: if senders.twilio_token.is_some() {
                inbound::hint(lang)
            } else {
                String::new()
            },
        };
        let rendered = self.templates.render(lang, kind, &values);
        if row.channel == "sms" {
            return Ok(Composed::Sms(rendered.sms));
        }
        let calendar = match (kind, c.scheduled_at) {
            (Kind::Invite | Kind::Reschedule | Kind::Cancellation, Some(start)) => {
                let cancelled = kind == Kind::Cancellation;
                let uid = format!("{}@{}", c.key(), self.host());
                let description = if cancelled {
                    rendered.subject.clone()
                } else {
                    format!("{}\n{link}", rendered.subject)
                };
                let ics = ics::calendar(&ics::Event {
                    uid: &uid,
                    start,
                    minutes: CONSULTATION_MINUTES,
                    summary: &rendered.subject,
                    description: &description,
                    url: (!cancelled).then_some(link.as_str()),
                    cancelled,
                    stamp: self.now(),
                });
                Some(("consultation.ics".to_string(), ics, cancelled))
            }
            _ => None,
        };
        Ok(Composed::Email(Email {
            to: row.recipient.clone(),
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
            calendar,
            message_id: format!("<{}.{}@{}>", row.key(), token::generate(), self.host()),
        }))
    }

    /// The participant's link as it works now, if it still works.
    fn current_link(&self, ctx: &MessageContext) -> Option<String> {
        let secret = self.links.current_secret(
            ctx.link_nonce.as_deref(),
            ctx.token_hash.as_deref(),
            ctx.token_expires_at,
            self.now(),
        )?;
        Some(format!("{}/j/{secret}", self.public_url))
    }

    /// The host of the public URL, for Message-IDs and calendar UIDs.
    fn host(&self) -> &str {
        let rest = self
            .public_url
            .split_once("://")
            .map_or(self.public_url.as_str(), |(_, r)| r);
        rest.split(['/', ':']).next().unwrap_or("visita")
    }
}

/// A message to send as soon as the scheduler sees it.
fn send_now(
    channel: &str,
    kind: Kind,
    recipient: &str,
    language: &str,
    now: DateTime<Utc>,
) -> NewNotification {
    NewNotification {
        channel: channel.to_string(),
        kind: kind.as_str().to_string(),
        offset: None,
        recipient: recipient.to_string(),
        language: language.to_string(),
        text: None,
        due_at: now,
        status: "queued".into(),
        error: None,
    }
}

enum Composed {
    Email(Email),
    Sms(String),
    Drop(&'static str),
}

/// `ana.silva@example.org` → `a•••@example.org` for logs.
pub fn mask_email(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}•••@{domain}")
        }
        None => "•••".into(),
    }
}
