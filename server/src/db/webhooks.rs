//! Queries on `webhook` (subscriptions), `webhook_event` (what happened,
//! written with the change itself), `webhook_delivery` (one event for one
//! subscription, leased to one node at a time like messages) and
//! `webhook_attempt` (the delivery log). Every instant comes from the
//! caller's clock, so tests can move time.

use super::users::new_key;
use super::{Db, DbError, record_key};
use chrono::{DateTime, Utc};
use surrealdb::types::{RecordId, SurrealValue};

/// The statement that records event `{kind}` about consultation `{c}` (and
/// participant `{p}`, message `{n}`: expressions, NONE when not about one),
/// for use inside the transaction of the change it reports. Nothing is
/// written while nobody subscribes.
pub(super) fn record_event(kind: &str, c: &str, p: &str, n: &str) -> String {
    format!(
        "IF {kind} != NONE AND array::len((SELECT VALUE id FROM webhook WHERE active = true LIMIT 1)) > 0 {{
             CREATE webhook_event SET kind = {kind}, consultation = {c}, participant = {p}, notification = {n};
         }}"
    )
}

#[derive(Debug, Clone, SurrealValue)]
pub struct WebhookRow {
    pub id: RecordId,
    pub api_key: String,
    pub url: String,
    pub events: Vec<String>,
    pub own_only: bool,
    pub description: Option<String>,
    pub secret_sealed: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

impl WebhookRow {
    pub fn key(&self) -> String {
        record_key(&self.id)
    }
}

const HOOK_FIELDS: &str =
    "id, api_key, url, events, own_only, description, secret_sealed, active, created_at";

#[derive(Debug, Clone, SurrealValue)]
pub struct NewWebhook {
    pub api_key: String,
    pub url: String,
    pub events: Vec<String>,
    pub own_only: bool,
    pub description: Option<String>,
    pub secret_sealed: String,
}

/// Something that happened and is still to be fanned out.
#[derive(Debug, Clone, SurrealValue)]
pub struct EventRow {
    pub id: RecordId,
    pub kind: String,
    pub consultation: Option<RecordId>,
    pub participant: Option<RecordId>,
    pub notification: Option<RecordId>,
    pub at: DateTime<Utc>,
}

impl EventRow {
    pub fn key(&self) -> String {
        record_key(&self.id)
    }
}

/// One event's delivery to one subscription, to be made.
#[derive(Debug, Clone, SurrealValue)]
pub struct NewDelivery {
    pub webhook: String,
    pub kind: String,
    pub body: String,
    pub next_attempt_at: DateTime<Utc>,
    pub give_up_at: DateTime<Utc>,
}

#[derive(Debug, Clone, SurrealValue)]
pub struct DeliveryRow {
    pub id: RecordId,
    pub webhook: RecordId,
    pub event: RecordId,
    pub kind: String,
    pub body: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub give_up_at: DateTime<Utc>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub replay_of: Option<RecordId>,
    pub replayed_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl DeliveryRow {
    pub fn key(&self) -> String {
        record_key(&self.id)
    }
}

const DELIVERY_FIELDS: &str = "id, webhook, event, kind, body, status, attempts, next_attempt_at, \
     give_up_at, last_status, last_error, replay_of, replayed_by, created_at, delivered_at";

/// One try, as the delivery log shows it.
#[derive(Debug, Clone, SurrealValue)]
pub struct AttemptRow {
    pub delivery: RecordId,
    pub at: DateTime<Utc>,
    pub status: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// What became of a delivery after a try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterAttempt {
    Delivered,
    RetryAt(DateTime<Utc>),
    GaveUp,
}

impl Db {
    pub async fn create_webhook(&self, new: NewWebhook) -> Result<WebhookRow, DbError> {
        let row: Option<WebhookRow> = self
            .inner
            .query(format!(
                "CREATE ONLY type::record('webhook', $key) CONTENT $new RETURN {HOOK_FIELDS}"
            ))
            .bind(("key", new_key()))
            .bind(("new", new))
            .await?
            .take(0)?;
        row.ok_or_else(|| DbError::Query("the subscription was not created".into()))
    }

    /// A subscription that was not deleted.
    pub async fn webhook(&self, key: &str) -> Result<Option<WebhookRow>, DbError> {
        Ok(self
            .inner
            .query(format!(
                "SELECT {HOOK_FIELDS} FROM ONLY type::record('webhook', $key) WHERE deleted_at = NONE"
            ))
            .bind(("key", key.to_string()))
            .await?
            .take(0)?)
    }

    /// Subscriptions not deleted: of one key, or all of them.
    pub async fn webhooks(&self, api_key: Option<&str>) -> Result<Vec<WebhookRow>, DbError> {
        Ok(self
            .inner
            .query(format!(
                "SELECT {HOOK_FIELDS} FROM webhook
                 WHERE deleted_at = NONE AND ($api_key = NONE OR api_key = $api_key)
                 ORDER BY created_at"
            ))
            .bind(("api_key", api_key.map(str::to_string)))
            .await?
            .take(0)?)
    }

