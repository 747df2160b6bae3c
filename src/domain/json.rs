//! Reading JSON so that an error names the wrong field: for request bodies, import
//! lines and providers' deliveries alike. The HTTP answer to a [`JsonError`] is
//! `error.rs`'s business.

/// Why a JSON text could not be read as the type asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    /// Not JSON at all (broken syntax, trailing text).
    #[error("{0}")]
    Malformed(String),
    /// JSON, but the value at `field` is wrong (`body` when it is the whole text).
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
}

/// [`parse`] for a type read from a JSON object (a request body, an import line):
/// serde reads a struct from an array too, field by field in order, so that `[]`
/// would be a patch that changes nothing and `["x"]` one that sets the first field.
pub fn parse_object<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, JsonError> {
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(JsonError::Invalid {
            field: "body".into(),
            message: "must be a JSON object, not an array".into(),
        });
    }
    parse(body)
}

/// Parses a JSON text, naming the path of the first wrong value.
pub fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, JsonError> {
    // Nearly every body is right: it is read at full speed, and only one that is not
    // is read again with each value's path tracked, to name the wrong one (tracking
    // costs a batch of 10,000 addresses as much as reading them).
    serde_json::from_slice(body).or_else(|_| parse_tracked(body))
}

fn parse_tracked<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, JsonError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => invalid_at(field, &inner),
            // serde_json reports a value of the wrong JSON type for an enum
            // (`{"reason": 7}`) as a syntax error, "expected value". Whether the body
            // is JSON at all is a question of its own: if it is, the fault is the value.
            _ => match serde_json::from_slice::<serde_json::Value>(body) {
                Ok(parsed) => match serde_path_to_error::deserialize::<_, T>(parsed) {
                    Err(e) => {
                        let field = e.path().to_string();
                        invalid_at(field, &e.into_inner())
                    }
                    Ok(_) => invalid_at(field, &inner),
                },
                Err(_) => JsonError::Malformed(format!("the body is not valid JSON: {inner}")),
            },
        }
    })?;
    deserializer.end().map_err(|e| JsonError::Malformed(format!("the body is not valid JSON: {e}")))?;
    Ok(value)
}

/// The value at `field` (serde_path_to_error's path; `.` is the whole body) is wrong.
fn invalid_at(field: String, error: &dyn std::fmt::Display) -> JsonError {
    let field = if field == "." { "body".to_owned() } else { field };
    JsonError::Invalid { field, message: strip_position(&error.to_string()) }
}

/// Reads an already-parsed JSON value as `T`; the error names the wrong field. For
/// bodies read a part at a time (import lines, provider arrays).
pub fn parse_value<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let field = e.path().to_string();
        let message = strip_position(&e.into_inner().to_string());
        if field == "." {
            message
        } else {
            format!("{field}: {message}")
        }
    })
}

/// serde_json ends its messages with " at line 1 column 42", which means nothing to
/// someone reading a field error.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

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
    }

    // How each fault is classified is tested through the extractor (http/json.rs).
    #[test]
    fn a_wrong_value_reads_as_its_field_and_why() {
        let error = parse::<Body>(b"{\"name\": 3}").unwrap_err();
        assert!(matches!(&error, JsonError::Invalid { field, .. } if field == "name"), "{error:?}");
        assert!(error.to_string().starts_with("name: invalid type"), "{error}");
        let whole = parse::<Body>(b"[]").unwrap_err();
        assert!(whole.to_string().starts_with("body: "), "{whole}");
        // A struct whose fields may all be left out is not read from an array either.
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Patch {
            #[serde(default)]
            name: Option<String>,
        }
        for array in [&b"[]"[..], b" \n[\"x\"]"] {
            let error = parse_object::<Patch>(array).unwrap_err();
            assert_eq!(error.to_string(), "body: must be a JSON object, not an array");
        }
        assert!(parse_object::<Patch>(b"{}").is_ok());
        assert!(parse::<Vec<Patch>>(b"[{}]").is_ok(), "an array where one is asked for");
        let nested = parse::<Body>(b"{\"name\":\"a\",\"inner\":{\"count\":-1}}").unwrap_err();
        assert!(nested.to_string().starts_with("inner.count: "), "{nested}");
        assert!(!nested.to_string().contains(" at line "), "{nested}");
    }
}
