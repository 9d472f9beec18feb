//! When reminders go out. An offset in days means "the same time on the
//! clock, that many days before", read in the patient's time zone: a patient
//! told on Saturday at 10:00 about Sunday 10:00 is told at 10:00 even when the
//! clocks change overnight (that day is 25 hours long). Offsets in hours or
//! minutes are elapsed time. Pure functions: the scheduler and the tests give
//! the instants.

use chrono::{DateTime, Utc};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use std::fmt;
use std::time::Duration;

/// How long before a consultation a reminder goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Offset {
    /// Calendar days in the patient's zone, same wall-clock time.
    Days(u16),
    /// Elapsed minutes.
    Minutes(u32),
}

impl Offset {
    /// The stable name stored with each reminder (`1d`, `15m`, `2h` is `120m`),
    /// so rescheduling replaces the reminder of the same offset.
    pub fn key(self) -> String {
        match self {
            Offset::Days(d) => format!("{d}d"),
            Offset::Minutes(m) => format!("{m}m"),
        }
    }
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// Why a list of offsets cannot be used, worded for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a list of offsets like 1d,15m (days d, hours h or minutes m; up to 30 days)")]
pub struct BadOffsets(pub String);

/// `1d,15m`, `48h`, `2d, 1h, 10m` → offsets, largest first, without repeats.
/// `24h` stays 24 elapsed hours; write `1d` for the same time the day before.
pub fn parse_offsets(list: &str) -> Result<Vec<Offset>, BadOffsets> {
    let bad = || BadOffsets(list.to_string());
    let mut out = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (number, unit) = item.split_at(item.len() - 1);
        let n: u32 = number.trim().parse().map_err(|_| bad())?;
        let offset = match unit {
            "d" if (1..=30).contains(&n) => Offset::Days(n as u16),
            "h" if (1..=720).contains(&n) => Offset::Minutes(n * 60),
            "m" if (1..=43_200).contains(&n) => Offset::Minutes(n),
            _ => return Err(bad()),
        };
        if !out.contains(&offset) {
            out.push(offset);
        }
    }
    out.sort_by_key(|o| std::cmp::Reverse(before(*o)));
    Ok(out)
}

/// Roughly how far ahead an offset is (for ordering only).
fn before(offset: Offset) -> Duration {
    match offset {
        Offset::Days(d) => Duration::from_secs(u64::from(d) * 86_400),
        Offset::Minutes(m) => Duration::from_secs(u64::from(m) * 60),
    }
}

/// The instant the reminder `offset` before `appointment` goes out, for a
/// patient in `zone`. A day-offset that lands in a daylight-saving gap moves
/// forward, one that lands in a repeated hour takes the first, as clocks do.
pub fn reminder_at(appointment: DateTime<Utc>, zone: &TimeZone, offset: Offset) -> DateTime<Utc> {
    let elapsed = |d: Duration| appointment - chrono::Duration::from_std(d).unwrap_or_default();
    match offset {
        Offset::Minutes(m) => elapsed(Duration::from_secs(u64::from(m) * 60)),
        Offset::Days(d) => {
            let calendar = Timestamp::from_millisecond(appointment.timestamp_millis())
                .ok()
                .map(|ts| ts.to_zoned(zone.clone()))
                .and_then(|z| z.checked_sub(Span::new().days(i64::from(d))).ok())
                .and_then(|z| DateTime::from_timestamp_millis(z.timestamp().as_millisecond()));
            calendar.unwrap_or_else(|| elapsed(before(offset)))
        }
    }
}

/// The reminders still to come for an appointment: those whose instant is
/// after `now` (a consultation booked for in ten minutes gets no 24-hour
/// reminder, nor a 15-minute one).
pub fn upcoming(
    appointment: DateTime<Utc>,
    zone: &TimeZone,
    offsets: &[Offset],
    now: DateTime<Utc>,
) -> Vec<(Offset, DateTime<Utc>)> {
    offsets
        .iter()
        .map(|o| (*o, reminder_at(appointment, zone, *o)))
        .filter(|(_, at)| *at > now)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn paris() -> TimeZone {
        TimeZone::get("Europe/Paris").unwrap()
    }

    #[test]
    fn offsets_are_parsed_sorted_and_refused_plainly() {
        assert_eq!(
            parse_offsets("15m, 1d").unwrap(),
            vec![Offset::Days(1), Offset::Minutes(15)]
        );
        assert_eq!(
            parse_offsets("2h,48h,2h").unwrap(),
            vec![Offset::Minutes(2880), Offset::Minutes(120)]
        );
        assert_eq!(parse_offsets("").unwrap(), vec![]);
        for bad in ["1w", "d", "0d", "31d", "-5m", "1.5h", "ten minutes"] {
            assert!(parse_offsets(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_day_before_keeps_the_wall_clock_across_the_autumn_change() {
        // Sunday 25 October 2026, 10:00 in Paris is after the clocks went
        // back (03:00 CEST → 02:00 CET): 09:00 UTC. The day before at 10:00
        // was still summer time: 08:00 UTC, 25 hours earlier.
        let appointment = utc("2026-10-25T09:00:00Z");
        let at = reminder_at(appointment, &paris(), Offset::Days(1));
        assert_eq!(at, utc("2026-10-24T08:00:00Z"));
        assert_eq!((appointment - at).num_hours(), 25);
        // Minutes are elapsed time, whatever the clocks do.
        let at = reminder_at(appointment, &paris(), Offset::Minutes(15));
        assert_eq!(at, utc("2026-10-25T08:45:00Z"));
        let at = reminder_at(appointment, &paris(), Offset::Minutes(24 * 60));
        assert_eq!(at, utc("2026-10-24T09:00:00Z"));
    }

    #[test]
    fn the_day_before_keeps_the_wall_clock_across_the_spring_change() {
        // Sunday 29 March 2026, 10:00 in Paris is CEST (UTC+2): 08:00 UTC;
        // Saturday 10:00 was CET (UTC+1): 09:00 UTC, 23 hours earlier.
        let appointment = utc("2026-03-29T08:00:00Z");
        let at = reminder_at(appointment, &paris(), Offset::Days(1));
        assert_eq!(at, utc("2026-03-28T09:00:00Z"));
    }

    #[test]
    fn a_reminder_in_a_gap_moves_forward() {
        // Monday 30 March 2026 02:30 CEST; the day before at 02:30 does not
        // exist in Paris (clocks jump from 02:00 to 03:00): 03:30 CEST.
        let appointment = utc("2026-03-30T00:30:00Z");
        let at = reminder_at(appointment, &paris(), Offset::Days(1));
        assert_eq!(at, utc("2026-03-29T01:30:00Z"));
    }

    #[test]
    fn only_reminders_still_ahead_are_planned() {
        let appointment = utc("2026-12-01T09:00:00Z");
        let offsets = [Offset::Days(1), Offset::Minutes(15)];
        let z = TimeZone::get("Europe/Zurich").unwrap();
        assert_eq!(
            upcoming(appointment, &z, &offsets, utc("2026-11-20T00:00:00Z")).len(),
            2
        );
        let late = upcoming(appointment, &z, &offsets, utc("2026-12-01T08:00:00Z"));
        assert_eq!(
            late,
            vec![(Offset::Minutes(15), utc("2026-12-01T08:45:00Z"))]
        );
        assert!(upcoming(appointment, &z, &offsets, utc("2026-12-01T08:50:00Z")).is_empty());
    }
}
