//! The same participant on Janus's videoroom plugin, over Janus's HTTP API
//! (one session per peer connection: Janus publishes and subscribes on
//! separate connections). Every SDP carries its candidates, so neither side
//! trickles; we still tell Janus our gathering is complete.

use crate::measure::Window;
use crate::peer::{Error, Peer};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc::UnboundedSender;

static TRANSACTION: AtomicU64 = AtomicU64::new(1);

fn transaction() -> String {
    TRANSACTION.fetch_add(1, Ordering::Relaxed).to_string()
}

/// A Janus session with one plugin handle.
struct Session {
    http: reqwest::Client,
    url: String,
    handle: u64,
}

impl Session {
    async fn open(http: &reqwest::Client, base: &str) -> Result<Self, Error> {
        let created = post(http, base, json!({ "janus": "create" })).await?;
        let id = created["data"]["id"].as_u64().ok_or("no session id")?;
        let url = format!("{base}/{id}");
        let attached = post(
            http,
            &url,
            json!({ "janus": "attach", "plugin": "janus.plugin.videoroom" }),
        )
        .await?;
        let handle = attached["data"]["id"].as_u64().ok_or("no handle id")?;
        Ok(Self {
            http: http.clone(),
            url,
            handle,
        })
    }

    /// Sends a request to the plugin; returns Janus's immediate reply.
    async fn message(&self, body: Value, jsep: Option<Value>) -> Result<Value, Error> {
        let mut request = json!({ "janus": "message", "body": body });
        if let Some(jsep) = jsep {
            request["jsep"] = jsep;
        }
        post(
            &self.http,
            &format!("{}/{}", self.url, self.handle),
            request,
        )
        .await
    }

    async fn gathering_done(&self) -> Result<(), Error> {
        let request = json!({ "janus": "trickle", "candidate": { "completed": true } });
        post(
            &self.http,
            &format!("{}/{}", self.url, self.handle),
            request,
        )
        .await?;
        Ok(())
    }

    /// The next event of the session (long poll).
    async fn event(&self) -> Result<Value, Error> {
        Ok(self.http.get(&self.url).send().await?.json().await?)
    }

    /// Waits for the plugin event that carries a JSEP.
    async fn jsep(&self) -> Result<Value, Error> {
        loop {
            let event = self.event().await?;
            if let Some(error) = event["plugindata"]["data"]["error"].as_str() {
                return Err(format!("janus: {error}").into());
            }
            if event.get("jsep").is_some() {
                return Ok(event);
            }
        }
    }

    /// Keeps the session alive (Janus drops one that nobody polls).
    async fn poll_forever(&self) {
        while self.event().await.is_ok() {}
    }
}

async fn post(http: &reqwest::Client, url: &str, mut body: Value) -> Result<Value, Error> {
    body["transaction"] = json!(transaction());
    let reply: Value = http.post(url).json(&body).send().await?.json().await?;
    if reply["janus"] == "error" {
        return Err(format!("janus: {}", reply["error"]).into());
    }
    if let Some(error) = reply["plugindata"]["data"]["error"].as_str() {
        return Err(format!("janus: {error}").into());
    }
    Ok(reply)
}

/// Creates the rooms the run uses.
pub async fn create_rooms(base: &str, rooms: u64, participants: u64) -> Result<(), Error> {
    let http = reqwest::Client::new();
    let admin = Session::open(&http, base).await?;
    for room in 0..rooms {
        admin
            .message(
                json!({
                    "request": "create", "room": room_id(room), "publishers": participants,
                    "audiocodec": "opus", "videocodec": "vp8",
                    "bitrate": 0, "fir_freq": 0, "notify_joining": false,
                }),
                None,
            )
            .await?;
    }
    Ok(())
}

pub fn room_id(room: u64) -> u64 {
    1000 + room
}

pub fn feed_id(room: u64, seat: u64) -> u64 {
    room_id(room) * 100 + seat + 1
}

/// Publishes as `feed` in `room`; once every seat of the room has
/// published (`all_published`), subscribes to the others. Runs until
/// aborted.
#[allow(clippy::too_many_arguments)]
pub async fn join(
    base: String,
    ip: String,
    room: u64,
    seat: u64,
    seats: u64,
    video_pps: u32,
    window: Arc<Window>,
    published: UnboundedSender<Result<(), String>>,
    mut all_published: tokio::sync::watch::Receiver<bool>,
    joined: UnboundedSender<Result<(), String>>,
) {
    let http = reqwest::Client::new();
    let name = format!("r{room}s{seat}");
    let publisher = async {
        let session = Session::open(&http, &base).await?;
        let body = json!({
            "request": "join", "ptype": "publisher", "room": room_id(room),
            "id": feed_id(room, seat), "display": name,
        });
        session.message(body, None).await?;
        let mut peer = Peer::new(window.clone(), &ip).await?;
        let sender = peer.publish(&name, video_pps).await?;
        let offer = peer.offer().await?;
        session
            .message(
                json!({ "request": "publish", "audio": true, "video": true }),
                Some(json!({ "type": "offer", "sdp": offer })),
            )
            .await?;
        session.gathering_done().await?;
        let answer = session.jsep().await?;
        let sdp = answer["jsep"]["sdp"].as_str().ok_or("no answer sdp")?;
        if std::env::var_os("SFU_BENCH_DEBUG").is_some() {
            eprintln!("{name} offer:\n{offer}\n{name} answer:\n{sdp}");
        }
        peer.accept(sdp.to_string()).await?;
        // Janus offers a feed to subscribers only once its connection is up.
        let mut connected = peer.connected.clone();
        tokio::time::timeout(
            std::time::Duration::from_secs(20),
            connected.wait_for(|up| *up),
        )
        .await
        .map_err(|_| "the publisher's connection did not come up")??;
        Ok::<_, Error>((session, peer, sender))
    };
    let (pub_session, pub_peer, sender) = match publisher.await {
        Ok(done) => done,
        Err(error) => {
            let _ = published.send(Err(format!("{name} publish: {error}")));
            return;
        }
    };
    let _ = published.send(Ok(()));
    let _ = all_published.wait_for(|all| *all).await;
    let subscriber = async {
        let session = Session::open(&http, &base).await?;
        let streams: Vec<Value> = (0..seats)
            .filter(|other| *other != seat)
            .map(|other| json!({ "feed": feed_id(room, other) }))
            .collect();
        let body = json!({
            "request": "join", "ptype": "subscriber", "room": room_id(room), "streams": streams,
        });
        session.message(body, None).await?;
        let offer = session.jsep().await?;
        let sdp = offer["jsep"]["sdp"].as_str().ok_or("no offer sdp")?;
        let mut peer = Peer::new(window.clone(), &ip).await?;
        let answer = peer.answer(sdp.to_string()).await?;
        session
            .message(
                json!({ "request": "start" }),
                Some(json!({ "type": "answer", "sdp": answer })),
            )
            .await?;
        session.gathering_done().await?;
        Ok::<_, Error>((session, peer))
    };
    match subscriber.await {
        Ok((sub_session, sub_peer)) => {
            let _ = joined.send(Ok(()));
            tokio::join!(pub_session.poll_forever(), sub_session.poll_forever());
            let _ = sub_peer.pc.close().await;
        }
        Err(error) => {
            let _ = joined.send(Err(format!("{name} subscribe: {error}")));
        }
    }
    sender.abort();
    let _ = pub_peer.pc.close().await;
}
