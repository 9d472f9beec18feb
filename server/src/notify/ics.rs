//! The calendar file (RFC 5545) attached to invites for a set time, so the
//! patient's phone puts the consultation in their calendar, and the one that
//! takes it out again when it is cancelled (same UID, `METHOD:CANCEL`).

use chrono::{DateTime, Utc};

/// One consultation as a calendar event.
pub struct Event<'a> {
    /// Stable across the invite and the cancellation.
    pub uid: &'a str,
    pub start: DateTime<Utc>,
    pub minutes: i64,
    pub summary: &'a str,
    pub description: &'a str,
    pub url: Option<&'a str>,
    pub cancelled: bool,
    pub stamp: DateTime<Utc>,
}

pub fn calendar(event: &Event) -> String {
    let stamp = |t: DateTime<Utc>| t.format("%Y%m%dT%H%M%SZ").to_string();
    let end = event.start + chrono::Duration::minutes(event.minutes);
    let mut lines = vec![
        "BEGIN:VCALENDAR".to_string(),
        "VERSION:2.0".to_string(),
        "PRODID:-//Visita//Teleconsultation//EN".to_string(),
        format!(
            "METHOD:{}",
            if event.cancelled { "CANCEL" } else { "PUBLISH" }
        ),
        "BEGIN:VEVENT".to_string(),
        format!("UID:{}", escape(event.uid)),
        format!("DTSTAMP:{}", stamp(event.stamp)),
        format!("DTSTART:{}", stamp(event.start)),
        format!("DTEND:{}", stamp(end)),
        format!("SUMMARY:{}", escape(event.summary)),
        format!("DESCRIPTION:{}", escape(event.description)),
        // Each new version of the event (a new time, a cancellation) must
        // carry a higher sequence: minutes since 1970 at the time it is made.
        format!("SEQUENCE:{}", event.stamp.timestamp() / 60),
        format!(
            "STATUS:{}",
            if event.cancelled {
                "CANCELLED"
            } else {
                "CONFIRMED"
            }
        ),
    ];
    if let Some(url) = event.url {
        lines.push(format!("URL:{url}"));
        lines.push(format!("LOCATION:{}", escape(url)));
    }
    if !event.cancelled {
        // A reminder on the phone too, 15 minutes before.
        lines.extend(
            [
                "BEGIN:VALARM",
                "ACTION:DISPLAY",
                "TRIGGER:-PT15M",
                &format!("DESCRIPTION:{}", escape(event.summary)),
                "END:VALARM",
            ]
            .map(String::from),
        );
    }
    lines.push("END:VEVENT".to_string());
    lines.push("END:VCALENDAR".to_string());
    let mut out = String::new();
    for line in lines {
        out.push_str(&fold(&line));
        out.push_str("\r\n");
    }
    out
}

/// Text values escape backslash, semicolon, comma and newlines.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace("\r\n", "\\n")
        .replace('\n', "\\n")
}

/// Lines longer than 75 octets continue on the next line after a space,
/// never cutting a UTF-8 character.
fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut width = 0;
    for c in line.chars() {
        let len = c.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(cancelled: bool) -> String {
        calendar(&Event {
            uid: "c1@visita",
            start: "2026-10-25T09:00:00Z".parse().unwrap(),
            minutes: 30,
            summary: "Consultation vidéo, Dr House; Clinique",
            description: &"Rejoindre : https://visio.example/i/abc\n".repeat(3),
            url: Some("https://visio.example/i/abc"),
            cancelled,
            stamp: "2026-10-01T12:00:00Z".parse().unwrap(),
        })
    }

    #[test]
    fn an_event_in_utc_with_escaped_folded_text() {
        let ics = event(false);
        assert!(ics.contains("DTSTART:20261025T090000Z\r\n"));
        assert!(ics.contains("DTEND:20261025T093000Z\r\n"));
        assert!(ics.contains("SUMMARY:Consultation vidéo\\, Dr House\\; Clinique\r\n"));
        assert!(ics.contains("METHOD:PUBLISH") && ics.contains("BEGIN:VALARM"));
        for line in ics.split("\r\n") {
            assert!(line.len() <= 75, "{line:?}");
        }
        // Unfolded, the description is whole.
        assert!(
            ics.replace("\r\n ", "")
                .contains("Rejoindre : https://visio.example/i/abc\\n")
        );
    }

    #[test]
    fn a_cancellation_names_the_same_event() {
        let ics = event(true);
        assert!(ics.contains("METHOD:CANCEL") && ics.contains("STATUS:CANCELLED"));
        assert!(ics.contains("UID:c1@visita") && ics.contains("SEQUENCE:29847600"));
        assert!(!ics.contains("VALARM"));
    }
}
