//! Consultations on the database: booking, invite links, the waiting room,
//! admitting, the chat, closing. This is the implementation of
//! `app::ssr::Consultations`; each method reads the facts it needs and asks
//! `app::authz::authorize` before it changes or shows anything.

pub mod api;
pub mod views;

use crate::auth::cookie::SessionCookie;
use crate::auth::token;
use crate::config::Config;
use crate::db::{
    AttachmentRow, AuditEntry, ConsultationRow, CreatedBy, Db, DbError, NewAttachment,
    NewConsultationRow, NewParticipantRow, ParticipantRow, record_key,
};
use crate::files::{FileKind, FileStore, clean_name, sniff};
use crate::notify::Notifier;
use crate::notify::phone::{DefaultCountry, to_e164};
use crate::report::{ReportData, ReportLine};
use crate::timezones::{self, TimeError, long_in_zone};
use app::authz::{Action, Caller, Resource, authorize};
use app::consultation::{
    BookingOptions, ChatMessage, ConsultationFacts, ConsultationId, ConsultationStatus,
    ConsultationSummary, CreatedConsultation, DeadLink, InviteOutcome, InvitePreview, IssuedLink,
    MAX_NOTES_CHARS, MessageId, NewConsultation, ParticipantId, ParticipantRole, ParticipantState,
    QueueId, QueueSummary, RoomState, TranslationRequest, Visitor, check_chat_body,
};
use app::domain::Principal;
use app::error::AppError;
use app::i18n::Lang;
use app::ssr::{ClientInfo, Consultations, CookieUpdate, CurrentVisitor};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;

/// How many invites (the first included) one consultation may send per
/// hour: a patient is not flooded by a clinician pressing again and again.
const MAX_INVITES_PER_HOUR: usize = 3;

/// How many days after today the day list shows booked consultations of.
const UPCOMING_DAYS: i64 = 7;

/// A scheduled time this far in the past is almost surely a typo.
const PAST_TOLERANCE: Duration = Duration::from_secs(60 * 60);

pub struct ConsultationService {
    db: Db,
    public_url: String,
    clinic_name: String,
    timezone: String,
    valid_now: Duration,
    valid_after: Duration,
    cookie: SessionCookie,
    files: FileStore,
    max_file_bytes: u64,
    links: token::LinkKey,
    /// Invites, reminders and cancellations; none in tests that do not
    /// look at messages.
    notifier: Option<Arc<Notifier>>,
    /// Numbers typed without their country code are read in this one.
    country: DefaultCountry,
}

/// A consultation with its people, read together.
struct Loaded {
    row: ConsultationRow,
    participants: Vec<ParticipantRow>,
}

impl Loaded {
    fn facts(&self) -> ConsultationFacts {
        views::facts(&self.row, &self.participants)
    }

    fn resource(&self) -> Resource {
        Resource::Consultation(self.facts())
    }

    fn status(&self) -> ConsultationStatus {
        views::status(&self.row)
    }

    fn participant(&self, id: &ParticipantId) -> Option<&ParticipantRow> {
        self.participants.iter().find(|p| p.key() == id.0)
    }

    /// The place a staff member holds in it (host, colleague, translator).
    fn place_of(&self, who: &Principal) -> Option<&ParticipantRow> {
        self.participants.iter().find(|row| {
            row.user
                .as_ref()
                .is_some_and(|u| record_key(u) == who.user_id.0)
        })
    }
}

impl ConsultationService {
    pub fn new(db: Db, config: &Config) -> Self {
        Self {
            db,
            public_url: config.public_url.clone(),
            clinic_name: config.clinic_name.clone(),
            timezone: config.timezone.clone(),
            valid_now: config.invite_valid_now,
            valid_after: config.invite_valid_after,
            cookie: SessionCookie::visitor(config.is_https()),
            files: FileStore::new(&config.data_dir),
            max_file_bytes: config.attachment_max_bytes,
            links: token::LinkKey::random(),
            notifier: None,
            country: config.notify.default_country,
        }
    }

    /// Sends invites, reminders and cancellations through `notifier`, and
    /// derives links with its key (a reminder must carry a link that opens).
    pub fn with_notifier(mut self, notifier: Arc<Notifier>) -> Self {
        self.links = notifier.link_key().clone();
        self.notifier = Some(notifier);
        self
    }

    pub fn cookie(&self) -> SessionCookie {
        self.cookie
    }

    /// The name a consultation's pages show: the company it was branded
    /// with, else the clinic's.
    fn clinic_of(&self, row: &ConsultationRow) -> String {
        row.brand_name
            .clone()
            .unwrap_or_else(|| self.clinic_name.clone())
    }

    fn link(&self, secret: &str) -> String {
        format!("{}/j/{secret}", self.public_url)
    }

    /// A time typed by a clinician (`YYYY-MM-DDTHH:MM` in `typed_in`, the
    /// clinic's zone when empty) as an instant, refused when in the past.
    fn parse_when(&self, typed: &str, typed_in: &str) -> Result<DateTime<Utc>, AppError> {
        let typed_in = if typed_in.trim().is_empty() {
            self.timezone.as_str()
        } else {
            typed_in.trim()
        };
        let at = timezones::parse_local(typed.trim(), typed_in).map_err(|e| {
            let field = match e {
                TimeError::UnknownZone(_) => "clinician_timezone",
                TimeError::BadDateTime => "scheduled_for",
            };
            AppError::invalid(field, e.to_string())
        })?;
        if at < Utc::now() - PAST_TOLERANCE {
            return Err(AppError::invalid(
                "scheduled_for",
                "This time is in the past. Enter a time to come, or leave it empty for now.",
            ));
        }
        Ok(at)
    }

    /// When a link made now for this appointment stops working.
    fn link_expiry(&self, scheduled_at: Option<DateTime<Utc>>) -> DateTime<Utc> {
        match scheduled_at {
            Some(at) => at + self.valid_after,
            None => Utc::now() + self.valid_now,
        }
    }

