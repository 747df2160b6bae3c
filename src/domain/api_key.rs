//! API-key secrets: their format, how they are verified, and what a key's scopes allow.
//!
//! A secret reads `pc_<lookup>_<secret>`: ten lower-case characters that are stored in
//! plain text to find the key's row, then 32 base-62 characters (190 bits). The row
//! keeps only a keyed hash of the whole secret, `hmac-sha256:<hex>`, under a server key
//! kept in the `settings` table. A password-hashing function such as argon2 exists to
//! slow down guessing of secrets people choose; a random 190-bit secret cannot be
//! guessed, so a keyed hash is as safe and costs a microsecond instead of 16 ms and
//! 19 MiB. Rows written before this scheme hold an argon2id PHC string: they still
//! verify (see [`Verifier::Argon2`]) and are re-hashed on their next use.

use std::collections::BTreeSet;

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use argon2::Argon2;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::distributions::{Alphanumeric, DistString, Distribution, Uniform};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::Sha256;

use super::KeyScope;

const PREFIX: &str = "pc_";
const LOOKUP_LEN: usize = 10;
const SECRET_LEN: usize = 32;
/// How a stored keyed hash begins; anything else is a legacy argon2 PHC string.
const HMAC_TAG: &str = "hmac-sha256:";

/// Computes and checks the keyed hashes of secrets.
#[derive(Clone)]
pub struct SecretHasher {
    keyed: Hmac<Sha256>,
}

impl SecretHasher {
    pub fn new(key: [u8; 32]) -> Self {
        Self { keyed: Hmac::new_from_slice(&key).expect("HMAC takes a key of any length") }
    }

    /// A fresh server key in its stored form (32 random bytes, base64).
    pub fn generate_setting() -> String {
        let mut key = [0u8; 32];
        OsRng.fill_bytes(&mut key);
        base64::engine::general_purpose::STANDARD.encode(key)
    }

    /// Reads the stored form that [`generate_setting`](Self::generate_setting) made.
    pub fn from_setting(stored: &str) -> Result<Self, String> {
        base64::engine::general_purpose::STANDARD
            .decode(stored.trim())
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .map(Self::new)
            .ok_or_else(|| "the stored api_key_hmac_key setting is not 32 bytes of base64".to_owned())
    }

    fn mac(&self, secret: &str) -> Hmac<Sha256> {
        let mut mac = self.keyed.clone();
        mac.update(secret.as_bytes());
        mac
    }

    /// The verifier of `secret`, as new rows store it.
    pub fn verifier(&self, secret: &str) -> Verifier {
        Verifier::Hmac(self.mac(secret).finalize().into_bytes().into())
    }

    /// Whether `presented` has the keyed hash `expected`, compared in constant time so
    /// that the time taken says nothing about how much of a guess was right.
    pub fn matches(&self, presented: &str, expected: &[u8; 32]) -> bool {
        self.mac(presented).verify_slice(expected).is_ok()
    }
}

/// How a stored `secret_hash` is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verifier {
    /// HMAC-SHA-256 of the secret under the server key.
    Hmac([u8; 32]),
    /// An argon2 PHC string, from before keyed hashes; slow by design, so the service
    /// runs it rarely and re-hashes the row once it verified.
    Argon2(String),
    /// A stored value of neither form: it verifies nothing.
    Unusable,
}

impl Verifier {
    /// Reads a row's `secret_hash`.
    pub fn parse(stored: &str) -> Self {
        if let Some(hex) = stored.strip_prefix(HMAC_TAG) {
            let mut tag = [0u8; 32];
            return match hex::decode_to_slice(hex, &mut tag) {
                Ok(()) => Verifier::Hmac(tag),
                Err(_) => Verifier::Unusable,
            };
        }
        match PasswordHash::new(stored) {
            Ok(_) => Verifier::Argon2(stored.to_owned()),
            Err(_) => Verifier::Unusable,
        }
    }

    /// The form a row stores.
    pub fn to_stored(&self) -> Option<String> {
        match self {
            Verifier::Hmac(tag) => Some(format!("{HMAC_TAG}{}", hex::encode(tag))),
            Verifier::Argon2(phc) => Some(phc.clone()),
            Verifier::Unusable => None,
        }
    }
}

/// Whether `presented` is the secret the argon2 PHC string `phc` was made from: about
/// 16 ms and 19 MiB, so callers bound how many run at once. A malformed string
/// verifies nothing.
pub fn argon2_matches(presented: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .is_ok_and(|parsed| Argon2::default().verify_password(presented.as_bytes(), &parsed).is_ok())
}

/// A freshly generated secret: shown to its owner once, never stored.
pub struct NewSecret {
    pub lookup: String,
    pub secret: String,
    /// What the row stores: the secret's keyed hash.
    pub hash: String,
}

impl NewSecret {
    pub fn generate(hasher: &SecretHasher) -> Self {
        let alphabet = Uniform::from(0..36u8);
        let lookup: String = alphabet
            .sample_iter(OsRng)
            .take(LOOKUP_LEN)
            .map(|n| char::from_digit(n.into(), 36).expect("below 36"))
            .collect();
        let random = Alphanumeric.sample_string(&mut OsRng, SECRET_LEN);
        let secret = format!("{PREFIX}{lookup}_{random}");
        let hash = hasher.verifier(&secret).to_stored().expect("a keyed hash has a stored form");
        Self { lookup, secret, hash }
    }
}

/// The lookup part of a presented secret, or `None` when it has not our form (such a
/// secret is refused without touching the database or any hash).
pub fn lookup_of(presented: &str) -> Option<&str> {
    let rest = presented.strip_prefix(PREFIX)?;
    let (lookup, secret) = rest.split_once('_')?;
    let well_formed = lookup.len() == LOOKUP_LEN
        && lookup.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && secret.len() == SECRET_LEN
        && secret.chars().all(|c| c.is_ascii_alphanumeric());
    well_formed.then_some(lookup)
}

