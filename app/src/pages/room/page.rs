//! Loads everything the room page first shows, then hands it to the island
//! for the person's place: the clinician's (staff bundle) or the visitor's
//! (patient bundle).

use super::clinician::ClinicianRoom;
use super::visitor::VisitorRoom;
use crate::api::chat::messages;
use crate::api::consultations::{load_notes, load_room};
use crate::components::patient_frame::{PatientFrame, lang_from_query, set_status};
use crate::consultation::{ChatMessage, RoomState};
use crate::error::AppError;
use crate::i18n::{Key, provide_lang, t};
use crate::islands::{Bundle, Live};
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
                        let lang = chosen.unwrap_or(room.language);
                        provide_lang(lang);
                        let clinic = room.clinic.clone();
                        let logo = room.logo.clone();
                        let (bundle, island) = if room.can_host {
                            let notes = notes.unwrap_or_default();
                            (Bundle::Staff, view! { <ClinicianRoom room chat notes lang/> }.into_any())
                        } else {
                            (Bundle::Patient, view! { <VisitorRoom room chat lang/> }.into_any())
                        };
                        view! {
                            <Title text=t(Key::PageTitle)/>
                            <PatientFrame clinic logo live=Live::Islands(bundle)>{island}</PatientFrame>
                        }
                            .into_any()
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
