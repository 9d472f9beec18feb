//! Outgoing webhooks: integrators subscribe with their API key to events
//! about consultations, and this node's dispatcher sends them signed JSON.
//!
//! The path of an event: the database change that is the event also writes
//! a `webhook_event` row (same transaction, see `db::webhooks`); a
//! dispatcher fans each event out into one `webhook_delivery` per matching
//! subscription, with the body fixed then; deliveries are leased to one
//! node at a time and retried with exponential backoff until they land or a
//! day has passed. Every try is logged for the admin console, which can
//! send one again. (The HTTP side of the SMS gateway's incoming webhooks is
//! `http::webhooks`.)

mod admin;
pub mod events;
pub mod guard;
pub mod sign;

use crate::config::WebhookConfig;
use crate::consultations::ConsultationService;
use crate::consultations::api::ApiCaller;
use crate::db::{
    AfterAttempt, AttemptRecord, AuditEntry, Db, DbError, DeliveryRow, EventRow, NewDelivery,
    NewWebhook, WebhookRow, record_key,
};
use crate::notify::console::SecretBox;
use app::error::AppError;
use app::ssr::ClientInfo;
use chrono::{DateTime, Utc};
use events::{EventBody, EventData, EventKind, EventNotification, EventParticipant};
use guard::AddressGuard;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// How often the dispatcher looks for work.
const TICK: Duration = Duration::from_millis(250);
/// How long a node holds a delivery it is sending.
const LEASE: Duration = Duration::from_secs(60);
/// Deliveries sent at once by one node.
const BATCH: usize = 50;
/// Events fanned out per look.
const EVENT_BATCH: usize = 50;
/// A receiver has this long to answer.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Retries stop this long after the event.
const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 60 * 60);
/// The longest wait between two tries.
const MAX_BACKOFF: Duration = Duration::from_secs(60 * 60);
/// Delivered and given-up deliveries are kept this long (the log).
const KEEP_FOR: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// How often the old ones are looked for.
const PURGE_EVERY: Duration = Duration::from_secs(60 * 60);
/// Subscriptions one key may hold.
const MAX_PER_KEY: usize = 20;
/// The field name the signing secrets are sealed under.
const SECRET_FIELD: &str = "webhook signing secret";

/// What an integrator asks for.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = WebhookRequest)]
pub struct SubscribeRequest {
    /// Where to POST the events: `https://…` (or `http://`); internal
    /// addresses are refused unless the administrator allows them.
    #[schema(example = "https://hooks.hospital.example/visita")]
    pub url: String,
    /// The events to receive (at least one).
    #[schema(example = json!(["consultation.created", "consultation.closed"]))]
    pub events: Vec<String>,
    /// Only consultations booked with this key (default: all of them).
    #[serde(default)]
    pub own_only: bool,
    /// A note for whoever reads the list later.
    #[serde(default)]
    pub description: Option<String>,
}

/// A subscription as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Webhook)]
pub struct Subscription {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub own_only: bool,
    pub description: Option<String>,
    /// False once the key that made it was revoked.
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

/// A new subscription, with the secret its requests are signed with
/// (shown this once).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CreatedWebhook)]
pub struct CreatedSubscription {
    #[serde(flatten)]
    pub subscription: Subscription,
    /// Verify each request: `Visita-Signature: t=<unix time>,v1=<hex>` where
    /// hex is HMAC-SHA256 with this secret over `<t>.<raw body>`.
    pub secret: String,
}

/// One delivery and its tries.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookDelivery)]
pub struct DeliveryView {
    pub id: String,
    pub webhook_id: String,
    pub event_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// `pending` (being tried), `delivered` or `failed` (given up).
    pub status: String,
    pub attempts: i64,
    /// The receiver's last HTTP status, when it answered.
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// The delivery this one sends again.
    pub replay_of: Option<String>,
    pub tries: Vec<AttemptView>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookAttempt)]
