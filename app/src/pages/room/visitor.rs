//! The room as everyone but the host sees it (patient, guest, translator,
//! colleague): the waiting room until they are let in, then the
//! consultation, "you left", or "it has ended". In the patient bundle.

use super::live::{InRoom, LiveNotices, RoomFeed, use_room_feed};
use crate::api::consultations::{Leave, Rejoin};
use crate::components::devices::DeviceCheck;
use crate::consultation::{ChatMessage, ParticipantRole, ParticipantState, RoomState};
use crate::i18n::{Key, Lang, provide_lang, t, t_with};
use leptos::either::EitherOf4;
use leptos::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Waiting,
    Left,
    InRoom,
    Ended,
}

fn place_of(room: &RoomState) -> Place {
    if room.status.is_over() || room.my_state == Some(ParticipantState::Removed) {
        return Place::Ended;
    }
    match room.my_state {
        Some(ParticipantState::Admitted) => Place::InRoom,
        Some(ParticipantState::Left) => Place::Left,
        Some(ParticipantState::Waiting | ParticipantState::Invited) => Place::Waiting,
        // A translator or colleague with a place but no state yet.
        _ if room.can_chat => Place::InRoom,
        _ => Place::Waiting,
    }
}

#[island]
pub fn VisitorRoom(room: RoomState, chat: Vec<ChatMessage>, lang: Lang) -> impl IntoView {
    provide_lang(lang);
    let feed = use_room_feed(room, chat);
    let place = Memo::new(move |_| feed.room.with(place_of));
    view! {
        <LiveNotices feed/>
        {move || match place.get() {
            Place::Waiting => EitherOf4::A(view! { <WaitingRoom feed/> }),
            Place::Left => EitherOf4::B(view! { <LeftWaitingRoom/> }),
            Place::Ended => EitherOf4::C(view! { <Ended/> }),
            Place::InRoom => EitherOf4::D(view! { <InRoom feed/> }),
        }}
    }
}

#[component]
fn WaitingRoom(feed: RoomFeed) -> impl IntoView {
    let room = feed.room;
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
}

#[component]
fn Ended() -> impl IntoView {
    view! {
        <h1 data-testid="ended">{t(Key::EndedTitle)}</h1>
        <p class="lead big">{t(Key::EndedBody)}</p>
    }
}
