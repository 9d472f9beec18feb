//! One synthetic participant's peer connection: what it publishes (Opus-
//! and VP8-shaped packets carrying their send time) and what it counts when
//! packets of the others arrive. Shared by the Visita and Janus clients.

use crate::measure::Window;
use bytes::Bytes;
use rtc::ice::mdns::MulticastDnsMode;
use rtc::ice::network_type::NetworkType;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters,
    RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use webrtc::media_stream::MediaStreamTrack;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceCandidateInit, RTCIceGatheringState, RTCPeerConnectionState,
    RTCSessionDescription, Registry, SettingEngineBuilder, register_default_interceptors,
};

pub type Error = Box<dyn std::error::Error + Send + Sync>;

const OPUS_PT: u8 = 111;
const VP8_PT: u8 = 96;
/// Bytes of payload: a 20 ms Opus frame, a full-size video packet.
const AUDIO_BYTES: usize = 80;
const VIDEO_BYTES: usize = 1000;

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

struct Handler {
    window: Arc<Window>,
    gathered: watch::Sender<bool>,
    connected: watch::Sender<bool>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.gathered.send(true);
        }
    }
    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self
            .connected
            .send(state == RTCPeerConnectionState::Connected);
    }
    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        // The handler runs on the connection's driver: read elsewhere.
        tokio::spawn(receive(track, self.window.clone()));
    }
}

/// Counts every packet that arrives and how long it took since it was sent.
async fn receive(track: Arc<dyn TrackRemote>, window: Arc<Window>) {
    let mut local = Vec::new();
    while let Some(event) = track.poll().await {
        if let TrackRemoteEvent::OnRtpPacket(packet) = event {
            let now = crate::measure::now_ns();
            let Some(sent) = packet
                .payload
                .get(4..12)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes)
            else {
                continue;
            };
            window.on_packet(&mut local, now.saturating_sub(sent));
        }
    }
    window.flush(&mut local);
}

pub struct Peer {
    pub pc: Arc<dyn PeerConnection>,
    gathered: watch::Receiver<bool>,
    pub connected: watch::Receiver<bool>,
}

impl Peer {
    /// A connection whose one candidate is on `ip` (the SFU's side of the machine).
    pub async fn new(window: Arc<Window>, ip: &str) -> Result<Self, Error> {
        let mut engine = MediaEngine::default();
        for (codec, payload_type, kind) in [
            (opus(), OPUS_PT, RtpCodecKind::Audio),
            (vp8(), VP8_PT, RtpCodecKind::Video),
        ] {
            engine.register_codec(
                RTCRtpCodecParameters {
                    rtp_codec: codec,
                    payload_type,
                },
                kind,
            )?;
        }
        let registry = register_default_interceptors(Registry::new(), &mut engine)?;
        let setting = SettingEngineBuilder::new()
            .with_multicast_dns_mode(MulticastDnsMode::Disabled)
            .with_network_types(vec![NetworkType::Udp4])
            .build();
        let (gathered_tx, gathered) = watch::channel(false);
        let (connected_tx, connected) = watch::channel(false);
        let pc = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(engine)
            .with_interceptor_registry(registry)
            .with_setting_engine(setting)
            .with_handler(Arc::new(Handler {
                window,
                gathered: gathered_tx,
                connected: connected_tx,
            }) as Arc<dyn PeerConnectionEventHandler>)
            .with_udp_addrs(vec![format!("{ip}:0")])
            .build()
            .await?;
        Ok(Self {
            pc: Arc::new(pc),
            gathered,
            connected,
        })
    }

    /// Adds a microphone and a camera; returns the task that feeds them once
    /// the connection is up (aborted when the run ends).
    pub async fn publish(
        &self,
        name: &str,
        video_pps: u32,
    ) -> Result<tokio::task::JoinHandle<()>, Error> {
        let mut tracks = Vec::new();
        for (kind, label) in [(RtpCodecKind::Audio, "mic"), (RtpCodecKind::Video, "cam")] {
            let ssrc = rand::random::<u32>();
            let codec = if kind == RtpCodecKind::Audio {
                opus()
            } else {
                vp8()
            };
            let stream = format!("bench-{name}");
            let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
                stream.clone(),
                format!("{label}-{name}"),
                format!("{label}-{name}"),
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
            self.pc
                .add_transceiver_from_track(
                    track.clone() as Arc<dyn TrackLocal>,
                    Some(RTCRtpTransceiverInit {
                        direction: RTCRtpTransceiverDirection::Sendonly,
                        streams: vec![stream],
                        send_encodings: vec![],
                    }),
                )
                .await?;
            tracks.push((track, ssrc));
        }
        let mut connected = self.connected.clone();
        Ok(tokio::spawn(async move {
            let _ = connected.wait_for(|up| *up).await;
            send(tracks, video_pps).await;
        }))
    }

