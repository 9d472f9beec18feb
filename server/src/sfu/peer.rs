//! One participant's peer connection, owned by one task: it answers the
//! browser's offer, publishes what arrives to the room, adds the others'
//! tracks as they come and go, and offers the browser the changes (the
//! server is the impolite side of perfect negotiation: while its own offer
//! is unanswered, an offer from the browser is ignored, and the browser
//! rolls back).
//!
//! The webrtc crate calls the event handler on the connection's own driver
//! task, so the handler only forwards events into a channel; everything
//! else happens here.

use super::downlink::{Downlink, Estimator};
use super::feedback::{self, KeyframeRequests};
use super::forward::{
    LayerChooser, LayerSwitch, MAX_LAYERS, PictureIds, RateWindow, Verdict, layer_of_rid,
    vp8_starts_keyframe,
};
use super::room::{Layered, Published};
use super::sdp::{self, Source};
use super::unacked::{self, UnackedVideo};
use super::{Command, Member, Sfu, SfuError};
use app::consultation::{ConsultationId, ParticipantId};
use app::media::{IceCandidate, SdpKind};
use app::realtime::ServerMsg;
use rtc::ice::mdns::MulticastDnsMode;
use rtc::ice::network_type::NetworkType;
use rtc::interceptor::{CongestionControlBuilder, Slot, TwccSenderBuilder};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters,
    RTCRtpEncodingParameters, RTCRtpHeaderExtensionCapability, RtpCodecKind,
};
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc};
use webrtc::media_stream::MediaStreamTrack;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceCandidate, RTCIceCandidateInit, RTCIceCandidateType,
    RTCPeerConnectionIceEvent, RTCPeerConnectionState, RTCSessionDescription, Registry,
    SettingEngineBuilder, register_default_interceptors,
};
use webrtc::rtp_transceiver::RtpSender;

/// The payload types the SFU sends with (it registers only these codecs,
/// so browsers publish with them too).
const OPUS_PT: u8 = 111;
const VP8_PT: u8 = 96;
/// Packets kept for a slow subscriber before it skips ahead.
const PACKET_BACKLOG: usize = 512;
/// At most one key frame request per this, per published layer.
const KEYFRAME_EVERY: Duration = Duration::from_millis(300);
/// How often a subscriber's forwarder reconsiders the layer it sends.
const CHOOSE_EVERY: Duration = Duration::from_millis(250);
/// Where each subscriber's bandwidth estimate starts: optimistic, so the
/// picture starts sharp on a good line; a weak one shows within a second
/// or two and the estimate falls.
const ESTIMATE_START_BPS: f64 = 1_500_000.0;
/// Low enough to reach audio only ([`super::forward::AUDIO_ONLY_BELOW_BPS`]).
const ESTIMATE_MIN_BPS: f64 = 30_000.0;
/// Unless the site caps it (`media_max_receive_kbps`).
const ESTIMATE_MAX_BPS: f64 = 50_000_000.0;

fn opus() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: "audio/opus".into(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".into(),
        rtcp_feedback: vec![],
    }
}

fn vp8() -> RTCRtpCodec {
    let feedback = |typ: &str, parameter: &str| RTCPFeedback {
        typ: typ.into(),
        parameter: parameter.into(),
    };
    RTCRtpCodec {
        mime_type: "video/VP8".into(),
        clock_rate: 90_000,
        channels: 0,
        sdp_fmtp_line: String::new(),
        rtcp_feedback: vec![
            feedback("goog-remb", ""),
            feedback("ccm", "fir"),
            feedback("nack", ""),
            feedback("nack", "pli"),
        ],
    }
}

/// Opus and VP8 only (every browser has both; VP8 simulcast is the
/// simplest to forward). No RTX: retransmissions answer NACKs on the same
/// SSRC, so each published track is one SSRC.
fn media_engine() -> Result<MediaEngine, SfuError> {
    let mut engine = MediaEngine::default();
    let register = |engine: &mut MediaEngine, rtp_codec, payload_type, kind| {
        engine
            .register_codec(
                RTCRtpCodecParameters {
                    rtp_codec,
                    payload_type,
                },
                kind,
            )
            .map_err(|_| SfuError::Internal)
    };
    register(&mut engine, opus(), OPUS_PT, RtpCodecKind::Audio)?;
    register(&mut engine, vp8(), VP8_PT, RtpCodecKind::Video)?;
    Ok(engine)
}

