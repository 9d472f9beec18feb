//! The browser's side of the call, through `web-sys`: one
//! `RTCPeerConnection` with the SFU, the camera and microphone, the screen,
//! and the signalling on `/ws`.
//!
//! The browser offers first (its own audio, camera and an empty screen
//! slot, all send-only); after that the SFU offers whenever someone joins or
//! leaves. The browser is the "polite" side of perfect negotiation: an offer
//! from the server always wins. Turning the microphone, camera or screen on
//! and off swaps the track of an existing sender (`replaceTrack`), so it
//! never needs a new negotiation.

use super::{CallUi, Phase};
use crate::consultation::ConsultationId;
use crate::media::{IceCandidate, MediaPass, SdpKind, Sending};
use crate::pages::room::live::RoomFeed;
use crate::realtime::{ClientMsg, ServerMsg};
use leptos::prelude::*;
use std::cell::RefCell;
use std::collections::HashMap;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    HtmlMediaElement, MediaStream, MediaStreamTrack, RtcConfiguration, RtcIceCandidateInit,
    RtcIceServer, RtcIceTransportPolicy, RtcPeerConnection, RtcPeerConnectionIceEvent,
    RtcPeerConnectionState, RtcRtpEncodingParameters, RtcRtpSender, RtcRtpTransceiverDirection,
    RtcRtpTransceiverInit, RtcSdpType, RtcSessionDescriptionInit, RtcTrackEvent,
};

thread_local! {
    static CALL: RefCell<Option<Call>> = const { RefCell::new(None) };
}

/// The page's call: at most one per page.
struct Call {
    ui: CallUi,
    send: Callback<ClientMsg>,
    consultation: ConsultationId,
    peer: Option<Peer>,
    /// Camera and microphone, asked once and kept for rejoins.
    local: Option<MediaStream>,
    screen: Option<MediaStream>,
    /// Remote streams by id (`cam-…`, `scr-…`), for the tiles.
    remote: HashMap<String, MediaStream>,
    /// The person left the call themselves: no automatic rejoin.
    hung_up: bool,
}

struct Peer {
    pc: RtcPeerConnection,
    audio: RtcRtpSender,
    video: RtcRtpSender,
    /// Added when the person first shares their screen (then renegotiated).
    screen: Option<RtcRtpSender>,
    /// Server candidates that came before its answer.
    pending: Vec<IceCandidate>,
    /// The event handlers, alive as long as the connection.
    _handlers: Vec<Closure<dyn FnMut(JsValue)>>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.pc.set_onicecandidate(None);
        self.pc.set_ontrack(None);
        self.pc.set_onconnectionstatechange(None);
        self.pc.close();
    }
}

fn with_call<R>(f: impl FnOnce(&mut Call) -> R) -> Option<R> {
    CALL.with(|call| call.borrow_mut().as_mut().map(f))
}

/// The call's connection now, if there is one (for its statistics).
pub(super) fn connection() -> Option<RtcPeerConnection> {
    with_call(|c| c.peer.as_ref().map(|p| p.pc.clone())).flatten()
}

