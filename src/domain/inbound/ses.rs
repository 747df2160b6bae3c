//! Amazon SES receiving: a receipt rule whose SNS action publishes each message it
//! receives, `{"notificationType": "Received", "receipt": {"recipients": […]}, "mail":
//! {…}, "content": "…"}`, in an SNS envelope signed as SES's feedback is (see
//! `feedback::ses`). `receipt.recipients` are the envelope's RCPT TO addresses that
//! matched the rule; `content` (the message itself) is never read.

use serde::Deserialize;

use super::Refusal;
use crate::domain::feedback::ses::{open, Sns, SnsCertificates};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Message {
    notification_type: Option<String>,
    receipt: Option<Receipt>,
}

#[derive(Deserialize)]
struct Receipt {
    recipients: Vec<String>,
}

/// Reads an SNS delivery; a notification's message yields its recipients (none for
/// anything but a received message, such as SES's set-up notification).
pub fn read(body: &[u8], certificates: Option<&SnsCertificates>) -> Result<Sns<Vec<String>>, Refusal> {
    open(body, certificates, |message, _| {
        let message: Message = crate::domain::feedback::parse(message)?;
        match (message.notification_type.as_deref(), message.receipt) {
            (Some("Received"), Some(receipt)) => {
                super::recipients(receipt.recipients.iter().map(String::as_str))
            }
            (Some("Received"), None) => {
                Err(Refusal::Malformed("receipt: missing in a Received notification".into()))
            }
            _ => Ok(Vec::new()),
        }
    })
}
