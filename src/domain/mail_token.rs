//! The compact signed token of a `mailto:` unsubscribe address, `u-TOKEN@DOMAIN`.
//!
//! A mailbox's local part holds at most 64 octets (RFC 5321 4.5.3.1.1), and its case
//! may not survive every relay, so the JWT of the unsubscribe URL cannot serve: the
//! token is 62 symbols of lower-case base32 (RFC 4648's alphabet, read in any case)
//! after `u-`, 64 characters in all. Its 310 bits hold:
//!
//! | bits | what |
//! | ---: | --- |
//! | 256 | the keyed hash of the address, whole: acting on a token for an address never stored creates a contact known by that hash (as the URL's link does), so it cannot be cut short |
//! | 16 | the last day (days since 1970, UTC) on which the token is accepted: until the year 2149 |
//! | 38 | an HMAC-SHA-256, cut to its first 38 bits, over the hash, the day and the topic key (`*` for all promotional mail) |
//!
//! The topic and the signing key are not written out: the verifier tries each topic
//! it knows under each key of the ring and accepts the one whose MAC matches. That
//! spends no bit on naming them, keeps the token's meaning the topic's key (as the
//! URL's), and lets keys rotate exactly as links' do (`PREFCENTER_SIGNING_KEYS`: the
//! first signs, all verify). The price is that one guess is checked against every
//! (key, topic) pair: a forged token passes with probability keys × (topics + 1) ×
//! 2⁻³⁸, and every guess costs an SMTP command, which the receiver limits; to aim at
//! someone, a forger needs their 256-bit keyed address hash as well.
//!
//! No message id fits: a mail unsubscribe records none (as a URL's unusable one).
//! Each key of the ring is used through a key derived from it for this purpose
//! alone, so a MAC of this kind is never a MAC of a link's.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::token::TokenError;
use super::{AddressHash, TopicKey};

/// What a token's local part starts with.
pub const PREFIX: &str = "u-";
/// Base32 symbols after the prefix.
pub const SYMBOLS: usize = 62;
/// The local part's length: the most RFC 5321 allows.
pub const LOCAL_PART_LEN: usize = PREFIX.len() + SYMBOLS;

const MAC_BITS: u32 = 38;
/// hash (32 bytes), day (2), MAC (38 bits, left-aligned in 5 bytes): 310 bits used.
const PACKED: usize = 39;
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
/// The label every key of the ring is derived with for mail tokens.
const PURPOSE: &[u8] = b"prefcenter mailto token v1";

/// A verified mail token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailLink {
    pub hash: AddressHash,
    /// `None`: every promotional topic.
    pub topic: Option<TopicKey>,
    /// The last day the token is accepted, in days since 1970 (UTC).
    pub last_day: u16,
}

/// The mail-token keys of a signing key ring: the first signs, all verify.
#[derive(Clone)]
pub struct MailKeys {
    /// The signing key first.
    keys: Vec<Hmac<Sha256>>,
}

impl MailKeys {
    pub(super) fn new<'a>(signing: &'a [u8], others: impl Iterator<Item = &'a [u8]>) -> Self {
        let derive = |secret: &[u8]| {
            let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
            mac.update(PURPOSE);
            Hmac::<Sha256>::new_from_slice(&mac.finalize().into_bytes()).expect("32 bytes")
        };
        Self { keys: std::iter::once(signing).chain(others).map(derive).collect() }
    }

    /// The local part `u-TOKEN` for an address's hash and a topic, accepted through
    /// `last_day` (days since 1970).
    pub fn local_part(&self, hash: &AddressHash, topic: Option<&TopicKey>, last_day: u16) -> String {
        let mac = mac(&self.keys[0], hash, last_day, topic);
        let mut packed = [0u8; PACKED];
        packed[..32].copy_from_slice(&hash.0);
        packed[32..34].copy_from_slice(&last_day.to_be_bytes());
        packed[34..39].copy_from_slice(&(mac << (40 - MAC_BITS)).to_be_bytes()[3..]);
        let mut local = String::with_capacity(LOCAL_PART_LEN);
        local.push_str(PREFIX);
        for i in 0..SYMBOLS {
            local.push(ALPHABET[symbol_at(&packed, i * 5) as usize] as char);
        }
        local
    }

    /// Verifies a local part on day `today` (days since 1970), trying each of `topics`
    /// and all promotional mail (`*`) under each key. Case does not matter.
    pub fn verify(&self, local_part: &str, today: i64, topics: &[TopicKey]) -> Result<MailLink, TokenError> {
        let packed = unpack(local_part).ok_or(TokenError::Malformed)?;
        let hash = AddressHash(packed[..32].try_into().expect("32 bytes"));
        let last_day = u16::from_be_bytes([packed[32], packed[33]]);
        let mut given = [0u8; 8];
        given[3..].copy_from_slice(&packed[34..39]);
        let given = u64::from_be_bytes(given) >> (40 - MAC_BITS);
        let topic = std::iter::once(None)
            .chain(topics.iter().map(Some))
            .find(|topic| self.keys.iter().any(|key| mac(key, &hash, last_day, *topic).ct_eq(&given).into()))
            .ok_or(TokenError::Signature)?;
        if i64::from(last_day) < today {
            return Err(TokenError::Expired);
        }
        Ok(MailLink { hash, topic: topic.cloned(), last_day })
    }
}