    /// Subscriptions that receive events now.
    pub async fn active_webhooks(&self) -> Result<Vec<WebhookRow>, DbError> {
        Ok(self
            .inner
            .query(format!(
                "SELECT {HOOK_FIELDS} FROM webhook WHERE active = true"
            ))
            .await?
            .take(0)?)
    }

    /// Ends a subscription: nothing more is sent to it, and what was still
    /// waiting to be retried is given up. False when there was none.
    pub async fn delete_webhook(&self, key: &str, now: DateTime<Utc>) -> Result<bool, DbError> {
        let response = self
            .inner
            .query(
                "BEGIN;
                 LET $w = type::record('webhook', $key);
                 LET $ended = UPDATE $w SET active = false, deleted_at = $now
                     WHERE deleted_at = NONE RETURN VALUE id;
                 UPDATE webhook_delivery SET status = 'failed', last_error = 'The subscription was deleted.',
                     lease_owner = NONE, lease_until = NONE
                     WHERE webhook = $w AND status = 'pending';
                 RETURN array::len($ended) > 0;
                 COMMIT;",
            )
            .bind(("key", key.to_string()))
            .bind(("now", now))
            .await?;
        super::transaction_answer(response, "deleting a subscription")
    }

    /// Events not yet fanned out, oldest first.
    pub async fn events_to_expand(&self, limit: usize) -> Result<Vec<EventRow>, DbError> {
        Ok(self
            .inner
            .query(
                "SELECT id, kind, consultation, participant, notification, at FROM webhook_event
                 WHERE expanded_at = NONE ORDER BY at LIMIT $limit",
            )
            .bind(("limit", limit as i64))
            .await?
            .take(0)?)
    }

