//! Errors of the REST API as `application/problem+json` (RFC 9457): the
//! status, a short title, the detail in plain words and, when one field is
//! at fault, its name as the API spells it.

use app::error::AppError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub status: StatusCode,
    pub detail: String,
    /// The offending field or query parameter (`patientPhone`).
    pub field: Option<String>,
    /// Seconds to wait (429).
    pub retry_after: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
            field: None,
            retry_after: None,
        }
    }

    pub fn field(status: StatusCode, field: &str, detail: impl Into<String>) -> Self {
        Self {
            field: Some(field.to_string()),
            ..Self::new(status, detail)
        }
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, detail)
    }
}

/// What every error answers with (`application/problem+json`, RFC 9457).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Problem)]
pub struct Body<'a> {
    /// Always `about:blank`: the status says what kind of problem it is.
    #[serde(rename = "type")]
    kind: &'static str,
    /// The status's name, e.g. `Unprocessable Entity`.
    title: &'a str,
    status: u16,
    /// What is wrong, in plain words.
    detail: &'a str,
    /// The field or query parameter at fault, as the API spells it.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

// The answers every route may give, described once for the OpenAPI
// document (each route lists the ones it gives).

/// The body, a query parameter or the Idempotency-Key is not what is documented.
#[derive(utoipa::ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct BadRequest(#[allow(dead_code)] Body<'static>);

/// No valid API key (none, unknown, or revoked).
#[derive(utoipa::ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct Unauthorized(#[allow(dead_code)] Body<'static>);

/// The key lacks the scope this route needs.
#[derive(utoipa::ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct Forbidden(#[allow(dead_code)] Body<'static>);

/// No such consultation.
#[derive(utoipa::ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct NotFound(#[allow(dead_code)] Body<'static>);

/// Not possible in the consultation's state (under way, over), or the first
/// request with this Idempotency-Key is still being answered.
#[derive(utoipa::ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct Conflict(#[allow(dead_code)] Body<'static>);

/// The body is not JSON.
#[derive(utoipa::ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct NotJson(#[allow(dead_code)] Body<'static>);

/// A value was refused (`field` says which), or the Idempotency-Key was used
/// with another request.
#[derive(utoipa::ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct Refused(#[allow(dead_code)] Body<'static>);

/// Too many requests for this key: wait `Retry-After` seconds.
#[derive(utoipa::ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct TooManyRequests(#[allow(dead_code)] Body<'static>);

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = Body {
            kind: "about:blank",
            title: self.status.canonical_reason().unwrap_or("Error"),
            status: self.status.as_u16(),
            detail: &self.detail,
            field: self.field.as_deref(),
        };
        let json = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = (self.status, json).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"visita\""),
            );
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<AppError> for Problem {
    fn from(error: AppError) -> Self {
        let status =
            StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match error {
            AppError::Invalid(e) => Problem::field(
                StatusCode::UNPROCESSABLE_ENTITY,
                &api_field(&e.field),
                e.message,
            ),
            other => Problem::new(status, other.to_string()),
        }
    }
}

/// The API's name of one of the booking's fields (`patient_phone` →
/// `patientPhone`; the time is `scheduledAt` however it was checked).
pub fn api_field(field: &str) -> String {
    match field {
        "scheduled_for" | "clinician_timezone" => "scheduledAt".into(),
        other => {
            let mut out = String::new();
            let mut upper = false;
            for c in other.chars() {
                if c == '_' {
                    upper = true;
                } else if upper {
                    out.extend(c.to_uppercase());
                    upper = false;
                } else {
                    out.push(c);
                }
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_take_the_api_spelling() {
        assert_eq!(api_field("patient_phone"), "patientPhone");
        assert_eq!(api_field("scheduled_for"), "scheduledAt");
        assert_eq!(api_field("queue"), "queue");
    }

    #[tokio::test]
    async fn a_problem_is_a_problem_document() {
        let response =
            Problem::from(AppError::invalid("patient_name", "Enter a name.")).into_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let bytes = axum::body::to_bytes(response.into_body(), 10_000)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["status"], 422);
        assert_eq!(body["field"], "patientName");
        assert_eq!(body["detail"], "Enter a name.");
        assert_eq!(body["title"], "Unprocessable Entity");
    }
}
