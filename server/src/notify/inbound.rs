//! Text messages patients send back, and the gateway's delivery reports.
//! A patient answers a reminder with one word: YES confirms, NO cancels,
//! ARRIVED (in-clinic flows) and JOINED mark them; anything else gets a
//! short help text. The words are read in English and French.

use app::i18n::Lang;

/// What a patient's answer means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    Confirm,
    Cancel,
    Arrived,
    Joined,
    Other,
}

impl Reply {
    /// The first word of the message, without case, accents or punctuation.
    pub fn read(body: &str) -> Self {
        let word: String = body
            .split_whitespace()
            .next()
            .unwrap_or("")
            .chars()
            .filter(|c| c.is_alphabetic())
            .flat_map(char::to_uppercase)
            .map(|c| match c {
                'É' | 'È' | 'Ê' => 'E',
                other => other,
            })
            .collect();
        match word.as_str() {
            "YES" | "Y" | "OUI" | "O" => Reply::Confirm,
            "NO" | "N" | "NON" => Reply::Cancel,
            "ARRIVED" | "ARRIVE" | "HERE" | "ICI" => Reply::Arrived,
            "JOINED" | "JOIN" | "CONNECTE" => Reply::Joined,
            _ => Reply::Other,
        }
    }

    /// What the consultation keeps as the patient's last answer.
    pub fn as_str(self) -> &'static str {
        match self {
            Reply::Confirm => "confirmed",
            Reply::Cancel => "cancelled",
            Reply::Arrived => "arrived",
            Reply::Joined => "joined",
            Reply::Other => "other",
        }
    }
}

/// The short answer sent back. `when` is the appointment's short time
/// ("25/10/2026 10:00"), empty for a consultation "now".
pub fn answer(reply: Reply, lang: Lang, when: &str, clinic: &str) -> String {
    let fr = lang.code() == "fr";
    let at = |prefix_en: &str, prefix_fr: &str| {
        if when.is_empty() {
            String::new()
        } else if fr {
            format!("{prefix_fr}{when}")
        } else {
            format!("{prefix_en}{when}")
        }
    };
    match (reply, fr) {
        (Reply::Confirm, false) => format!(
            "{clinic}: thank you, your consultation{} is confirmed.",
            at(" on ", " ")
        ),
        (Reply::Confirm, true) => format!(
            "{clinic} : merci, votre consultation{} est confirmée.",
            at(" on ", " du ")
        ),
        (Reply::Cancel, false) => format!(
            "{clinic}: your consultation{} is cancelled. Contact us for a new appointment.",
            at(" on ", " ")
        ),
        (Reply::Cancel, true) => format!(
            "{clinic} : votre consultation{} est annulée. Contactez-nous pour un nouveau rendez-vous.",
            at(" on ", " du ")
        ),
        (Reply::Arrived, false) => format!("{clinic}: thank you, the team knows you are here."),
        (Reply::Arrived, true) => format!("{clinic} : merci, l'équipe sait que vous êtes là."),
        (Reply::Joined, false) => format!("{clinic}: thank you."),
        (Reply::Joined, true) => format!("{clinic} : merci."),
        (Reply::Other, false) => format!(
            "{clinic}: reply YES to confirm or NO to cancel your consultation{}.",
            at(" on ", " ")
        ),
        (Reply::Other, true) => format!(
            "{clinic} : répondez OUI pour confirmer ou NON pour annuler votre consultation{}.",
            at(" on ", " du ")
        ),
    }
}

/// The line a reminder carries when patients can answer it ("Reply YES…"),
/// with its trailing space; empty where the gateway brings no answers back.
pub fn hint(lang: Lang) -> String {
    match lang.code() {
        "fr" => "Répondez OUI pour confirmer, NON pour annuler. ".into(),
        _ => "Reply YES to confirm, NO to cancel. ".into(),
    }
}

/// A TwiML answer: Twilio sends `message` back to the patient, or nothing.
pub fn twiml(message: Option<&str>) -> String {
    let body = match message {
        Some(text) => format!("<Message>{}</Message>", super::templates::escape_html(text)),
        None => String::new(),
    };
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>{body}</Response>")
}

/// A delivery report from Twilio's `MessageStatus`: `Some(true)` delivered,
/// `Some(false)` failed (with the reason), `None` still on its way.
pub fn delivery(status: &str, error_code: Option<&str>) -> Option<(bool, Option<String>)> {
    match status {
        "delivered" | "read" => Some((true, None)),
        "undelivered" | "failed" => {
            let words = match error_code.unwrap_or("") {
                "30003" => "the phone is switched off or out of reach",
                "30004" => "the recipient blocks messages",
                "30005" => "the number does not exist or is no longer in service",
                "30006" => "the number is a landline or its network cannot take text messages",
                "30007" => "the phone network filtered the message",
                "30008" => "the phone network could not deliver it",
                _ => "the phone network could not deliver it",
            };
            let reason = match error_code.filter(|c| !c.is_empty()) {
                Some(code) => format!("Not delivered: {words} (Twilio error {code})."),
                None => format!("Not delivered: {words}."),
            };
            Some((false, Some(reason)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_loosely() {
        assert_eq!(Reply::read("yes"), Reply::Confirm);
        assert_eq!(Reply::read("  Oui merci"), Reply::Confirm);
        assert_eq!(Reply::read("NO."), Reply::Cancel);
        assert_eq!(Reply::read("non"), Reply::Cancel);
        assert_eq!(Reply::read("Arrivé"), Reply::Arrived);
        assert_eq!(Reply::read("joined"), Reply::Joined);
        assert_eq!(Reply::read("what is this?"), Reply::Other);
        assert_eq!(Reply::read(""), Reply::Other);
    }

    #[test]
    fn replies_are_short_and_in_the_patient_s_language() {
        let fr = Lang::from_code("fr").unwrap();
        let text = answer(Reply::Confirm, fr, "25/10/2026 10:00", "Clinique");
        assert_eq!(
            text,
            "Clinique : merci, votre consultation du 25/10/2026 10:00 est confirmée."
        );
        let text = answer(Reply::Other, Lang::default(), "", "Clinic");
        assert_eq!(
            text,
            "Clinic: reply YES to confirm or NO to cancel your consultation."
        );
        for reply in [
            Reply::Confirm,
            Reply::Cancel,
            Reply::Arrived,
            Reply::Joined,
            Reply::Other,
        ] {
            let long = answer(
                reply,
                fr,
                "25/10/2026 10:00",
                "Hôpital universitaire de la Tour",
            );
            assert!(super::super::sms_text::segments(&long) <= 2, "{long}");
        }
    }

    #[test]
    fn twiml_escapes_and_may_say_nothing() {
        assert_eq!(
            twiml(None),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>"
        );
        assert!(twiml(Some("a < b & c")).contains("<Message>a &lt; b &amp; c</Message>"));
    }

    #[test]
    fn delivery_reports_in_words() {
        assert_eq!(delivery("delivered", None), Some((true, None)));
        assert_eq!(delivery("sent", None), None);
        let (ok, reason) = delivery("undelivered", Some("30005")).unwrap();
        assert!(!ok);
        assert!(reason.unwrap().contains("does not exist"));
    }
}
