//! `/ws`: one socket per tab. The browser says what it watches
//! ([`ClientMsg`]); we answer with a snapshot and then with every change the
//! hub reports that this person may see ([`ServerMsg`]). The handshake is
//! checked like a state-changing request (same origin, a live session), and
//! the session is checked again every minute while the socket stays open.

use super::hub::Change;
use crate::http::csrf;
use crate::sfu::{Member, PeerHandle};
use crate::state::AppState;
use app::authz::Caller;
use app::consultation::{
    ConsultationId, MessageId, ParticipantState, ParticipantView, QueueId, RoomState,
};
use app::realtime::{ClientMsg, MAX_CLIENT_FRAME, ServerMsg};
use app::ssr::{ClientInfo, Consultations, CurrentSession, CurrentVisitor};
use axum::Extension;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

/// Browsers may use 4000–4999; this one means "signed out, do not retry".
pub const CLOSE_SIGNED_OUT: u16 = 4001;
/// How often the session behind an open socket is checked again.
const RECHECK_EVERY: Duration = Duration::from_secs(60);
/// Keeps proxies from closing an idle socket.
const PING_EVERY: Duration = Duration::from_secs(25);

/// `/ws?first=<JSON array of requests>`: what the page watches, said in the
/// handshake so the first answer comes one round trip sooner (it matters on
/// a slow line). The same requests can also be sent as messages.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Opening {
    first: Option<String>,
}

pub async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    Query(opening): Query<Opening>,
    headers: HeaderMap,
    session: Option<Extension<CurrentSession>>,
    visitor: Option<Extension<CurrentVisitor>>,
    client: Option<Extension<ClientInfo>>,
) -> Response {
    // A page of another site must not open a socket with our cookies.
    if headers.get(axum::http::header::ORIGIN).is_none()
        || csrf::check(&Method::POST, &headers, state.config.public_origin()).is_err()
    {
        return (StatusCode::FORBIDDEN, "Cross-site socket refused.").into_response();
    }
    let session = session.map(|Extension(s)| s);
    let visitor = visitor.map(|Extension(v)| v);
    if session.is_none() && visitor.is_none() {
        return (
            StatusCode::UNAUTHORIZED,
            "Please sign in or open your link again.",
        )
            .into_response();
    }
    let first: Vec<ClientMsg> = match opening.first.as_deref() {
        None => Vec::new(),
        Some(text) if text.len() <= MAX_CLIENT_FRAME => match serde_json::from_str(text) {
            Ok(requests) => requests,
            Err(_) => {
                return (StatusCode::BAD_REQUEST, "This request was not understood.")
                    .into_response();
            }
        },
        Some(_) => return (StatusCode::BAD_REQUEST, "Too many requests at once.").into_response(),
    };
    let client = client.map(|Extension(c)| c).unwrap_or_default();
    ws.max_message_size(MAX_CLIENT_FRAME)
        .max_frame_size(MAX_CLIENT_FRAME)
        .on_upgrade(move |socket| async move {
            let mut connection = Connection {
                state,
                session,
                visitor,
                client,
                watching_queues: None,
                watching_translations: false,
                watching: None,
                media: None,
                media_events: None,
            };
            connection.run(socket, first).await;
            // The socket is gone: so is its place on the call.
            connection.leave_call();
        })
}

/// What one socket watches.
struct Watched {
    id: ConsultationId,
    queue: Option<QueueId>,
    room: RoomState,
}

struct Connection {
    state: AppState,
    session: Option<CurrentSession>,
    visitor: Option<CurrentVisitor>,
    client: ClientInfo,
    /// The staff member's queues, once they asked for the day list.
    watching_queues: Option<Vec<QueueId>>,
    /// A translator watching requests in their languages.
    watching_translations: bool,
    watching: Option<Watched>,
    /// This page's connection to the SFU, once it joined the call.
    media: Option<PeerHandle>,
    /// What the SFU has to tell the page (answers, candidates, members).
    media_events: Option<mpsc::UnboundedReceiver<ServerMsg>>,
}

/// The next message from the SFU, or never when not on a call.
async fn next_media_event(
    events: &mut Option<mpsc::UnboundedReceiver<ServerMsg>>,
) -> Option<ServerMsg> {
    match events {
        Some(events) => events.recv().await,
        None => std::future::pending().await,
    }
}

enum Step {
    Continue,
    Close(Option<CloseFrame>),
}

