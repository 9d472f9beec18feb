//! Queries on `notification`: messages to send, claimed by one node's
//! scheduler at a time with a lease, and their statuses. Every instant comes
//! from the caller's clock (never `time::now()`), so tests can move time.

use super::webhooks::record_event;
use super::{Db, DbError, record_key};
use chrono::{DateTime, Utc};
use surrealdb::types::{RecordId, SurrealValue};

/// A message to queue. `status` is `queued`, or `failed` with `error` when
/// it can be known at once that it will never go (no email server set up).
#[derive(Debug, Clone, SurrealValue)]
pub struct NewNotification {
    pub channel: String,
    pub kind: String,
    pub offset: Option<String>,
    pub recipient: String,
    pub language: String,
    pub text: Option<String>,
    pub due_at: DateTime<Utc>,
    pub status: String,
    pub error: Option<String>,
}

#[derive(Debug, Clone, SurrealValue)]
pub struct NotificationRow {
    pub id: RecordId,
    pub consultation: Option<RecordId>,
    pub participant: Option<RecordId>,
    pub channel: String,
    pub kind: String,
    pub offset: Option<String>,
    pub recipient: String,
    pub language: String,
    pub text: Option<String>,
    pub due_at: DateTime<Utc>,
    pub status: String,
    pub attempts: i64,
    pub provider_id: Option<String>,
    pub error: Option<String>,
    pub outbox: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl NotificationRow {
    pub fn key(&self) -> String {
        record_key(&self.id)
    }
}

const FIELDS: &str = "id, consultation, participant, channel, kind, offset, recipient, language, text, \
     due_at, status, attempts, provider_id, error, outbox, created_at, sent_at, delivered_at";

/// The statements that queue `$n` for consultation `$c` and participant
/// `$p` (both may be NONE), shared by booking and later enqueues. A message
/// known at once never to go (`failed`) is news to integrators.
pub(super) fn create_notification() -> String {
    format!(
        "LET $queued = CREATE notification SET consultation = $c, participant = $p,
             channel = $n.channel, kind = $n.kind, offset = $n.offset, recipient = $n.recipient,
             language = $n.language, text = $n.text, due_at = $n.due_at, status = $n.status, error = $n.error,
             updated_at = $n.due_at RETURN VALUE id;
         IF $n.status = 'failed' AND $c != NONE {{ {event}; }}",
        event = record_event("'notification.failed'", "$c", "$p", "$queued[0]")
    )
}

impl Db {
    /// Queues messages about one consultation's participant.
    pub async fn enqueue_notifications(
        &self,
        consultation_key: Option<&str>,
        participant_key: Option<&str>,
        rows: Vec<NewNotification>,
    ) -> Result<(), DbError> {
        if rows.is_empty() {
            return Ok(());
        }
        self.inner
            .query(format!(
                "BEGIN;
                 LET $c = IF $consultation THEN type::record('consultation', $consultation) ELSE NONE END;
                 LET $p = IF $participant THEN type::record('participant', $participant) ELSE NONE END;
                 FOR $n IN $rows {{ {create}; }};
                 COMMIT;",
                create = create_notification()
            ))
            .bind(("consultation", consultation_key.map(str::to_string)))
            .bind(("participant", participant_key.map(str::to_string)))
            .bind(("rows", rows))
            .await?
            .check()?;
        Ok(())
    }

