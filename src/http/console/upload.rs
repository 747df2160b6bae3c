//! A file uploaded from a console form (`multipart/form-data`), read as it arrives: the
//! fields before the file (the CSRF token among them, checked before the file is read),
//! then the file's bytes as a stream, so that an import from the console goes through
//! the same streamed path as the API's (`http::import`) and is never held whole.

use futures_util::{Stream, StreamExt};

use actix_web::web::Bytes;

use crate::error::Error;

/// The longest a form field before the file, or a part's headers, may be.
const MAX_FIELD: usize = 16 * 1024;

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}

/// The boundary a `multipart/form-data` content type names.
fn boundary(content_type: Option<&str>) -> Result<Vec<u8>, Error> {
    let unsupported = || Error::UnsupportedMediaType("an upload is multipart/form-data".into());
    let value = content_type.ok_or_else(unsupported)?;
    let (kind, params) = value.split_once(';').ok_or_else(unsupported)?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return Err(unsupported());
    }
    let boundary = params
        .split(';')
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"'))
        .filter(|b| !b.is_empty() && b.len() <= 70)
        .ok_or_else(unsupported)?;
    Ok(boundary.as_bytes().to_vec())
}

/// A part's `name` and, for a file, its `filename`, from its headers.
fn disposition(headers: &[u8]) -> (Option<String>, bool) {
    let text = String::from_utf8_lossy(headers);
    let line = text.lines().find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"));
    let Some(line) = line else { return (None, false) };
    let param = |name: &str| {
        line.split(';')
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| k.trim() == name)
            .map(|(_, v)| v.trim().trim_matches('"').to_owned())
    };
    (param("name"), param("filename").is_some())
}

/// Reads more of `payload` into `buffer`; an error if it ended.
async fn more<S>(payload: &mut S, buffer: &mut Vec<u8>) -> Result<(), Error>
where
    S: Stream<Item = Result<Bytes, Error>> + Unpin,
{
    match payload.next().await {
        Some(chunk) => {
            buffer.extend_from_slice(&chunk?);
            Ok(())
        }
        None => Err(Error::Malformed("the upload ended before its file".into())),
    }
}

/// Reads the form's fields up to its first file, and returns them with the file's
/// content as a stream (which fails if the upload ends before its closing boundary).
pub async fn open<S>(
    content_type: Option<&str>,
    mut payload: S,
) -> Result<(Vec<(String, String)>, impl Stream<Item = Result<Bytes, Error>> + Unpin), Error>
where
    S: Stream<Item = Result<Bytes, Error>> + Unpin + 'static,
{
    let boundary = boundary(content_type)?;
    let opening = [b"--".as_slice(), &boundary].concat();
    let closing = [b"\r\n--".as_slice(), &boundary].concat();
    let too_long = || Error::invalid("upload", "a field before the file is too long");
    let mut buffer = Vec::new();
    // The first delimiter, after whatever preamble.
    let mut at = loop {
        if let Some(i) = find(&buffer, &opening) {
            break i + opening.len();
        }
        if buffer.len() > MAX_FIELD {
            return Err(too_long());
        }
        more(&mut payload, &mut buffer).await?;
    };
    let mut fields = Vec::new();
    loop {
        // After a delimiter: "--" ends the body, "\r\n" begins a part.
        while buffer.len() < at + 2 {
            more(&mut payload, &mut buffer).await?;
        }
        if &buffer[at..at + 2] == b"--" {
            return Err(Error::invalid("file", "the form holds no file"));
        }
        let headers_start = at + 2;
        let headers_end = loop {
            if let Some(i) = find(&buffer[headers_start..], b"\r\n\r\n") {
                break headers_start + i;
            }
            if buffer.len() - headers_start > MAX_FIELD {
                return Err(too_long());
            }
            more(&mut payload, &mut buffer).await?;
        };
        let (name, is_file) = disposition(&buffer[headers_start..headers_end]);
        let content_start = headers_end + 4;
        if is_file {
            let rest = buffer.split_off(content_start);
            let file = futures_util::stream::unfold(
                (payload, rest, closing, false),
                |(mut payload, mut buffer, closing, done)| async move {
                    if done {
                        return None;
                    }
                    loop {
                        if let Some(i) = find(&buffer, &closing) {
                            buffer.truncate(i);
                            return Some((Ok(Bytes::from(buffer)), (payload, Vec::new(), closing, true)));
                        }
                        // All but what could be the start of the closing boundary.
                        if buffer.len() > closing.len() {
                            let keep = buffer.split_off(buffer.len() - closing.len());
                            return Some((Ok(Bytes::from(buffer)), (payload, keep, closing, false)));
                        }
                        match payload.next().await {
                            Some(Ok(chunk)) => buffer.extend_from_slice(&chunk),
                            Some(Err(e)) => return Some((Err(e), (payload, Vec::new(), closing, true))),
                            None => {
                                let cut =
                                    Error::Malformed("the upload ended before its closing boundary".into());
                                return Some((Err(cut), (payload, Vec::new(), closing, true)));
                            }
                        }
                    }
                },
            );
            return Ok((fields, Box::pin(file)));
        }
        let end = loop {
            if let Some(i) = find(&buffer[content_start..], &closing) {
                break content_start + i;
            }
            if buffer.len() - content_start > MAX_FIELD {
                return Err(too_long());
            }
            more(&mut payload, &mut buffer).await?;
        };
        if let Some(name) = name {
            fields.push((name, String::from_utf8_lossy(&buffer[content_start..end]).into_owned()));
        }
        at = end + closing.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> Vec<u8> {
        b"--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\ntoken-1\r\n--XyZ\r\nContent-Disposition: form-data; name=\"format\"\r\n\r\ncsv\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"s.csv\"\r\nContent-Type: text/csv\r\n\r\nemail,reason\r\na@example.com,hard_bounce\r\n\r\n--XyZ--\r\n".to_vec()
    }

    /// The body cut into chunks of `n` bytes, as a network might deliver it.
    fn chunked(n: usize) -> impl Stream<Item = Result<Bytes, Error>> + Unpin + 'static {
        let chunks: Vec<Result<Bytes, Error>> =
            body().chunks(n).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        futures_util::stream::iter(chunks)
    }

    #[test]
    fn fields_then_the_file_whatever_the_chunks() {
        for n in [1, 2, 3, 7, 16, 1000] {
            let (fields, content) = actix_web::rt::System::new().block_on(async {
                let (fields, file) =
                    open(Some("multipart/form-data; boundary=XyZ"), chunked(n)).await.unwrap();
                (fields, file.map(|c| c.unwrap().to_vec()).concat().await)
            });
            assert_eq!(
                fields,
                vec![("csrf".into(), "token-1".into()), ("format".into(), "csv".into())],
                "{n}"
            );
            assert_eq!(content, b"email,reason\r\na@example.com,hard_bounce\r\n", "{n}");
        }
    }
}
