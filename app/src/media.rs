//! The call's vocabulary, shared by the browser and the SFU: what travels
//! on `/ws` to set up media (passes, offers and answers, ICE candidates) and
//! what the SFU tells each page about who is on the call.
//!
//! Media never goes browser to browser: each page has one peer connection
//! with the server, which forwards every participant's audio and video to
//! the others.

use crate::consultation::{ParticipantId, ParticipantRole};
use serde::{Deserialize, Serialize};

/// A STUN/TURN server as `RTCIceServer` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// What an admitted participant needs to join the call: a short-lived,
/// single-purpose token the SFU checks, and the TURN servers to reach it
/// (their credentials expire too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaPass {
    pub token: String,
    pub ice_servers: Vec<IceServer>,
    /// Use only relayed (TURN) candidates: set by the operator for tests
    /// and for networks where direct UDP must not be tried.
    pub relay_only: bool,
}

/// An ICE candidate as `RTCIceCandidateInit` carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceCandidate {
    pub candidate: String,
    #[serde(default)]
    pub sdp_mid: Option<String>,
    #[serde(default)]
    pub sdp_m_line_index: Option<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SdpKind {
    Offer,
    Answer,
}

/// What a participant sends right now, as they said it (the SFU relays it
/// so the others' tiles change at once, before any packet is missed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sending {
    pub audio: bool,
    pub video: bool,
    pub screen: bool,
}

/// One participant on the call, as the other pages see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallMember {
    pub participant: ParticipantId,
    pub name: String,
    pub role: ParticipantRole,
    /// The `MediaStream` id their camera and microphone arrive under.
    pub stream: String,
    /// The `MediaStream` id of their shared screen.
    pub screen_stream: String,
    pub sending: Sending,
}

/// Largest SDP accepted from a browser (Chromium's offers with simulcast
/// and three transceivers are about 8 KB).
pub const MAX_SDP_BYTES: usize = 32 * 1024;

/// The stream ids the SFU gives a participant's tracks: the browser matches
/// incoming tracks to tiles by them.
pub fn camera_stream_id(participant: &ParticipantId) -> String {
    format!("cam-{participant}")
}

pub fn screen_stream_id(participant: &ParticipantId) -> String {
    format!("scr-{participant}")
}
