//! Mailgun's routes: a `forward("https://…")` action posts the message as a form
//! (`application/x-www-form-urlencoded`, or `multipart/form-data` with attachments;
//! the whole message as `body-mime` when the URL ends in `mime`), with `recipient`
//! (the SMTP envelope's RCPT TO) and the signature fields `timestamp`, `token` and
//! `signature`, checked as the webhooks' are when a signing key is configured.

use super::{form, Refusal};
use crate::domain::feedback::mailgun::MailgunKey;

pub fn read(
    content_type: Option<&str>,
    body: &[u8],
    key: Option<&MailgunKey>,
) -> Result<Vec<String>, Refusal> {
    let fields = form::read(content_type, body)?;
    if let Some(key) = key {
        match (fields.get("timestamp"), fields.get("token"), fields.get("signature")) {
            (Some(timestamp), Some(token), Some(signature)) => {
                key.verify_fields(timestamp, token, signature)?
            }
            _ => {
                return Err(Refusal::Signature(
                    "the message is not signed (no timestamp, token and signature)".into(),
                ))
            }
        }
    }
    let recipient = fields.get("recipient").ok_or_else(|| Refusal::Malformed("recipient: missing".into()))?;
    // One address, or several separated by commas when one message went to many.
    super::recipients(recipient.split(','))
}
