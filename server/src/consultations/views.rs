//! Rows as the pages see them, and the facts the access policy needs.

use crate::db::{
    ConsultationRow, MessageRow, NotificationRow, ParticipantRow, QueueRow, TranslationRow,
    record_key,
};
use crate::timezones::{long_in_zone, short_in_zone};
use app::consultation::{
    Attachment, Channel, ChatMessage, ConsultationFacts, ConsultationId, ConsultationStatus,
    ConsultationSummary, Delivery, MessageId, MessageStatus, ParticipantId, ParticipantRole,
    ParticipantState, ParticipantView, QueueId, TranslationRequest,
};
use app::domain::UserId;
use app::i18n::Lang;

pub fn status(row: &ConsultationRow) -> ConsultationStatus {
    // The schema allows only the five names; anything else would be a bug
    // in a migration, and "closed" is the safe reading of it.
    ConsultationStatus::parse(&row.status).unwrap_or(ConsultationStatus::Closed)
}

pub fn role(row: &ParticipantRow) -> ParticipantRole {
    ParticipantRole::parse(&row.role).unwrap_or(ParticipantRole::Guest)
}

pub fn state(row: &ParticipantRow) -> ParticipantState {
    ParticipantState::parse(&row.state).unwrap_or(ParticipantState::Removed)
}

pub fn language(code: &str) -> Lang {
    Lang::from_code(code).unwrap_or_default()
}

pub fn participant(row: &ParticipantRow) -> ParticipantView {
    ParticipantView {
        id: ParticipantId(row.key()),
        role: role(row),
        name: row.name.clone(),
        state: state(row),
        link_opened: row.link_opened_at.is_some(),
        waiting_since_ms: row.waiting_since.map(|t| t.timestamp_millis()),
        last_read: row.last_read.clone().map(MessageId),
    }
}

pub fn facts(row: &ConsultationRow, participants: &[ParticipantRow]) -> ConsultationFacts {
    ConsultationFacts {
        id: ConsultationId(row.key()),
        queue: QueueId(record_key(&row.queue)),
        status: status(row),
        admitted: participants
            .iter()
            .filter(|p| state(p) == ParticipantState::Admitted)
            .map(|p| ParticipantId(p.key()))
            .collect(),
        staff_participants: participants
            .iter()
            .filter(|p| state(p) != ParticipantState::Removed)
            .filter_map(|p| p.user.as_ref())
            .map(|u| UserId(record_key(u)))
            .collect(),
    }
}

/// The host's name as the participants list has it.
pub fn host_name(participants: &[ParticipantRow]) -> String {
    participants
        .iter()
        .find(|p| role(p) == ParticipantRole::Host)
        .map(|p| p.name.clone())
        .unwrap_or_default()
}

/// A message about a consultation as the clinician sees it.
pub fn message_status(row: &NotificationRow, timezone: &str) -> MessageStatus {
    let at = match row.status.as_str() {
        "delivered" => row.delivered_at.or(row.sent_at),
        "sent" => row.sent_at,
        _ => None,
    }
    .unwrap_or(row.due_at);
    MessageStatus {
        channel: if row.channel == "sms" {
            Channel::Sms
        } else {
            Channel::Email
        },
        kind: row.kind.clone(),
        recipient: row.recipient.clone(),
        delivery: Delivery::parse(&row.status).unwrap_or(Delivery::Failed),
        reason: row.error.clone(),
        at_label: short_in_zone(at, timezone),
        kept_text: row.outbox.clone(),
    }
}

pub fn summary(
    row: &ConsultationRow,
    participants: &[ParticipantRow],
    queues: &[QueueRow],
    messages: &[NotificationRow],
) -> ConsultationSummary {
    let queue = QueueId(record_key(&row.queue));
    let mine: Vec<&ParticipantRow> = participants
        .iter()
        .filter(|p| p.consultation == row.id)
        .collect();
    let owned: Vec<ParticipantRow> = mine.iter().map(|p| (*p).clone()).collect();
    ConsultationSummary {
        id: ConsultationId(row.key()),
        queue_name: queues
            .iter()
            .find(|q| record_key(&q.id) == queue.0)
            .map(|q| q.name.clone())
            .unwrap_or_else(|| queue.0.clone()),
        queue,
        patient_name: row.patient_name.clone(),
        host_name: host_name(&owned),
        status: status(row),
        scheduled_at_ms: row.scheduled_at.map(|t| t.timestamp_millis()),
        scheduled_label: row
            .scheduled_at
            .map(|t| long_in_zone(t, &row.timezone, Lang::En)),
        auto_admit: row.auto_admit,
        participants: owned.iter().map(participant).collect(),
        created_at_ms: row.created_at.timestamp_millis(),
        messages: messages
            .iter()
            .filter(|m| m.consultation.as_ref() == Some(&row.id))
            .map(|m| message_status(m, &row.timezone))
            .collect(),
        patient_reply: row.patient_reply.clone(),
    }
}

pub fn message(row: &MessageRow) -> ChatMessage {
    ChatMessage {
        id: MessageId(row.key()),
        consultation: ConsultationId(record_key(&row.consultation)),
        author: ParticipantId(record_key(&row.author)),
        author_name: row.author_name.clone(),
        author_role: ParticipantRole::parse(&row.author_role).unwrap_or(ParticipantRole::Guest),
        body: row.body.clone(),
        at_ms: row.at.timestamp_millis(),
        attachment: row.attachment.as_ref().map(|id| Attachment {
            id: record_key(id),
            name: row.attachment_name.clone().unwrap_or_default(),
            content_type: row.attachment_type.clone().unwrap_or_default(),
            size: row.attachment_size.unwrap_or(0).max(0) as u64,
        }),
    }
}

pub fn translation(row: &TranslationRow) -> TranslationRequest {
    TranslationRequest {
        id: record_key(&row.id),
        consultation: ConsultationId(record_key(&row.consultation)),
        language: row.language.clone(),
        requested_by: row.requested_by.clone().unwrap_or_default(),
        queue_name: row.queue_name.clone().unwrap_or_default(),
        at_ms: row.created_at.timestamp_millis(),
    }
}
