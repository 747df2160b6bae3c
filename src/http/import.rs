//! The streaming loop of bulk imports. The body is read as it arrives and passed,
//! through a bounded channel, to a blocking thread that cuts it into records (NDJSON
//! lines, or CSV records, whose quoted fields may hold line breaks) and hands them to
//! an importer that applies a chunk at a time. Parsing never runs on the async
//! workers, so a large import cannot stall the checks they serve, and an import of
//! millions of lines never sits in memory whole.

use std::io::{BufRead, BufReader, Read};

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::error::Error;
use crate::service::import::{Format, LineImporter, Record};
use crate::service::Context;

/// The longest record an import accepts: an NDJSON line, or a CSV record with the
/// line breaks its quoted fields hold.
const MAX_RECORD: usize = 64 * 1024;

/// Body chunks in flight between the request and the reader: enough to keep the
/// reader busy, few enough that a slow reader holds back the upload, not memory.
const CHUNKS_IN_FLIGHT: usize = 16;

/// Feeds `payload` to `importer` record by record, within the configured import limit.
pub async fn stream<I: LineImporter>(
    cx: web::Data<Context>,
    req: &HttpRequest,
    payload: web::Payload,
    format: Format,
    importer: I,
) -> Result<I, Error> {
    stream_from(cx, req, payload.map(|chunk| chunk.map_err(Error::from)), format, importer).await
}

/// [`stream`] from any stream of the body's bytes (the console's upload's file part).
pub async fn stream_from<I: LineImporter, S>(
    cx: web::Data<Context>,
    req: &HttpRequest,
    mut payload: S,
    format: Format,
    mut importer: I,
) -> Result<I, Error>
where
    S: futures_util::Stream<Item = Result<web::Bytes, Error>> + Unpin,
{
    let limit = cx.config.import_limit;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(Error::TooLarge(limit));
    }
    let (chunks, received) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let reading = web::block(move || {
        let outcome = read(&cx, format, Body::new(received), &mut importer);
        (importer, outcome)
    });
    let feeding = async move {
        let mut total = 0usize;
        while let Some(chunk) = payload.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                // Too slow (408) or broken off (400).
                Err(e) => return Err(e),
            };
            total += chunk.len();
            if total > limit {
                return Err(Error::TooLarge(limit));
            }
            if chunks.send(Some(chunk)).await.is_err() {
                return Ok(()); // The reader stopped: its outcome says why.
            }
        }
        let _ = chunks.send(None).await;
        Ok(())
    };
    // A body that fails (or a request dropped) closes the channel without its end: the
    // reader sees the body cut off and stops without applying a partial last record.
    let (fed, read) = futures_util::future::join(feeding, reading).await;
    let (importer, outcome) = read.map_err(|e| Error::internal("the import's reader failed", e))?;
    fed?;
    outcome.map(|()| importer)
}

/// Reads every record of the body and applies them; runs on a blocking thread.
fn read<I: LineImporter>(cx: &Context, format: Format, body: Body, importer: &mut I) -> Result<(), Error> {
    match format {
        Format::Ndjson => {
            let mut reader = BufReader::new(body);
            let mut buffer = Vec::new();
            let mut line = 0u64;
            let mut consumed = 0u64;
            loop {
                buffer.clear();
                let read = reader.by_ref().take(MAX_RECORD as u64 + 1).read_until(b'\n', &mut buffer);
                let read = read.map_err(|e| cut(e, line + 1))?;
                if read == 0 {
                    break;
                }
                // The body's record bound counts from here (the buffer reads ahead less
                // than it allows).
                consumed += read as u64;
                reader.get_mut().record_starts(consumed);
                line += 1;
                if buffer.last() == Some(&b'\n') {
                    buffer.pop();
                } else if buffer.len() > MAX_RECORD {
                    return Err(too_long(line));
                }
                if buffer.last() == Some(&b'\r') {
                    buffer.pop();
                }
                if importer.push(line, Record::Line(&buffer)) {
                    importer.flush(cx)?;
                }
            }
        }
        Format::Csv => {
            // No header handling here: the importer knows a header when it sees one.
            let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(body);
            let mut record = csv::StringRecord::new();
            loop {
                let next_line = reader.position().line();
                let ready = match reader.read_record(&mut record) {
                    Ok(false) => break,
                    Ok(true) => {
                        let line = record.position().map_or(next_line, |p| p.line());
                        importer.push(line, Record::Fields(&record))
                    }
                    Err(e) => match e.into_kind() {
                        csv::ErrorKind::Utf8 { pos, .. } => {
                            importer.push(pos.map_or(next_line, |p| p.line()), Record::NotUtf8)
                        }
                        csv::ErrorKind::Io(e) => return Err(cut(e, next_line)),
                        other => {
                            return Err(Error::Malformed(format!("line {next_line}: not CSV: {other:?}")))
                        }
                    },
                };
                let at = reader.position().byte();
                reader.get_mut().record_starts(at);
                if ready {
                    importer.flush(cx)?;
                }
            }
        }
    }
    importer.flush(cx)
}

/// Why the body stopped before its end.
#[derive(Debug, thiserror::Error)]
enum Cut {
    /// The request failed (too large, unreadable): it answers for itself.
    #[error("the body was cut off")]
    Aborted,
    #[error("a record is too long")]
    TooLong,
}

/// The answer for a body that stopped at the record starting on `line`.
fn cut(e: std::io::Error, line: u64) -> Error {
    match e.get_ref().and_then(|inner| inner.downcast_ref::<Cut>()) {
        Some(Cut::TooLong) => too_long(line),
        // The feeding side's own error is the answer; this one is never seen.
        Some(Cut::Aborted) => Error::Malformed("the body was cut off".into()),
        None => Error::internal("reading an import", e),
    }
}

fn too_long(line: u64) -> Error {
    Error::Malformed(format!("the record on line {line} is longer than {MAX_RECORD} bytes"))
}

/// The body as a blocking reader over the chunks the request receives. It also bounds
/// a record: a CSV reader would otherwise buffer an unclosed quote to the end.
struct Body {
    /// The body's chunks, then `None` at its end.
    chunks: mpsc::Receiver<Option<web::Bytes>>,
    current: web::Bytes,
    ended: bool,
    delivered: u64,
    record_start: u64,
}

impl Body {
    fn new(chunks: mpsc::Receiver<Option<web::Bytes>>) -> Self {
        Self { chunks, current: web::Bytes::new(), ended: false, delivered: 0, record_start: 0 }
    }

    /// The byte offset where the next record begins.
    fn record_starts(&mut self, at: u64) {
        self.record_start = at;
    }
}

/// What a reader may have read ahead beyond a record (the CSV reader's buffer).
const READ_AHEAD: u64 = 16 * 1024;

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.delivered.saturating_sub(self.record_start) > MAX_RECORD as u64 + READ_AHEAD {
            return Err(std::io::Error::other(Cut::TooLong));
        }
        while self.current.is_empty() {
            if self.ended {
                return Ok(0);
            }
            match self.chunks.blocking_recv() {
                Some(Some(chunk)) => self.current = chunk,
                Some(None) => self.ended = true,
                None => return Err(std::io::Error::other(Cut::Aborted)),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        self.delivered += n as u64;
        Ok(n)
    }
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
