//! The `/ws` protocol: one socket per tab, JSON text frames, typed by the
//! two enums below on both ends. The browser says what it wants to watch;
//! the server answers with a snapshot and then pushes each change it reads
//! back from the database. After a reconnect the browser simply asks again
//! and gets a fresh snapshot, so nothing missed while away is lost.

use crate::consultation::{
    ChatMessage, ConsultationId, ConsultationSummary, MessageId, RoomState, TranslationRequest,
};
use serde::{Deserialize, Serialize};

/// The path of the socket.
pub const PATH: &str = "/ws";

/// Largest frame the server reads; the client only sends small requests.
pub const MAX_CLIENT_FRAME: usize = 16 * 1024;

/// Browser → server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// Staff: today's consultations in every queue I work in.
    WatchQueues,
    /// One consultation's state, and its chat after `after` (all of it if
    /// `None`) when this caller may read the chat.
    WatchConsultation {
        id: ConsultationId,
        after: Option<MessageId>,
    },
    /// Translators: open requests in my languages.
    WatchTranslations,
    /// Keeps idle proxies from closing the socket.
    Ping,
}

/// Server → browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// The whole day list (answer to `WatchQueues`).
    Queues {
        consultations: Vec<ConsultationSummary>,
    },
    /// One line of the day list changed or appeared.
    ConsultationChanged {
        consultation: ConsultationSummary,
    },
    /// The state of the watched consultation, whole.
    Room {
        room: RoomState,
    },
    /// Open translation requests (answer to `WatchTranslations`, and after
    /// every change).
    Translations {
        requests: Vec<TranslationRequest>,
    },
    /// Chat lines, oldest first (a catch-up batch or one new line).
    Chat {
        messages: Vec<ChatMessage>,
    },
    /// The request could not be served; the text is for the user.
    Refused {
        message: String,
    },
    Pong,
}

impl ClientMsg {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl ServerMsg {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_as_tagged_json() {
        let msg = ClientMsg::WatchConsultation {
            id: ConsultationId("abc".into()),
            after: None,
        };
        let json = msg.to_json();
        assert!(json.contains("\"type\":\"watch_consultation\""), "{json}");
        assert_eq!(serde_json::from_str::<ClientMsg>(&json).unwrap(), msg);
        assert!(serde_json::from_str::<ClientMsg>("{\"type\":\"drop_tables\"}").is_err());
    }
}
