//! Amazon SES notifications, delivered by SNS to an HTTP/S subscription.
//!
//! SNS wraps each SES message in an envelope it signs (RSA with SHA-1 for
//! `SignatureVersion` 1, SHA-256 for 2) with a certificate published at
//! `SigningCertURL`. This service reaches no network, so the operator downloads that
//! certificate and configures it; each envelope is then checked against it, and an
//! unsigned or mis-signed one refused. A new subscription starts with a
//! `SubscriptionConfirmation` whose `SubscribeURL` the operator must visit.

use base64::Engine;
use chrono::NaiveDateTime;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use rsa::RsaPublicKey;
use serde::Deserialize;
use x509_cert::der::{Decode, Encode};
use x509_cert::Certificate;

use super::{detail, from_rfc3339, Entry, Kind, Notice, Refusal};

/// SNS's signing certificates, configured locally: SNS rotates them, so several may be
/// trusted at once.
#[derive(Clone)]
pub struct SnsCertificates(Vec<RsaPublicKey>);

impl SnsCertificates {
    /// Reads one or more PEM certificates.
    pub fn from_pem(pem: &[u8]) -> Result<Self, String> {
        let certificates =
            Certificate::load_pem_chain(pem).map_err(|e| format!("not PEM certificates: {e}"))?;
        if certificates.is_empty() {
            return Err("no certificate found".into());
        }
        let keys = certificates
            .iter()
            .map(|c| {
                let spki = c.tbs_certificate.subject_public_key_info.to_der().map_err(|e| e.to_string())?;
                RsaPublicKey::from_public_key_der(&spki).map_err(|e| format!("not an RSA certificate: {e}"))
            })
            .collect::<Result<_, String>>()?;
        Ok(Self(keys))
    }

    /// Reads one DER certificate (what tests build).
    pub fn from_der(der: &[u8]) -> Result<Self, String> {
        let certificate = Certificate::from_der(der).map_err(|e| e.to_string())?;
        let spki = certificate.tbs_certificate.subject_public_key_info.to_der().map_err(|e| e.to_string())?;
        Ok(Self(vec![RsaPublicKey::from_public_key_der(&spki).map_err(|e| e.to_string())?]))
    }

    fn verify(&self, envelope: &Envelope) -> Result<(), Refusal> {
        let refuse = |why: &str| Err(Refusal::Signature(why.to_owned()));
        let Some(signature) = &envelope.signature else { return refuse("the message is not signed") };
        let Ok(signature) = base64::engine::general_purpose::STANDARD.decode(signature) else {
            return refuse("the signature is not base64");
        };
        let Ok(signature) = Signature::try_from(signature.as_slice()) else {
            return refuse("the signature is not an RSA signature");
        };
        let text = envelope.string_to_sign();
        let verified = |key: &RsaPublicKey| match envelope.signature_version.as_deref() {
            Some("1") => {
                VerifyingKey::<sha1::Sha1>::new(key.clone()).verify(text.as_bytes(), &signature).is_ok()
            }
            Some("2") => {
                VerifyingKey::<sha2::Sha256>::new(key.clone()).verify(text.as_bytes(), &signature).is_ok()
            }
            _ => false,
        };
        match envelope.signature_version.as_deref() {
            Some("1" | "2") if self.0.iter().any(verified) => Ok(()),
            Some("1" | "2") => refuse("the signature does not match the configured SNS certificate"),
            _ => refuse("unknown SignatureVersion"),
        }
    }
}

/// The SNS envelope. Field names are SNS's.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Envelope {
    #[serde(rename = "Type")]
    kind: String,
    message_id: String,
    // Stored as they come (pending confirmations): no controls.
    #[serde(deserialize_with = "crate::domain::text::identifier")]
    topic_arn: String,
    message: String,
    timestamp: String,
    subject: Option<String>,
    token: Option<String>,
    #[serde(rename = "SubscribeURL", default, deserialize_with = "crate::domain::text::optional_identifier")]
    subscribe_url: Option<String>,
    signature_version: Option<String>,
    signature: Option<String>,
}