    /// The visitor behind a link-session cookie, while that session lives
    /// and the person was not removed.
    pub async fn resolve_visitor(&self, secret: &str) -> Result<Option<CurrentVisitor>, DbError> {
        if !token::looks_valid(secret) {
            return Ok(None);
        }
        let Some(row) = self
            .db
            .participant_by_session(&token::digest(secret))
            .await?
        else {
            return Ok(None);
        };
        if views::state(&row) == ParticipantState::Removed {
            return Ok(None);
        }
        Ok(Some(CurrentVisitor {
            visitor: Visitor {
                participant: ParticipantId(row.key()),
                consultation: ConsultationId(record_key(&row.consultation)),
                role: views::role(&row),
                name: row.name.clone(),
                language: views::language(&row.language),
            },
            secret: secret.to_string(),
        }))
    }

    async fn load(&self, id: &ConsultationId) -> Result<Loaded, AppError> {
        let row = self
            .db
            .consultation(&id.0)
            .await
            .map_err(internal)?
            .ok_or_else(|| AppError::NotFound("This consultation does not exist.".into()))?;
        let participants = self
            .db
            .participants_of(std::slice::from_ref(&id.0))
            .await
            .map_err(internal)?;
        Ok(Loaded { row, participants })
    }

    async fn load_by_participant(&self, id: &ParticipantId) -> Result<Loaded, AppError> {
        let participant = self
            .db
            .participant(&id.0)
            .await
            .map_err(internal)?
            .ok_or_else(|| AppError::NotFound("This person is not in any consultation.".into()))?;
        self.load(&ConsultationId(record_key(&participant.consultation)))
            .await
    }

    /// The summary the day list shows for one consultation (after a change).
    pub async fn summary(&self, id: &ConsultationId) -> Result<ConsultationSummary, AppError> {
        let loaded = self.load(id).await?;
        let queues = self
            .db
            .queues_by_keys(&[record_key(&loaded.row.queue)])
            .await
            .map_err(internal)?;
        let messages = self
            .db
            .notifications_of(&[loaded.row.key()])
            .await
            .map_err(internal)?;
        Ok(views::summary(
            &loaded.row,
            &loaded.participants,
            &queues,
            &messages,
        ))
    }

    /// The queue of a consultation, for routing live changes.
    pub async fn queue_of(&self, id: &ConsultationId) -> Result<Option<QueueId>, DbError> {
        Ok(self
            .db
            .consultation(&id.0)
            .await?
            .map(|c| QueueId(record_key(&c.queue))))
    }

    pub(crate) async fn audit(
        &self,
        caller: Caller<'_>,
        action: &'static str,
        target: String,
        client: &ClientInfo,
        outcome: &'static str,
    ) {
        let (actor_key, actor_email, actor_participant) = match caller {
            Caller::Staff(p) => (Some(p.user_id.0.clone()), Some(p.email.clone()), None),
            Caller::Visitor(v) => (None, None, Some(format!("participant:{}", v.participant))),
        };
        let entry = AuditEntry {
            actor_key,
            actor_email,
            action,
            target: Some(target),
            ip: client.ip.map(|ip| ip.to_string()),
            outcome,
            actor_participant,
        };
        self.db.audit_or_log(entry).await;
    }

    /// Asks the policy; a refusal is audited before it is returned.
    async fn check(
        &self,
        caller: Caller<'_>,
        action: Action,
        loaded: &Loaded,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        if let Err(denied) = authorize(Some(caller), action, &loaded.resource()) {
            self.audit(
                caller,
                "consultation.denied",
                format!("consultation:{} {action:?}", loaded.row.key()),
                client,
                "denied",
            )
            .await;
            return Err(denied.into());
        }
        Ok(())
    }

    /// Moves the consultation if it is in `from`; a lost race is not an error
    /// (someone else already moved it).
    async fn transition(
        &self,
        loaded: &Loaded,
        from: ConsultationStatus,
        to: ConsultationStatus,
        actor: &str,
    ) -> Result<bool, AppError> {
        if !from.may_become(to) {
            return Ok(false);
        }
        self.db
            .transition(&loaded.row.key(), from.as_str(), to.as_str(), actor)
            .await
            .map_err(internal)
    }

    /// Puts a visitor in the waiting room (or straight in, when the
    /// consultation admits automatically or they were already admitted).
    async fn enter_waiting_room(
        &self,
        loaded: &Loaded,
        participant: &ParticipantRow,
    ) -> Result<(), AppError> {
        let actor = format!("participant:{}", participant.key());
        match views::state(participant) {
            ParticipantState::Admitted => return Ok(()),
            ParticipantState::Removed => return Err(AppError::Forbidden),
            _ => {}
        }
        if views::role(participant) == ParticipantRole::Host {
            // A clinician who hosts by link does not wait: they run it.
            return self
                .db
                .set_participant_state(&participant.key(), ParticipantState::Admitted.as_str())
                .await
                .map_err(internal);
        }
        let auto = loaded.row.auto_admit && views::role(participant) == ParticipantRole::Patient;
        if auto {
            self.db
                .set_participant_state(&participant.key(), ParticipantState::Admitted.as_str())
                .await
                .map_err(internal)?;
            for from in [ConsultationStatus::Scheduled, ConsultationStatus::Waiting] {
                self.transition(loaded, from, ConsultationStatus::Active, &actor)
                    .await?;
            }
            return Ok(());
        }
        // The consultation is waiting before the patient is: the
        // patient.waiting event (written with the patient's state) then
        // shows it so, whenever a webhook dispatcher reads it.
        self.transition(
            loaded,
            ConsultationStatus::Scheduled,
            ConsultationStatus::Waiting,
            &actor,
        )
        .await?;
        self.db
            .set_participant_state(&participant.key(), ParticipantState::Waiting.as_str())
            .await
            .map_err(internal)?;
        Ok(())
    }

    /// Why this participant's link opens nothing now, if it does not.
    fn dead_link(&self, loaded: &Loaded, participant: &ParticipantRow) -> Option<DeadLink> {
        if loaded.status().is_over() || views::state(participant) == ParticipantState::Removed {
            Some(DeadLink::Ended)
        } else if participant
            .token_expires_at
            .is_none_or(|at| at <= Utc::now())
        {
            Some(DeadLink::Expired)
        } else {
            None
        }
    }

