//! The room as the clinician (the host) sees it: the consultation, with
//! who waits (Admit), removing someone, inviting a guest or a translator,
//! closing, the notes and the report. In the staff bundle only.

use super::live::{InRoom, LiveNotices, RoomFeed, use_room_feed};
use crate::api::consultations::{
    Admit, CloseConsultation, InviteGuest, RemoveParticipant, RequestTranslator, SaveNotes,
};
use crate::consultation::{
    ChatMessage, ConsultationStatus, ParticipantRole, ParticipantState, RoomState,
};
use crate::i18n::{Lang, provide_lang};
use leptos::prelude::*;

/// The host keeps the room after closing: notes, the report.
#[island]
pub fn ClinicianRoom(
    room: RoomState,
    chat: Vec<ChatMessage>,
    notes: String,
    lang: Lang,
) -> impl IntoView {
    provide_lang(lang);
    let feed = use_room_feed(room, chat);
    let id = feed.room.with_untracked(|r| r.consultation.0.clone());
    // A clinician hosting by link has no dashboard to go back to.
    let staff = feed.room.with_untracked(|r| r.staff);
    view! {
        <LiveNotices feed/>
        <InRoom
            feed
            controls=view! { <HostControls feed/> }.into_any()
            aside=view! { <NotesPanel consultation=id.clone() text=notes/> }.into_any()
        />
        <p class="day-actions">
            {staff.then(|| view! { <a href="/">"Back to the dashboard"</a> })}
            <a href=format!("/consultations/{id}/report.pdf") rel="external" data-testid="report-link">
                "Download the report (PDF)"
            </a>
        </p>
    }
}

/// What only the clinician sees: who waits (with Admit), and Close.
#[component]
fn HostControls(feed: RoomFeed) -> impl IntoView {
    let room = feed.room;
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
            <InviteForms consultation=id.get_value() staff=room.with_untracked(|r| r.staff)/>
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
fn InviteForms(consultation: String, staff: bool) -> impl IntoView {
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
        // Translators are asked from staff accounts (the request names who
        // asked); a clinician hosting by link invites one as a guest.
        {staff.then(|| view! {
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
        })}
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
    // Not `new_local`: on the server a local value dropped by another thread
    // panics (the page is rendered across tokio worker threads).
    let pending_save = StoredValue::new(None::<TimeoutHandle>);
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