impl Envelope {
    /// The text SNS signs: chosen fields as "Name\nvalue\n", in byte order of names.
    fn string_to_sign(&self) -> String {
        let mut fields = vec![("Message", Some(&self.message)), ("MessageId", Some(&self.message_id))];
        if self.kind == "Notification" {
            fields.push(("Subject", self.subject.as_ref()));
        } else {
            fields.push(("SubscribeURL", self.subscribe_url.as_ref()));
        }
        fields.push(("Timestamp", Some(&self.timestamp)));
        if self.kind != "Notification" {
            fields.push(("Token", self.token.as_ref()));
        }
        fields.push(("TopicArn", Some(&self.topic_arn)));
        fields.push(("Type", Some(&self.kind)));
        fields.into_iter().filter_map(|(name, value)| value.map(|v| format!("{name}\n{v}\n"))).collect()
    }
}

/// What one SNS delivery holds.
#[derive(Debug, PartialEq)]
pub enum Delivery {
    /// SNS asks to confirm the subscription: someone must visit `subscribe_url`.
    Confirmation { topic_arn: String, subscribe_url: String },
    /// The subscription was removed; nothing to do.
    Unsubscribed { topic_arn: String },
    /// A notification from `topic_arn` (`None` for raw message delivery, which has no
    /// envelope).
    Notification { topic_arn: Option<String>, entries: Vec<Entry> },
}

/// Reads an SNS delivery, checking its signature when `certificates` are configured.
pub fn read(
    body: &[u8],
    certificates: Option<&SnsCertificates>,
    now: NaiveDateTime,
) -> Result<Delivery, Refusal> {
    Ok(match open(body, certificates, |message, id| notification(message, id, now))? {
        Sns::Confirmation { topic_arn, subscribe_url } => Delivery::Confirmation { topic_arn, subscribe_url },
        Sns::Unsubscribed { topic_arn } => Delivery::Unsubscribed { topic_arn },
        Sns::Notification { topic_arn, message } => Delivery::Notification { topic_arn, entries: message },
    })
}

/// An SNS delivery, whatever its notifications carry: [`Delivery`] for SES's
/// feedback, the messages SES receives for inbound mail.
#[derive(Debug, PartialEq)]
pub enum Sns<T> {
    Confirmation {
        topic_arn: String,
        subscribe_url: String,
    },
    Unsubscribed {
        topic_arn: String,
    },
    /// A notification from `topic_arn` (`None` for raw message delivery), its message
    /// read by the caller.
    Notification {
        topic_arn: Option<String>,
        message: T,
    },
}

