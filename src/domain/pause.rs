//! A recipient's pause: promotional mail held back until a time, at most a year
//! ahead, after which it resumes by itself. The preference page offers three lengths.

use chrono::{Months, NaiveDateTime, TimeDelta};

/// The longest pause, in days: a pause is a break, not an unsubscribe.
pub const MAX_DAYS: i64 = 365;

/// The lengths the preference page offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Length {
    Week,
    Month,
    ThreeMonths,
}

impl Length {
    pub const ALL: [Length; 3] = [Length::Week, Length::Month, Length::ThreeMonths];

    /// The form's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Length::Week => "week",
            Length::Month => "month",
            Length::ThreeMonths => "3months",
        }
    }

    pub fn parse(word: &str) -> Option<Length> {
        Length::ALL.into_iter().find(|l| l.as_str() == word)
    }

    /// When a pause of this length that starts at `now` ends: calendar months, so
    /// "a month" from 31 January ends on the last day of February.
    pub fn from(self, now: NaiveDateTime) -> NaiveDateTime {
        let later = match self {
            Length::Week => now.checked_add_signed(TimeDelta::days(7)),
            Length::Month => now.checked_add_months(Months::new(1)),
            Length::ThreeMonths => now.checked_add_months(Months::new(3)),
        };
        later.unwrap_or(now)
    }
}

/// Checks a pause's end as a client asks for it: after `now`, and at most
/// [`MAX_DAYS`] ahead. The message is safe to show.
pub fn check(until: NaiveDateTime, now: NaiveDateTime) -> Result<NaiveDateTime, String> {
    if until <= now {
        return Err("must be in the future (null resumes mail now)".into());
    }
    if until > now + TimeDelta::days(MAX_DAYS) {
        return Err(format!("must be at most {MAX_DAYS} days ahead"));
    }
    Ok(until)
}

/// A stored pause as it stands at `now`: a past time is no pause.
pub fn current(until: Option<NaiveDateTime>, now: NaiveDateTime) -> Option<NaiveDateTime> {
    until.filter(|until| *until > now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        chrono::DateTime::parse_from_rfc3339(text).unwrap().naive_utc()
    }

    #[test]
    fn lengths_end_a_week_or_calendar_months_later() {
        let now = at("2027-01-31T10:00:00Z");
        assert_eq!(Length::Week.from(now), at("2027-02-07T10:00:00Z"));
        assert_eq!(Length::Month.from(now), at("2027-02-28T10:00:00Z"));
        assert_eq!(Length::ThreeMonths.from(now), at("2027-04-30T10:00:00Z"));
        for length in Length::ALL {
            assert_eq!(Length::parse(length.as_str()), Some(length));
            assert!(check(length.from(now), now).is_ok(), "{length:?} is a valid pause");
        }
        assert_eq!(Length::parse("year"), None);
    }

    #[test]
    fn a_pause_ends_in_the_future_within_a_year() {
        let now = at("2027-01-01T00:00:00Z");
        assert!(check(now, now).is_err());
        assert!(check(at("2026-12-31T00:00:00Z"), now).is_err());
        assert!(check(at("2028-01-01T00:00:00Z"), now).is_ok(), "365 days ahead");
        assert!(check(at("2028-01-01T00:00:01Z"), now).is_err());
        assert_eq!(current(Some(now), now), None, "a pause ending now is over");
        assert_eq!(current(Some(at("2027-01-02T00:00:00Z")), now), Some(at("2027-01-02T00:00:00Z")));
    }
}