/// Runs the call of this page: joins when the person is admitted and the
/// socket is up, again after every reconnect, and leaves when they are no
/// longer in the consultation or the page goes away.
pub fn drive(feed: RoomFeed, ui: CallUi, on_call: Memo<bool>) {
    // "Audio only" chosen in the waiting room: the camera starts off. After
    // hydration, so the page the server rendered still matches.
    if crate::components::devices::choices().audio_only {
        Effect::new(move |_| ui.sending.update(|s| s.video = false));
    }
    if crate::components::devices::remembered("data_saver").is_some() {
        Effect::new(move |_| ui.data_saver.set(true));
    }
    let consultation = feed.room.with_untracked(|r| r.consultation.clone());
    CALL.with(|call| {
        *call.borrow_mut() = Some(Call {
            ui,
            send: feed.send,
            consultation,
            peer: None,
            local: None,
            screen: None,
            remote: HashMap::new(),
            hung_up: false,
        })
    });
    Effect::new(move |_| {
        let ready = feed.ready.get();
        let in_call = on_call.get();
        if ready == 0 {
            return;
        }
        if in_call {
            let hung_up = with_call(|c| c.hung_up).unwrap_or(true);
            if !hung_up {
                request_pass();
            }
        } else {
            close_peer();
            ui.members.set(Vec::new());
        }
    });
    Effect::new(move |_| {
        if !feed.connected.get() && ui.phase.get_untracked() == Phase::Live {
            ui.phase.set(Phase::Reconnecting);
        }
    });
    // The browser knows first when the network goes: say so at once, and
    // when it is back, restart ICE on the same connection (new addresses,
    // maybe a new network) rather than start the call over.
    let offline = window_event_listener(leptos::ev::offline, move |_| {
        if ui.phase.get_untracked() == Phase::Live {
            ui.phase.set(Phase::Reconnecting);
        }
    });
    let watching = super::watch::start(ui);
    let online = window_event_listener(leptos::ev::online, move |_| {
        // A socket that dropped meanwhile rejoins the call anew instead.
        if feed.connected.get_untracked() {
            restart_ice();
        }
    });
    on_cleanup(move || {
        offline.remove();
        online.remove();
        super::watch::stop(watching);
        hang_up();
        let taken = CALL.with(|call| call.borrow_mut().take());
        if let Some(call) = taken {
            stop_tracks(call.local.as_ref());
            stop_tracks(call.screen.as_ref());
        }
    });
}

fn request_pass() {
    with_call(|call| {
        call.send.run(ClientMsg::MediaPass {
            id: call.consultation.clone(),
        });
        if call.ui.phase.get_untracked() != Phase::Reconnecting {
            call.ui.phase.set(Phase::Joining);
        }
    });
}

/// Leaves the call: tells the server, closes the connection.
pub fn hang_up() {
    with_call(|call| {
        call.hung_up = true;
        call.send.run(ClientMsg::MediaLeave);
        call.peer = None;
        call.ui.members.set(Vec::new());
    });
}

/// Data saver on or off: the SFU sends the lowest quality of the others'
/// videos. Kept in the browser for the next calls.
pub fn set_data_saver(on: bool) {
    crate::components::devices::remember("data_saver", on.then_some("on"));
    with_call(|call| {
        call.ui.data_saver.set(on);
        call.send.run(ClientMsg::MediaDataSaver { on });
    });
}

pub fn rejoin() {
    with_call(|call| call.hung_up = false);
    request_pass();
}

fn close_peer() {
    with_call(|call| call.peer = None);
}

pub fn on_server_msg(message: ServerMsg) {
    match message {
        ServerMsg::MediaPass { pass } => leptos::task::spawn_local(async move {
            if let Err(error) = start(pass).await {
                fail(&describe(&error));
            }
        }),
        ServerMsg::MediaSdp { kind, sdp } => leptos::task::spawn_local(async move {
            if let Err(error) = on_sdp(kind, sdp).await {
                fail(&describe(&error));
            }
        }),
        ServerMsg::MediaCandidate { candidate } => add_candidate(candidate),
        ServerMsg::CallMembers { members } => {
            with_call(|call| call.ui.members.set(members));
        }
        ServerMsg::VideoHeld { stream, held } => {
            with_call(|call| {
                call.ui.held.update(|list| {
                    list.retain(|s| *s != stream);
                    if held {
                        list.push(stream);
                    }
                })
            });
        }
        ServerMsg::MediaError { message, retry } => {
            with_call(|call| {
                call.peer = None;
                call.ui.phase.set(Phase::Failed(message));
            });
            if retry {
                set_timeout(
                    || {
                        if with_call(|c| {
                            !c.hung_up && matches!(c.ui.phase.get_untracked(), Phase::Failed(_))
                        }) == Some(true)
                        {
                            request_pass();
                        }
                    },
                    std::time::Duration::from_secs(5),
                );
            }
        }
        _ => {}
    }
}

fn fail(message: &str) {
    with_call(|call| {
        call.peer = None;
        call.ui.phase.set(Phase::Failed(message.to_string()));
    });
}