    /// Someone who joins by a link of their own: a guest, or an
    /// interpreter the clinic books itself (`role`).
    pub(crate) async fn invite_by_link(
        &self,
        caller: Caller<'_>,
        consultation: &ConsultationId,
        name: &str,
        language: Lang,
        role: ParticipantRole,
        client: &ClientInfo,
    ) -> Result<IssuedLink, AppError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 120 {
            return Err(AppError::invalid(
                "name",
                "Enter the guest's name (1 to 120 characters).",
            ));
        }
        let loaded = self.load(consultation).await?;
        self.check(caller, Action::RunConsultation, &loaded, client)
            .await?;
        if loaded.status().is_over() {
            return Err(AppError::Conflict("This consultation is over.".into()));
        }
        let (nonce, secret) = self.links.issue();
        let scheduled = loaded.row.scheduled_at.filter(|at| *at > Utc::now());
        let key = self
            .db
            .add_participant(NewParticipantRow {
                consultation_key: consultation.0.clone(),
                role: role.as_str(),
                name: name.to_string(),
                user_key: None,
                language: language.code().to_string(),
                token_hash: Some(token::digest(&secret)),
                link_nonce: Some(nonce),
                token_expires_at: Some(self.link_expiry(scheduled)),
                state: ParticipantState::Invited.as_str(),
            })
            .await
            .map_err(internal)?;
        self.audit(
            caller,
            "participant.invite_guest",
            format!("participant:{key}"),
            client,
            "ok",
        )
        .await;
        Ok(IssuedLink {
            participant: ParticipantId(key),
            link: self.link(&secret),
        })
    }

    /// The staff member's place in the consultation, made on first need.
    async fn staff_place(&self, who: &Principal, loaded: &Loaded) -> Result<String, AppError> {
        if let Some(place) = loaded.place_of(who) {
            return Ok(place.key());
        }
        self.db
            .add_participant(NewParticipantRow {
                consultation_key: loaded.row.key(),
                role: ParticipantRole::Colleague.as_str(),
                name: who.name.clone(),
                user_key: Some(who.user_id.0.clone()),
                language: loaded.row.language.clone(),
                token_hash: None,
                link_nonce: None,
                token_expires_at: None,
                state: ParticipantState::Admitted.as_str(),
            })
            .await
            .map_err(internal)
    }

    /// Books a consultation hosted by `who` (on their own behalf, or for an
    /// API key: `api`), with its messages unless the key said not to.
    pub(crate) async fn book(
        &self,
        who: &Principal,
        booking: NewConsultation,
        api: Option<api::ApiBooking>,
        client: &ClientInfo,
    ) -> Result<CreatedConsultation, AppError> {
        let caller = Caller::Staff(who);

        let booking = booking.validate()?;
        authorize(
            Some(caller),
            Action::CreateConsultation,
            &Resource::Queue(booking.queue.clone()),
        )?;
        if self
            .db
            .queues_by_keys(std::slice::from_ref(&booking.queue.0))
            .await
            .map_err(internal)?
            .is_empty()
        {
            return Err(AppError::invalid("queue", "Choose one of your queues."));
        }
        timezones::zone(&booking.timezone)
            .map_err(|e| AppError::invalid("timezone", e.to_string()))?;
        let scheduled_at = if booking.scheduled_for.is_empty() {
            None
        } else {
            Some(self.parse_when(&booking.scheduled_for, &booking.clinician_timezone)?)
        };
        let patient_phone = match booking.patient_phone.as_str() {
            "" => None,
            typed => Some(
                to_e164(typed, self.country)
                    .map_err(|e| AppError::invalid("patient_phone", e.to_string()))?,
            ),
        };
        let patient_email = Some(booking.patient_email).filter(|s| !s.is_empty());
        let send_messages = api.as_ref().is_none_or(|a| a.send_invite);
        let notifications = match &self.notifier {
            Some(notifier) if send_messages => notifier.plan_booking(&crate::notify::Booking {
                email: patient_email.as_deref(),
                phone: patient_phone.as_deref(),
                language: &booking.language,
                timezone: &booking.timezone,
                scheduled_at,
            }),
            _ => Vec::new(),
        };
        let (nonce, secret) = self.links.issue();
        let by_link = api.as_ref().is_some_and(|a| a.host_by_link);
        let host_link = by_link.then(|| self.links.issue());
        let auto_admit = api.as_ref().is_some_and(|a| a.auto_admit);
        let (api_key, external_id, metadata, brand) = match api {
            Some(a) => (Some(a.key), a.external_id, a.metadata, a.brand),
            None => (None, None, None, api::Brand::default()),
        };
        let created_by = match (&api_key, by_link) {
            (Some(key), true) => CreatedBy::Other(format!("api_key:{key}")),
            _ => CreatedBy::User(who.user_id.0.clone()),
        };
        let keys = self
            .db
            .create_consultation(
                NewConsultationRow {
                    queue_key: booking.queue.0.clone(),
                    host_key: (!by_link).then(|| who.user_id.0.clone()),
                    host_name: who.name.clone(),
                    created_by,
                    host_link: host_link
                        .as_ref()
                        .map(|(nonce, secret)| (token::digest(secret), nonce.clone())),
                    auto_admit,
                    brand_name: brand.name,
                    brand_logo: brand.logo,
                    display_mode: brand.display_mode,
                    patient_name: booking.patient_name,
                    patient_email,
                    patient_phone,
                    language: booking.language,
                    timezone: booking.timezone,
                    scheduled_at,
                    patient_token_hash: token::digest(&secret),
                    patient_link_nonce: nonce,
                    token_expires_at: self.link_expiry(scheduled_at),
                    notifications,
                    api_key,
                    external_id,
                    metadata,
                },
                ConsultationStatus::Scheduled.as_str(),
            )
            .await
            .map_err(internal)?;
        self.audit(
            caller,
            "consultation.create",
            format!("consultation:{}", keys.consultation),
            client,
            "ok",
        )
        .await;
        Ok(CreatedConsultation {
            id: ConsultationId(keys.consultation),
            patient_link: self.link(&secret),
            host_link: host_link.map(|(_, secret)| self.link(&secret)),
        })
    }

    pub fn max_file_bytes(&self) -> u64 {
        self.max_file_bytes
    }

    /// Stores a file sent in the chat and posts it as a chat line.
    pub async fn attach_file(
        &self,
        caller: Caller<'_>,
        consultation: &ConsultationId,
        file_name: &str,
        bytes: Vec<u8>,
        client: &ClientInfo,
    ) -> Result<ChatMessage, AppError> {
        let loaded = self.load(consultation).await?;
        self.check(caller, Action::Chat, &loaded, client).await?;
        if bytes.len() as u64 > self.max_file_bytes {
            return Err(AppError::TooLarge {
                max_mb: self.max_file_bytes / 1_000_000,
            });
        }
        let kind = sniff(&bytes).ok_or(AppError::UnsupportedFile)?;
        let size = bytes.len() as i64;
        let sha256 = self.files.put(bytes).await.map_err(|error| {
            tracing::error!(%error, "could not store an attachment");
            AppError::Internal
        })?;
        let (author, name, role) = self.author(caller, &loaded).await?;
        let row = self
            .db
            .insert_attachment_message(
                &consultation.0,
                &author,
                &name,
                role.as_str(),
                NewAttachment {
                    file_name: clean_name(file_name, kind),
                    content_type: kind.content_type().to_string(),
                    size,
                    sha256,
                },
            )
            .await
            .map_err(internal)?;
        self.audit(
            caller,
            "attachment.send",
            format!("message:{}", row.key()),
            client,
            "ok",
        )
        .await;
        Ok(views::message(&row))
    }

    /// What the PDF report shows, for a clinician who runs the consultation.
    pub async fn report(
        &self,
        caller: Caller<'_>,
        consultation: &ConsultationId,
        client: &ClientInfo,
    ) -> Result<ReportData, AppError> {
        let loaded = self.load(consultation).await?;
        self.check(caller, Action::RunConsultation, &loaded, client)
            .await?;
        let messages = self
            .db
            .messages(&consultation.0, None)
            .await
            .map_err(internal)?;
        let zone = self.timezone.as_str();
        let mut chat = Vec::with_capacity(messages.len());
        for message in &messages {
            let image = match (&message.attachment, message.attachment_type.as_deref()) {
                (Some(id), Some(kind)) if kind.starts_with("image/") => {
                    match self
                        .db
                        .attachment(&record_key(id))
                        .await
                        .map_err(internal)?
                    {
                        Some(row) => self.files.get(&row.sha256).await.ok(),
                        None => None,
                    }
                }
                _ => None,
            };
            chat.push(ReportLine {
                at: timezones::clock_in_zone(message.at, zone),
                author: format!("{} ({})", message.author_name, message.author_role),
                body: message.body.clone(),
                attachment_name: message.attachment_name.clone(),
                image,
            });
        }
        let row = &loaded.row;
        let when = |at: Option<DateTime<Utc>>| at.map(|at| long_in_zone(at, zone, Lang::En));
        let duration = match (row.started_at, row.closed_at) {
            (Some(start), Some(end)) => {
                let minutes = (end - start).num_minutes().max(0);
                Some(if minutes < 1 {
                    "less than a minute".to_string()
                } else {
                    format!("{minutes} min")
                })
            }
            _ => None,
        };
        self.audit(
            caller,
            "report.download",
            format!("consultation:{consultation}"),
            client,
            "ok",
        )
        .await;
        Ok(ReportData {
            clinic: self.clinic_name.clone(),
            clinician: views::host_name(&loaded.participants),
            patient: row.patient_name.clone(),
            status: row.status.clone(),
            scheduled: when(row.scheduled_at),
            started: when(row.started_at),
            closed: when(row.closed_at),
            duration,
            participants: loaded
                .participants
                .iter()
                .filter(|p| {
                    views::state(p) != ParticipantState::Invited
                        || views::role(p) == ParticipantRole::Patient
                })
                .map(|p| format!("{} ({})", p.name, p.role))
                .collect(),
            notes: row.notes.clone(),
            chat,
        })
    }

    /// The consultation a file belongs to (to pick who is asking).
    pub async fn consultation_of_file(&self, attachment: &str) -> Result<ConsultationId, AppError> {
        self.db
            .attachment(attachment)
            .await
            .map_err(internal)?
            .map(|row| ConsultationId(record_key(&row.consultation)))
            .ok_or_else(|| AppError::NotFound("This file does not exist.".into()))
    }

    /// A file of the chat, for someone who may read that chat.
    pub async fn read_file(
        &self,
        caller: Caller<'_>,
        attachment: &str,
        client: &ClientInfo,
    ) -> Result<(AttachmentRow, FileKind, Vec<u8>), AppError> {
        let not_found = || AppError::NotFound("This file does not exist.".into());
        let row = self
            .db
            .attachment(attachment)
            .await
            .map_err(internal)?
            .ok_or_else(not_found)?;
        let loaded = self
            .load(&ConsultationId(record_key(&row.consultation)))
            .await?;
        self.check(caller, Action::Chat, &loaded, client).await?;
        let kind = FileKind::from_content_type(&row.content_type).ok_or(AppError::Internal)?;
        let bytes = self.files.get(&row.sha256).await.map_err(|error| {
            tracing::error!(%error, "an attachment's bytes are missing");
            AppError::Internal
        })?;
        self.audit(
            caller,
            "attachment.read",
            format!("attachment:{attachment}"),
            client,
            "ok",
        )
        .await;
        Ok((row, kind, bytes))
    }

    /// Who a chat line is from: the visitor, or the staff member's place.
    async fn author(
        &self,
        caller: Caller<'_>,
        loaded: &Loaded,
    ) -> Result<(String, String, ParticipantRole), AppError> {
        Ok(match caller {
            Caller::Visitor(v) => (v.participant.0.clone(), v.name.clone(), v.role),
            Caller::Staff(p) => {
                let place = self.staff_place(p, loaded).await?;
                let role = loaded
                    .participants
                    .iter()
                    .find(|row| row.key() == place)
                    .map_or(ParticipantRole::Colleague, views::role);
                (place, p.name.clone(), role)
            }
        })
    }

    async fn position_in_queue(
        &self,
        loaded: &Loaded,
        participant: &ParticipantRow,
    ) -> Result<Option<u32>, AppError> {
        if views::state(participant) != ParticipantState::Waiting
            || views::role(participant) != ParticipantRole::Patient
        {
            return Ok(None);
        }
        let waiting = self
            .db
            .waiting_in_queue(&record_key(&loaded.row.queue))
            .await
            .map_err(internal)?;
        Ok(waiting
            .iter()
            .position(|(_, p)| *p == participant.key())
            .map(|i| i as u32 + 1))
    }
}

