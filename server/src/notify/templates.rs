//! The words of every message, per language, in files: the defaults are
//! compiled in from `server/templates/notify/<lang>/`, and an administrator
//! overrides any of them by putting a file of the same name under
//! `VISITA_NOTIFY_TEMPLATES_DIR/<lang>/`. Placeholders are `{name}`; a
//! template that names a placeholder Visita does not fill, or an SMS whose
//! link is not last, is refused when the server starts, not when a patient
//! would have received it.

use app::i18n::Lang;
use std::collections::HashMap;
use std::fmt;
use std::path::Path;

/// What a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A consultation at a set time.
    Invite,
    /// A consultation "now".
    InviteNow,
    Reminder,
    /// The consultation moved to another time.
    Reschedule,
    Cancellation,
    /// The administrator's "send a test message".
    Test,
    /// To the clinician: the patient answered NO.
    PatientCancelled,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Invite,
        Kind::InviteNow,
        Kind::Reminder,
        Kind::Reschedule,
        Kind::Cancellation,
        Kind::Test,
        Kind::PatientCancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Invite => "invite",
            Kind::InviteNow => "invite_now",
            Kind::Reminder => "reminder",
            Kind::Reschedule => "reschedule",
            Kind::Cancellation => "cancellation",
            Kind::Test => "test",
            Kind::PatientCancelled => "patient_cancelled",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == value)
    }

    /// Whether the message carries the patient's link.
    pub fn has_link(self) -> bool {
        matches!(
            self,
            Kind::Invite | Kind::InviteNow | Kind::Reminder | Kind::Reschedule
        )
    }
}

/// The four files of one kind of message in one language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    Subject,
    Text,
    Html,
    Sms,
}

impl Part {
    const ALL: [Part; 4] = [Part::Subject, Part::Text, Part::Html, Part::Sms];

    fn extension(self) -> &'static str {
        match self {
            Part::Subject => "subject",
            Part::Text => "txt",
            Part::Html => "html",
            Part::Sms => "sms",
        }
    }
}

/// The placeholders Visita fills.
const PLACEHOLDERS: &[&str] = &[
    "patient",
    "clinician",
    "clinic",
    "when",
    "when_short",
    "link",
    "reply_hint",
    "subject",
    "content",
];

/// The values of one message's placeholders (raw text; HTML escaping is
/// done when rendering the HTML part).
#[derive(Debug, Clone, Default)]
pub struct Values {
    pub patient: String,
    pub clinician: String,
    pub clinic: String,
    /// "Monday 23 November 2026 at 14:30 (Europe/Paris)".
    pub when: String,
    /// "23/11 14:30" (short, for subjects and SMS).
    pub when_short: String,
    pub link: String,
    /// "Reply YES to confirm, NO to cancel. " when answers come back.
    pub reply_hint: String,
}

impl Values {
    fn get(&self, name: &str) -> &str {
        match name {
            "patient" => &self.patient,
            "clinician" => &self.clinician,
            "clinic" => &self.clinic,
            "when" => &self.when,
            "when_short" => &self.when_short,
            "link" => &self.link,
            "reply_hint" => &self.reply_hint,
            _ => "",
        }
    }
}

/// A message ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
    pub sms: String,
}

/// A template that cannot be used, worded for the administrator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("{file}: cannot be read ({reason})")]
    Unreadable { file: String, reason: String },
    #[error("{file}: {{{name}}} is not a placeholder Visita fills (known: {known})")]
    UnknownPlaceholder {
        file: String,
        name: String,
        known: String,
    },
    #[error("{file}: the text message must end with {{link}}, so the phone shows it whole")]
    LinkNotLast { file: String },
}

/// Every template of every language, checked.
#[derive(Clone)]
pub struct Templates {
    files: HashMap<(Lang, Kind, Part), String>,
    layouts: HashMap<Lang, String>,
}

impl fmt::Debug for Templates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Templates({} files)", self.files.len())
    }
}

