//! `/room/<id>`: the one page of a consultation, for everyone in it. What
//! it shows follows the person's place, live: the waiting room (with the
//! device check and their place in the queue), "you left", the
//! consultation itself (video slot, people, chat, and for the clinician the
//! controls), or "the consultation has ended".

use crate::api::chat::messages;
use crate::api::consultations::{Admit, CloseConsultation, Leave, Rejoin, load_room};
use crate::components::chat::{ChatPanel, merge};
use crate::components::devices::DeviceCheck;
use crate::components::patient_frame::{PatientFrame, lang_from_query, set_status};
use crate::consultation::{
    ChatMessage, ConsultationStatus, ParticipantRole, ParticipantState, RoomState,
};
use crate::error::AppError;
use crate::i18n::{Key, provide_lang, role_name, t, t_with, use_lang};
use crate::live::use_live;
use crate::realtime::{ClientMsg, ServerMsg};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// The first picture of the page: the room and, if allowed, the chat.
async fn snapshot(id: String) -> Result<(RoomState, Vec<ChatMessage>), AppError> {
    let room = load_room(id.clone()).await?;
    let chat = if room.can_chat {
        messages(id, None).await?
    } else {
        Vec::new()
    };
    Ok((room, chat))
}

#[component]
pub fn RoomPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let first = Resource::new(id, snapshot);
    let chosen = lang_from_query();

    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match first.await {
                    Ok((room, chat)) => {
                        provide_lang(chosen.unwrap_or(room.language));
                        view! { <LiveRoom room chat/> }.into_any()
                    }
                    Err(error) => {
                        set_status(error.status());
                        provide_lang(chosen.unwrap_or_default());
                        view! { <NoRoom error/> }.into_any()
                    }
                }
            })}
        </Suspense>
    }
    .into_any()
}

/// Nobody to show the room to: the link session ended, or this is someone
/// else's consultation.
#[component]
fn NoRoom(error: AppError) -> impl IntoView {
    let message = match error {
        AppError::NotSignedIn => t(Key::DeadUnknownBody)().to_string(),
        other => other.to_string(),
    };
    view! {
        <PatientFrame clinic="Visita">
            <h1>{t(Key::DeadUnknownTitle)}</h1>
            <p class="notice error" role="alert" data-testid="no-room">{message}</p>
        </PatientFrame>
    }
    .into_any()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    Waiting,
    Left,
    InRoom,
    Ended,
}

fn view_of(room: &RoomState) -> View {
    if room.status.is_over() || room.my_state == Some(ParticipantState::Removed) {
        return View::Ended;
    }
    // Staff of the queue see the room whatever their own place.
    if room.can_host {
        return View::InRoom;
    }
    match room.my_state {
        Some(ParticipantState::Admitted) => View::InRoom,
        Some(ParticipantState::Left) => View::Left,
        Some(ParticipantState::Waiting | ParticipantState::Invited) => View::Waiting,
        // A translator or colleague with a place but no state yet.
        _ if room.can_chat => View::InRoom,
        _ => View::Waiting,
    }
}

#[component]
fn LiveRoom(room: RoomState, chat: Vec<ChatMessage>) -> impl IntoView {
    let id = room.consultation.clone();
    let clinic = room.clinic.clone();
    let room = RwSignal::new(room);
    let chat = RwSignal::new(chat);
    let refused = RwSignal::new(None::<String>);
    let watch_id = id.clone();
    let connected = use_live(
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
            _ => {}
        },
    );
    let kind = Memo::new(move |_| room.with(view_of));

    view! {
        <Title text=t(Key::PageTitle)/>
        <PatientFrame clinic>
            <Show when=move || !connected.get()>
                <p class="notice" role="status" data-testid="reconnecting">{t(Key::ConnectionLost)}</p>
            </Show>
            {move || refused.get().map(|m| view! { <p class="notice error" role="alert">{m}</p> })}
            {move || match kind.get() {
                View::Waiting => view! { <WaitingRoom room/> }.into_any(),
                View::Left => view! { <LeftWaitingRoom/> }.into_any(),
                View::Ended => view! { <Ended/> }.into_any(),
                View::InRoom => view! { <InRoom room chat/> }.into_any(),
            }}
        </PatientFrame>
    }
    .into_any()
}

