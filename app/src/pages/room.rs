//! `/room/<id>`: the one page of a consultation, for everyone in it. What
//! it shows follows the person's place, live: the waiting room (with the
//! device check and their place in the queue), "you left", the
//! consultation itself (video slot, people, chat, and for the clinician the
//! controls), or "the consultation has ended".

use crate::api::chat::messages;
use crate::api::consultations::{
    Admit, CloseConsultation, InviteGuest, Leave, Rejoin, RemoveParticipant, RequestTranslator,
    SaveNotes, load_notes, load_room,
};
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

/// Everything the page first shows, loaded in one go before anything is
/// rendered: the room, the chat if allowed, the notes for the clinician.
/// (Resources created inside a `<Suspense>` can stall server rendering, so
/// no component below creates its own.)
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Snapshot {
    room: RoomState,
    chat: Vec<ChatMessage>,
    notes: Option<String>,
}

async fn snapshot(id: String) -> Result<Snapshot, AppError> {
    let room = load_room(id.clone()).await?;
    let chat = if room.can_chat {
        messages(id.clone(), None).await?
    } else {
        Vec::new()
    };
    let notes = if room.can_host {
        Some(load_notes(id).await?)
    } else {
        None
    };
    Ok(Snapshot { room, chat, notes })
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
                    Ok(Snapshot { room, chat, notes }) => {
                        provide_lang(chosen.unwrap_or(room.language));
                        view! { <LiveRoom room chat notes/> }.into_any()
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
    // The clinician keeps the room after closing: notes, the report.
    if room.can_host {
        return View::InRoom;
    }
    if room.status.is_over() || room.my_state == Some(ParticipantState::Removed) {
        return View::Ended;
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
fn LiveRoom(room: RoomState, chat: Vec<ChatMessage>, notes: Option<String>) -> impl IntoView {
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
                View::InRoom => view! { <InRoom room chat notes=notes.clone()/> }.into_any(),
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
fn InRoom(
    room: RwSignal<RoomState>,
    chat: RwSignal<Vec<ChatMessage>>,
    notes: Option<String>,
) -> impl IntoView {
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
        <Show when=move || room.with(|r| r.status.is_over())>
            <p class="notice" role="status" data-testid="room-closed">"This consultation is closed."</p>
        </Show>
        <div class="room-grid">
            <section class="video-slot card" aria-label=t(Key::VideoSlot) data-testid="video-slot">
                <p class="empty">{t(Key::VideoSlot)}</p>
            </section>
            <section class="people card" aria-labelledby="people-heading">
                <h2 id="people-heading">{t(Key::ParticipantsTitle)}</h2>
                <ul>{people}</ul>
                {can_host.then(|| view! { <HostControls room/> })}
            </section>
            {can_chat.then(|| {
                let people = Signal::derive(move || room.with(|r| r.participants.clone()));
                view! { <ChatPanel consultation=id.clone() me=me.clone() chat people/> }
            })}
            {notes.map(|text| view! { <NotesPanel consultation=id.0.clone() text/> })}
        </div>
        {can_host.then(|| view! {
            <p class="day-actions">
                <a href="/">"Back to the dashboard"</a>
                <a href=format!("/consultations/{}/report.pdf", id.0) rel="external" data-testid="report-link">
                    "Download the report (PDF)"
                </a>
            </p>
        })}
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
    let remove = ServerAction::<RemoveParticipant>::new();
    let removable = move || {
        room.with(|r| {
            r.participants
                .iter()
                .filter(|p| p.role != ParticipantRole::Host && p.state != ParticipantState::Removed)
                .map(|p| {
                    let participant = p.id.0.clone();
                    let label = format!("Remove {}", p.name);
                    view! {
                        <ActionForm action=remove attr:class="inline">
                            <input type="hidden" name="participant" value=participant/>
                            <button type="submit" class="secondary" data-testid="remove">{label}</button>
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
            {removable}
            <InviteForms consultation=id.get_value()/>
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
                    .or_else(|| remove.value().get().and_then(Result::err))
                    .map(|error| view! { <p class="notice error" role="alert">{error.to_string()}</p> })
            }}
        </div>
    }
    .into_any()
}

/// Bring someone in: a guest by link, or a translator of a language.
#[component]
fn InviteForms(consultation: String) -> impl IntoView {
    let guest = ServerAction::<InviteGuest>::new();
    let translator = ServerAction::<RequestTranslator>::new();
    let languages = crate::i18n::Lang::ALL
        .iter()
        .map(|l| view! { <option value=l.code()>{l.native_name()}</option> })
        .collect_view();
    let for_guest = consultation.clone();
    view! {
        <details class="invite">
            <summary>"Invite a guest"</summary>
            <ActionForm action=guest attr:class="stack">
                <input type="hidden" name="consultation" value=for_guest/>
                <label for="guest-name">"Guest's name"</label>
                <input id="guest-name" name="name" type="text" required maxlength="120"/>
                <label for="guest-language">"Guest's language"</label>
                <select id="guest-language" name="language">{languages}</select>
                <button type="submit" class="secondary">"Create the guest's link"</button>
            </ActionForm>
            {move || match guest.value().get() {
                Some(Ok(issued)) => view! {
                    <div class="notice success" role="status">
                        <p>"Send this link to the guest:"</p>
                        <input type="text" readonly value=issued.link data-testid="guest-link" aria-label="Guest's link"/>
                    </div>
                }.into_any(),
                Some(Err(error)) => view! { <p class="notice error" role="alert">{error.to_string()}</p> }.into_any(),
                None => ().into_any(),
            }}
        </details>
        <details class="invite">
            <summary>"Ask for a translator"</summary>
            <ActionForm action=translator attr:class="stack">
                <input type="hidden" name="consultation" value=consultation/>
                <label for="translator-language">"Language to translate (code, like ar or uk)"</label>
                <input id="translator-language" name="language" type="text" required maxlength="12" autocomplete="off"/>
                <button type="submit" class="secondary">"Ask the translators"</button>
            </ActionForm>
            <crate::components::outcome::ActionOutcome
                value=translator.value()
                success="The translators of this language have been asked. The first to accept will join."
            />
        </details>
    }
    .into_any()
}

/// The clinician's notes, saved as they type (and by the Save button when
/// the page runs without JavaScript).
#[component]
fn NotesPanel(consultation: String, text: String) -> impl IntoView {
    view! {
        <section class="notes card" aria-labelledby="notes-heading">
            <h2 id="notes-heading">"Notes"</h2>
            <NotesEditor consultation text/>
        </section>
    }
    .into_any()
}

#[component]
fn NotesEditor(consultation: String, text: String) -> impl IntoView {
    let save = ServerAction::<SaveNotes>::new();
    let draft = RwSignal::new(text);
    let dirty = RwSignal::new(false);
    let pending_save = StoredValue::new_local(None::<TimeoutHandle>);
    let key = consultation.clone();
    let save_now = move || {
        dirty.set(false);
        save.dispatch(SaveNotes {
            consultation: key.clone(),
            notes: draft.get_untracked(),
        });
    };
    let save_soon = {
        let save_now = save_now.clone();
        move || {
            pending_save.update_value(|handle| {
                if let Some(handle) = handle.take() {
                    handle.clear();
                }
                let save_now = save_now.clone();
                *handle =
                    set_timeout_with_handle(save_now, std::time::Duration::from_millis(700)).ok();
            });
        }
    };
    let status = move || {
        if dirty.get() || save.pending().get() {
            "Saving…".to_string()
        } else {
            match save.value().get() {
                Some(Ok(())) => "Saved.".to_string(),
                Some(Err(error)) => error.to_string(),
                None => String::new(),
            }
        }
    };
    view! {
        <ActionForm action=save attr:class="stack">
            <input type="hidden" name="consultation" value=consultation/>
            <label for="notes-text" class="visually-hidden">"Notes"</label>
            <textarea
                id="notes-text"
                name="notes"
                rows="8"
                maxlength="50000"
                prop:value=move || draft.get()
                on:input=move |ev| {
                    draft.set(event_target_value(&ev));
                    dirty.set(true);
                    save_soon();
                }
                on:blur={
                    let save_now = save_now.clone();
                    move |_| if dirty.get_untracked() { save_now() }
                }
            >
                {draft.get_untracked()}
            </textarea>
            <div class="with-button">
                <span class="hint" role="status" data-testid="notes-status">{status}</span>
                <button type="submit" class="secondary">"Save"</button>
            </div>
        </ActionForm>
    }
    .into_any()
}
