//! A participant on Visita's SFU, signalling as the browser does: `/ws`
//! with the session cookie, a media pass, `media_join` with the offer, then
//! answers to the SFU's offers as the others' tracks come and go.

use crate::measure::Window;
use crate::peer::{Error, Peer};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// One admitted participant, as bench/sfu.mjs set them up.
#[derive(Debug, Clone, Deserialize)]
pub struct Seat {
    pub cookie: String,
    pub consultation: String,
}

/// Joins the call and keeps answering until the task is aborted.
pub async fn join(
    origin: String,
    seat: Seat,
    name: String,
    video_pps: u32,
    window: Arc<Window>,
    joined: tokio::sync::mpsc::UnboundedSender<Result<(), String>>,
) {
    if let Err(error) = run(&origin, &seat, &name, video_pps, window, &joined).await {
        let _ = joined.send(Err(format!("{name}: {error}")));
    }
}

async fn run(
    origin: &str,
    seat: &Seat,
    name: &str,
    video_pps: u32,
    window: Arc<Window>,
    joined: &tokio::sync::mpsc::UnboundedSender<Result<(), String>>,
) -> Result<(), Error> {
    // As the room page does: watch the consultation, then ask for a pass.
    let first = json!([
        { "type": "watch_consultation", "id": seat.consultation, "after": null },
        { "type": "media_pass", "id": seat.consultation },
    ])
    .to_string();
    let ws_url = format!(
        "{}/ws?first={}",
        origin.replacen("http", "ws", 1),
        encode(&first)
    );
    let mut request = ws_url.into_client_request()?;
    request.headers_mut().insert("cookie", seat.cookie.parse()?);
    request.headers_mut().insert("origin", origin.parse()?);
    let (socket, _) = tokio_tungstenite::connect_async(request).await?;
    let (mut out, mut incoming) = socket.split();
    let mut peer = Peer::new(window, "127.0.0.1").await?;
    let sender = peer.publish(name, video_pps).await?;
    let mut told = false;
    let mut ping = tokio::time::interval(std::time::Duration::from_secs(20));
    let result = loop {
        let message = tokio::select! {
            message = incoming.next() => message,
            _ = ping.tick() => {
                out.send(Message::text(json!({"type": "ping"}).to_string())).await?;
                continue;
            }
        };
        let Some(message) = message else {
            break Err("the server closed the socket".into());
        };
        let Message::Text(text) = message? else {
            continue;
        };
        let message: Value = serde_json::from_str(text.as_str())?;
        match message["type"].as_str() {
            Some("media_pass") => {
                let token = message["pass"]["token"].as_str().unwrap_or_default();
                let sdp = peer.offer().await?;
                let join = json!({ "type": "media_join", "token": token, "sdp": sdp });
                out.send(Message::text(join.to_string())).await?;
            }
            Some("media_sdp") => {
                let sdp = message["sdp"].as_str().unwrap_or_default().to_string();
                if message["kind"] == "answer" {
                    peer.accept(sdp).await?;
                    if !told {
                        told = true;
                        let _ = joined.send(Ok(()));
                    }
                } else {
                    let answer = peer.answer(sdp).await?;
                    let reply = json!({ "type": "media_sdp", "kind": "answer", "sdp": answer });
                    out.send(Message::text(reply.to_string())).await?;
                }
            }
            Some("media_candidate") => {
                let candidate = &message["candidate"];
                if let Some(line) = candidate["candidate"].as_str() {
                    let mline = candidate["sdp_m_line_index"].as_u64().map(|i| i as u16);
                    peer.add_candidate(line.to_string(), mline).await;
                }
            }
            Some("media_error") => break Err(format!("media_error: {}", message["message"]).into()),
            _ => {}
        }
    };
    sender.abort();
    let _ = peer.pc.close().await;
    result
}

/// Percent-encodes a query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
