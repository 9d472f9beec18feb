//! Consultations: booking, the day list, links, admitting, closing — and
//! the patient side: opening an invite, joining and leaving the waiting room.
//! The services check the access policy themselves (it needs the
//! consultation's facts); these functions pick who is asking and shape the
//! HTTP answer.

use crate::consultation::{
    BookingOptions, ConsultationId, ConsultationSummary, CreatedConsultation, InviteOutcome,
    IssuedLink, NewConsultation, RoomState, TranslationRequest,
};
use crate::error::AppError;
use leptos::prelude::*;

/// What the booking form offers the signed-in staff member.
#[server(endpoint = "consultations/booking-options")]
pub async fn load_booking_options() -> Result<BookingOptions, AppError> {
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            let who = ctx.require_principal()?;
            ctx.services.consultations.booking_options(who).await
        }
        .await,
    )
}

/// Books a consultation and returns the patient's link.
#[server(endpoint = "consultations/create")]
pub async fn create_consultation(
    booking: NewConsultation,
) -> Result<CreatedConsultation, AppError> {
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            let who = ctx.require_principal()?;
            ctx.services
                .consultations
                .create(who, booking, &ctx.client)
                .await
        }
        .await,
    )
}

/// Today's consultations in the caller's queues, and the coming week's.
#[server(endpoint = "consultations/today")]
pub async fn today() -> Result<Vec<ConsultationSummary>, AppError> {
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            let who = ctx.require_principal()?;
            ctx.services.consultations.day_list(who).await
        }
        .await,
    )
}

/// A new link for a participant; the old one dies.
#[server(endpoint = "consultations/reissue-link")]
pub async fn reissue_link(participant: String) -> Result<IssuedLink, AppError> {
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            let who = ctx.require_principal()?;
            ctx.services
                .consultations
                .reissue_link(
                    who,
                    &crate::consultation::ParticipantId(participant),
                    &ctx.client,
                )
                .await
        }
        .await,
    )
}

/// Lets a waiting participant in; the clinician goes to the room.
#[server(endpoint = "consultations/admit")]
pub async fn admit(participant: String) -> Result<ConsultationId, AppError> {
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            let caller = ctx.host_caller().ok_or(AppError::NotSignedIn)?;
            let id = ctx
                .services
                .consultations
                .admit(
                    caller,
                    &crate::consultation::ParticipantId(participant),
                    &ctx.client,
                )
                .await?;
            leptos_axum::redirect(&format!("/room/{id}"));
            Ok(id)
        }
        .await,
    )
}

/// Lets the patient straight in when they arrive (or stops doing so).
#[server(endpoint = "consultations/auto-admit")]
pub async fn set_auto_admit(consultation: String, on: bool) -> Result<(), AppError> {
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            let id = ConsultationId(consultation);
            let caller = ctx.caller_for(&id).ok_or(AppError::NotSignedIn)?;
            ctx.services
                .consultations
                .set_auto_admit(caller, &id, on, &ctx.client)
                .await
        }
        .await,
    )
}

/// Ends the consultation for everyone.
#[server(endpoint = "consultations/close")]
pub async fn close_consultation(consultation: String) -> Result<(), AppError> {
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            let id = ConsultationId(consultation);
            let caller = ctx.caller_for(&id).ok_or(AppError::NotSignedIn)?;
            ctx.services
                .consultations
                .close(caller, &id, &ctx.client)
                .await
        }
        .await,
    )
}

/// What an invite link shows (no session needed: the link is the key).
#[server(endpoint = "invite/open")]
pub async fn open_invite(token: String) -> Result<InviteOutcome, AppError> {
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            let outcome = ctx.services.consultations.open_invite(&token).await?;
            // A link about no one is answered in the browser's language.
            Ok(match outcome {
                InviteOutcome::Dead {
                    reason,
                    language: None,
                } => InviteOutcome::Dead {
                    reason,
                    language: Some(crate::ssr::accepted_language()),
                },
                other => other,
            })
        }
        .await,
    )
}

/// Enters the waiting room through a link, then goes to it.
#[server(endpoint = "invite/join")]
pub async fn join(token: String, lang: Option<String>) -> Result<ConsultationId, AppError> {
    use crate::ssr::{ctx, respond, set_cookie};
    respond(
        async {
            let ctx = ctx()?;
            let lang = lang.as_deref().and_then(crate::i18n::Lang::from_code);
            let (id, cookie) = ctx
                .services
                .consultations
                .join(&token, lang, &ctx.client)
                .await?;
            set_cookie(cookie);
            leptos_axum::redirect(&format!("/room/{id}"));
            Ok(id)
        }
        .await,
    )
}

/// Leaves the waiting room; the same link (or the rejoin button) brings
/// the person back.
#[server(endpoint = "room/leave")]
pub async fn leave() -> Result<(), AppError> {
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            let visitor = ctx.require_visitor()?;
            ctx.services
                .consultations
                .leave(&visitor.visitor, &ctx.client)
                .await
        }
        .await,
    )
}

/// Goes back into the waiting room.
#[server(endpoint = "room/rejoin")]
pub async fn rejoin() -> Result<(), AppError> {
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            let visitor = ctx.require_visitor()?;
            ctx.services
                .consultations
                .rejoin(&visitor.visitor, &ctx.client)
                .await
        }
        .await,
    )
}

