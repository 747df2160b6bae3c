//! Free text from outside: which characters a field may hold, checked once where a
//! request is read (serde adapters for JSON bodies, [`check`] for other edges), so a
//! control character never reaches the database or a log line.
//!
//! Why it matters: PostgreSQL refuses U+0000 in text, so a NUL that got as far as a
//! query failed the whole request; a newline in a one-line value forges log and CSV
//! lines; bidi overrides and invisible characters make one identifier look like
//! another. The rules, by [`Shape`]:
//!
//! - every shape refuses control characters (Unicode category Cc: U+0000–U+001F,
//!   U+007F–U+009F), except tab, line feed and carriage return in a [`Shape::Paragraph`],
//!   and Unicode noncharacters (U+FFFE, U+FFFF, …);
//! - one-line shapes also refuse the line and paragraph separators U+2028 and U+2029;
//! - an [`Shape::Identifier`] also refuses format characters (category Cf: bidi
//!   controls such as U+202E, zero-width spaces and joiners, U+FEFF) and every other
//!   default-ignorable code point (Hangul fillers, variation selectors): what names a
//!   thing must not hide part of itself. Text meant for people (names, notes) keeps
//!   them: right-to-left languages need their marks;
//! - each shape bounds its length in characters; services bound tighter where a field
//!   has its own limit.

use icu_properties::props::{DefaultIgnorableCodePoint, GeneralCategory, NoncharacterCodePoint};
use icu_properties::{CodePointMapData, CodePointSetData};
use serde::{Deserialize, Deserializer};

/// What a free-text field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Names a thing for machines: a sender's message id or contact id, a
    /// notification id. One line, no invisible characters.
    Identifier,
    /// One line meant for people: a name, how consent was given.
    Line,
    /// Several lines meant for people: a note, a description, a diagnostic.
    Paragraph,
}

impl Shape {
    /// The most characters a value of this shape may have.
    pub const fn max_chars(self) -> usize {
        match self {
            // RFC 5322's line limit: the longest Message-ID a mail can carry.
            Shape::Identifier => 998,
            Shape::Line => 1000,
            Shape::Paragraph => 10_000,
        }
    }

    fn refuses(self, c: char) -> Option<&'static str> {
        if c.is_control() {
            let whitespace = matches!(c, '\t' | '\n' | '\r');
            return (!(whitespace && self == Shape::Paragraph)).then_some("a control character");
        }
        // No ASCII character is a noncharacter, a line separator or invisible: what
        // nearly every address and key is made of skips the Unicode tables.
        if c.is_ascii() {
            return None;
        }
        if CodePointSetData::new::<NoncharacterCodePoint>().contains(c) {
            return Some("a noncharacter");
        }
        if matches!(c, '\u{2028}' | '\u{2029}') && self != Shape::Paragraph {
            return Some("a line separator");
        }
        if self == Shape::Identifier && is_invisible(c) {
            return Some("an invisible or bidi control character");
        }
        None
    }
}

/// Format characters (Cf: bidi controls, zero-width characters, the byte order mark)
/// and the other default-ignorable code points: characters that show nothing.
pub fn is_invisible(c: char) -> bool {
    CodePointMapData::<GeneralCategory>::new().get(c) == GeneralCategory::Format
        || CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
}

/// Says why `value` cannot be a field of this shape, naming the first character that
/// is refused; the message is safe to show.
pub fn check(value: &str, shape: Shape) -> Result<(), String> {
    if let Some((c, what)) = value.chars().find_map(|c| shape.refuses(c).map(|what| (c, what))) {
        return Err(format!("must not hold {what} (U+{:04X})", c as u32));
    }
    let max = shape.max_chars();
    if value.chars().nth(max).is_some() {
        return Err(format!("must be at most {max} characters"));
    }
    Ok(())
}

