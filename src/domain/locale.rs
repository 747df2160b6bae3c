//! Locales as recipients' languages: a BCP 47 language tag, kept short and canonical.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What [`Locale::parse`] accepts (with at most 35 characters), for the OpenAPI document.
pub const LOCALE_PATTERN: &str = "^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$";

/// A language tag such as `fr` or `pt-BR`: the language subtag in lower case, the
/// region in upper case, other subtags as given.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, ToSchema)]
#[schema(value_type = String, example = "fr")]
pub struct Locale(String);

impl Locale {
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        const INVALID: &str = "a locale is a language tag such as \"en\", \"fr\" or \"pt-BR\"";
        let mut parts = input.split(['-', '_']);
        let language = parts.next().unwrap_or_default();
        if !(2..=3).contains(&language.len()) || !language.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(INVALID);
        }
        let mut tag = language.to_ascii_lowercase();
        for part in parts {
            if !(1..=8).contains(&part.len()) || !part.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(INVALID);
            }
            tag.push('-');
            if part.len() == 2 && part.chars().all(|c| c.is_ascii_alphabetic()) {
                tag.push_str(&part.to_ascii_uppercase());
            } else {
                tag.push_str(&part.to_ascii_lowercase());
            }
        }
        if tag.len() > 35 {
            return Err(INVALID);
        }
        Ok(Self(tag))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The primary language subtag: `fr` for `fr-CA`.
    pub fn language(&self) -> &str {
        self.0.split('-').next().unwrap_or(&self.0)
    }

    pub fn from_stored(stored: String) -> Self {
        Self(stored)
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Locale {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Locale::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        assert_eq!(Locale::parse("FR").unwrap().as_str(), "fr");
        assert_eq!(Locale::parse("pt_br").unwrap().as_str(), "pt-BR");
        assert_eq!(Locale::parse("zh-Hant-TW").unwrap().as_str(), "zh-hant-TW");
        assert_eq!(Locale::parse("fr-CA").unwrap().language(), "fr");
        for bad in ["", "f", "french-language-x", "e1", "en-", "en--US"] {
            assert!(Locale::parse(bad).is_err(), "{bad}");
        }
    }
}
