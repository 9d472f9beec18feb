//! The administrators' side of webhooks (`app::ssr::WebhookAdmin`): every
//! subscription with the name of its key, the latest deliveries with each
//! try, sending one again, deleting a subscription; each audited.

use super::Webhooks;
use crate::db::{AuditEntry, record_key};
use crate::timezones::short_in_zone;
use app::domain::{
    Principal, WebhookDeliverySummary, WebhookSummary, WebhookTry, WebhooksOverview,
};
use app::error::AppError;
use app::ssr::ClientInfo;
use chrono::{DateTime, Utc};

/// Deliveries the page shows.
const SHOWN: usize = 100;

#[async_trait::async_trait]
impl app::ssr::WebhookAdmin for Webhooks {
    async fn overview(
        &self,
        who: &Principal,
        client: &ClientInfo,
    ) -> Result<WebhooksOverview, AppError> {
        let at = |t: DateTime<Utc>| short_in_zone(t, &self.timezone);
        let hooks = self.db.webhooks(None).await.map_err(super::internal)?;
        let keys = self.db.api_keys().await.map_err(super::internal)?;
        let key_name = |id: &str| {
            keys.iter()
                .find(|k| k.key() == id)
                .map_or_else(|| id.to_string(), |k| k.name.clone())
        };
        let deliveries = self.deliveries(None, SHOWN).await?;
        let url_of = |hook: &str| {
            hooks
                .iter()
                .find(|h| h.key() == hook)
                .map_or_else(|| "(deleted subscription)".to_string(), |h| h.url.clone())
        };
        self.audit_admin(who, "webhook.list", "webhooks".into(), client)
            .await;
        Ok(WebhooksOverview {
            subscriptions: hooks
                .iter()
                .map(|h| WebhookSummary {
                    id: h.key(),
                    key_name: key_name(&h.api_key),
                    url: h.url.clone(),
                    events: h.events.clone(),
                    active: h.active,
                    description: h.description.clone(),
                    created_label: at(h.created_at),
                })
                .collect(),
            deliveries: deliveries
                .into_iter()
                .map(|d| WebhookDeliverySummary {
                    url: url_of(&d.webhook_id),
                    id: d.id,
                    webhook_id: d.webhook_id,
                    kind: d.kind,
                    status: d.status,
                    created_label: at(d.created_at),
                    next_label: d.next_attempt_at.map(at),
                    replay_of: d.replay_of,
                    tries: d
                        .tries
                        .into_iter()
                        .map(|t| WebhookTry {
                            at_label: at(t.at),
                            status: t.status,
                            error: t.error,
                            duration_ms: t.duration_ms,
                        })
                        .collect(),
                })
                .collect(),
        })
    }

    async fn replay(
        &self,
        who: &Principal,
        delivery: &str,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        let old = self
            .delivery(delivery)
            .await?
            .ok_or_else(|| AppError::Conflict("This delivery does not exist any more.".into()))?;
        self.replay(&old, &format!("user:{}", who.user_id)).await?;
        self.audit_admin(
            who,
            "webhook.replay",
            format!("webhook:{}", record_key(&old.webhook)),
            client,
        )
        .await;
        Ok(())
    }

    async fn delete(
        &self,
        who: &Principal,
        webhook: &str,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        if !self
            .db
            .delete_webhook(webhook, Utc::now())
            .await
            .map_err(super::internal)?
        {
            return Err(AppError::Conflict(
                "This subscription does not exist or is already deleted.".into(),
            ));
        }
        self.audit_admin(who, "webhook.delete", format!("webhook:{webhook}"), client)
            .await;
        Ok(())
    }
}

impl Webhooks {
    async fn audit_admin(
        &self,
        who: &Principal,
        action: &'static str,
        target: String,
        client: &ClientInfo,
    ) {
        self.db
            .audit_or_log(AuditEntry::by_staff(who, action, target, client, "ok"))
            .await;
    }
}
