//! Consultations, the people in them and their chat: the domain types the
//! dashboard, the waiting room, the room and the server share. Times travel
//! as milliseconds since the epoch (UTC) and as text already formatted for
//! the person who reads them: the browser needs no time-zone database.

use crate::domain::{FieldError, UserId, looks_like_email};
use crate::i18n::Lang;
use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub struct $name(pub String);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// The key of a queue (department), e.g. `default`.
    QueueId
);
id_type!(
    /// The key of a consultation.
    ConsultationId
);
id_type!(
    /// The key of one person's place in one consultation.
    ParticipantId
);
id_type!(
    /// The key of a chat message (a ULID: ordered by time).
    MessageId
);

/// The queue every installation starts with.
pub const DEFAULT_QUEUE: &str = "default";

/// Where a consultation is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsultationStatus {
    /// Booked; nobody is waiting yet.
    Scheduled,
    /// The patient is in the waiting room.
    Waiting,
    /// The clinician let someone in.
    Active,
    Closed,
    Cancelled,
}

impl ConsultationStatus {
    pub const ALL: [ConsultationStatus; 5] = [
        ConsultationStatus::Scheduled,
        ConsultationStatus::Waiting,
        ConsultationStatus::Active,
        ConsultationStatus::Closed,
        ConsultationStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConsultationStatus::Scheduled => "scheduled",
            ConsultationStatus::Waiting => "waiting",
            ConsultationStatus::Active => "active",
            ConsultationStatus::Closed => "closed",
            ConsultationStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// Closed and cancelled consultations take no one in and change no more.
    pub fn is_over(self) -> bool {
        matches!(
            self,
            ConsultationStatus::Closed | ConsultationStatus::Cancelled
        )
    }

    /// The lifecycle `scheduled → waiting → active → closed`, with
    /// `cancelled` from anything not yet active. A waiting room that empties
    /// goes back to scheduled; a consultation may also start before anyone
    /// waited (the clinician calls in a colleague first).
    pub fn may_become(self, next: ConsultationStatus) -> bool {
        use ConsultationStatus::*;
        matches!(
            (self, next),
            (Scheduled, Waiting)
                | (Waiting, Scheduled)
                | (Scheduled | Waiting, Active)
                | (Active, Closed)
                | (Scheduled | Waiting, Cancelled)
        )
    }
}

impl fmt::Display for ConsultationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why someone is in a consultation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParticipantRole {
    /// The clinician who runs it.
    Host,
    Patient,
    /// Family or a friend, by link.
    Guest,
    Translator,
    /// Another clinician asked to join.
    Colleague,
}

impl ParticipantRole {
    pub const ALL: [ParticipantRole; 5] = [
        ParticipantRole::Host,
        ParticipantRole::Patient,
        ParticipantRole::Guest,
        ParticipantRole::Translator,
        ParticipantRole::Colleague,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ParticipantRole::Host => "host",
            ParticipantRole::Patient => "patient",
            ParticipantRole::Guest => "guest",
            ParticipantRole::Translator => "translator",
            ParticipantRole::Colleague => "colleague",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == value)
    }
}

/// Where one participant is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParticipantState {
    /// Has a link, has not come in.
    Invited,
    /// In the waiting room.
    Waiting,
    /// In the consultation.
    Admitted,
    /// Went away; may come back with the same link.
    Left,
    /// Taken out by the clinician; the link is dead.
    Removed,
}

