//! What a provider answers when asked to send one message.

/// The provider took the message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Receipt {
    /// The provider's id for it (Twilio's message SID, the email's
    /// Message-ID), matched against delivery reports later.
    pub provider_id: Option<String>,
    /// What the `log` provider kept instead of sending: the outbox.
    pub outbox: Option<String>,
}

/// The provider did not take the message. `reason` is shown to the
/// clinician and the administrator as it is: the provider's own words, with
/// no secret in them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct SendError {
    pub reason: String,
    /// Trying again cannot help (a number that does not exist, a refused
    /// sender); otherwise the scheduler retries with backoff.
    pub permanent: bool,
}

impl SendError {
    pub fn permanent(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            permanent: true,
        }
    }

    pub fn transient(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            permanent: false,
        }
    }
}
