//! The camera and microphone check of the waiting room: asks the browser
//! for both and says in plain words what happened and how to fix it; then
//! shows the person their own picture and a bar that moves when they
//! speak, lets them pick another camera, microphone or speaker (and play a
//! test sound on it), or go on with audio only. The choices are kept in the
//! browser and the call uses them.

use crate::i18n::{Key, t};
use leptos::either::EitherOf4;
use leptos::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    Checking,
    Ready,
    Blocked,
    Missing,
}

/// A device the person can pick: (id, label).
pub type Device = (String, String);

#[component]
pub fn DeviceCheck() -> impl IntoView {
    let status = RwSignal::new(DeviceStatus::Checking);
    let attempt = RwSignal::new(0u32);
    let level = RwSignal::new(0.0f64);
    let cameras = RwSignal::new(Vec::<Device>::new());
    let microphones = RwSignal::new(Vec::<Device>::new());
    let speakers = RwSignal::new(Vec::<Device>::new());
    let audio_only = RwSignal::new(false);
    // The test sound played to its end: the person could hear it.
    let tone_played = RwSignal::new(false);
    let preview = NodeRef::<leptos::html::Video>::new();
    #[cfg(feature = "hydrate")]
    {
        audio_only.set(browser::choices().audio_only);
        Effect::new(move |_| {
            attempt.track();
            status.set(DeviceStatus::Checking);
            leptos::task::spawn_local(async move {
                let found = browser::check(browser::Outputs {
                    level,
                    cameras,
                    microphones,
                    speakers,
                })
                .await;
                status.set(found);
            });
        });
        // The picture element comes with the Ready view.
        Effect::new(move |_| {
            if let Some(video) = preview.get() {
                browser::show_preview(&video);
            }
        });
        on_cleanup(browser::release);
    }
    let choose = move |kind: &'static str| {
        move |ev: leptos::ev::Event| {
            let _id = event_target_value(&ev);
            #[cfg(feature = "hydrate")]
            browser::remember(kind, Some(&_id));
            let _ = kind;
            attempt.update(|n| *n += 1);
        }
    };
    let choose_speaker = move |ev: leptos::ev::Event| {
        let _id = event_target_value(&ev);
        #[cfg(feature = "hydrate")]
        browser::remember("speaker", Some(&_id));
    };
    let play_tone = move |_| {
        tone_played.set(false);
        #[cfg(feature = "hydrate")]
        browser::play_test_tone(tone_played);
    };
    let toggle_audio_only = move |_| {
        let now = !audio_only.get_untracked();
        audio_only.set(now);
        #[cfg(feature = "hydrate")]
        browser::remember("audio_only", now.then_some("on"));
        attempt.update(|n| *n += 1);
    };
    let options = move |list: RwSignal<Vec<Device>>, kind: &'static str| {
        move || {
            let chosen = {
                #[cfg(feature = "hydrate")]
                {
                    browser::remembered(kind)
                }
                #[cfg(not(feature = "hydrate"))]
                {
                    let _ = kind;
                    None::<String>
                }
            };
            list.get()
                .into_iter()
                .map(|(id, label)| {
                    let selected = chosen.as_deref() == Some(id.as_str());
                    view! { <option value=id selected=selected>{label}</option> }
                })
                .collect_view()
        }
    };
    let ready = move || {
        view! {
            <p class="notice success" data-state="ready">{t(Key::DevicesReady)}</p>
            <video node_ref=preview class="preview" data-testid="preview" muted=true autoplay=true
                playsinline=true hidden=move || audio_only.get()></video>
            <Show when=move || audio_only.get()>
                <p class="notice" data-testid="audio-only-note">{t(Key::DevicesAudioOnlyNote)}</p>
            </Show>
            <label class="level">
                {t(Key::DevicesLevel)}
                <meter data-testid="mic-level" min="0" max="1" value=move || level.get()></meter>
            </label>
            <Show when=move || { cameras.with(|c| c.len() > 1) && !audio_only.get() }>
                <label>
                    {t(Key::DevicesCamera)}
                    <select data-testid="camera-choice" on:change=choose("camera")>
                        {options(cameras, "camera")}
                    </select>
                </label>
            </Show>
            <Show when=move || microphones.with(|m| m.len() > 1)>
                <label>
                    {t(Key::DevicesMicrophone)}
                    <select data-testid="microphone-choice" on:change=choose("microphone")>
                        {options(microphones, "microphone")}
                    </select>
                </label>
            </Show>
            <Show when=move || speakers.with(|s| s.len() > 1)>
                <label>
                    {t(Key::DevicesSpeaker)}
                    <select data-testid="speaker-choice" on:change=choose_speaker>
                        {options(speakers, "speaker")}
                    </select>
                </label>
            </Show>
            <button type="button" class="secondary big" data-testid="speaker-test" on:click=play_tone
                data-played=move || tone_played.get().to_string()>
                {t(Key::DevicesSpeakerTest)}
            </button>
            <button type="button" class="secondary big" data-testid="audio-only" on:click=toggle_audio_only>
                {move || if audio_only.get() { t(Key::DevicesUseCamera)() } else { t(Key::DevicesAudioOnly)() }}
            </button>
        }
    };
    view! {
        <section class="devices card" aria-live="polite" data-testid="device-check">
            {move || match status.get() {
                DeviceStatus::Checking => EitherOf4::A(view! { <p>{t(Key::DevicesChecking)}</p> }),
                DeviceStatus::Ready => EitherOf4::B(ready()),
                DeviceStatus::Blocked => EitherOf4::C(view! {
                    <p class="notice error" data-state="blocked">{t(Key::DevicesBlocked)}</p>
                    <p>{t(Key::DevicesBlockedHelp)}</p>
                    <button type="button" class="secondary big" on:click=move |_| attempt.update(|n| *n += 1)>
                        {t(Key::DevicesRetry)}
                    </button>
                }),
                DeviceStatus::Missing => {
                    EitherOf4::D(view! { <p class="notice" data-state="missing">{t(Key::DevicesMissing)}</p> })
                }
            }}
        </section>
    }
}

