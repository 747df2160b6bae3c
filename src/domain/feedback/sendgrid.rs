//! SendGrid's Event Webhook: a JSON array of events. With the signed webhook on,
//! SendGrid signs the timestamp header followed by the raw body with ECDSA P-256 over
//! SHA-256; its verification key is a base64 public key (DER SubjectPublicKeyInfo).

use base64::Engine;
use chrono::NaiveDateTime;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde::Deserialize;

use super::{detail, from_unix, Entry, Kind, Notice, Refusal};

pub const SIGNATURE_HEADER: &str = "X-Twilio-Email-Event-Webhook-Signature";
pub const TIMESTAMP_HEADER: &str = "X-Twilio-Email-Event-Webhook-Timestamp";

/// The signed webhook's verification key.
#[derive(Clone)]
pub struct SendgridKey(VerifyingKey);

impl SendgridKey {
    /// Reads the key as SendGrid shows it (base64 DER), or as PEM.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let key = if text.starts_with("-----BEGIN") {
            VerifyingKey::from_public_key_pem(text).map_err(|e| e.to_string())?
        } else {
            let der = base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| "neither PEM nor base64".to_owned())?;
            VerifyingKey::from_public_key_der(&der).map_err(|e| format!("not a P-256 public key: {e}"))?
        };
        Ok(Self(key))
    }

    /// Checks the signature header over the timestamp header and the raw body.
    pub fn verify(
        &self,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<(), Refusal> {
        let refuse = |why: &str| Err(Refusal::Signature(why.to_owned()));
        let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
            return refuse(
                "the request is not signed (no X-Twilio-Email-Event-Webhook-Signature or -Timestamp)",
            );
        };
        let Some(signature) = base64::engine::general_purpose::STANDARD
            .decode(signature.trim())
            .ok()
            .and_then(|der| Signature::from_der(&der).ok())
        else {
            return refuse("the signature is not a base64 DER ECDSA signature");
        };
        let signed = [timestamp.as_bytes(), body].concat();
        match self.0.verify(&signed, &signature) {
            Ok(()) => Ok(()),
            Err(_) => refuse("the signature does not match the configured SendGrid verification key"),
        }
    }
}

#[derive(Debug, Deserialize)]
struct Event {
    email: String,
    event: String,
    timestamp: Option<f64>,
    sg_event_id: Option<String>,
    sg_message_id: Option<String>,
    reason: Option<String>,
    status: Option<String>,
    /// For a bounce: "bounce" (permanent) or "blocked" (temporary).
    #[serde(rename = "type")]
    bounce_type: Option<String>,
    asm_group_id: Option<i64>,
}

pub fn read(body: &[u8], now: NaiveDateTime) -> Result<Vec<Entry>, Refusal> {
    super::one_or_many(body, |event| entry(event, now))
}

fn entry(event: Event, now: NaiveDateTime) -> Entry {
    let reason = event.reason.as_deref().unwrap_or_default();
    let kind = match event.event.as_str() {
        "bounce" if event.bounce_type.as_deref() == Some("blocked") => Kind::SoftBounce,
        "bounce" => Kind::HardBounce,
        "spamreport" => Kind::Complaint,
        "unsubscribe" | "group_unsubscribe" => Kind::Unsubscribe,
        // SendGrid did not send because the address is on one of its own lists: the
        // list it names is news to keep, whichever way it reached SendGrid.
        "dropped" if reason.contains("Bounced Address") || reason == "Invalid" => Kind::HardBounce,
        "dropped" if reason.contains("Spam Reporting Address") => Kind::Complaint,
        "dropped" if reason.contains("Unsubscribed Address") => Kind::Unsubscribe,
        // Deliveries, opens, clicks, deferrals, resubscribes, other drops.
        _ => return Entry::Ignored,
    };
    Entry::Notice(Notice {
        id: event.sg_event_id,
        group: (event.event == "group_unsubscribe")
            .then_some(event.asm_group_id)
            .flatten()
            .map(|g| g.to_string()),
        message_id: event.sg_message_id,
        detail: detail([Some(event.event.as_str()), event.status.as_deref(), event.reason.as_deref()]),
        ..Notice::new(kind, &event.email, event.timestamp.and_then(from_unix).unwrap_or(now))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SendGrid's own published example (its client libraries' test vector).
    #[test]
    fn verifies_sendgrids_published_example() {
        let key = SendgridKey::parse(
            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA==",
        )
        .unwrap();
        let signature = "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH2j/0=";
        let payload = br#"{"category":"example_payload","event":"test_event","message_id":"message_id"}"#;
        let with_crlf = [payload.as_slice(), b"\r\n"].concat();
        let verified = |body: &[u8]| key.verify(Some("1588788367"), Some(signature), body).is_ok();
        assert!(verified(payload) || verified(&with_crlf));
        assert!(!verified(br#"{"category":"example_payload","event":"test_event","message_id":"other"}"#));
    }
}