impl ParticipantState {
    pub const ALL: [ParticipantState; 5] = [
        ParticipantState::Invited,
        ParticipantState::Waiting,
        ParticipantState::Admitted,
        ParticipantState::Left,
        ParticipantState::Removed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ParticipantState::Invited => "invited",
            ParticipantState::Waiting => "waiting",
            ParticipantState::Admitted => "admitted",
            ParticipantState::Left => "left",
            ParticipantState::Removed => "removed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

/// A person who entered through a link: their whole authority is this one
/// place in this one consultation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visitor {
    pub participant: ParticipantId,
    pub consultation: ConsultationId,
    pub role: ParticipantRole,
    pub name: String,
    pub language: Lang,
}

/// What the clinician types to book a consultation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewConsultation {
    pub queue: QueueId,
    pub patient_name: String,
    #[serde(default)]
    pub patient_email: String,
    #[serde(default)]
    pub patient_phone: String,
    /// Language code of the patient's pages and messages (`en`, `fr`).
    pub language: String,
    /// IANA zone of the patient, e.g. `Europe/Paris`.
    pub timezone: String,
    /// Empty for "now"; else `YYYY-MM-DDTHH:MM` (an `<input type=datetime-local>`)
    /// read in `clinician_timezone`.
    #[serde(default)]
    pub scheduled_for: String,
    /// IANA zone the clinician typed the time in.
    #[serde(default)]
    pub clinician_timezone: String,
}

impl NewConsultation {
    /// Trims, checks shapes. Time zones and the date itself are checked by
    /// the server, which has the zone database.
    pub fn validate(mut self) -> Result<Self, FieldError> {
        self.patient_name = self.patient_name.trim().to_string();
        self.patient_email = self.patient_email.trim().to_lowercase();
        self.patient_phone = self.patient_phone.trim().to_string();
        self.timezone = self.timezone.trim().to_string();
        self.clinician_timezone = self.clinician_timezone.trim().to_string();
        self.scheduled_for = self.scheduled_for.trim().to_string();
        if self.patient_name.is_empty() || self.patient_name.chars().count() > 120 {
            return Err(FieldError::new(
                "patient_name",
                "Enter the patient's name (1 to 120 characters).",
            ));
        }
        if !self.patient_email.is_empty() && !looks_like_email(&self.patient_email) {
            return Err(FieldError::new(
                "patient_email",
                "Enter an email address like name@example.org, or leave it empty.",
            ));
        }
        if !self.patient_phone.is_empty() && !looks_like_phone(&self.patient_phone) {
            return Err(FieldError::new(
                "patient_phone",
                "Enter a phone number of 6 to 15 digits, like +41 22 123 45 67, or leave it empty.",
            ));
        }
        if Lang::from_code(&self.language).is_none() {
            return Err(FieldError::new(
                "language",
                "Choose one of the offered languages.",
            ));
        }
        if self.timezone.is_empty() {
            return Err(FieldError::new(
                "timezone",
                "Choose the patient's time zone.",
            ));
        }
        if !self.scheduled_for.is_empty() && !looks_like_local_datetime(&self.scheduled_for) {
            return Err(FieldError::new(
                "scheduled_for",
                "Enter a date and time like 2026-11-23 14:30, or leave it empty for now.",
            ));
        }
        Ok(self)
    }
}

/// Digits with the usual separators; the full E.164 check comes with SMS.
pub fn looks_like_phone(value: &str) -> bool {
    let digits = value.chars().filter(char::is_ascii_digit).count();
    let allowed = value
        .chars()
        .enumerate()
        .all(|(i, c)| c.is_ascii_digit() || " -().".contains(c) || (c == '+' && i == 0));
    allowed && (6..=15).contains(&digits)
}

/// `YYYY-MM-DDTHH:MM`, optionally with `:SS`.
fn looks_like_local_datetime(value: &str) -> bool {
    let b = value.as_bytes();
    let shape = |pattern: &[u8]| {
        b.len() == pattern.len()
            && b.iter().zip(pattern).all(|(c, p)| {
                if *p == b'9' {
                    c.is_ascii_digit()
                } else {
                    c == p
                }
            })
    };
    shape(b"9999-99-99T99:99") || shape(b"9999-99-99T99:99:99")
}

/// A consultation and the links given out for it, as the clinician sees it
/// right after booking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedConsultation {
    pub id: ConsultationId,
    pub patient_link: String,
    /// The host's own link, when they have no account (REST API bookings
    /// by clinician name).
    #[serde(default)]
    pub host_link: Option<String>,
}

/// A fresh link for one participant (the old one no longer opens anything).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedLink {
    pub participant: ParticipantId,
    pub link: String,
}

