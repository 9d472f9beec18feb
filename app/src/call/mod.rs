//! The call inside the room: one peer connection to Visita's SFU, a tile
//! per participant, and the buttons (microphone, camera, screen, leave).
//! The view lives here; everything that touches `RTCPeerConnection` is in
//! `browser` (compiled for the browser only).

#[cfg(feature = "hydrate")]
mod browser;
pub mod stats;
#[cfg(feature = "hydrate")]
mod watch;

use crate::consultation::ParticipantState;
use crate::i18n::{Key, role_name, t, t_with, use_lang};
use crate::media::{CallMember, Sending};
use crate::pages::room::live::RoomFeed;
use crate::realtime::ServerMsg;
use leptos::either::EitherOf3;
use leptos::prelude::*;

/// Where the call stands, as the person sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    Joining,
    Live,
    Reconnecting,
    Failed(String),
    Left,
}

/// The call's state shared by the view and the browser session.
#[derive(Clone, Copy)]
pub struct CallUi {
    pub phase: RwSignal<Phase>,
    pub members: RwSignal<Vec<CallMember>>,
    pub sending: RwSignal<Sending>,
    /// Bumped when a remote stream arrives, so tiles attach it.
    pub streams: RwSignal<u32>,
    /// Who speaks loudest right now (stream id).
    pub speaking: RwSignal<Option<String>>,
    /// Connection quality per stream id: 2 good, 1 fair, 0 poor.
    pub quality: RwSignal<Vec<(String, u8)>>,
    /// The bandwidth estimate stayed too low: video paused.
    pub audio_only: RwSignal<bool>,
    /// Others' videos (stream ids) the SFU holds back: our line is too
    /// weak for them.
    pub held: RwSignal<Vec<String>>,
    /// The person asked for the others' videos in low quality.
    pub data_saver: RwSignal<bool>,
}

/// Media messages from the socket, handed to the call (if any).
pub fn on_server_msg(message: ServerMsg) {
    #[cfg(feature = "hydrate")]
    browser::on_server_msg(message);
    #[cfg(not(feature = "hydrate"))]
    let _ = message;
}

#[component]
pub fn CallStage(feed: RoomFeed) -> impl IntoView {
    let lang = use_lang();
    let ui = CallUi {
        phase: RwSignal::new(Phase::Joining),
        members: RwSignal::new(Vec::new()),
        sending: RwSignal::new(Sending {
            audio: true,
            video: true,
            screen: false,
        }),
        streams: RwSignal::new(0),
        speaking: RwSignal::new(None),
        quality: RwSignal::new(Vec::new()),
        audio_only: RwSignal::new(false),
        held: RwSignal::new(Vec::new()),
        data_saver: RwSignal::new(false),
    };
    let room = feed.room;
    // On the call while admitted to an open consultation.
    let on_call = Memo::new(move |_| {
        room.with(|r| !r.status.is_over() && r.my_state == Some(ParticipantState::Admitted))
    });
    #[cfg(feature = "hydrate")]
    browser::drive(feed, ui, on_call);
    #[cfg(not(feature = "hydrate"))]
    let _ = on_call;

    let toggle_audio = move |_| {
        #[cfg(feature = "hydrate")]
        browser::set_audio(!ui.sending.get_untracked().audio);
    };
    let toggle_video = move |_| {
        #[cfg(feature = "hydrate")]
        browser::set_video(!ui.sending.get_untracked().video);
    };
    let toggle_screen = move |_| {
        #[cfg(feature = "hydrate")]
        browser::set_screen(!ui.sending.get_untracked().screen);
    };
    let toggle_data_saver = move |_| {
        #[cfg(feature = "hydrate")]
        browser::set_data_saver(!ui.data_saver.get_untracked());
    };
    let hang_up = move |_| {
        #[cfg(feature = "hydrate")]
        browser::hang_up();
        ui.phase.set(Phase::Left);
    };
    let rejoin = move |_| {
        ui.phase.set(Phase::Joining);
        #[cfg(feature = "hydrate")]
        browser::rejoin();
    };

    let status = move || match ui.phase.get() {
        Phase::Joining => Some(t(Key::CallJoining)().to_string()),
        Phase::Reconnecting => Some(t(Key::CallReconnecting)().to_string()),
        Phase::Failed(why) => Some(format!("{} {why}", t(Key::CallFailed)())),
        Phase::Left => Some(t(Key::CallLeft)().to_string()),
        Phase::Live => None,
    };
    let tiles = move || {
        ui.members
            .get()
            .into_iter()
            .map(|m| {
                let role = role_name(lang.get_untracked(), m.role);
                let screen = m.sending.screen.then(|| {
                    let caption = t_with(Key::CallScreenOf, {
                        let name = m.name.clone();
                        move || vec![("name", name.clone())]
                    });
                    view! { <Tile ui stream=m.screen_stream.clone() caption=Signal::derive(caption) video=true audio=false screen=true/> }
                });
                let caption = format!("{} — {role}", m.name);
                view! {
                    <Tile ui stream=m.stream.clone() caption=Signal::stored(caption) video=m.sending.video audio=m.sending.audio screen=false/>
                    {screen}
                }
            })
            .collect_view()
    };
    let mine = move || ui.sending.get();
    view! {
        <div class="call" data-testid="call" data-phase=move || match ui.phase.get() {
            Phase::Joining => "joining",
            Phase::Live => "live",
            Phase::Reconnecting => "reconnecting",
            Phase::Failed(_) => "failed",
            Phase::Left => "left",
        }>
            {move || status().map(|text| view! { <p class="call-status" role="status">{text}</p> })}
            <Show when=move || ui.audio_only.get()>
                <p class="call-status" role="status" data-testid="audio-only">{t(Key::CallAudioOnly)}</p>
            </Show>
            <Show when=move || ui.data_saver.get()>
                <p class="call-status" role="status" data-testid="data-saver-note">{t(Key::CallDataSaverNote)}</p>
            </Show>
            <div class="tiles">
                <figure class="tile me" data-testid="tile-me">
                    <video id="call-self" autoplay=true muted=true playsinline=true></video>
                    <Show when=move || !mine().video>
                        <div class="placeholder">{t(Key::CallCameraOff)}</div>
                    </Show>
                    <figcaption>{t(Key::CallYou)}</figcaption>
                </figure>
                {tiles}
            </div>
            <Show when=move || ui.phase.with(|p| *p == Phase::Live) && ui.members.with(Vec::is_empty)>
                <p class="call-alone">{t(Key::CallAlone)}</p>
            </Show>
            {move || match ui.phase.get() {
                Phase::Left | Phase::Failed(_) => EitherOf3::A(view! {
                    <div class="call-controls">
                        <button type="button" class="primary big" data-testid="call-rejoin" on:click=rejoin>
                            {t(Key::CallRejoin)}
                        </button>
                    </div>
                }),
                Phase::Joining => EitherOf3::B(()),
                _ => EitherOf3::C(view! {
                    <div class="call-controls">
                        <button type="button" class="big" data-testid="call-mic" aria-pressed=move || (!mine().audio).to_string() on:click=toggle_audio>
                            {move || if mine().audio { t(Key::CallMicOff)() } else { t(Key::CallMicOn)() }}
                        </button>
                        <button type="button" class="big" data-testid="call-camera" aria-pressed=move || (!mine().video).to_string() on:click=toggle_video>
                            {move || if mine().video { t(Key::CallCamOff)() } else { t(Key::CallCamOn)() }}
                        </button>
                        <button type="button" class="big" data-testid="call-screen" aria-pressed=move || mine().screen.to_string() on:click=toggle_screen>
                            {move || if mine().screen { t(Key::CallShareStop)() } else { t(Key::CallShare)() }}
                        </button>
                        <button type="button" class="big" data-testid="call-data-saver" aria-pressed=move || ui.data_saver.get().to_string() on:click=toggle_data_saver>
                            {move || if ui.data_saver.get() { t(Key::CallDataSaverOff)() } else { t(Key::CallDataSaverOn)() }}
                        </button>
                        <button type="button" class="danger big" data-testid="call-hang-up" on:click=hang_up>
                            {t(Key::CallHangUp)}
                        </button>
                    </div>
                }),
            }}
        </div>
    }
}