    /// Takes up to `limit` messages due at `now` whose lease (if any) has run
    /// out, and leases them to `node` until `until`. In one transaction: of
    /// two nodes claiming at once, one commits and the other claims nothing
    /// (its transaction conflicts, or its re-checked `WHERE` finds them leased).
    pub async fn claim_due_notifications(
        &self,
        node: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<NotificationRow>, DbError> {
        // One statement, so one transaction: the inner SELECT and the
        // re-checked WHERE see the same snapshot, and of two nodes claiming
        // at once one commits and the other conflicts (or finds them leased).
        let claimed = self
            .inner
            .query(format!(
                "UPDATE (SELECT VALUE id FROM notification
                         WHERE status = 'queued' AND due_at <= $now
                             AND (lease_until = NONE OR lease_until < $now)
                         ORDER BY due_at LIMIT $limit)
                     SET lease_owner = $node, lease_until = $until, attempts += 1, updated_at = $now
                     WHERE status = 'queued' AND (lease_until = NONE OR lease_until < $now)
                     RETURN {FIELDS}"
            ))
            .bind(("node", node.to_string()))
            .bind(("now", now))
            .bind(("until", until))
            .bind(("limit", limit as i64))
            .await
            .and_then(|mut response| response.take::<Vec<NotificationRow>>(0));
        match claimed {
            Ok(rows) => Ok(rows),
            // Another node's claim won the race: nothing for us this time.
            Err(error) if is_conflict(error.message()) => Ok(Vec::new()),
            Err(error) => Err(error.into()),
        }
    }

    /// Sent: the provider took it. Only the lease holder may say so.
    pub async fn notification_sent(
        &self,
        key: &str,
        node: &str,
        provider_id: Option<String>,
        outbox: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(), DbError> {
        self.finish(
            "status = 'sent', provider_id = $provider_id, outbox = $outbox, sent_at = $now, error = NONE",
            key,
            node,
            now,
        )
        .bind(("provider_id", provider_id))
        .bind(("outbox", outbox))
        .await?
        .check()?;
        Ok(())
    }

    /// Failed for good, with the reason the clinician reads.
    pub async fn notification_failed(
        &self,
        key: &str,
        node: &str,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), DbError> {
        // Integrators hear of it (notification.failed) in the same breath.
        self.inner
            .query(format!(
                "BEGIN;
                 LET $row = (UPDATE type::record('notification', $key) SET status = 'failed', error = $error,
                     lease_owner = NONE, lease_until = NONE, updated_at = $now
                     WHERE lease_owner = $node RETURN AFTER)[0];
                 IF $row != NONE AND $row.consultation != NONE {{ {event}; }};
                 COMMIT;",
                event = record_event("'notification.failed'", "$row.consultation", "$row.participant", "$row.id")
            ))
            .bind(("key", key.to_string()))
            .bind(("node", node.to_string()))
            .bind(("now", now))
            .bind(("error", error.to_string()))
            .await?
            .check()?;
        Ok(())
    }

    /// Failed this time; tried again at `retry_at`.
    pub async fn notification_retry(
        &self,
        key: &str,
        node: &str,
        error: &str,
        retry_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), DbError> {
        self.finish("due_at = $retry_at, error = $error", key, node, now)
            .bind(("error", error.to_string()))
            .bind(("retry_at", retry_at))
            .await?
            .check()?;
        Ok(())
    }

    /// Not sent and not to be sent (the consultation is over, say).
    pub async fn notification_dropped(
        &self,
        key: &str,
        node: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), DbError> {
        self.finish("status = 'cancelled', error = $error", key, node, now)
            .bind(("error", reason.to_string()))
            .await?
            .check()?;
        Ok(())
    }

    fn finish<'a>(
        &'a self,
        set: &str,
        key: &str,
        node: &str,
        now: DateTime<Utc>,
    ) -> surrealdb::method::Query<'a, surrealdb::engine::any::Any> {
        self.inner
            .query(format!(
                "UPDATE type::record('notification', $key) SET {set}, lease_owner = NONE,
                     lease_until = NONE, updated_at = $now WHERE lease_owner = $node"
            ))
            .bind(("key", key.to_string()))
            .bind(("node", node.to_string()))
            .bind(("now", now))
    }

