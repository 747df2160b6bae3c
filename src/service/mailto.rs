//! Unsubscribing by mail: a message to `u-TOKEN@DOMAIN` (the `mailto:` URI of
//! `List-Unsubscribe`) unsubscribes exactly as the link's one-click does, with source
//! `mailto`. Nothing in the message — subject, body, sender — is needed or trusted:
//! the address's token is the credential, as the URL's is. Used by prefcenter's SMTP
//! receiver and by the providers' inbound routes.

use crate::domain::mail_token;
use crate::domain::token::{Audience, Link, Recipient, TokenError};
use crate::domain::Source;
use crate::error::{ConflictCode, Error};
use crate::service::contacts::Evidence;
use crate::service::{recipients, Context};

/// Why a recipient address unsubscribes no one.
#[derive(Debug)]
pub enum Refusal {
    /// Not an address at the unsubscribe domain: nothing of prefcenter's (a receiver
    /// never relays it).
    Elsewhere,
    /// At the domain, but not a valid and current token, or what it names is gone.
    Invalid(String),
    /// The service cannot tell now (the index or the database): try again later.
    Fault(Error),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Elsewhere => f.write_str("not an unsubscribe address of this service"),
            Refusal::Invalid(why) => f.write_str(why),
            Refusal::Fault(_) => f.write_str("the service cannot check this address now"),
        }
    }
}

fn invalid(e: TokenError) -> Refusal {
    Refusal::Invalid(match e {
        TokenError::Expired => "this unsubscribe address has expired".into(),
        _ => "no such unsubscribe address".into(),
    })
}

/// The unsubscribe an address stands for, checked without the database: its domain,
/// then its token against the signing keys and the topics the index knows. Whatever
/// does not pass costs no database work.
pub fn verify(cx: &Context, address: &str) -> Result<Link, Refusal> {
    let domain = cx.config.unsubscribe_mail_domain.as_deref().ok_or(Refusal::Elsewhere)?;
    let (local, at) = address.rsplit_once('@').ok_or(Refusal::Elsewhere)?;
    if !at.trim_end_matches('.').eq_ignore_ascii_case(domain) {
        return Err(Refusal::Elsewhere);
    }
    cx.index.ensure_fresh().map_err(Refusal::Fault)?;
    let today = mail_token::day(chrono::Utc::now().timestamp());
    let link = cx.tokens.mail().verify(local, today, &cx.index.topic_keys()).map_err(invalid)?;
    Ok(Link {
        recipient: Recipient::Address(link.hash),
        audience: Audience::Unsubscribe,
        topic: link.topic,
        // A mail token carries no message id, and no time of issue: only its last day.
        message_id: None,
        issued_at: 0,
        expires_at: (i64::from(link.last_day) + 1) * 86_400,
    })
}

/// [`verify`], then a read of what the link names, as the landing page makes: a topic
/// gone since (deleted or archived) refuses the address too.
pub async fn check(cx: &Context, address: &str) -> Result<Link, Refusal> {
    let link = verify(cx, address)?;
    match recipients::landing(cx, link.clone(), Vec::new()).await {
        Ok(_) => Ok(link),
        Err(Error::NotFound(why)) => Err(Refusal::Invalid(why)),
        Err(e) => Err(Refusal::Fault(e)),
    }
}

/// Unsubscribes as the link's one-click does (source `mailto`), answering once the
/// change is committed. An unsubscribe that has nothing left to stop — an address
/// erased on request, a topic deleted since — is done as well: only a fault of the
/// service's is an error, so that the sender's server tries again.
pub async fn unsubscribe(cx: &Context, link: Link, evidence: Evidence) -> Result<(), Error> {
    match recipients::unsubscribe(cx, link, evidence, Source::Mailto, Vec::new()).await {
        Ok(_) | Err(Error::NotFound(_)) | Err(Error::Conflict { code: ConflictCode::Erased, .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// What a provider's inbound delivery did.
#[derive(Debug, Default, serde::Serialize, utoipa::ToSchema)]
pub struct InboundReport {
    /// Recipient addresses the delivery names.
    pub received: u64,
    /// Unsubscribes made (or already in effect, or with nothing left to stop).
    pub applied: u64,
    /// Addresses that are not at the unsubscribe domain.
    pub ignored: u64,
    /// Addresses at the domain that are not a valid, current unsubscribe address.
    pub failed: u64,
    pub errors: Vec<RecipientError>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RecipientError {
    pub recipient: String,
    pub error: String,
}

/// Applies what a provider received: each recipient at the unsubscribe domain with a
/// valid token unsubscribes. A fault of the service's fails the delivery (5xx), so
/// that the provider delivers it again; what was applied before it is applied again
/// then, which changes nothing.
pub async fn inbound(cx: &Context, addresses: Vec<String>) -> Result<InboundReport, Error> {
    let mut report = InboundReport { received: addresses.len() as u64, ..InboundReport::default() };
    for address in addresses {
        match check(cx, &address).await {
            Ok(link) => {
                unsubscribe(cx, link, Evidence::default()).await?;
                report.applied += 1;
            }
            Err(Refusal::Elsewhere) => report.ignored += 1,
            Err(Refusal::Invalid(error)) => {
                report.failed += 1;
                report.errors.push(RecipientError { recipient: address, error });
            }
            Err(Refusal::Fault(e)) => return Err(e),
        }
    }
    Ok(report)
}