/// One person in a consultation, as the others see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantView {
    pub id: ParticipantId,
    pub role: ParticipantRole,
    pub name: String,
    pub state: ParticipantState,
    /// Has the link been opened at least once (for the clinician).
    pub link_opened: bool,
    /// Epoch milliseconds, while waiting.
    pub waiting_since_ms: Option<i64>,
    /// The newest chat line this person has seen.
    #[serde(default)]
    pub last_read: Option<MessageId>,
}

/// A line of the clinician's day list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsultationSummary {
    pub id: ConsultationId,
    pub queue: QueueId,
    pub queue_name: String,
    pub patient_name: String,
    pub host_name: String,
    pub status: ConsultationStatus,
    /// Epoch milliseconds; `None` for "now".
    pub scheduled_at_ms: Option<i64>,
    /// The scheduled time in the patient's zone, formatted for the clinician.
    pub scheduled_label: Option<String>,
    pub auto_admit: bool,
    pub participants: Vec<ParticipantView>,
    pub created_at_ms: i64,
    /// Invites, reminders and cancellations, oldest first.
    #[serde(default)]
    pub messages: Vec<MessageStatus>,
    /// The patient's last answer by text message (`confirmed`, `arrived`…).
    #[serde(default)]
    pub patient_reply: Option<String>,
}

/// How a message reaches the patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Channel {
    Email,
    Sms,
}

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Delivery {
    Queued,
    Sent,
    Delivered,
    Failed,
    Cancelled,
}

impl Delivery {
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "queued" => Delivery::Queued,
            "sent" => Delivery::Sent,
            "delivered" => Delivery::Delivered,
            "failed" => Delivery::Failed,
            "cancelled" => Delivery::Cancelled,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Queued => "queued",
            Delivery::Sent => "sent",
            Delivery::Delivered => "delivered",
            Delivery::Failed => "failed",
            Delivery::Cancelled => "cancelled",
        }
    }
}

/// One message to the patient, as the clinician sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageStatus {
    pub channel: Channel,
    /// `invite`, `invite_now`, `reminder`, `cancellation`.
    pub kind: String,
    pub recipient: String,
    pub delivery: Delivery,
    /// Why it failed, was called off, or is being retried.
    pub reason: Option<String>,
    /// When it went (or is planned), in the patient's time zone.
    pub at_label: String,
    /// What the `log` gateway kept instead of sending (development).
    #[serde(default)]
    pub kept_text: Option<String>,
}

impl MessageStatus {
    /// "Invitation by text message to +33612345678: sent 20/10/2027 10:00".
    pub fn describe(&self) -> String {
        let what = match self.kind.as_str() {
            "invite" | "invite_now" => "Invitation",
            "reminder" => "Reminder",
            "cancellation" => "Cancellation notice",
            _ => "Message",
        };
        let how = match self.channel {
            Channel::Email => "email",
            Channel::Sms => "text message",
        };
        let state = match self.delivery {
            Delivery::Queued if self.reason.is_some() => {
                format!("will try again ({})", self.at_label)
            }
            Delivery::Queued => format!("planned for {}", self.at_label),
            Delivery::Sent if self.kept_text.is_some() => {
                format!("kept, not sent (log gateway) {}", self.at_label)
            }
            Delivery::Sent => format!("sent {}", self.at_label),
            Delivery::Delivered => format!("delivered {}", self.at_label),
            Delivery::Failed => "not sent".to_string(),
            Delivery::Cancelled => "called off".to_string(),
        };
        let mut text = format!("{what} by {how} to {}: {state}", self.recipient);
        if let Some(reason) = &self.reason {
            text.push_str(" — ");
            text.push_str(reason);
        }
        text
    }
}

impl ConsultationSummary {
    /// The earliest moment someone started waiting, if anyone is.
    pub fn waiting_since_ms(&self) -> Option<i64> {
        self.participants
            .iter()
            .filter(|p| p.state == ParticipantState::Waiting)
            .filter_map(|p| p.waiting_since_ms)
            .min()
    }

