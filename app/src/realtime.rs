//! The `/ws` protocol: one socket per tab, JSON text frames, typed by the
//! two enums below on both ends. The browser says what it wants to watch;
//! the server answers with a snapshot and then pushes each change it reads
//! back from the database. After a reconnect the browser simply asks again
//! and gets a fresh snapshot, so nothing missed while away is lost.

use crate::consultation::{
    ChatMessage, ConsultationId, ConsultationSummary, MessageId, RoomState, TranslationRequest,
};
use crate::media::{CallMember, IceCandidate, MediaPass, SdpKind, Sending};
use serde::{Deserialize, Serialize};

/// The path of the socket.
pub const PATH: &str = "/ws";

/// Largest frame the server reads: small requests, and SDP offers
/// (see [`crate::media::MAX_SDP_BYTES`]).
pub const MAX_CLIENT_FRAME: usize = 40 * 1024;

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
    /// An admitted participant asks for a pass to the call.
    MediaPass { id: ConsultationId },
    /// Join (or join again after a drop) with the pass and the browser's
    /// offer. The SFU answers with [`ServerMsg::MediaSdp`].
    MediaJoin { token: String, sdp: String },
    /// An offer (the browser renegotiates, e.g. to share its screen) or the
    /// answer to an offer of the server.
    MediaSdp { kind: SdpKind, sdp: String },
    /// Trickle ICE; `None` once the browser has gathered every candidate.
    MediaCandidate { candidate: Option<IceCandidate> },
    /// Microphone, camera and screen, on or off.
    MediaSending { sending: Sending },
    /// Data saver: the lowest quality of the others' videos (or back to
    /// what the connection allows).
    MediaDataSaver { on: bool },
    /// Hang up.
    MediaLeave,
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
    /// Answer to [`ClientMsg::MediaPass`].
    MediaPass {
        pass: MediaPass,
    },
    /// The SFU's answer to a join or an offer, or its own offer (someone
    /// joined or left: tracks to add or remove).
    MediaSdp {
        kind: SdpKind,
        sdp: String,
    },
    MediaCandidate {
        candidate: IceCandidate,
    },
    /// Everyone else on the call, whole, after every change.
    CallMembers {
        members: Vec<CallMember>,
    },
    /// A video (by its stream id) is held back because this connection is
    /// too weak for it, or flows again: the sound goes on meanwhile.
    VideoHeld {
        stream: String,
        held: bool,
    },
    /// The call could not be joined or was ended by the server; the text is
    /// for the user. `retry`: joining again later may work.
    MediaError {
        message: String,
        retry: bool,
    },
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
