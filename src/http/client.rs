//! Who is at the other end of a recipient's request, as much as the ledger may know:
//! a pseudonym of the client's network, the family of its user agent, and the
//! languages it asks for. The raw address goes no further than this extractor.

use std::future::{ready, Ready};
use std::net::IpAddr;

use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};

use crate::domain::pseudonym::user_agent_family;
use crate::error::Error;
use crate::service::Context;

#[derive(Debug, Clone)]
pub struct Client {
    /// The pseudonymized client network (see `domain::pseudonym`).
    pub pseudonym: Option<String>,
    pub user_agent: &'static str,
    /// `Accept-Language` tags, most wanted first.
    pub languages: Vec<String>,
}

/// The client's address: the socket's peer, or — when that peer is a trusted proxy —
/// the right-most address in `X-Forwarded-For` that is not itself a trusted proxy.
fn client_ip(req: &HttpRequest, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    forwarded
        .split(',')
        .rev()
        .filter_map(|part| part.trim().parse::<IpAddr>().ok())
        .find(|ip| !trusted.contains(ip))
        .or(Some(peer))
}

/// The pseudonym of the client's network (its /24 or /48), what per-network limits
/// count against; empty when the peer is unknown.
pub fn network(req: &HttpRequest, cx: &Context) -> String {
    client_ip(req, &cx.config.trusted_proxies).map(|ip| cx.pseudonymizer.client(ip)).unwrap_or_default()
}

/// The client's network as login limits count it: its /24 (IPv4) or /64 (IPv6), in
/// clear (the back-off keeps only a keyed hash of it). Empty when the peer is unknown.
pub fn login_network(req: &HttpRequest, cx: &Context) -> String {
    match client_ip(req, &cx.config.trusted_proxies) {
        Some(IpAddr::V4(ip)) => {
            let [a, b, c, _] = ip.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        Some(IpAddr::V6(ip)) => {
            let s = ip.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        None => String::new(),
    }
}

fn languages(req: &HttpRequest) -> Vec<String> {
    let Some(value) = req.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()) else {
        return Vec::new();
    };
    let mut tags: Vec<(f32, String)> = value
        .split(',')
        .filter_map(|part| {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next()?.trim().to_ascii_lowercase();
            let q = pieces.find_map(|p| p.trim().strip_prefix("q=")?.parse::<f32>().ok()).unwrap_or(1.0);
            (!tag.is_empty() && q > 0.0).then_some((q, tag))
        })
        .collect();
    tags.sort_by(|a, b| b.0.total_cmp(&a.0));
    tags.into_iter().map(|(_, tag)| tag).collect()
}

impl Client {
    /// What the ledger records of this client with a change it makes.
    pub fn evidence(&self) -> crate::service::contacts::Evidence {
        crate::service::contacts::Evidence {
            client: self.pseudonym.clone(),
            user_agent: Some(self.user_agent),
        }
    }
}

impl FromRequest for Client {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let Some(cx) = req.app_data::<web::Data<Context>>() else {
            return ready(Err(Error::bug("application state is missing")));
        };
        let pseudonym = client_ip(req, &cx.config.trusted_proxies).map(|ip| cx.pseudonymizer.client(ip));
        let user_agent = user_agent_family(
            req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or(""),
        );
        ready(Ok(Client { pseudonym, user_agent, languages: languages(req) }))
    }
}