fn describe(error: &JsValue) -> String {
    error
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| error.as_string())
        .unwrap_or_default()
}

/// Camera and microphone: asked once per page. Without them the person
/// still sees and hears the others.
async fn local_media() -> Option<MediaStream> {
    if let Some(stream) = with_call(|c| c.local.clone()).flatten() {
        return Some(stream);
    }
    // The devices chosen in the waiting room (or the defaults).
    let choices = crate::components::devices::choices();
    let stream = crate::components::devices::user_media(&choices, &CALL_VIDEO)
        .await
        .ok()?;
    with_call(|c| c.local = Some(stream.clone()));
    if let Some(element) = document()
        .get_element_by_id("call-self")
        .and_then(|e| e.dyn_into::<HtmlMediaElement>().ok())
    {
        element.set_src_object(Some(&stream));
    }
    Some(stream)
}

fn first_track(stream: Option<&MediaStream>, kind: &str) -> Option<MediaStreamTrack> {
    let tracks = match kind {
        "audio" => stream?.get_audio_tracks(),
        _ => stream?.get_video_tracks(),
    };
    tracks.get(0).dyn_into::<MediaStreamTrack>().ok()
}

fn stop_tracks(stream: Option<&MediaStream>) {
    if let Some(stream) = stream {
        for track in stream.get_tracks().iter() {
            track.unchecked_into::<MediaStreamTrack>().stop();
        }
    }
}

fn ice_configuration(pass: &MediaPass) -> RtcConfiguration {
    let config = RtcConfiguration::new();
    let servers = js_sys::Array::new();
    for server in &pass.ice_servers {
        let entry = RtcIceServer::new();
        let urls = js_sys::Array::new();
        for url in &server.urls {
            urls.push(&url.into());
        }
        entry.set_urls(&urls);
        if let Some(username) = &server.username {
            entry.set_username(username);
        }
        if let Some(credential) = &server.credential {
            entry.set_credential(credential);
        }
        servers.push(&entry);
    }
    config.set_ice_servers(&servers);
    if pass.relay_only {
        config.set_ice_transport_policy(RtcIceTransportPolicy::Relay);
    }
    config
}

/// The camera's simulcast layers, low to high: the SFU sends each of the
/// others the one their connection can take (and data saver the lowest).
/// The rids and rates match the server's (`sfu::forward`).
const CAMERA_LAYERS: [(&str, f32, u32); 2] = [("l", 2.0, 150_000), ("m", 1.0, 500_000)];

fn camera_encodings() -> js_sys::Array {
    CAMERA_LAYERS
        .iter()
        .map(|(rid, scale, max_bitrate)| {
            let encoding = RtcRtpEncodingParameters::new();
            encoding.set_rid(rid);
            encoding.set_scale_resolution_down_by(*scale);
            encoding.set_max_bitrate(*max_bitrate);
            JsValue::from(encoding)
        })
        .collect()
}

fn send_only(
    pc: &RtcPeerConnection,
    kind: &str,
    track: Option<&MediaStreamTrack>,
    stream: Option<&MediaStream>,
) -> RtcRtpSender {
    let init = RtcRtpTransceiverInit::new();
    init.set_direction(RtcRtpTransceiverDirection::Sendonly);
    if let Some(stream) = stream {
        init.set_streams(&js_sys::Array::of1(stream));
    }
    // The camera (sent with our stream), not the screen: a shared screen
    // is read, and a lower layer of it would be unreadable.
    if kind == "video" && stream.is_some() {
        init.set_send_encodings(&camera_encodings());
    }
    let transceiver = match track {
        Some(track) => pc.add_transceiver_with_media_stream_track_and_init(track, &init),
        None => pc.add_transceiver_with_str_and_init(kind, &init),
    };
    transceiver.sender()
}