/// A JSON Schema `pattern` that matches what a field of this shape accepts (its length
/// aside), built from the very rules [`check`] applies, so the API document and the
/// server cannot disagree. `non_blank` also asks for one character that is not white
/// space. Runs over every code point: call it once, when the document is built.
pub fn pattern(shape: Shape, non_blank: bool) -> String {
    let mut refused = String::new();
    let mut run: Option<(char, char)> = None;
    let flush = |run: (char, char), into: &mut String| {
        into.push_str(&escape(run.0));
        if run.1 != run.0 {
            into.push('-');
            into.push_str(&escape(run.1));
        }
    };
    for c in (0..=0x10FFFF).filter_map(char::from_u32) {
        if shape.refuses(c).is_some() {
            run = match run {
                Some((first, last))
                    if last as u32 + 1 == c as u32 || (last as u32 == 0xD7FF && c as u32 == 0xE000) =>
                {
                    Some((first, c))
                }
                Some(done) => {
                    flush(done, &mut refused);
                    Some((c, c))
                }
                None => Some((c, c)),
            };
        }
    }
    if let Some(done) = run {
        flush(done, &mut refused);
    }
    if non_blank {
        format!("^[^{refused}]*[^\\s{refused}][^{refused}]*$")
    } else {
        format!("^[^{refused}]*$")
    }
}

/// A character as a regular expression's class writes it: `\uXXXX` in the Basic
/// Multilingual Plane (what every regex dialect reads), the character itself beyond.
fn escape(c: char) -> String {
    match c as u32 {
        n @ 0..=0xFFFF => format!("\\u{n:04x}"),
        _ => c.to_string(),
    }
}

/// The first character of `value` that a field of this shape refuses.
pub fn first_refused(value: &str, shape: Shape) -> Option<char> {
    value.chars().find(|&c| shape.refuses(c).is_some())
}

/// Whether `value` may be a field of this shape.
pub fn is_valid(value: &str, shape: Shape) -> bool {
    check(value, shape).is_ok()
}

/// `value` with every refused character replaced by U+FFFD and cut to the shape's
/// length: for text a third party sends that must be kept even when it is unclean (a
/// provider's bounce diagnostic), never for what a caller can correct.
pub fn clean(value: &str, shape: Shape) -> String {
    value
        .chars()
        .map(|c| if shape.refuses(c).is_some() { char::REPLACEMENT_CHARACTER } else { c })
        .take(shape.max_chars())
        .collect()
}

fn checked<'de, D: Deserializer<'de>>(d: D, shape: Shape) -> Result<String, D::Error> {
    let value = String::deserialize(d)?;
    check(&value, shape).map_err(serde::de::Error::custom)?;
    Ok(value)
}

fn checked_option<'de, D: Deserializer<'de>>(d: D, shape: Shape) -> Result<Option<String>, D::Error> {
    let value = Option::<String>::deserialize(d)?;
    if let Some(value) = &value {
        check(value, shape).map_err(serde::de::Error::custom)?;
    }
    Ok(value)
}

// serde adapters: `#[serde(deserialize_with = "text::line")]`. An `Option` field that
// uses one needs `#[serde(default)]` too, since serde then no longer treats it as
// optional by itself. The error lands on the field, so the answer names it.

pub fn identifier<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(d, Shape::Identifier)
}

pub fn optional_identifier<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    checked_option(d, Shape::Identifier)
}

/// For a field that may be absent (keep), `null` (clear) or a value (set).
pub fn present_identifier<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    checked_option(d, Shape::Identifier).map(Some)
}

pub fn line<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(d, Shape::Line)
}

pub fn optional_line<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    checked_option(d, Shape::Line)
}

pub fn present_line<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    checked_option(d, Shape::Line).map(Some)
}

pub fn paragraph<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(d, Shape::Paragraph)
}

