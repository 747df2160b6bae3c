//! Outgoing webhooks, the pure part: which receivers a delivery may reach, the signing
//! secrets and the Standard Webhooks signature, and the retry schedule.
//!
//! The signature is the spec's (<https://www.standardwebhooks.com>): HMAC-SHA256 over
//! `msg_id.timestamp.body` with the secret's bytes (the base64 after `whsec_`), in
//! base64, prefixed `v1,`; during a rotation one signature per secret, separated by a
//! space, so a receiver holding either secret verifies.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

const SECRET_PREFIX: &str = "whsec_";
/// 32 random bytes: the spec asks 24 to 64.
const SECRET_BYTES: usize = 32;
/// The longest receiver URL accepted.
pub const MAX_URL_LEN: usize = 2000;

/// A webhook's signing secret, `whsec_` and the base64 of its bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl Secret {
    pub fn generate() -> Self {
        let mut bytes = [0u8; SECRET_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(format!("{SECRET_PREFIX}{}", base64::engine::general_purpose::STANDARD.encode(bytes)))
    }

    /// A stored secret; `None` when it is not one of ours.
    pub fn parse(stored: &str) -> Option<Self> {
        let key =
            base64::engine::general_purpose::STANDARD.decode(stored.strip_prefix(SECRET_PREFIX)?).ok()?;
        (key.len() >= 24).then(|| Self(stored.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn key(&self) -> Vec<u8> {
        let encoded = self.0.strip_prefix(SECRET_PREFIX).unwrap_or(&self.0);
        base64::engine::general_purpose::STANDARD.decode(encoded).unwrap_or_default()
    }
}

/// The `webhook-id` of the event with sequence number `seq`: the same on every
/// attempt, so a receiver can apply each event once.
pub fn message_id(seq: i64) -> String {
    format!("evt_{seq}")
}

/// The `webhook-signature` header: `v1,<base64>` for each secret, space-separated.
pub fn signature(secrets: &[&Secret], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let signatures: Vec<String> = secrets
        .iter()
        .map(|secret| {
            let mut mac =
                Hmac::<Sha256>::new_from_slice(&secret.key()).expect("HMAC takes a key of any length");
            mac.update(msg_id.as_bytes());
            mac.update(b".");
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
        })
        .collect();
    signatures.join(" ")
}

/// Checks a receiver's URL: http or https, a host, and — unless private receivers are
/// allowed — no address a delivery must not reach (see [`is_forbidden`]), written as an
/// address or as `localhost`. A name is checked again, resolved, at each delivery.
/// Returns the URL as it will be called (normalised: `http://0x7f.1/` is
/// `http://127.0.0.1/`, and refused).
pub fn receiver_url(input: &str, allow_private: bool) -> Result<url::Url, String> {
    if input.chars().count() > MAX_URL_LEN {
        return Err(format!("must be at most {MAX_URL_LEN} characters"));
    }
    // As written, not as a URL parser would forgive it (`HTTP://`, a space, a tab):
    // the API document's pattern says the same.
    let rest = input.strip_prefix("https://").or_else(|| input.strip_prefix("http://"));
    if rest.is_none_or(str::is_empty) {
        return Err("must be an http:// or https:// URL".into());
    }
    if input.chars().any(|c| c <= ' ' || ('\u{7f}'..='\u{9f}').contains(&c)) {
        return Err("must not hold spaces or control characters".into());
    }
    let url = url::Url::parse(input).map_err(|e| format!("is not a URL ({e})"))?;
    let forbidden = match url.host() {
        None => return Err("must name a host".into()),
        Some(url::Host::Ipv4(ip)) => is_forbidden(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => is_forbidden(IpAddr::V6(ip)),
        Some(url::Host::Domain(name)) => {
            // RFC 6761: every name under .localhost is the loopback.
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
    };
    if forbidden && !allow_private {
        return Err(
            "must not be a loopback, private, link-local or otherwise non-public address (PREFCENTER_WEBHOOK_ALLOW_PRIVATE allows them)"
                .into(),
        );
    }
    Ok(url)
}

/// Whether a delivery must not reach `ip` unless the operator allows private
/// receivers: anything but a public unicast address — unspecified, loopback, private
/// (RFC 1918), shared (RFC 6598), link-local, unique-local, site-local, multicast,
/// broadcast, reserved, documentation and benchmarking ranges — and the same inside
/// IPv4-mapped, IPv4-compatible, NAT64 and 6to4 IPv6 addresses.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_forbidden_v4(ip),
        IpAddr::V6(ip) => is_forbidden_v6(ip),
    }
}

fn is_forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    a == 0                                  // 0.0.0.0/8: this network, unspecified
        || ip.is_loopback()                 // 127.0.0.0/8
        || ip.is_private()                  // 10/8, 172.16/12, 192.168/16
        || ip.is_link_local()               // 169.254/16: cloud metadata lives here
        || (a == 100 && (64..128).contains(&b)) // 100.64/10: carrier-grade NAT
        || (a == 192 && b == 0 && (c == 0 || c == 2)) // IETF protocol assignments, TEST-NET-1
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || ip.is_multicast()                // 224/4
        || a >= 240 // 240/4 reserved, and the broadcast address
}

fn is_forbidden_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded_v4 =
        |high: u16, low: u16| Ipv4Addr::new((high >> 8) as u8, high as u8, (low >> 8) as u8, low as u8);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_forbidden_v4(v4); // ::ffff:a.b.c.d
    }
    if s[..6] == [0; 6] {
        return true; // ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_forbidden_v4(embedded_v4(s[6], s[7])); // NAT64 64:ff9b::/96
    }
    if s[0] == 0x2002 {
        return is_forbidden_v4(embedded_v4(s[1], s[2])); // 6to4
    }
    (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1) // 64:ff9b:1::/48, local-use NAT64
        || (s[0] & 0xfe00) == 0xfc00            // fc00::/7 unique local
        || (s[0] & 0xffc0) == 0xfe80            // fe80::/10 link-local
        || (s[0] & 0xffc0) == 0xfec0            // fec0::/10 site-local (deprecated)
        || (s[0] & 0xff00) == 0xff00            // ff00::/8 multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8)   // documentation
        || (s[0] == 0x2001 && s[1] == 0)        // Teredo
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // 100::/64 discard
}

