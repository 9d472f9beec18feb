//! Queries on `queue`, `consultation`, `consultation_event`, `participant`
//! and `participant_session`. Status changes are conditional on the status
//! read (`WHERE status = $from`), so two clinicians acting at once cannot
//! both move the same consultation.

use super::notifications::create_notification;
use super::users::new_key;
use super::webhooks::record_event;
use super::{Db, DbError, record_key};
use chrono::{DateTime, Utc};
use surrealdb::types::{RecordId, SurrealValue};

#[derive(Debug, Clone, SurrealValue)]
pub struct QueueRow {
    pub id: RecordId,
    pub name: String,
}

#[derive(Debug, Clone, SurrealValue)]
pub struct ConsultationRow {
    pub id: RecordId,
    pub queue: RecordId,
    /// None when a clinician without an account hosts it by link.
    pub host: Option<RecordId>,
    pub patient_name: String,
    pub patient_email: Option<String>,
    pub patient_phone: Option<String>,
    pub language: String,
    pub timezone: String,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub status: String,
    pub auto_admit: bool,
    #[surreal(default)]
    pub notes: String,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// The patient's last answer by text message.
    pub patient_reply: Option<String>,
    /// Booked through the REST API: the key's id, the integrator's own
    /// identifier and free data.
    pub api_key: Option<String>,
    pub external_id: Option<String>,
    pub metadata: Option<serde_json::Value>,
    /// Branding asked for by the seed-compatible route.
    pub brand_name: Option<String>,
    pub brand_logo: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl ConsultationRow {
    pub fn key(&self) -> String {
        record_key(&self.id)
    }
}

#[derive(Debug, Clone, SurrealValue)]
pub struct ParticipantRow {
    pub id: RecordId,
    pub consultation: RecordId,
    pub role: String,
    pub name: String,
    pub user: Option<RecordId>,
    pub language: String,
    pub state: String,
    pub token_expires_at: Option<DateTime<Utc>>,
    pub link_opened_at: Option<DateTime<Utc>>,
    pub waiting_since: Option<DateTime<Utc>>,
    pub admitted_at: Option<DateTime<Utc>>,
    pub last_read: Option<String>,
    /// What the current link is derived from, and its digest.
    pub link_nonce: Option<String>,
    pub token_hash: Option<String>,
}

impl ParticipantRow {
    pub fn key(&self) -> String {
        record_key(&self.id)
    }
}

#[derive(Debug, Clone, SurrealValue)]
pub struct TranslationRow {
    pub id: RecordId,
    pub consultation: RecordId,
    pub language: String,
    pub requested_by: Option<String>,
    pub queue_name: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A consultation to store, with its first two participants.
pub struct NewConsultationRow {
    pub queue_key: String,
    /// The host's account; None when they host by link (`host_link`).
    pub host_key: Option<String>,
    pub host_name: String,
    /// Who booked: an account, or what the history names (`api_key:<id>`).
    pub created_by: CreatedBy,
    /// The host's link (digest and nonce) when they have no account.
    pub host_link: Option<(String, String)>,
    /// Patients go straight in (no waiting room).
    pub auto_admit: bool,
    pub brand_name: Option<String>,
    pub brand_logo: Option<String>,
    pub display_mode: Option<String>,
    pub patient_name: String,
    pub patient_email: Option<String>,
    pub patient_phone: Option<String>,
    pub language: String,
    pub timezone: String,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub patient_token_hash: String,
    pub patient_link_nonce: String,
    pub token_expires_at: DateTime<Utc>,
    /// Invites and reminders, queued in the same transaction.
    pub notifications: Vec<super::NewNotification>,
    /// Set when booked through the REST API.
    pub api_key: Option<String>,
    pub external_id: Option<String>,
    pub metadata: Option<serde_json::Value>,
}

/// Who booked a consultation.
pub enum CreatedBy {
    User(String),
    /// No account: the name the history records (`api_key:<id>`).
    Other(String),
}

/// Keys of what `create_consultation` made.
pub struct CreatedKeys {
    pub consultation: String,
    pub patient: String,
}

/// A participant to add to an existing consultation.
pub struct NewParticipantRow {
    pub consultation_key: String,
    pub role: &'static str,
    pub name: String,
    pub user_key: Option<String>,
    pub language: String,
    pub token_hash: Option<String>,
    pub link_nonce: Option<String>,
    pub token_expires_at: Option<DateTime<Utc>>,
    pub state: &'static str,
}

pub(super) const CONSULTATION_FIELDS: &str = "id, queue, host, patient_name, patient_email, patient_phone, language, \
     timezone, scheduled_at, status, auto_admit, notes, created_at, started_at, closed_at, patient_reply, \
     api_key, external_id, metadata, brand_name, brand_logo, updated_at";
const PARTICIPANT_FIELDS: &str = "id, consultation, role, name, user, language, state, token_expires_at, \
     link_opened_at, waiting_since, admitted_at, last_read, link_nonce, token_hash";

impl Db {
    pub async fn queues_by_keys(&self, keys: &[String]) -> Result<Vec<QueueRow>, DbError> {
        let ids: Vec<RecordId> = keys
            .iter()
            .map(|k| RecordId::new("queue", k.as_str()))
            .collect();
        Ok(self
            .inner
            .query("SELECT id, name FROM queue WHERE id IN $ids ORDER BY name")
            .bind(("ids", ids))
            .await?
            .take(0)?)
    }

