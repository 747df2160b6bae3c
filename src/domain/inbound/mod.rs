//! Providers' inbound routing, for senders whose unsubscribe domain's MX is their
//! mail provider: what each posts for a message it received, read down to the one
//! thing prefcenter needs, the envelope recipients. Pure: reading and verifying
//! only; `service::mailto` decides what each address means. Nothing else of the
//! message (sender, subject, body, attachments) is kept, or needed.

pub mod form;
pub mod mailgun;
pub mod postmark;
pub mod sendgrid;
pub mod ses;

pub use super::feedback::Refusal;

/// The most recipients one delivery may name (RFC 5321's minimum a server must take
/// for one message is 100).
pub const MAX_RECIPIENTS: usize = 1000;

/// Addresses as read, trimmed, without duplicates (case aside), in order; a delivery
/// naming more than [`MAX_RECIPIENTS`] is refused.
fn recipients<'a>(addresses: impl IntoIterator<Item = &'a str>) -> Result<Vec<String>, Refusal> {
    let mut seen: Vec<String> = Vec::new();
    for address in addresses {
        let address = address.trim().trim_start_matches('<').trim_end_matches('>').trim();
        if address.is_empty() || seen.iter().any(|s| s.eq_ignore_ascii_case(address)) {
            continue;
        }
        if seen.len() == MAX_RECIPIENTS {
            return Err(Refusal::Malformed(format!("at most {MAX_RECIPIENTS} recipients a delivery")));
        }
        seen.push(address.to_owned());
    }
    Ok(seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_are_trimmed_and_counted_once() {
        let read = recipients([" <a@x.example> ", "A@X.example", "", "b@x.example"]).unwrap();
        assert_eq!(read, ["a@x.example", "b@x.example"]);
        let many: Vec<String> = (0..=MAX_RECIPIENTS).map(|i| format!("{i}@x.example")).collect();
        assert!(recipients(many.iter().map(String::as_str)).is_err());
    }
}