impl Connection {
    async fn run(&mut self, mut socket: WebSocket, first: Vec<ClientMsg>) {
        let mut changes = self.state.hub.subscribe();
        for request in first {
            let outgoing = self.on_message(request).await;
            if !send_all(&mut socket, outgoing).await {
                return;
            }
        }
        let mut stop = self.state.stop.clone();
        let mut recheck = tokio::time::interval(RECHECK_EVERY);
        recheck.tick().await;
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.tick().await;
        loop {
            let outgoing: Vec<ServerMsg>;
            let step = tokio::select! {
                _ = stop.changed() => Step::Close(Some(CloseFrame {
                    code: axum::extract::ws::close_code::RESTART,
                    reason: "Visita is restarting".into(),
                })),
                frame = socket.recv() => match frame {
                    Some(Ok(Message::Text(text))) => {
                        outgoing = self.on_request(&text).await;
                        if !send_all(&mut socket, outgoing).await {
                            return;
                        }
                        Step::Continue
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => Step::Continue,
                },
                change = changes.recv() => {
                    outgoing = match change {
                        Ok(change) => self.on_change(change).await,
                        Err(RecvError::Lagged(_)) => self.on_change(Change::Resync).await,
                        Err(RecvError::Closed) => return,
                    };
                    if !send_all(&mut socket, outgoing).await {
                        return;
                    }
                    Step::Continue
                }
                _ = recheck.tick() => {
                    if self.still_signed_in().await {
                        Step::Continue
                    } else {
                        Step::Close(Some(CloseFrame {
                            code: CLOSE_SIGNED_OUT,
                            reason: "signed out".into(),
                        }))
                    }
                }
                event = next_media_event(&mut self.media_events) => {
                    match event {
                        Some(message) => {
                            if !send_all(&mut socket, vec![message]).await {
                                return;
                            }
                        }
                        // The SFU dropped this peer (replaced, or shutting down).
                        None => {
                            self.media = None;
                            self.media_events = None;
                        }
                    }
                    Step::Continue
                }
                _ = ping.tick() => {
                    if socket.send(Message::Ping(Default::default())).await.is_err() {
                        return;
                    }
                    Step::Continue
                }
            };
            if let Step::Close(frame) = step {
                let _ = socket.send(Message::Close(frame)).await;
                return;
            }
        }
    }

    fn caller(&self, id: &ConsultationId) -> Option<Caller<'_>> {
        Caller::for_consultation(
            self.visitor.as_ref().map(|v| &v.visitor),
            self.session.as_ref().map(|s| &s.principal),
            id,
        )
    }

    async fn still_signed_in(&mut self) -> bool {
        if let Some(session) = &self.session {
            match self.state.accounts.resolve_session(&session.secret).await {
                Ok(Some(fresh)) => self.session = Some(fresh),
                Ok(None) => self.session = None,
                // The database is down: keep the socket, try again later.
                Err(_) => return true,
            }
        }
        if let Some(visitor) = &self.visitor {
            match self
                .state
                .consultations
                .resolve_visitor(&visitor.secret)
                .await
            {
                Ok(Some(fresh)) => self.visitor = Some(fresh),
                Ok(None) => self.visitor = None,
                Err(_) => return true,
            }
        }
        self.session.is_some() || self.visitor.is_some()
    }

    async fn on_request(&mut self, text: &str) -> Vec<ServerMsg> {
        match serde_json::from_str::<ClientMsg>(text) {
            Ok(request) => self.on_message(request).await,
            Err(_) => vec![refused("This request was not understood. Reload the page.")],
        }
    }