/// Send-side congestion control towards the browser: transport-wide
/// sequence numbers on what the SFU sends, the browser's feedback about
/// them, and GCC turning that into the [`Downlink`] estimate. No pacer: the
/// SFU meets the estimate by choosing layers, not by queueing packets.
fn with_congestion_control(
    registry: Registry,
    engine: &mut MediaEngine,
    downlink: Arc<Downlink>,
    max_bps: f64,
) -> Result<Registry, SfuError> {
    for kind in [RtpCodecKind::Video, RtpCodecKind::Audio] {
        engine.register_feedback(
            RTCPFeedback {
                typ: "transport-cc".into(),
                parameter: String::new(),
            },
            kind,
        );
        engine
            .register_header_extension(
                RTCRtpHeaderExtensionCapability {
                    uri: rtc::sdp::extmap::TRANSPORT_CC_URI.into(),
                },
                kind,
                None,
            )
            .map_err(|_| SfuError::Internal)?;
    }
    let estimator = Estimator::new(downlink, ESTIMATE_MIN_BPS.min(max_bps), max_bps);
    Ok(registry
        .with(
            Slot::CongestionControl,
            CongestionControlBuilder::new(estimator).build(),
        )
        .with(Slot::TwccSender, TwccSenderBuilder::new().build()))
}

enum Event {
    Candidate(RTCIceCandidate),
    Track(Arc<dyn TrackRemote>),
    State(RTCPeerConnectionState),
}

struct Handler {
    events: mpsc::UnboundedSender<Event>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        let _ = self.events.send(Event::Candidate(event.candidate));
    }
    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let _ = self.events.send(Event::Track(track));
    }
    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.events.send(Event::State(state));
    }
}

/// One forwarded track on this connection.
struct Subscription {
    publisher: ParticipantId,
    sender: Arc<dyn RtpSender>,
    /// Forwards the packets.
    task: tokio::task::JoinHandle<()>,
    /// Passes the subscriber's key frame requests to the publisher.
    feedback: tokio::task::JoinHandle<()>,
    video: bool,
    /// Opens the flow once the browser has accepted the track: a key frame
    /// sent before it knows the track would be lost, and the picture would
    /// wait for the next one.
    open: Option<tokio::sync::oneshot::Sender<()>>,
    /// Part of the offer now awaiting the browser's answer.
    offered: bool,
}