    /// A provider's delivery report: `delivered`, or `failed` with a reason.
    /// Returns false when no message has this provider id.
    pub async fn notification_delivery(
        &self,
        provider_id: &str,
        delivered: bool,
        error: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<bool, DbError> {
        let response = self
            .inner
            .query(format!(
                "BEGIN;
                 LET $rows = UPDATE notification SET
                     status = IF $delivered THEN 'delivered' ELSE 'failed' END,
                     delivered_at = IF $delivered THEN $now ELSE delivered_at END,
                     error = IF $delivered THEN NONE ELSE $error END, updated_at = $now
                 WHERE provider_id = $provider_id AND status IN ['sent', 'delivered']
                 RETURN AFTER;
                 IF !$delivered {{
                     FOR $row IN $rows {{
                         IF $row.consultation != NONE {{ {event}; }};
                     }};
                 }};
                 RETURN array::len($rows) > 0;
                 COMMIT;",
                event = record_event(
                    "'notification.failed'",
                    "$row.consultation",
                    "$row.participant",
                    "$row.id"
                )
            ))
            .bind(("provider_id", provider_id.to_string()))
            .bind(("delivered", delivered))
            .bind(("error", error))
            .bind(("now", now))
            .await?;
        super::transaction_answer(response, "a delivery report")
    }

    /// Calls off what a consultation still had queued (its reminders).
    pub async fn cancel_queued_notifications(
        &self,
        consultation_key: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), DbError> {
        self.inner
            .query(
                "UPDATE notification SET status = 'cancelled', error = $reason, updated_at = $now
                 WHERE consultation = type::record('consultation', $key) AND status = 'queued'",
            )
            .bind(("key", consultation_key.to_string()))
            .bind(("reason", reason.to_string()))
            .bind(("now", now))
            .await?
            .check()?;
        Ok(())
    }

    /// Every message of these consultations, oldest first.
    pub async fn notifications_of(
        &self,
        consultation_keys: &[String],
    ) -> Result<Vec<NotificationRow>, DbError> {
        let ids: Vec<RecordId> = consultation_keys
            .iter()
            .map(|k| RecordId::new("consultation", k.as_str()))
            .collect();
        Ok(self
            .inner
            .query(format!(
                "SELECT {FIELDS} FROM notification WHERE consultation IN $ids ORDER BY created_at, due_at"
            ))
            .bind(("ids", ids))
            .await?
            .take(0)?)
    }

    /// How many messages went to `recipient` since `since`.
    pub async fn sent_to_since(
        &self,
        recipient: &str,
        since: DateTime<Utc>,
    ) -> Result<usize, DbError> {
        let count: Option<i64> = self
            .inner
            .query(
                "RETURN count(SELECT id FROM notification
                     WHERE recipient = $recipient AND sent_at != NONE AND sent_at > $since)",
            )
            .bind(("recipient", recipient.to_string()))
            .bind(("since", since))
            .await?
            .take(0)?;
        Ok(count.unwrap_or(0) as usize)
    }

    /// The newest messages the `log` provider kept, for the outbox page.
    pub async fn outbox(&self, limit: usize) -> Result<Vec<NotificationRow>, DbError> {
        Ok(self
            .inner
            .query(format!(
                "SELECT {FIELDS} FROM notification WHERE outbox != NONE ORDER BY sent_at DESC LIMIT $limit"
            ))
            .bind(("limit", limit as i64))
            .await?
            .take(0)?)
    }
}

/// What a message about a consultation is made from, read at send time (so
/// it says the current time, name and link).
#[derive(Debug, Clone, SurrealValue)]
pub struct MessageContext {
    pub consultation: super::ConsultationRow,
    pub host_name: Option<String>,
    /// The patient's (or guest's) current link: its nonce and digest.
    pub link_nonce: Option<String>,
    pub token_hash: Option<String>,
    pub token_expires_at: Option<DateTime<Utc>>,
}