    async fn on_message(&mut self, request: ClientMsg) -> Vec<ServerMsg> {
        match request {
            ClientMsg::Ping => vec![ServerMsg::Pong],
            ClientMsg::WatchQueues => {
                let Some(session) = &self.session else {
                    return vec![refused("Please sign in first.")];
                };
                match self.state.consultations.day_list(&session.principal).await {
                    Ok(consultations) => {
                        self.watching_queues = Some(session.principal.queues.clone());
                        vec![ServerMsg::Queues { consultations }]
                    }
                    Err(e) => vec![refused(&e.to_string())],
                }
            }
            ClientMsg::WatchConsultation { id, after } => self.watch(id, after).await,
            ClientMsg::MediaPass { id } => self.media_pass(id).await,
            ClientMsg::MediaJoin { token, sdp } => self.media_join(&token, sdp).await,
            ClientMsg::MediaSdp { kind, sdp } => match &self.media {
                Some(peer) => peer
                    .sdp(kind, sdp)
                    .err()
                    .map(media_error)
                    .into_iter()
                    .collect(),
                None => vec![media_error(crate::sfu::SfuError::NotJoined)],
            },
            ClientMsg::MediaCandidate { candidate } => {
                if let Some(peer) = &self.media {
                    peer.candidate(candidate);
                }
                Vec::new()
            }
            ClientMsg::MediaSending { sending } => {
                if let Some(peer) = &self.media {
                    peer.sending(sending);
                }
                Vec::new()
            }
            ClientMsg::MediaDataSaver { on } => {
                if let Some(peer) = &self.media {
                    peer.data_saver(on);
                }
                Vec::new()
            }
            ClientMsg::MediaLeave => {
                self.leave_call();
                Vec::new()
            }
            ClientMsg::WatchTranslations => {
                let Some(session) = &self.session else {
                    return vec![refused("Please sign in first.")];
                };
                match self
                    .state
                    .consultations
                    .translation_requests(&session.principal)
                    .await
                {
                    Ok(requests) => {
                        self.watching_translations = true;
                        vec![ServerMsg::Translations { requests }]
                    }
                    Err(e) => vec![refused(&e.to_string())],
                }
            }
        }
    }

    async fn watch(&mut self, id: ConsultationId, after: Option<MessageId>) -> Vec<ServerMsg> {
        let Some(caller) = self.caller(&id) else {
            return vec![refused("Please sign in first.")];
        };
        let consultations = &self.state.consultations;
        let room = match consultations.room(caller, &id, &self.client).await {
            Ok(room) => room,
            Err(e) => return vec![refused(&e.to_string())],
        };
        let mut out = Vec::new();
        if room.can_chat {
            match consultations
                .messages(caller, &id, after.as_ref(), &self.client)
                .await
            {
                Ok(messages) => out.push(ServerMsg::Chat { messages }),
                Err(e) => return vec![refused(&e.to_string())],
            }
        }
        let queue = consultations.queue_of(&id).await.ok().flatten();
        out.insert(0, ServerMsg::Room { room: room.clone() });
        self.watching = Some(Watched { id, queue, room });
        out
    }

    /// A pass to the call, for a participant let into an open consultation
    /// (never for someone in the waiting room).
    async fn media_pass(&mut self, id: ConsultationId) -> Vec<ServerMsg> {
        match self.admitted_place(&id).await {
            Ok(me) => vec![ServerMsg::MediaPass {
                pass: self.state.sfu.pass(&id, &me.id, true),
            }],
            Err(refusal) => vec![refusal],
        }
    }

    /// This page's place in the room as it is now, when that place is let
    /// into an open consultation; otherwise what to answer.
    async fn admitted_place(&self, id: &ConsultationId) -> Result<ParticipantView, ServerMsg> {
        let caller = self
            .caller(id)
            .ok_or_else(|| refused("Please sign in first."))?;
        let room = self
            .state
            .consultations
            .room(caller, id, &self.client)
            .await
            .map_err(|e| refused(&e.to_string()))?;
        let admitted = room.my_state == Some(ParticipantState::Admitted) && !room.status.is_over();
        room.me
            .as_ref()
            .filter(|_| admitted)
            .and_then(|me| room.participants.iter().find(|p| &p.id == me))
            .cloned()
            .ok_or_else(|| media_error(crate::sfu::SfuError::NotAdmitted))
    }

    /// Joins the call with a pass: it must be valid, for the consultation
    /// this page watches and for the person on this page.
    async fn media_join(&mut self, token: &str, sdp: String) -> Vec<ServerMsg> {
        let claims = match self.state.sfu.check_pass(token) {
            Ok(claims) => claims,
            Err(e) => return vec![media_error(e.into())],
        };
        let Some(watched) = &self.watching else {
            return vec![media_error(crate::sfu::SfuError::NotAdmitted)];
        };
        // The room as it is now, not as it was when the page opened.
        let id = watched.id.clone();
        let view = match self.admitted_place(&id).await {
            Ok(me) if me.id.0 == claims.sub && id.0 == claims.room => me,
            Ok(_) => return vec![media_error(crate::sfu::SfuError::NotAdmitted)],
            Err(refusal) => return vec![refusal],
        };
        let member = Member {
            participant: view.id,
            name: view.name,
            role: view.role,
            publish: claims.publish,
        };
        self.leave_call();
        let (events, receiver) = mpsc::unbounded_channel();
        match self.state.sfu.join(&id, member, sdp, events).await {
            Ok(peer) => {
                if let Some(caller) = self.caller(&id) {
                    self.state
                        .consultations
                        .audit(
                            caller,
                            "call.join",
                            format!("consultation:{id}"),
                            &self.client,
                            "ok",
                        )
                        .await;
                }
                self.media = Some(peer);
                self.media_events = Some(receiver);
                Vec::new()
            }
            Err(e) => vec![media_error(e)],
        }
    }

