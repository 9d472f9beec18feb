//! The browser end of `/ws`: opens the socket, says what the page watches,
//! hands every message to the page, and comes back by itself after a drop
//! (with growing pauses), asking again so the server resends what was missed.
//! On the server (SSR) this does nothing: pages render from their snapshot.

use crate::realtime::{ClientMsg, ServerMsg};
use leptos::prelude::*;

/// Starts the live link for the current component. Returns whether the
/// socket is up, for a "reconnecting…" notice.
pub fn use_live(
    requests: impl Fn() -> Vec<ClientMsg> + 'static,
    on_message: impl Fn(ServerMsg) + 'static,
) -> ReadSignal<bool> {
    let (connected, set_connected) = signal(true);
    #[cfg(feature = "hydrate")]
    browser::start(requests, on_message, set_connected);
    #[cfg(not(feature = "hydrate"))]
    let _ = (requests, on_message, set_connected);
    connected
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::*;
    use futures::StreamExt;
    use gloo_net::websocket::{Message, WebSocketError, futures::WebSocket};
    use std::time::Duration;

    /// Close code meaning "signed out": the server will not take us back.
    const SIGNED_OUT: u16 = 4001;

    pub fn start(
        requests: impl Fn() -> Vec<ClientMsg> + 'static,
        on_message: impl Fn(ServerMsg) + 'static,
        set_connected: WriteSignal<bool>,
    ) {
        leptos::task::spawn_local_scoped_with_cancellation(async move {
            let mut pause_ms = 500u32;
            loop {
                let location = window().location();
                let scheme = if location.protocol().ok().as_deref() == Some("https:") {
                    "wss"
                } else {
                    "ws"
                };
                let host = location.host().unwrap_or_default();
                // What we watch goes in the handshake: the first answer
                // comes a round trip sooner than with a message after it.
                let first = serde_json::to_string(&requests()).unwrap_or_default();
                let url = format!(
                    "{scheme}://{host}{}?first={}",
                    crate::realtime::PATH,
                    js_sys::encode_uri_component(&first)
                );
                let mut close_code = 1006;
                if let Ok(socket) = WebSocket::open(&url) {
                    // Kept open for later requests (none yet besides the first).
                    let (_tx, mut rx) = socket.split();
                    while let Some(item) = rx.next().await {
                        match item {
                            Ok(Message::Text(text)) => {
                                set_connected.set(true);
                                mark_live();
                                pause_ms = 500;
                                if let Ok(message) = serde_json::from_str::<ServerMsg>(&text) {
                                    on_message(message);
                                }
                            }
                            Ok(Message::Bytes(_)) => {}
                            Err(WebSocketError::ConnectionClose(event)) => {
                                close_code = event.code;
                                break;
                            }
                            Err(_) => {}
                        }
                    }
                }
                set_connected.set(false);
                if close_code == SIGNED_OUT {
                    // The session ended: a reload shows the sign-in or link page.
                    let _ = location.reload();
                    return;
                }
                let jitter = (js_sys::Math::random() * 300.0) as u32;
                sleep(Duration::from_millis(u64::from(pause_ms + jitter))).await;
                pause_ms = (pause_ms * 2).min(15_000);
            }
        });
    }

    /// `data-live="true"` on the body once the server has answered: the
    /// page is up to date from here on (tests and the bench wait for it).
    fn mark_live() {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-live", "true");
        }
    }

    async fn sleep(duration: Duration) {
        let (done, wait) = futures::channel::oneshot::channel::<()>();
        set_timeout(
            move || {
                let _ = done.send(());
            },
            duration,
        );
        let _ = wait.await;
    }
}

/// Milliseconds since the epoch: the browser's clock, or the server's while
/// rendering. Used for "waiting for 3 min".
pub fn now_ms() -> i64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now() as i64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }
}

/// A clock signal that ticks every `seconds` in the browser.
pub fn use_clock(seconds: u64) -> ReadSignal<i64> {
    let (now, set_now) = signal(now_ms());
    #[cfg(feature = "hydrate")]
    {
        if let Ok(handle) = set_interval_with_handle(
            move || set_now.set(now_ms()),
            std::time::Duration::from_secs(seconds),
        ) {
            on_cleanup(move || handle.clear());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (seconds, set_now);
    now
}