#[async_trait]
impl Consultations for ConsultationService {
    async fn booking_options(&self, who: &Principal) -> Result<BookingOptions, AppError> {
        let keys: Vec<String> = who.queues.iter().map(|q| q.0.clone()).collect();
        let queues = self
            .db
            .queues_by_keys(&keys)
            .await
            .map_err(internal)?
            .into_iter()
            .filter(|q| {
                authorize(
                    Some(Caller::Staff(who)),
                    Action::CreateConsultation,
                    &Resource::Queue(QueueId(record_key(&q.id))),
                )
                .is_ok()
            })
            .map(|q| QueueSummary {
                id: QueueId(record_key(&q.id)),
                name: q.name,
            })
            .collect();
        Ok(BookingOptions {
            queues,
            timezone: self.timezone.clone(),
        })
    }

    async fn create(
        &self,
        who: &Principal,
        booking: NewConsultation,
        client: &ClientInfo,
    ) -> Result<CreatedConsultation, AppError> {
        self.book(who, booking, None, client).await
    }
    async fn day_list(&self, who: &Principal) -> Result<Vec<ConsultationSummary>, AppError> {
        let caller = Caller::Staff(who);
        let queues: Vec<String> = who
            .queues
            .iter()
            .filter(|q| {
                authorize(
                    Some(caller),
                    Action::ViewQueue,
                    &Resource::Queue((*q).clone()),
                )
                .is_ok()
            })
            .map(|q| q.0.clone())
            .collect();
        if queues.is_empty() {
            return Ok(Vec::new());
        }
        let (from, today_ends) = timezones::day_bounds(Utc::now(), &self.timezone);
        // Today's, and those booked for the coming week: what the clinician
        // just scheduled shows, with its messages.
        let to = today_ends + chrono::Duration::days(UPCOMING_DAYS);
        let rows = self
            .db
            .consultations_for_day(&queues, from, to)
            .await
            .map_err(internal)?;
        let keys: Vec<String> = rows.iter().map(|r| r.key()).collect();
        let participants = self.db.participants_of(&keys).await.map_err(internal)?;
        let queue_rows = self.db.queues_by_keys(&queues).await.map_err(internal)?;
        let messages = self.db.notifications_of(&keys).await.map_err(internal)?;
        self.audit(
            caller,
            "consultation.day_list",
            format!("queues:{}", queues.join(",")),
            &ClientInfo::default(),
            "ok",
        )
        .await;
        Ok(rows
            .iter()
            .map(|row| views::summary(row, &participants, &queue_rows, &messages))
            .collect())
    }

