//! `/j/<token>`: what a patient (or guest, translator) sees when they open
//! the link they were sent. Rendered in full on the server, so it works
//! before the WASM arrives: the join button is a real form. A dead link
//! shows a plain page in the person's language with 404 or 410, and nothing
//! about the consultation.

use crate::api::consultations::{Join, open_invite};
use crate::components::patient_frame::{PatientFrame, lang_from_query, set_status};
use crate::consultation::{DeadLink, InviteOutcome, InvitePreview};
use crate::error::AppError;
use crate::i18n::{Key, provide_lang, t, t_with};
use crate::islands::{Bundle, Live};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn InvitePage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let outcome = Resource::new(token, open_invite);
    let chosen = lang_from_query();

    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match outcome.await {
                    Ok(InviteOutcome::Open(preview)) => {
                        provide_lang(chosen.unwrap_or(preview.language));
                        view! { <Invitation preview token=token()/> }.into_any()
                    }
                    Ok(InviteOutcome::Dead { reason, language }) => {
                        set_status(reason.status());
                        provide_lang(chosen.or(language).unwrap_or_default());
                        view! { <DeadLinkPage reason/> }.into_any()
                    }
                    Err(error) => {
                        set_status(error.status());
                        view! { <ErrorPage error/> }.into_any()
                    }
                }
            })}
        </Suspense>
    }
    .into_any()
}

#[component]
fn Invitation(preview: InvitePreview, token: String) -> impl IntoView {
    let lang = crate::i18n::use_lang().get_untracked().code();
    let clinician = preview.clinician.clone();
    let when = preview.when.clone();
    // A clinician who hosts by link (no account) starts it, and waits for
    // nobody.
    let hosts = preview.role == crate::consultation::ParticipantRole::Host;
    let name = preview.name.clone();
    let with_whom = move || {
        if hosts {
            t_with(Key::InviteHostWith, {
                let name = name.clone();
                move || vec![("name", name.clone())]
            })
            .into_any()
        } else {
            t_with(Key::InviteWith, {
                let clinician = clinician.clone();
                move || vec![("clinician", clinician.clone())]
            })
            .into_any()
        }
    };
    let join_label = if hosts {
        Key::InviteHostJoin
    } else {
        Key::InviteJoin
    };
    view! {
        <Title text=t(Key::PageTitle)/>
        // No islands here (the join button is a plain form); the waiting
        // room's bundle downloads while the patient reads, and joining
        // overlaps with it.
        <PatientFrame clinic=preview.clinic.clone() logo=preview.logo.clone() live=Live::Ahead(Bundle::Patient)>
            <h1>{t(Key::InviteTitle)}</h1>
            <div class="card big">
                <p class="with-whom">{with_whom()}</p>
                <p class="when">
                    {match when {
                        Some(when) => {
                            t_with(Key::InviteWhen, move || vec![("when", when.clone())]).into_any()
                        }
                        None => t(Key::InviteNow).into_any(),
                    }}
                </p>
                <p class="hint">{t(Key::InvitePrepare)}</p>
                // A plain form: the server answers with the waiting room (or,
                // if the link died meanwhile, sends them back to this page,
                // which then says so).
                <form method="post" action=Join::url() class="join-form" data-ahead="">
                    <input type="hidden" name="token" value=token/>
                    <input type="hidden" name="lang" value=lang/>
                    <button type="submit" class="primary huge" id="join">{t(join_label)}</button>
                </form>
            </div>
        </PatientFrame>
    }
    .into_any()
}

#[component]
pub fn DeadLinkPage(reason: DeadLink) -> impl IntoView {
    let (title, body) = match reason {
        DeadLink::Unknown => (Key::DeadUnknownTitle, Key::DeadUnknownBody),
        DeadLink::Expired => (Key::DeadExpiredTitle, Key::DeadExpiredBody),
        DeadLink::Ended => (Key::DeadEndedTitle, Key::DeadEndedBody),
    };
    view! {
        <Title text=t(title)/>
        <PatientFrame clinic="Visita">
            <h1 data-testid="dead-link">{t(title)}</h1>
            <p class="lead big">{t(body)}</p>
        </PatientFrame>
    }
    .into_any()
}

#[component]
fn ErrorPage(error: AppError) -> impl IntoView {
    view! {
        <PatientFrame clinic="Visita">
            <p class="notice error" role="alert">{error.to_string()}</p>
        </PatientFrame>
    }
    .into_any()
}
