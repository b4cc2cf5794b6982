//! The one timestamp type of the vocabulary. Every time plat stores, sends or shows is a whole
//! second in UTC, spelled `2026-12-06T01:51:28Z`; that spelling is the JSON/YAML form, the
//! table form and the stored form, so SQL comparing the stored text compares the times.

use std::fmt;
use std::str::FromStr;

use jiff::SignedDuration;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A moment in UTC, always truncated to the whole second. The default, the Unix epoch, is
/// there for rows built field by field (`..Default::default()`), never as a real time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(jiff::Timestamp);

/// Text that is not an RFC 3339 time.
#[derive(Debug, thiserror::Error)]
#[error("'{text}' is not an RFC 3339 time such as 2026-12-06T01:51:28Z ({source})")]
pub struct InvalidTimestamp {
    text: String,
    source: jiff::Error,
}

impl Timestamp {
    /// `moment` without its fraction of a second: the stored and shown precision. Truncates
    /// toward the past, so a time is never shown later than it happened.
    pub fn from_jiff(moment: jiff::Timestamp) -> Self {
        let second = moment.as_second() - i64::from(moment.subsec_nanosecond() < 0);
        Self(jiff::Timestamp::from_second(second).unwrap_or(moment))
    }

    pub fn as_jiff(self) -> jiff::Timestamp {
        self.0
    }

    /// Seconds since the Unix epoch.
    pub fn as_second(self) -> i64 {
        self.0.as_second()
    }

    pub fn from_second(second: i64) -> Result<Self, jiff::Error> {
        jiff::Timestamp::from_second(second).map(Self)
    }

    /// This time moved by `duration` (truncated to the second); an error past jiff's range.
    pub fn checked_add(self, duration: SignedDuration) -> Result<Self, jiff::Error> {
        self.0.checked_add(duration).map(Self::from_jiff)
    }

    /// This time moved back by `duration` (truncated to the second); an error past jiff's range.
    pub fn checked_sub(self, duration: SignedDuration) -> Result<Self, jiff::Error> {
        self.0.checked_sub(duration).map(Self::from_jiff)
    }

    /// The earliest time there is, before anything plat records.
    pub const MIN: Self = Self(jiff::Timestamp::MIN);

    /// How long after `earlier` this time is (negative when before it).
    pub fn duration_since(self, earlier: Self) -> SignedDuration {
        self.0.duration_since(earlier.0)
    }
}

impl From<jiff::Timestamp> for Timestamp {
    fn from(moment: jiff::Timestamp) -> Self {
        Self::from_jiff(moment)
    }
}

impl From<Timestamp> for jiff::Timestamp {
    fn from(moment: Timestamp) -> Self {
        moment.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // jiff prints no fraction for a whole second, and always in UTC with `Z`.
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for Timestamp {
    type Err = InvalidTimestamp;

    /// Any RFC 3339 time: an offset is converted to UTC and a fraction dropped.
    fn from_str(text: &str) -> Result<Self, InvalidTimestamp> {
        text.parse::<jiff::Timestamp>()
            .map(Self::from_jiff)
            .map_err(|source| InvalidTimestamp {
                text: text.to_owned(),
                source,
            })
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .description(Some("RFC 3339, UTC, whole seconds: 2026-12-06T01:51:28Z"))
            .into()
    }
}

impl utoipa::ToSchema for Timestamp {}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn the_canonical_spelling_round_trips_through_text_and_json() {
        let moment = at("2026-12-06T01:51:28Z");
        assert_eq!(moment.to_string(), "2026-12-06T01:51:28Z");
        let json = serde_json::to_string(&moment).unwrap();
        assert_eq!(json, "\"2026-12-06T01:51:28Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), moment);
        let yaml = serde_yaml_ng::to_string(&moment).unwrap();
        assert_eq!(serde_yaml_ng::from_str::<Timestamp>(&yaml).unwrap(), moment);
    }

    #[test]
    fn fractions_of_a_second_are_dropped() {
        assert_eq!(
            at("2026-12-06T01:51:28.999Z").to_string(),
            "2026-12-06T01:51:28Z"
        );
        let precise = jiff::Timestamp::new(1_700_000_000, 750_000_000).unwrap();
        assert_eq!(Timestamp::from_jiff(precise).as_second(), 1_700_000_000);
        assert_eq!(
            Timestamp::from_jiff(precise).as_jiff().subsec_nanosecond(),
            0
        );
        let added = at("2026-12-06T01:51:28Z")
            .checked_add(SignedDuration::from_millis(1_500))
            .unwrap();
        assert_eq!(added.to_string(), "2026-12-06T01:51:29Z");
    }

    #[test]
    fn before_the_epoch_a_fraction_truncates_toward_the_past() {
        let precise = jiff::Timestamp::new(-10, -250_000_000).unwrap();
        assert_eq!(Timestamp::from_jiff(precise).as_second(), -11);
    }

    #[test]
    fn an_offset_is_normalised_to_utc() {
        assert_eq!(
            at("2026-12-06T03:51:28+02:00").to_string(),
            "2026-12-06T01:51:28Z"
        );
        assert_eq!(
            serde_json::from_str::<Timestamp>("\"2026-12-05T20:51:28.5-05:00\"").unwrap(),
            at("2026-12-06T01:51:28Z")
        );
    }

    #[test]
    fn times_order_by_moment_not_by_spelling() {
        let utc = at("2026-12-06T01:51:28Z");
        let earlier_in_a_later_spelling = at("2026-12-06T02:51:27+01:00");
        assert!(earlier_in_a_later_spelling < utc);
        assert!(utc.checked_add(SignedDuration::from_secs(1)).unwrap() > utc);
        assert_eq!(
            utc.duration_since(earlier_in_a_later_spelling),
            SignedDuration::from_secs(1)
        );
    }

    #[test]
    fn text_that_is_not_a_time_is_refused_naming_it() {
        let err = "yesterday".parse::<Timestamp>().unwrap_err();
        assert!(err.to_string().contains("'yesterday'"), "{err}");
        assert!(serde_json::from_str::<Timestamp>("\"2026-13-01T00:00:00Z\"").is_err());
        assert!(serde_json::from_str::<Timestamp>("1700000000").is_err());
    }
}