    async fn reissue_link(
        &self,
        who: &Principal,
        participant: &ParticipantId,
        client: &ClientInfo,
    ) -> Result<IssuedLink, AppError> {
        let caller = Caller::Staff(who);
        let loaded = self.load_by_participant(participant).await?;
        self.check(caller, Action::ManageBooking, &loaded, client)
            .await?;
        let row = loaded.participant(participant).ok_or(AppError::Internal)?;
        if row.user.is_some() {
            return Err(AppError::Conflict(
                "Staff members open consultations from their dashboard; they have no link.".into(),
            ));
        }
        if loaded.status().is_over() {
            return Err(AppError::Conflict(
                "This consultation is over: its links cannot be renewed.".into(),
            ));
        }
        let (nonce, secret) = self.links.issue();
        self.db
            .replace_token(
                &participant.0,
                &token::digest(&secret),
                &nonce,
                self.link_expiry(loaded.row.scheduled_at),
            )
            .await
            .map_err(internal)?;
        self.audit(
            caller,
            "participant.reissue_link",
            format!("participant:{participant}"),
            client,
            "ok",
        )
        .await;
        Ok(IssuedLink {
            participant: participant.clone(),
            link: self.link(&secret),
        })
    }

    async fn admit(
        &self,
        caller: Caller<'_>,
        participant: &ParticipantId,
        client: &ClientInfo,
    ) -> Result<ConsultationId, AppError> {
        // Only a host by link among visitors runs anything: the others are
        // refused before any lookup.
        if matches!(caller, Caller::Visitor(v) if v.role != ParticipantRole::Host) {
            return Err(AppError::Forbidden);
        }
        let loaded = self.load_by_participant(participant).await?;
        self.check(caller, Action::RunConsultation, &loaded, client)
            .await?;
        let row = loaded.participant(participant).ok_or(AppError::Internal)?;
        if loaded.status().is_over() {
            return Err(AppError::Conflict("This consultation is over.".into()));
        }
        match views::state(row) {
            ParticipantState::Waiting => {}
            ParticipantState::Admitted => return Ok(ConsultationId(loaded.row.key())),
            _ => {
                return Err(AppError::Conflict(format!(
                    "{} is not in the waiting room any more.",
                    row.name
                )));
            }
        }
        self.db
            .set_participant_state(&participant.0, ParticipantState::Admitted.as_str())
            .await
            .map_err(internal)?;
        let place = match caller {
            Caller::Staff(who) => self.staff_place(who, &loaded).await?,
            Caller::Visitor(host) => host.participant.0.clone(),
        };
        self.db
            .set_participant_state(&place, ParticipantState::Admitted.as_str())
            .await
            .map_err(internal)?;
        let actor = actor_of(caller);
        for from in [ConsultationStatus::Scheduled, ConsultationStatus::Waiting] {
            self.transition(&loaded, from, ConsultationStatus::Active, &actor)
                .await?;
        }
        self.audit(
            caller,
            "participant.admit",
            format!("participant:{participant}"),
            client,
            "ok",
        )
        .await;
        Ok(ConsultationId(loaded.row.key()))
    }

    async fn set_auto_admit(
        &self,
        caller: Caller<'_>,
        consultation: &ConsultationId,
        on: bool,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        let loaded = self.load(consultation).await?;
        self.check(caller, Action::RunConsultation, &loaded, client)
            .await?;
        self.db
            .set_auto_admit(&consultation.0, on)
            .await
            .map_err(internal)?;
        self.audit(
            caller,
            if on {
                "consultation.auto_admit_on"
            } else {
                "consultation.auto_admit_off"
            },
            format!("consultation:{consultation}"),
            client,
            "ok",
        )
        .await;
        Ok(())
    }

