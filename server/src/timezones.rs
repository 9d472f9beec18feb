//! Appointment times between zones: a time typed in the clinician's zone,
//! stored in UTC, shown to the patient in theirs and in their language.
//! jiff carries the zone database (compiled in), so daylight-saving changes
//! are handled by the rules, not by offsets we guess.

use app::i18n::{Lang, long_datetime};
use chrono::{DateTime, Utc};
use jiff::civil::DateTime as CivilDateTime;
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

/// Why a typed time cannot be used, worded for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("{0:?} is not a time zone this server knows (like Europe/Zurich).")]
    UnknownZone(String),
    #[error("Enter a real date and time, like 2026-11-23 14:30.")]
    BadDateTime,
}

pub fn zone(name: &str) -> Result<TimeZone, TimeError> {
    TimeZone::get(name).map_err(|_| TimeError::UnknownZone(name.to_string()))
}

/// `2026-11-23T14:30` in `zone_name` → the instant. A time that falls in a
/// daylight-saving gap moves forward, as clocks do ("compatible").
pub fn parse_local(value: &str, zone_name: &str) -> Result<DateTime<Utc>, TimeError> {
    let tz = zone(zone_name)?;
    let civil: CivilDateTime = value.parse().map_err(|_| TimeError::BadDateTime)?;
    let zoned = civil.to_zoned(tz).map_err(|_| TimeError::BadDateTime)?;
    to_chrono(zoned.timestamp())
}

fn to_chrono(ts: Timestamp) -> Result<DateTime<Utc>, TimeError> {
    DateTime::from_timestamp_millis(ts.as_millisecond()).ok_or(TimeError::BadDateTime)
}

fn to_zoned(instant: DateTime<Utc>, tz: TimeZone) -> Option<Zoned> {
    Timestamp::from_millisecond(instant.timestamp_millis())
        .ok()
        .map(|ts| ts.to_zoned(tz))
}

/// "Monday 23 November 2026 at 14:30 (Europe/Zurich)" in `lang`.
pub fn long_in_zone(instant: DateTime<Utc>, zone_name: &str, lang: Lang) -> String {
    let tz = zone(zone_name).unwrap_or(TimeZone::UTC);
    let Some(z) = to_zoned(instant, tz) else {
        return instant.to_rfc3339();
    };
    let text = long_datetime(
        lang,
        z.weekday().to_monday_one_offset() as u8,
        z.day() as u8,
        z.month() as u8,
        i32::from(z.year()),
        z.hour() as u8,
        z.minute() as u8,
    );
    format!("{text} ({zone_name})")
}

/// `23/11/2026 14:05` in `zone_name`: short enough for a text message.
pub fn short_in_zone(instant: DateTime<Utc>, zone_name: &str) -> String {
    let tz = zone(zone_name).unwrap_or(TimeZone::UTC);
    match to_zoned(instant, tz) {
        Some(z) => format!(
            "{:02}/{:02}/{} {:02}:{:02}",
            z.day(),
            z.month(),
            z.year(),
            z.hour(),
            z.minute()
        ),
        None => instant.format("%d/%m/%Y %H:%M").to_string(),
    }
}

/// `14:05` in `zone_name`.
pub fn clock_in_zone(instant: DateTime<Utc>, zone_name: &str) -> String {
    let tz = zone(zone_name).unwrap_or(TimeZone::UTC);
    match to_zoned(instant, tz) {
        Some(z) => format!("{:02}:{:02}", z.hour(), z.minute()),
        None => instant.format("%H:%M").to_string(),
    }
}

/// Midnight to midnight of the day `now` falls in, in `zone_name`.
pub fn day_bounds(now: DateTime<Utc>, zone_name: &str) -> (DateTime<Utc>, DateTime<Utc>) {
    let tz = zone(zone_name).unwrap_or(TimeZone::UTC);
    let fallback = (
        now - chrono::Duration::hours(12),
        now + chrono::Duration::hours(12),
    );
    let Some(z) = to_zoned(now, tz) else {
        return fallback;
    };
    let (Ok(start), Ok(end)) = (
        z.start_of_day(),
        z.start_of_day().and_then(|s| s.tomorrow()),
    ) else {
        return fallback;
    };
    match (to_chrono(start.timestamp()), to_chrono(end.timestamp())) {
        (Ok(a), Ok(b)) => (a, b),
        _ => fallback,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_typed_in_paris_is_shown_in_new_york() {
        let at = parse_local("2026-11-23T14:30", "Europe/Paris").unwrap();
        assert_eq!(at.to_rfc3339(), "2026-11-23T13:30:00+00:00");
        assert_eq!(
            long_in_zone(at, "America/New_York", Lang::En),
            "Monday 23 November 2026 at 08:30 (America/New_York)"
        );
        assert_eq!(
            long_in_zone(at, "Europe/Paris", Lang::Fr),
            "lundi 23 novembre 2026 à 14:30 (Europe/Paris)"
        );
    }

    #[test]
    fn daylight_saving_is_the_zone_rules_not_a_fixed_offset() {
        // Summer time in Zurich is UTC+2, winter UTC+1.
        let summer = parse_local("2026-07-01T09:00", "Europe/Zurich").unwrap();
        let winter = parse_local("2026-12-01T09:00", "Europe/Zurich").unwrap();
        assert_eq!(summer.to_rfc3339(), "2026-07-01T07:00:00+00:00");
        assert_eq!(winter.to_rfc3339(), "2026-12-01T08:00:00+00:00");
        // 02:30 on 29 March 2026 does not exist in Zurich: it moves forward.
        let gap = parse_local("2026-03-29T02:30", "Europe/Zurich").unwrap();
        assert_eq!(gap.to_rfc3339(), "2026-03-29T01:30:00+00:00");
    }

    #[test]
    fn bad_input_is_refused_plainly() {
        assert_eq!(
            parse_local("2026-02-30T10:00", "UTC"),
            Err(TimeError::BadDateTime)
        );
        assert!(matches!(
            parse_local("2026-02-03T10:00", "Mars/Olympus"),
            Err(TimeError::UnknownZone(_))
        ));
    }

    #[test]
    fn the_day_is_the_clinic_s_day() {
        let now = "2026-11-23T23:30:00Z".parse::<DateTime<Utc>>().unwrap();
        let (from, to) = day_bounds(now, "Europe/Zurich");
        // 00:30 on the 24th in Zurich: the day began at 23:00 UTC on the 23rd.
        assert_eq!(from.to_rfc3339(), "2026-11-23T23:00:00+00:00");
        assert_eq!(to.to_rfc3339(), "2026-11-24T23:00:00+00:00");
    }
}