pub struct AttemptView {
    pub at: DateTime<Utc>,
    pub status: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

pub struct Webhooks {
    db: Db,
    node: String,
    guard: Arc<AddressGuard>,
    client: reqwest::Client,
    secrets: SecretBox,
    consultations: Arc<ConsultationService>,
    retry_base: Duration,
    /// The clinic's zone, for the times the admin page shows.
    timezone: String,
}

impl Webhooks {
    pub fn new(
        db: Db,
        config: &WebhookConfig,
        timezone: &str,
        secrets: SecretBox,
        consultations: Arc<ConsultationService>,
        node: String,
    ) -> Self {
        let guard = Arc::new(AddressGuard::new(config.allow_networks.clone()));
        let client = guard.client(TIMEOUT);
        Self {
            db,
            node,
            guard,
            client,
            secrets,
            consultations,
            retry_base: config.retry_base,
            timezone: timezone.to_string(),
        }
    }

    /// A new subscription for `caller`'s key.
    pub async fn subscribe(
        &self,
        caller: &ApiCaller,
        request: SubscribeRequest,
        client: &ClientInfo,
    ) -> Result<CreatedSubscription, AppError> {
        let url = self
            .guard
            .check_url(&request.url)
            .await
            .map_err(|refusal| AppError::invalid("url", capitalised(&refusal.to_string())))?;
        if request.events.is_empty() {
            return Err(AppError::invalid(
                "events",
                format!("Name at least one event: {}.", EventKind::list()),
            ));
        }
        let mut events: Vec<String> = Vec::new();
        for name in &request.events {
            let kind = EventKind::parse(name).ok_or_else(|| {
                AppError::invalid(
                    "events",
                    format!(
                        "{name:?} is not an event; the events are {}.",
                        EventKind::list()
                    ),
                )
            })?;
            if !events.iter().any(|e| e == kind.as_str()) {
                events.push(kind.as_str().to_string());
            }
        }
        let description = request
            .description
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty());
        if description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 200)
        {
            return Err(AppError::invalid(
                "description",
                "Keep the description to 200 characters.",
            ));
        }
        if self
            .db
            .webhooks(Some(&caller.key))
            .await
            .map_err(internal)?
            .len()
            >= MAX_PER_KEY
        {
            return Err(AppError::Conflict(format!(
                "This key already has {MAX_PER_KEY} subscriptions; delete one first."
            )));
        }
        let secret = sign::new_secret();
        let row = self
            .db
            .create_webhook(NewWebhook {
                api_key: caller.key.clone(),
                url: url.to_string(),
                events,
                own_only: request.own_only,
                description,
                secret_sealed: self.secrets.seal(SECRET_FIELD, &secret),
            })
            .await
            .map_err(internal)?;
        self.audit(caller, "api.webhook.create", &row.key(), client)
            .await;
        Ok(CreatedSubscription {
            subscription: view(&row),
            secret,
        })
    }

    pub async fn subscriptions(&self, caller: &ApiCaller) -> Result<Vec<Subscription>, AppError> {
        let rows = self
            .db
            .webhooks(Some(&caller.key))
            .await
            .map_err(internal)?;
        Ok(rows.iter().map(view).collect())
    }

    /// One of `caller`'s subscriptions; another key's is "not found".
    pub async fn subscription(
        &self,
        caller: &ApiCaller,
        id: &str,
    ) -> Result<Subscription, AppError> {
        Ok(view(&self.own(caller, id).await?))
    }

    pub async fn unsubscribe(
        &self,
        caller: &ApiCaller,
        id: &str,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        let row = self.own(caller, id).await?;
        self.db
            .delete_webhook(&row.key(), Utc::now())
            .await
            .map_err(internal)?;
        self.audit(caller, "api.webhook.delete", &row.key(), client)
            .await;
        Ok(())
    }

    /// The latest deliveries of one of `caller`'s subscriptions.
    pub async fn deliveries_of(
        &self,
        caller: &ApiCaller,
        id: &str,
        limit: usize,
    ) -> Result<Vec<DeliveryView>, AppError> {
        let row = self.own(caller, id).await?;
        self.deliveries(Some(&row.key()), limit).await
    }

    /// Sends one of `caller`'s deliveries again.
    pub async fn api_replay(
        &self,
        caller: &ApiCaller,
        id: &str,
        delivery: &str,
        client: &ClientInfo,
    ) -> Result<DeliveryView, AppError> {
        let row = self.own(caller, id).await?;
        if !crate::rest::looks_like_id(delivery) {
            return Err(AppError::NotFound(
                "This subscription has no such delivery.".into(),
            ));
        }
        let old = self
            .db
            .delivery(delivery)
            .await
            .map_err(internal)?
            .filter(|d| record_key(&d.webhook) == row.key())
            .ok_or_else(|| AppError::NotFound("This subscription has no such delivery.".into()))?;
        let replayed = self
            .replay(&old, &format!("api_key:{}", caller.key))
            .await?;
        self.audit(caller, "api.webhook.replay", &row.key(), client)
            .await;
        Ok(replayed)
    }

    /// The latest deliveries with their tries, of one subscription or all.
    pub async fn deliveries(
        &self,
        hook: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeliveryView>, AppError> {
        let rows = self.db.deliveries(hook, limit).await.map_err(internal)?;
        let keys: Vec<String> = rows.iter().map(DeliveryRow::key).collect();
        let attempts = self.db.attempts_of(&keys).await.map_err(internal)?;
        Ok(rows
            .iter()
            .map(|row| {
                let mut shown = delivery_view(row);
                shown.tries = attempts
                    .iter()
                    .filter(|a| a.delivery == row.id)
                    .map(|a| AttemptView {
                        at: a.at,
                        status: a.status,
                        error: a.error.clone(),
                        duration_ms: a.duration_ms,
                    })
                    .collect();
                shown
            })
            .collect())
    }

    /// A new delivery of `old`'s event with the same body, due now, for a
    /// subscription that still exists.
    pub async fn replay(&self, old: &DeliveryRow, by: &str) -> Result<DeliveryView, AppError> {
        let hook_key = record_key(&old.webhook);
        let hook = self
            .db
            .webhook(&hook_key)
            .await
            .map_err(internal)?
            .ok_or_else(|| AppError::Conflict("This subscription was deleted.".into()))?;
        if !hook.active {
            return Err(AppError::Conflict(
                "This subscription is off (its API key was revoked).".into(),
            ));
        }
        let now = Utc::now();
        let row = self
            .db
            .replay_delivery(&old.key(), by, now, now + chrono_of(GIVE_UP_AFTER))
            .await
            .map_err(internal)?
            .ok_or_else(|| AppError::NotFound("There is no such delivery.".into()))?;
        Ok(delivery_view(&row))
    }

    /// Where integrators' URLs may lead (shared with logo fetching).
    pub fn guard(&self) -> &Arc<AddressGuard> {
        &self.guard
    }

    pub async fn delivery(&self, key: &str) -> Result<Option<DeliveryRow>, AppError> {
        self.db.delivery(key).await.map_err(internal)
    }

    async fn own(&self, caller: &ApiCaller, id: &str) -> Result<WebhookRow, AppError> {
        let not_found = || AppError::NotFound("This key has no such subscription.".into());
        if !crate::rest::looks_like_id(id) {
            return Err(not_found());
        }
        self.db
            .webhook(id)
            .await
            .map_err(internal)?
            .filter(|row| row.api_key == caller.key)
            .ok_or_else(not_found)
    }

    async fn audit(
        &self,
        caller: &ApiCaller,
        action: &'static str,
        hook: &str,
        client: &ClientInfo,
    ) {
        self.db
            .audit_or_log(AuditEntry::by_api_key(
                &caller.key,
                action,
                format!("webhook:{hook}"),
                client,
            ))
            .await;
    }

    /// Fans out and sends until `stop` turns true; waits a tick only when
    /// there was less than a full batch to do (a burst is worked through).
    pub async fn run(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut last_purge: Option<std::time::Instant> = None;
        loop {
            if last_purge.is_none_or(|at| at.elapsed() >= PURGE_EVERY) {
                last_purge = Some(std::time::Instant::now());
                match self
                    .db
                    .purge_webhooks(Utc::now() - chrono_of(KEEP_FOR))
                    .await
                {
                    Ok(0) => {}
                    Ok(count) => tracing::info!(count, "old webhook deliveries forgotten"),
                    Err(error) => tracing::warn!(%error, "old webhook deliveries not purged"),
                }
            }
            let busy = match self.work().await {
                Ok((expanded, sent)) => expanded == EVENT_BATCH || sent == BATCH,
                Err(error) => {
                    tracing::error!(%error, "the webhook dispatcher could not read its queue");
                    false
                }
            };
            if busy && !*stop.borrow() {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Fans out new events and sends what is due; returns how many
    /// deliveries were tried.
    pub async fn tick(&self) -> Result<usize, DbError> {
        Ok(self.work().await?.1)
    }

    /// How many events were fanned out, and deliveries tried.
    async fn work(&self) -> Result<(usize, usize), DbError> {
        let expanded = self.expand().await?;
        let now = Utc::now();
        let due = self
            .db
            .claim_due_deliveries(&self.node, now, now + chrono_of(LEASE), BATCH)
            .await?;
        let count = due.len();
        let results =
            futures_util::future::join_all(due.into_iter().map(|row| self.send(row))).await;
        for result in results {
            result?;
        }
        Ok((expanded, count))
    }

    /// One delivery per matching subscription for each new event; returns
    /// how many events were looked at.
    async fn expand(&self) -> Result<usize, DbError> {
        let events = self.db.events_to_expand(EVENT_BATCH).await?;
        let count = events.len();
        if events.is_empty() {
            return Ok(0);
        }
        let hooks = self.db.active_webhooks().await?;
        for event in events {
            let deliveries = self.deliveries_for(&event, &hooks).await?;
            self.db
                .expand_event(&event.key(), deliveries, Utc::now())
                .await?;
        }
        Ok(count)
    }

    async fn deliveries_for(
        &self,
        event: &EventRow,
        hooks: &[WebhookRow],
    ) -> Result<Vec<NewDelivery>, DbError> {
        let listening: Vec<&WebhookRow> = hooks
            .iter()
            .filter(|h| h.events.contains(&event.kind))
            .collect();
        let Some(consultation) = &event.consultation else {
            return Ok(Vec::new());
        };
        if listening.is_empty() {
            return Ok(Vec::new());
        }
        let Some((mut shown, row, participants)) = self
            .consultations
            .api_view_of(&record_key(consultation))
            .await?
        else {
            return Ok(Vec::new());
        };
        // A webhook body ends up in logs and queues where a link to the
        // patient's consultation does not belong.
        shown.patient_link = None;
        let participant = event.participant.as_ref().and_then(|p| {
            participants
                .iter()
                .find(|row| row.id == *p)
                .map(|row| EventParticipant {
                    id: row.key(),
                    name: row.name.clone(),
                    role: row.role.clone(),
                })
        });
        let notification = match &event.notification {
            None => None,
            Some(n) => self
                .db
                .notifications_of(&[row.key()])
                .await?
                .into_iter()
                .find(|row| row.id == *n)
                .map(|row| EventNotification {
                    id: row.key(),
                    channel: row.channel,
                    kind: row.kind,
                    error: row.error,
                }),
        };
        let body = serde_json::to_string(&EventBody {
            id: event.key(),
            kind: event.kind.clone(),
            created_at: event.at,
            data: EventData {
                consultation: shown,
                participant,
                notification,
            },
        })
        .map_err(|e| DbError::Query(format!("an event's body: {e}")))?;
        let now = Utc::now();
        Ok(listening
            .into_iter()
            .filter(|hook| !hook.own_only || row.api_key.as_deref() == Some(hook.api_key.as_str()))
            .map(|hook| NewDelivery {
                webhook: hook.key(),
                kind: event.kind.clone(),
                body: body.clone(),
                next_attempt_at: now,
                give_up_at: event.at + chrono_of(GIVE_UP_AFTER),
            })
            .collect())
    }

    /// One try of one delivery, logged.
    async fn send(&self, row: DeliveryRow) -> Result<(), DbError> {
        let started = std::time::Instant::now();
        let outcome = self.post(&row).await;
        let at = Utc::now();
        let (status, error) = match &outcome {
            Ok(code) if (200..300).contains(code) => (Some(*code), None),
            Ok(code) => (
                Some(*code),
                Some(format!("The receiver answered {code}, not 2xx.")),
            ),
            Err(reason) => (None, Some(reason.clone())),
        };
        let after = if error.is_none() {
            AfterAttempt::Delivered
        } else {
            let next = at + chrono_of(backoff(self.retry_base, row.attempts));
            if next > row.give_up_at {
                AfterAttempt::GaveUp
            } else {
                AfterAttempt::RetryAt(next)
            }
        };
        match (&after, &error) {
            (AfterAttempt::Delivered, _) => {
                tracing::info!(delivery = %row.key(), kind = %row.kind, "webhook delivered")
            }
            (_, Some(error)) => {
                tracing::warn!(delivery = %row.key(), kind = %row.kind, attempt = row.attempts, %error, "webhook not delivered")
            }
            _ => {}
        }
        self.db
            .delivery_attempted(
                &row.key(),
                &self.node,
                AttemptRecord {
                    at,
                    status,
                    error,
                    duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
                },
                after,
            )
            .await
    }

    /// POSTs the body, signed; the receiver's status, or why there is none.
    async fn post(&self, row: &DeliveryRow) -> Result<u16, String> {
        let hook = self
            .db
            .webhook(&record_key(&row.webhook))
            .await
            .map_err(|e| format!("The subscription could not be read: {e}"))?
            .filter(|h| h.active)
            .ok_or("The subscription was deleted or turned off.")?;
        let url = self
            .guard
            .check_literal(&hook.url)
            .map_err(|refusal| capitalised(&refusal.to_string()))?;
        let secret = self
            .secrets
            .open(SECRET_FIELD, &hook.secret_sealed)
            .map_err(|e| capitalised(&e.to_string()))?;
        let signature = sign::signature(&secret, Utc::now().timestamp(), row.body.as_bytes());
        let response = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(sign::SIGNATURE_HEADER, signature)
            .header(sign::EVENT_HEADER, &row.kind)
            .header(sign::EVENT_ID_HEADER, record_key(&row.event))
            .header(sign::DELIVERY_HEADER, row.key())
            .body(row.body.clone())
            .send()
            .await
            .map_err(describe_send_error)?;
        Ok(response.status().as_u16())
    }
}

/// The wait before try `attempt + 1`: `base`, doubled each time, at most an
/// hour.
pub fn backoff(base: Duration, attempt: i64) -> Duration {
    let doublings = u32::try_from(attempt.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    base.saturating_mul(2u32.saturating_pow(doublings))
        .min(MAX_BACKOFF)
}

fn describe_send_error(error: reqwest::Error) -> String {
    // The URL may carry the integrator's own secret: never in the log.
    let error = error.without_url();
    if error.is_timeout() {
        format!("No answer within {} s.", TIMEOUT.as_secs())
    } else if error.is_connect() {
        let mut cause: Option<&dyn std::error::Error> = Some(&error);
        let mut deepest = String::new();
        while let Some(c) = cause {
            deepest = c.to_string();
            cause = c.source();
        }
        format!("Could not connect: {deepest}.")
    } else {
        format!("The request failed: {error}.")
    }
}

fn view(row: &WebhookRow) -> Subscription {
    Subscription {
        id: row.key(),
        url: row.url.clone(),
        events: row.events.clone(),
        own_only: row.own_only,
        description: row.description.clone(),
        active: row.active,
        created_at: row.created_at,
    }
}

fn delivery_view(row: &DeliveryRow) -> DeliveryView {
    DeliveryView {
        id: row.key(),
        webhook_id: record_key(&row.webhook),
        event_id: record_key(&row.event),
        kind: row.kind.clone(),
        status: row.status.clone(),
        attempts: row.attempts,
        last_status: row.last_status,
        last_error: row.last_error.clone(),
        next_attempt_at: (row.status == "pending").then_some(row.next_attempt_at),
        created_at: row.created_at,
        delivered_at: row.delivered_at,
        replay_of: row.replay_of.as_ref().map(record_key),
        tries: Vec::new(),
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => {
            let mut out = first.to_uppercase().collect::<String>();
            out.push_str(chars.as_str());
            if !out.ends_with('.') {
                out.push('.');
            }
            out
        }
        None => String::new(),
    }
}

fn chrono_of(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

fn internal(error: DbError) -> AppError {
    tracing::error!(%error, "webhooks: database error");
    AppError::Internal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_up_to_an_hour() {
        let base = Duration::from_secs(30);
        assert_eq!(backoff(base, 1), Duration::from_secs(30));
        assert_eq!(backoff(base, 2), Duration::from_secs(60));
        assert_eq!(backoff(base, 5), Duration::from_secs(480));
        assert_eq!(backoff(base, 8), Duration::from_secs(3600));
        assert_eq!(backoff(base, 1000), Duration::from_secs(3600));
        // Tries over a day: 30 s doubling to an hour, then hourly.
        let mut waited = Duration::ZERO;
        let mut tries = 0;
        while waited < GIVE_UP_AFTER {
            tries += 1;
            waited += backoff(base, tries);
        }
        assert!((25..=35).contains(&tries), "{tries} tries in a day");
    }
}
