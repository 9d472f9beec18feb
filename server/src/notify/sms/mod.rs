//! Text messages, through one of several gateways behind [`SmsGateway`]:
//! Twilio, a hospital's own HTTP gateway, or the `log` gateway for
//! development, which sends nothing and keeps the text for the outbox page.

mod http_gateway;
mod twilio;

pub use http_gateway::{HttpGateway, HttpGatewayConfig};
pub use twilio::{Twilio, TwilioConfig, signature as twilio_signature};

use super::delivery::{Receipt, SendError};
use async_trait::async_trait;

#[async_trait]
pub trait SmsGateway: Send + Sync {
    /// `twilio`, `http`, `log`: for logs and the admin page.
    fn name(&self) -> &'static str;
    /// Sends `text` to `to` (E.164).
    async fn send(&self, to: &str, text: &str) -> Result<Receipt, SendError>;
}

/// Sends nothing: the message is kept for the administrators' outbox page.
#[derive(Debug, Default)]
pub struct LogGateway;

#[async_trait]
impl SmsGateway for LogGateway {
    fn name(&self) -> &'static str {
        "log"
    }

    async fn send(&self, to: &str, text: &str) -> Result<Receipt, SendError> {
        tracing::info!(to = %mask_number(to), chars = text.chars().count(), "text message kept in the outbox (log gateway)");
        Ok(Receipt {
            provider_id: None,
            outbox: Some(text.to_string()),
        })
    }
}

/// `+41791234567` → `+4179•••••67`: enough to tell numbers apart in a log,
/// not enough to call them.
pub fn mask_number(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    if chars.len() <= 6 {
        return "•".repeat(chars.len());
    }
    let head: String = chars[..5].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}{}{tail}", "•".repeat(chars.len() - 7))
}

/// The HTTP client every gateway shares: bounded time, no redirects to
/// follow blindly.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(15))
        .connect_timeout(std::time::Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

/// A transport error in words: never the URL (it may carry a key).
fn transport_error(e: &reqwest::Error) -> SendError {
    let what = if e.is_timeout() {
        "did not answer in time"
    } else if e.is_connect() {
        "cannot be reached"
    } else {
        "broke off the exchange"
    };
    SendError::transient(format!("the text-message gateway {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_masked_in_logs() {
        assert_eq!(mask_number("+41791234567"), "+4179•••••67");
        assert_eq!(mask_number("+4179"), "•••••");
    }
}