pub fn optional_paragraph<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    checked_option(d, Shape::Paragraph)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ascii_needs_no_unicode_tables() {
        // What `refuses` skips for ASCII: the tables say none of it applies.
        for c in (0u8..128).map(char::from) {
            assert!(!CodePointSetData::new::<NoncharacterCodePoint>().contains(c), "{c:?}");
            assert!(!is_invisible(c), "{c:?}");
            assert!(!matches!(c, '\u{2028}' | '\u{2029}'));
        }
    }

    proptest! {
        /// The document's patterns accept exactly what `check` accepts (length aside).
        #[test]
        fn the_patterns_say_what_is_checked(value in "(\\PC|\\pC|\\s){0,12}") {
            // Built once: each scans every code point.
            static PATTERNS: std::sync::OnceLock<Vec<(Shape, bool, regex::Regex)>> = std::sync::OnceLock::new();
            let patterns = PATTERNS.get_or_init(|| {
                [Shape::Identifier, Shape::Line, Shape::Paragraph]
                    .into_iter()
                    .flat_map(|shape| [false, true].map(|non_blank| {
                        (shape, non_blank, regex::Regex::new(&pattern(shape, non_blank)).unwrap())
                    }))
                    .collect()
            });
            for (shape, non_blank, pattern) in patterns {
                let (shape, non_blank) = (*shape, *non_blank);
                {
                    let accepted = is_valid(&value, shape) && (!non_blank || !value.trim().is_empty());
                    prop_assert_eq!(pattern.is_match(&value), accepted, "{:?} {:?} {}", shape, value, non_blank);
                }
            }
        }
    }

    #[test]
    fn controls_are_refused_but_a_paragraph_keeps_its_lines() {
        for shape in [Shape::Identifier, Shape::Line, Shape::Paragraph] {
            for bad in ["a\0b", "\u{1}", "\u{1b}[31m", "\u{7f}", "\u{85}", "\u{9f}", "\u{fffe}", "\u{10ffff}"]
            {
                assert!(check(bad, shape).is_err(), "{bad:?} as {shape:?}");
            }
            assert!(check("", shape).is_ok());
            assert!(check("Lettre d'information — été", shape).is_ok());
        }
        assert!(check("550 5.1.1\r\nuser unknown\ttab", Shape::Paragraph).is_ok());
        assert!(check("line\u{2029}break", Shape::Paragraph).is_ok());
        for one_line in [Shape::Identifier, Shape::Line] {
            for bad in ["a\nb", "a\rb", "a\tb", "a\u{2028}b"] {
                assert!(check(bad, one_line).is_err(), "{bad:?} as {one_line:?}");
            }
        }
    }

    #[test]
    fn identifiers_refuse_what_shows_nothing_and_names_keep_it() {
        for invisible in
            ['\u{200b}', '\u{200d}', '\u{202e}', '\u{2066}', '\u{feff}', '\u{ad}', '\u{3164}', '\u{fe0f}']
        {
            let value = format!("user{invisible}42");
            assert!(check(&value, Shape::Identifier).is_err(), "{invisible:?}");
            assert!(check(&value, Shape::Line).is_ok(), "{invisible:?}");
        }
        assert!(check("<m-1.2@mail.example.com>", Shape::Identifier).is_ok());
        assert!(check("שלום\u{200f} news", Shape::Line).is_ok(), "a right-to-left mark in a name");
    }

    #[test]
    fn the_message_names_the_character() {
        assert_eq!(check("a\0", Shape::Line).unwrap_err(), "must not hold a control character (U+0000)");
    }

    #[test]
    fn lengths_are_bounded_in_characters() {
        assert!(check(&"é".repeat(998), Shape::Identifier).is_ok());
        assert!(check(&"é".repeat(999), Shape::Identifier).is_err());
        assert!(check(&"x".repeat(10_001), Shape::Paragraph).is_err());
    }

    #[test]
    fn serde_adapters_name_the_field() {
        #[derive(Debug, Deserialize)]
        struct Body {
            #[serde(deserialize_with = "line")]
            #[allow(dead_code)]
            name: String,
            #[serde(default, deserialize_with = "optional_identifier")]
            id: Option<String>,
        }
        let body: Body = crate::domain::json::parse(br#"{"name": "ok"}"#).unwrap();
        assert_eq!(body.id, None);
        match crate::domain::json::parse::<Body>(br#"{"name": "ok", "id": "a\u0000"}"#) {
            Err(crate::domain::json::JsonError::Invalid { field, .. }) => assert_eq!(field, "id"),
            other => panic!("{other:?}"),
        }
    }

    proptest! {
        #[test]
        fn what_is_cleaned_is_valid(value in "\\PC{0,40}|[\\x00-\\x1f\\u{200b}\\u{202e}\\u{feff}a]{0,40}") {
            for shape in [Shape::Identifier, Shape::Line, Shape::Paragraph] {
                let cleaned = clean(&value, shape);
                prop_assert!(is_valid(&cleaned, shape), "{:?}", cleaned);
                if is_valid(&value, shape) {
                    prop_assert_eq!(&cleaned, &value);
                }
            }
        }
    }
}
