//! Reads the connection's statistics once a second: who speaks (their tile
//! is highlighted) and how good each participant's connection looks (the
//! mark on their tile). The judgements are in [`super::stats`].

use super::CallUi;
use super::browser::connection;
use super::stats::{AudioSample, Fallback, loudest, quality, stream_of_track};
use leptos::prelude::*;
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

thread_local! {
    /// The counters of the previous second, by statistics id.
    static PREVIOUS: RefCell<HashMap<String, (f64, f64)>> = RefCell::new(HashMap::new());
    static FALLBACK: RefCell<Fallback> = RefCell::new(Fallback::default());
}

/// The person turned their camera on again: judge the line afresh.
pub fn reset_fallback() {
    FALLBACK.with(|f| f.borrow_mut().reset());
}

/// Starts the once-a-second reading; `stop` ends it.
pub fn start(ui: CallUi) -> Option<IntervalHandle> {
    set_interval_with_handle(
        move || leptos::task::spawn_local(read(ui)),
        Duration::from_secs(1),
    )
    .ok()
}

pub fn stop(handle: Option<IntervalHandle>) {
    if let Some(handle) = handle {
        handle.clear();
    }
    PREVIOUS.with(|p| p.borrow_mut().clear());
}

fn number(stats: &JsValue, field: &str) -> Option<f64> {
    js_sys::Reflect::get(stats, &field.into()).ok()?.as_f64()
}

fn text(stats: &JsValue, field: &str) -> Option<String> {
    js_sys::Reflect::get(stats, &field.into()).ok()?.as_string()
}

/// How much two counters grew since the previous second (`None` the first
/// time a statistics entry is seen).
fn growth(id: &str, now: (f64, f64), seen: &mut HashMap<String, (f64, f64)>) -> Option<(f64, f64)> {
    let before = seen.insert(id.to_string(), now)?;
    Some(((now.0 - before.0).max(0.0), (now.1 - before.1).max(0.0)))
}

async fn read(ui: CallUi) {
    let Some(pc) = connection() else {
        PREVIOUS.with(|p| p.borrow_mut().clear());
        return;
    };
    let Ok(report) = JsFuture::from(pc.get_stats()).await else {
        return;
    };
    let Ok(Some(entries)) = js_sys::try_iter(&report) else {
        return;
    };
    let mut voices = Vec::new();
    // Per stream: (lost, received) of its video if it has any, else audio.
    let mut packets: HashMap<String, (bool, f64, f64)> = HashMap::new();
    let mut round_trip = None;
    let mut upload = None;
    PREVIOUS.with(|previous| {
        let mut previous = previous.borrow_mut();
        for entry in entries.flatten() {
            let stats = js_sys::Array::from(&entry).get(1);
            let id = text(&stats, "id").unwrap_or_default();
            match text(&stats, "type").as_deref() {
                Some("inbound-rtp") => {
                    let Some(stream) = text(&stats, "trackIdentifier")
                        .as_deref()
                        .and_then(stream_of_track)
                    else {
                        continue;
                    };
                    let video = text(&stats, "kind").as_deref() == Some("video");
                    if !video {
                        let energy = number(&stats, "totalAudioEnergy").unwrap_or(0.0);
                        let duration = number(&stats, "totalSamplesDuration").unwrap_or(0.0);
                        if let Some((energy, duration)) =
                            growth(&format!("{id}/energy"), (energy, duration), &mut previous)
                        {
                            voices.push(AudioSample {
                                stream: stream.clone(),
                                energy,
                                duration,
                            });
                        }
                    }
                    let lost = number(&stats, "packetsLost").unwrap_or(0.0);
                    let received = number(&stats, "packetsReceived").unwrap_or(0.0);
                    if let Some((lost, received)) = growth(&id, (lost, received), &mut previous) {
                        let slot = packets.entry(stream).or_insert((video, lost, received));
                        if video && !slot.0 {
                            *slot = (video, lost, received);
                        }
                    }
                }
                Some("candidate-pair")
                    if js_sys::Reflect::get(&stats, &"nominated".into())
                        .ok()
                        .and_then(|v| v.as_bool())
                        == Some(true) =>
                {
                    round_trip = number(&stats, "currentRoundTripTime").or(round_trip);
                    upload = number(&stats, "availableOutgoingBitrate").or(upload);
                }
                _ => {}
            }
        }
    });
    // Our camera on a line too weak for it: stop it, say so; the sound
    // goes on.
    let sending_video = ui.sending.with_untracked(|s| s.video);
    if FALLBACK.with(|f| f.borrow_mut().observe(upload)) && sending_video {
        super::browser::set_video(false);
        ui.audio_only.set(true);
    }
    let speaker = loudest(&voices);
    if ui.speaking.get_untracked() != speaker {
        ui.speaking.set(speaker);
    }
    let marks: Vec<(String, u8)> = packets
        .into_iter()
        .map(|(stream, (_, lost, received))| {
            (stream, quality(lost as u64, received as u64, round_trip))
        })
        .collect();
    // Same marks in another order (a map's) are no change: no re-render.
    let unchanged = ui
        .quality
        .with_untracked(|q| q.len() == marks.len() && marks.iter().all(|m| q.contains(m)));
    if !unchanged {
        ui.quality.set(marks);
    }
}
