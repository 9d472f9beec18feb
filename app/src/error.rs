//! The error every server function returns. It crosses the wire typed (as
//! JSON), carries its HTTP status, and its `Display` is the sentence the user
//! reads — so no handler has to invent wording, and none leaks internals.

use crate::authz::Denied;
use crate::domain::FieldError;
use serde::{Deserialize, Serialize};
use server_fn::codec::JsonEncoding;
use server_fn::error::{FromServerFnError, ServerFnErrorErr};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("Please sign in first.")]
    NotSignedIn,
    #[error("You are not allowed to do this.")]
    Forbidden,
    #[error("The email address or the password is wrong.")]
    InvalidCredentials,
    #[error("Too many failed attempts. Wait {minutes} minute(s), then try again.")]
    RateLimited { minutes: u64 },
    #[error("{}", .0.message)]
    Invalid(FieldError),
    #[error("{0}")]
    Conflict(String),
    /// A limit on how often something may be done (not a failed sign-in).
    #[error("{0}")]
    TooOften(String),
    /// A service Visita relies on (the email server, the text-message
    /// gateway) refused or failed; its own words, without secrets.
    #[error("{0}")]
    Upstream(String),
    #[error("{0}")]
    NotFound(String),
    #[error("This file is too large: the limit is {max_mb} MB.")]
    TooLarge { max_mb: u64 },
    #[error("This kind of file cannot be sent. Send a photo (JPEG, PNG, GIF, WebP) or a PDF.")]
    UnsupportedFile,
    /// A sign-in refused for a reason the person should read (outside the
    /// groups allowed, account disabled…).
    #[error("{0}")]
    Refused(String),
    #[error("Something went wrong on our side. Please try again in a moment.")]
    Internal,
    /// The request never got a proper answer (network down, server
    /// restarting, an answer we could not read). The cause is not carried:
    /// it would only show internals to the user.
    #[error("Visita could not be reached. Check your connection and try again.")]
    Unreachable,
}

impl AppError {
    pub fn status(&self) -> u16 {
        match self {
            AppError::NotSignedIn | AppError::InvalidCredentials => 401,
            AppError::Forbidden | AppError::Refused(_) => 403,
            AppError::NotFound(_) => 404,
            AppError::Conflict(_) => 409,
            AppError::Invalid(_) => 422,
            AppError::RateLimited { .. } | AppError::TooOften(_) => 429,
            AppError::TooLarge { .. } => 413,
            AppError::UnsupportedFile => 415,
            AppError::Internal => 500,
            AppError::Upstream(_) => 502,
            AppError::Unreachable => 503,
        }
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        AppError::Invalid(FieldError::new(field, message))
    }
}

impl From<Denied> for AppError {
    fn from(denied: Denied) -> Self {
        match denied {
            Denied::NotSignedIn => AppError::NotSignedIn,
            Denied::Forbidden => AppError::Forbidden,
        }
    }
}

impl From<FieldError> for AppError {
    fn from(e: FieldError) -> Self {
        AppError::Invalid(e)
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // Bad arguments are the caller's fault and worth saying so.
            ServerFnErrorErr::Args(_)
            | ServerFnErrorErr::MissingArg(_)
            | ServerFnErrorErr::Deserialization(_) => AppError::invalid(
                "form",
                "The form was incomplete or malformed. Reload the page and try again.",
            ),
            _ => AppError::Unreachable,
        }
    }
}