struct Peer {
    sfu: Sfu,
    room: ConsultationId,
    member: Member,
    id: u64,
    port: u16,
    pc: Arc<dyn PeerConnection>,
    events: mpsc::UnboundedSender<ServerMsg>,
    /// Track ids of the browser's offer → what they are.
    sources: Vec<(String, Source)>,
    /// The browser's ICE username fragment (a new one: ICE restart).
    remote_ufrag: Option<String>,
    /// Key frame requests of this participant's published video tracks.
    own_keyframes: Vec<mpsc::UnboundedSender<usize>>,
    downlink: Arc<Downlink>,
    subscriptions: Vec<Subscription>,
    /// Our offer is out, not yet answered.
    offering: bool,
    /// Tracks were added or removed since the last offer.
    needs_offer: bool,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Creates the connection, answers the offer, and leaves the rest to a
/// task fed by `commands`.
pub(super) async fn start(
    sfu: Sfu,
    room: ConsultationId,
    member: Member,
    id: u64,
    offer: String,
    events: mpsc::UnboundedSender<ServerMsg>,
    commands: mpsc::UnboundedReceiver<Command>,
) -> Result<(), SfuError> {
    let sources = sdp::sources(&offer);
    let remote_ufrag = sdp::ice_ufrag(&offer).map(str::to_string);
    let description = RTCSessionDescription::offer(offer).map_err(|_| SfuError::BadSdp)?;
    let max_bps = sfu
        .inner
        .config
        .max_receive_bps
        .map_or(ESTIMATE_MAX_BPS, |cap| cap as f64);
    let downlink = Arc::new(Downlink::new(ESTIMATE_START_BPS.min(max_bps) as u64));
    let (pc, port, pc_events) = connect(&sfu, &downlink, max_bps).await?;
    let mut peer = Peer {
        sfu,
        room,
        member,
        id,
        port,
        pc,
        events,
        sources,
        subscriptions: Vec::new(),
        remote_ufrag,
        own_keyframes: Vec::new(),
        downlink,
        offering: false,
        needs_offer: false,
        tasks: Vec::new(),
    };
    if let Err(error) = peer.answer(description).await {
        peer.close().await;
        return Err(error);
    }
    tokio::spawn(peer.run(commands, pc_events));
    Ok(())
}

/// A new peer connection on a free port of the range.
async fn connect(
    sfu: &Sfu,
    downlink: &Arc<Downlink>,
    max_bps: f64,
) -> Result<(Arc<dyn PeerConnection>, u16, mpsc::UnboundedReceiver<Event>), SfuError> {
    let inner = &sfu.inner;
    // A port another program holds is skipped (and not lent again).
    for _ in 0..8 {
        let Some(port) = inner.ports.take() else {
            return Err(SfuError::Full);
        };
        let mut engine = media_engine()?;
        let registry =
            with_congestion_control(Registry::new(), &mut engine, downlink.clone(), max_bps)?;
        let registry = register_default_interceptors(registry, &mut engine)
            .map_err(|_| SfuError::Internal)?
            .with(feedback::SLOT, KeyframeRequests::default())
            .with(unacked::SLOT, UnackedVideo::default());
        let setting = SettingEngineBuilder::new()
            .with_multicast_dns_mode(MulticastDnsMode::Disabled)
            .with_network_types(vec![NetworkType::Udp4, NetworkType::Udp6])
            .build();
        let (sender, receiver) = mpsc::unbounded_channel();
        let built = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(engine)
            .with_interceptor_registry(registry)
            .with_setting_engine(setting)
            .with_handler(
                Arc::new(Handler { events: sender }) as Arc<dyn PeerConnectionEventHandler>
            )
            .with_udp_addrs(vec![format!("{}:{port}", ip_for_url(inner.bind_ip))])
            .build()
            .await;
        match built {
            Ok(pc) => return Ok((Arc::new(pc), port, receiver)),
            Err(error) => {
                tracing::warn!(%error, port, "the SFU could not use a UDP port");
            }
        }
    }
    Err(SfuError::Internal)
}

fn ip_for_url(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        v4 => v4.to_string(),
    }
}

impl Peer {
    async fn answer(&mut self, offer: RTCSessionDescription) -> Result<(), SfuError> {
        self.pc
            .set_remote_description(offer)
            .await
            .map_err(|_| SfuError::BadSdp)?;
        let answer = self
            .pc
            .create_answer(None)
            .await
            .map_err(|_| SfuError::BadSdp)?;
        self.pc
            .set_local_description(answer)
            .await
            .map_err(|_| SfuError::Internal)?;
        let sdp = self
            .pc
            .local_description()
            .await
            .map(|d| d.sdp)
            .ok_or(SfuError::Internal)?;
        let _ = self.events.send(ServerMsg::MediaSdp {
            kind: SdpKind::Answer,
            sdp,
        });
        Ok(())
    }

