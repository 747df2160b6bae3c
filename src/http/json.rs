//! The JSON body extractor. It answers as API.md says: 415 for another content type,
//! 413 over the size limit, 400 for JSON that does not parse, and 422 naming the field
//! for a value of the wrong kind or an unknown field.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::Error;

/// The default body limit; routes that take bulk uploads set a larger [`BodyLimit`].
pub const DEFAULT_LIMIT: usize = 1024 * 1024;

/// A per-route body limit, as app data.
#[derive(Clone, Copy)]
pub struct BodyLimit(pub usize);

pub struct Json<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        // The usual header is compared as it is; any other is parsed (parameters,
        // case, `+json` types).
        let is_json = req.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
            v.as_bytes() == b"application/json"
                || v.to_str().ok().and_then(|v| v.parse::<mime::Mime>().ok()).is_some_and(|m| {
                    m.type_() == mime::APPLICATION
                        && (m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON))
                })
        });
        let body = Body::from_request(req, payload);
        Box::pin(async move {
            if !is_json {
                return Err(Error::UnsupportedMediaType("the body must be application/json".into()));
            }
            Ok(Json(crate::domain::json::parse_object(&body.await?.0)?))
        })
    }
}

/// The raw body, whatever its content type, within the route's [`BodyLimit`]: for
/// providers' webhooks, whose signatures cover the exact bytes (and SNS, which calls
/// its JSON text/plain).
pub struct Body(pub web::Bytes);

impl FromRequest for Body {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req.app_data::<BodyLimit>().map_or(DEFAULT_LIMIT, |l| l.0);
        let declared_length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if declared_length.is_some_and(|n| n > limit) {
                return Err(Error::TooLarge(limit));
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk?;
                if body.len() + chunk.len() > limit {
                    return Err(Error::TooLarge(limit));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Body(body.freeze()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    /// What the extractor answers for a body, once it is JSON by its content type.
    fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
        Ok(crate::domain::json::parse_object(body)?)
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        count: u32,
        #[serde(default)]
        scope: Option<crate::domain::Scope>,
    }

    fn field_of(e: Error) -> String {
        match e {
            Error::Invalid { errors, .. } => errors[0].field.clone(),
            other => panic!("expected 422, got {other:?}"),
        }
    }

    #[test]
    fn classifies_errors() {
        assert!(matches!(parse::<Body>(b"{"), Err(Error::Malformed(_))));
        assert!(matches!(parse::<Body>(b"{\"name\":\"a\"} x"), Err(Error::Malformed(_))));
        assert_eq!(field_of(parse::<Body>(b"{\"name\": 3}").unwrap_err()), "name");
        assert_eq!(
            field_of(parse::<Body>(b"{\"name\":\"a\",\"inner\":{\"count\":-1}}").unwrap_err()),
            "inner.count"
        );
        assert_eq!(field_of(parse::<Body>(b"{\"name\":\"a\",\"extra\":1}").unwrap_err()), "extra");
        assert!(parse::<Body>(b"{\"name\":\"a\"}").is_ok());
        // An enum given a value of another JSON type: serde_json calls it a syntax error.
        for scope in ["7", "true", "[]", "null"] {
            let body = format!("{{\"name\":\"a\",\"inner\":{{\"count\":1,\"scope\":{scope}}}}}");
            let result = parse::<Body>(body.as_bytes());
            if scope == "null" {
                assert!(result.is_ok());
            } else {
                assert_eq!(field_of(result.unwrap_err()), "inner.scope", "{body}");
            }
        }
        assert!(matches!(parse::<Body>(b"{\"name\":\"a\",\"inner\":{\"scope\":7"), Err(Error::Malformed(_))));
    }
}
