//! SendGrid's Inbound Parse webhook: `multipart/form-data` with the message's parts
//! (`to`, `from`, `subject`, `text`, `html`, attachments…, or the whole message as
//! `email` in raw mode) and `envelope`, a JSON string `{"to": […], "from": "…"}` of the
//! SMTP envelope, whose `to` is read. SendGrid signs nothing here: prefcenter's API key
//! in the URL's credentials authenticates it.

use serde::Deserialize;

use super::{form, Refusal};

#[derive(Deserialize)]
struct Envelope {
    to: Vec<String>,
}

pub fn read(content_type: Option<&str>, body: &[u8]) -> Result<Vec<String>, Refusal> {
    let fields = form::read(content_type, body)?;
    let envelope = fields.get("envelope").ok_or_else(|| Refusal::Malformed("envelope: missing".into()))?;
    let envelope: Envelope = crate::domain::feedback::parse(envelope.as_bytes())
        .map_err(|e| Refusal::Malformed(format!("envelope: {e}")))?;
    super::recipients(envelope.to.iter().map(String::as_str))
}