/// The consultation as the caller's page shows it.
#[server(endpoint = "room/state")]
pub async fn load_room(consultation: String) -> Result<RoomState, AppError> {
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            let id = ConsultationId(consultation);
            let caller = ctx.caller_for(&id).ok_or(AppError::NotSignedIn)?;
            ctx.services
                .consultations
                .room(caller, &id, &ctx.client)
                .await
        }
        .await,
    )
}

/// The clinician's notes of a consultation.
#[server(endpoint = "consultations/notes")]
pub async fn load_notes(consultation: String) -> Result<String, AppError> {
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            let id = ConsultationId(consultation);
            let caller = ctx.caller_for(&id).ok_or(AppError::NotSignedIn)?;
            ctx.services
                .consultations
                .notes(caller, &id, &ctx.client)
                .await
        }
        .await,
    )
}

/// Saves the notes (called as the clinician types).
#[server(endpoint = "consultations/save-notes")]
pub async fn save_notes(consultation: String, notes: String) -> Result<(), AppError> {
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            let id = ConsultationId(consultation);
            let caller = ctx.caller_for(&id).ok_or(AppError::NotSignedIn)?;
            ctx.services
                .consultations
                .save_notes(caller, &id, &notes, &ctx.client)
                .await
        }
        .await,
    )
}

/// A link for a guest (family, a colleague outside Visita).
#[server(endpoint = "consultations/invite-guest")]
pub async fn invite_guest(
    consultation: String,
    name: String,
    language: String,
) -> Result<IssuedLink, AppError> {
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            let id = ConsultationId(consultation);
            let caller = ctx.caller_for(&id).ok_or(AppError::NotSignedIn)?;
            let language = crate::i18n::Lang::from_code(&language).ok_or_else(|| {
                AppError::invalid("language", "Choose one of the offered languages.")
            })?;
            ctx.services
                .consultations
                .invite_guest(caller, &id, &name, language, &ctx.client)
                .await
        }
        .await,
    )
}

/// Takes someone out of the consultation; their link dies at once.
#[server(endpoint = "consultations/remove")]
pub async fn remove_participant(participant: String) -> Result<(), AppError> {
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            let caller = ctx.host_caller().ok_or(AppError::NotSignedIn)?;
            ctx.services
                .consultations
                .remove_participant(
                    caller,
                    &crate::consultation::ParticipantId(participant),
                    &ctx.client,
                )
                .await
        }
        .await,
    )
}

/// Asks the translators of a language to join.
#[server(endpoint = "consultations/request-translator")]
pub async fn request_translator(consultation: String, language: String) -> Result<(), AppError> {
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            let who = ctx.require_principal()?;
            ctx.services
                .consultations
                .request_translator(who, &ConsultationId(consultation), &language, &ctx.client)
                .await
        }
        .await,
    )
}

/// Open translation requests in the signed-in translator's languages.
#[server(endpoint = "translations/open")]
pub async fn open_translations() -> Result<Vec<TranslationRequest>, AppError> {
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            let who = ctx.require_principal()?;
            ctx.services.consultations.translation_requests(who).await
        }
        .await,
    )
}

/// Takes a translation request and goes to the consultation.
#[server(endpoint = "translations/accept")]
pub async fn accept_translation(request: String) -> Result<ConsultationId, AppError> {
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            let who = ctx.require_principal()?;
            let id = ctx
                .services
                .consultations
                .accept_translation(who, &request, &ctx.client)
                .await?;
            leptos_axum::redirect(&format!("/room/{id}"));
            Ok(id)
        }
        .await,
    )
}

/// Calls off a consultation not yet under way.
#[server(endpoint = "consultations/cancel")]
pub async fn cancel_consultation(consultation: String) -> Result<(), AppError> {
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            let who = ctx.require_principal()?;
            ctx.services
                .consultations
                .cancel(who, &ConsultationId(consultation), &ctx.client)
                .await
        }
        .await,
    )
}

/// Sends the patient's invite again, on each channel they gave (limited:
/// a few times an hour).
#[server(endpoint = "consultations/resend-invite")]
pub async fn resend_invite(consultation: String) -> Result<(), AppError> {
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            let who = ctx.require_principal()?;
            ctx.services
                .consultations
                .resend_invite(who, &ConsultationId(consultation), &ctx.client)
                .await
        }
        .await,
    )
}

/// Moves a consultation to another time (`YYYY-MM-DDTHH:MM` in
/// `clinician_timezone`); the patient hears of it at once.
#[server(endpoint = "consultations/reschedule")]
pub async fn reschedule(
    consultation: String,
    scheduled_for: String,
    clinician_timezone: String,
) -> Result<(), AppError> {
    use crate::ssr::{ctx, respond};
    respond(
        async {
            let ctx = ctx()?;
            let who = ctx.require_principal()?;
            ctx.services
                .consultations
                .reschedule(
                    who,
                    &ConsultationId(consultation),
                    &scheduled_for,
                    &clinician_timezone,
                    &ctx.client,
                )
                .await
        }
        .await,
    )
}