macro_rules! embedded {
    ($($lang:literal),*) => {
        fn embedded(lang: &str, name: &str) -> Option<&'static str> {
            $(
                if lang == $lang {
                    return match name {
                        "invite.subject" => Some(include_str!(concat!("../../templates/notify/", $lang, "/invite.subject"))),
                        "invite.txt" => Some(include_str!(concat!("../../templates/notify/", $lang, "/invite.txt"))),
                        "invite.html" => Some(include_str!(concat!("../../templates/notify/", $lang, "/invite.html"))),
                        "invite.sms" => Some(include_str!(concat!("../../templates/notify/", $lang, "/invite.sms"))),
                        "invite_now.subject" => Some(include_str!(concat!("../../templates/notify/", $lang, "/invite_now.subject"))),
                        "invite_now.txt" => Some(include_str!(concat!("../../templates/notify/", $lang, "/invite_now.txt"))),
                        "invite_now.html" => Some(include_str!(concat!("../../templates/notify/", $lang, "/invite_now.html"))),
                        "invite_now.sms" => Some(include_str!(concat!("../../templates/notify/", $lang, "/invite_now.sms"))),
                        "reminder.subject" => Some(include_str!(concat!("../../templates/notify/", $lang, "/reminder.subject"))),
                        "reminder.txt" => Some(include_str!(concat!("../../templates/notify/", $lang, "/reminder.txt"))),
                        "reminder.html" => Some(include_str!(concat!("../../templates/notify/", $lang, "/reminder.html"))),
                        "reminder.sms" => Some(include_str!(concat!("../../templates/notify/", $lang, "/reminder.sms"))),
                        "cancellation.subject" => Some(include_str!(concat!("../../templates/notify/", $lang, "/cancellation.subject"))),
                        "cancellation.txt" => Some(include_str!(concat!("../../templates/notify/", $lang, "/cancellation.txt"))),
                        "cancellation.html" => Some(include_str!(concat!("../../templates/notify/", $lang, "/cancellation.html"))),
                        "cancellation.sms" => Some(include_str!(concat!("../../templates/notify/", $lang, "/cancellation.sms"))),
                        "test.subject" => Some(include_str!(concat!("../../templates/notify/", $lang, "/test.subject"))),
                        "test.txt" => Some(include_str!(concat!("../../templates/notify/", $lang, "/test.txt"))),
                        "test.html" => Some(include_str!(concat!("../../templates/notify/", $lang, "/test.html"))),
                        "test.sms" => Some(include_str!(concat!("../../templates/notify/", $lang, "/test.sms"))),
                        "reschedule.subject" => Some(include_str!(concat!("../../templates/notify/", $lang, "/reschedule.subject"))),
                        "reschedule.txt" => Some(include_str!(concat!("../../templates/notify/", $lang, "/reschedule.txt"))),
                        "reschedule.html" => Some(include_str!(concat!("../../templates/notify/", $lang, "/reschedule.html"))),
                        "reschedule.sms" => Some(include_str!(concat!("../../templates/notify/", $lang, "/reschedule.sms"))),
                        "patient_cancelled.subject" => Some(include_str!(concat!("../../templates/notify/", $lang, "/patient_cancelled.subject"))),
                        "patient_cancelled.txt" => Some(include_str!(concat!("../../templates/notify/", $lang, "/patient_cancelled.txt"))),
                        "patient_cancelled.html" => Some(include_str!(concat!("../../templates/notify/", $lang, "/patient_cancelled.html"))),
                        "patient_cancelled.sms" => Some(include_str!(concat!("../../templates/notify/", $lang, "/patient_cancelled.sms"))),
                        "layout.html" => Some(include_str!(concat!("../../templates/notify/", $lang, "/layout.html"))),
                        _ => None,
                    };
                }
            )*
            None
        }
    };
}

embedded!("en", "fr");

impl Templates {
    /// The compiled-in templates, with the files of `overrides` (if any)
    /// taking their place; every one checked.
    pub fn load(overrides: Option<&Path>) -> Result<Self, TemplateError> {
        let read = |lang: Lang, name: &str| -> Result<(String, String), TemplateError> {
            if let Some(dir) = overrides {
                let path = dir.join(lang.code()).join(name);
                if path.exists() {
                    let label = path.display().to_string();
                    let text =
                        std::fs::read_to_string(&path).map_err(|e| TemplateError::Unreadable {
                            file: label.clone(),
                            reason: e.to_string(),
                        })?;
                    return Ok((label, text));
                }
            }
            let label = format!("templates/notify/{}/{name}", lang.code());
            let text = embedded(lang.code(), name)
                // A language with no templates of its own speaks English.
                .or_else(|| embedded("en", name))
                .unwrap_or_default();
            Ok((label, text.to_string()))
        };
        let mut files = HashMap::new();
        let mut layouts = HashMap::new();
        for &lang in Lang::ALL {
            for kind in Kind::ALL {
                for part in Part::ALL {
                    let name = format!("{}.{}", kind.as_str(), part.extension());
                    let (label, text) = read(lang, &name)?;
                    check(&label, &text, part == Part::Sms && kind.has_link())?;
                    let text = match part {
                        Part::Subject | Part::Sms => text.trim().to_string(),
                        Part::Text | Part::Html => text,
                    };
                    files.insert((lang, kind, part), text);
                }
            }
            let (label, layout) = read(lang, "layout.html")?;
            check(&label, &layout, false)?;
            layouts.insert(lang, layout);
        }
        Ok(Self { files, layouts })
    }