    /// A queue whose key is made from its name (`Cardiology` → `cardiology`).
    pub async fn create_queue(&self, name: &str) -> Result<QueueRow, DbError> {
        let mut key: String = name
            .to_lowercase()
            .chars()
            .map(|c| if c.is_alphanumeric() { c } else { '-' })
            .collect();
        key = key.trim_matches('-').to_string();
        if key.is_empty() {
            key = new_key();
        }
        let result = self
            .inner
            .query("CREATE type::record('queue', $key) SET name = $name RETURN id, name")
            .bind(("key", key))
            .bind(("name", name.to_string()))
            .await?
            .take::<Option<QueueRow>>(0);
        match result {
            Ok(Some(row)) => Ok(row),
            Ok(None) => Err(DbError::Query("CREATE queue returned nothing".into())),
            Err(e)
                if super::is_unique_violation(&e, "queue_name")
                    || e.message().contains("already exists") =>
            {
                Err(DbError::Duplicate("queue name"))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn set_queue_members(
        &self,
        queue_key: &str,
        user_keys: &[String],
    ) -> Result<(), DbError> {
        self.set_membership("queues", "queue", queue_key, user_keys, "")
            .await
    }

    pub async fn all_queues(&self) -> Result<Vec<QueueRow>, DbError> {
        Ok(self
            .inner
            .query("SELECT id, name FROM queue ORDER BY name")
            .await?
            .take(0)?)
    }

    /// Stores a consultation, its host and patient places, and its first
    /// history event, all or nothing.
    pub async fn create_consultation(
        &self,
        new: NewConsultationRow,
        status: &str,
    ) -> Result<CreatedKeys, DbError> {
        let keys = CreatedKeys {
            consultation: new_key(),
            patient: new_key(),
        };
        self.inner
            .query(format!(
                "BEGIN;
                 LET $c = type::record('consultation', $key);
                 CREATE $c SET queue = type::record('queue', $queue),
                     host = IF $host THEN type::record('user', $host) ELSE NONE END,
                     created_by = IF $creator THEN type::record('user', $creator) ELSE NONE END,
                     auto_admit = $auto_admit, brand_name = $brand_name, brand_logo = $brand_logo,
                     display_mode = $display_mode, patient_name = $patient_name,
                     patient_email = $email, patient_phone = $phone, language = $language,
                     timezone = $timezone, scheduled_at = $scheduled_at, status = $status,
                     api_key = $api_key, external_id = $external_id, metadata = $metadata;
                 CREATE type::record('participant', $host_participant) SET consultation = $c, role = 'host',
                     name = $host_name, user = IF $host THEN type::record('user', $host) ELSE NONE END,
                     language = $language, state = 'invited', token_hash = $host_token_hash,
                     link_nonce = $host_nonce,
                     token_expires_at = IF $host_token_hash THEN $expires ELSE NONE END,
                     token_issued_at = IF $host_token_hash THEN time::now() ELSE NONE END;
                 LET $p = type::record('participant', $patient);
                 CREATE $p SET consultation = $c, role = 'patient',
                     name = $patient_name, language = $language, state = 'invited',
                     token_hash = $token_hash, link_nonce = $nonce, token_expires_at = $expires,
                     token_issued_at = time::now();
                 FOR $n IN $notifications {{ {notifications}; }};
                 CREATE consultation_event SET consultation = $c, from_status = NONE, to_status = $status,
                     actor = $actor;
                 {created};
                 COMMIT;",
                created = record_event("'consultation.created'", "$c", "NONE", "NONE"),
                notifications = create_notification()
            ))
            .bind(("key", keys.consultation.clone()))
            .bind(("queue", new.queue_key))
            .bind(("host", new.host_key))
            .bind(("host_participant", new_key()))
            .bind(("host_name", new.host_name))
            .bind((
                "creator",
                match &new.created_by {
                    CreatedBy::User(key) => Some(key.clone()),
                    CreatedBy::Other(_) => None,
                },
            ))
            .bind((
                "actor",
                match new.created_by {
                    CreatedBy::User(key) => format!("user:{key}"),
                    CreatedBy::Other(name) => name,
                },
            ))
            .bind(("host_token_hash", new.host_link.as_ref().map(|l| l.0.clone())))
            .bind(("host_nonce", new.host_link.map(|l| l.1)))
            .bind(("auto_admit", new.auto_admit))
            .bind(("brand_name", new.brand_name))
            .bind(("brand_logo", new.brand_logo))
            .bind(("display_mode", new.display_mode))
            .bind(("patient_name", new.patient_name))
            .bind(("email", new.patient_email))
            .bind(("phone", new.patient_phone))
            .bind(("language", new.language))
            .bind(("timezone", new.timezone))
            .bind(("scheduled_at", new.scheduled_at))
            .bind(("status", status.to_string()))
            .bind(("patient", keys.patient.clone()))
            .bind(("token_hash", new.patient_token_hash))
            .bind(("nonce", new.patient_link_nonce))
            .bind(("notifications", new.notifications))
            .bind(("expires", new.token_expires_at))
            .bind(("api_key", new.api_key))
            .bind(("external_id", new.external_id))
            .bind(("metadata", new.metadata))
            .await?
            .check()?;
        Ok(keys)
    }

    pub async fn add_participant(&self, new: NewParticipantRow) -> Result<String, DbError> {
        let key = new_key();
        self.inner
            .query(
                "CREATE type::record('participant', $key) SET consultation = type::record('consultation', $c),
                     role = $role, name = $name,
                     user = IF $user THEN type::record('user', $user) ELSE NONE END,
                     language = $language, state = $state, token_hash = $token_hash,
                     link_nonce = $nonce, token_expires_at = $expires,
                     token_issued_at = IF $token_hash THEN time::now() ELSE NONE END",
            )
            .bind(("key", key.clone()))
            .bind(("c", new.consultation_key))
            .bind(("role", new.role))
            .bind(("name", new.name))
            .bind(("user", new.user_key))
            .bind(("language", new.language))
            .bind(("state", new.state))
            .bind(("token_hash", new.token_hash))
            .bind(("nonce", new.link_nonce))
            .bind(("expires", new.token_expires_at))
            .await?
            .check()?;
        Ok(key)
    }

    pub async fn consultation(&self, key: &str) -> Result<Option<ConsultationRow>, DbError> {
        Ok(self
            .inner
            .query(format!(
                "SELECT {CONSULTATION_FIELDS} FROM ONLY type::record('consultation', $key)"
            ))
            .bind(("key", key.to_string()))
            .await?
            .take(0)?)
    }

    /// Consultations of these queues that are under way, or whose time
    /// (scheduled, else created) falls in `[from, to)`.
    pub async fn consultations_for_day(
        &self,
        queue_keys: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ConsultationRow>, DbError> {
        let queues: Vec<RecordId> = queue_keys
            .iter()
            .map(|k| RecordId::new("queue", k.as_str()))
            .collect();
        Ok(self
            .inner
            .query(format!(
                "SELECT {CONSULTATION_FIELDS}, scheduled_at ?? created_at AS sort_at FROM consultation
                 WHERE queue IN $queues AND (status IN ['waiting', 'active']
                     OR ((scheduled_at ?? created_at) >= $from AND (scheduled_at ?? created_at) < $to))
                 ORDER BY sort_at"
            ))
            .bind(("queues", queues))
            .bind(("from", from))
            .bind(("to", to))
            .await?
            .take(0)?)
    }

    pub async fn participants_of(
        &self,
        consultation_keys: &[String],
    ) -> Result<Vec<ParticipantRow>, DbError> {
        let ids: Vec<RecordId> = consultation_keys
            .iter()
            .map(|k| RecordId::new("consultation", k.as_str()))
            .collect();
        Ok(self
            .inner
            .query(format!(
                "SELECT {PARTICIPANT_FIELDS}, created_at FROM participant
                 WHERE consultation IN $ids ORDER BY created_at"
            ))
            .bind(("ids", ids))
            .await?
            .take(0)?)
    }

    pub async fn participant(&self, key: &str) -> Result<Option<ParticipantRow>, DbError> {
        Ok(self
            .inner
            .query(format!(
                "SELECT {PARTICIPANT_FIELDS} FROM ONLY type::record('participant', $key)"
            ))
            .bind(("key", key.to_string()))
            .await?
            .take(0)?)
    }

    pub async fn participant_by_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<ParticipantRow>, DbError> {
        Ok(self
            .inner
            .query(format!(
                "SELECT {PARTICIPANT_FIELDS} FROM participant WHERE token_hash = $hash LIMIT 1"
            ))
            .bind(("hash", token_hash.to_string()))
            .await?
            .take::<Vec<ParticipantRow>>(0)?
            .into_iter()
            .next())
    }

    /// The staff member's own place in a consultation (host or colleague).
    pub async fn participant_for_user(
        &self,
        consultation_key: &str,
        user_key: &str,
    ) -> Result<Option<ParticipantRow>, DbError> {
        Ok(self
            .inner
            .query(format!(
                "SELECT {PARTICIPANT_FIELDS} FROM participant
                 WHERE consultation = type::record('consultation', $c) AND user = type::record('user', $u)
                 LIMIT 1"
            ))
            .bind(("c", consultation_key.to_string()))
            .bind(("u", user_key.to_string()))
            .await?
            .take::<Vec<ParticipantRow>>(0)?
            .into_iter()
            .next())
    }

    pub async fn mark_link_opened(&self, participant_key: &str) -> Result<(), DbError> {
        self.inner
            .query(
                "UPDATE type::record('participant', $key) SET link_opened_at = time::now(), updated_at = time::now()
                 WHERE link_opened_at = NONE",
            )
            .bind(("key", participant_key.to_string()))
            .await?
            .check()?;
        Ok(())
    }

    /// Moves a participant to `state`, stamping the matching time.
    pub async fn set_participant_state(
        &self,
        participant_key: &str,
        state: &str,
    ) -> Result<(), DbError> {
        // A patient coming into the waiting room is news to integrators
        // (not one who was already there).
        self.inner
            .query(format!(
                "BEGIN;
                 LET $before = (UPDATE type::record('participant', $key) SET state = $state, updated_at = time::now(),
                     waiting_since = IF $state = 'waiting' THEN (IF state = 'waiting' THEN waiting_since ELSE time::now() END) ELSE NONE END,
                     admitted_at = IF $state = 'admitted' THEN time::now() ELSE admitted_at END
                     RETURN BEFORE)[0];
                 IF $before != NONE AND $state = 'waiting' AND $before.state != 'waiting' AND $before.role = 'patient' {{
                     {event};
                 }};
                 COMMIT;",
                event = record_event("'patient.waiting'", "$before.consultation", "$before.id", "NONE")
            ))
            .bind(("key", participant_key.to_string()))
            .bind(("state", state.to_string()))
            .await?
            .check()?;
        Ok(())
    }

    pub async fn set_participant_language(
        &self,
        participant_key: &str,
        language: &str,
    ) -> Result<(), DbError> {
        self.inner
            .query("UPDATE type::record('participant', $key) SET language = $language, updated_at = time::now()")
            .bind(("key", participant_key.to_string()))
            .bind(("language", language.to_string()))
            .await?
            .check()?;
        Ok(())
    }

    /// A new link for a participant: the old hash is gone, and so are the
    /// sessions opened with it.
    pub async fn replace_token(
        &self,
        participant_key: &str,
        token_hash: &str,
        nonce: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), DbError> {
        self.inner
            .query(
                "BEGIN;
                 LET $p = type::record('participant', $key);
                 UPDATE $p SET token_hash = $hash, link_nonce = $nonce, token_expires_at = $expires,
                     token_issued_at = time::now(),
                     link_opened_at = NONE, updated_at = time::now();
                 DELETE participant_session WHERE participant = $p;
                 COMMIT;",
            )
            .bind(("key", participant_key.to_string()))
            .bind(("hash", token_hash.to_string()))
            .bind(("nonce", nonce.to_string()))
            .bind(("expires", expires_at))
            .await?
            .check()?;
        Ok(())
    }

    /// Moves a scheduled consultation to `at`; its links now expire at
    /// `expires`. `None` when it is no longer scheduled (someone joined).
    pub async fn reschedule(
        &self,
        consultation_key: &str,
        at: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<Option<ConsultationRow>, DbError> {
        let mut response = self
            .inner
            .query(format!(
                "BEGIN;
                 LET $c = type::record('consultation', $key);
                 LET $moved = UPDATE $c SET scheduled_at = $at, updated_at = time::now(),
                     confirmed_at = NONE, patient_reply = NONE
                     WHERE status = 'scheduled' RETURN VALUE id;
                 IF array::len($moved) > 0 {{
                     UPDATE participant SET token_expires_at = $expires, updated_at = time::now()
                         WHERE consultation = $c AND token_hash != NONE;
                 }};
                 RETURN IF array::len($moved) > 0 THEN (SELECT {CONSULTATION_FIELDS} FROM ONLY $c) ELSE NONE END;
                 COMMIT;"
            ))
            .bind(("key", consultation_key.to_string()))
            .bind(("at", at))
            .bind(("expires", expires))
            .await?;
        if let Some(error) = response.take_errors().into_values().next() {
            return Err(error.into());
        }
        for index in 0..response.num_statements() {
            if let Ok(Some(row)) = response.take::<Option<ConsultationRow>>(index) {
                return Ok(Some(row));
            }
        }
        Ok(None)
    }

    /// Moves a consultation from `from` to `to` if it is still in `from`,
    /// and records who did it. Returns false when someone else moved it first.
    pub async fn transition(
        &self,
        consultation_key: &str,
        from: &str,
        to: &str,
        actor: &str,
    ) -> Result<bool, DbError> {
        let response = self
            .inner
            .query(format!(
                "BEGIN;
                 LET $c = type::record('consultation', $key);
                 LET $moved = UPDATE $c SET status = $to, updated_at = time::now(),
                     started_at = IF $to = 'active' THEN time::now() ELSE started_at END,
                     closed_at = IF $to IN ['closed', 'cancelled'] THEN time::now() ELSE closed_at END
                     WHERE status = $from RETURN VALUE id;
                 IF array::len($moved) > 0 {{
                     CREATE consultation_event SET consultation = $c, from_status = $from, to_status = $to, actor = $actor;
                     {event};
                 }};
                 RETURN array::len($moved) > 0;
                 COMMIT;",
                event = record_event("$event", "$c", "NONE", "NONE")
            ))
            .bind(("event", event_of_status(to)))
            .bind(("key", consultation_key.to_string()))
            .bind(("from", from.to_string()))
            .bind(("to", to.to_string()))
            .bind(("actor", actor.to_string()))
            .await?;
        super::transaction_answer(response, "the status change")
    }

    pub async fn consultation_events(
        &self,
        consultation_key: &str,
    ) -> Result<Vec<(Option<String>, String, String)>, DbError> {
        #[derive(SurrealValue)]
        struct EventRow {
            from_status: Option<String>,
            to_status: String,
            actor: String,
        }
        let rows: Vec<EventRow> = self
            .inner
            .query(
                "SELECT from_status, to_status, actor, at FROM consultation_event
                 WHERE consultation = type::record('consultation', $key) ORDER BY at",
            )
            .bind(("key", consultation_key.to_string()))
            .await?
            .take(0)?;
        Ok(rows
            .into_iter()
            .map(|r| (r.from_status, r.to_status, r.actor))
            .collect())
    }

    /// Waiting patients of a queue, first come first: `(consultation key,
    /// participant key)`.
    pub async fn waiting_in_queue(
        &self,
        queue_key: &str,
    ) -> Result<Vec<(String, String)>, DbError> {
        #[derive(SurrealValue)]
        struct Row {
            id: RecordId,
            consultation: RecordId,
        }
        let rows: Vec<Row> = self
            .inner
            .query(
                "SELECT id, consultation, waiting_since FROM participant
                 WHERE state = 'waiting' AND role = 'patient'
                     AND consultation.queue = type::record('queue', $queue)
                 ORDER BY waiting_since",
            )
            .bind(("queue", queue_key.to_string()))
            .await?
            .take(0)?;
        Ok(rows
            .into_iter()
            .map(|r| (record_key(&r.consultation), record_key(&r.id)))
            .collect())
    }

    pub async fn set_auto_admit(&self, consultation_key: &str, on: bool) -> Result<(), DbError> {
        self.inner
            .query("UPDATE type::record('consultation', $key) SET auto_admit = $on, updated_at = time::now()")
            .bind(("key", consultation_key.to_string()))
            .bind(("on", on))
            .await?
            .check()?;
        Ok(())
    }

    pub async fn save_notes(&self, consultation_key: &str, notes: &str) -> Result<(), DbError> {
        self.inner
            .query("UPDATE type::record('consultation', $key) SET notes = $notes, updated_at = time::now()")
            .bind(("key", consultation_key.to_string()))
            .bind(("notes", notes.to_string()))
            .await?
            .check()?;
        Ok(())
    }

    /// Takes a participant out: state, link and sessions, together.
    pub async fn remove_participant(&self, participant_key: &str) -> Result<(), DbError> {
        self.inner
            .query(
                "BEGIN;
                 LET $p = type::record('participant', $key);
                 UPDATE $p SET state = 'removed', token_hash = NONE, token_expires_at = NONE,
                     waiting_since = NONE, updated_at = time::now();
                 DELETE participant_session WHERE participant = $p;
                 COMMIT;",
            )
            .bind(("key", participant_key.to_string()))
            .await?
            .check()?;
        Ok(())
    }

    // ---- translation requests ----

    pub async fn create_translation_request(
        &self,
        consultation_key: &str,
        language: &str,
        requested_by: &str,
    ) -> Result<(), DbError> {
        self.inner
            .query(
                "CREATE translation_request SET consultation = type::record('consultation', $c),
                     language = $language, state = 'open', requested_by = type::record('user', $u)",
            )
            .bind(("c", consultation_key.to_string()))
            .bind(("language", language.to_string()))
            .bind(("u", requested_by.to_string()))
            .await?
            .check()?;
        Ok(())
    }

    /// Open requests in these languages, oldest first.
    pub async fn open_translation_requests(
        &self,
        languages: &[String],
    ) -> Result<Vec<TranslationRow>, DbError> {
        Ok(self
            .inner
            .query(
                "SELECT id, consultation, language, requested_by.name AS requested_by,
                     consultation.queue.name AS queue_name, created_at
                 FROM translation_request
                 WHERE state = 'open' AND language IN $languages AND consultation.status IN ['scheduled', 'waiting', 'active']
                 ORDER BY created_at",
            )
            .bind(("languages", languages.to_vec()))
            .await?
            .take(0)?)
    }

    pub async fn translation_request(&self, key: &str) -> Result<Option<TranslationRow>, DbError> {
        Ok(self
            .inner
            .query(
                "SELECT id, consultation, language, requested_by.name AS requested_by,
                     consultation.queue.name AS queue_name, created_at
                 FROM ONLY type::record('translation_request', $key)",
            )
            .bind(("key", key.to_string()))
            .await?
            .take(0)?)
    }

    /// Marks the request accepted by this translator if it is still open,
    /// and gives them a place in the consultation. False when someone else
    /// was first.
    pub async fn accept_translation_request(
        &self,
        request_key: &str,
        user_key: &str,
        user_name: &str,
        language: &str,
    ) -> Result<bool, DbError> {
        let response = self
            .inner
            .query(
                "BEGIN;
                 LET $r = type::record('translation_request', $key);
                 LET $taken = UPDATE $r SET state = 'accepted', accepted_by = type::record('user', $u)
                     WHERE state = 'open' RETURN VALUE consultation;
                 IF array::len($taken) > 0 {
                     CREATE type::record('participant', $p) SET consultation = $taken[0], role = 'translator',
                         name = $name, user = type::record('user', $u), language = $language,
                         state = 'admitted', admitted_at = time::now();
                 };
                 RETURN array::len($taken) > 0;
                 COMMIT;",
            )
            .bind(("key", request_key.to_string()))
            .bind(("u", user_key.to_string()))
            .bind(("p", super::users::new_key()))
            .bind(("name", user_name.to_string()))
            .bind(("language", language.to_string()))
            .await?;
        super::transaction_answer(response, "accepting a translation")
    }

    // ---- sessions of people who came in through a link ----

    pub async fn create_participant_session(
        &self,
        token_hash: &str,
        participant_key: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), DbError> {
        self.inner
            .query(
                "CREATE participant_session SET token_hash = $hash,
                     participant = type::record('participant', $p), expires_at = $expires",
            )
            .bind(("hash", token_hash.to_string()))
            .bind(("p", participant_key.to_string()))
            .bind(("expires", expires_at))
            .await?
            .check()?;
        Ok(())
    }

    /// The participant behind a visitor cookie, if the session is alive.
    pub async fn participant_by_session(
        &self,
        token_hash: &str,
    ) -> Result<Option<ParticipantRow>, DbError> {
        #[derive(SurrealValue)]
        struct Row {
            participant: RecordId,
        }
        let row: Option<Row> = self
            .inner
            .query(
                "SELECT participant FROM participant_session
                 WHERE token_hash = $hash AND expires_at > time::now() LIMIT 1",
            )
            .bind(("hash", token_hash.to_string()))
            .await?
            .take::<Vec<Row>>(0)?
            .into_iter()
            .next();
        match row {
            Some(row) => self.participant(&record_key(&row.participant)).await,
            None => Ok(None),
        }
    }

    pub async fn delete_participant_session(&self, token_hash: &str) -> Result<(), DbError> {
        self.inner
            .query("DELETE participant_session WHERE token_hash = $hash")
            .bind(("hash", token_hash.to_string()))
            .await?
            .check()?;
        Ok(())
    }

    /// Ends every link session of a participant (removed, or link replaced).
    pub async fn delete_sessions_of_participant(
        &self,
        participant_key: &str,
    ) -> Result<(), DbError> {
        self.inner
            .query("DELETE participant_session WHERE participant = type::record('participant', $p)")
            .bind(("p", participant_key.to_string()))
            .await?
            .check()?;
        Ok(())
    }
}

/// Which consultations a list shows (REST API), oldest first from `after`.
#[derive(Debug, Clone, Default)]
pub struct ConsultationFilter {
    pub status: Option<String>,
    pub queue: Option<String>,
    pub external_id: Option<String>,
    /// Scheduled (or, for "now", created) at or after / before.
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Any of these statuses (empty: any).
    pub statuses: Vec<String>,
    /// Changed at or after.
    pub updated_since: Option<DateTime<Utc>>,
    /// The last row of the previous page: its creation time and key.
    pub after: Option<(DateTime<Utc>, String)>,
    pub limit: usize,
}

impl Db {
    pub async fn consultations_page(
        &self,
        filter: &ConsultationFilter,
    ) -> Result<Vec<ConsultationRow>, DbError> {
        // Each condition is a fixed fragment; the values are bound.
        let mut conditions = vec!["true"];
        if filter.status.is_some() {
            conditions.push("status = $status");
        }
        if filter.queue.is_some() {
            conditions.push("queue = type::record('queue', $queue)");
        }
        if filter.external_id.is_some() {
            conditions.push("external_id = $external_id");
        }
        if filter.from.is_some() {
            conditions.push("(scheduled_at ?? created_at) >= $from");
        }
        if filter.to.is_some() {
            conditions.push("(scheduled_at ?? created_at) < $to");
        }
        if !filter.statuses.is_empty() {
            conditions.push("status IN $statuses");
        }
        if filter.updated_since.is_some() {
            conditions.push("updated_at >= $updated_since");
        }
        if filter.after.is_some() {
            conditions.push(
                "(created_at > $after_at OR (created_at = $after_at AND record::id(id) > $after_key))",
            );
        }
        let (after_at, after_key) = filter.after.clone().unzip();
        Ok(self
            .inner
            .query(format!(
                "SELECT {CONSULTATION_FIELDS}, record::id(id) AS key_order FROM consultation
                 WHERE {} ORDER BY created_at, key_order LIMIT $limit",
                conditions.join(" AND ")
            ))
            .bind(("status", filter.status.clone()))
            .bind(("queue", filter.queue.clone()))
            .bind(("external_id", filter.external_id.clone()))
            .bind(("from", filter.from))
            .bind(("to", filter.to))
            .bind(("statuses", filter.statuses.clone()))
            .bind(("updated_since", filter.updated_since))
            .bind(("after_at", after_at))
            .bind(("after_key", after_key))
            .bind(("limit", filter.limit as i64))
            .await?
            .take(0)?)
    }
}

/// The webhook event a move to status `to` is, if any (a move to waiting is
/// reported per patient, when they come in).
fn event_of_status(to: &str) -> Option<&'static str> {
    match to {
        "active" => Some("consultation.started"),
        "closed" => Some("consultation.closed"),
        "cancelled" => Some("consultation.cancelled"),
        _ => None,
    }
}