    pub fn waiting(&self) -> impl Iterator<Item = &ParticipantView> {
        self.participants
            .iter()
            .filter(|p| p.state == ParticipantState::Waiting)
    }
}

/// What the booking form offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingOptions {
    /// The queues the clinician may book in.
    pub queues: Vec<QueueSummary>,
    /// The clinic's time zone: the default for patients and typed times.
    pub timezone: String,
}

/// A queue a staff member works in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueSummary {
    pub id: QueueId,
    pub name: String,
}

/// What an invite link shows before anyone clicks: enough to recognise the
/// appointment, nothing about the patient's health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitePreview {
    /// The clinic's name, or the company a session was branded with.
    pub clinic: String,
    /// Where the company's logo is served, when it has one.
    #[serde(default)]
    pub logo: Option<String>,
    pub clinician: String,
    /// The time in the invitee's zone and language; `None` for "now".
    pub when: Option<String>,
    pub language: Lang,
    pub role: ParticipantRole,
    pub name: String,
}

/// What opening an invite link leads to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum InviteOutcome {
    Open(InvitePreview),
    /// The link opens nothing; `language` is the invitee's when known.
    Dead {
        reason: DeadLink,
        language: Option<Lang>,
    },
}

/// Why a link opens nothing. Worded by the page, in the invitee's language;
/// none of them says which consultation it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeadLink {
    /// No such link (typo, forged, or replaced by a newer one).
    Unknown,
    Expired,
    /// The consultation is over (closed or cancelled) or the person was removed.
    Ended,
}

impl DeadLink {
    pub fn status(self) -> u16 {
        match self {
            DeadLink::Unknown => 404,
            DeadLink::Expired | DeadLink::Ended => 410,
        }
    }
}

/// One chat line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub id: MessageId,
    pub consultation: ConsultationId,
    pub author: ParticipantId,
    pub author_name: String,
    pub author_role: ParticipantRole,
    pub body: String,
    pub at_ms: i64,
    pub attachment: Option<Attachment>,
}

/// A file sent in the chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// The key after `attachment:`; the file is at [`Attachment::url`].
    pub id: String,
    pub name: String,
    pub content_type: String,
    pub size: u64,
}

impl Attachment {
    pub fn url(&self) -> String {
        format!("/files/{}", self.id)
    }

    /// Images are shown in the chat; anything else is a download.
    pub fn is_image(&self) -> bool {
        self.content_type.starts_with("image/")
    }

    /// `1.2 MB`, `340 KB`.
    pub fn size_label(&self) -> String {
        // Integer arithmetic: float formatting would weigh on the WASM.
        if self.size >= 1_000_000 {
            let tenths = self.size.div_ceil(100_000);
            format!("{}.{} MB", tenths / 10, tenths % 10)
        } else {
            format!("{} KB", self.size.div_ceil(1000))
        }
    }
}

/// Longest chat message accepted (characters).
pub const MAX_CHAT_CHARS: usize = 4000;

/// Trims a chat message and checks it is worth sending.
pub fn check_chat_body(body: &str) -> Result<String, FieldError> {
    let body = body.trim();
    if body.is_empty() {
        return Err(FieldError::new("body", "Write a message first."));
    }
    if body.chars().count() > MAX_CHAT_CHARS {
        return Err(FieldError::new(
            "body",
            "This message is too long: split it in several (at most 4000 characters each).",
        ));
    }
    Ok(body.to_string())
}

/// Everything a participant's page needs about their consultation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomState {
    pub consultation: ConsultationId,
    pub status: ConsultationStatus,
    /// The clinic's name, or the company a session was branded with.
    pub clinic: String,
    /// Where the company's logo is served, when it has one.
    #[serde(default)]
    pub logo: Option<String>,
    pub host_name: String,
    pub patient_name: String,
    /// The participant whose page this is (for staff: their host or
    /// colleague place, if they have one).
    pub me: Option<ParticipantId>,
    pub my_state: Option<ParticipantState>,
    /// 1 = next to be let in (waiting patients of the same queue, by arrival).
    pub position: Option<u32>,
    pub participants: Vec<ParticipantView>,
    /// May this page see and write the chat (admitted, or staff of the queue).
    pub can_chat: bool,
    /// May this page run the consultation (admit, close, notes).
    pub can_host: bool,
    /// The page is a signed-in staff member's (not a link's): the
    /// dashboard and the translators are theirs to reach.
    #[serde(default)]
    pub staff: bool,
    /// The language of this page's person.
    pub language: Lang,
}