/// A new connection to the SFU with this pass: our offer goes with the join.
async fn start(pass: MediaPass) -> Result<(), JsValue> {
    close_peer();
    let local = local_media().await;
    let Some(sending) = with_call(|c| c.ui.sending.get_untracked()) else {
        return Ok(());
    };
    let pc = RtcPeerConnection::new_with_configuration(&ice_configuration(&pass))?;
    let mic = first_track(local.as_ref(), "audio").filter(|_| sending.audio);
    let camera = first_track(local.as_ref(), "video").filter(|_| sending.video);
    let audio = send_only(&pc, "audio", mic.as_ref(), local.as_ref());
    let video = send_only(&pc, "video", camera.as_ref(), local.as_ref());
    let screen_track = with_call(|c| first_track(c.screen.as_ref(), "video")).flatten();
    let screen = screen_track
        .as_ref()
        .map(|track| send_only(&pc, "video", Some(track), None));

    let mut handlers: Vec<Closure<dyn FnMut(JsValue)>> = Vec::new();
    let on_candidate = Closure::<dyn FnMut(JsValue)>::new(|event: JsValue| {
        let event: RtcPeerConnectionIceEvent = event.unchecked_into();
        let candidate = event.candidate().map(|c| IceCandidate {
            candidate: c.candidate(),
            sdp_mid: c.sdp_mid(),
            sdp_m_line_index: c.sdp_m_line_index(),
        });
        with_call(|call| call.send.run(ClientMsg::MediaCandidate { candidate }));
    });
    pc.set_onicecandidate(Some(on_candidate.as_ref().unchecked_ref()));
    handlers.push(on_candidate);

    let on_track = Closure::<dyn FnMut(JsValue)>::new(|event: JsValue| {
        let event: RtcTrackEvent = event.unchecked_into();
        let Ok(stream) = event.streams().get(0).dyn_into::<MediaStream>() else {
            return;
        };
        with_call(|call| {
            call.remote.insert(stream.id(), stream);
            call.ui.streams.update(|n| *n += 1);
        });
    });
    pc.set_ontrack(Some(on_track.as_ref().unchecked_ref()));
    handlers.push(on_track);

    let watched = pc.clone();
    let on_state = Closure::<dyn FnMut(JsValue)>::new(move |_| {
        let state = watched.connection_state();
        with_call(|call| match state {
            RtcPeerConnectionState::Connected => call.ui.phase.set(Phase::Live),
            RtcPeerConnectionState::Disconnected => call.ui.phase.set(Phase::Reconnecting),
            RtcPeerConnectionState::Failed => {
                // Start over with a fresh pass and connection.
                call.peer = None;
                call.ui.phase.set(Phase::Reconnecting);
                call.send.run(ClientMsg::MediaPass {
                    id: call.consultation.clone(),
                });
            }
            _ => {}
        });
    });
    pc.set_onconnectionstatechange(Some(on_state.as_ref().unchecked_ref()));
    handlers.push(on_state);

    let sdp = describe_locally(&pc, SdpKind::Offer).await?;
    with_call(|call| {
        call.peer = Some(Peer {
            pc,
            audio,
            video,
            screen,
            pending: Vec::new(),
            _handlers: handlers,
        });
        call.send.run(ClientMsg::MediaJoin {
            token: pass.token,
            sdp,
        });
        call.send.run(ClientMsg::MediaSending { sending });
        if call.ui.data_saver.get_untracked() {
            call.send.run(ClientMsg::MediaDataSaver { on: true });
        }
    });
    Ok(())
}

