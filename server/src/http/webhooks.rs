//! Webhooks of the text-message gateway: Twilio posts the patients' answers
//! to `/webhooks/sms/twilio` and its delivery reports to
//! `/webhooks/sms/twilio/status`. Both are signed (`X-Twilio-Signature`,
//! HMAC-SHA1 of the URL and parameters with the auth token); an unsigned or
//! wrongly signed request is refused with 403 and changes nothing. A message
//! from a number that has no consultation coming gets no answer at all:
//! nobody learns from it whether a number is a patient's.

use crate::db::AuditEntry;
use crate::notify::inbound::{self, Reply};
use crate::notify::sms::{mask_number, twilio_signature};
use crate::state::AppState;
use crate::timezones::short_in_zone;
use app::consultation::ConsultationStatus;
use app::i18n::Lang;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub const INBOUND_PATH: &str = "/webhooks/sms/twilio";
pub const STATUS_PATH: &str = "/webhooks/sms/twilio/status";

/// Why a webhook request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// Twilio is not the gateway here.
    NotSetUp,
    Unsigned,
    WrongSignature,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::NotSetUp => (
                StatusCode::NOT_FOUND,
                "Text messages from Twilio are not set up on this server.",
            )
                .into_response(),
            Refusal::Unsigned | Refusal::WrongSignature => (
                StatusCode::FORBIDDEN,
                "This request is not signed by the text-message gateway.",
            )
                .into_response(),
        }
    }
}

/// The checked parameters of a Twilio webhook, or why it is refused.
fn verified(
    state: &AppState,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<(String, String)>, Refusal> {
    let token = state.notifier.twilio_token().ok_or(Refusal::NotSetUp)?;
    let refuse = |why: Refusal| {
        tracing::warn!(path, ?why, "refused a Twilio webhook");
        why
    };
    let signature = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| refuse(Refusal::Unsigned))?;
    let params: Vec<(String, String)> = form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let url = format!("{}{path}", state.config.public_url);
    let expected = twilio_signature(token.expose(), &url, &params);
    if !crate::auth::token::constant_time_eq(expected.as_bytes(), signature.trim().as_bytes()) {
        return Err(refuse(Refusal::WrongSignature));
    }
    Ok(params)
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn twiml(message: Option<&str>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        inbound::twiml(message),
    )
        .into_response()
}

/// A patient's text message.
pub async fn twilio_inbound(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = match verified(&state, INBOUND_PATH, &headers, &body) {
        Ok(params) => params,
        Err(refused) => return refused.into_response(),
    };
    let from = param(&params, "From").unwrap_or("").trim().to_string();
    let text = param(&params, "Body").unwrap_or("");
    let notifier = &state.notifier;
    let now = notifier.now();
    let db = notifier.db();
    let row = match db.consultation_for_reply(&from, now).await {
        Ok(row) => row,
        Err(error) => {
            tracing::error!(%error, "could not look up the sender of a text message");
            return (StatusCode::SERVICE_UNAVAILABLE, "Try again later.").into_response();
        }
    };
    let Some(row) = row else {
        tracing::info!(from = %mask_number(&from), "text message from a number with no consultation coming: ignored");
        return twiml(None);
    };
    let key = row.key();
    let mut reply = Reply::read(text);
    let status = ConsultationStatus::parse(&row.status);
    if reply == Reply::Cancel {
        let cancellable = status.is_some_and(|s| s.may_become(ConsultationStatus::Cancelled));
        let moved = cancellable
            && db
                .transition(
                    &key,
                    &row.status,
                    ConsultationStatus::Cancelled.as_str(),
                    "patient:sms",
                )
                .await
                .unwrap_or_else(|error| {
                    tracing::error!(%error, "could not cancel at the patient's request");
                    false
                });
        if moved {
            notifier.consultation_cancelled_by_patient(&row).await;
        } else {
            // Already under way or over: explain instead of pretending.
            reply = Reply::Other;
        }
    }
    if reply != Reply::Other
        && let Err(error) = db.record_patient_reply(&key, reply.as_str(), now).await
    {
        tracing::error!(%error, "could not record the patient's answer");
    }
    db.audit_or_log(AuditEntry {
        action: "consultation.patient_reply",
        target: Some(format!("consultation:{key}")),
        outcome: reply.as_str(),
        actor_participant: Some("patient:sms".into()),
        ..AuditEntry::default()
    })
    .await;
    let lang = Lang::from_code(&row.language).unwrap_or_default();
    let when = row
        .scheduled_at
        .map(|at| short_in_zone(at, &row.timezone))
        .unwrap_or_default();
    let answer = inbound::answer(reply, lang, &when, &state.config.clinic_name);
    twiml(Some(&answer))
}

/// Twilio's report on a message we sent.
pub async fn twilio_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = match verified(&state, STATUS_PATH, &headers, &body) {
        Ok(params) => params,
        Err(refused) => return refused.into_response(),
    };
    let (Some(sid), Some(status)) = (
        param(&params, "MessageSid"),
        param(&params, "MessageStatus"),
    ) else {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            "MessageSid and MessageStatus are required.",
        )
            .into_response();
    };
    if let Some((delivered, reason)) = inbound::delivery(status, param(&params, "ErrorCode")) {
        let notifier = &state.notifier;
        if let Err(error) = notifier
            .db()
            .notification_delivery(sid, delivered, reason, notifier.now())
            .await
        {
            tracing::error!(%error, "could not record a delivery report");
            return (StatusCode::SERVICE_UNAVAILABLE, "Try again later.").into_response();
        }
    }
    StatusCode::NO_CONTENT.into_response()
}