    async fn open_invite(&self, secret: &str) -> Result<InviteOutcome, AppError> {
        let unknown = InviteOutcome::Dead {
            reason: DeadLink::Unknown,
            language: None,
        };
        if !token::looks_like_invite(secret) {
            return Ok(unknown);
        }
        let Some(participant) = self
            .db
            .participant_by_token(&token::digest(secret))
            .await
            .map_err(internal)?
        else {
            return Ok(unknown);
        };
        let language = views::language(&participant.language);
        let loaded = self
            .load(&ConsultationId(record_key(&participant.consultation)))
            .await?;
        if let Some(reason) = self.dead_link(&loaded, &participant) {
            return Ok(InviteOutcome::Dead {
                reason,
                language: Some(language),
            });
        }
        self.db
            .mark_link_opened(&participant.key())
            .await
            .map_err(internal)?;
        Ok(InviteOutcome::Open(InvitePreview {
            clinic: self.clinic_of(&loaded.row),
            logo: logo_of(&loaded.row),
            clinician: views::host_name(&loaded.participants),
            when: loaded
                .row
                .scheduled_at
                .map(|at| long_in_zone(at, &loaded.row.timezone, language)),
            language,
            role: views::role(&participant),
            name: participant.name.clone(),
        }))
    }

    async fn join(
        &self,
        secret: &str,
        language: Option<Lang>,
        client: &ClientInfo,
    ) -> Result<(ConsultationId, CookieUpdate), AppError> {
        let gone = || {
            AppError::NotFound(
                "This link does not work any more. Ask your clinic for a new one.".into(),
            )
        };
        if !token::looks_like_invite(secret) {
            return Err(gone());
        }
        let participant = self
            .db
            .participant_by_token(&token::digest(secret))
            .await
            .map_err(internal)?
            .ok_or_else(gone)?;
        let id = ConsultationId(record_key(&participant.consultation));
        let loaded = self.load(&id).await?;
        if self.dead_link(&loaded, &participant).is_some() {
            return Err(gone());
        }
        let session_secret = token::generate();
        let expires = participant
            .token_expires_at
            .unwrap_or_else(|| self.link_expiry(None));
        self.db
            .create_participant_session(
                &token::digest(&session_secret),
                &participant.key(),
                expires,
            )
            .await
            .map_err(internal)?;
        self.db
            .mark_link_opened(&participant.key())
            .await
            .map_err(internal)?;
        self.enter_waiting_room(&loaded, &participant).await?;
        // The language chosen on the invite page follows the person.
        let language = language.unwrap_or_else(|| views::language(&participant.language));
        if language.code() != participant.language {
            self.db
                .set_participant_language(&participant.key(), language.code())
                .await
                .map_err(internal)?;
        }
        let visitor = Visitor {
            participant: ParticipantId(participant.key()),
            consultation: id.clone(),
            role: views::role(&participant),
            name: participant.name.clone(),
            language,
        };
        self.audit(
            Caller::Visitor(&visitor),
            "participant.join",
            format!("consultation:{id}"),
            client,
            "ok",
        )
        .await;
        Ok((id, CookieUpdate(self.cookie.set(&session_secret))))
    }

    async fn leave(&self, visitor: &Visitor, client: &ClientInfo) -> Result<(), AppError> {
        let loaded = self.load(&visitor.consultation).await?;
        self.check(
            Caller::Visitor(visitor),
            Action::ViewConsultation,
            &loaded,
            client,
        )
        .await?;
        let row = loaded
            .participant(&visitor.participant)
            .ok_or(AppError::Forbidden)?;
        if matches!(
            views::state(row),
            ParticipantState::Waiting | ParticipantState::Admitted
        ) {
            self.db
                .set_participant_state(&row.key(), ParticipantState::Left.as_str())
                .await
                .map_err(internal)?;
        }
        let still_waiting = loaded
            .participants
            .iter()
            .any(|p| p.key() != row.key() && views::state(p) == ParticipantState::Waiting);
        if !still_waiting {
            self.transition(
                &loaded,
                ConsultationStatus::Waiting,
                ConsultationStatus::Scheduled,
                &format!("participant:{}", row.key()),
            )
            .await?;
        }
        self.audit(
            Caller::Visitor(visitor),
            "participant.leave",
            format!("consultation:{}", visitor.consultation),
            client,
            "ok",
        )
        .await;
        Ok(())
    }

    async fn rejoin(&self, visitor: &Visitor, client: &ClientInfo) -> Result<(), AppError> {
        let loaded = self.load(&visitor.consultation).await?;
        self.check(Caller::Visitor(visitor), Action::Wait, &loaded, client)
            .await?;
        let row = loaded
            .participant(&visitor.participant)
            .ok_or(AppError::Forbidden)?;
        if self.dead_link(&loaded, row).is_some() {
            return Err(AppError::Conflict(
                "This link does not work any more. Ask your clinic for a new one.".into(),
            ));
        }
        self.enter_waiting_room(&loaded, row).await
    }

    async fn room(
        &self,
        caller: Caller<'_>,
        consultation: &ConsultationId,
        client: &ClientInfo,
    ) -> Result<RoomState, AppError> {
        let loaded = self.load(consultation).await?;
        self.check(caller, Action::ViewConsultation, &loaded, client)
            .await?;
        let resource = loaded.resource();
        let me = match caller {
            Caller::Visitor(v) => loaded.participant(&v.participant),
            Caller::Staff(p) => loaded.place_of(p),
        };
        let position = match me {
            Some(row) => self.position_in_queue(&loaded, row).await?,
            None => None,
        };
        Ok(RoomState {
            consultation: consultation.clone(),
            status: loaded.status(),
            clinic: self.clinic_of(&loaded.row),
            logo: logo_of(&loaded.row),
            host_name: views::host_name(&loaded.participants),
            patient_name: loaded.row.patient_name.clone(),
            me: me.map(|row| ParticipantId(row.key())),
            my_state: me.map(views::state),
            position,
            participants: loaded.participants.iter().map(views::participant).collect(),
            can_chat: authorize(Some(caller), Action::Chat, &resource).is_ok(),
            can_host: authorize(Some(caller), Action::RunConsultation, &resource).is_ok(),
            staff: matches!(caller, Caller::Staff(_)),
            // Staff pages are in the staff language; the patient's in theirs.
            language: match caller {
                Caller::Visitor(_) => {
                    me.map_or(Lang::default(), |row| views::language(&row.language))
                }
                Caller::Staff(_) => Lang::default(),
            },
        })
    }