/// New ICE credentials and candidates on the same connection; the SFU
/// answers the offer. If that fails, the connection fails and the call
/// starts over with a new pass.
fn restart_ice() {
    let Some(pc) = with_call(|c| c.peer.as_ref().map(|p| p.pc.clone())).flatten() else {
        return;
    };
    // `restartIce()` is standard but not in web-sys.
    let restart = js_sys::Reflect::get(&pc, &"restartIce".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
    if let Some(restart) = restart {
        let _ = restart.call0(&pc);
    }
    leptos::task::spawn_local(async move {
        if let Err(error) = renegotiate(&pc).await {
            fail(&describe(&error));
        }
    });
}

/// The SFU's answer to our offer, or its own offer (polite side: we take it).
async fn on_sdp(kind: SdpKind, sdp: String) -> Result<(), JsValue> {
    let Some(pc) = with_call(|c| c.peer.as_ref().map(|p| p.pc.clone())).flatten() else {
        return Ok(());
    };
    let sdp_type = match kind {
        SdpKind::Offer => RtcSdpType::Offer,
        SdpKind::Answer => RtcSdpType::Answer,
    };
    let description = RtcSessionDescriptionInit::new(sdp_type);
    description.set_sdp(&sdp);
    JsFuture::from(pc.set_remote_description(&description)).await?;
    let pending = with_call(|c| c.peer.as_mut().map(|p| std::mem::take(&mut p.pending)))
        .flatten()
        .unwrap_or_default();
    for candidate in pending {
        let _ = JsFuture::from(
            pc.add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&candidate_init(&candidate))),
        )
        .await;
    }
    if kind == SdpKind::Offer {
        let sdp = describe_locally(&pc, SdpKind::Answer).await?;
        with_call(|call| {
            call.send.run(ClientMsg::MediaSdp {
                kind: SdpKind::Answer,
                sdp,
            })
        });
    }
    // After an ICE restart the connection may never have left `connected`:
    // no state change would say the call is back.
    if pc.connection_state() == RtcPeerConnectionState::Connected {
        with_call(|call| {
            if call.ui.phase.get_untracked() == Phase::Reconnecting {
                call.ui.phase.set(Phase::Live);
            }
        });
    }
    Ok(())
}

fn candidate_init(candidate: &IceCandidate) -> RtcIceCandidateInit {
    let init = RtcIceCandidateInit::new(&candidate.candidate);
    init.set_sdp_mid(candidate.sdp_mid.as_deref());
    init.set_sdp_m_line_index(candidate.sdp_m_line_index);
    init
}

fn add_candidate(candidate: IceCandidate) {
    let Some(pc) = with_call(|call| {
        let peer = call.peer.as_mut()?;
        if peer.pc.remote_description().is_none() {
            peer.pending.push(candidate.clone());
            return None;
        }
        Some(peer.pc.clone())
    })
    .flatten() else {
        return;
    };
    leptos::task::spawn_local(async move {
        let _ = JsFuture::from(
            pc.add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&candidate_init(&candidate))),
        )
        .await;
    });
}

/// Shows a remote stream in its tile's `<video>` (when it has arrived).
pub fn attach(element: &web_sys::HtmlVideoElement, stream_id: &str) {
    let stream = with_call(|c| c.remote.get(stream_id).cloned()).flatten();
    if let Some(stream) = stream {
        let current = element.src_object().map(|s| s.id());
        if current.as_deref() != Some(stream_id) {
            element.set_src_object(Some(&stream));
        }
        crate::components::devices::play_on_chosen_speaker(element);
    }
}

/// Swaps what a sender sends (a track, or nothing) and tells the others.
fn update_sending(
    change: impl FnOnce(&mut Sending),
    pick: impl FnOnce(&Call, &Peer) -> (RtcRtpSender, Option<MediaStreamTrack>),
) {
    with_call(|call| {
        let mut sending = call.ui.sending.get_untracked();
        change(&mut sending);
        call.ui.sending.set(sending);
        call.send.run(ClientMsg::MediaSending { sending });
        if let Some(peer) = &call.peer {
            let (sender, track) = pick(call, peer);
            let _ = sender.replace_track(track.as_ref());
        }
    });
}

pub fn set_audio(on: bool) {
    update_sending(
        |s| s.audio = on,
        |call, peer| {
            let track = first_track(call.local.as_ref(), "audio").filter(|_| on);
            (peer.audio.clone(), track)
        },
    );
}

/// The camera size asked for on calls.
const CALL_VIDEO: [(&str, i32); 2] = [("width", 640), ("height", 480)];

