//! Twilio's Programmable Messaging REST API: `POST
//! /2010-04-01/Accounts/{AccountSid}/Messages.json`, form-encoded `To`,
//! `From` (or `MessagingServiceSid`), `Body`, `StatusCallback`; HTTP basic
//! authentication with the account SID and auth token. Twilio answers 201
//! with the message (`sid`, `status`), or an error object (`code`,
//! `message`). Also the signature of its webhooks (`X-Twilio-Signature`).

use super::{SmsGateway, http_client, transport_error};
use crate::config::Secret;
use crate::notify::delivery::{Receipt, SendError};
use async_trait::async_trait;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

#[derive(Debug, Clone)]
pub struct TwilioConfig {
    pub account_sid: String,
    pub auth_token: Secret,
    /// The sender number (E.164), or
    pub from: Option<String>,
    /// a Messaging Service that picks the sender.
    pub messaging_service_sid: Option<String>,
    /// `https://api.twilio.com` (tests point it at a loopback server).
    pub api_base: String,
    /// Where Twilio reports delivery (`…/webhooks/sms/twilio/status`).
    pub status_callback: Option<String>,
}

pub struct Twilio {
    config: TwilioConfig,
    client: reqwest::Client,
}

impl Twilio {
    pub fn new(config: TwilioConfig) -> Self {
        Self {
            config,
            client: http_client(),
        }
    }

    pub fn auth_token(&self) -> &Secret {
        &self.config.auth_token
    }
}

#[derive(serde::Deserialize)]
struct Created {
    sid: String,
}

#[derive(serde::Deserialize)]
struct Refused {
    code: Option<i64>,
    message: Option<String>,
}

#[async_trait]
impl SmsGateway for Twilio {
    fn name(&self) -> &'static str {
        "twilio"
    }

    async fn send(&self, to: &str, text: &str) -> Result<Receipt, SendError> {
        let c = &self.config;
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            c.api_base.trim_end_matches('/'),
            c.account_sid
        );
        let mut form: Vec<(&str, &str)> = vec![("To", to), ("Body", text)];
        match (&c.messaging_service_sid, &c.from) {
            (Some(service), _) => form.push(("MessagingServiceSid", service)),
            (None, Some(from)) => form.push(("From", from)),
            (None, None) => {
                return Err(SendError::permanent(
                    "Twilio has neither a sender number nor a messaging service configured",
                ));
            }
        }
        if let Some(callback) = &c.status_callback {
            form.push(("StatusCallback", callback));
        }
        let response = self
            .client
            .post(url)
            .basic_auth(&c.account_sid, Some(c.auth_token.expose()))
            .form(&form)
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| transport_error(&e))?;
        if status.is_success() {
            let created: Created = serde_json::from_slice(&body)
                .map_err(|_| SendError::transient("Twilio answered without a message id"))?;
            return Ok(Receipt {
                provider_id: Some(created.sid),
                outbox: None,
            });
        }
        let refused: Option<Refused> = serde_json::from_slice(&body).ok();
        let words = refused
            .as_ref()
            .and_then(|r| r.message.clone())
            .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
        let reason = match refused.and_then(|r| r.code) {
            Some(code) => format!("Twilio refused the message: {words} (error {code})"),
            None => format!("Twilio refused the message: {words}"),
        };
        // 4xx is about this message or this account: sending it again
        // changes nothing. Too many requests and server errors pass.
        if status.is_client_error() && status.as_u16() != 429 {
            Err(SendError::permanent(reason))
        } else {
            Err(SendError::transient(reason))
        }
    }
}

/// Twilio's webhook signature: Base64 of HMAC-SHA1, keyed by the auth
/// token, over the full URL Twilio called followed by each POST parameter's
/// name and value, sorted by name.
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_twilio_s_documented_example() {
        // The example of Twilio's "Webhooks security" page.
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            signature(
                "12345",
                "https://mycompany.com/myapp.php?foo=1&bar=2",
                &params
            ),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
    }
}