    async fn send_message(
        &self,
        caller: Caller<'_>,
        consultation: &ConsultationId,
        body: &str,
        client: &ClientInfo,
    ) -> Result<ChatMessage, AppError> {
        let body = check_chat_body(body)?;
        let loaded = self.load(consultation).await?;
        self.check(caller, Action::Chat, &loaded, client).await?;
        let (author, name, role) = self.author(caller, &loaded).await?;
        let row = self
            .db
            .insert_message(&consultation.0, &author, &name, role.as_str(), &body)
            .await
            .map_err(internal)?;
        self.audit(
            caller,
            "chat.send",
            format!("message:{}", row.key()),
            client,
            "ok",
        )
        .await;
        Ok(views::message(&row))
    }

    async fn messages(
        &self,
        caller: Caller<'_>,
        consultation: &ConsultationId,
        after: Option<&MessageId>,
        client: &ClientInfo,
    ) -> Result<Vec<ChatMessage>, AppError> {
        let loaded = self.load(consultation).await?;
        self.check(caller, Action::Chat, &loaded, client).await?;
        let rows = self
            .db
            .messages(&consultation.0, after.map(|m| m.0.as_str()))
            .await
            .map_err(internal)?;
        self.audit(
            caller,
            "chat.read",
            format!("consultation:{consultation}"),
            client,
            "ok",
        )
        .await;
        Ok(rows.iter().map(views::message).collect())
    }

    async fn notes(
        &self,
        caller: Caller<'_>,
        consultation: &ConsultationId,
        client: &ClientInfo,
    ) -> Result<String, AppError> {
        let loaded = self.load(consultation).await?;
        self.check(caller, Action::RunConsultation, &loaded, client)
            .await?;
        self.audit(
            caller,
            "notes.read",
            format!("consultation:{consultation}"),
            client,
            "ok",
        )
        .await;
        Ok(loaded.row.notes)
    }

    async fn save_notes(
        &self,
        caller: Caller<'_>,
        consultation: &ConsultationId,
        notes: &str,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        if notes.chars().count() > MAX_NOTES_CHARS {
            return Err(AppError::invalid(
                "notes",
                "The notes are too long (at most 50 000 characters).",
            ));
        }
        let loaded = self.load(consultation).await?;
        self.check(caller, Action::RunConsultation, &loaded, client)
            .await?;
        // Notes may be finished after closing, but not once cancelled.
        if loaded.status() == ConsultationStatus::Cancelled {
            return Err(AppError::Conflict(
                "This consultation was cancelled.".into(),
            ));
        }
        self.db
            .save_notes(&consultation.0, notes)
            .await
            .map_err(internal)?;
        self.audit(
            caller,
            "notes.write",
            format!("consultation:{consultation}"),
            client,
            "ok",
        )
        .await;
        Ok(())
    }

    async fn invite_guest(
        &self,
        caller: Caller<'_>,
        consultation: &ConsultationId,
        name: &str,
        language: Lang,
        client: &ClientInfo,
    ) -> Result<IssuedLink, AppError> {
        self.invite_by_link(
            caller,
            consultation,
            name,
            language,
            ParticipantRole::Guest,
            client,
        )
        .await
    }

    async fn remove_participant(
        &self,
        caller: Caller<'_>,
        participant: &ParticipantId,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        // Only a host by link among visitors runs anything: the others are
        // refused before any lookup.
        if matches!(caller, Caller::Visitor(v) if v.role != ParticipantRole::Host) {
            return Err(AppError::Forbidden);
        }
        let loaded = self.load_by_participant(participant).await?;
        self.check(caller, Action::RunConsultation, &loaded, client)
            .await?;
        let row = loaded.participant(participant).ok_or(AppError::Internal)?;
        if views::role(row) == ParticipantRole::Host {
            return Err(AppError::Conflict(
                "The clinician who runs the consultation cannot be removed; close it instead."
                    .into(),
            ));
        }
        self.db
            .remove_participant(&participant.0)
            .await
            .map_err(internal)?;
        self.audit(
            caller,
            "participant.remove",
            format!("participant:{participant}"),
            client,
            "ok",
        )
        .await;
        Ok(())
    }

    async fn request_translator(
        &self,
        who: &Principal,
        consultation: &ConsultationId,
        language: &str,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        let codes = app::domain::parse_languages(language)?;
        let [code] = codes.as_slice() else {
            return Err(AppError::invalid(
                "language",
                "Enter one language code, like ar or uk.",
            ));
        };
        let caller = Caller::Staff(who);
        let loaded = self.load(consultation).await?;
        self.check(caller, Action::RunConsultation, &loaded, client)
            .await?;
        if loaded.status().is_over() {
            return Err(AppError::Conflict("This consultation is over.".into()));
        }
        self.db
            .create_translation_request(&consultation.0, code, &who.user_id.0)
            .await
            .map_err(internal)?;
        self.audit(
            caller,
            "translation.request",
            format!("consultation:{consultation} {code}"),
            client,
            "ok",
        )
        .await;
        Ok(())
    }

