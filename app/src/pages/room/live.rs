//! What every view of the room shares: the live feed (the socket keeps the
//! room and the chat current), the connection notices, and the consultation
//! itself (video slot, people, chat).

use crate::call::CallStage;
use crate::components::chat::{ChatPanel, merge};
use crate::consultation::{ChatMessage, ParticipantState, RoomState};
use crate::i18n::{Key, role_name, t, use_lang};
use crate::live::use_live;
use crate::realtime::{ClientMsg, ServerMsg};
use leptos::prelude::*;

/// The room as it changes: filled from the page, then kept current by `/ws`.
#[derive(Clone, Copy)]
pub struct RoomFeed {
    pub room: RwSignal<RoomState>,
    pub chat: RwSignal<Vec<ChatMessage>>,
    pub connected: ReadSignal<bool>,
    pub refused: RwSignal<Option<String>>,
    /// Answered (re)connections of the socket (see [`crate::live::Live`]).
    pub ready: ReadSignal<u32>,
    /// Requests on the same socket (the call's signalling).
    pub send: Callback<ClientMsg>,
}

pub fn use_room_feed(room: RoomState, chat: Vec<ChatMessage>) -> RoomFeed {
    let watch_id = room.consultation.clone();
    let room = RwSignal::new(room);
    let chat = RwSignal::new(chat);
    let refused = RwSignal::new(None::<String>);
    let live = use_live(
        move || {
            vec![ClientMsg::WatchConsultation {
                id: watch_id.clone(),
                after: None,
            }]
        },
        move |message| match message {
            ServerMsg::Room { room: fresh } => room.set(fresh),
            ServerMsg::Chat { messages } => merge(chat, messages),
            ServerMsg::Refused { message } => refused.set(Some(message)),
            other => crate::call::on_server_msg(other),
        },
    );
    RoomFeed {
        room,
        chat,
        connected: live.connected,
        refused,
        ready: live.ready,
        send: live.send,
    }
}

/// "Connection lost, reconnecting…" and any refusal from the server.
#[component]
pub fn LiveNotices(feed: RoomFeed) -> impl IntoView {
    view! {
        <Show when=move || !feed.connected.get()>
            <p class="notice" role="status" data-testid="reconnecting">{t(Key::ConnectionLost)}</p>
        </Show>
        {move || feed.refused.get().map(|m| view! { <p class="notice error" role="alert">{m}</p> })}
    }
}

/// The consultation: video slot, who is here, the chat. The clinician's
/// island adds its `controls` under the people and its notes (`aside`).
#[component]
pub fn InRoom(
    feed: RoomFeed,
    #[prop(optional)] controls: Option<AnyView>,
    #[prop(optional)] aside: Option<AnyView>,
) -> impl IntoView {
    let lang = use_lang();
    let room = feed.room;
    let (id, me, can_chat, can_host, patient) = room.with_untracked(|r| {
        (
            r.consultation.clone(),
            r.me.clone(),
            r.can_chat,
            r.can_host,
            r.patient_name.clone(),
        )
    });
    let people = move || {
        room.with(|r| {
            r.participants
                .iter()
                .filter(|p| {
                    matches!(
                        p.state,
                        ParticipantState::Admitted | ParticipantState::Waiting
                    )
                })
                .map(|p| {
                    let role = role_name(lang.get(), p.role);
                    let waiting = p.state == ParticipantState::Waiting;
                    view! {
                        <li data-testid="participant" class:waiting=waiting>
                            {format!("{} — {role}", p.name)}
                        </li>
                    }
                })
                .collect_view()
        })
    };
    view! {
        <h1>{t(Key::RoomTitle)} {can_host.then(|| format!(" — {patient}"))}</h1>
        <Show when=move || room.with(|r| r.status.is_over())>
            <p class="notice" role="status" data-testid="room-closed">{t(Key::RoomClosed)}</p>
        </Show>
        <div class="room-grid">
            <section class="video-slot card" aria-label=t(Key::VideoSlot) data-testid="video-slot">
                <CallStage feed/>
            </section>
            <section class="people card" aria-labelledby="people-heading">
                <h2 id="people-heading">{t(Key::ParticipantsTitle)}</h2>
                <ul>{people}</ul>
                {controls}
            </section>
            {can_chat.then(|| {
                let people = Signal::derive(move || room.with(|r| r.participants.clone()));
                view! { <ChatPanel consultation=id.clone() me=me.clone() chat=feed.chat people/> }
            })}
            {aside}
        </div>
    }
}
