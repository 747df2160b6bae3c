//! The one error type, and its one mapping to HTTP: RFC 9457 problem+json with a
//! stable `type` per kind that clients can match on.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

/// One field that was wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The body is not well-formed (broken JSON, not UTF-8).
    #[error("{0}")]
    Malformed(String),
    #[error("a valid API key is required")]
    Unauthorized,
    #[error("this API key lacks the {0:?} scope")]
    Forbidden(&'static str),
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state, as a check of the service's found;
    /// `code` is the problem type.
    #[error("{detail}")]
    Conflict { code: ConflictCode, detail: String },
    #[error("the body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{detail}")]
    Invalid { detail: String, errors: Vec<FieldError> },
    /// The client took too long to send its request's body.
    #[error("the request body was not received in time")]
    RequestTimeout,
    #[error("too many requests; retry after {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error("{0}")]
    MethodNotAllowed(String),
    /// A provider's notification whose signature is missing or wrong, while its
    /// verification is configured.
    #[error("{0}")]
    BadSignature(String),
    /// A signed link that cannot be used.
    #[error("{0}")]
    Link(crate::domain::token::TokenError),
    /// A dependency (the database, its pool) cannot answer now; worth a retry.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A fault of ours. The cause and its chain are logged ([`Error::log`]), never sent.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// Why a request conflicts with what is stored: a closed set, each a stable problem
/// `type` (`/problems/<code>`) that clients match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConflictCode {
    /// The address was erased on request; storing it again needs proof of new consent.
    Erased,
    /// The recipient unsubscribed themselves; reversing that needs proof of new consent.
    ConsentRequired,
    /// Another contact has this `external_id`.
    ExternalIdTaken,
    /// Another contact has this address.
    EmailTaken,
    /// A topic with this key exists (perhaps archived).
    TopicExists,
    /// A uniqueness rule of the database that no check of the service's caught first.
    /// Its detail is generic: the database's words (table, constraint) stay in the log.
    Conflict,
}

impl ConflictCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictCode::Erased => "erased",
            ConflictCode::ConsentRequired => "consent_required",
            ConflictCode::ExternalIdTaken => "external_id_taken",
            ConflictCode::EmailTaken => "email_taken",
            ConflictCode::TopicExists => "topic_exists",
            ConflictCode::Conflict => "conflict",
        }
    }
}

impl Error {
    /// Whether this is a fault of the service (its database, a bug) rather than of the
    /// request. Such a fault fails a whole bulk request (an import, a provider's
    /// delivery) so that the sender retries; only faults of the request's own entries
    /// are reported per entry.
    pub fn is_server_fault(&self) -> bool {
        matches!(self, Error::Unavailable(_) | Error::Internal(_))
    }

    /// 422 for one wrong field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let error = FieldError::new(field, message);
        Self::Invalid { detail: format!("{}: {}", error.field, error.message), errors: vec![error] }
    }

    /// 500 for a fault caused by `source`; `context` says what was being done. The
    /// log shows both, `context: source: source's source…`.
    pub fn internal<E>(context: &'static str, source: E) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        Self::Internal(anyhow::Error::new(source).context(context))
    }

    /// 500 for a broken invariant of ours that no other error caused.
    pub fn bug(what: impl Into<String>) -> Self {
        Self::Internal(anyhow::Error::msg(what.into()))
    }

    /// Logs what the operator must know of this error: a fault's cause, which never
    /// leaves the server, at `error`; a dependency that cannot answer, at `warn`. The
    /// other errors are the request's, and its own log line says enough. Called once
    /// per error, where it becomes an answer: [`ResponseError::error_response`] for
    /// problem+json, `http::pages::error` for a page.
    pub fn log(&self) {
        match self {
            Error::Internal(cause) => tracing::error!(cause = %format_args!("{cause:#}"), "internal error"),
            Error::Unavailable(cause) => tracing::warn!(%cause, "unavailable"),
            _ => {}
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound(what.into())
    }

    /// The problem code of this error: `type` is `/problems/<code>`. Every value it can
    /// take is in [`PROBLEM_CODES`].
    pub fn code(&self) -> &'static str {
        match self {
            Error::Malformed(_) => "malformed",
            Error::Unauthorized => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::NotFound(_) => "not_found",
            Error::Conflict { code, .. } => code.as_str(),
            Error::TooLarge(_) => "too_large",
            Error::UnsupportedMediaType(_) => "unsupported_media_type",
            Error::Invalid { .. } => "invalid",
            Error::RequestTimeout => "request_timeout",
            Error::RateLimited { .. } => "rate_limited",
            Error::MethodNotAllowed(_) => "method_not_allowed",
            Error::BadSignature(_) => "invalid_signature",
            Error::Link(crate::domain::token::TokenError::Expired) => "expired_link",
            Error::Link(_) => "invalid_link",
            Error::Unavailable(_) => "unavailable",
            Error::Internal(_) => "internal",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Error::Malformed(_) => "Malformed request",
            Error::Unauthorized => "Unauthorized",
            Error::Forbidden(_) => "Forbidden",
            Error::NotFound(_) => "Not found",
            Error::Conflict { .. } => "Conflict",
            Error::TooLarge(_) => "Request body too large",
            Error::UnsupportedMediaType(_) => "Unsupported media type",
            Error::Invalid { .. } => "Invalid values",
            Error::RequestTimeout => "Request timeout",
            Error::RateLimited { .. } => "Too many requests",
            Error::MethodNotAllowed(_) => "Method not allowed",
            Error::BadSignature(_) => "Signature not verified",
            Error::Link(_) => "Unusable link",
            Error::Unavailable(_) => "Service unavailable",
            Error::Internal(_) => "Internal error",
        }
    }
}

