//! HTML form bodies as providers post them: `application/x-www-form-urlencoded`, or
//! `multipart/form-data` (RFC 7578) when the message has attachments. Only text fields
//! are kept; a file part is passed over.

use memchr::memmem;

use super::Refusal;

/// The most parts one body may hold.
const MAX_PARTS: usize = 1000;

/// A form's text fields, in order.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// The first value of a field.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Reads a form body by its `Content-Type`.
pub fn read(content_type: Option<&str>, body: &[u8]) -> Result<Fields, Refusal> {
    let content_type = content_type.unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Ok(Fields(url::form_urlencoded::parse(body).into_owned().collect()));
    }
    if essence.eq_ignore_ascii_case("multipart/form-data") {
        let boundary =
            parameter(content_type, "boundary").filter(|b| !b.is_empty() && b.len() <= 70).ok_or_else(
                || Refusal::Malformed("Content-Type: multipart/form-data without a boundary".into()),
            )?;
        return multipart(body, &boundary);
    }
    Err(Refusal::Malformed(
        "Content-Type: expected multipart/form-data or application/x-www-form-urlencoded".into(),
    ))
}

/// A parameter of a header value (`name=value` or `name="value"` after a `;`).
fn parameter(header: &str, name: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|p| {
        let (key, value) = p.split_once('=')?;
        if !key.trim().eq_ignore_ascii_case(name) {
            return None;
        }
        let value = value.trim();
        Some(match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            Some(quoted) => quoted.replace("\\\"", "\"").replace("\\\\", "\\"),
            None => value.to_owned(),
        })
    })
}

fn malformed(why: &str) -> Refusal {
    Refusal::Malformed(format!("multipart body: {why}"))
}

fn multipart(body: &[u8], boundary: &str) -> Result<Fields, Refusal> {
    let delimiter = format!("--{boundary}");
    let next = format!("\r\n--{boundary}");
    let finder = memmem::Finder::new(next.as_bytes());
    // The first delimiter opens the body (a preamble before it is ignored).
    let mut at = if body.starts_with(delimiter.as_bytes()) {
        delimiter.len()
    } else {
        finder.find(body).ok_or_else(|| malformed("no boundary line"))? + next.len()
    };
    let mut fields = Vec::new();
    for _ in 0..=MAX_PARTS {
        let rest = &body[at..];
        if rest.starts_with(b"--") {
            return Ok(Fields(fields));
        }
        // Transport padding, then the line break that ends the delimiter line.
        let line_end =
            memmem::find(rest, b"\r\n").ok_or_else(|| malformed("a boundary line does not end"))?;
        if rest[..line_end].iter().any(|b| !matches!(b, b' ' | b'\t')) {
            return Err(malformed("text after a boundary"));
        }
        let part_start = at + line_end + 2;
        let part_len =
            finder.find(&body[part_start..]).ok_or_else(|| malformed("the last part does not end"))?;
        let part = &body[part_start..part_start + part_len];
        let (head, content) = match memmem::find(part, b"\r\n\r\n") {
            Some(i) => (&part[..i], &part[i + 4..]),
            // A part with no headers at all: its content alone.
            None if part.starts_with(b"\r\n") => (&part[..0], &part[2..]),
            None => return Err(malformed("a part's headers do not end")),
        };
        let head = String::from_utf8_lossy(head);
        let disposition = head
            .split("\r\n")
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.trim().eq_ignore_ascii_case("content-disposition").then_some(value)
            })
            .unwrap_or_default();
        if let Some(name) = parameter(disposition, "name") {
            if parameter(disposition, "filename").is_none() {
                fields.push((name, String::from_utf8_lossy(content).into_owned()));
            }
        }
        at = part_start + part_len + next.len();
    }
    Err(malformed(&format!("more than {MAX_PARTS} parts")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_both_encodings() {
        let form = read(Some("application/x-www-form-urlencoded"), b"recipient=u-a%40x.example&a=1").unwrap();
        assert_eq!(form.get("recipient"), Some("u-a@x.example"));
        let body = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\nu-a@x.example\r\n\
--XyZ \r\ncontent-disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\n--Xy\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"envelope\"\r\n\r\n{\"to\":[\"b\"]}\r\n--XyZ--\r\nepilogue";
        let form = read(Some("multipart/form-data; boundary=\"XyZ\""), body).unwrap();
        assert_eq!(
            form,
            Fields(vec![
                ("to".into(), "u-a@x.example".into()),
                ("envelope".into(), "{\"to\":[\"b\"]}".into())
            ])
        );
    }

    #[test]
    fn refuses_what_is_not_a_form() {
        for (content_type, body) in [
            (None, &b"a=b"[..]),
            (Some("application/json"), b"{}"),
            (Some("multipart/form-data"), b"--x\r\n\r\n"),
            (Some("multipart/form-data; boundary=x"), b"no boundary here"),
            (
                Some("multipart/form-data; boundary=x"),
                b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\nunended",
            ),
            (Some("multipart/form-data; boundary=x"), b"--xjunk\r\n\r\nv\r\n--x--"),
        ] {
            assert!(read(content_type, body).is_err(), "{content_type:?} {body:?}");
        }
    }

    proptest! {
        #[test]
        fn any_body_is_read_or_refused_without_a_panic(body in proptest::collection::vec(any::<u8>(), 0..400), boundary in "[a-zA-Z0-9'()+_,./:=? -]{1,20}") {
            let _ = read(Some(&format!("multipart/form-data; boundary={boundary}")), &body);
            let mut framed = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n").into_bytes();
            framed.extend_from_slice(&body);
            framed.extend_from_slice(format!("\r\n--{boundary}--").as_bytes());
            let _ = read(Some(&format!("multipart/form-data; boundary=\"{boundary}\"")), &framed);
        }
    }
}
