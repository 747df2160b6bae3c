//! Signed links: compact HS256 JSON Web Tokens with a `kid` header, so signing keys
//! can rotate (one signs, any number still verify). Claims name the contact by id,
//! never by address — URLs end up in logs. A link for an address prefcenter has not
//! stored yet names its keyed address hash instead (`a`), which reveals nothing
//! without the server's key; acting on such a link creates a contact known by that
//! hash alone.

use std::borrow::Cow;
use std::collections::HashMap;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

use super::mail_token::MailKeys;
use super::{AddressHash, ContactId, TopicKey};

/// What a link may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Unsubscribe,
    Preferences,
    Confirm,
    /// Confirms an erasure asked for on the pages: mailed to the address, short-lived.
    Erase,
}

impl Audience {
    fn as_str(self) -> &'static str {
        match self {
            Audience::Unsubscribe => "unsubscribe",
            Audience::Preferences => "preferences",
            Audience::Confirm => "confirm",
            Audience::Erase => "erase",
        }
    }
}

/// Whom a link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipient {
    Contact(ContactId),
    /// An address not stored as a contact when the link was made.
    Address(AddressHash),
}

/// The content of a verified link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub recipient: Recipient,
    pub audience: Audience,
    /// `None` means every promotional topic (`*`).
    pub topic: Option<TopicKey>,
    pub message_id: Option<String>,
    pub issued_at: i64,
    pub expires_at: i64,
}

/// The wire form: short claim names keep URLs short. Borrowed when signing (a batch
/// of checks signs one a decision), owned when read back.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Claims<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    a: Option<Cow<'a, str>>,
    aud: Cow<'a, str>,
    t: Cow<'a, str>,
    iat: i64,
    exp: i64,
    /// An extra: a link whose message id cannot be used still unsubscribes.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "usable_message_id")]
    m: Option<Cow<'a, str>>,
}

/// The message id a link carries, or `None` when it is not a usable one (not a
/// string, or text the API would refuse now: links signed before it checked, or by a
/// key used elsewhere). The unsubscribe is what the link is for; the message id only
/// annotates the event it records, and must never be why that event is lost.
fn usable_message_id<'de, 'a, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Cow<'a, str>>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    Ok(value
        .as_str()
        .filter(|m| !m.is_empty() && super::text::is_valid(m, super::text::Shape::Identifier))
        .map(|m| Cow::Owned(m.to_owned())))
}

/// Why a token was refused. None of these may change anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the link is malformed")]
    Malformed,
    #[error("the link was signed with another algorithm")]
    Algorithm,
    #[error("the link was signed with a key that is no longer accepted")]
    UnknownKey,
    #[error("the link's signature is not valid")]
    Signature,
    #[error("the link is not meant for this page")]
    Audience,
    #[error("the link has expired")]
    Expired,
}

/// The signing key and every key still accepted.
#[derive(Clone)]
pub struct TokenKeys {
    keys: HashMap<String, Vec<u8>>,
    /// The encoded header (`{"alg":"HS256","kid":…}`) and the keyed HMAC state of the
    /// signing key, made once: check routes sign a link per allowed address.
    header: String,
    signer: Hmac<Sha256>,
    /// The same ring's keys for the compact tokens of `mailto:` addresses.
    mail: MailKeys,
}

