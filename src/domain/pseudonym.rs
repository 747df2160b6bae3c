//! Client pseudonymization: what the ledger keeps instead of an IP address or a user
//! agent. The address is truncated first (IPv4 to its /24, IPv6 to its /48), so that
//! even the key's holder learns only a neighbourhood, then HMAC-keyed, so that the
//! stored value cannot be reversed by trying every network without the key, which is
//! kept apart from the data.

use std::net::IpAddr;

use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Clone)]
pub struct Pseudonymizer {
    keyed: Hmac<Sha256>,
}

impl Pseudonymizer {
    pub fn new(key: [u8; 32]) -> Self {
        Self { keyed: Hmac::new_from_slice(&key).expect("HMAC takes a key of any length") }
    }

    /// 32 hex characters naming the client's network, never its address.
    pub fn client(&self, ip: IpAddr) -> String {
        let mut mac = self.keyed.clone();
        mac.update(&truncate(ip));
        let digest = mac.finalize().into_bytes();
        hex::encode(&digest[..16])
    }
}

/// The network part kept: 3 bytes of IPv4, 6 of IPv6 (an IPv4-mapped IPv6 address
/// counts as the IPv4 address it carries).
fn truncate(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => [&[4u8][..], &v4.octets()[..3]].concat(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => truncate(IpAddr::V4(v4)),
            None => [&[6u8][..], &v6.octets()[..6]].concat(),
        },
    }
}

/// The family of a user agent — a browser, a mail client, a provider's one-click
/// robot or a link scanner — never the full string, which can single a person out.
pub fn user_agent_family(user_agent: &str) -> &'static str {
    let ua = user_agent.to_ascii_lowercase();
    let known: &[(&str, &str)] = &[
        ("googleimageproxy", "Gmail image proxy"),
        ("google-", "Google"),
        ("yahoo", "Yahoo"),
        ("microsoft office", "Outlook"),
        ("outlook", "Outlook"),
        ("thunderbird", "Thunderbird"),
        ("proofpoint", "Proofpoint scanner"),
        ("mimecast", "Mimecast scanner"),
        ("barracuda", "Barracuda scanner"),
        ("safelinks", "Microsoft Safe Links"),
        ("bingpreview", "Microsoft preview"),
        ("curl/", "curl"),
        ("python", "script"),
        ("go-http-client", "script"),
        ("reqwest", "script"),
        ("headlesschrome", "Headless Chrome"),
        ("edg/", "Edge"),
        ("opr/", "Opera"),
        ("firefox/", "Firefox"),
        ("chromium/", "Chrome"),
        ("chrome/", "Chrome"),
        ("crios/", "Chrome"),
        ("safari/", "Safari"),
        ("bot", "robot"),
        ("spider", "robot"),
    ];
    if ua.trim().is_empty() {
        return "none";
    }
    known.iter().find(|(needle, _)| ua.contains(needle)).map_or("other", |(_, family)| family)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn neighbours_share_a_pseudonym_and_keys_differ() {
        let p = Pseudonymizer::new([1; 32]);
        let q = Pseudonymizer::new([2; 32]);
        let a: IpAddr = "203.0.113.7".parse().unwrap();
        let b: IpAddr = "203.0.113.250".parse().unwrap();
        let c: IpAddr = "203.0.114.7".parse().unwrap();
        assert_eq!(p.client(a), p.client(b));
        assert_ne!(p.client(a), p.client(c));
        assert_ne!(p.client(a), q.client(a));
        assert!(!p.client(a).contains("203"));
        let v6a: IpAddr = "2001:db8:1234:1::1".parse().unwrap();
        let v6b: IpAddr = "2001:db8:1234:ffff::2".parse().unwrap();
        let v6c: IpAddr = "2001:db8:1235::1".parse().unwrap();
        assert_eq!(p.client(v6a), p.client(v6b));
        assert_ne!(p.client(v6a), p.client(v6c));
        let mapped: IpAddr = "::ffff:203.0.113.9".parse().unwrap();
        assert_eq!(p.client(mapped), p.client(a));
    }

    #[test]
    fn user_agents_become_families() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
        assert_eq!(user_agent_family(chrome), "Chrome");
        assert_eq!(
            user_agent_family("Mozilla/5.0 (Macintosh) AppleWebKit/605 Version/17 Safari/605"),
            "Safari"
        );
        assert_eq!(user_agent_family("Mozilla/5.0 Firefox/121.0"), "Firefox");
        assert_eq!(
            user_agent_family("Mozilla/4.0 (compatible; ms-office; MSOffice 16) Microsoft Outlook"),
            "Outlook"
        );
        assert_eq!(user_agent_family(""), "none");
        assert_eq!(user_agent_family("something new"), "other");
    }

    proptest! {
        #[test]
        fn deterministic_per_key_and_same_for_a_slash_24(a in any::<[u8; 4]>(), last in any::<u8>(), key in any::<[u8; 32]>(), other in any::<[u8; 32]>()) {
            let p = Pseudonymizer::new(key);
            let ip = IpAddr::from(a);
            prop_assert_eq!(p.client(ip), p.client(ip));
            let neighbour = IpAddr::from([a[0], a[1], a[2], last]);
            prop_assert_eq!(p.client(ip), p.client(neighbour));
            if key != other {
                prop_assert_ne!(p.client(ip), Pseudonymizer::new(other).client(ip));
            }
        }
    }
}
