//! The streaming loop of bulk imports: the body is read as it arrives, cut into
//! lines, and handed to an importer that applies a chunk at a time, so that an import
//! of millions of lines never sits in memory whole.

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;

use crate::error::Error;
use crate::service::suppressions::Format;
use crate::service::LineImporter;
use crate::App;

/// The longest line an import accepts.
const MAX_LINE: usize = 64 * 1024;

/// Feeds `payload` to `importer` line by line, within the configured import limit.
pub async fn stream<I: LineImporter>(
    app: &App,
    req: &HttpRequest,
    mut payload: web::Payload,
    mut importer: I,
) -> Result<I, Error> {
    let limit = app.config.import_limit;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(Error::TooLarge(limit));
    }
    let mut buffer = web::BytesMut::new();
    let mut total = 0usize;
    let mut lines = 0u64;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk?;
        total += chunk.len();
        if total > limit {
            return Err(Error::TooLarge(limit));
        }
        buffer.extend_from_slice(&chunk);
        while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
            let line = buffer.split_to(end + 1);
            lines += 1;
            if importer.push_line(&line[..end]) {
                importer.flush(app).await?;
            }
        }
        if buffer.len() > MAX_LINE {
            return Err(Error::Malformed(format!("line {} is longer than {MAX_LINE} bytes", lines + 1)));
        }
    }
    if !buffer.is_empty() {
        importer.push_line(&buffer);
    }
    importer.flush(app).await?;
    Ok(importer)
}

/// The format an import's content type names.
pub fn format_of(content_type: Option<&str>) -> Option<Format> {
    let mime: mime::Mime = content_type?.parse().ok()?;
    match (mime.type_().as_str(), mime.subtype().as_str()) {
        ("application", "x-ndjson" | "ndjson" | "jsonl" | "x-jsonlines") => Some(Format::Ndjson),
        ("text", "csv") => Some(Format::Csv),
        _ => None,
    }
}