/// How long to wait after the `failures`-th failed attempt in a row: `base` doubled
/// each time, at most `max`, then "equal jitter" — half of it fixed, half drawn from
/// `jitter` in [0, 1) — so that the schedule keeps its shape while the retries of
/// many webhooks failing together spread out.
pub fn retry_delay(failures: u32, base: Duration, max: Duration, jitter: f64) -> Duration {
    let doubled = base.saturating_mul(1u32 << failures.saturating_sub(1).min(31));
    let delay = doubled.min(max);
    delay / 2 + delay.mul_f64(jitter.clamp(0.0, 1.0) / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_as_the_specification_s_example() {
        // The example of the reference libraries (standard-webhooks, libraries/rust).
        let secret = Secret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        let body = br#"{"email":"test@example.com","username":"test_user"}"#;
        assert_eq!(
            signature(&[&secret], "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", 1649367553, body),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }

    #[test]
    fn a_rotation_signs_with_both_secrets() {
        let (new, old) = (Secret::generate(), Secret::generate());
        let both = signature(&[&new, &old], "evt_7", 1700000000, b"{}");
        let parts: Vec<&str> = both.split(' ').collect();
        assert_eq!(
            parts,
            [signature(&[&new], "evt_7", 1700000000, b"{}"), signature(&[&old], "evt_7", 1700000000, b"{}")]
        );
        assert_ne!(parts[0], parts[1]);
    }

    #[test]
    fn secrets_are_32_random_bytes_in_the_spec_s_form() {
        let secret = Secret::generate();
        assert!(secret.as_str().starts_with("whsec_"));
        assert_eq!(secret.key().len(), 32);
        assert_eq!(Secret::parse(secret.as_str()), Some(secret.clone()));
        assert_ne!(Secret::generate(), secret);
        assert!(Secret::parse("whsec_c2hvcnQ=").is_none(), "too short");
        assert!(Secret::parse("pc_abc").is_none());
        assert_eq!(format!("{secret:?}"), "Secret(…)", "never in a log line");
    }

    #[test]
    fn non_public_addresses_are_forbidden() {
        let forbidden = [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.255.255.254",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "198.51.100.1",
            "203.0.113.1",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "64:ff9b:1::1",
            "2002:a00:1::1",
            "2002:7f00:1::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "2001:0::1",
            "100::1",
        ];
        for ip in forbidden {
            assert!(is_forbidden(ip.parse().unwrap()), "{ip} must be forbidden");
        }
        let public = [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "192.0.1.1",
            "198.20.0.1",
            "223.255.255.255",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2606:4700:4700::1111",
            "2a00:1450:4007::200e",
        ];
        for ip in public {
            assert!(!is_forbidden(ip.parse().unwrap()), "{ip} is public");
        }
    }

    #[test]
    fn receiver_urls_are_checked_as_written() {
        let ok = receiver_url("https://crm.example.com/hooks/prefs?token=a", false).unwrap();
        assert_eq!(ok.as_str(), "https://crm.example.com/hooks/prefs?token=a");
        for refused in [
            "http://127.0.0.1:8080/",
            "http://0x7f.1/",
            "http://2130706433/",
            "http://[::1]/",
            "http://[::ffff:7f00:1]/",
            "http://localhost/",
            "http://LOCALHOST./",
            "http://api.localhost/",
            "http://10.0.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00::1]/",
        ] {
            assert!(
                receiver_url(refused, false).unwrap_err().contains("PREFCENTER_WEBHOOK_ALLOW_PRIVATE"),
                "{refused}"
            );
            assert!(receiver_url(refused, true).is_ok(), "{refused} with private receivers allowed");
        }
        for wrong in [
            "ftp://example.com/",
            "mailto:a@example.com",
            "not a url",
            "file:///etc/passwd",
            "https://",
            "HTTP://example.com/",
            " https://example.com/",
            "https://example.com/a b",
            "https://exa\tmple.com/",
            "https://[",
        ] {
            assert!(receiver_url(wrong, true).is_err(), "{wrong}");
        }
        assert!(receiver_url(&format!("https://example.com/{}", "a".repeat(MAX_URL_LEN)), false).is_err());
    }

    #[test]
    fn retries_back_off_exponentially_with_jitter_up_to_a_bound() {
        let (base, max) = (Duration::from_secs(5), Duration::from_secs(3600));
        assert_eq!(retry_delay(1, base, max, 0.0), Duration::from_millis(2500));
        assert_eq!(retry_delay(1, base, max, 1.0), Duration::from_secs(5));
        assert_eq!(retry_delay(2, base, max, 1.0), Duration::from_secs(10));
        assert_eq!(retry_delay(4, base, max, 0.5), Duration::from_secs(30));
        assert_eq!(retry_delay(12, base, max, 1.0), max);
        assert_eq!(retry_delay(1000, base, max, 1.0), max, "no overflow however long it fails");
        assert_eq!(retry_delay(1000, base, max, 0.0), max / 2);
    }
}
