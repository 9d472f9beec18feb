//! The SFU: every participant of a call has one peer connection with this
//! node; what each publishes (microphone, camera, screen) is forwarded,
//! packet by packet and without decoding, to every other participant of
//! the same consultation.
//!
//! - [`pass`]: who may join (short-lived passes, TURN credentials);
//! - `room`: who is on which call, and who receives whose tracks;
//! - `peer`: one participant's connection (signalling, publishing,
//!   subscribing), as a task that owns it;
//! - [`forward`]: the per-packet decisions, as plain functions;
//! - `sdp`, `ports`: small helpers.

mod downlink;
mod feedback;
pub mod forward;
pub mod pass;
mod peer;
mod ports;
mod room;
mod sdp;
mod unacked;

use crate::config::MediaConfig;
use crate::db::Db;
use app::consultation::{ConsultationId, ParticipantId, ParticipantRole};
use app::media::{IceCandidate, IceServer, MediaPass, SdpKind, Sending};
use app::realtime::ServerMsg;
use pass::{Claims, PassError, PassKeys};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

/// Why joining or using the call failed, worded for the person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SfuError {
    #[error("{0}")]
    Pass(#[from] PassError),
    #[error("You can join the video once the clinician has let you in.")]
    NotAdmitted,
    #[error("You are not on the video call. Join it first.")]
    NotJoined,
    #[error(
        "The video service is at capacity right now. Please try again in a few minutes or use the chat."
    )]
    Full,
    #[error("Your browser's video set-up was not understood. Reload the page.")]
    BadSdp,
    #[error("The video could not be set up on the server. Please try again.")]
    Internal,
}

impl SfuError {
    /// Joining again later may work (capacity, a passing failure, a pass
    /// that sat too long in a sleeping tab: the page asks for a new one).
    pub fn may_retry(&self) -> bool {
        matches!(
            self,
            SfuError::Full | SfuError::Internal | SfuError::Pass(PassError::Expired)
        )
    }
}

/// Who joins, as the others will see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub participant: ParticipantId,
    pub name: String,
    pub role: ParticipantRole,
    pub publish: bool,
}

/// Node-wide counters, for `/metrics` and tests.
#[derive(Debug, Default)]
pub struct Counters {
    pub packets_received: AtomicU64,
    pub packets_forwarded: AtomicU64,
    pub bytes_forwarded: AtomicU64,
    /// Simulcast layers that started arriving from publishers.
    pub simulcast_layers: AtomicU64,
    /// Times a subscriber was moved to another layer of a video.
    pub layer_switches: AtomicU64,
    /// Times a video was held back from a subscriber whose line was too
    /// weak for it (audio only).
    pub videos_held: AtomicU64,
}

/// The SFU of this node. Cheap to clone.
#[derive(Clone)]
pub struct Sfu {
    inner: Arc<Inner>,
}

struct Inner {
    config: MediaConfig,
    keys: PassKeys,
    /// The address peer connections bind to.
    bind_ip: IpAddr,
    ports: ports::PortPool,
    rooms: room::Rooms,
    counters: Counters,
    next_peer: AtomicU64,
    db: Db,
    node: String,
}