/// Every problem code the service answers with, in the order of [`Error`]'s variants,
/// then the conflict codes. The OpenAPI document lists them as the values of
/// `Problem.type`, so clients can match on a closed set.
pub const PROBLEM_CODES: &[&str] = &[
    "malformed",
    "unauthorized",
    "forbidden",
    "not_found",
    "too_large",
    "unsupported_media_type",
    "invalid",
    "request_timeout",
    "rate_limited",
    "method_not_allowed",
    "invalid_signature",
    "expired_link",
    "invalid_link",
    "unavailable",
    "internal",
    // Error::Conflict's codes.
    "conflict",
    "consent_required",
    "email_taken",
    "erased",
    "external_id_taken",
    "topic_exists",
];

/// The body of every error answer (RFC 9457).
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A stable code under this service's origin, e.g. `/problems/invalid`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        match self {
            Error::Malformed(_) => StatusCode::BAD_REQUEST,
            Error::Unauthorized => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict { .. } => StatusCode::CONFLICT,
            Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Error::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Error::BadSignature(_) => StatusCode::UNAUTHORIZED,
            Error::Link(crate::domain::token::TokenError::Expired) => StatusCode::GONE,
            Error::Link(_) => StatusCode::BAD_REQUEST,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.log();
        let status = self.status_code();
        let detail = match self {
            Error::Internal(_) => "an unexpected error occurred; it has been logged".to_owned(),
            Error::Unavailable(_) => "the service cannot answer right now; retry shortly".to_owned(),
            other => other.to_string(),
        };
        let errors = match self {
            Error::Invalid { errors, .. } => errors.clone(),
            _ => Vec::new(),
        };
        let problem = Problem {
            kind: format!("/problems/{}", self.code()),
            title: self.title(),
            status: status.as_u16(),
            detail,
            errors,
        };
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json")));
        match self {
            Error::RateLimited { retry_after } => {
                response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
            }
            Error::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            Error::Unauthorized => {
                // Basic too: SNS sends the credentials of its URL only when challenged.
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer, Basic realm=\"prefcenter\""));
            }
            _ => {}
        }
        response.body(serde_json::to_string(&problem).unwrap_or_default())
    }
}

impl From<actix_web::error::PayloadError> for Error {
    /// A body that could not be read: too slow (408), or broken off (400).
    fn from(e: actix_web::error::PayloadError) -> Self {
        use actix_web::error::PayloadError;
        if matches!(&e, PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut) {
            Error::RequestTimeout
        } else {
            Error::Malformed(format!("the body could not be read: {e}"))
        }
    }
}

impl From<crate::domain::feedback::Refusal> for Error {
    fn from(refusal: crate::domain::feedback::Refusal) -> Self {
        match refusal {
            crate::domain::feedback::Refusal::Malformed(why) => Error::Malformed(why),
            crate::domain::feedback::Refusal::Signature(why) => Error::BadSignature(why),
        }
    }
}

impl From<crate::domain::json::JsonError> for Error {
    /// Broken JSON is 400; a wrong value, 422 naming its field.
    fn from(e: crate::domain::json::JsonError) -> Self {
        use crate::domain::json::JsonError;
        match e {
            JsonError::Malformed(why) => Error::Malformed(why),
            JsonError::Invalid { field, message } => Error::invalid(field, message),
        }
    }
}

