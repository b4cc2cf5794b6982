//! Cron schedules in a time zone, read by croner: `apply` validates with the very parser the
//! server's scheduler fires with, so an expression that applies is one that fires.
//!
//! Five fields (minute hour day-of-month month day-of-week), or six with a leading seconds field
//! for sub-minute schedules, and the `@daily`-style macros. Times are jiff's, like the rest of plat.

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// A parsed cron expression bound to the time zone its wall-clock times are read in.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
    zone: TimeZone,
}

fn parse(expression: &str) -> Result<Cron, String> {
    let expression = expression.trim();
    // Vixie cron's synonym, which croner does not know.
    let expression = if expression.eq_ignore_ascii_case("@midnight") {
        "@daily"
    } else {
        expression
    };
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
        .parse(expression)
        .map_err(|err| format!("'{expression}': {err}"))
}

/// `Ok` when `expression` is a valid cron expression; otherwise why not.
pub fn validate(expression: &str) -> Result<(), String> {
    parse(expression).map(|_| ())
}

impl Schedule {
    pub fn new(expression: &str, zone: &str) -> Result<Self, String> {
        let zone = TimeZone::get(zone).map_err(|_| format!("unknown time zone '{zone}'"))?;
        Ok(Self {
            cron: parse(expression)?,
            zone,
        })
    }

    /// The latest tick at or before `now`: the one a scheduler that was away should still fire.
    pub fn latest_tick(&self, now: Timestamp) -> Option<Timestamp> {
        let at = now.to_zoned(self.zone.clone());
        self.cron
            .find_previous_occurrence(&at, true)
            .ok()
            .map(|tick| tick.timestamp())
    }

    /// The first tick strictly after `after`.
    #[cfg(test)]
    pub fn next_tick(&self, after: Timestamp) -> Option<Timestamp> {
        let at: jiff::Zoned = after.to_zoned(self.zone.clone());
        self.cron
            .find_next_occurrence(&at, false)
            .ok()
            .map(|tick| tick.timestamp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn accepts_common_expressions() {
        for ok in [
            "*/5 * * * *",
            "0 9 * * mon-fri",
            "15,45 0-6/2 1 jan *",
            "@daily",
            "@midnight",
            "0 0 * * 7",
            "*/10 * * * * *",
        ] {
            assert!(validate(ok).is_ok(), "{ok}: {:?}", validate(ok));
        }
    }

    #[test]
    fn refuses_bad_expressions() {
        for bad in [
            "* * * *",
            "61 * * * *",
            "a * * * *",
            "5-1 * * * *",
            "@sometimes",
            "0 0 1 1 * 2030",
        ] {
            assert!(validate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ticks_are_wall_clock_times_of_the_zone() {
        let berlin = Schedule::new("0 9 * * *", "Europe/Berlin").unwrap();
        // 09:00 in Berlin is 08:00 UTC in winter (CET) and 07:00 UTC in summer (CEST).
        assert_eq!(
            berlin.next_tick(at("2026-01-15T12:00:00Z")),
            Some(at("2026-01-16T08:00:00Z"))
        );
        assert_eq!(
            berlin.next_tick(at("2026-07-15T12:00:00Z")),
            Some(at("2026-07-16T07:00:00Z"))
        );
        assert_eq!(
            berlin.latest_tick(at("2026-07-15T12:00:00Z")),
            Some(at("2026-07-15T07:00:00Z"))
        );
        let utc = Schedule::new("*/5 * * * *", "UTC").unwrap();
        assert_eq!(
            utc.latest_tick(at("2026-07-15T12:05:00Z")),
            Some(at("2026-07-15T12:05:00Z")),
            "a tick exactly now is due"
        );
        assert_eq!(
            utc.next_tick(at("2026-07-15T12:05:00Z")),
            Some(at("2026-07-15T12:10:00Z"))
        );
    }

    #[test]
    fn daylight_saving_gaps_and_folds_fire_once() {
        // Berlin skips 02:00-03:00 on 2026-03-29: a 02:30 job still runs that day, once.
        let gap = Schedule::new("30 2 * * *", "Europe/Berlin").unwrap();
        let first = gap.next_tick(at("2026-03-28T12:00:00Z")).unwrap();
        let second = gap.next_tick(first).unwrap();
        assert_eq!(first.to_zoned(TimeZone::UTC).date().day(), 29, "{first}");
        assert_eq!(second.to_zoned(TimeZone::UTC).date().day(), 30, "{second}");
        // 02:30 happens twice on 2026-10-25 (CEST, then CET): fired for one of them only.
        let fold = Schedule::new("30 2 * * *", "Europe/Berlin").unwrap();
        let first = fold.next_tick(at("2026-10-24T12:00:00Z")).unwrap();
        let second = fold.next_tick(first).unwrap();
        assert_eq!(first.to_zoned(TimeZone::UTC).date().day(), 25, "{first}");
        assert_eq!(second.to_zoned(TimeZone::UTC).date().day(), 26, "{second}");
    }

    #[test]
    fn a_seconds_field_gives_sub_minute_ticks() {
        let every_two = Schedule::new("*/2 * * * * *", "UTC").unwrap();
        assert_eq!(
            every_two.next_tick(at("2026-07-15T12:00:01Z")),
            Some(at("2026-07-15T12:00:02Z"))
        );
        assert_eq!(
            every_two.latest_tick(at("2026-07-15T12:00:03.5Z")),
            Some(at("2026-07-15T12:00:02Z"))
        );
    }
}
