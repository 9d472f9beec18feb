//! `/metrics` in Prometheus' text format: the SFU's counters and load.
//! Served to this machine only (a scraper on the host, or a sidecar):
//! call counts are not for the internet.

use crate::state::AppState;
use app::ssr::ClientInfo;
use axum::Extension;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

pub async fn metrics(
    State(state): State<AppState>,
    client: Option<Extension<ClientInfo>>,
) -> Response {
    let local = client
        .and_then(|Extension(c)| c.ip)
        .is_some_and(|ip| ip.is_loopback());
    if !local {
        return (
            StatusCode::FORBIDDEN,
            "Metrics are served to this machine only.",
        )
            .into_response();
    }
    let counters = state.sfu.counters();
    let (calls, participants) = state.sfu.load();
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    metric(
        "visita_sfu_packets_received_total",
        "counter",
        "RTP packets received from publishers.",
        counters.packets_received.load(Ordering::Relaxed),
    );
    metric(
        "visita_sfu_packets_forwarded_total",
        "counter",
        "RTP packets forwarded to subscribers.",
        counters.packets_forwarded.load(Ordering::Relaxed),
    );
    metric(
        "visita_sfu_payload_bytes_forwarded_total",
        "counter",
        "RTP payload bytes forwarded to subscribers.",
        counters.bytes_forwarded.load(Ordering::Relaxed),
    );
    metric(
        "visita_sfu_simulcast_layers_total",
        "counter",
        "Simulcast layers that started arriving from publishers.",
        counters.simulcast_layers.load(Ordering::Relaxed),
    );
    metric(
        "visita_sfu_layer_switches_total",
        "counter",
        "Times a subscriber was moved to another simulcast layer.",
        counters.layer_switches.load(Ordering::Relaxed),
    );
    metric(
        "visita_sfu_videos_held_total",
        "counter",
        "Times a video was held back from a subscriber whose line was too weak for it.",
        counters.videos_held.load(Ordering::Relaxed),
    );
    metric(
        "visita_sfu_calls",
        "gauge",
        "Consultations with media on this node.",
        calls as u64,
    );
    metric(
        "visita_sfu_participants",
        "gauge",
        "Peer connections on this node.",
        participants as u64,
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