#[component]
fn WaitingRoom(room: RwSignal<RoomState>) -> impl IntoView {
    let leave = ServerAction::<Leave>::new();
    let host = move || room.with(|r| r.host_name.clone());
    let position = move || room.with(|r| r.position);
    let host_ready = move || {
        room.with(|r| {
            r.participants
                .iter()
                .any(|p| p.role == ParticipantRole::Host && p.state == ParticipantState::Admitted)
        })
    };
    view! {
        <h1 data-testid="waiting-title">{t(Key::WaitingTitle)}</h1>
        <div class="card big" aria-live="polite" data-testid="waiting-status">
            <p>{t_with(Key::WaitingBody, move || vec![("clinician", host())])}</p>
            {move || {
                let text = match position() {
                    Some(1) => t(Key::WaitingNext)().to_string(),
                    Some(2) => t(Key::WaitingPositionOne)().to_string(),
                    Some(n) => t_with(Key::WaitingPositionMany, move || vec![("count", (n - 1).to_string())])(),
                    None => String::new(),
                };
                (!text.is_empty()).then(|| view! { <p class="position" data-testid="position">{text}</p> })
            }}
            <Show when=host_ready>
                <p class="notice success">{t(Key::WaitingReady)}</p>
            </Show>
        </div>
        <DeviceCheck/>
        <ActionForm action=leave>
            <button type="submit" class="secondary big" id="leave">{t(Key::WaitingLeave)}</button>
        </ActionForm>
    }
    .into_any()
}

#[component]
fn LeftWaitingRoom() -> impl IntoView {
    let rejoin = ServerAction::<Rejoin>::new();
    view! {
        <h1 data-testid="left-title">{t(Key::LeftTitle)}</h1>
        <p class="lead big">{t(Key::LeftBody)}</p>
        <ActionForm action=rejoin>
            <button type="submit" class="primary huge" id="rejoin">{t(Key::LeftRejoin)}</button>
        </ActionForm>
        {move || {
            rejoin.value()
                .get()
                .and_then(Result::err)
                .map(|error| view! { <p class="notice error" role="alert">{error.to_string()}</p> })
        }}
    }
    .into_any()
}

#[component]
fn Ended() -> impl IntoView {
    view! {
        <h1 data-testid="ended">{t(Key::EndedTitle)}</h1>
        <p class="lead big">{t(Key::EndedBody)}</p>
    }
    .into_any()
}

#[component]
fn InRoom(room: RwSignal<RoomState>, chat: RwSignal<Vec<ChatMessage>>) -> impl IntoView {
    let lang = use_lang();
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
        <div class="room-grid">
            <section class="video-slot card" aria-label=t(Key::VideoSlot) data-testid="video-slot">
                <p class="empty">{t(Key::VideoSlot)}</p>
            </section>
            <section class="people card" aria-labelledby="people-heading">
                <h2 id="people-heading">{t(Key::ParticipantsTitle)}</h2>
                <ul>{people}</ul>
                {can_host.then(|| view! { <HostControls room/> })}
            </section>
            {can_chat.then(|| view! { <ChatPanel consultation=id.clone() me=me.clone() chat/> })}
        </div>
    }
    .into_any()
}

/// What only the clinician sees: who waits (with Admit), and Close.
#[component]
fn HostControls(room: RwSignal<RoomState>) -> impl IntoView {
    let admit = ServerAction::<Admit>::new();
    let close = ServerAction::<CloseConsultation>::new();
    let id = StoredValue::new(room.with_untracked(|r| r.consultation.0.clone()));
    let waiting = move || {
        room.with(|r| {
            r.participants
                .iter()
                .filter(|p| p.state == ParticipantState::Waiting)
                .map(|p| {
                    let participant = p.id.0.clone();
                    let label = format!("Admit {}", p.name);
                    view! {
                        <ActionForm action=admit attr:class="inline">
                            <input type="hidden" name="participant" value=participant/>
                            <button type="submit" class="primary">{label}</button>
                        </ActionForm>
                    }
                })
                .collect_view()
        })
    };
    let active = move || room.with(|r| r.status == ConsultationStatus::Active);
    view! {
        <div class="host-controls">
            {waiting}
            <Show when=active>
                <ActionForm action=close attr:class="inline">
                    <input type="hidden" name="consultation" value=id.get_value()/>
                    <button type="submit" class="danger" id="close-consultation">"Close the consultation"</button>
                </ActionForm>
            </Show>
            {move || {
                admit.value()
                    .get()
                    .and_then(Result::err)
                    .or_else(|| close.value().get().and_then(Result::err))
                    .map(|error| view! { <p class="notice error" role="alert">{error.to_string()}</p> })
            }}
        </div>
    }
    .into_any()
}