/// The day number (days since 1970, UTC) of a time in seconds since the epoch.
pub fn day(seconds: i64) -> i64 {
    seconds.div_euclid(86_400)
}

/// The last day a token made at `now` (seconds) stays accepted for `days`, as stored:
/// days past 2149 are that year's limit.
pub fn last_day(now: i64, days: i64) -> u16 {
    u16::try_from(day(now.saturating_add(days.saturating_mul(86_400))).max(0)).unwrap_or(u16::MAX)
}

fn mac(key: &Hmac<Sha256>, hash: &AddressHash, last_day: u16, topic: Option<&TopicKey>) -> u64 {
    let mut mac = key.clone();
    mac.update(&hash.0);
    mac.update(&last_day.to_be_bytes());
    mac.update(topic.map_or("*", TopicKey::as_str).as_bytes());
    let digest = mac.finalize().into_bytes();
    u64::from_be_bytes(digest[..8].try_into().expect("8 bytes")) >> (64 - MAC_BITS)
}

/// The 5 bits of `packed` starting at bit `offset` (bits past the end read as 0).
fn symbol_at(packed: &[u8; PACKED], offset: usize) -> u8 {
    let byte = offset / 8;
    let pair = u16::from(packed[byte]) << 8 | u16::from(packed.get(byte + 1).copied().unwrap_or(0));
    ((pair >> (11 - offset % 8)) & 0x1f) as u8
}