    async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut pc_events: mpsc::UnboundedReceiver<Event>,
    ) {
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    None | Some(Command::Close) => break,
                    Some(command) => {
                        if let Err(error) = self.on_command(command).await {
                            let _ = self.events.send(ServerMsg::MediaError {
                                retry: error.may_retry(),
                                message: error.to_string(),
                            });
                        }
                    }
                },
                event = pc_events.recv() => match event {
                    None => break,
                    Some(event) => {
                        if !self.on_event(event).await {
                            break;
                        }
                    }
                },
            }
            if self.needs_offer && !self.offering {
                self.offer().await;
            }
        }
        self.close().await;
    }

    async fn on_command(&mut self, command: Command) -> Result<(), SfuError> {
        match command {
            Command::Remote(SdpKind::Offer, sdp) => {
                // Impolite: our own offer wins; the browser rolls back.
                if self.offering {
                    return Ok(());
                }
                self.sources = sdp::sources(&sdp);
                let ufrag = sdp::ice_ufrag(&sdp).map(str::to_string);
                let offer = RTCSessionDescription::offer(sdp).map_err(|_| SfuError::BadSdp)?;
                self.answer(offer).await?;
                if ufrag != self.remote_ufrag {
                    self.remote_ufrag = ufrag;
                    self.after_ice_restart();
                }
            }
            Command::Remote(SdpKind::Answer, sdp) => {
                if !self.offering {
                    return Ok(());
                }
                let answer = RTCSessionDescription::answer(sdp).map_err(|_| SfuError::BadSdp)?;
                self.pc
                    .set_remote_description(answer)
                    .await
                    .map_err(|_| SfuError::BadSdp)?;
                self.offering = false;
                for subscription in &mut self.subscriptions {
                    if subscription.offered
                        && let Some(open) = subscription.open.take()
                    {
                        let _ = open.send(());
                    }
                }
            }
            Command::Candidate(None) => {}
            Command::Candidate(Some(candidate)) => {
                let init = RTCIceCandidateInit {
                    candidate: candidate.candidate,
                    sdp_mid: candidate.sdp_mid,
                    sdp_mline_index: candidate.sdp_m_line_index,
                    username_fragment: None,
                    url: None,
                };
                // A candidate the ICE agent cannot use is not an error for
                // the person: others may work.
                if let Err(error) = self.pc.add_ice_candidate(init).await {
                    tracing::debug!(%error, "ICE candidate ignored");
                }
            }
            Command::Subscribe(published) => self.subscribe(published).await?,
            Command::Unsubscribe(publisher) => self.unsubscribe(&publisher).await,
            Command::DataSaver(on) => self.downlink.set_data_saver(on),
            Command::Close => {}
        }
        Ok(())
    }

    /// False when the connection is over.
    async fn on_event(&mut self, event: Event) -> bool {
        match event {
            Event::Candidate(mut candidate) => {
                if let Some(public) = self.sfu.inner.config.public_ip
                    && candidate.typ == RTCIceCandidateType::Host
                {
                    candidate.address = public.to_string();
                }
                if let Ok(init) = candidate.to_json() {
                    let _ = self.events.send(ServerMsg::MediaCandidate {
                        // Everything is bundled on the first m-line; an
                        // empty mid confuses some browsers.
                        candidate: IceCandidate {
                            candidate: init.candidate,
                            sdp_mid: None,
                            sdp_m_line_index: Some(0),
                        },
                    });
                }
                true
            }
            Event::Track(track) => {
                self.publish(track).await;
                true
            }
            Event::State(state) => !matches!(state, RTCPeerConnectionState::Closed),
        }
    }

    async fn offer(&mut self) {
        self.needs_offer = false;
        let offer = match self.pc.create_offer(None).await {
            Ok(offer) => offer,
            Err(error) => {
                tracing::warn!(%error, "the SFU could not make an offer");
                return;
            }
        };
        if let Err(error) = self.pc.set_local_description(offer).await {
            tracing::warn!(%error, "the SFU could not use its offer");
            return;
        }
        if let Some(description) = self.pc.local_description().await {
            self.offering = true;
            for subscription in &mut self.subscriptions {
                subscription.offered = true;
            }
            let _ = self.events.send(ServerMsg::MediaSdp {
                kind: SdpKind::Offer,
                sdp: description.sdp,
            });
        }
    }

    /// The path changed (a new network): packets in flight were lost, and
    /// the others' pictures would wait for the next key frame. Ask for one
    /// now, and again once the new path has surely taken over.
    fn after_ice_restart(&self) {
        let requests = self.own_keyframes.clone();
        tokio::spawn(async move {
            for wait in [0, 500, 1500] {
                tokio::time::sleep(Duration::from_millis(wait)).await;
                for request in &requests {
                    for layer in 0..MAX_LAYERS {
                        let _ = request.send(layer);
                    }
                }
            }
        });
    }

    /// A track of this participant started: the room gets it.
    async fn publish(&mut self, track: Arc<dyn TrackRemote>) {
        if !self.member.publish {
            return;
        }
        let track_id = track.track_id().await;
        let kind = track.kind().await;
        let source = self
            .sources
            .iter()
            .find(|(id, _)| *id == track_id)
            .map(|(_, source)| *source)
            .unwrap_or(if kind == RtpCodecKind::Audio {
                Source::Microphone
            } else {
                Source::Camera
            });
        let (packets, _) = broadcast::channel(PACKET_BACKLOG);
        let (keyframes, keyframe_requests) = mpsc::unbounded_channel::<usize>();
        if kind == RtpCodecKind::Video {
            self.own_keyframes.push(keyframes.clone());
        }
        let published = Arc::new(Published {
            publisher: self.member.participant.clone(),
            source,
            packets,
            keyframes,
            layers: Default::default(),
        });
        // The layers already known; the others announce themselves (OnOpen)
        // with their first packet.
        for ssrc in track.ssrcs().await {
            let layer = layer_of_rid(track.rid(ssrc).await.as_deref());
            published.layers.set_ssrc(layer, ssrc);
        }
        tracing::debug!(track_id, ?kind, ?source, "track published");
        self.tasks.push(tokio::spawn(read_published(
            self.sfu.clone(),
            track.clone(),
            published.clone(),
        )));
        self.tasks.push(tokio::spawn(ask_for_keyframes(
            track,
            published.clone(),
            keyframe_requests,
        )));
        self.sfu.inner.rooms.publish(&self.room, self.id, published);
    }

    /// Sends another participant's track to this browser.
    async fn subscribe(&mut self, published: Arc<Published>) -> Result<(), SfuError> {
        let video = published.is_video();
        let ssrc = rand::random::<u32>();
        let stream_id = published.stream_id();
        let label = match published.source {
            Source::Microphone => "mic",
            Source::Camera => "cam",
            Source::Screen => "screen",
        };
        let track_id = format!("{label}-{}", published.publisher);
        let (kind, codec, payload_type) = if video {
            (RtpCodecKind::Video, vp8(), VP8_PT)
        } else {
            (RtpCodecKind::Audio, opus(), OPUS_PT)
        };
        let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
            stream_id.clone(),
            track_id.clone(),
            track_id,
            kind,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(ssrc),
                    ..Default::default()
                },
                active: true,
                codec,
                ..Default::default()
            }],
        )));
        // Our own send-only transceiver: never one of the browser's.
        let transceiver = self
            .pc
            .add_transceiver_from_track(
                track.clone() as Arc<dyn TrackLocal>,
                Some(RTCRtpTransceiverInit {
                    direction: RTCRtpTransceiverDirection::Sendonly,
                    streams: vec![stream_id],
                    send_encodings: vec![],
                }),
            )
            .await
            .map_err(|_| SfuError::Internal)?;
        let sender = transceiver
            .sender()
            .await
            .ok()
            .flatten()
            .ok_or(SfuError::Internal)?;
        // The layer this subscriber gets, for its key frame requests.
        let wanted = Arc::new(AtomicUsize::new(0));
        let feedback = tokio::spawn(relay_keyframe_requests(
            track.clone(),
            published.keyframes.clone(),
            wanted.clone(),
        ));
        let (open, opened) = tokio::sync::oneshot::channel();
        let forwarder = Forwarder {
            sfu: self.sfu.clone(),
            published: published.clone(),
            downlink: self.downlink.clone(),
            events: self.events.clone(),
            wanted,
            out: Outgoing {
                track,
                ssrc,
                payload_type,
            },
        };
        let task = tokio::spawn(forwarder.run(opened, published.packets.subscribe()));
        self.downlink.subscribed(video, true);
        self.subscriptions.push(Subscription {
            publisher: published.publisher.clone(),
            sender,
            task,
            feedback,
            video,
            open: Some(open),
            offered: false,
        });
        self.needs_offer = true;
        Ok(())
    }

    async fn unsubscribe(&mut self, publisher: &ParticipantId) {
        let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.subscriptions)
            .into_iter()
            .partition(|s| &s.publisher == publisher);
        self.subscriptions = kept;
        for subscription in gone {
            subscription.task.abort();
            subscription.feedback.abort();
            self.downlink.subscribed(subscription.video, false);
            let _ = self.pc.remove_track(&subscription.sender).await;
            self.needs_offer = true;
        }
    }

    async fn close(&mut self) {
        for subscription in self.subscriptions.drain(..) {
            subscription.task.abort();
            subscription.feedback.abort();
        }
        for task in self.tasks.drain(..) {
            task.abort();
        }
        let _ = self.pc.close().await;
        self.sfu.inner.ports.give_back(self.port);
    }
}

