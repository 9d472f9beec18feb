//! What integrators can subscribe to, and the JSON body each event is sent
//! as.

use crate::consultations::api::ApiConsultation;
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    ConsultationCreated,
    PatientWaiting,
    ConsultationStarted,
    ConsultationClosed,
    ConsultationCancelled,
    NotificationFailed,
}

impl EventKind {
    pub const ALL: [EventKind; 6] = [
        EventKind::ConsultationCreated,
        EventKind::PatientWaiting,
        EventKind::ConsultationStarted,
        EventKind::ConsultationClosed,
        EventKind::ConsultationCancelled,
        EventKind::NotificationFailed,
    ];

    /// The names the database's event rows carry (see `db::webhooks`).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::ConsultationCreated => "consultation.created",
            EventKind::PatientWaiting => "patient.waiting",
            EventKind::ConsultationStarted => "consultation.started",
            EventKind::ConsultationClosed => "consultation.closed",
            EventKind::ConsultationCancelled => "consultation.cancelled",
            EventKind::NotificationFailed => "notification.failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// All the names, for error messages.
    pub fn list() -> String {
        Self::ALL.map(EventKind::as_str).join(", ")
    }
}

/// The body of every webhook request.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookEvent)]
pub struct EventBody {
    /// The event's id: the same on retries and replays, so a receiver can
    /// ignore one it has already handled.
    pub id: String,
    /// `consultation.created`, `patient.waiting`, `consultation.started`,
    /// `consultation.closed`, `consultation.cancelled` or
    /// `notification.failed`.
    #[serde(rename = "type")]
    pub kind: String,
    /// When it happened.
    pub created_at: DateTime<Utc>,
    pub data: EventData,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookEventData)]
pub struct EventData {
    /// The consultation as it is when the event is sent out (its
    /// `patientLink` is always null here: links are not sent to webhooks).
    pub consultation: ApiConsultation,
    /// Who came into the waiting room (`patient.waiting`), or whom a
    /// message was for (`notification.failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub participant: Option<EventParticipant>,
    /// The message that could not be sent (`notification.failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification: Option<EventNotification>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookParticipant)]
pub struct EventParticipant {
    pub id: String,
    pub name: String,
    /// `host`, `patient`, `guest`, `translator` or `colleague`.
    pub role: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookNotification)]
pub struct EventNotification {
    pub id: String,
    /// `email` or `sms`.
    pub channel: String,
    /// `invite`, `reminder`, `cancellation`, …
    pub kind: String,
    /// Why it failed, in words.
    pub error: Option<String>,
}
