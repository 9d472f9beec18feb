//! The messaging keys: SMTP, the text-message gateway, reminders.

use super::{ConfigError, Secret, Sources};
use crate::notify::console::ChannelValues;
use crate::notify::email::{Security, SmtpConfig};
use crate::notify::phone::DefaultCountry;
use crate::notify::schedule::parse_offsets;
use crate::notify::sms::{HttpGatewayConfig, TwilioConfig};
use crate::notify::{ChannelConfig, NotifyConfig, SmsChoice};
use std::path::PathBuf;

pub(super) fn parse(src: &Sources, public_url: &str) -> Result<NotifyConfig, ConfigError> {
    let text = |key: &'static str| src.get(key).map(|r| r.value.trim().to_string());

    let default_country = match text("default_country") {
        None => DefaultCountry::parse("CH").expect("CH is a country"),
        Some(code) => DefaultCountry::parse(&code).ok_or_else(|| {
            src.error(
                "default_country",
                format!("{code:?} is not a two-letter country code like CH, FR or BE"),
            )
        })?,
    };
    let reminder_offsets = parse_offsets(text("reminder_offsets").as_deref().unwrap_or("1d,15m"))
        .map_err(|e| src.error("reminder_offsets", e.to_string()))?;
    let max_per_recipient_per_hour = match text("notify_max_per_hour") {
        None => 10,
        Some(n) => match n.parse::<u32>() {
            Ok(n) if n <= 1000 => n,
            _ => {
                return Err(src.error(
                    "notify_max_per_hour",
                    format!("{n:?} is not a number of messages between 0 (no limit) and 1000"),
                ));
            }
        },
    };
    let templates_dir = text("notify_templates_dir").map(PathBuf::from);
    if let Some(dir) = &templates_dir
        && !dir.is_dir()
    {
        return Err(src.error(
            "notify_templates_dir",
            format!("{} is not a folder", dir.display()),
        ));
    }

    Ok(NotifyConfig {
        channels: parse_channels(src, public_url)?,
        default_country,
        reminder_offsets,
        max_per_recipient_per_hour,
        templates_dir,
    })
}