/// The packed bits of a local part, or `None` when it is not `u-` and 62 base32
/// symbols. Every such string decodes (all 310 bits are used), so there is one
/// spelling of each token, up to case.
fn unpack(local_part: &str) -> Option<[u8; PACKED]> {
    let bytes = local_part.as_bytes();
    if bytes.len() != LOCAL_PART_LEN || !bytes[..PREFIX.len()].eq_ignore_ascii_case(PREFIX.as_bytes()) {
        return None;
    }
    let mut packed = [0u8; PACKED];
    for (i, &c) in bytes[PREFIX.len()..].iter().enumerate() {
        let value = match c.to_ascii_lowercase() {
            c @ b'a'..=b'z' => c - b'a',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        let offset = i * 5;
        let (byte, shift) = (offset / 8, offset % 8);
        let spread = u16::from(value) << (11 - shift);
        packed[byte] |= (spread >> 8) as u8;
        if let Some(next) = packed.get_mut(byte + 1) {
            *next |= spread as u8;
        }
    }
    Some(packed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TODAY: i64 = 20_800;

    fn ring(secrets: &[u8]) -> MailKeys {
        let keys: Vec<[u8; 32]> = secrets.iter().map(|s| [*s; 32]).collect();
        MailKeys::new(&keys[0], keys[1..].iter().map(|k| k.as_slice()))
    }

    fn topics() -> Vec<TopicKey> {
        ["news", "offers", "a.b_c-d"].iter().map(|t| TopicKey::parse(t).unwrap()).collect()
    }

    fn news() -> TopicKey {
        TopicKey::parse("news").unwrap()
    }

    #[test]
    fn a_token_is_64_characters_of_lower_case_base32_and_verifies_to_itself() {
        let keys = ring(&[1]);
        let hash = AddressHash([7; 32]);
        let local = keys.local_part(&hash, Some(&news()), TODAY as u16 + 90);
        assert_eq!(local.len(), 64);
        assert!(local.starts_with("u-"));
        assert!(local[2..].bytes().all(|c| c.is_ascii_lowercase() || (b'2'..=b'7').contains(&c)), "{local}");
        let link = keys.verify(&local, TODAY, &topics()).unwrap();
        assert_eq!(link, MailLink { hash, topic: Some(news()), last_day: TODAY as u16 + 90 });
        assert_eq!(keys.verify(&local.to_ascii_uppercase(), TODAY, &topics()), Ok(link));
        let all = keys.local_part(&hash, None, TODAY as u16);
        assert_eq!(keys.verify(&all, TODAY, &[]).unwrap().topic, None);
    }

    #[test]
    fn expired_unknown_topic_and_removed_key_are_refused() {
        let keys = ring(&[1]);
        let hash = AddressHash([9; 32]);
        let local = keys.local_part(&hash, Some(&news()), TODAY as u16);
        assert!(keys.verify(&local, TODAY, &topics()).is_ok(), "the last day is accepted");
        assert_eq!(keys.verify(&local, TODAY + 1, &topics()), Err(TokenError::Expired));
        let others = [TopicKey::parse("offers").unwrap()];
        assert_eq!(keys.verify(&local, TODAY, &others), Err(TokenError::Signature), "a topic gone");
        // Rotation: the new key signs, the old still verifies, until it is removed.
        let rotated = ring(&[2, 1]);
        assert!(rotated.verify(&local, TODAY, &topics()).is_ok());
        assert!(ring(&[2]).verify(&local, TODAY, &topics()).is_err());
        let new = rotated.local_part(&hash, Some(&news()), TODAY as u16);
        assert_ne!(new, local);
        assert!(keys.verify(&new, TODAY, &topics()).is_err(), "the old ring does not know the new key");
    }

    #[test]
    fn malformed_local_parts_are_refused() {
        let keys = ring(&[1]);
        let good = keys.local_part(&AddressHash([3; 32]), None, TODAY as u16);
        for bad in [
            "",
            "u-",
            &good[1..],
            &good[..63],
            &format!("{good}a"),
            &format!("x-{}", &good[2..]),
            &good.replacen('u', "\u{0}", 1),
            &format!("u-{}1", &good[2..63]),
            &format!("u-{}=", &good[2..63]),
            &format!("u-{}é", &good[2..62]),
        ] {
            assert_eq!(keys.verify(bad, TODAY, &[]), Err(TokenError::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn days_and_their_bound() {
        assert_eq!(day(0), 0);
        assert_eq!(day(86_399), 0);
        assert_eq!(day(-1), -1);
        assert_eq!(last_day(1_800_000_000, 90), ((1_800_000_000 + 90 * 86_400) / 86_400) as u16);
        assert_eq!(last_day(i64::MAX, 90), u16::MAX, "past 2149: the limit");
        assert_eq!(last_day(-10_000_000_000, 1), 0);
    }

    fn topic_strategy() -> impl Strategy<Value = Option<TopicKey>> {
        prop_oneof![Just(None), (0usize..3).prop_map(|i| Some(topics()[i].clone()))]
    }

    proptest! {
        #[test]
        fn every_token_round_trips_in_any_case(
            hash in any::<[u8; 32]>(),
            topic in topic_strategy(),
            last in (TODAY as u16)..=u16::MAX,
            case in any::<u64>(),
        ) {
            let keys = ring(&[1, 2]);
            let local = keys.local_part(&AddressHash(hash), topic.as_ref(), last);
            prop_assert_eq!(local.len(), LOCAL_PART_LEN);
            let mixed: String = local
                .chars()
                .enumerate()
                .map(|(i, c)| if case >> (i % 64) & 1 == 1 { c.to_ascii_uppercase() } else { c })
                .collect();
            let expected = MailLink { hash: AddressHash(hash), topic, last_day: last };
            prop_assert_eq!(keys.verify(&mixed, TODAY, &topics()), Ok(expected));
        }

        #[test]
        fn a_changed_character_is_refused(
            hash in any::<[u8; 32]>(),
            topic in topic_strategy(),
            index in 0usize..LOCAL_PART_LEN,
            replacement in "[a-z2-7A-Z=u-]",
        ) {
            let keys = ring(&[1]);
            let local = keys.local_part(&AddressHash(hash), topic.as_ref(), TODAY as u16 + 30);
            let replacement = replacement.as_bytes()[0];
            let mut bytes = local.clone().into_bytes();
            // A change of case is the same token.
            prop_assume!(!bytes[index].eq_ignore_ascii_case(&replacement));
            bytes[index] = replacement;
            let tampered = String::from_utf8(bytes).unwrap();
            prop_assert!(keys.verify(&tampered, TODAY, &topics()).is_err(), "{} accepted", tampered);
        }

        #[test]
        fn any_text_is_refused_without_a_panic(text in "\\PC{0,80}|[uU]-[a-zA-Z2-7]{62}") {
            // A random string of the right shape passes one MAC in 2^38 per
            // (key, topic): never in this many cases.
            prop_assert!(ring(&[1]).verify(&text, TODAY, &topics()).is_err());
        }
    }
}
