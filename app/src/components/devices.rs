//! The camera and microphone check of the waiting room: asks the browser
//! for both, says in plain words what happened, and how to fix it. The
//! preview itself comes with the video work; here the tracks are stopped
//! as soon as we know they work.

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

#[component]
pub fn DeviceCheck() -> impl IntoView {
    let status = RwSignal::new(DeviceStatus::Checking);
    let attempt = RwSignal::new(0u32);
    Effect::new(move |_| {
        attempt.track();
        status.set(DeviceStatus::Checking);
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            status.set(browser::check().await);
        });
    });
    view! {
        <section class="devices card" aria-live="polite" data-testid="device-check">
            {move || match status.get() {
                DeviceStatus::Checking => EitherOf4::A(view! { <p>{t(Key::DevicesChecking)}</p> }),
                DeviceStatus::Ready => {
                    EitherOf4::B(view! { <p class="notice success" data-state="ready">{t(Key::DevicesReady)}</p> })
                }
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
mod browser {
    use super::DeviceStatus;
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{DomException, MediaStream, MediaStreamConstraints, MediaStreamTrack};

    pub async fn check() -> DeviceStatus {
        let Some(devices) = leptos::prelude::window().navigator().media_devices().ok() else {
            return DeviceStatus::Missing;
        };
        let constraints = MediaStreamConstraints::new();
        constraints.set_audio(&true.into());
        constraints.set_video(&true.into());
        let Ok(promise) = devices.get_user_media_with_constraints(&constraints) else {
            return DeviceStatus::Missing;
        };
        match JsFuture::from(promise).await {
            Ok(stream) => {
                let stream: MediaStream = stream.unchecked_into();
                for track in stream.get_tracks().iter() {
                    track.unchecked_into::<MediaStreamTrack>().stop();
                }
                DeviceStatus::Ready
            }
            Err(error) => match error.dyn_ref::<DomException>().map(|e| e.name()) {
                Some(name) if name == "NotFoundError" || name == "OverconstrainedError" => {
                    DeviceStatus::Missing
                }
                _ => DeviceStatus::Blocked,
            },
        }
    }
}
