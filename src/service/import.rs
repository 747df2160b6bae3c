//! What the bulk imports share: the records the HTTP layer cuts from a body, the
//! report of what each line did, and the batch that takes parsed lines and applies
//! them 1,000 to a transaction, each line in its own savepoint.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::NormalizedAddress;
use crate::error::Error;
use crate::service::Context;
use crate::store::{Backend, Tx};

/// The two bulk formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Ndjson,
    Csv,
}

/// One record of a bulk import, as the HTTP layer cut it from the body.
pub enum Record<'a> {
    /// An NDJSON line, without its line break.
    Line(&'a [u8]),
    /// A CSV record's fields (a quoted field may hold line breaks).
    Fields(&'a csv::StringRecord),
    /// A CSV record that is not UTF-8.
    NotUtf8,
}

impl<'a> Record<'a> {
    /// An NDJSON line's text; `None` for a blank line, which is skipped and not counted.
    pub(crate) fn ndjson_text(raw: &'a [u8]) -> Option<Result<&'a str, String>> {
        match std::str::from_utf8(raw) {
            Ok(text) if text.trim().is_empty() => None,
            Ok(text) => Some(Ok(text)),
            Err(_) => Some(Err("the line is not UTF-8".into())),
        }
    }
}

/// A bulk import, fed one record at a time by the HTTP layer's streaming loop. Its
/// methods run on a blocking thread, off the async workers.
pub trait LineImporter: Send + 'static {
    /// Takes one record, which starts on line `line` (1-based); `true` when a chunk is
    /// ready to flush.
    fn push(&mut self, line: u64, record: Record<'_>) -> bool;
    /// Applies the records taken since the last flush, in one transaction. A fault of
    /// the service's fails the import; a record's own fault is reported in its place.
    fn flush(&mut self, cx: &Context) -> Result<(), Error>;
    /// What the import did, once every record was flushed.
    fn report(self) -> ImportReport;
}

/// What a bulk import did.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ImportReport {
    /// Lines read, blank lines and a CSV header aside.
    pub lines: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub failed: u64,
    /// The first 1,000 failures, by line number (1-based).
    pub errors: Vec<LineError>,
}

impl ImportReport {
    /// Counts a failed line, keeping the first 1,000 reasons.
    pub fn fail(&mut self, line: u64, error: String) {
        self.failed += 1;
        if self.errors.len() < 1000 {
            self.errors.push(LineError { line, error });
        }
    }

    /// Counts what each line of a chunk did.
    fn count(&mut self, results: LineResults) {
        for (line, outcome) in results {
            match outcome {
                Ok(Outcome::Created) => self.created += 1,
                Ok(Outcome::Updated) => self.updated += 1,
                Ok(Outcome::Unchanged) => self.unchanged += 1,
                Err(e) => self.fail(line, e),
            }
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LineError {
    pub line: u64,
    pub error: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Created,
    Updated,
    Unchanged,
}

/// What each line of a chunk did, by line number: its outcome or why it failed.
pub(crate) type LineResults = Vec<(u64, Result<Outcome, String>)>;

/// A parsed line waiting for its transaction: its number, its address, what to write.
pub(crate) type Line<W> = (u64, NormalizedAddress, W);

/// Lines per transaction. SQLite writes every page a transaction changed to its log,
/// and again to the file at the next checkpoint; an import's addresses hash to random
/// places in each index, so a chunk changes about a page of each index per line until
/// it holds more lines than the index has pages. Its chunks are therefore ten times
/// PostgreSQL's (1,000,000 suppressions on SQLite: 10,659 lines/s with chunks of 1,000,
/// 20,137 with 10,000, in the bench on one machine). What it costs: a write that
/// arrives behind a chunk waits for it, a few hundred milliseconds on SQLite.
fn chunk_lines(backend: Backend) -> usize {
    match backend {
        Backend::Sqlite => 10_000,
        Backend::Postgres => 1_000,
    }
}

/// The lines parsed since the last flush, and the report so far.
pub(crate) struct Batch<W> {
    pending: Vec<Line<W>>,
    report: ImportReport,
    /// The console operator the import was started for, if any: its chunks are written
    /// on a blocking thread, where the request's operator is not known.
    operator: Option<String>,
    /// The tables the import grows, and how many chunks it has written to them.
    tables: &'static [&'static str],
    chunks: u64,
    /// Lines a chunk holds.
    chunk: usize,
}

impl<W: Send + 'static> Batch<W> {
    /// A batch for an import that grows `tables`.
    pub fn new(cx: &Context, tables: &'static [&'static str]) -> Self {
        Self {
            pending: Vec::new(),
            report: ImportReport::default(),
            operator: super::operator(),
            tables,
            chunks: 0,
            chunk: chunk_lines(cx.config.database_url.backend),
        }
    }

    /// Counts a line read and keeps it for the next flush, or reports why it cannot
    /// be applied; `true` when a chunk is ready to flush.
    pub fn take(&mut self, line: u64, parsed: Result<(NormalizedAddress, W), String>) -> bool {
        self.report.lines += 1;
        match parsed {
            Ok((address, write)) => self.pending.push((line, address, write)),
            Err(e) => self.report.fail(line, e),
        }
        self.pending.len() >= self.chunk
    }

    /// Applies the pending lines in one transaction through `apply`, and counts what
    /// each did. A line that fails by itself is reported and skipped: a bad line never
    /// aborts the good ones.
    pub fn flush<F>(&mut self, cx: &Context, apply: F) -> Result<(), Error>
    where
        F: FnOnce(&mut Tx, Vec<Line<W>>) -> Result<LineResults, Error> + Send + 'static,
    {
        if self.pending.is_empty() {
            return Ok(());
        }
        let lines = std::mem::take(&mut self.pending);
        let results = match self.operator.clone() {
            Some(operator) => {
                super::write_blocking(cx, move |db| db.as_operator(operator, |db| apply(db, lines)))?
            }
            None => super::write_blocking(cx, move |db| apply(db, lines))?,
        };
        self.report.count(results);
        self.chunks += 1;
        if grown_tenfold(self.chunks) {
            refresh_statistics(cx, self.tables);
        }
        Ok(())
    }

    pub fn report(self) -> ImportReport {
        self.report
    }
}

/// After chunks 10, 100, 1,000 …: an import has grown its tables about tenfold since
/// the last time, enough for their plans to be made anew.
fn grown_tenfold(chunks: u64) -> bool {
    chunks >= 10 && 10u64.pow(chunks.ilog10()) == chunks
}

/// [`store::analyze`] on a connection of its own, outside the writer's transaction. A
/// failure only leaves the plans as they were: it is logged, and the import goes on.
fn refresh_statistics(cx: &Context, tables: &[&str]) {
    let refreshed = cx
        .pool
        .get()
        .map_err(|e| e.to_string())
        .and_then(|mut db| crate::store::analyze(&mut db, tables).map_err(|e| e.to_string()));
    if let Err(error) = refreshed {
        tracing::warn!(%error, ?tables, "could not refresh the statistics of the tables an import grows");
    }
}

/// Applies import lines in one savepoint each (a failing line rolls back alone), and
/// says what each did. A line's own fault (an erased address, an unknown topic) is
/// reported in its place; a fault of the service's (the database) fails the whole
/// chunk, so that the import answers 503/500 and is sent again rather than reporting
/// good lines as bad (and the fault's words never reach the client).
pub(crate) fn line_by_line<W>(
    db: &mut Tx,
    lines: Vec<Line<W>>,
    mut apply: impl FnMut(&mut Tx, NormalizedAddress, W) -> Result<Outcome, Error>,
) -> Result<LineResults, Error> {
    let mut results = Vec::with_capacity(lines.len());
    for (line, address, write) in lines {
        match db.savepoint(|db| apply(db, address, write)) {
            Ok(outcome) => results.push((line, Ok(outcome))),
            Err(e) if e.is_server_fault() => return Err(e),
            Err(e) => results.push((line, Err(e.to_string()))),
        }
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::grown_tenfold;

    #[test]
    fn statistics_are_refreshed_each_time_an_import_grows_tenfold() {
        let at: Vec<u64> = (1..=20_000).filter(|&n| grown_tenfold(n)).collect();
        assert_eq!(at, [10, 100, 1_000, 10_000]);
    }
}
