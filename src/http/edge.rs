//! What every request meets before its route: a path and query that decode to text
//! without control characters, `HEAD` answered wherever `GET` is, and 405 answers as
//! problems that say, in `Allow`, which methods the resource has.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode, Uri};
use actix_web::middleware::Next;
use actix_web::ResponseError;

use crate::error::Error;

/// Refuses a path or query that does not percent-decode to UTF-8 (400) or that holds
/// a control character (422). actix would decode the first lossily, `%FF` becoming
/// U+FFFD, and pass both on to handlers: no address, topic key, id or token holds
/// either, so no route needs them, and none reaches the database.
fn check_uri(uri: &Uri) -> Result<(), Error> {
    let parts = [("path", Some(uri.path())), ("query", uri.query())];
    for (field, raw) in parts {
        let Some(raw) = raw else { continue };
        let decoded = percent_encoding::percent_decode_str(raw)
            .decode_utf8()
            .map_err(|_| Error::Malformed(format!("the {field} is not UTF-8 once percent-decoded")))?;
        if let Some(c) = decoded.chars().find(|c| c.is_control()) {
            return Err(Error::invalid(
                field,
                format!("must not hold a control character (U+{:04X})", c as u32),
            ));
        }
    }
    Ok(())
}

/// The methods of a 405, from actix's `Allow`, with `HEAD` wherever `GET` is.
fn allowed(allow: Option<&HeaderValue>) -> Option<HeaderValue> {
    let listed = allow?.to_str().ok()?;
    let mut methods: Vec<&str> = listed.split(',').map(str::trim).filter(|m| !m.is_empty()).collect();
    if methods.contains(&"GET") && !methods.contains(&"HEAD") {
        methods.push("HEAD");
    }
    HeaderValue::from_str(&methods.join(", ")).ok()
}

pub async fn edge(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if let Err(e) = check_uri(req.uri()) {
        return Ok(req.into_response(e.error_response()).map_into_right_body());
    }
    let method = req.method().clone();
    // HEAD is GET without the body (RFC 9110 §9.3.2): the route's GET answers it, and
    // the HTTP layer, which saw a HEAD, leaves the body out.
    if method == Method::HEAD {
        req.head_mut().method = Method::GET;
    }
    let res = next.call(req).await?;
    if res.status() != StatusCode::METHOD_NOT_ALLOWED {
        return Ok(res.map_into_left_body());
    }
    // actix's own 405 lists the resource's methods in `Allow` and has no body.
    let allow = allowed(res.headers().get(header::ALLOW));
    let (req, _) = res.into_parts();
    let mut problem = Error::MethodNotAllowed(format!("{method} is not allowed here")).error_response();
    if let Some(allow) = allow {
        problem.headers_mut().insert(header::ALLOW, allow);
    }
    Ok(ServiceResponse::new(req, problem).map_into_right_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(uri: &str) -> Result<(), Error> {
        check_uri(&uri.parse().unwrap())
    }

    #[test]
    fn paths_and_queries_must_decode_to_text_without_controls() {
        assert!(check("/v1/contacts/j%C3%B6rg%40example.com?limit=10&after=abc").is_ok());
        assert!(matches!(check("/v1/contacts/%FF%FE%40example.com"), Err(Error::Malformed(_))));
        assert!(matches!(check("/v1/topics/x?after=%C3"), Err(Error::Malformed(_))));
        assert!(
            matches!(check("/v1/topics/%00"), Err(Error::Invalid { errors, .. }) if errors[0].field == "path")
        );
        assert!(matches!(check("/v1/topics/a%0Ab"), Err(Error::Invalid { .. })));
        assert!(matches!(check("/v1/topics/a%C2%85"), Err(Error::Invalid { .. })), "C1 controls too");
        assert!(
            matches!(check("/v1/changes?after=%7F"), Err(Error::Invalid { errors, .. }) if errors[0].field == "query")
        );
    }

    #[test]
    fn allow_lists_head_with_get() {
        let allow = |v: &str| allowed(Some(&HeaderValue::from_str(v).unwrap())).unwrap();
        assert_eq!(allow("GET"), "GET, HEAD");
        assert_eq!(allow("GET, HEAD, POST"), "GET, HEAD, POST");
        assert_eq!(allow("PUT, DELETE"), "PUT, DELETE");
    }
}