/// A clinician's call for a translator, as translators see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranslationRequest {
    pub id: String,
    pub consultation: ConsultationId,
    /// The language code asked for.
    pub language: String,
    pub requested_by: String,
    pub queue_name: String,
    pub at_ms: i64,
}

/// Longest notes accepted (characters).
pub const MAX_NOTES_CHARS: usize = 50_000;

/// The subset of a consultation the access policy looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsultationFacts {
    pub id: ConsultationId,
    pub queue: QueueId,
    pub status: ConsultationStatus,
    /// Participants currently let in.
    pub admitted: Vec<ParticipantId>,
    /// Staff accounts that hold a place in it (translators who accepted,
    /// colleagues asked in).
    pub staff_participants: Vec<UserId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn booking() -> NewConsultation {
        NewConsultation {
            queue: QueueId(DEFAULT_QUEUE.into()),
            patient_name: "  Zoë Ñúñez ".into(),
            patient_email: " ZOE@Example.org ".into(),
            patient_phone: "+41 22 123 45 67".into(),
            language: "fr".into(),
            timezone: "Europe/Zurich".into(),
            scheduled_for: "2026-11-23T14:30".into(),
            clinician_timezone: "Europe/Paris".into(),
        }
    }

    #[test]
    fn a_booking_is_trimmed_and_checked() {
        let ok = booking().validate().unwrap();
        assert_eq!(ok.patient_name, "Zoë Ñúñez");
        assert_eq!(ok.patient_email, "zoe@example.org");
        for (field, broken) in [
            (
                "patient_name",
                NewConsultation {
                    patient_name: " ".into(),
                    ..booking()
                },
            ),
            (
                "patient_email",
                NewConsultation {
                    patient_email: "zoe@".into(),
                    ..booking()
                },
            ),
            (
                "patient_phone",
                NewConsultation {
                    patient_phone: "12ab".into(),
                    ..booking()
                },
            ),
            (
                "language",
                NewConsultation {
                    language: "xx".into(),
                    ..booking()
                },
            ),
            (
                "scheduled_for",
                NewConsultation {
                    scheduled_for: "tomorrow".into(),
                    ..booking()
                },
            ),
        ] {
            assert_eq!(broken.validate().unwrap_err().field, field);
        }
        let now = NewConsultation {
            scheduled_for: String::new(),
            patient_email: String::new(),
            patient_phone: String::new(),
            ..booking()
        };
        assert!(now.validate().is_ok(), "now, and no contact, is allowed");
    }

    #[test]
    fn phones() {
        assert!(looks_like_phone("+41 22 123 45 67"));
        assert!(looks_like_phone("(022) 123-4567"));
        assert!(!looks_like_phone("12345"));
        assert!(!looks_like_phone("41+22123456"));
        assert!(!looks_like_phone("call me"));
    }

    #[test]
    fn lifecycle() {
        use ConsultationStatus::*;
        assert!(Scheduled.may_become(Waiting));
        assert!(Waiting.may_become(Active));
        assert!(Active.may_become(Closed));
        assert!(Scheduled.may_become(Cancelled));
        assert!(!Closed.may_become(Active));
        assert!(!Active.may_become(Cancelled));
        assert!(!Cancelled.may_become(Waiting));
        for s in ConsultationStatus::ALL {
            assert_eq!(ConsultationStatus::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn chat_bodies() {
        assert_eq!(check_chat_body("  hello ").unwrap(), "hello");
        assert!(check_chat_body("   ").is_err());
        assert!(check_chat_body(&"x".repeat(MAX_CHAT_CHARS + 1)).is_err());
    }
}
