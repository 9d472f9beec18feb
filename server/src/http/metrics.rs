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
    let counter = |value: &std::sync::atomic::AtomicU64| ("counter", value.load(Ordering::Relaxed));
    let gauge = |value: usize| ("gauge", value as u64);
    let metrics = [
        (
            "visita_sfu_packets_received_total",
            "RTP packets received from publishers.",
            counter(&counters.packets_received),
        ),
        (
            "visita_sfu_packets_forwarded_total",
            "RTP packets forwarded to subscribers.",
            counter(&counters.packets_forwarded),
        ),
        (
            "visita_sfu_payload_bytes_forwarded_total",
            "RTP payload bytes forwarded to subscribers.",
            counter(&counters.bytes_forwarded),
        ),
        (
            "visita_sfu_simulcast_layers_total",
            "Simulcast layers that started arriving from publishers.",
            counter(&counters.simulcast_layers),
        ),
        (
            "visita_sfu_layer_switches_total",
            "Times a subscriber was moved to another simulcast layer.",
            counter(&counters.layer_switches),
        ),
        (
            "visita_sfu_videos_held_total",
            "Times a video was held back from a subscriber whose line was too weak for it.",
            counter(&counters.videos_held),
        ),
        (
            "visita_sfu_calls",
            "Consultations with media on this node.",
            gauge(calls),
        ),
        (
            "visita_sfu_participants",
            "Peer connections on this node.",
            gauge(participants),
        ),
    ];
    let mut out = String::new();
    for (name, help, (kind, value)) in metrics {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
