//! One LIVE SELECT per watched table for the whole node, whatever the number
//! of open tabs, turned into [`Change`]s on a broadcast channel. Each socket
//! filters what its person may see. If a live stream ends (a remote database
//! reconnected, say), the hub subscribes again and tells every socket to
//! resend its snapshot, so nothing is silently missed.

use crate::consultations::views;
use crate::db::{Db, DbError, MessageRow, record_key};
use app::consultation::{ChatMessage, ConsultationId};
use futures_util::StreamExt;
use std::time::Duration;
use surrealdb::Notification;
use surrealdb::types::{Action, RecordId, SurrealValue};
use tokio::sync::{broadcast, watch};

/// Something a page may need to show again.
#[derive(Debug, Clone)]
pub enum Change {
    /// The consultation or one of its participants changed.
    Consultation(ConsultationId),
    /// A chat line was written.
    Message(ChatMessage),
    /// A translation request was made, taken or dropped.
    Translations,
    /// Live updates were interrupted: every socket resends its snapshot.
    Resync,
}

/// The sending side, shared by all sockets of the node.
#[derive(Clone)]
pub struct Hub {
    changes: broadcast::Sender<Change>,
}

#[derive(Debug, Clone, SurrealValue)]
struct ConsultationRef {
    id: RecordId,
}

#[derive(Debug, Clone, SurrealValue)]
struct ParticipantRef {
    consultation: RecordId,
}

/// A message to a patient changed (queued, sent, failed…).
#[derive(Debug, Clone, SurrealValue)]
struct NotificationRef {
    consultation: Option<RecordId>,
}

impl Hub {
    /// Starts following the database until `stop` turns true. The task
    /// holds its own database handle: a live query lives as long as the
    /// session that opened it.
    pub fn start(db: Db, stop: watch::Receiver<bool>) -> (Self, tokio::task::JoinHandle<()>) {
        let (changes, _) = broadcast::channel(1024);
        let hub = Self { changes };
        let task = tokio::spawn(hub.clone().follow(db, stop));
        (hub, task)
    }

    /// A hub that follows nothing (tests of pages without live updates).
    pub fn idle() -> Self {
        let (changes, _) = broadcast::channel(16);
        Self { changes }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    fn publish(&self, change: Change) {
        // No receiver is fine: no tab is open on this node.
        let _ = self.changes.send(change);
    }

    async fn follow(self, db: Db, mut stop: watch::Receiver<bool>) {
        let mut backoff = Duration::from_millis(200);
        let mut first = true;
        loop {
            if *stop.borrow() {
                return;
            }
            match self.follow_once(&db, &mut stop, first).await {
                Ok(()) => return,
                Err(error) => {
                    tracing::warn!(%error, "live updates interrupted; subscribing again");
                    self.publish(Change::Resync);
                }
            }
            first = false;
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = stop.changed() => return,
            }
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    }

    /// Follows until stopped (`Ok`) or until a stream ends (`Err`).
    async fn follow_once(
        &self,
        db: &Db,
        stop: &mut watch::Receiver<bool>,
        first: bool,
    ) -> Result<(), DbError> {
        let mut response = db
            .surreal()
            .query(
                "LIVE SELECT id FROM consultation;
                 LIVE SELECT consultation FROM participant;
                 LIVE SELECT * FROM message;
                 LIVE SELECT consultation FROM translation_request;
                 LIVE SELECT consultation FROM notification;",
            )
            .await?;
        let mut consultations = response.stream::<Notification<ConsultationRef>>(0)?;
        let mut participants = response.stream::<Notification<ParticipantRef>>(1)?;
        let mut messages = response.stream::<Notification<MessageRow>>(2)?;
        let mut translations = response.stream::<Notification<ParticipantRef>>(3)?;
        let mut notifications = response.stream::<Notification<NotificationRef>>(4)?;
        if !first {
            // Changes made while we were away were not seen: say so.
            self.publish(Change::Resync);
        }
        loop {
            tokio::select! {
                _ = stop.changed() => return Ok(()),
                n = consultations.next() => match n {
                    Some(Ok(n)) => self.publish(Change::Consultation(ConsultationId(record_key(&n.data.id)))),
                    Some(Err(error)) => tracing::warn!(%error, "unreadable consultation change"),
                    None => return Err(DbError::Query("the consultation live query ended".into())),
                },
                n = participants.next() => match n {
                    Some(Ok(n)) => self.publish(Change::Consultation(ConsultationId(record_key(&n.data.consultation)))),
                    Some(Err(error)) => tracing::warn!(%error, "unreadable participant change"),
                    None => return Err(DbError::Query("the participant live query ended".into())),
                },
                n = messages.next() => match n {
                    Some(Ok(n)) if n.action == Action::Create => self.publish(Change::Message(views::message(&n.data))),
                    Some(Ok(_)) => {}
                    Some(Err(error)) => tracing::warn!(%error, "unreadable message change"),
                    None => return Err(DbError::Query("the message live query ended".into())),
                },
                n = translations.next() => match n {
                    Some(Ok(_)) => self.publish(Change::Translations),
                    Some(Err(error)) => tracing::warn!(%error, "unreadable translation change"),
                    None => return Err(DbError::Query("the translation live query ended".into())),
                },
                n = notifications.next() => match n {
                    Some(Ok(n)) => if let Some(c) = &n.data.consultation {
                        self.publish(Change::Consultation(ConsultationId(record_key(c))));
                    },
                    Some(Err(error)) => tracing::warn!(%error, "unreadable notification change"),
                    None => return Err(DbError::Query("the notification live query ended".into())),
                },
            }
        }
    }
}