/// Seconds since the epoch.
fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Sfu {
    /// The SFU for this node's configuration. `http_ip` is the address the
    /// HTTP server listens on: media binds the same one unless a public IP
    /// is configured (then every interface, announcing the public IP).
    pub fn new(
        config: &MediaConfig,
        keys: PassKeys,
        http_ip: IpAddr,
        node: String,
        db: Db,
    ) -> Self {
        let bind_ip = if config.public_ip.is_some() {
            IpAddr::from([0, 0, 0, 0])
        } else {
            http_ip
        };
        Self {
            inner: Arc::new(Inner {
                ports: ports::PortPool::new(config.ports),
                config: config.clone(),
                keys,
                bind_ip,
                rooms: room::Rooms::default(),
                counters: Counters::default(),
                next_peer: AtomicU64::new(1),
                db,
                node,
            }),
        }
    }

    /// A pass for an admitted participant, with the TURN servers to use.
    pub fn pass(
        &self,
        room: &ConsultationId,
        participant: &ParticipantId,
        publish: bool,
    ) -> MediaPass {
        let now = now_s();
        let config = &self.inner.config;
        let mut ice_servers = Vec::new();
        if !config.turn_urls.is_empty() {
            let (username, credential) = match &config.turn_secret {
                Some(secret) => {
                    let (u, c) =
                        PassKeys::turn_credentials(secret.expose().as_bytes(), &participant.0, now);
                    (Some(u), Some(c))
                }
                None => (None, None),
            };
            ice_servers.push(IceServer {
                urls: config.turn_urls.clone(),
                username,
                credential,
            });
        }
        if config.builtin_turn_port.is_some() {
            let key = self.inner.keys.builtin_turn_key();
            let (username, credential) = PassKeys::turn_credentials(&key, &participant.0, now);
            ice_servers.push(IceServer {
                urls: config.builtin_turn_urls(),
                username: Some(username),
                credential: Some(credential),
            });
        }
        MediaPass {
            token: self.inner.keys.issue(room, participant, publish, now),
            ice_servers,
            relay_only: config.relay_only,
        }
    }

    /// Where the built-in TURN server may relay to: this SFU only.
    pub fn relay_target(&self) -> crate::turn::relay::SfuAddresses {
        crate::turn::relay::SfuAddresses {
            ports: self.inner.config.ports,
            bind_ip: self.inner.bind_ip,
            public_ip: self.inner.config.public_ip,
        }
    }

    /// The address the built-in TURN server listens on (the SFU's).
    pub fn bind_ip(&self) -> IpAddr {
        self.inner.bind_ip
    }

    pub fn builtin_turn_key(&self) -> Vec<u8> {
        self.inner.keys.builtin_turn_key()
    }

    pub fn check_pass(&self, token: &str) -> Result<Claims, PassError> {
        self.inner.keys.check(token, now_s())
    }

    /// Joins `member` to the call of `room` with the browser's offer. The
    /// answer, candidates and member lists go to `events`; a join by the
    /// same participant elsewhere (another tab, a reconnect) replaces this one.
    pub async fn join(
        &self,
        room: &ConsultationId,
        member: Member,
        offer: String,
        events: mpsc::UnboundedSender<ServerMsg>,
    ) -> Result<PeerHandle, SfuError> {
        if offer.len() > app::media::MAX_SDP_BYTES || !offer.starts_with("v=0") {
            return Err(SfuError::BadSdp);
        }
        let inner = &self.inner;
        if !inner.rooms.has_room(room)
            && inner.rooms.room_count() >= inner.config.max_sessions as usize
        {
            return Err(SfuError::Full);
        }
        let id = inner.next_peer.fetch_add(1, Ordering::Relaxed);
        // In the room first: what others publish is queued for the new
        // peer, which takes it once it has answered the offer.
        let (commands, queue) = mpsc::unbounded_channel();
        if inner
            .rooms
            .add(room, id, member.clone(), commands.clone(), events.clone())
        {
            self.record_call_started(room);
        }
        let handle = PeerHandle {
            sfu: self.clone(),
            room: room.clone(),
            participant: member.participant.clone(),
            id,
            commands,
        };
        // On failure the handle is dropped: out of the room again.
        peer::start(self.clone(), room.clone(), member, id, offer, events, queue).await?;
        self.record_load();
        Ok(handle)
    }

    pub fn counters(&self) -> &Counters {
        &self.inner.counters
    }

    /// (calls, participants) on this node now.
    pub fn load(&self) -> (usize, usize) {
        (self.inner.rooms.room_count(), self.inner.rooms.peer_count())
    }

    fn leave(&self, room: &ConsultationId, participant: &ParticipantId, id: u64) {
        if self.inner.rooms.remove(room, participant, id) {
            self.record_call_ended(room);
        }
        self.record_load();
    }

    fn record_load(&self) {
        let sfu = self.clone();
        tokio::spawn(async move {
            let (rooms, peers) = sfu.load();
            let inner = &sfu.inner;
            if let Err(error) = inner
                .db
                .record_sfu_load(&inner.node, rooms, peers, inner.config.max_sessions)
                .await
            {
                tracing::warn!(%error, "could not record the SFU's load");
            }
        });
    }

    fn record_call_started(&self, room: &ConsultationId) {
        let sfu = self.clone();
        let room = room.clone();
        tokio::spawn(async move {
            match sfu.inner.db.call_started(&room.0, &sfu.inner.node).await {
                Ok(key) => sfu.inner.rooms.set_call_key(&room, key),
                Err(error) => tracing::warn!(%error, "could not record a call"),
            }
        });
    }

    fn record_call_ended(&self, room: &ConsultationId) {
        let Some(key) = self.inner.rooms.take_call_key(room) else {
            return;
        };
        let db = self.inner.db.clone();
        tokio::spawn(async move {
            if let Err(error) = db.call_ended(&key).await {
                tracing::warn!(%error, "could not record the end of a call");
            }
        });
    }
}

/// What a peer's task is asked to do.
#[derive(Debug)]
pub(crate) enum Command {
    Remote(SdpKind, String),
    Candidate(Option<IceCandidate>),
    Subscribe(Arc<room::Published>),
    Unsubscribe(ParticipantId),
    /// The person asked for the lowest video quality (or no longer does).
    DataSaver(bool),
    Close,
}

/// One page's place on the call; leaving happens on [`PeerHandle::leave`]
/// or when the handle is dropped.
pub struct PeerHandle {
    sfu: Sfu,
    room: ConsultationId,
    participant: ParticipantId,
    id: u64,
    commands: mpsc::UnboundedSender<Command>,
}

impl PeerHandle {
    pub fn sdp(&self, kind: SdpKind, sdp: String) -> Result<(), SfuError> {
        if sdp.len() > app::media::MAX_SDP_BYTES || !sdp.starts_with("v=0") {
            return Err(SfuError::BadSdp);
        }
        let _ = self.commands.send(Command::Remote(kind, sdp));
        Ok(())
    }

    pub fn candidate(&self, candidate: Option<IceCandidate>) {
        if candidate.as_ref().is_some_and(|c| c.candidate.len() > 1024) {
            return;
        }
        let _ = self.commands.send(Command::Candidate(candidate));
    }

    pub fn sending(&self, sending: Sending) {
        self.sfu
            .inner
            .rooms
            .set_sending(&self.room, &self.participant, self.id, sending);
    }

    pub fn data_saver(&self, on: bool) {
        let _ = self.commands.send(Command::DataSaver(on));
    }

    pub fn leave(self) {
        // Drop does it.
    }
}

impl Drop for PeerHandle {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Close);
        self.sfu.leave(&self.room, &self.participant, self.id);
    }
}
