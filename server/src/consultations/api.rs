//! Consultations as the REST API sees them: booked for a clinician named by
//! email, read, listed and cancelled by an API key (whose scopes the HTTP
//! layer has checked). Every call is audited under the key.

use super::{ConsultationService, internal};
use crate::db::{AuditEntry, ConsultationFilter, ConsultationRow, ParticipantRow, record_key};
use app::authz::Caller;
use app::consultation::{
    ConsultationId, ConsultationStatus, IssuedLink, NewConsultation, ParticipantId, QueueId,
};
use app::domain::Principal;
use app::error::AppError;
use app::i18n::Lang;
use app::ssr::ClientInfo;
use app::ssr::Consultations;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// What a key adds to a booking.
pub struct ApiBooking {
    /// The key's id.
    pub key: String,
    pub external_id: Option<String>,
    pub metadata: Option<serde_json::Value>,
    /// False: the integrator hands the link over itself; no message is sent.
    pub send_invite: bool,
    /// The host has no account: they get a link of their own.
    pub host_by_link: bool,
    /// Patients go straight in, without waiting to be admitted.
    pub auto_admit: bool,
    /// The company the pages show instead of the clinic.
    pub brand: Brand,
}

/// How the patient's and clinician's pages present a consultation.
#[derive(Debug, Clone, Default)]
pub struct Brand {
    pub name: Option<String>,
    /// The key of a stored logo.
    pub logo: Option<String>,
    pub display_mode: Option<String>,
}

/// Who hosts a consultation booked through the API.
pub enum ApiHost {
    /// A staff account working in the queue.
    Account(Principal),
    /// A clinician without an account, by name: they open the
    /// consultation by their own link.
    ByLink(String),
}

/// The key a request came with.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub key: String,
    pub name: String,
}

/// A consultation as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Consultation)]
pub struct ApiConsultation {
    pub id: String,
    /// `scheduled`, `waiting`, `active`, `closed` or `cancelled`.
    pub status: String,
    pub queue: String,
    pub patient_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patient_email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patient_phone: Option<String>,
    pub language: String,
    pub timezone: String,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub clinician_name: String,
    pub external_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    /// The patient's link while it opens the consultation.
    pub patient_link: Option<String>,
    /// Where the clinician runs it: the room (signed in) for a staff
    /// account; for a clinician booked by name, their own link while it
    /// opens the consultation.
    pub doctor_link: Option<String>,
}

/// A page of a list, and where the next one starts.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ConsultationPage)]
pub struct ApiPage {
    pub items: Vec<ApiConsultation>,
    pub next_cursor: Option<String>,
}

impl ConsultationService {
    /// Books for the clinician `host` (who must work in the queue, as when
    /// they book themselves).
    pub async fn api_create(
        &self,
        caller: &ApiCaller,
        host: ApiHost,
        booking: NewConsultation,
        mut extra: ApiBooking,
        client: &ClientInfo,
    ) -> Result<ApiConsultation, AppError> {
        let host = match host {
            ApiHost::Account(principal) => principal,
            ApiHost::ByLink(name) => {
                extra.host_by_link = true;
                let name = name.trim().to_string();
                if name.is_empty() || name.chars().count() > 120 {
                    return Err(AppError::invalid(
                        "clinician_name",
                        "Give the clinician's name, 1 to 120 characters.",
                    ));
                }
                link_host(caller, name, &booking.queue)
            }
        };
        let host = &host;
        if self
            .db
            .queues_by_keys(std::slice::from_ref(&booking.queue.0))
            .await
            .map_err(internal)?
            .is_empty()
        {
            return Err(AppError::invalid("queue", "No queue has this id."));
        }
        let created = self
            .book(host, booking, Some(extra), client)
            .await
            .map_err(|e| match e {
                AppError::Forbidden => AppError::invalid(
                    "clinician_email",
                    format!("{} does not work in this queue.", host.email),
                ),
                other => other,
            })?;
        self.api_audit(caller, "api.consultation.create", &created.id.0, client)
            .await;
        let mut shown = self.api_get(caller, &created.id, client).await?;
        // Just made: the links are the ones in hand, whatever their check says.
        shown.patient_link = Some(created.patient_link);
        if let Some(link) = created.host_link {
            shown.doctor_link = Some(link);
        }
        Ok(shown)
    }

    pub async fn api_get(
        &self,
        caller: &ApiCaller,
        id: &ConsultationId,
        client: &ClientInfo,
    ) -> Result<ApiConsultation, AppError> {
        let loaded = self.load(id).await?;
        self.api_audit(caller, "api.consultation.read", &id.0, client)
            .await;
        Ok(self.api_view(&loaded.row, &loaded.participants))
    }