impl Db {
    pub async fn message_context(
        &self,
        consultation: &RecordId,
        participant: Option<&RecordId>,
    ) -> Result<Option<MessageContext>, DbError> {
        Ok(self
            .inner
            .query(format!(
                "LET $p = IF $participant THEN (SELECT link_nonce, token_hash, token_expires_at
                     FROM ONLY $participant) ELSE NONE END;
                 RETURN IF record::exists($c) THEN {{
                     consultation: (SELECT {fields} FROM ONLY $c),
                     host_name: (SELECT VALUE name FROM participant WHERE consultation = $c AND role = 'host' LIMIT 1)[0],
                     link_nonce: $p.link_nonce,
                     token_hash: $p.token_hash,
                     token_expires_at: $p.token_expires_at,
                 }} ELSE NONE END;",
                fields = super::consultations::CONSULTATION_FIELDS
            ))
            .bind(("c", consultation.clone()))
            .bind(("participant", participant.cloned()))
            .await?
            .take(1)?)
    }

    /// Whether anything reached `channel` about this consultation (so a
    /// cancellation is worth sending there).
    pub async fn anything_sent(
        &self,
        consultation_key: &str,
        channel: &str,
    ) -> Result<bool, DbError> {
        let count: Option<i64> = self
            .inner
            .query(
                "RETURN count(SELECT id FROM notification WHERE consultation = type::record('consultation', $key)
                     AND channel = $channel AND status IN ['sent', 'delivered'])",
            )
            .bind(("key", consultation_key.to_string()))
            .bind(("channel", channel.to_string()))
            .await?
            .take(0)?;
        Ok(count.unwrap_or(0) > 0)
    }
}

impl Db {
    /// The consultation a text message from `phone` is about: the next one
    /// of that patient not yet over (or begun in the last 12 hours).
    pub async fn consultation_for_reply(
        &self,
        phone: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<super::ConsultationRow>, DbError> {
        let rows: Vec<super::ConsultationRow> = self
            .inner
            .query(format!(
                "SELECT {fields} FROM consultation WHERE patient_phone = $phone
                     AND status IN ['scheduled', 'waiting', 'active']
                     AND (scheduled_at = NONE OR scheduled_at > $since)
                 ORDER BY scheduled_at LIMIT 1",
                fields = super::consultations::CONSULTATION_FIELDS
            ))
            .bind(("phone", phone.to_string()))
            .bind(("since", now - chrono::Duration::hours(12)))
            .await?
            .take(0)?;
        Ok(rows.into_iter().next())
    }

    /// How many invites of this consultation were queued since `since`
    /// (a booking with email and phone queues one per channel: counted once).
    pub async fn invites_since(
        &self,
        consultation_key: &str,
        since: DateTime<Utc>,
    ) -> Result<usize, DbError> {
        let channels: Vec<String> = self
            .inner
            .query(
                "SELECT VALUE channel FROM notification
                     WHERE consultation = type::record('consultation', $key)
                     AND kind IN ['invite', 'invite_now'] AND created_at > $since",
            )
            .bind(("key", consultation_key.to_string()))
            .bind(("since", since))
            .await?
            .take(0)?;
        let per = |c: &str| channels.iter().filter(|x| *x == c).count();
        Ok(per("email").max(per("sms")))
    }

    /// The email address of the clinician who hosts a consultation.
    pub async fn host_email(&self, consultation_key: &str) -> Result<Option<String>, DbError> {
        Ok(self
            .inner
            .query("RETURN type::record('consultation', $key).host.email")
            .bind(("key", consultation_key.to_string()))
            .await?
            .take(0)?)
    }

    /// The key of a consultation's patient.
    pub async fn patient_of(&self, consultation_key: &str) -> Result<Option<String>, DbError> {
        let ids: Vec<RecordId> = self
            .inner
            .query(
                "SELECT VALUE id FROM participant
                     WHERE consultation = type::record('consultation', $key) AND role = 'patient' LIMIT 1",
            )
            .bind(("key", consultation_key.to_string()))
            .await?
            .take(0)?;
        Ok(ids.first().map(record_key))
    }

    /// Keeps the patient's answer on the consultation.
    pub async fn record_patient_reply(
        &self,
        consultation_key: &str,
        reply: &str,
        now: DateTime<Utc>,
    ) -> Result<(), DbError> {
        self.inner
            .query(
                "UPDATE type::record('consultation', $key) SET patient_reply = $reply,
                     confirmed_at = IF $reply = 'confirmed' THEN $now ELSE confirmed_at END,
                     updated_at = $now",
            )
            .bind(("key", consultation_key.to_string()))
            .bind(("reply", reply.to_string()))
            .bind(("now", now))
            .await?
            .check()?;
        Ok(())
    }
}

/// SurrealDB's words for an optimistic transaction that lost a race.
pub(super) fn is_conflict(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("conflict") || m.contains("retry") || m.contains("write-write")
}