    async fn translation_requests(
        &self,
        who: &Principal,
    ) -> Result<Vec<TranslationRequest>, AppError> {
        let languages: Vec<String> = who
            .languages
            .iter()
            .filter(|l| {
                authorize(
                    Some(Caller::Staff(who)),
                    Action::Translate,
                    &Resource::Language((*l).clone()),
                )
                .is_ok()
            })
            .cloned()
            .collect();
        if languages.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self
            .db
            .open_translation_requests(&languages)
            .await
            .map_err(internal)?
            .iter()
            .map(views::translation)
            .collect())
    }

    async fn accept_translation(
        &self,
        who: &Principal,
        request: &str,
        client: &ClientInfo,
    ) -> Result<ConsultationId, AppError> {
        let caller = Caller::Staff(who);
        let row = self
            .db
            .translation_request(request)
            .await
            .map_err(internal)?
            .ok_or_else(|| AppError::NotFound("This request does not exist.".into()))?;
        authorize(
            Some(caller),
            Action::Translate,
            &Resource::Language(row.language.clone()),
        )?;
        let taken = self
            .db
            .accept_translation_request(request, &who.user_id.0, &who.name, &row.language)
            .await
            .map_err(internal)?;
        if !taken {
            return Err(AppError::Conflict(
                "Another translator accepted this request first.".into(),
            ));
        }
        self.audit(
            caller,
            "translation.accept",
            format!("translation_request:{request}"),
            client,
            "ok",
        )
        .await;
        Ok(ConsultationId(record_key(&row.consultation)))
    }

    async fn mark_read(
        &self,
        caller: Caller<'_>,
        consultation: &ConsultationId,
        message: &MessageId,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        let loaded = self.load(consultation).await?;
        self.check(caller, Action::Chat, &loaded, client).await?;
        let mine = match caller {
            Caller::Visitor(v) => Some(v.participant.0.clone()),
            Caller::Staff(p) => loaded.place_of(p).map(|row| row.key()),
        };
        // Staff who only look in (no place) leave no marker.
        if let Some(participant) = mine {
            self.db
                .mark_read(&participant, &message.0)
                .await
                .map_err(internal)?;
        }
        Ok(())
    }

    async fn cancel(
        &self,
        who: &Principal,
        consultation: &ConsultationId,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        let caller = Caller::Staff(who);
        let loaded = self.load(consultation).await?;
        self.check(caller, Action::ManageBooking, &loaded, client)
            .await?;
        let actor = format!("user:{}", who.user_id);
        let from = loaded.status();
        if !self
            .transition(&loaded, from, ConsultationStatus::Cancelled, &actor)
            .await?
        {
            return Err(AppError::Conflict(
                "Only a consultation not yet under way can be cancelled; close it instead.".into(),
            ));
        }
        self.audit(
            caller,
            "consultation.cancel",
            format!("consultation:{consultation}"),
            client,
            "ok",
        )
        .await;
        if let Some(notifier) = &self.notifier {
            notifier.consultation_cancelled(&loaded.row).await;
        }
        Ok(())
    }

    async fn reschedule(
        &self,
        who: &Principal,
        consultation: &ConsultationId,
        scheduled_for: &str,
        clinician_timezone: &str,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        let caller = Caller::Staff(who);
        let loaded = self.load(consultation).await?;
        self.check(caller, Action::ManageBooking, &loaded, client)
            .await?;
        if loaded.status() != ConsultationStatus::Scheduled {
            return Err(AppError::Conflict(
                "Only a consultation nobody has joined yet can be moved.".into(),
            ));
        }
        let at = self.parse_when(scheduled_for, clinician_timezone)?;
        let moved = self
            .db
            .reschedule(&consultation.0, at, self.link_expiry(Some(at)))
            .await
            .map_err(internal)?
            .ok_or_else(|| {
                AppError::Conflict("Only a consultation nobody has joined yet can be moved.".into())
            })?;
        self.audit(
            caller,
            "consultation.reschedule",
            format!("consultation:{consultation}"),
            client,
            "ok",
        )
        .await;
        if let Some(notifier) = &self.notifier {
            notifier.rescheduled(&moved).await;
        }
        Ok(())
    }

    async fn resend_invite(
        &self,
        who: &Principal,
        consultation: &ConsultationId,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        let caller = Caller::Staff(who);
        let loaded = self.load(consultation).await?;
        self.check(caller, Action::ManageBooking, &loaded, client)
            .await?;
        if loaded.status().is_over() {
            return Err(AppError::Conflict(
                "This consultation is over: there is nothing to invite to.".into(),
            ));
        }
        let Some(notifier) = &self.notifier else {
            return Err(AppError::Conflict(
                "Messages are not set up on this server.".into(),
            ));
        };
        if loaded.row.patient_email.is_none() && loaded.row.patient_phone.is_none() {
            return Err(AppError::Conflict(
                "The patient gave neither an email address nor a mobile number.".into(),
            ));
        }
        let sent = self
            .db
            .invites_since(&consultation.0, Utc::now() - chrono::Duration::hours(1))
            .await
            .map_err(internal)?;
        if sent >= MAX_INVITES_PER_HOUR {
            self.audit(
                caller,
                "consultation.resend_invite",
                format!("consultation:{consultation}"),
                client,
                "denied",
            )
            .await;
            return Err(AppError::TooOften(format!(
                "The invite already went {sent} times in the last hour. Wait a while before sending it again, or give the patient the link another way."
            )));
        }
        notifier
            .resend_invite(&loaded.row)
            .await
            .map_err(internal)?;
        self.audit(
            caller,
            "consultation.resend_invite",
            format!("consultation:{consultation}"),
            client,
            "ok",
        )
        .await;
        Ok(())
    }

    async fn close(
        &self,
        caller: Caller<'_>,
        consultation: &ConsultationId,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        let loaded = self.load(consultation).await?;
        self.check(caller, Action::RunConsultation, &loaded, client)
            .await?;
        let moved = self
            .transition(
                &loaded,
                ConsultationStatus::Active,
                ConsultationStatus::Closed,
                &actor_of(caller),
            )
            .await?;
        if !moved {
            return Err(AppError::Conflict(
                "Only a consultation under way can be closed.".into(),
            ));
        }
        self.audit(
            caller,
            "consultation.close",
            format!("consultation:{consultation}"),
            client,
            "ok",
        )
        .await;
        if let Some(notifier) = &self.notifier {
            notifier.consultation_over(&consultation.0).await;
        }
        Ok(())
    }
}

/// Where a branded consultation's logo is served.
fn logo_of(row: &ConsultationRow) -> Option<String> {
    row.brand_logo.as_ref().map(|key| format!("/brand/{key}"))
}

/// Who did it, as the history of statuses records it.
fn actor_of(caller: Caller<'_>) -> String {
    match caller {
        Caller::Staff(who) => format!("user:{}", who.user_id),
        Caller::Visitor(visitor) => format!("participant:{}", visitor.participant),
    }
}

/// Logs the real cause once; the user reads a plain sentence.
fn internal(error: DbError) -> AppError {
    tracing::error!(%error, "database operation failed");
    AppError::Internal
}