    pub async fn api_list(
        &self,
        caller: &ApiCaller,
        filter: ConsultationFilter,
        client: &ClientInfo,
    ) -> Result<ApiPage, AppError> {
        let limit = filter.limit;
        let rows = self
            .db
            .consultations_page(&filter)
            .await
            .map_err(internal)?;
        let keys: Vec<String> = rows.iter().map(ConsultationRow::key).collect();
        let participants = self.db.participants_of(&keys).await.map_err(internal)?;
        let next_cursor = (rows.len() == limit)
            .then(|| rows.last().map(|r| cursor_of(r.created_at, &r.key())))
            .flatten();
        self.api_audit(caller, "api.consultation.list", "consultations", client)
            .await;
        Ok(ApiPage {
            items: rows
                .iter()
                .map(|row| {
                    let own: Vec<ParticipantRow> = participants
                        .iter()
                        .filter(|p| record_key(&p.consultation) == row.key())
                        .cloned()
                        .collect();
                    self.api_view(row, &own)
                })
                .collect(),
            next_cursor,
        })
    }

    /// Cancels a consultation not yet under way; the patient is told on the
    /// channels that told them of it.
    pub async fn api_cancel(
        &self,
        caller: &ApiCaller,
        id: &ConsultationId,
        client: &ClientInfo,
    ) -> Result<ApiConsultation, AppError> {
        let loaded = self.load(id).await?;
        let from = loaded.status();
        if !self
            .transition(
                &loaded,
                from,
                ConsultationStatus::Cancelled,
                &format!("api_key:{}", caller.key),
            )
            .await?
        {
            return Err(AppError::Conflict(format!(
                "A consultation that is {} cannot be cancelled.",
                from.as_str()
            )));
        }
        self.api_audit(caller, "api.consultation.cancel", &id.0, client)
            .await;
        if let Some(notifier) = &self.notifier {
            notifier.consultation_cancelled(&loaded.row).await;
        }
        let reloaded = self.load(id).await?;
        Ok(self.api_view(&reloaded.row, &reloaded.participants))
    }

    /// The consultation's host: a key acting on a booked consultation acts
    /// in its host's name (the same checks and messages as when the host
    /// acts), and is audited under its own name too.
    async fn host_of(
        &self,
        row: &ConsultationRow,
        caller: &ApiCaller,
    ) -> Result<Principal, AppError> {
        let Some(host) = &row.host else {
            // Hosted by link: the key acts for the clinician it named.
            return Ok(link_host(
                caller,
                String::new(),
                &QueueId(record_key(&row.queue)),
            ));
        };
        let user = self
            .db
            .user_by_key(&record_key(host))
            .await
            .map_err(internal)?
            .ok_or(AppError::Internal)?;
        Ok(crate::accounts::principal(&user))
    }

    /// Moves a consultation nobody has joined yet; the patient is told.
    pub async fn api_reschedule(
        &self,
        caller: &ApiCaller,
        id: &ConsultationId,
        at: DateTime<Utc>,
        client: &ClientInfo,
    ) -> Result<ApiConsultation, AppError> {
        let host = self.host_of(&self.load(id).await?.row, caller).await?;
        let when = at.format("%Y-%m-%dT%H:%M").to_string();
        self.reschedule(&host, id, &when, "UTC", client).await?;
        self.api_audit(caller, "api.consultation.reschedule", &id.0, client)
            .await;
        self.api_get(caller, id, client).await
    }

    /// A new link for the patient; the old one stops working.
    pub async fn api_new_patient_link(
        &self,
        caller: &ApiCaller,
        id: &ConsultationId,
        client: &ClientInfo,
    ) -> Result<ApiConsultation, AppError> {
        let loaded = self.load(id).await?;
        let host = self.host_of(&loaded.row, caller).await?;
        let patient = loaded
            .participants
            .iter()
            .find(|p| p.role == "patient")
            .ok_or(AppError::Internal)?;
        let issued = self
            .reissue_link(&host, &ParticipantId(patient.key()), client)
            .await?;
        self.api_audit(caller, "api.consultation.patient_link", &id.0, client)
            .await;
        let mut shown = self.api_get(caller, id, client).await?;
        shown.patient_link = Some(issued.link);
        Ok(shown)
    }

    /// A guest (a relative, a colleague without an account, an interpreter
    /// the clinic books itself) and their own link.
    pub async fn api_add_guest(
        &self,
        caller: &ApiCaller,
        id: &ConsultationId,
        name: &str,
        language: Lang,
        role: app::consultation::ParticipantRole,
        client: &ClientInfo,
    ) -> Result<IssuedLink, AppError> {
        let host = self.host_of(&self.load(id).await?.row, caller).await?;
        let issued = self
            .invite_by_link(Caller::Staff(&host), id, name, language, role, client)
            .await?;
        self.api_audit(caller, "api.consultation.add_guest", &id.0, client)
            .await;
        Ok(issued)
    }

