//! Postmark's inbound webhook: one JSON object per message, with `OriginalRecipient`
//! (the address it was delivered to) and the parsed `ToFull`, `CcFull` and `BccFull`
//! (`[{"Email", "Name", "MailboxHash"}]`), all read. Postmark signs nothing:
//! prefcenter's API key in the URL's credentials authenticates it.

use serde::Deserialize;

use super::Refusal;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Inbound {
    original_recipient: Option<String>,
    #[serde(default)]
    to_full: Vec<Address>,
    #[serde(default)]
    cc_full: Vec<Address>,
    #[serde(default)]
    bcc_full: Vec<Address>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Address {
    email: String,
}

pub fn read(body: &[u8]) -> Result<Vec<String>, Refusal> {
    let inbound: Inbound = crate::domain::feedback::parse(body)?;
    let listed =
        inbound.to_full.iter().chain(&inbound.cc_full).chain(&inbound.bcc_full).map(|a| a.email.as_str());
    let recipients = super::recipients(inbound.original_recipient.as_deref().into_iter().chain(listed))?;
    if recipients.is_empty() {
        return Err(Refusal::Malformed(
            "OriginalRecipient: missing, and no ToFull, CcFull or BccFull address".into(),
        ));
    }
    Ok(recipients)
}