/// A subscriber that lost part of a key frame asks for another (PLI, FIR);
/// only the publisher can make one. The publisher's side limits how often
/// it asks, so several subscribers asking at once cost one request.
async fn relay_keyframe_requests(
    track: Arc<TrackLocalStaticRTP>,
    keyframes: mpsc::UnboundedSender<usize>,
    wanted: Arc<AtomicUsize>,
) {
    loop {
        // `poll` holds the track's event lock while it waits, and unbinding
        // the track (removing it) takes the same lock: wait in short turns.
        match tokio::time::timeout(Duration::from_millis(250), track.poll()).await {
            Ok(Some(TrackLocalEvent::OnRtcpPacket(_))) => {
                if keyframes.send(wanted.load(Ordering::Relaxed)).is_err() {
                    return;
                }
            }
            Ok(Some(_)) | Err(_) => {}
            // Not bound (yet, or any more).
            Ok(None) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// Where one subscriber's copy of a track goes, and how it is labelled.
struct Outgoing {
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    payload_type: u8,
}

/// Reads a published track: learns its simulcast layers as they start,
/// measures their rates, and hands every packet to the subscribers.
async fn read_published(sfu: Sfu, track: Arc<dyn TrackRemote>, published: Arc<Published>) {
    let counters = sfu.counters();
    // SSRC → layer; a packet of another SSRC (a repair stream) would break
    // the subscribers' numbering and is not forwarded.
    let mut layers: Vec<(u32, usize)> = (0..MAX_LAYERS)
        .filter_map(|layer| published.layers.ssrc(layer).map(|ssrc| (ssrc, layer)))
        .collect();
    let mut window = RateWindow::new(Instant::now());
    while let Some(event) = track.poll().await {
        match event {
            TrackRemoteEvent::OnOpen(init) => {
                let layer = layer_of_rid(init.rid.as_deref());
                if init.rid.is_some() {
                    counters.simulcast_layers.fetch_add(1, Ordering::Relaxed);
                }
                published.layers.set_ssrc(layer, init.ssrc);
                layers.retain(|(ssrc, l)| *ssrc != init.ssrc && *l != layer);
                layers.push((init.ssrc, layer));
            }
            TrackRemoteEvent::OnRtpPacket(mut packet) => {
                counters.packets_received.fetch_add(1, Ordering::Relaxed);
                // Header extensions were negotiated with the publisher only;
                // dropped here once rather than cloned for every subscriber.
                packet.header.extension = false;
                packet.header.extensions.clear();
                packet.header.extensions_padding = 0;
                let ssrc = packet.header.ssrc;
                let Some(&(_, layer)) = layers.iter().find(|(s, _)| *s == ssrc) else {
                    continue;
                };
                if let Some(rates) = window.add(Instant::now(), layer, packet.payload.len()) {
                    published.layers.set_rates(rates);
                }
                // Padding goes on too: each subscriber's forwarder closes
                // the gap it leaves. No subscriber yet is fine.
                let _ = published.packets.send(Layered { layer, packet });
            }
            _ => {}
        }
    }
}

/// Asks the publisher's browser for key frames (PLI), per layer, at most
/// once per [`KEYFRAME_EVERY`] each: several subscribers asking at once
/// cost one request.
async fn ask_for_keyframes(
    track: Arc<dyn TrackRemote>,
    published: Arc<Published>,
    mut requests: mpsc::UnboundedReceiver<usize>,
) {
    let mut last = [Instant::now() - KEYFRAME_EVERY; MAX_LAYERS];
    while let Some(layer) = requests.recv().await {
        let (Some(asked), Some(ssrc)) = (last.get_mut(layer), published.layers.ssrc(layer)) else {
            continue;
        };
        if asked.elapsed() < KEYFRAME_EVERY {
            continue;
        }
        *asked = Instant::now();
        let pli = PictureLossIndication {
            sender_ssrc: 0,
            media_ssrc: ssrc,
        };
        if track.write_rtcp(vec![Box::new(pli)]).await.is_err() {
            break;
        }
    }
}

/// Forwards one published track to one subscriber.
struct Forwarder {
    sfu: Sfu,
    published: Arc<Published>,
    downlink: Arc<Downlink>,
    events: mpsc::UnboundedSender<ServerMsg>,
    /// The layer being switched to (read by the key frame relay).
    wanted: Arc<AtomicUsize>,
    out: Outgoing,
}

impl Forwarder {
    /// Rewrites what the subscriber's connection expects (its SSRC and
    /// payload type, continuous numbering and picture IDs; the publisher's
    /// header extensions are already gone), holds video back until
    /// a key frame so the picture starts clean, and for video sends the
    /// simulcast layer that fits the subscriber's bandwidth (none at all on
    /// a line too weak for any: the sound goes on).
    async fn run(
        self,
        opened: tokio::sync::oneshot::Receiver<()>,
        mut packets: broadcast::Receiver<Layered>,
    ) {
        if opened.await.is_err() {
            return;
        }
        // What came before the browser accepted the track is of no use.
        packets = packets.resubscribe();
        let video = self.published.is_video();
        let counters = self.sfu.counters();
        let mut switch = LayerSwitch::default();
        let mut chooser = LayerChooser::default();
        let mut pictures = PictureIds::default();
        let mut held = false;
        let mut chosen_at: Option<Instant> = None;
        let mut asked_at = Instant::now();
        loop {
            let Layered { layer, mut packet } = match packets.recv().await {
                Ok(layered) => layered,
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(
                        missed,
                        stream = self.published.stream_id(),
                        "forwarder lagged"
                    );
                    // Packets were lost for this subscriber: restart the
                    // picture at the next key frame.
                    if video {
                        switch.await_keyframe();
                        self.ask_keyframe(switch.target());
                    }
                    continue;
                }
                Err(RecvError::Closed) => break,
            };
            // One clock read per video packet; audio needs none.
            let now = video.then(Instant::now);
            if let Some(now) = now
                && chosen_at.is_none_or(|at| now.saturating_duration_since(at) >= CHOOSE_EVERY)
            {
                chosen_at = Some(now);
                let share = self.downlink.video_share_bps();
                let rates = self.published.layers.rates();
                let target = chooser.choose(now, share, &rates, self.downlink.max_layer());
                if target != switch.target() {
                    tracing::debug!(
                        estimate = self.downlink.estimate_bps(),
                        share,
                        ?rates,
                        ?target,
                        "layer chosen"
                    );
                }
                if switch.set_target(target) {
                    self.ask_keyframe(target);
                }
                if held != target.is_none() {
                    held = target.is_none();
                    if held {
                        counters.videos_held.fetch_add(1, Ordering::Relaxed);
                    }
                    let _ = self.events.send(ServerMsg::VideoHeld {
                        stream: self.published.stream_id(),
                        held,
                    });
                }
            }
            let header = &mut packet.header;
            // Padding (the publisher probing for bandwidth) carries no media.
            if packet.payload.is_empty() {
                if video {
                    switch.on_padding(layer, header.ssrc, header.sequence_number);
                }
                continue;
            }
            if video {
                let keyframe = vp8_starts_keyframe(&packet.payload);
                let before = switch.current();
                match switch.on_packet(
                    layer,
                    header.ssrc,
                    header.sequence_number,
                    header.timestamp,
                    keyframe,
                ) {
                    Verdict::Drop => {
                        // Still waiting for the key frame that starts the
                        // target layer: ask again now and then.
                        if let Some(now) = now
                            && switch.target().is_some()
                            && switch.current() != switch.target()
                            && now.saturating_duration_since(asked_at) > Duration::from_secs(1)
                        {
                            asked_at = now;
                            tracing::debug!(
                                stream = self.published.stream_id(),
                                layer,
                                target = ?switch.target(),
                                current = ?switch.current(),
                                "waiting for a key frame"
                            );
                            self.ask_keyframe(switch.target());
                        }
                        continue;
                    }
                    Verdict::Send { seq, ts } => {
                        if before.is_some() && before != switch.current() {
                            counters.layer_switches.fetch_add(1, Ordering::Relaxed);
                        }
                        header.sequence_number = seq;
                        header.timestamp = ts;
                    }
                }
            }
            if video && let Some(edit) = pictures.next(packet.header.ssrc, &packet.payload) {
                let mut payload = packet.payload.to_vec();
                edit.apply(&mut payload);
                packet.payload = payload.into();
            }
            let header = &mut packet.header;
            header.ssrc = self.out.ssrc;
            header.payload_type = self.out.payload_type;
            let bytes = packet.payload.len() as u64;
            if self.out.track.write_rtp(packet).await.is_err() {
                break;
            }
            counters.packets_forwarded.fetch_add(1, Ordering::Relaxed);
            counters.bytes_forwarded.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    fn ask_keyframe(&self, layer: Option<usize>) {
        if let Some(layer) = layer {
            self.wanted.store(layer, Ordering::Relaxed);
            let _ = self.published.keyframes.send(layer);
        }
    }
}
