//! A real SMTP server on loopback for the tests: it speaks enough of RFC 5321 for a
//! client (lettre) to deliver to it, and keeps every message it receives.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Received {
    pub to: Vec<String>,
    pub data: String,
}

impl Received {
    /// The message with quoted-printable soft breaks and `=3D` undone, so links can be
    /// read from it.
    pub fn text(&self) -> String {
        self.data.replace("=\r\n", "").replace("=3D", "=")
    }

    /// Every part of the message decoded (quoted-printable or base64) as a person's mail
    /// client shows it, the parts one after the other: what the mail says.
    pub fn body(&self) -> String {
        use base64::Engine;
        let mut out = String::new();
        let mut rest = self.data.as_str();
        while let Some(at) = rest.find("Content-Transfer-Encoding:") {
            let after = &rest[at + "Content-Transfer-Encoding:".len()..];
            let encoding = after.lines().next().unwrap_or_default().trim().to_ascii_lowercase();
            let Some(start) = after.find("\r\n\r\n") else { break };
            let content = &after[start + 4..];
            let end = content.find("\r\n--").unwrap_or(content.len());
            let raw = &content[..end];
            let bytes = match encoding.as_str() {
                "base64" => base64::engine::general_purpose::STANDARD
                    .decode(raw.split_whitespace().collect::<String>())
                    .unwrap_or_default(),
                "quoted-printable" => {
                    quoted(&raw.replace("=\r\n", "").replace('_', "=5F")).unwrap_or_default()
                }
                _ => raw.as_bytes().to_vec(),
            };
            out.push_str(&String::from_utf8_lossy(&bytes));
            out.push('\n');
            rest = &content[end..];
        }
        out
    }

    /// The first link in the message whose path starts with `prefix` (e.g. `/c/`).
    pub fn link(&self, base: &str, prefix: &str) -> Option<String> {
        let text = self.text();
        let start = text.find(&format!("{base}{prefix}"))?;
        let link: String =
            text[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || "-_.:/".contains(*c)).collect();
        Some(link.trim_end_matches('.').to_owned())
    }

    /// The Subject as a person reads it: RFC 2047 encoded words (`=?utf-8?b?…?=`,
    /// `=?utf-8?q?…?=`) decoded, the space between two of them dropped (see
    /// [`Received::decoded_header`]).
    pub fn subject(&self) -> Option<String> {
        self.decoded_header("Subject")
    }

    /// A header as a person reads it, its RFC 2047 encoded words decoded.
    pub fn decoded_header(&self, name: &str) -> Option<String> {
        use base64::Engine;
        let raw = self.header(name)?;
        let mut text = String::new();
        let mut after_word = false;
        for (i, part) in raw.split(' ').enumerate() {
            let word = part.strip_prefix("=?").and_then(|w| w.strip_suffix("?=")).and_then(|w| {
                let mut fields = w.splitn(3, '?');
                let (charset, encoding, data) = (fields.next()?, fields.next()?, fields.next()?);
                if !charset.eq_ignore_ascii_case("utf-8") {
                    return None;
                }
                let bytes = match encoding {
                    "b" | "B" => base64::engine::general_purpose::STANDARD.decode(data).ok()?,
                    "q" | "Q" => quoted(data)?,
                    _ => return None,
                };
                String::from_utf8(bytes).ok()
            });
            match word {
                Some(decoded) => {
                    if i > 0 && !after_word {
                        text.push(' ');
                    }
                    text.push_str(&decoded);
                    after_word = true;
                }
                None => {
                    if i > 0 {
                        text.push(' ');
                    }
                    text.push_str(part);
                    after_word = false;
                }
            }
        }
        Some(text)
    }

    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }
}

/// The Q encoding of RFC 2047: `_` a space, `=XX` a byte.
fn quoted(data: &str) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut rest = data.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        match b {
            b'_' => bytes.push(b' '),
            b'=' => {
                let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
                rest = &tail[2..];
                continue;
            }
            other => bytes.push(other),
        }
        rest = tail;
    }
    Some(bytes)
}

pub struct SmtpServer {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl SmtpServer {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port for SMTP");
        let url = format!("smtp://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let store = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let store = store.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, store);
                });
            }
        });
        Self { url, received }
    }

    /// Waits up to five seconds for `n` messages in all.
    pub fn wait_for(&self, n: usize) -> Vec<Received> {
        let started = Instant::now();
        loop {
            let got = self.received.lock().unwrap().clone();
            if got.len() >= n || started.elapsed() > Duration::from_secs(5) {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn serve(stream: std::net::TcpStream, store: Arc<Mutex<Vec<Received>>>) -> std::io::Result<()> {
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    writer.write_all(b"220 localhost ESMTP prefcenter-test\r\n")?;
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_ascii_uppercase();
        if command.starts_with("EHLO") {
            writer.write_all(b"250-localhost\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")?;
        } else if command.starts_with("RCPT TO:") {
            to.push(line.trim_end()[8..].trim().trim_matches(['<', '>']).to_owned());
            writer.write_all(b"250 OK\r\n")?;
        } else if command == "DATA" {
            writer.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")?;
            let mut data = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').filter(|_| line.starts_with("..")).unwrap_or(&line));
            }
            store.lock().unwrap().push(Received { to: std::mem::take(&mut to), data });
            writer.write_all(b"250 OK: queued\r\n")?;
        } else if command == "QUIT" {
            writer.write_all(b"221 Bye\r\n")?;
            return Ok(());
        } else {
            writer.write_all(b"250 OK\r\n")?;
        }
    }
}