    /// Marks one event fanned out into `deliveries`, all or nothing. False
    /// when another node did it first (it then made the deliveries).
    pub async fn expand_event(
        &self,
        event_key: &str,
        deliveries: Vec<NewDelivery>,
        now: DateTime<Utc>,
    ) -> Result<bool, DbError> {
        let answer = self
            .inner
            .query(
                "BEGIN;
                 LET $e = type::record('webhook_event', $key);
                 LET $claimed = UPDATE $e SET expanded_at = $now WHERE expanded_at = NONE RETURN VALUE id;
                 IF array::len($claimed) = 0 { RETURN false; };
                 FOR $d IN $deliveries {
                     CREATE webhook_delivery SET webhook = type::record('webhook', $d.webhook), event = $e,
                         kind = $d.kind, body = $d.body, status = 'pending',
                         next_attempt_at = $d.next_attempt_at, give_up_at = $d.give_up_at;
                 };
                 RETURN true;
                 COMMIT;",
            )
            .bind(("key", event_key.to_string()))
            .bind(("deliveries", deliveries))
            .bind(("now", now))
            .await;
        match answer {
            Ok(response) => super::transaction_answer(response, "fanning out an event"),
            // Another node's fan-out of the same event won.
            Err(error) if super::notifications::is_conflict(error.message()) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// Takes up to `limit` deliveries due at `now` whose lease (if any) has
    /// run out, and leases them to `node` until `until` (one statement, so
    /// of two nodes claiming at once one gets them).
    pub async fn claim_due_deliveries(
        &self,
        node: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DeliveryRow>, DbError> {
        let claimed = self
            .inner
            .query(format!(
                "UPDATE (SELECT VALUE id FROM webhook_delivery
                         WHERE status = 'pending' AND next_attempt_at <= $now
                             AND (lease_until = NONE OR lease_until < $now)
                         ORDER BY next_attempt_at LIMIT $limit)
                     SET lease_owner = $node, lease_until = $until, attempts += 1
                     WHERE status = 'pending' AND (lease_until = NONE OR lease_until < $now)
                     RETURN {DELIVERY_FIELDS}"
            ))
            .bind(("node", node.to_string()))
            .bind(("now", now))
            .bind(("until", until))
            .bind(("limit", limit as i64))
            .await
            .and_then(|mut response| response.take::<Vec<DeliveryRow>>(0));
        match claimed {
            Ok(rows) => Ok(rows),
            Err(error) if super::notifications::is_conflict(error.message()) => Ok(Vec::new()),
            Err(error) => Err(error.into()),
        }
    }

    /// Logs a try and moves the delivery on; only the lease holder may.
    pub async fn delivery_attempted(
        &self,
        key: &str,
        node: &str,
        attempt: AttemptRecord,
        after: AfterAttempt,
    ) -> Result<(), DbError> {
        let (status, next) = match after {
            AfterAttempt::Delivered => ("delivered", None),
            AfterAttempt::RetryAt(at) => ("pending", Some(at)),
            AfterAttempt::GaveUp => ("failed", None),
        };
        self.inner
            .query(
                "BEGIN;
                 LET $d = type::record('webhook_delivery', $key);
                 LET $mine = UPDATE $d SET status = $status,
                     next_attempt_at = IF $next != NONE THEN $next ELSE next_attempt_at END,
                     delivered_at = IF $status = 'delivered' THEN $at ELSE delivered_at END,
                     last_status = $code, last_error = $error, lease_owner = NONE, lease_until = NONE
                     WHERE lease_owner = $node RETURN VALUE id;
                 IF array::len($mine) > 0 {
                     CREATE webhook_attempt SET delivery = $d, at = $at, status = $code, error = $error,
                         duration_ms = $ms;
                 };
                 COMMIT;",
            )
            .bind(("key", key.to_string()))
            .bind(("node", node.to_string()))
            .bind(("status", status))
            .bind(("next", next))
            .bind(("at", attempt.at))
            .bind(("code", attempt.status.map(i64::from)))
            .bind(("error", attempt.error))
            .bind(("ms", attempt.duration_ms))
            .await?
            .check()?;
        Ok(())
    }

    /// The latest deliveries, of one subscription or of all, newest first.
    pub async fn deliveries(
        &self,
        webhook: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeliveryRow>, DbError> {
        Ok(self
            .inner
            .query(format!(
                "SELECT {DELIVERY_FIELDS} FROM webhook_delivery
                 WHERE $hook = NONE OR webhook = type::record('webhook', $hook)
                 ORDER BY created_at DESC LIMIT $limit"
            ))
            .bind(("hook", webhook.map(str::to_string)))
            .bind(("limit", limit as i64))
            .await?
            .take(0)?)
    }

    pub async fn delivery(&self, key: &str) -> Result<Option<DeliveryRow>, DbError> {
        Ok(self
            .inner
            .query(format!(
                "SELECT {DELIVERY_FIELDS} FROM ONLY type::record('webhook_delivery', $key)"
            ))
            .bind(("key", key.to_string()))
            .await?
            .take(0)?)
    }

    /// The tries of these deliveries, oldest first.
    pub async fn attempts_of(&self, deliveries: &[String]) -> Result<Vec<AttemptRow>, DbError> {
        if deliveries.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self
            .inner
            .query(
                "SELECT delivery, at, status, error, duration_ms FROM webhook_attempt
                 WHERE delivery IN $keys.map(|$k| type::record('webhook_delivery', $k)) ORDER BY at",
            )
            .bind(("keys", deliveries.to_vec()))
            .await?
            .take(0)?)
    }

    /// A new delivery of the same event with the same body, due now.
    pub async fn replay_delivery(
        &self,
        key: &str,
        by: &str,
        now: DateTime<Utc>,
        give_up_at: DateTime<Utc>,
    ) -> Result<Option<DeliveryRow>, DbError> {
        Ok(self
            .inner
            .query(format!(
                "LET $old = SELECT * FROM ONLY type::record('webhook_delivery', $key);
                 IF $old = NONE {{ RETURN NONE; }};
                 CREATE ONLY webhook_delivery SET webhook = $old.webhook, event = $old.event,
                     kind = $old.kind, body = $old.body, status = 'pending', next_attempt_at = $now,
                     give_up_at = $give_up, replay_of = $old.id, replayed_by = $by
                     RETURN {DELIVERY_FIELDS};"
            ))
            .bind(("key", key.to_string()))
            .bind(("by", by.to_string()))
            .bind(("now", now))
            .bind(("give_up", give_up_at))
            .await?
            .take(2)?)
    }
}

impl Db {
    /// Forgets what was delivered or given up before `before` (and the
    /// events behind it); deliveries still being tried stay. Returns how
    /// many deliveries went.
    pub async fn purge_webhooks(&self, before: DateTime<Utc>) -> Result<usize, DbError> {
        let mut response = self
            .inner
            .query(
                "BEGIN;
                 LET $gone = DELETE webhook_delivery WHERE created_at < $before AND status != 'pending'
                     RETURN BEFORE;
                 DELETE webhook_attempt WHERE delivery IN $gone.id;
                 DELETE webhook_event WHERE expanded_at != NONE AND expanded_at < $before
                     AND array::len((SELECT VALUE id FROM webhook_delivery WHERE event = $parent.id LIMIT 1)) = 0;
                 RETURN array::len($gone);
                 COMMIT;",
            )
            .bind(("before", before))
            .await?;
        if let Some(error) = response.take_errors().into_values().next() {
            return Err(error.into());
        }
        for index in (0..response.num_statements()).rev() {
            if let Ok(Some(count)) = response.take::<Option<i64>>(index) {
                return Ok(usize::try_from(count).unwrap_or(0));
            }
        }
        Ok(0)
    }
}

/// One try, to be logged.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub at: DateTime<Utc>,
    /// The receiver's HTTP status, when it answered.
    pub status: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: i64,
}