/// One remote participant's camera (or screen): the video, or a
/// placeholder when it is off; their name; a quality mark.
#[component]
fn Tile(
    ui: CallUi,
    stream: String,
    caption: Signal<String>,
    video: bool,
    audio: bool,
    screen: bool,
) -> impl IntoView {
    let video_ref = NodeRef::<leptos::html::Video>::new();
    let id = stream.clone();
    #[cfg(feature = "hydrate")]
    {
        let id = id.clone();
        Effect::new(move |_| {
            ui.streams.track();
            if let Some(element) = video_ref.get() {
                browser::attach(&element, &id);
            }
        });
    }
    let speaking = {
        let id = id.clone();
        move || ui.speaking.with(|s| s.as_deref() == Some(id.as_str()))
    };
    let held = {
        let id = id.clone();
        move || video && ui.held.with(|h| h.contains(&id))
    };
    let quality = {
        let id = id.clone();
        move || {
            ui.quality
                .with(|q| q.iter().find(|(s, _)| *s == id).map(|(_, level)| *level))
        }
    };
    view! {
        <figure class="tile" class:speaking=speaking class:screen=screen data-testid="tile" data-stream=id.clone()
            data-video=video.to_string() data-audio=audio.to_string()>
            <video node_ref=video_ref autoplay=true playsinline=true></video>
            {(!video).then(|| view! { <div class="placeholder" data-testid="camera-off">{t(Key::CallCameraOff)}</div> })}
            <Show when=held>
                <div class="placeholder" data-testid="video-held">{t(Key::CallVideoHeld)}</div>
            </Show>
            <figcaption>
                {move || caption.get()}
                {(!audio && !screen).then(|| view! { <span class="muted-mark">{" · "}{t(Key::CallMuted)}</span> })}
                {move || quality().map(|level| {
                    let (class, key) = match level {
                        2 => ("good", Key::CallQualityGood),
                        1 => ("fair", Key::CallQualityFair),
                        _ => ("poor", Key::CallQualityPoor),
                    };
                    view! { <span class=format!("quality {class}") title=t(key) data-quality=class>{"●"}</span> }
                })}
            </figcaption>
        </figure>
    }
}