/// The email and text-message keys alone (the ones the console edits): from
/// the file and environment at start, from the console's values afterwards.
pub(super) fn parse_channels(
    src: &Sources,
    public_url: &str,
) -> Result<ChannelConfig, ConfigError> {
    let text = |key: &'static str| src.get(key).map(|r| r.value.trim().to_string());
    let secret = |key: &'static str| src.get(key).map(|r| Secret::new(r.value.trim()));
    let missing = |key: &'static str, why: &str| src.error(key, format!("is missing: {why}"));

    let smtp = match text("smtp_host") {
        None => None,
        Some(host) => {
            let security = match text("smtp_security") {
                None => Security::StartTls,
                Some(value) => Security::parse(&value).ok_or_else(|| {
                    src.error(
                        "smtp_security",
                        format!("{value:?} is none of starttls, tls, none"),
                    )
                })?,
            };
            let port = match text("smtp_port") {
                None => match security {
                    Security::StartTls => 587,
                    Security::Tls => 465,
                    Security::None => 25,
                },
                Some(p) => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                    src.error("smtp_port", format!("{p:?} is not a port number like 587"))
                })?,
            };
            let from_text = text("smtp_from").ok_or_else(|| {
                missing(
                    "smtp_from",
                    "the sender of the emails, like Hôpital <visio@hopital.example>",
                )
            })?;
            let mailbox = |key: &'static str, value: &str| {
                value.parse::<lettre::message::Mailbox>().map_err(|_| {
                    src.error(
                        key,
                        format!("{value:?} is not an address like Hôpital <visio@hopital.example>"),
                    )
                })
            };
            let from = mailbox("smtp_from", &from_text)?;
            let reply_to = match text("smtp_reply_to") {
                None => None,
                Some(value) => Some(mailbox("smtp_reply_to", &value)?),
            };
            let username = text("smtp_username");
            let password = secret("smtp_password");
            if username.is_some() != password.is_some() {
                let key = if username.is_some() {
                    "smtp_password"
                } else {
                    "smtp_username"
                };
                return Err(missing(
                    key,
                    "the SMTP login needs both a user name and a password",
                ));
            }
            let ca_file = text("smtp_ca_file").map(PathBuf::from);
            if let Some(path) = &ca_file
                && !path.is_file()
            {
                return Err(src.error("smtp_ca_file", format!("{} is not a file", path.display())));
            }
            Some(SmtpConfig {
                host,
                port,
                security,
                username,
                password,
                from,
                reply_to,
                ca_file,
            })
        }
    };

    let sms = match text("sms_provider").as_deref() {
        None | Some("none" | "off") => SmsChoice::None,
        Some("log") => SmsChoice::Log,
        Some("twilio") => {
            let account_sid = text("twilio_account_sid").ok_or_else(|| {
                missing("twilio_account_sid", "Twilio needs the account SID (AC…)")
            })?;
            if !(account_sid.starts_with("AC")
                && account_sid.len() == 34
                && account_sid.bytes().all(|b| b.is_ascii_alphanumeric()))
            {
                return Err(src.error(
                    "twilio_account_sid",
                    "is not an account SID (AC followed by 32 letters and digits)".into(),
                ));
            }
            let auth_token = secret("twilio_auth_token")
                .ok_or_else(|| missing("twilio_auth_token", "Twilio needs the auth token"))?;
            let from = text("twilio_from");
            let messaging_service_sid = text("twilio_messaging_service_sid");
            if from.is_none() && messaging_service_sid.is_none() {
                return Err(missing(
                    "twilio_from",
                    "Twilio needs a sender number (or a messaging service SID)",
                ));
            }
            let api_base = text("twilio_api_base")
                .unwrap_or_else(|| "https://api.twilio.com".into())
                .trim_end_matches('/')
                .to_string();
            if !(api_base.starts_with("https://") || api_base.starts_with("http://")) {
                return Err(src.error(
                    "twilio_api_base",
                    format!("{api_base:?} is not a URL like https://api.twilio.com"),
                ));
            }
            SmsChoice::Twilio(TwilioConfig {
                account_sid,
                auth_token,
                from,
                messaging_service_sid,
                api_base,
                status_callback: Some(format!(
                    "{public_url}{}",
                    crate::http::webhooks::STATUS_PATH
                )),
            })
        }
        Some("http") => {
            let url = text("sms_http_url").ok_or_else(|| {
                missing("sms_http_url", "the address of the text-message gateway")
            })?;
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(src.error(
                    "sms_http_url",
                    format!("{url:?} is not a URL starting with https://"),
                ));
            }
            let method = match text("sms_http_method")
                .as_deref()
                .map(str::to_ascii_uppercase)
            {
                None => reqwest::Method::POST,
                Some(m) if m == "POST" => reqwest::Method::POST,
                Some(m) if m == "PUT" => reqwest::Method::PUT,
                Some(m) if m == "GET" => reqwest::Method::GET,
                Some(other) => {
                    return Err(src.error(
                        "sms_http_method",
                        format!("{other:?} is none of POST, PUT, GET"),
                    ));
                }
            };
            let mut headers = Vec::new();
            for item in text("sms_http_headers")
                .unwrap_or_default()
                .split('|')
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                let Some((name, value)) = item.split_once(':') else {
                    return Err(src.error(
                        "sms_http_headers",
                        "is not a list like Authorization: Bearer abc | X-Sender: Clinic".into(),
                    ));
                };
                let name = name.trim();
                if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                    return Err(
                        src.error("sms_http_headers", format!("{name:?} is not a header name"))
                    );
                }
                headers.push((name.to_string(), Secret::new(value.trim())));
            }
            let content_type =
                text("sms_http_content_type").unwrap_or_else(|| "application/json".into());
            let body =
                text("sms_http_body").unwrap_or_else(|| r#"{"to":"{to}","text":"{text}"}"#.into());
            if !body.contains("{to}") || !body.contains("{text}") {
                return Err(src.error(
                    "sms_http_body",
                    "must contain {to} and {text}, where the number and the message go".into(),
                ));
            }
            SmsChoice::Http(HttpGatewayConfig {
                url,
                method,
                headers,
                content_type,
                body,
            })
        }
        Some(other) => {
            return Err(src.error(
                "sms_provider",
                format!("{other:?} is none of none, log, twilio, http"),
            ));
        }
    };

    Ok(ChannelConfig {
        smtp,
        sms,
        values: ChannelValues::from_pairs(app::channel_setup::FIELDS.iter().filter_map(|f| {
            src.get(f.key)
                .map(|raw| (f.key, raw.value.trim().to_string()))
        })),
    })
}