impl From<diesel::result::Error> for Error {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind as Kind, Error as D};
        match e {
            // A status written for a topic that another process deleted meanwhile.
            D::DatabaseError(Kind::ForeignKeyViolation, info) => {
                tracing::warn!(cause = info.message(), "a write referred to a record removed meanwhile");
                Error::Conflict {
                    code: ConflictCode::Conflict,
                    detail: "this refers to a record that no longer exists".into(),
                }
            }
            D::DatabaseError(Kind::UniqueViolation, info) => {
                // The service checks every uniqueness it knows of before writing, with a
                // code of its own; reaching this is a check missing. The database's words
                // name tables and constraints: they go to the log, not to the client.
                tracing::warn!(cause = info.message(), "a write broke a uniqueness rule no check caught");
                Error::Conflict {
                    code: ConflictCode::Conflict,
                    detail: "this conflicts with an existing record".into(),
                }
            }
            D::DatabaseError(kind, info) if unavailable(&kind, info.message()) => {
                Error::Unavailable(format!("database: {}", info.message()))
            }
            // A commit that failed, and its rollback too: the commit's cause decides.
            D::RollbackErrorOnCommit { commit_error, .. } => Error::from(*commit_error),
            // A rollback failed before (the connection went away mid-transaction); the
            // pool drops such a connection, so a retry gets a fresh one.
            D::BrokenTransactionManager => {
                Error::Unavailable("database: a connection was lost mid-transaction".into())
            }
            other => Error::internal("database", other),
        }
    }
}

/// Whether a database error says the database cannot serve now, rather than that the
/// statement is wrong: a lost connection, a failover, a busy or full file. Worth a
/// retry, so a 503 with `Retry-After`. diesel names some kinds; the rest are known by
/// the drivers' words (SQLite has no other way to tell; PostgreSQL's codes are not
/// exposed through diesel's error).
fn unavailable(kind: &diesel::result::DatabaseErrorKind, message: &str) -> bool {
    use diesel::result::DatabaseErrorKind as Kind;
    const MESSAGES: [&str; 13] = [
        // SQLite's busy timeout ran out: another writer held the lock too long.
        "database is locked",
        // PostgreSQL: two transactions waited for each other; this one was chosen to
        // give way, and a retry will find the other done.
        "deadlock detected",
        // PostgreSQL's lock table is full (many import chunks' address locks at once).
        "out of shared memory",
        // SQLite: the file (or its log) cannot be opened, or the disk is full.
        "unable to open database file",
        "database or disk is full",
        // PostgreSQL: the server ended the session (shutdown, crash, administrator)…
        "terminating connection",
        "the database system is",
        // …or libpq lost it.
        "server closed the connection unexpectedly",
        "no connection to the server",
        "could not receive data from server",
        "could not send data to server",
        "connection to server was lost",
        "no space left on device",
    ];
    if matches!(
        kind,
        Kind::ClosedConnection
            | Kind::UnableToSendCommand
            | Kind::SerializationFailure
            | Kind::ReadOnlyTransaction
    ) {
        return true;
    }
    let message = message.to_ascii_lowercase();
    MESSAGES.iter().any(|m| message.contains(m))
}