pub fn set_video(on: bool) {
    if on {
        with_call(|call| call.ui.audio_only.set(false));
        super::watch::reset_fallback();
    }
    // Began with audio only: there is no camera yet; ask for it first.
    let no_camera = with_call(|c| first_track(c.local.as_ref(), "video").is_none()) == Some(true);
    if on && no_camera {
        leptos::task::spawn_local(async move {
            let Ok(stream) = crate::components::devices::camera(&CALL_VIDEO).await else {
                return;
            };
            if let Some(track) = first_track(Some(&stream), "video") {
                with_call(|call| {
                    if let Some(local) = &call.local {
                        local.add_track(&track);
                    }
                });
            }
            send_video(true);
        });
        return;
    }
    send_video(on);
}

fn send_video(on: bool) {
    update_sending(
        |s| s.video = on,
        |call, peer| {
            let track = first_track(call.local.as_ref(), "video").filter(|_| on);
            (peer.video.clone(), track)
        },
    );
}

pub fn set_screen(on: bool) {
    if !on {
        let screen = with_call(|c| c.screen.take()).flatten();
        stop_tracks(screen.as_ref());
        with_call(|call| {
            let mut sending = call.ui.sending.get_untracked();
            sending.screen = false;
            call.ui.sending.set(sending);
            call.send.run(ClientMsg::MediaSending { sending });
            if let Some(sender) = call.peer.as_ref().and_then(|p| p.screen.as_ref()) {
                let _ = sender.replace_track(None);
            }
        });
        return;
    }
    leptos::task::spawn_local(async move {
        let Ok(devices) = window().navigator().media_devices() else {
            return;
        };
        let Ok(promise) = devices.get_display_media() else {
            return;
        };
        // Refused or cancelled by the person: nothing changes.
        let Ok(stream) = JsFuture::from(promise).await else {
            return;
        };
        let stream: MediaStream = stream.unchecked_into();
        let track = first_track(Some(&stream), "video");
        if let Some(track) = &track {
            // The browser's own "Stop sharing" bar ends the track.
            let ended = Closure::<dyn FnMut(JsValue)>::new(|_| set_screen(false));
            track.set_onended(Some(ended.as_ref().unchecked_ref()));
            ended.forget();
        }
        with_call(|c| c.screen = Some(stream));
        let Some(track) = track else {
            return;
        };
        // The first share adds a sender: a new offer, which the SFU answers.
        let needs_offer = with_call(|call| {
            let mut sending = call.ui.sending.get_untracked();
            sending.screen = true;
            call.ui.sending.set(sending);
            call.send.run(ClientMsg::MediaSending { sending });
            let peer = call.peer.as_mut()?;
            match &peer.screen {
                Some(sender) => {
                    let _ = sender.replace_track(Some(&track));
                    None
                }
                None => {
                    peer.screen = Some(send_only(&peer.pc, "video", Some(&track), None));
                    Some(peer.pc.clone())
                }
            }
        })
        .flatten();
        if let Some(pc) = needs_offer
            && let Err(error) = renegotiate(&pc).await
        {
            fail(&describe(&error));
        }
    });
}

/// Our own new offer (after adding a sender); the SFU answers it.
async fn renegotiate(pc: &RtcPeerConnection) -> Result<(), JsValue> {
    let sdp = describe_locally(pc, SdpKind::Offer).await?;
    with_call(|call| {
        call.send.run(ClientMsg::MediaSdp {
            kind: SdpKind::Offer,
            sdp,
        })
    });
    Ok(())
}

/// Creates our offer or answer, makes it the local description, and
/// returns its SDP for the SFU.
async fn describe_locally(pc: &RtcPeerConnection, kind: SdpKind) -> Result<String, JsValue> {
    let (created, sdp_type) = match kind {
        SdpKind::Offer => (pc.create_offer(), RtcSdpType::Offer),
        SdpKind::Answer => (pc.create_answer(), RtcSdpType::Answer),
    };
    let created = JsFuture::from(created).await?;
    let sdp = js_sys::Reflect::get(&created, &"sdp".into())?
        .as_string()
        .unwrap_or_default();
    let description = RtcSessionDescriptionInit::new(sdp_type);
    description.set_sdp(&sdp);
    JsFuture::from(pc.set_local_description(&description)).await?;
    Ok(sdp)
}