    fn leave_call(&mut self) {
        if let Some(peer) = self.media.take() {
            peer.leave();
        }
        self.media_events = None;
    }

    async fn on_change(&mut self, change: Change) -> Vec<ServerMsg> {
        let mut out = Vec::new();
        match change {
            Change::Translations => {
                if self.watching_translations {
                    out.extend(self.on_message(ClientMsg::WatchTranslations).await);
                }
            }
            Change::Resync => {
                if self.watching_translations {
                    out.extend(self.on_message(ClientMsg::WatchTranslations).await);
                }
                if self.watching_queues.is_some() {
                    out.extend(self.on_message(ClientMsg::WatchQueues).await);
                }
                if let Some(watched) = self.watching.take() {
                    out.extend(self.watch(watched.id, None).await);
                }
            }
            Change::Message(message) => {
                if let Some(watched) = &self.watching
                    && watched.id == message.consultation
                    && watched.room.can_chat
                {
                    out.push(ServerMsg::Chat {
                        messages: vec![message],
                    });
                }
            }
            Change::Consultation(id) => {
                let consultations = &self.state.consultations;
                let needs_queue = self.watching_queues.is_some()
                    || self
                        .watching
                        .as_ref()
                        .is_some_and(|w| w.room.my_state == Some(ParticipantState::Waiting));
                let queue = if needs_queue {
                    consultations.queue_of(&id).await.ok().flatten()
                } else {
                    None
                };
                if let (Some(mine), Some(queue)) = (&self.watching_queues, &queue)
                    && mine.contains(queue)
                    && let Ok(summary) = consultations.summary(&id).await
                {
                    out.push(ServerMsg::ConsultationChanged {
                        consultation: summary,
                    });
                }
                // The watched room changed, or (for someone waiting) the
                // queue in front of them did.
                let refresh = self.watching.as_ref().is_some_and(|w| {
                    w.id == id
                        || (w.room.my_state == Some(ParticipantState::Waiting)
                            && queue.is_some()
                            && w.queue == queue)
                });
                if refresh && let Some(watched) = &self.watching {
                    let watched_id = watched.id.clone();
                    let could_chat = watched.room.can_chat;
                    if let Some(caller) = self.caller(&watched_id) {
                        match consultations.room(caller, &watched_id, &self.client).await {
                            Ok(room) => {
                                // Let in just now: the chat so far comes too.
                                if room.can_chat
                                    && !could_chat
                                    && let Ok(messages) = consultations
                                        .messages(caller, &watched_id, None, &self.client)
                                        .await
                                {
                                    out.push(ServerMsg::Chat { messages });
                                }
                                out.insert(0, ServerMsg::Room { room: room.clone() });
                                // Out of the consultation: off the call.
                                if room.my_state != Some(ParticipantState::Admitted)
                                    || room.status.is_over()
                                {
                                    self.leave_call();
                                }
                                if let Some(w) = self.watching.as_mut() {
                                    w.room = room;
                                }
                            }
                            Err(e) => out.push(refused(&e.to_string())),
                        }
                    }
                }
            }
        }
        out
    }
}

fn media_error(error: crate::sfu::SfuError) -> ServerMsg {
    ServerMsg::MediaError {
        retry: error.may_retry(),
        message: error.to_string(),
    }
}

fn refused(message: &str) -> ServerMsg {
    ServerMsg::Refused {
        message: message.to_string(),
    }
}

/// False when the socket is gone.
async fn send_all(socket: &mut WebSocket, messages: Vec<ServerMsg>) -> bool {
    for message in messages {
        if socket
            .send(Message::Text(message.to_json().into()))
            .await
            .is_err()
        {
            return false;
        }
    }
    true
}