    /// Our offer, with every candidate in it (no trickling needed).
    pub async fn offer(&mut self) -> Result<String, Error> {
        let offer = self.pc.create_offer(None).await?;
        self.pc.set_local_description(offer).await?;
        self.local_sdp().await
    }

    /// Answers `offer`, with every candidate in the answer.
    pub async fn answer(&mut self, offer: String) -> Result<String, Error> {
        self.pc
            .set_remote_description(RTCSessionDescription::offer(offer)?)
            .await?;
        let answer = self.pc.create_answer(None).await?;
        self.pc.set_local_description(answer).await?;
        self.local_sdp().await
    }

    pub async fn accept(&self, answer: String) -> Result<(), Error> {
        self.pc
            .set_remote_description(RTCSessionDescription::answer(answer)?)
            .await?;
        Ok(())
    }

    pub async fn add_candidate(&self, candidate: String, mline: Option<u16>) {
        let _ = self
            .pc
            .add_ice_candidate(RTCIceCandidateInit {
                candidate,
                sdp_mid: None,
                sdp_mline_index: mline,
                username_fragment: None,
                url: None,
            })
            .await;
    }

    async fn local_sdp(&mut self) -> Result<String, Error> {
        // Gathering on loopback is quick; a renegotiation may not gather again.
        let _ = tokio::time::timeout(Duration::from_secs(3), self.gathered.wait_for(|done| *done))
            .await;
        Ok(self
            .pc
            .local_description()
            .await
            .ok_or("no local description")?
            .sdp)
    }
}

/// Audio every 20 ms; video at `video_pps`, in bursts every 10 ms. Every
/// payload carries its send time (bytes 4..12); video payloads start like
/// a VP8 key frame so no forwarder holds them back waiting for one.
async fn send(tracks: Vec<(Arc<TrackLocalStaticRTP>, u32)>, video_pps: u32) {
    let Ok([(audio, audio_ssrc), (video, video_ssrc)]) = <[_; 2]>::try_from(tracks) else {
        return;
    };
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let per_tick = (video_pps / 100).max(1);
    let (mut audio_seq, mut video_seq) = (rand::random::<u16>(), rand::random::<u16>());
    let start = tokio::time::Instant::now();
    for n in 0u64.. {
        tick.tick().await;
        let elapsed = start.elapsed();
        let video_ts = (elapsed.as_micros() * 9 / 100) as u32;
        for _ in 0..per_tick {
            video_seq = video_seq.wrapping_add(1);
            let packet = packet(VP8_PT, video_seq, video_ts, video_ssrc, VIDEO_BYTES, true);
            let _ = video.write_rtp(packet).await;
        }
        if n % 2 == 0 {
            audio_seq = audio_seq.wrapping_add(1);
            let audio_ts = (elapsed.as_micros() * 48 / 1000) as u32;
            let packet = packet(OPUS_PT, audio_seq, audio_ts, audio_ssrc, AUDIO_BYTES, false);
            let _ = audio.write_rtp(packet).await;
        }
    }
}

fn packet(pt: u8, seq: u16, ts: u32, ssrc: u32, size: usize, video: bool) -> rtc::rtp::Packet {
    let mut payload = vec![0u8; size];
    if video {
        // VP8 descriptor: start of partition 0; frame tag: key frame.
        payload[..4].copy_from_slice(&[0x10, 0x00, 0x9d, 0x01]);
    }
    payload[4..12].copy_from_slice(&crate::measure::now_ns().to_be_bytes());
    rtc::rtp::Packet {
        header: rtc::rtp::header::Header {
            version: 2,
            marker: video,
            payload_type: pt,
            sequence_number: seq,
            timestamp: ts,
            ssrc,
            ..Default::default()
        },
        payload: Bytes::from(payload),
    }
}
