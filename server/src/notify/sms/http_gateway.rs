//! A hospital's own text-message gateway over HTTP: the administrator gives
//! the URL, the method, extra headers (an API key, say) and a body template
//! with `{to}` and `{text}`. Values are JSON-escaped when the content type
//! is JSON, form-encoded otherwise. Any 2xx answer means sent.

use super::{SmsGateway, http_client, transport_error};
use crate::notify::delivery::{Receipt, SendError};
use async_trait::async_trait;

#[derive(Debug, Clone)]
pub struct HttpGatewayConfig {
    pub url: String,
    /// `POST` or `PUT` (or `GET`, with the body template as the query).
    pub method: reqwest::Method,
    /// `Name: value` pairs; values may be secrets, so never logged.
    pub headers: Vec<(String, crate::config::Secret)>,
    pub content_type: String,
    pub body: String,
}

pub struct HttpGateway {
    config: HttpGatewayConfig,
    client: reqwest::Client,
}

impl HttpGateway {
    pub fn new(config: HttpGatewayConfig) -> Self {
        Self {
            config,
            client: http_client(),
        }
    }

    fn body(&self, to: &str, text: &str) -> String {
        let json = self.config.content_type.contains("json");
        let encode = |value: &str| {
            if json {
                let quoted = serde_json::Value::String(value.to_string()).to_string();
                quoted[1..quoted.len() - 1].to_string()
            } else {
                form_encode(value)
            }
        };
        self.config
            .body
            .replace("{to}", &encode(to))
            .replace("{text}", &encode(text))
    }
}

fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[async_trait]
impl SmsGateway for HttpGateway {
    fn name(&self) -> &'static str {
        "http"
    }

    async fn send(&self, to: &str, text: &str) -> Result<Receipt, SendError> {
        let c = &self.config;
        let body = self.body(to, text);
        let mut request = if c.method == reqwest::Method::GET {
            let joiner = if c.url.contains('?') { '&' } else { '?' };
            self.client.get(format!("{}{joiner}{body}", c.url))
        } else {
            self.client
                .request(c.method.clone(), &c.url)
                .header(reqwest::header::CONTENT_TYPE, &c.content_type)
                .body(body)
        };
        for (name, value) in &c.headers {
            request = request.header(name.as_str(), value.expose());
        }
        let response = request.send().await.map_err(|e| transport_error(&e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(Receipt::default());
        }
        let text = response.text().await.unwrap_or_default();
        let excerpt: String = text.trim().chars().take(200).collect();
        let reason = if excerpt.is_empty() {
            format!("the text-message gateway answered HTTP {}", status.as_u16())
        } else {
            format!(
                "the text-message gateway answered HTTP {}: {excerpt}",
                status.as_u16()
            )
        };
        if status.is_client_error() && status.as_u16() != 429 {
            Err(SendError::permanent(reason))
        } else {
            Err(SendError::transient(reason))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway(content_type: &str, body: &str) -> HttpGateway {
        HttpGateway::new(HttpGatewayConfig {
            url: "http://127.0.0.1:9/send".into(),
            method: reqwest::Method::POST,
            headers: vec![],
            content_type: content_type.into(),
            body: body.into(),
        })
    }

    #[test]
    fn bodies_are_escaped_for_their_content_type() {
        let g = gateway("application/json", r#"{"to":"{to}","message":"{text}"}"#);
        assert_eq!(
            g.body("+41791234567", "Say \"hi\"\nhttps://x/i/a&b"),
            r#"{"to":"+41791234567","message":"Say \"hi\"\nhttps://x/i/a&b"}"#
        );
        let g = gateway("application/x-www-form-urlencoded", "to={to}&msg={text}");
        assert_eq!(
            g.body("+41791234567", "é a&b"),
            "to=%2B41791234567&msg=%C3%A9+a%26b"
        );
    }
}