    /// The report's contents, as the host would get them.
    pub async fn api_report(
        &self,
        caller: &ApiCaller,
        id: &ConsultationId,
        client: &ClientInfo,
    ) -> Result<crate::report::ReportData, AppError> {
        let host = self.host_of(&self.load(id).await?.row, caller).await?;
        let data = self.report(Caller::Staff(&host), id, client).await?;
        self.api_audit(caller, "api.consultation.report", &id.0, client)
            .await;
        Ok(data)
    }

    fn api_view(&self, row: &ConsultationRow, participants: &[ParticipantRow]) -> ApiConsultation {
        let host = participants.iter().find(|p| p.role == "host");
        let patient = participants.iter().find(|p| p.role == "patient");
        ApiConsultation {
            id: row.key(),
            status: row.status.clone(),
            queue: record_key(&row.queue),
            patient_name: row.patient_name.clone(),
            patient_email: row.patient_email.clone(),
            patient_phone: row.patient_phone.clone(),
            language: row.language.clone(),
            timezone: row.timezone.clone(),
            scheduled_at: row.scheduled_at,
            created_at: row.created_at,
            started_at: row.started_at,
            closed_at: row.closed_at,
            clinician_name: host.map(|h| h.name.clone()).unwrap_or_default(),
            external_id: row.external_id.clone(),
            metadata: row.metadata.clone(),
            // A consultation that is over opens for no one.
            patient_link: patient
                .filter(|_| !matches!(row.status.as_str(), "closed" | "cancelled"))
                .and_then(|p| self.current_link(p)),
            // A host with an account signs in to the room; one without
            // opens it by their own link, while it works.
            doctor_link: match host {
                Some(h) if h.user.is_none() => host
                    .filter(|_| !matches!(row.status.as_str(), "closed" | "cancelled"))
                    .and_then(|_| self.current_link(h)),
                _ => Some(format!("{}/room/{}", self.public_url, row.key())),
            },
        }
    }

    /// A consultation as the API shows it (its current links included),
    /// with its row and people; `None` when it is gone. For the webhooks
    /// and the FHIR client, which act on no caller's behalf.
    pub async fn api_view_of(
        &self,
        key: &str,
    ) -> Result<Option<(ApiConsultation, ConsultationRow, Vec<ParticipantRow>)>, crate::db::DbError>
    {
        let Some(row) = self.db.consultation(key).await? else {
            return Ok(None);
        };
        let participants = self.db.participants_of(&[key.to_string()]).await?;
        Ok(Some((
            self.api_view(&row, &participants),
            row,
            participants,
        )))
    }

    /// A participant's link as it opens now, if it still does.
    fn current_link(&self, participant: &ParticipantRow) -> Option<String> {
        let secret = self.links.current_secret(
            participant.link_nonce.as_deref(),
            participant.token_hash.as_deref(),
            participant.token_expires_at,
            Utc::now(),
        )?;
        Some(self.link(&secret))
    }

    async fn api_audit(
        &self,
        caller: &ApiCaller,
        action: &'static str,
        target: &str,
        client: &ClientInfo,
    ) {
        self.db
            .audit_or_log(AuditEntry::by_api_key(
                &caller.key,
                action,
                format!("consultation:{target}"),
                client,
            ))
            .await;
    }
}

/// The principal a key acts as for a clinician without an account: a
/// doctor of that one queue, recorded under the key's name.
fn link_host(caller: &ApiCaller, name: String, queue: &QueueId) -> Principal {
    Principal {
        user_id: app::domain::UserId(format!("api_key:{}", caller.key)),
        email: String::new(),
        name,
        roles: vec![app::domain::Role::Doctor],
        queues: vec![queue.clone()],
        languages: Vec::new(),
    }
}

/// The opaque cursor after a row: its creation time and id.
pub fn cursor_of(created_at: DateTime<Utc>, key: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{}|{key}", created_at.to_rfc3339()))
}

/// A cursor back into its time and id; `None` when it is not one of ours.
pub fn parse_cursor(cursor: &str) -> Option<(DateTime<Utc>, String)> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (at, key) = text.split_once('|')?;
    let at = DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc);
    (!key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| (at, key.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_forgeries() {
        let at: DateTime<Utc> = "2026-12-01T10:00:00.123Z".parse().unwrap();
        let cursor = cursor_of(at, "abc123");
        assert_eq!(parse_cursor(&cursor), Some((at, "abc123".to_string())));
        assert_eq!(parse_cursor("not a cursor"), None);
        use base64::Engine;
        let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode("2026-12-01T10:00:00Z|x' OR 1=1");
        assert_eq!(parse_cursor(&forged), None);
    }
}