/// What tests need to see what was logged.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The log lines `work` writes, in tracing's plain format.
    pub fn logged(work: impl FnOnce()) -> String {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber =
            tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).finish();
        tracing::subscriber::with_default(subscriber, work);
        let bytes = lines.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One error of each kind. The match is exhaustive, so a new variant fails to
    /// compile here until it is given a sample and its code is listed.
    fn samples() -> Vec<Error> {
        let samples = vec![
            Error::Malformed(String::new()),
            Error::Unauthorized,
            Error::Forbidden("admin"),
            Error::NotFound(String::new()),
            Error::Conflict { code: ConflictCode::Erased, detail: String::new() },
            Error::Conflict { code: ConflictCode::ConsentRequired, detail: String::new() },
            Error::Conflict { code: ConflictCode::ExternalIdTaken, detail: String::new() },
            Error::Conflict { code: ConflictCode::EmailTaken, detail: String::new() },
            Error::Conflict { code: ConflictCode::TopicExists, detail: String::new() },
            Error::Conflict { code: ConflictCode::Conflict, detail: String::new() },
            Error::TooLarge(1),
            Error::UnsupportedMediaType(String::new()),
            Error::invalid("field", "message"),
            Error::RequestTimeout,
            Error::RateLimited { retry_after: 1 },
            Error::MethodNotAllowed(String::new()),
            Error::BadSignature(String::new()),
            Error::Link(crate::domain::token::TokenError::Expired),
            Error::Link(crate::domain::token::TokenError::Signature),
            Error::Unavailable(String::new()),
            Error::bug(""),
        ];
        for error in &samples {
            match error {
                Error::Malformed(_)
                | Error::Unauthorized
                | Error::Forbidden(_)
                | Error::NotFound(_)
                | Error::Conflict { .. }
                | Error::TooLarge(_)
                | Error::UnsupportedMediaType(_)
                | Error::Invalid { .. }
                | Error::RequestTimeout
                | Error::RateLimited { .. }
                | Error::MethodNotAllowed(_)
                | Error::BadSignature(_)
                | Error::Link(_)
                | Error::Unavailable(_)
                | Error::Internal(_) => {}
            }
        }
        samples
    }

    #[test]
    fn every_problem_code_is_listed() {
        for error in samples() {
            assert!(PROBLEM_CODES.contains(&error.code()), "{} is not in PROBLEM_CODES", error.code());
        }
    }

    use diesel::result::{DatabaseErrorKind as Kind, Error as D};

    fn database(kind: Kind, message: &str) -> Error {
        Error::from(D::DatabaseError(kind, Box::new(message.to_owned())))
    }

    fn body(error: &Error) -> String {
        let response = error.error_response();
        let bytes = actix_web::body::to_bytes(response.into_body());
        String::from_utf8(futures_util::FutureExt::now_or_never(bytes).unwrap().unwrap().to_vec()).unwrap()
    }

    #[test]
    fn a_database_that_cannot_serve_now_is_503_with_retry_after() {
        let lost = [
            (Kind::Unknown, "terminating connection due to unexpected postmaster exit"),
            (Kind::Unknown, "FATAL:  terminating connection due to administrator command"),
            (Kind::Unknown, "server closed the connection unexpectedly"),
            (Kind::ClosedConnection, "anything"),
            (Kind::UnableToSendCommand, "no connection to the server"),
            (Kind::Unknown, "unable to open database file"),
            (Kind::Unknown, "database is locked"),
            (Kind::Unknown, "database or disk is full"),
            (Kind::SerializationFailure, "could not serialize access"),
            (Kind::ReadOnlyTransaction, "cannot execute INSERT in a read-only transaction"),
        ];
        for (kind, message) in lost {
            let error = database(kind, message);
            assert!(matches!(error, Error::Unavailable(_)), "{message}: {error:?}");
            let response = error.error_response();
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert!(response.headers().contains_key(header::RETRY_AFTER), "{message}");
            assert!(!body(&error).contains(message), "{message} leaked");
        }
        let lost_at_commit = D::RollbackErrorOnCommit {
            rollback_error: Box::new(D::BrokenTransactionManager),
            commit_error: Box::new(D::DatabaseError(Kind::ClosedConnection, Box::new("gone".to_owned()))),
        };
        assert!(matches!(Error::from(lost_at_commit), Error::Unavailable(_)));
    }

    #[test]
    fn other_database_faults_are_500_and_say_nothing_of_the_cause() {
        let error = database(Kind::Unknown, "no such table: soft_bounces");
        assert!(error.is_server_fault());
        assert_eq!(error.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!body(&error).contains("soft_bounces"));
    }

    #[test]
    fn a_fault_keeps_its_cause_for_the_log_and_only_there() {
        let io = std::io::Error::other("disk on fire");
        let error = Error::internal("writing an export", io);
        let source = std::error::Error::source(&error).expect("the cause is kept");
        assert_eq!(source.to_string(), "writing an export");
        let log = testing::logged(|| {
            let body = body(&error);
            assert!(!body.contains("disk") && !body.contains("export"), "{body}");
        });
        assert_eq!(log.matches("internal error").count(), 1, "logged once: {log}");
        assert!(log.contains("ERROR"), "{log}");
        assert!(log.contains("writing an export: disk on fire"), "the chain is logged: {log}");
    }

    #[test]
    fn only_faults_are_logged_where_they_become_answers() {
        let unavailable =
            testing::logged(|| drop(Error::Unavailable("database: gone".into()).error_response()));
        assert!(unavailable.contains("WARN") && unavailable.contains("database: gone"), "{unavailable}");
        let request = testing::logged(|| drop(Error::not_found("no such topic").error_response()));
        assert_eq!(request, "", "the request's own faults are in its request line");
    }

    #[test]
    fn a_unique_violation_is_409_without_the_databases_words() {
        let error = database(Kind::UniqueViolation, "UNIQUE constraint failed: contacts.external_id");
        assert!(!error.is_server_fault(), "a conflict is the request's");
        assert_eq!(error.status_code(), StatusCode::CONFLICT);
        let body = body(&error);
        assert!(body.contains("/problems/conflict"), "{body}");
        assert!(!body.contains("contacts") && !body.contains("UNIQUE"), "{body}");
    }

    #[test]
    fn conflict_codes_are_their_snake_case_names() {
        for code in [
            ConflictCode::Erased,
            ConflictCode::ConsentRequired,
            ConflictCode::ExternalIdTaken,
            ConflictCode::EmailTaken,
            ConflictCode::TopicExists,
            ConflictCode::Conflict,
        ] {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
    }
}