    /// The message `kind` in `lang` with `values` filled in.
    pub fn render(&self, lang: Lang, kind: Kind, values: &Values) -> Rendered {
        let file = |part| {
            self.files
                .get(&(lang, kind, part))
                .map(String::as_str)
                .unwrap_or_default()
        };
        let subject = fill(file(Part::Subject), |name| values.get(name).to_string());
        let text = fill(file(Part::Text), |name| values.get(name).to_string());
        let content = fill(file(Part::Html), |name| escape_html(values.get(name)));
        let layout = self
            .layouts
            .get(&lang)
            .map(String::as_str)
            .unwrap_or("{content}");
        let html = fill(layout, |name| match name {
            "content" => content.clone(),
            "subject" => escape_html(&subject),
            other => escape_html(values.get(other)),
        });
        let sms = if kind.has_link() {
            let template = file(Part::Sms);
            let lead = template.strip_suffix("{link}").unwrap_or(template);
            let lead = fill(lead.trim_end(), |name| values.get(name).to_string());
            super::sms_text::fit(&lead, &values.link)
        } else {
            fill(file(Part::Sms), |name| values.get(name).to_string())
        };
        Rendered {
            subject,
            text,
            html,
            sms,
        }
    }
}

/// Every `{name}` in `text`.
fn placeholders(text: &str) -> impl Iterator<Item = &str> {
    text.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .filter(|name| {
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        })
}

fn check(label: &str, text: &str, link_last: bool) -> Result<(), TemplateError> {
    if let Some(name) = placeholders(text).find(|n| !PLACEHOLDERS.contains(n)) {
        return Err(TemplateError::UnknownPlaceholder {
            file: label.to_string(),
            name: name.to_string(),
            known: PLACEHOLDERS.join(", "),
        });
    }
    if link_last && !text.trim_end().ends_with("{link}") {
        return Err(TemplateError::LinkNotLast {
            file: label.to_string(),
        });
    }
    Ok(())
}

/// `text` with each `{name}` replaced by `value(name)`; other braces stay.
fn fill(text: &str, value: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if PLACEHOLDERS.contains(&&after[..close]) => {
                out.push_str(&value(&after[..close]));
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values {
        Values {
            patient: "Ana <Silva>".into(),
            clinician: "Dr House".into(),
            clinic: "Clinique & Co".into(),
            when: "Monday 23 November 2026 at 14:30 (Europe/Paris)".into(),
            when_short: "23/11 14:30".into(),
            link: "http://localhost:3000/i/abcdefghijkmnpqrstuvwxyz23".into(),
            reply_hint: "Reply YES to confirm, NO to cancel. ".into(),
        }
    }

    #[test]
    fn every_language_renders_every_kind_with_the_link_last() {
        let t = Templates::load(None).unwrap();
        for &lang in Lang::ALL {
            for kind in Kind::ALL {
                let r = t.render(lang, kind, &values());
                assert!(
                    !r.subject.is_empty() && !r.text.is_empty(),
                    "{lang:?} {kind:?}"
                );
                assert!(!r.subject.contains('{') && !r.text.contains('{'), "{r:?}");
                assert!(r.html.starts_with("<!doctype html>"), "{lang:?} {kind:?}");
                assert!(super::super::sms_text::segments(&r.sms) <= 2, "{:?}", r.sms);
                if kind.has_link() {
                    assert!(r.sms.ends_with(&values().link), "{:?}", r.sms);
                    assert!(r.text.contains(&values().link));
                    assert!(r.html.contains(&format!("href=\"{}\"", values().link)));
                }
            }
        }
    }

    #[test]
    fn html_is_escaped_and_text_is_not() {
        let t = Templates::load(None).unwrap();
        let r = t.render(Lang::En, Kind::Invite, &values());
        assert!(r.text.contains("Hello Ana <Silva>,"));
        assert!(r.html.contains("Hello Ana &lt;Silva&gt;,"));
        assert!(r.html.contains("Clinique &amp; Co"));
        assert!(!r.html.contains("<Silva>"));
    }

    #[test]
    fn overrides_replace_files_and_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("fr")).unwrap();
        std::fs::write(
            dir.path().join("fr/invite.subject"),
            "RDV {when_short} — {clinic}\n",
        )
        .unwrap();
        let t = Templates::load(Some(dir.path())).unwrap();
        let r = t.render(Lang::Fr, Kind::Invite, &values());
        assert_eq!(r.subject, "RDV 23/11 14:30 — Clinique & Co");
        // English is untouched.
        assert!(
            t.render(Lang::En, Kind::Invite, &values())
                .subject
                .starts_with("Your video")
        );

        std::fs::write(dir.path().join("fr/reminder.txt"), "Hello {patient_name}").unwrap();
        let err = Templates::load(Some(dir.path())).unwrap_err();
        assert!(
            err.to_string()
                .contains("{patient_name} is not a placeholder"),
            "{err}"
        );
        std::fs::remove_file(dir.path().join("fr/reminder.txt")).unwrap();

        std::fs::write(dir.path().join("fr/invite.sms"), "{link} est votre lien").unwrap();
        let err = Templates::load(Some(dir.path())).unwrap_err();
        assert!(matches!(err, TemplateError::LinkNotLast { .. }), "{err}");
    }

    #[test]
    fn braces_that_are_not_placeholders_stay() {
        assert_eq!(fill("a {x} {link} {", |_| "L".into()), "a {x} L {");
    }
}
