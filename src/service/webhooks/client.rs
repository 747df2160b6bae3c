//! The HTTP client deliveries go out through, and one attempt with it. One client
//! for every webhook, so connections to a receiver are reused. It follows no redirect
//! (a 3xx is a failure: the operator should fix the URL), uses no proxy from the
//! environment (a proxy would resolve names where the guard below cannot see), and —
//! unless private receivers are allowed — resolves names itself and refuses any that
//! resolves to a non-public address, so a DNS name cannot point a delivery inward.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::config::WebhookSettings;
use crate::domain::webhook::is_forbidden;

/// The most of a receiver's answer that is read (and thrown away) so that its
/// connection can be reused; a longer answer closes the connection.
const ANSWER_READ: usize = 64 * 1024;

pub fn build(settings: &WebhookSettings) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("prefcenter-webhooks/", env!("CARGO_PKG_VERSION")));
    if !settings.allow_private {
        builder = builder.dns_resolver(std::sync::Arc::new(PublicOnly));
    }
    builder.build()
}

/// A name that resolves to an address a delivery must not reach.
#[derive(Debug, thiserror::Error)]
#[error("refused: {host} resolves to {ip}, which is not a public address")]
struct Refused {
    host: String,
    ip: std::net::IpAddr,
}

/// Resolves through the system, as the default resolver does, and refuses a name if
/// any of its addresses is not public (a name with one inward address is a rebinding
/// attempt more often than a mistake).
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(inward) = addresses.iter().find(|a| is_forbidden(a.ip())) {
                return Err(
                    Box::new(Refused { host, ip: inward.ip() }) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// What one attempt came to.
#[derive(Debug)]
pub struct Attempt {
    /// The receiver's status code, when it answered.
    pub status: Option<u16>,
    pub latency: Duration,
    /// Why it failed, in the operator's words; `None` for a 2xx.
    pub error: Option<String>,
    /// The receiver's `Retry-After`, in seconds.
    pub retry_after: Option<Duration>,
}

impl Attempt {
    pub fn delivered(&self) -> bool {
        self.error.is_none()
    }

    fn failed(started: Instant, error: String) -> Self {
        Self { status: None, latency: started.elapsed(), error: Some(error), retry_after: None }
    }
}

/// The headers of a Standard Webhooks delivery.
pub struct Signed<'a> {
    pub id: &'a str,
    pub timestamp: i64,
    pub signature: &'a str,
}

/// POSTs `body` to `url`. A URL that names a non-public address itself is refused
/// here (the resolver never sees an address literal).
pub async fn post(
    client: &reqwest::Client,
    settings: &WebhookSettings,
    url: &url::Url,
    signed: Signed<'_>,
    body: Vec<u8>,
) -> Attempt {
    let started = Instant::now();
    let literal = match url.host() {
        Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
        _ => None,
    };
    if let Some(ip) = literal.filter(|ip| !settings.allow_private && is_forbidden(*ip)) {
        return Attempt::failed(started, format!("refused: {ip} is not a public address"));
    }
    let request = client
        .post(url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("webhook-id", signed.id)
        .header("webhook-timestamp", signed.timestamp.to_string())
        .header("webhook-signature", signed.signature)
        .body(body);
    let mut response = match request.send().await {
        Ok(response) => response,
        Err(e) => return Attempt::failed(started, describe(&e, settings.timeout)),
    };
    let latency = started.elapsed();
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let mut read = 0;
    while let Ok(Some(chunk)) = response.chunk().await {
        read += chunk.len();
        if read > ANSWER_READ {
            break;
        }
    }
    let error = (!status.is_success()).then(|| match status.canonical_reason() {
        Some(reason) => format!("the receiver answered {} {reason}", status.as_u16()),
        None => format!("the receiver answered {}", status.as_u16()),
    });
    Attempt { status: Some(status.as_u16()), latency, error, retry_after }
}

/// An error as the delivery log says it: never the URL (it may hold a token), at most
/// 300 characters.
fn describe(error: &reqwest::Error, timeout: Duration) -> String {
    // The error's own text names the URL; its causes do not.
    let mut source = std::error::Error::source(error);
    let mut innermost = "no cause given".to_owned();
    while let Some(e) = source {
        if let Some(refused) = e.downcast_ref::<Refused>() {
            return refused.to_string();
        }
        innermost = e.to_string();
        source = e.source();
    }
    let text = if error.is_timeout() {
        format!("no answer within {} ms", timeout.as_millis())
    } else if error.is_connect() {
        format!("could not connect: {innermost}")
    } else {
        format!("the request failed: {innermost}")
    };
    text.chars().take(300).collect()
}
