//! Chat attachments over HTTP. Upload is a plain multipart form post (it
//! works without JavaScript and answers with a redirect back to the room);
//! download is a GET that only participants of that consultation pass.
//! Both ask the consultation service, which checks the access policy and
//! writes the audit trail.

use crate::state::AppState;
use app::authz::Caller;
use app::consultation::ConsultationId;
use app::error::AppError;
use app::ssr::{ClientInfo, CurrentSession, CurrentVisitor};
use axum::Extension;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

/// Who is asking about consultation `id` (see `Caller::for_consultation`).
fn caller_for<'a>(
    session: &'a Option<Extension<CurrentSession>>,
    visitor: &'a Option<Extension<CurrentVisitor>>,
    id: &ConsultationId,
) -> Option<Caller<'a>> {
    Caller::for_consultation(
        visitor.as_ref().map(|Extension(v)| &v.visitor),
        session.as_ref().map(|Extension(s)| &s.principal),
        id,
    )
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

/// An error as a page (browser navigation) or as JSON (scripts).
fn error_response(error: AppError, html: bool, back: Option<&str>) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if html {
        let back = back
            .map(|href| format!("<p><a href=\"{href}\">Back</a></p>"))
            .unwrap_or_default();
        let page = format!(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>Visita</title><link rel=\"stylesheet\" href=\"/pkg/visita.css\"></head>\
             <body><main id=\"main\" class=\"narrow\"><p class=\"notice error\" role=\"alert\">{}</p>{back}</main></body></html>",
            escape(&error.to_string())
        );
        (status, Html(page)).into_response()
    } else {
        (status, axum::Json(error)).into_response()
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub async fn upload(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    session: Option<Extension<CurrentSession>>,
    visitor: Option<Extension<CurrentVisitor>>,
    client: Option<Extension<ClientInfo>>,
    mut multipart: Multipart,
) -> Response {
    let html = wants_html(&headers);
    let id = ConsultationId(id);
    let room = format!("/room/{id}");
    let Some(caller) = caller_for(&session, &visitor, &id) else {
        return error_response(AppError::NotSignedIn, html, None);
    };
    let client = client.map(|Extension(c)| c).unwrap_or_default();
    let limit = state.consultations.max_file_bytes();
    let mut file = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some("file") => {
                let name = field.file_name().unwrap_or("").to_string();
                match field.bytes().await {
                    Ok(bytes) => file = Some((name, bytes.to_vec())),
                    Err(_) => {
                        return error_response(
                            AppError::TooLarge {
                                max_mb: limit / 1_000_000,
                            },
                            html,
                            Some(&room),
                        );
                    }
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(error) if error.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return error_response(
                    AppError::TooLarge {
                        max_mb: limit / 1_000_000,
                    },
                    html,
                    Some(&room),
                );
            }
            Err(_) => {
                return error_response(
                    AppError::invalid("file", "The upload was interrupted. Try again."),
                    html,
                    Some(&room),
                );
            }
        }
    }
    let Some((name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        return error_response(
            AppError::invalid("file", "Choose a file first."),
            html,
            Some(&room),
        );
    };
    match state
        .consultations
        .attach_file(caller, &id, &name, bytes, &client)
        .await
    {
        Ok(message) if html => {
            let _ = message;
            Redirect::to(&room).into_response()
        }
        Ok(message) => (StatusCode::CREATED, axum::Json(message)).into_response(),
        Err(error) => error_response(error, html, Some(&room)),
    }
}

pub async fn download(
    State(state): State<AppState>,
    Path(attachment): Path<String>,
    headers: HeaderMap,
    session: Option<Extension<CurrentSession>>,
    visitor: Option<Extension<CurrentVisitor>>,
    client: Option<Extension<ClientInfo>>,
) -> Response {
    let html = wants_html(&headers);
    let consultations = &state.consultations;
    let consultation = match consultations.consultation_of_file(&attachment).await {
        Ok(id) => id,
        Err(error) => return error_response(error, html, None),
    };
    let Some(caller) = caller_for(&session, &visitor, &consultation) else {
        return error_response(AppError::NotSignedIn, html, None);
    };
    let client = client.map(|Extension(c)| c).unwrap_or_default();
    match consultations.read_file(caller, &attachment, &client).await {
        Ok((row, kind, bytes)) => {
            let disposition = if kind.is_image() {
                "inline"
            } else {
                "attachment"
            };
            let encoded: String = row
                .file_name
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-._".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            let mut response = bytes.into_response();
            let h = response.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(kind.content_type()),
            );
            if let Ok(value) =
                HeaderValue::from_str(&format!("{disposition}; filename*=UTF-8''{encoded}"))
            {
                h.insert(header::CONTENT_DISPOSITION, value);
            }
            // Clinical data: never in a shared cache.
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            );
            // A file is data, never a page that runs scripts.
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox",
                ),
            );
            response
        }
        Err(error) => error_response(error, html, None),
    }
}

/// `GET /consultations/{id}/report.pdf`: the report, for the clinician.
pub async fn report(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    session: Option<Extension<CurrentSession>>,
    visitor: Option<Extension<CurrentVisitor>>,
    client: Option<Extension<ClientInfo>>,
) -> Response {
    let html = wants_html(&headers);
    let id = ConsultationId(id);
    // The clinician signed in, or one who hosts this consultation by link.
    let Some(caller) = Caller::for_consultation(
        visitor.as_ref().map(|Extension(v)| &v.visitor),
        session.as_ref().map(|Extension(s)| &s.principal),
        &id,
    ) else {
        return error_response(AppError::NotSignedIn, html, None);
    };
    let client = client.map(|Extension(c)| c).unwrap_or_default();
    let data = match state.consultations.report(caller, &id, &client).await {
        Ok(data) => data,
        Err(error) => return error_response(error, html, None),
    };
    match data.to_pdf().await {
        Ok(bytes) => {
            let mut response = bytes.into_response();
            let h = response.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/pdf"),
            );
            if let Ok(value) =
                HeaderValue::from_str(&format!("attachment; filename=\"consultation-{id}.pdf\""))
            {
                h.insert(header::CONTENT_DISPOSITION, value);
            }
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            );
            response
        }
        Err(error) => {
            tracing::error!(%error, "report rendering failed");
            error_response(AppError::Internal, html, None)
        }
    }
}
