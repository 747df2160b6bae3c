//! Email address normalization and validation.
//!
//! Policy, applied in this order:
//! 1. surrounding white space is trimmed;
//! 2. the whole address is put in Unicode normalization form NFKC, so that
//!    compatibility variants — fullwidth `ａｌｉｃｅ＠ｅｘａｍｐｌｅ．ｃｏｍ`, ligatures,
//!    composed and decomposed accents — are one address with their plain form. A
//!    fullwidth local part is an input method's accident or a spoof, not a mailbox of
//!    its own, and two stored forms of one mailbox would let one stay subscribed after
//!    the other unsubscribed. (IDNA applies the same mapping to the domain anyway.)
//!    Lookalikes across scripts (a Cyrillic `а` for a Latin `a`) stay distinct: they
//!    can be different people's mailboxes;
//! 3. an address holding a control character, a line separator, a noncharacter or a
//!    character that shows nothing (format characters such as U+200B, U+202E, U+FEFF,
//!    and the other default-ignorable code points) is refused: such an address can
//!    only be a mistake or a disguise of another one;
//! 4. the domain goes through IDNA (UTS #46), so `bücher.example` and
//!    `xn--bcher-kva.example` are one address, and is lower-cased;
//! 5. the local part is lower-cased too (and normalized again, since lower-casing
//!    can undo NFKC). RFC 5321 lets a receiving server treat
//!    `Alice` and `alice` as different mailboxes, but no mailbox provider of note does,
//!    and treating them as two people would let `Alice@` stay subscribed after
//!    `alice@` unsubscribed. A suppression list must err towards not sending;
//! 6. nothing else is rewritten: `+tags` and dots are kept, because whether they
//!    are significant is the receiving domain's business, not ours.
//!
//! Rows written before steps 2 and 3 existed are not re-keyed: an address stored then
//! in a compatibility form keeps the hash of that form.
//!
//! The result must then be a valid RFC 5321 path: a dot-atom or quoted local part of at
//! most 64 octets, a domain of at least two labels, at most 254 octets in all.
//! Address literals (`user@[192.0.2.1]`) and display names are refused.

use std::borrow::Cow;
use std::fmt;

use email_address::{EmailAddress, Options};
use icu_normalizer::ComposingNormalizerBorrowed;

use super::text::{self, Shape};

const NFKC: ComposingNormalizerBorrowed<'static> = ComposingNormalizerBorrowed::new_nfkc();

/// The longest address that fits in an SMTP path (RFC 5321 §4.5.3.1.3).
const MAX_ADDRESS_LEN: usize = 254;

/// An address in its one canonical form; only [`NormalizedAddress::parse`] makes one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NormalizedAddress(String);

/// Why an input is not an address; the message is safe to show to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidAddress(&'static str);

impl NormalizedAddress {
    /// Normalizes `input` by the policy in the module documentation, or says why it
    /// is not an address.
    pub fn parse(input: &str) -> Result<Self, InvalidAddress> {
        let trimmed = input.trim();
        // NFKC and Unicode lower case change nothing in ASCII that ASCII lower case
        // does not: the usual address skips them.
        Self::normalize(trimmed, trimmed.is_ascii())
    }

    /// [`parse`](Self::parse) of a trimmed input, `ascii` when it is all ASCII.
    fn normalize(trimmed: &str, ascii: bool) -> Result<Self, InvalidAddress> {
        let folded = if ascii { Cow::Borrowed(trimmed) } else { NFKC.normalize(trimmed) };
        // The rules of an identifier: no controls, nothing invisible.
        if text::first_refused(&folded, Shape::Identifier).is_some() {
            return Err(InvalidAddress("the address holds a control or invisible character"));
        }
        let (local, domain) = folded.rsplit_once('@').ok_or(InvalidAddress("an address needs an @"))?;
        if local.is_empty() {
            return Err(InvalidAddress("the part before the @ is empty"));
        }
        if domain.starts_with('[') {
            return Err(InvalidAddress("address literals are not accepted"));
        }
        let domain = idna::domain_to_ascii_strict(domain)
            .map_err(|_| InvalidAddress("the domain is not a valid domain name"))?;
        let mut address = String::with_capacity(local.len() + 1 + domain.len());
        if ascii {
            address.extend(local.chars().map(|c| c.to_ascii_lowercase()));
        } else {
            address.push_str(&NFKC.normalize(&local.to_lowercase()));
        }
        address.push('@');
        address.push_str(&domain);
        if address.len() > MAX_ADDRESS_LEN {
            return Err(InvalidAddress("the address is longer than 254 characters"));
        }
        let options = Options::default().with_required_tld().without_domain_literal().without_display_text();
        EmailAddress::parse_with_options(&address, options)
            .map_err(|_| InvalidAddress("not a valid email address"))?;
        Ok(Self(address))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the @, in its ASCII (IDNA) form.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }

    /// For reading back an address that was normalized before it was stored.
    pub fn from_stored(stored: String) -> Self {
        Self(stored)
    }
}

impl fmt::Display for NormalizedAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A keyed hash (HMAC-SHA-256) of a normalized address: how suppressions and the
/// decision index name an address, so that a suppression outlives the erasure of the
/// address itself and a leaked table cannot be reversed by hashing a list of addresses
/// without the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AddressHash(pub [u8; 32]);

