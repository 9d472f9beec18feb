//! The browser end of `/ws`: opens the socket, says what the page watches,
//! hands every message to the page, and comes back by itself after a drop
//! (with growing pauses), asking again so the server resends what was missed.
//! On the server (SSR) this does nothing: pages render from their snapshot.

use crate::realtime::{ClientMsg, ServerMsg};
use leptos::prelude::*;

/// The live link of a page.
#[derive(Clone, Copy)]
pub struct Live {
    /// Whether the socket is up, for a "reconnecting…" notice. It turns
    /// true again when the server answered after a reconnect.
    pub connected: ReadSignal<bool>,
    /// Counts the (re)connections the server has answered: 1 after the
    /// first answer, 2 after a reconnect, …
    pub ready: ReadSignal<u32>,
    /// Sends a request on the open socket. Requests made while it is down
    /// are dropped: whoever sent them asks again when `connected` returns.
    pub send: Callback<ClientMsg>,
}

/// Starts the live link for the current component.
pub fn use_live(
    requests: impl Fn() -> Vec<ClientMsg> + 'static,
    on_message: impl Fn(ServerMsg) + 'static,
) -> Live {
    let (connected, set_connected) = signal(true);
    let (ready, set_ready) = signal(0u32);
    #[cfg(feature = "hydrate")]
    let send = browser::start(requests, on_message, set_connected, set_ready);
    #[cfg(not(feature = "hydrate"))]
    let send = {
        let _ = (requests, on_message, set_connected, set_ready);
        Callback::new(|_: ClientMsg| {})
    };
    Live {
        connected,
        ready,
        send,
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::*;
    use futures::channel::mpsc;
    use futures::{SinkExt, StreamExt};
    use gloo_net::websocket::{Message, WebSocketError, futures::WebSocket};
    use std::time::Duration;

    /// What the merged socket and outbox streams yield.
    enum Event {
        Received(Result<Message, WebSocketError>),
        Outgoing(ClientMsg),
    }

    /// Close code meaning "signed out": the server will not take us back.
    const SIGNED_OUT: u16 = 4001;

    pub fn start(
        requests: impl Fn() -> Vec<ClientMsg> + 'static,
        on_message: impl Fn(ServerMsg) + 'static,
        set_connected: WriteSignal<bool>,
        set_ready: WriteSignal<u32>,
    ) -> Callback<ClientMsg> {
        let (outbox, mut outgoing) = mpsc::unbounded::<ClientMsg>();
        let send = Callback::new(move |message: ClientMsg| {
            let _ = outbox.unbounded_send(message);
        });
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
                // Requests made while the socket was down are stale.
                while outgoing.try_recv().is_ok() {}
                if let Ok(socket) = WebSocket::open(&url) {
                    let mut answered = false;
                    let (mut tx, rx) = socket.split();
                    let mut events = futures::stream::select(
                        rx.map(Event::Received),
                        outgoing.by_ref().map(Event::Outgoing),
                    );
                    while let Some(event) = events.next().await {
                        let item = match event {
                            Event::Received(item) => item,
                            Event::Outgoing(message) => {
                                if tx.send(Message::Text(message.to_json())).await.is_err() {
                                    break;
                                }
                                continue;
                            }
                        };
                        match item {
                            Ok(Message::Text(text)) => {
                                set_connected.set(true);
                                mark_live();
                                pause_ms = 500;
                                if let Ok(message) = serde_json::from_str::<ServerMsg>(&text) {
                                    on_message(message);
                                }
                                if !answered {
                                    answered = true;
                                    set_ready.update(|n| *n += 1);
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
                sleep_or_online(Duration::from_millis(u64::from(pause_ms + jitter))).await;
                pause_ms = (pause_ms * 2).min(15_000);
            }
        });
        send
    }

    /// `data-live="true"` on the body once the server has answered: the
    /// page is up to date from here on (tests and the bench wait for it).
    fn mark_live() {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-live", "true");
        }
    }

    /// Waits `duration`, or less when the browser says it is back online
    /// (a phone leaving a tunnel should not wait out a long pause).
    async fn sleep_or_online(duration: Duration) {
        let (done, wait) = futures::channel::oneshot::channel::<()>();
        let done = std::rc::Rc::new(std::cell::Cell::new(Some(done)));
        let fire = {
            let done = done.clone();
            move || {
                if let Some(done) = done.take() {
                    let _ = done.send(());
                }
            }
        };
        set_timeout(fire.clone(), duration);
        let online = window_event_listener(leptos::ev::online, move |_| fire());
        let _ = wait.await;
        online.remove();
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
