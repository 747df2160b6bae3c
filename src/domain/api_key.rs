//! API-key secrets: their format, their hash, and what a key's scopes allow.
//!
//! A secret reads `pc_<lookup>_<secret>`: ten lower-case characters that are stored in
//! plain text to find the key's row, then 32 base-62 characters (190 bits) that are
//! stored only as an argon2id hash.

use std::collections::BTreeSet;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::distributions::{Alphanumeric, DistString, Distribution, Uniform};
use rand::rngs::OsRng;

use super::KeyScope;

const PREFIX: &str = "pc_";
const LOOKUP_LEN: usize = 10;
const SECRET_LEN: usize = 32;

/// A freshly generated secret: shown to its owner once, never stored.
pub struct NewSecret {
    pub lookup: String,
    pub secret: String,
    pub hash: String,
}

impl NewSecret {
    pub fn generate() -> Self {
        let alphabet = Uniform::from(0..36u8);
        let lookup: String = alphabet
            .sample_iter(OsRng)
            .take(LOOKUP_LEN)
            .map(|n| char::from_digit(n.into(), 36).expect("below 36"))
            .collect();
        let random = Alphanumeric.sample_string(&mut OsRng, SECRET_LEN);
        let secret = format!("{PREFIX}{lookup}_{random}");
        let hash = hash(&secret);
        Self { lookup, secret, hash }
    }
}

/// The lookup part of a presented secret, or `None` when it has not our form (such a
/// secret is refused without touching the database or argon2).
pub fn lookup_of(presented: &str) -> Option<&str> {
    let rest = presented.strip_prefix(PREFIX)?;
    let (lookup, secret) = rest.split_once('_')?;
    let well_formed = lookup.len() == LOOKUP_LEN
        && lookup.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && secret.len() == SECRET_LEN
        && secret.chars().all(|c| c.is_ascii_alphanumeric());
    well_formed.then_some(lookup)
}

/// argon2id with the crate's default parameters (19 MiB, 2 passes): about 16 ms, which
/// is why verified keys are cached (see `auth`).
pub fn hash(secret: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .expect("argon2 accepts any secret with a generated salt")
        .to_string()
}

/// Whether `presented` is the secret `stored_hash` was made from. A malformed stored
/// hash verifies nothing.
pub fn verify(presented: &str, stored_hash: &str) -> bool {
    PasswordHash::new(stored_hash)
        .is_ok_and(|parsed| Argon2::default().verify_password(presented.as_bytes(), &parsed).is_ok())
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

    #[test]
    fn generated_secrets_verify_and_parse() {
        let new = NewSecret::generate();
        assert_eq!(lookup_of(&new.secret), Some(new.lookup.as_str()));
        assert!(verify(&new.secret, &new.hash));
        let mut wrong = new.secret.clone();
        wrong.pop();
        wrong.push('!');
        assert!(!verify(&wrong, &new.hash));
        assert!(!verify(&new.secret, "not a hash"));
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