#[cfg(feature = "hydrate")]
pub use browser::{
    Choices, camera, choices, play_on_chosen_speaker, remember, remembered, user_media,
};

/// A short, soft beep as a WAV file (8 kHz, 16-bit mono): the test sound
/// of the speaker check, made here rather than shipped as a file.
pub fn test_tone_wav() -> Vec<u8> {
    const RATE: u32 = 8000;
    const SAMPLES: u32 = RATE * 6 / 10;
    const HZ: f64 = 660.0;
    let data_len = SAMPLES * 2;
    let mut wav = Vec::with_capacity(44 + data_len as usize);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&RATE.to_le_bytes());
    wav.extend_from_slice(&(RATE * 2).to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    for n in 0..SAMPLES {
        let t = f64::from(n) / f64::from(RATE);
        // Fade in and out over 50 ms: no click.
        let edge = (f64::from(n.min(SAMPLES - n)) / (f64::from(RATE) * 0.05)).min(1.0);
        let sample = (t * HZ * std::f64::consts::TAU).sin() * 0.3 * edge;
        wav.extend_from_slice(&((sample * f64::from(i16::MAX)) as i16).to_le_bytes());
    }
    wav
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_test_tone_is_a_well_formed_wav() {
        let wav = super::test_tone_wav();
        assert_eq!(&wav[..4], b"RIFF");
        assert_eq!(&wav[8..16], b"WAVEfmt ");
        let riff_len = u32::from_le_bytes(wav[4..8].try_into().unwrap()) as usize;
        assert_eq!(riff_len + 8, wav.len());
        let data_len = u32::from_le_bytes(wav[40..44].try_into().unwrap()) as usize;
        assert_eq!(data_len, 9600, "0.6 s of 8 kHz 16-bit mono");
        assert_eq!(wav.len(), 44 + data_len);
        // Silent at the edges, loud enough in the middle.
        let sample = |i: usize| i16::from_le_bytes([wav[44 + 2 * i], wav[45 + 2 * i]]);
        assert_eq!(sample(0), 0);
        assert!((2000..4800).any(|i| sample(i) > 8000));
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::{Device, DeviceStatus};
    use leptos::prelude::*;
    use std::cell::RefCell;
    use std::time::Duration;
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{
        AnalyserNode, AudioContext, DomException, MediaDeviceInfo, MediaDeviceKind, MediaStream,
        MediaStreamConstraints, MediaStreamTrack,
    };

    /// What the person chose, as the call reads it.
    #[derive(Debug, Clone, Default)]
    pub struct Choices {
        pub camera: Option<String>,
        pub microphone: Option<String>,
        pub audio_only: bool,
    }

    /// Where the check shows what it finds.
    pub struct Outputs {
        pub level: RwSignal<f64>,
        pub cameras: RwSignal<Vec<Device>>,
        pub microphones: RwSignal<Vec<Device>>,
        pub speakers: RwSignal<Vec<Device>>,
    }

    /// What is running while the check shows the preview and the level.
    struct Running {
        stream: MediaStream,
        context: Option<AudioContext>,
        meter: Option<IntervalHandle>,
    }

    thread_local! {
        static RUNNING: RefCell<Option<Running>> = const { RefCell::new(None) };
    }

    fn storage() -> Option<web_sys::Storage> {
        window().local_storage().ok().flatten()
    }

    pub fn remembered(kind: &str) -> Option<String> {
        storage()?
            .get_item(&format!("visita.{kind}"))
            .ok()
            .flatten()
    }

    pub fn remember(kind: &str, value: Option<&str>) {
        if let Some(storage) = storage() {
            let key = format!("visita.{kind}");
            let _ = match value {
                Some(value) => storage.set_item(&key, value),
                None => storage.remove_item(&key),
            };
        }
    }

    pub fn choices() -> Choices {
        Choices {
            camera: remembered("camera"),
            microphone: remembered("microphone"),
            audio_only: remembered("audio_only").is_some(),
        }
    }

    /// `true`, or `{deviceId: {exact: id}, …extra}` for a chosen device.
    fn track_constraint(device: Option<&str>, extra: &[(&str, i32)]) -> wasm_bindgen::JsValue {
        if device.is_none() && extra.is_empty() {
            return true.into();
        }
        let object = js_sys::Object::new();
        if let Some(device) = device {
            let exact = js_sys::Object::new();
            let _ = js_sys::Reflect::set(&exact, &"exact".into(), &device.into());
            let _ = js_sys::Reflect::set(&object, &"deviceId".into(), &exact);
        }
        for (name, value) in extra {
            let _ = js_sys::Reflect::set(&object, &(*name).into(), &(*value).into());
        }
        object.into()
    }

    /// The microphone and (unless audio only) the camera the person chose;
    /// the default ones if a chosen device is gone (unplugged).
    pub async fn user_media(
        choices: &Choices,
        video: &[(&str, i32)],
    ) -> Result<MediaStream, wasm_bindgen::JsValue> {
        let devices = window().navigator().media_devices()?;
        let ask = |camera: Option<&str>, microphone: Option<&str>| {
            let constraints = MediaStreamConstraints::new();
            constraints.set_audio(&track_constraint(microphone, &[]));
            if choices.audio_only {
                constraints.set_video(&false.into());
            } else {
                constraints.set_video(&track_constraint(camera, video));
            }
            devices.get_user_media_with_constraints(&constraints)
        };
        let chosen = ask(choices.camera.as_deref(), choices.microphone.as_deref())?;
        match JsFuture::from(chosen).await {
            Ok(stream) => Ok(stream.unchecked_into()),
            Err(error) if choices.camera.is_some() || choices.microphone.is_some() => {
                let gone = error.dyn_ref::<DomException>().is_some_and(|e| {
                    e.name() == "OverconstrainedError" || e.name() == "NotFoundError"
                });
                if !gone {
                    return Err(error);
                }
                Ok(JsFuture::from(ask(None, None)?).await?.unchecked_into())
            }
            Err(error) => Err(error),
        }
    }

    /// The chosen camera alone (someone who began with audio only turns
    /// their camera on); the default one if the chosen one is gone.
    pub async fn camera(video: &[(&str, i32)]) -> Result<MediaStream, wasm_bindgen::JsValue> {
        remember("audio_only", None);
        let devices = window().navigator().media_devices()?;
        let ask = |camera: Option<&str>| {
            let constraints = MediaStreamConstraints::new();
            constraints.set_audio(&false.into());
            constraints.set_video(&track_constraint(camera, video));
            devices.get_user_media_with_constraints(&constraints)
        };
        match JsFuture::from(ask(remembered("camera").as_deref())?).await {
            Ok(stream) => Ok(stream.unchecked_into()),
            Err(_) => Ok(JsFuture::from(ask(None)?).await?.unchecked_into()),
        }
    }

    pub fn release() {
        if let Some(running) = RUNNING.with(|r| r.borrow_mut().take()) {
            for track in running.stream.get_tracks().iter() {
                track.unchecked_into::<MediaStreamTrack>().stop();
            }
            if let Some(meter) = running.meter {
                meter.clear();
            }
            if let Some(context) = running.context {
                let _ = context.close();
            }
        }
    }

    pub async fn check(out: Outputs) -> DeviceStatus {
        release();
        let stream = match user_media(&choices(), &[]).await {
            Ok(stream) => stream,
            Err(error) => {
                return match error.dyn_ref::<DomException>().map(|e| e.name()) {
                    Some(name) if name == "NotFoundError" || name == "OverconstrainedError" => {
                        DeviceStatus::Missing
                    }
                    None => DeviceStatus::Missing,
                    _ => DeviceStatus::Blocked,
                };
            }
        };
        let (context, meter) = level_meter(&stream, out.level).unzip();
        RUNNING.with(|r| {
            *r.borrow_mut() = Some(Running {
                stream: stream.clone(),
                context,
                meter,
            })
        });
        list_devices(out.cameras, out.microphones, out.speakers).await;
        DeviceStatus::Ready
    }

    /// Shows the running check's picture in `video`.
    pub fn show_preview(video: &web_sys::HtmlVideoElement) {
        RUNNING.with(|r| {
            if let Some(running) = r.borrow().as_ref() {
                video.set_src_object(Some(&running.stream));
            }
        });
    }

    /// The loudness of the microphone, five times a second (0–1).
    fn level_meter(
        stream: &MediaStream,
        level: RwSignal<f64>,
    ) -> Option<(AudioContext, IntervalHandle)> {
        let context = AudioContext::new().ok()?;
        let source = context.create_media_stream_source(stream).ok()?;
        let analyser = context.create_analyser().ok()?;
        analyser.set_fft_size(512);
        source.connect_with_audio_node(&analyser).ok()?;
        let samples = RefCell::new(vec![0f32; 512]);
        let meter = set_interval_with_handle(
            move || {
                analyser_level(&analyser, &mut samples.borrow_mut(), level);
            },
            Duration::from_millis(200),
        )
        .ok()?;
        Some((context, meter))
    }

    fn analyser_level(analyser: &AnalyserNode, samples: &mut [f32], level: RwSignal<f64>) {
        analyser.get_float_time_domain_data(samples);
        let mean_square = samples
            .iter()
            .map(|s| f64::from(*s) * f64::from(*s))
            .sum::<f64>()
            / samples.len() as f64;
        // Speech sits around 0.05–0.3 RMS; stretch it so the bar moves.
        level.set((mean_square.sqrt() * 3.0).min(1.0));
    }

    async fn list_devices(
        cameras: RwSignal<Vec<Device>>,
        microphones: RwSignal<Vec<Device>>,
        speakers: RwSignal<Vec<Device>>,
    ) {
        let Ok(devices) = window().navigator().media_devices() else {
            return;
        };
        let Ok(promise) = devices.enumerate_devices() else {
            return;
        };
        let Ok(list) = JsFuture::from(promise).await else {
            return;
        };
        let (mut video, mut audio, mut output) = (Vec::new(), Vec::new(), Vec::new());
        for info in js_sys::Array::from(&list).iter() {
            let info: MediaDeviceInfo = info.unchecked_into();
            let entry = (info.device_id(), info.label());
            match info.kind() {
                MediaDeviceKind::Videoinput => video.push(entry),
                MediaDeviceKind::Audioinput => audio.push(entry),
                MediaDeviceKind::Audiooutput => output.push(entry),
                _ => {}
            }
        }
        cameras.set(video);
        microphones.set(audio);
        // Choosing a speaker needs `setSinkId` (not in every browser).
        if can_choose_speaker() {
            speakers.set(output);
        }
    }

    fn can_choose_speaker() -> bool {
        let probe = document().create_element("audio").ok();
        probe.is_some_and(|element| {
            js_sys::Reflect::get(&element, &"setSinkId".into()).is_ok_and(|f| f.is_function())
        })
    }

    /// Plays `element` on the speaker the person chose, when the browser
    /// can; otherwise (or if that speaker is gone) on the default one.
    pub fn play_on_chosen_speaker(element: &web_sys::HtmlMediaElement) {
        let Some(speaker) = remembered("speaker") else {
            return;
        };
        let set_sink = js_sys::Reflect::get(element, &"setSinkId".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        if let Some(set_sink) = set_sink
            && let Ok(promise) = set_sink.call1(element, &speaker.into())
            && let Ok(promise) = promise.dyn_into::<js_sys::Promise>()
        {
            // A speaker unplugged since: the default one plays instead.
            leptos::task::spawn_local(async move {
                let _ = JsFuture::from(promise).await;
            });
        }
    }

    /// Plays the test sound on the chosen speaker; `played` turns true
    /// when it has played to its end.
    pub fn play_test_tone(played: RwSignal<bool>) {
        let wav = super::test_tone_wav();
        let latin1: String = wav.iter().map(|b| char::from(*b)).collect();
        let Ok(encoded) = window().btoa(&latin1) else {
            return;
        };
        let Ok(audio) =
            web_sys::HtmlAudioElement::new_with_src(&format!("data:audio/wav;base64,{encoded}"))
        else {
            return;
        };
        play_on_chosen_speaker(&audio);
        let ended = wasm_bindgen::closure::Closure::once_into_js(move || played.set(true));
        audio.set_onended(Some(ended.unchecked_ref()));
        if let Ok(promise) = audio.play() {
            leptos::task::spawn_local(async move {
                let _ = JsFuture::from(promise).await;
            });
        }
    }
}
