//! API-key authentication. A middleware on `/v1` verifies the bearer secret before any
//! extractor reads the body (so an unauthenticated request is a 401 whatever its body
//! says); each handler then names the scope it needs with a [`Caller`] argument.

use std::borrow::Cow;
use std::future::{ready, Ready};
use std::marker::PhantomData;

use base64::Engine;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};

use crate::domain::KeyScope;
use crate::error::Error;
use crate::service::api_keys::{self, Caller as Authenticated};
use crate::service::Context;

/// The bearer credential of a request, if it has one.
pub fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credential) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| credential.trim()).filter(|c| !c.is_empty())
}

/// The API key of a request: a bearer credential, or the password of basic
/// credentials (the user name is free) for providers whose webhooks can only carry
/// credentials in their URL.
fn api_key(req: &HttpRequest) -> Option<Cow<'_, str>> {
    if let Some(secret) = bearer(req) {
        return Some(Cow::Borrowed(secret));
    }
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let (_, password) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    (!password.is_empty()).then(|| Cow::Owned(password.to_owned()))
}

pub async fn require_api_key(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let result = match (api_key(req.request()), req.app_data::<web::Data<Context>>()) {
        (Some(secret), Some(cx)) => {
            api_keys::authenticate(cx, &secret, || super::client::network(req.request(), cx)).await
        }
        (None, _) => Err(Error::Unauthorized),
        (Some(_), None) => Err(Error::bug("application state is missing")),
    };
    match result {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            next.call(req).await.map(ServiceResponse::map_into_left_body)
        }
        Err(e) => Ok(req.error_response(e).map_into_right_body()),
    }
}

/// A scope a route requires.
pub trait Scope {
    const SCOPE: KeyScope;
}

macro_rules! scopes {
    ($($name:ident => $scope:ident),+) => {$(
        pub struct $name;
        impl Scope for $name {
            const SCOPE: KeyScope = KeyScope::$scope;
        }
    )+};
}
scopes!(Check => Check, Suppressions => Suppressions, Contacts => Contacts, Admin => Admin);

/// The verified caller, holding scope `S` (403 otherwise).
pub struct Caller<S: Scope>(pub Authenticated, PhantomData<S>);

impl<S: Scope> FromRequest for Caller<S> {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let caller = req.extensions().get::<Authenticated>().cloned();
        ready(match caller {
            None => Err(Error::Unauthorized),
            Some(c) if c.scopes.allows(S::SCOPE) => Ok(Caller(c, PhantomData)),
            Some(_) => Err(Error::Forbidden(S::SCOPE.as_str())),
        })
    }
}