impl AddressHash {
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }
}

/// Holds the secret key of [`AddressHash`], as an HMAC state already keyed: each hash
/// then costs two SHA-256 blocks fewer than keying it anew.
#[derive(Clone)]
pub struct AddressHasher {
    keyed: hmac::Hmac<sha2::Sha256>,
}

impl AddressHasher {
    pub fn new(key: [u8; 32]) -> Self {
        use hmac::Mac;
        Self { keyed: hmac::Hmac::new_from_slice(&key).expect("HMAC takes a key of any length") }
    }

    pub fn hash(&self, address: &NormalizedAddress) -> AddressHash {
        use hmac::Mac;
        let mut mac = self.keyed.clone();
        mac.update(address.as_str().as_bytes());
        AddressHash(mac.finalize().into_bytes().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn norm(s: &str) -> Result<String, InvalidAddress> {
        NormalizedAddress::parse(s).map(|a| a.0)
    }

    #[test]
    fn folds_case_and_trims() {
        assert_eq!(norm("  Alice@Example.COM ").unwrap(), "alice@example.com");
    }

    #[test]
    fn keeps_tags_and_dots() {
        assert_eq!(norm("a.b+news@example.com").unwrap(), "a.b+news@example.com");
    }

    #[test]
    fn unicode_domain_and_its_punycode_are_one_address() {
        let unicode = norm("hans@Bücher.example").unwrap();
        assert_eq!(unicode, "hans@xn--bcher-kva.example");
        assert_eq!(norm("hans@xn--bcher-kva.example").unwrap(), unicode);
    }

    #[test]
    fn accepts_utf8_local_parts() {
        assert_eq!(norm("Jörg@example.de").unwrap(), "jörg@example.de");
    }

    #[test]
    fn compatibility_forms_are_one_address() {
        assert_eq!(norm("ａｌｉｃｅ＠ｅｘａｍｐｌｅ．ｃｏｍ").unwrap(), "alice@example.com");
        assert_eq!(norm("Ａlice@example.com").unwrap(), "alice@example.com");
        assert_eq!(norm("ﬁnn@example.com").unwrap(), "finn@example.com", "a ligature");
        assert_eq!(norm("jo\u{308}rg@example.de").unwrap(), norm("jörg@example.de").unwrap(), "decomposed");
        assert_ne!(
            norm("\u{430}lice@example.com").unwrap(),
            "alice@example.com",
            "Cyrillic а is another letter"
        );
    }

    #[test]
    fn invisible_and_control_characters_are_refused() {
        for bad in [
            "a\u{200b}lice@example.com",
            "alice\u{202e}@example.com",
            "\u{feff}alice@example.com",
            "alice@exa\u{200b}mple.com",
            "al\u{ad}ice@example.com",
            "al\u{3164}ice@example.com",
            "a\0lice@example.com",
            "a\u{1}@example.com",
            "alice\u{2028}@example.com",
            "alice@example.com\u{85}x",
        ] {
            assert!(norm(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn rejects_what_is_not_an_address() {
        for bad in [
            "",
            "   ",
            "not-an-address",
            "@example.com",
            "alice@",
            "alice@localhost",
            "alice@[192.0.2.1]",
            "Alice <alice@example.com>",
            "a b@example.com",
            "alice@exa mple.com",
            "alice@-example.com",
            "alice@example..com",
            "alice..b@example.com",
            ".alice@example.com",
        ] {
            assert!(norm(bad).is_err(), "{bad:?} should be rejected");
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert!(norm(&long_local).is_err());
        let long = format!("a@{}.com", "b".repeat(250));
        assert!(norm(&long).is_err());
    }

    #[test]
    fn hashes_depend_on_the_key_and_the_normalized_form() {
        let a = AddressHasher::new([1; 32]);
        let b = AddressHasher::new([2; 32]);
        let x = NormalizedAddress::parse("Alice@Example.com").unwrap();
        let y = NormalizedAddress::parse("alice@example.com").unwrap();
        assert_eq!(a.hash(&x), a.hash(&y));
        assert_ne!(a.hash(&x), b.hash(&x));
    }

    proptest! {
        #[test]
        fn normalization_is_idempotent(input in "[ ]{0,2}[A-Za-z0-9._+üＡａﬁİ-]{1,20}[@＠][A-Za-zü0-9Ｂｂ-]{1,12}\\.[A-Za-z]{2,6}[ ]{0,2}") {
            if let Ok(once) = NormalizedAddress::parse(&input) {
                let twice = NormalizedAddress::parse(once.as_str()).expect("a normalized address stays valid");
                prop_assert_eq!(once, twice);
            }
        }

        /// The ASCII shortcut gives what NFKC and Unicode lower case give.
        #[test]
        fn ascii_addresses_normalize_as_any_other(input in "[ -~]{0,40}|[ \t]?[A-Za-z0-9._+=!#-]{1,20}@[A-Za-z0-9-]{1,12}\\.[A-Za-z]{2,6}[ ]?") {
            let trimmed = input.trim();
            prop_assert_eq!(NormalizedAddress::normalize(trimmed, true), NormalizedAddress::normalize(trimmed, false));
        }

        #[test]
        fn never_panics(input in "\\PC{0,80}") {
            let _ = NormalizedAddress::parse(&input);
        }
    }
}