impl TokenKeys {
    /// Reads `kid:base64secret[,kid:base64secret…]`; the first signs. Secrets must be
    /// at least 32 bytes.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut signing_kid = None;
        let mut keys = HashMap::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (kid, secret) = part.split_once(':').ok_or("each signing key is kid:base64secret")?;
            if kid.is_empty()
                || kid.len() > 32
                || !kid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(format!("signing key id {kid:?}: use 1 to 32 letters, digits, - or _"));
            }
            let secret = STANDARD.decode(secret).map_err(|_| format!("signing key {kid:?} is not base64"))?;
            if secret.len() < 32 {
                return Err(format!("signing key {kid:?} is shorter than 32 bytes"));
            }
            if keys.insert(kid.to_owned(), secret).is_some() {
                return Err(format!("signing key id {kid:?} is given twice"));
            }
            signing_kid.get_or_insert_with(|| kid.to_owned());
        }
        let signing_kid: String = signing_kid.ok_or("no signing key given")?;
        let header =
            URL_SAFE_NO_PAD.encode(serde_json::json!({"alg": "HS256", "kid": signing_kid}).to_string());
        let signer = Hmac::new_from_slice(&keys[&signing_kid]).expect("HMAC takes a key of any length");
        let others = keys.iter().filter(|(kid, _)| **kid != signing_kid).map(|(_, secret)| secret.as_slice());
        let mail = MailKeys::new(&keys[&signing_kid], others);
        Ok(Self { keys, header, signer, mail })
    }

    /// A new key specification with one random key.
    pub fn generate_spec() -> String {
        use rand::RngCore;
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        format!("k{}:{}", chrono::Utc::now().format("%Y%m%d"), STANDARD.encode(secret))
    }

    /// The keys of `mailto:` tokens, derived from these.
    pub fn mail(&self) -> &MailKeys {
        &self.mail
    }

    pub fn sign(&self, link: &Link) -> String {
        let mut token = String::new();
        self.sign_into(link, &mut token);
        token
    }

    /// Appends the token of `link` to `out`: how a URL is built around it without
    /// copying it again.
    pub fn sign_into(&self, link: &Link, out: &mut String) {
        let (mut id, mut hash) = ([0u8; uuid::fmt::Simple::LENGTH], [0u8; 43]);
        let (sub, a) = match link.recipient {
            Recipient::Contact(contact) => (Some(&*contact.uuid().simple().encode_lower(&mut id)), None),
            Recipient::Address(address) => {
                let n =
                    URL_SAFE_NO_PAD.encode_slice(address.0, &mut hash).expect("32 bytes are 43 in base64");
                (None, Some(std::str::from_utf8(&hash[..n]).expect("base64 is ASCII")))
            }
        };
        let claims = Claims {
            sub: sub.map(Cow::Borrowed),
            a: a.map(Cow::Borrowed),
            aud: Cow::Borrowed(link.audience.as_str()),
            t: Cow::Borrowed(link.topic.as_ref().map_or("*", TopicKey::as_str)),
            iat: link.issued_at,
            exp: link.expires_at,
            m: link.message_id.as_deref().map(Cow::Borrowed),
        };
        // A JWS compact serialization, as jsonwebtoken would make it, without
        // re-encoding the header and re-keying the HMAC for every link.
        let mut payload = Vec::with_capacity(160);
        serde_json::to_writer(&mut payload, &claims).expect("plain claims serialize");
        let start = out.len();
        out.reserve(self.header.len() + payload.len() * 4 / 3 + 48);
        out.push_str(&self.header);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, out);
        let mut mac = self.signer.clone();
        mac.update(&out.as_bytes()[start..]);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(mac.finalize().into_bytes(), out);
    }

    /// Verifies a token for `audience` at time `now` (seconds since the epoch). The
    /// algorithm is pinned to HS256 whatever the header says; the header's `kid` only
    /// picks the key.
    pub fn verify(&self, token: &str, audience: Audience, now: i64) -> Result<Link, TokenError> {
        let link = self.verify_signed(token, audience)?;
        if link.expires_at <= now {
            return Err(TokenError::Expired);
        }
        Ok(link)
    }

    /// [`verify`](Self::verify) without the expiry: for what a link stays good for
    /// after it has expired (an unsubscribe: mail is kept for years). The caller
    /// compares `expires_at` with its clock for anything else.
    pub fn verify_signed(&self, token: &str, audience: Audience) -> Result<Link, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::HS256 {
            return Err(TokenError::Algorithm);
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let secret = self.keys.get(&kid).ok_or(TokenError::UnknownKey)?;
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked below against the caller's clock; the audience too, so
        // that a wrong one has its own answer.
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(secret), &validation)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                match e.kind() {
                    ErrorKind::InvalidSignature => TokenError::Signature,
                    ErrorKind::InvalidAlgorithm => TokenError::Algorithm,
                    _ => TokenError::Malformed,
                }
            })?;
        let claims = data.claims;
        if claims.aud != audience.as_str() {
            return Err(TokenError::Audience);
        }
        let recipient = match (claims.sub, claims.a) {
            (Some(sub), None) => Recipient::Contact(ContactId::from_uuid(
                Uuid::parse_str(&sub).map_err(|_| TokenError::Malformed)?,
            )),
            (None, Some(a)) => Recipient::Address(
                URL_SAFE_NO_PAD
                    .decode(a.as_bytes())
                    .ok()
                    .and_then(|b| AddressHash::from_slice(&b))
                    .ok_or(TokenError::Malformed)?,
            ),
            _ => return Err(TokenError::Malformed),
        };
        let topic = match claims.t.as_ref() {
            "*" => None,
            key => Some(TopicKey::parse(key).map_err(|_| TokenError::Malformed)?),
        };
        Ok(Link {
            recipient,
            audience,
            topic,
            message_id: claims.m.map(Cow::into_owned),
            issued_at: claims.iat,
            expires_at: claims.exp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};
    use proptest::prelude::*;

    const NOW: i64 = 1_800_000_000;

    fn keys(spec: &str) -> TokenKeys {
        TokenKeys::parse(spec).unwrap()
    }

    fn k1() -> String {
        format!("k1:{}", STANDARD.encode([1u8; 32]))
    }
    fn k2() -> String {
        format!("k2:{}", STANDARD.encode([2u8; 32]))
    }

    fn link() -> Link {
        Link {
            recipient: Recipient::Contact(ContactId::from_uuid(Uuid::from_u128(42))),
            audience: Audience::Unsubscribe,
            topic: Some(TopicKey::parse("news").unwrap()),
            message_id: Some("m-1".into()),
            issued_at: NOW,
            expires_at: NOW + 60 * 86400,
        }
    }

    #[test]
    fn a_signed_link_verifies_to_itself() {
        let keys = keys(&k1());
        let token = keys.sign(&link());
        assert_eq!(keys.verify(&token, Audience::Unsubscribe, NOW + 1), Ok(link()));
        let mut for_address = link();
        for_address.recipient = Recipient::Address(AddressHash([7; 32]));
        for_address.topic = None;
        assert_eq!(keys.verify(&keys.sign(&for_address), Audience::Unsubscribe, NOW), Ok(for_address));
        assert!(token.len() < 260, "short enough for a header line: {} chars", token.len());
    }

    #[test]
    fn rotation_old_keys_verify_removed_keys_do_not() {
        let old = keys(&k1());
        let rotated = keys(&format!("{},{}", k2(), k1()));
        let token = old.sign(&link());
        assert!(rotated.verify(&token, Audience::Unsubscribe, NOW).is_ok());
        assert!(rotated.sign(&link()).len() > 10);
        let removed = keys(&k2());
        assert_eq!(removed.verify(&token, Audience::Unsubscribe, NOW), Err(TokenError::UnknownKey));
    }

    #[test]
    fn every_kind_of_bad_token_is_refused() {
        let keys = keys(&k1());
        let token = keys.sign(&link());
        assert_eq!(keys.verify(&token, Audience::Preferences, NOW), Err(TokenError::Audience));
        assert_eq!(keys.verify(&token, Audience::Unsubscribe, NOW + 61 * 86400), Err(TokenError::Expired));
        assert_eq!(keys.verify_signed(&token, Audience::Unsubscribe), Ok(link()), "signed, however old");
        assert_eq!(keys.verify_signed(&token, Audience::Erase), Err(TokenError::Audience));
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[2] = URL_SAFE_NO_PAD.encode([0u8; 32]);
        assert_eq!(keys.verify(&parts.join("."), Audience::Unsubscribe, NOW), Err(TokenError::Signature));
        for garbage in ["", "abc", "a.b.c", "....", &token[..token.len() - 5]] {
            assert!(keys.verify(garbage, Audience::Unsubscribe, NOW).is_err(), "{garbage}");
        }
        // alg none, and an unknown kid, signed or not.
        let payload = token.split('.').nth(1).unwrap();
        let none = format!("{}.{payload}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"k1"}"#));
        assert!(keys.verify(&none, Audience::Unsubscribe, NOW).is_err());
        let hs512 = {
            let mut header = Header::new(Algorithm::HS512);
            header.kid = Some("k1".into());
            let claims: serde_json::Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&[1u8; 32])).unwrap()
        };
        assert_eq!(keys.verify(&hs512, Audience::Unsubscribe, NOW), Err(TokenError::Algorithm));
        let unknown_kid = {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some("k9".into());
            let claims: serde_json::Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&[1u8; 32])).unwrap()
        };
        assert_eq!(keys.verify(&unknown_kid, Audience::Unsubscribe, NOW), Err(TokenError::UnknownKey));
        // A wrongly typed expiry is malformed, never "no expiry".
        let typed = {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some("k1".into());
            let claims = serde_json::json!({"sub": Uuid::from_u128(1).simple().to_string(), "aud": "unsubscribe", "t": "*", "iat": NOW, "exp": "never"});
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&[1u8; 32])).unwrap()
        };
        assert_eq!(keys.verify(&typed, Audience::Unsubscribe, NOW), Err(TokenError::Malformed));
    }

    #[test]
    fn an_unusable_message_id_is_dropped_and_the_link_still_verifies() {
        let keys = keys(&k1());
        for bad in ["m\u{0}1", "\u{202e}m", "", &"m".repeat(2000)] {
            let mut with_bad = link();
            with_bad.message_id = Some(bad.to_owned());
            let verified = keys.verify(&keys.sign(&with_bad), Audience::Unsubscribe, NOW).unwrap();
            assert_eq!(verified, Link { message_id: None, ..link() }, "{bad:?}");
        }
        // Not even a string, in a token signed with the right key.
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".into());
        let claims = serde_json::json!({"sub": Uuid::from_u128(42).simple().to_string(), "aud": "unsubscribe", "t": "news", "iat": NOW, "exp": NOW + 60, "m": 7});
        let token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&[1u8; 32])).unwrap();
        assert_eq!(keys.verify(&token, Audience::Unsubscribe, NOW).unwrap().message_id, None);
    }

    #[test]
    fn key_specifications_are_checked() {
        assert!(TokenKeys::parse("").is_err());
        assert!(TokenKeys::parse("k1:c2hvcnQ=").is_err(), "too short");
        assert!(TokenKeys::parse("k1").is_err());
        assert!(TokenKeys::parse(&format!("{},{}", k1(), k1())).is_err());
        assert!(TokenKeys::parse(&TokenKeys::generate_spec()).is_ok());
    }

    proptest! {
        #[test]
        fn verifying_never_panics(token in "\\PC{0,300}") {
            let _ = keys(&k1()).verify(&token, Audience::Unsubscribe, NOW);
        }

        #[test]
        fn a_changed_character_is_refused(index in 0usize..200, replacement in "[A-Za-z0-9_-]") {
            let keys = keys(&k1());
            let token = keys.sign(&link());
            let index = index % token.len();
            let mut bytes = token.clone().into_bytes();
            if bytes[index] != b'.' && bytes[index] != replacement.as_bytes()[0] {
                bytes[index] = replacement.as_bytes()[0];
                let tampered = String::from_utf8(bytes).unwrap();
                // Base64 padding bits can make two strings decode alike; then the
                // token is unchanged and may verify.
                if let Ok(l) = keys.verify(&tampered, Audience::Unsubscribe, NOW) {
                    prop_assert_eq!(l, link());
                }
            }
        }
    }
}
