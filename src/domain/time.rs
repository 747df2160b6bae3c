//! The times the service accepts and stores: RFC 3339 UTC, from 1970 to the end of
//! 9999. Bounded because SQLite keeps a time as text and compares it as text: a year
//! of five digits is written `+10000-…`, sorts before `2026-…`, and a suppression
//! expiring in 10000 would be purged as long expired. Four-digit years compare
//! correctly as text, and their RFC 3339 form is what clients can read.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use serde::{Deserialize, Deserializer};

/// 1970-01-01T00:00:00Z.
pub fn earliest() -> NaiveDateTime {
    DateTime::UNIX_EPOCH.naive_utc()
}

/// 9999-12-31T23:59:59.999999Z.
pub fn latest() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_micro_opt(23, 59, 59, 999_999))
        .expect("a valid date")
}

pub const RANGE: &str = "must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z";

/// `t` if it lies in the accepted range.
pub fn bounded(t: DateTime<Utc>) -> Result<NaiveDateTime, &'static str> {
    let t = t.naive_utc();
    if (earliest()..=latest()).contains(&t) {
        Ok(t)
    } else {
        Err(RANGE)
    }
}

/// When something reported as past happened: never later than `now` (a sender's
/// clock ahead of ours must not make a bounce count early) nor before 1970.
pub fn reported(t: NaiveDateTime, now: NaiveDateTime) -> NaiveDateTime {
    t.clamp(earliest(), now.max(earliest()))
}

/// `t + delta`, stopping at the end of the range rather than leaving it.
pub fn later(t: NaiveDateTime, delta: TimeDelta) -> NaiveDateTime {
    t.checked_add_signed(delta).map_or(latest(), |t| t.min(latest()))
}

/// What the API document says of every time a client sends: RFC 3339 in UTC (`Z` or
/// a zero offset), a four-digit year from 1970 — so that its year is the UTC year and
/// the pattern says exactly what [`parse`] accepts.
pub const PATTERN: &str = "^(19[7-9][0-9]|[2-9][0-9]{3})-.*([Zz]|[+-]00:00)$";

pub const REFUSED: &str =
    "must be an RFC 3339 time in UTC (Z) between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z";

/// A time as a client writes it: RFC 3339, in UTC, within the range.
pub fn parse(text: &str) -> Result<DateTime<Utc>, &'static str> {
    let t = DateTime::parse_from_rfc3339(text).map_err(|_| REFUSED)?;
    if t.offset().local_minus_utc() != 0 {
        return Err(REFUSED);
    }
    let t = t.with_timezone(&Utc);
    bounded(t).map(|_| t).map_err(|_| REFUSED)
}

/// serde: an optional time as [`parse`] reads it (`deserialize_with`).
pub fn optional<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    match Option::<String>::deserialize(deserializer)? {
        Some(text) => parse(&text).map(Some).map_err(serde::de::Error::custom),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_range_is_four_digit_years_from_1970() {
        assert!(bounded(at("1970-01-01T00:00:00Z")).is_ok());
        assert!(bounded(at("9999-12-31T23:59:59Z")).is_ok());
        assert!(bounded(at("1969-12-31T23:59:59Z")).is_err());
        let far = NaiveDate::from_ymd_opt(10000, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc();
        assert!(bounded(far).is_err());
    }

    #[test]
    fn stored_text_sorts_as_time_within_the_range() {
        // What SQLite compares: diesel writes `%Y-%m-%d %H:%M:%S%.f`.
        let text = |t: NaiveDateTime| t.format("%Y-%m-%d %H:%M:%S%.f").to_string();
        let times = [earliest(), at("2026-12-01T10:00:00Z").naive_utc(), latest()];
        for pair in times.windows(2) {
            assert!(text(pair[0]) < text(pair[1]), "{} < {}", text(pair[0]), text(pair[1]));
        }
    }

    #[test]
    fn clients_write_utc_times_in_the_range_as_the_pattern_says() {
        let pattern = regex::Regex::new(PATTERN).unwrap();
        for (text, accepted) in [
            ("2026-12-01T10:00:00Z", true),
            ("2026-12-01T10:00:00.5+00:00", true),
            ("1970-01-01T00:00:00Z", true),
            ("9999-12-31T23:59:59Z", true),
            ("1969-12-31T23:59:59Z", false),
            ("1970-01-01T00:30:00+01:00", false),
            ("9999-12-31T23:00:00-05:00", false),
            ("+10000-01-01T00:00:00Z", false),
            ("1448-01-23T00:54:20+21:10", false),
        ] {
            assert_eq!(parse(text).is_ok(), accepted, "{text}");
            // For a well-formed RFC 3339 time, the document's pattern says the same.
            if DateTime::parse_from_rfc3339(text).is_ok() {
                assert_eq!(pattern.is_match(text), accepted, "{text}");
            }
        }
    }

    #[test]
    fn reported_times_are_never_in_the_future_and_later_saturates() {
        let now = at("2026-12-01T10:00:00Z").naive_utc();
        assert_eq!(reported(latest(), now), now);
        assert_eq!(reported(DateTime::<Utc>::MIN_UTC.naive_utc(), now), earliest());
        assert_eq!(later(latest(), TimeDelta::days(7)), latest());
        assert_eq!(later(now, TimeDelta::days(1)), at("2026-12-02T10:00:00Z").naive_utc());
    }
}
