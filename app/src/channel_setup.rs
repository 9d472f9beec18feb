//! The email and text-message set-up an administrator edits in the console.
//!
//! One table of its fields, shared by the page that draws the form and the
//! server that checks and stores it. A field's key is the `visita.toml` key
//! of the same setting (`VISITA_` + upper case in the environment), so the
//! README's words and the server's checks are the same for both ways in.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which part of the form a field belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Email,
    /// Which gateway sends text messages.
    Sms,
    Twilio,
    HttpGateway,
}

/// How a field is entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Text,
    Number,
    /// One of these values, with the words shown for each.
    Choice(&'static [(&'static str, &'static str)]),
    /// Never shown back: left empty, the saved value stays.
    Secret,
    LongText,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub key: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
    pub part: Part,
    pub input: Input,
}

/// The gateway choice's values, as `visita.toml` spells them.
pub const SMS_PROVIDERS: &[(&str, &str)] = &[
    ("none", "None: text messages are not sent"),
    (
        "log",
        "Log: kept in the outbox below, not sent (for trying out)",
    ),
    ("twilio", "Twilio"),
    ("http", "Your own HTTP gateway"),
];

pub const FIELDS: &[Field] = &[
    Field {
        key: "smtp_host",
        label: "Email server",
        hint: "The SMTP server's name, like smtp.hospital.example. Empty: no email is sent.",
        part: Part::Email,
        input: Input::Text,
    },
    Field {
        key: "smtp_port",
        label: "Port",
        hint: "Empty: 587 with STARTTLS, 465 with TLS, 25 without.",
        part: Part::Email,
        input: Input::Number,
    },
    Field {
        key: "smtp_security",
        label: "Security",
        hint: "",
        part: Part::Email,
        input: Input::Choice(&[
            ("starttls", "STARTTLS (usually port 587)"),
            ("tls", "TLS from the start (usually port 465)"),
            ("none", "None: only for a relay inside your network"),
        ]),
    },
    Field {
        key: "smtp_username",
        label: "Login",
        hint: "Empty when the server needs no login.",
        part: Part::Email,
        input: Input::Text,
    },
    Field {
        key: "smtp_password",
        label: "Password",
        hint: "",
        part: Part::Email,
        input: Input::Secret,
    },
    Field {
        key: "smtp_from",
        label: "Sender",
        hint: "Like Hospital <visio@hospital.example>.",
        part: Part::Email,
        input: Input::Text,
    },
    Field {
        key: "smtp_reply_to",
        label: "Replies go to",
        hint: "Empty: to the sender.",
        part: Part::Email,
        input: Input::Text,
    },
    Field {
        key: "smtp_ca_file",
        label: "Extra certificate authority",
        hint: "A PEM file on the server, when your own authority signed the email server's certificate.",
        part: Part::Email,
        input: Input::Text,
    },
    Field {
        key: "sms_provider",
        label: "Gateway",
        hint: "",
        part: Part::Sms,
        input: Input::Choice(SMS_PROVIDERS),
    },
    Field {
        key: "twilio_account_sid",
        label: "Account SID",
        hint: "AC followed by 32 letters and digits, on your Twilio console.",
        part: Part::Twilio,
        input: Input::Text,
    },
    Field {
        key: "twilio_auth_token",
        label: "Auth token",
        hint: "",
        part: Part::Twilio,
        input: Input::Secret,
    },
    Field {
        key: "twilio_from",
        label: "Sender number",
        hint: "In international form, like +41791234567; or a messaging service below.",
        part: Part::Twilio,
        input: Input::Text,
    },
    Field {
        key: "twilio_messaging_service_sid",
        label: "Messaging service SID",
        hint: "MG…, instead of a sender number.",
        part: Part::Twilio,
        input: Input::Text,
    },
    Field {
        key: "twilio_api_base",
        label: "API address",
        hint: "Empty: https://api.twilio.com.",
        part: Part::Twilio,
        input: Input::Text,
    },
    Field {
        key: "sms_http_url",
        label: "Address",
        hint: "Where Visita sends each message, like https://sms.hospital.example/send.",
        part: Part::HttpGateway,
        input: Input::Text,
    },
    Field {
        key: "sms_http_method",
        label: "Method",
        hint: "",
        part: Part::HttpGateway,
        input: Input::Choice(&[("POST", "POST"), ("PUT", "PUT"), ("GET", "GET")]),
    },
    Field {
        key: "sms_http_headers",
        label: "Headers",
        hint: "Like Authorization: Bearer abc | X-Sender: Clinic (separated by |).",
        part: Part::HttpGateway,
        input: Input::Secret,
    },
    Field {
        key: "sms_http_content_type",
        label: "Content type",
        hint: "Empty: application/json.",
        part: Part::HttpGateway,
        input: Input::Text,
    },
    Field {
        key: "sms_http_body",
        label: "Body",
        hint: "With {to} and {text} where the number and the message go. Empty: {\"to\":\"{to}\",\"text\":\"{text}\"}.",
        part: Part::HttpGateway,
        input: Input::LongText,
    },
];

/// The field named `key`.
pub fn field(key: &str) -> Option<&'static Field> {
    FIELDS.iter().find(|f| f.key == key)
}

pub fn is_secret(key: &str) -> bool {
    field(key).is_some_and(|f| f.input == Input::Secret)
}

/// The form's name for "remove the saved value" of a secret field.
pub fn forget_key(key: &str) -> String {
    format!("forget_{key}")
}

/// The set-up as the form shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelSetup {
    /// The current values of the fields that are not secret.
    pub values: BTreeMap<String, String>,
    /// The secret fields that hold a value (never the value).
    pub secrets_set: Vec<String>,
    /// In words: from the server's file, or saved in the console by whom and
    /// when.
    pub origin: String,
    pub from_console: bool,
    /// A set-up saved in the console that this server could not use, and
    /// why (it then uses its file's).
    pub problem: Option<String>,
}

impl ChannelSetup {
    pub fn value(&self, key: &str) -> &str {
        self.values.get(key).map_or("", String::as_str)
    }

    pub fn secret_set(&self, key: &str) -> bool {
        self.secrets_set.iter().any(|k| k == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_choices_have_values() {
        for (i, f) in FIELDS.iter().enumerate() {
            assert!(
                FIELDS[i + 1..].iter().all(|g| g.key != f.key),
                "{} twice",
                f.key
            );
            if let Input::Choice(choices) = f.input {
                assert!(!choices.is_empty(), "{}", f.key);
            }
        }
        assert!(is_secret("smtp_password"));
        assert!(is_secret("sms_http_headers"));
        assert!(!is_secret("smtp_host"));
        assert!(!is_secret("unknown"));
    }
}