/// Why a key's name is refused, if it is: names go into logs and listings, so a line
/// break or a terminal control could forge a log line or hide text, and bidirectional
/// overrides could make a listing read otherwise than it is stored.
pub fn name_problem(name: &str) -> Option<&'static str> {
    const BIDI_CONTROLS: [std::ops::RangeInclusive<char>; 3] =
        ['\u{200E}'..='\u{200F}', '\u{202A}'..='\u{202E}', '\u{2066}'..='\u{2069}'];
    if name.is_empty() || name.chars().count() > 100 {
        return Some("a name of 1 to 100 characters is required");
    }
    if name.chars().any(|c| c.is_control() || BIDI_CONTROLS.iter().any(|r| r.contains(&c))) {
        return Some(
            "a name may not hold control characters (line breaks, tabs, NUL, bidirectional controls)",
        );
    }
    None
}

/// The scopes one key holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scopes(BTreeSet<KeyScope>);

impl Scopes {
    pub fn new(scopes: impl IntoIterator<Item = KeyScope>) -> Self {
        Self(scopes.into_iter().collect())
    }

    /// Reads the stored form, a comma-separated list; unknown words are dropped so
    /// that a key written by a newer version never gains rights by mistake.
    pub fn from_stored(stored: &str) -> Self {
        Self(stored.split(',').filter_map(|s| s.trim().parse().ok()).collect())
    }

    pub fn to_stored(&self) -> String {
        self.iter().map(KeyScope::as_str).collect::<Vec<_>>().join(",")
    }

    pub fn iter(&self) -> impl Iterator<Item = KeyScope> + '_ {
        self.0.iter().copied()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `admin` implies every scope.
    pub fn allows(&self, required: KeyScope) -> bool {
        self.0.contains(&KeyScope::Admin) || self.0.contains(&required)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> SecretHasher {
        SecretHasher::new([3; 32])
    }

    #[test]
    fn generated_secrets_verify_and_parse() {
        let hasher = hasher();
        let new = NewSecret::generate(&hasher);
        assert_eq!(lookup_of(&new.secret), Some(new.lookup.as_str()));
        assert!(new.hash.starts_with("hmac-sha256:"), "{}", new.hash);
        let Verifier::Hmac(tag) = Verifier::parse(&new.hash) else { panic!("{}", new.hash) };
        assert!(hasher.matches(&new.secret, &tag));
        assert_eq!(Verifier::parse(&new.hash).to_stored().as_deref(), Some(new.hash.as_str()));
    }

    #[test]
    fn a_tampered_secret_or_another_server_key_fails() {
        let hasher = hasher();
        let new = NewSecret::generate(&hasher);
        let Verifier::Hmac(tag) = Verifier::parse(&new.hash) else { panic!("{}", new.hash) };
        // Every single-character change of the secret part fails.
        let start = new.secret.len() - SECRET_LEN;
        for i in start..new.secret.len() {
            let mut tampered = new.secret.clone().into_bytes();
            tampered[i] = if tampered[i] == b'a' { b'b' } else { b'a' };
            assert!(!hasher.matches(std::str::from_utf8(&tampered).unwrap(), &tag), "position {i}");
        }
        assert!(!hasher.matches(&new.secret[..new.secret.len() - 1], &tag));
        assert!(!SecretHasher::new([4; 32]).matches(&new.secret, &tag), "the key is part of the hash");
        let mut flipped = tag;
        flipped[31] ^= 1;
        assert!(!hasher.matches(&new.secret, &flipped));
    }

    #[test]
    fn stored_forms_are_recognised() {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let secret = "pc_abcdefghij_0123456789abcdefghijABCDEFGHIJ0123";
        let salt = SaltString::generate(&mut OsRng);
        let phc = Argon2::default().hash_password(secret.as_bytes(), &salt).unwrap().to_string();
        assert_eq!(Verifier::parse(&phc), Verifier::Argon2(phc.clone()));
        assert!(argon2_matches(secret, &phc));
        assert!(!argon2_matches(&secret.replace('0', "1"), &phc));
        for unusable in ["", "not a hash", "hmac-sha256:zz", "hmac-sha256:00"] {
            assert_eq!(Verifier::parse(unusable), Verifier::Unusable, "{unusable}");
        }
        assert!(!argon2_matches(secret, "not a hash"));
    }

    #[test]
    fn names_without_controls_are_accepted() {
        assert_eq!(name_problem("campaign-mailer (EU)"), None);
        assert_eq!(name_problem("Lettre d'information é"), None);
        for bad in
            ["", "a\nINFO forged line", "tab\there", "nul\u{0}", "del\u{7f}", "c1\u{85}", "rtl\u{202E}txt"]
        {
            assert!(name_problem(bad).is_some(), "{bad:?}");
        }
        assert!(name_problem(&"x".repeat(101)).is_some());
        assert_eq!(name_problem(&"é".repeat(100)), None);
    }

    #[test]
    fn malformed_secrets_have_no_lookup() {
        for bad in ["", "pc_", "pc_abc_def", "Bearer x", "pc_ABCDEFGHIJ_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"] {
            assert_eq!(lookup_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn admin_implies_every_scope() {
        let admin = Scopes::new([KeyScope::Admin]);
        let check = Scopes::from_stored("check,unknown");
        for s in KeyScope::ALL {
            assert!(admin.allows(*s));
        }
        assert!(check.allows(KeyScope::Check));
        assert!(!check.allows(KeyScope::Contacts));
        assert_eq!(check.to_stored(), "check");
    }
}
