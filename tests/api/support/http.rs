//! Calls to the app under test and its replies.

use reqwest::blocking::RequestBuilder;
use reqwest::Method;
use serde_json::Value;

use super::TestApp;

impl TestApp {
    pub fn request(&self, method: Method, path: &str) -> Call {
        Call {
            builder: self.http.request(method, format!("{}{path}", self.base())),
            key: Some(self.admin.clone()),
        }
    }

    pub fn get(&self, path: &str) -> Call {
        self.request(Method::GET, path)
    }
    pub fn post(&self, path: &str) -> Call {
        self.request(Method::POST, path)
    }
    pub fn put(&self, path: &str) -> Call {
        self.request(Method::PUT, path)
    }
    pub fn patch(&self, path: &str) -> Call {
        self.request(Method::PATCH, path)
    }
    pub fn delete(&self, path: &str) -> Call {
        self.request(Method::DELETE, path)
    }
}

/// Percent-encodes a path segment.
pub fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect::<String>().replace('+', "%20")
}

pub struct Call {
    builder: RequestBuilder,
    key: Option<String>,
}

impl Call {
    pub fn key(mut self, key: &str) -> Self {
        self.key = Some(key.to_owned());
        self
    }
    pub fn anonymous(mut self) -> Self {
        self.key = None;
        self
    }
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.builder = self.builder.header(name, value);
        self
    }
    pub fn json(mut self, body: Value) -> Self {
        self.builder = self.builder.json(&body);
        self
    }
    pub fn body(mut self, content_type: &str, body: impl Into<reqwest::blocking::Body>) -> Self {
        self.builder = self.builder.header("content-type", content_type).body(body);
        self
    }
    pub fn send(self) -> Reply {
        let builder = match self.key {
            Some(key) => self.builder.bearer_auth(key),
            None => self.builder,
        };
        let response = builder.send().expect("the server answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().expect("a readable body");
        Reply { status, headers, body }
    }
}

pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an RFC 9457 problem with this status and type, and returns it.
    pub fn problem(&self, status: u16, kind: &str) -> Value {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.header("content-type"), Some("application/problem+json"), "{}", self.body);
        let problem = self.json();
        assert_eq!(problem["type"], format!("/problems/{kind}"), "{problem}");
        assert_eq!(problem["status"], status);
        assert!(problem["title"].is_string() && problem["detail"].is_string(), "{problem}");
        problem
    }
}

/// Drops the fields that differ between runs (ids, times).
pub fn without_times(mut value: Value) -> Value {
    if let Some(object) = value.as_object_mut() {
        for field in ["created_at", "updated_at", "occurred_at", "id"] {
            object.remove(field);
        }
    }
    value
}