/// Opens an SNS delivery, checking its signature when `certificates` are configured,
/// and reads a notification's message with `message` (given the message and SNS's id
/// for it).
pub fn open<T>(
    body: &[u8],
    certificates: Option<&SnsCertificates>,
    message: impl FnOnce(&[u8], Option<&str>) -> Result<T, Refusal>,
) -> Result<Sns<T>, Refusal> {
    let value: serde_json::Value = super::parse(body)?;
    if value.get("Type").is_none()
        && (value.get("notificationType").is_some() || value.get("eventType").is_some())
    {
        // Raw message delivery: the SES message itself, which nobody signed.
        if certificates.is_some() {
            return Err(Refusal::Signature(
                "raw message delivery carries no signature; turn it off, or the SNS certificate setting"
                    .into(),
            ));
        }
        return Ok(Sns::Notification { topic_arn: None, message: message(body, None)? });
    }
    let envelope: Envelope = super::parse(body)?;
    if let Some(certificates) = certificates {
        certificates.verify(&envelope)?;
    }
    match envelope.kind.as_str() {
        "SubscriptionConfirmation" => Ok(Sns::Confirmation {
            subscribe_url: envelope
                .subscribe_url
                .ok_or_else(|| Refusal::malformed("SubscribeURL: missing in a SubscriptionConfirmation"))?,
            topic_arn: envelope.topic_arn,
        }),
        "UnsubscribeConfirmation" => Ok(Sns::Unsubscribed { topic_arn: envelope.topic_arn }),
        "Notification" => Ok(Sns::Notification {
            message: message(envelope.message.as_bytes(), Some(&envelope.message_id))
                .map_err(|e| Refusal::Malformed(format!("Message: {e}")))?,
            topic_arn: Some(envelope.topic_arn),
        }),
        other => Err(Refusal::Malformed(format!("Type: unknown SNS message type {other:?}"))),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Message {
    notification_type: Option<String>,
    event_type: Option<String>,
    bounce: Option<Bounce>,
    complaint: Option<Complaint>,
    mail: Option<Mail>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bounce {
    bounce_type: String,
    bounce_sub_type: Option<String>,
    bounced_recipients: Vec<Recipient>,
    timestamp: Option<String>,
    feedback_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Complaint {
    complained_recipients: Vec<Recipient>,
    timestamp: Option<String>,
    feedback_id: Option<String>,
    complaint_feedback_type: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Recipient {
    email_address: String,
    diagnostic_code: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Mail {
    message_id: Option<String>,
}

/// One SES message (a bounce, a complaint, or something that changes nothing here):
/// an entry per recipient.
fn notification(message: &[u8], sns_id: Option<&str>, now: NaiveDateTime) -> Result<Vec<Entry>, Refusal> {
    let message: Message = super::parse(message)?;
    let kind = message.notification_type.as_deref().or(message.event_type.as_deref()).unwrap_or_default();
    let message_id = message.mail.and_then(|m| m.message_id);
    // The same feedback may reach several topics or be redelivered: its id, with the
    // recipient, is the key of idempotence.
    let id = |feedback: &Option<String>, email: &str| {
        feedback.as_deref().or(sns_id).map(|f| format!("{f}/{email}"))
    };
    let at = |timestamp: &Option<String>| timestamp.as_deref().and_then(from_rfc3339).unwrap_or(now);
    match (kind, message.bounce, message.complaint) {
        ("Bounce", Some(bounce), _) => {
            let kind = match bounce.bounce_type.as_str() {
                "Permanent" => Kind::HardBounce,
                // "Transient", and "Undetermined": counted, never suppressed at once.
                _ => Kind::SoftBounce,
            };
            Ok(bounce
                .bounced_recipients
                .iter()
                .map(|r| {
                    Entry::Notice(Notice {
                        id: id(&bounce.feedback_id, &r.email_address),
                        message_id: message_id.clone(),
                        detail: detail([
                            Some(bounce.bounce_type.as_str()),
                            bounce.bounce_sub_type.as_deref(),
                            r.diagnostic_code.as_deref(),
                        ]),
                        ..Notice::new(kind, &r.email_address, at(&bounce.timestamp))
                    })
                })
                .collect())
        }
        ("Complaint", _, Some(complaint)) => Ok(complaint
            .complained_recipients
            .iter()
            .map(|r| {
                // A recipient who marked the mail as not spam complained of nothing.
                if complaint.complaint_feedback_type.as_deref() == Some("not-spam") {
                    return Entry::Ignored;
                }
                Entry::Notice(Notice {
                    id: id(&complaint.feedback_id, &r.email_address),
                    message_id: message_id.clone(),
                    detail: detail([Some("complaint"), complaint.complaint_feedback_type.as_deref()]),
                    ..Notice::new(Kind::Complaint, &r.email_address, at(&complaint.timestamp))
                })
            })
            .collect()),
        ("Bounce", None, _) => Err(Refusal::malformed("bounce: missing in a Bounce notification")),
        ("Complaint", _, None) => Err(Refusal::malformed("complaint: missing in a Complaint notification")),
        // Deliveries, sends, opens, SES's subscription test message…
        _ => Ok(vec![Entry::Ignored]),
    }
}
