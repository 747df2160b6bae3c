//! One SMTP session (RFC 5321), from the greeting to the close, over plain TCP or,
//! after STARTTLS (RFC 3207), TLS.
//!
//! - `RCPT TO` is checked at once: 550 for anything but a valid token at the
//!   unsubscribe domain (nothing is accepted, so nothing is queued, for a bad
//!   address), 451 when the service cannot tell now. Failed recipients count against
//!   the client's network; past the limit the session is closed with 421.
//! - `DATA` is read and thrown away as it arrives: nothing of a message is kept. Once
//!   it has ended, each recipient's unsubscribe is applied through the same service
//!   call as the link's one-click, and `250` is answered only after all are committed;
//!   a fault of the service's answers 451, so the sender's server tries again (an
//!   unsubscribe applied twice changes nothing).
//! - Every read waits at most the command timeout, the whole session at most the
//!   session timeout; a line or a message over its limit closes the session.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::time::Instant;

use super::command::{self, Command};
use super::Receiver;
use crate::domain::token::Link;
use crate::service::contacts::Evidence;
use crate::service::mailto::{self, Refusal};
use crate::service::Context;

/// The longest command line, its line break included: RFC 5321's 512 octets, with
/// room for ESMTP parameters.
const MAX_LINE: usize = 1024;
/// Recipients one message may have (RFC 5321 4.5.3.1.8's minimum).
const MAX_RECIPIENTS: usize = 100;
/// Commands that were wrong (unknown, out of sequence, malformed) before the session
/// is closed.
const MAX_ERRORS: u32 = 10;

/// How a session's loop ended.
enum End {
    Close,
    /// STARTTLS was accepted: go on over TLS.
    StartTls,
}

/// Why a read gave no line.
enum ReadError {
    Closed,
    TimedOut,
    TooLong,
    Io,
}

struct Session<'a> {
    cx: &'a Context,
    receiver: &'a Receiver,
    /// The client's network, pseudonymized: what the ledger and the failure count keep.
    network: String,
    deadline: Instant,
    tls: bool,
    greeted: bool,
    mail: bool,
    recipients: Vec<Link>,
    errors: u32,
}

/// Serves one connection to its end.
pub(super) async fn serve(
    cx: Arc<Context>,
    receiver: Arc<Receiver>,
    tcp: tokio::net::TcpStream,
    peer: IpAddr,
) {
    let mut session = Session {
        network: cx.pseudonymizer.client(peer),
        cx: &cx,
        receiver: &receiver,
        deadline: Instant::now() + receiver.session_timeout,
        tls: false,
        greeted: false,
        mail: false,
        recipients: Vec::new(),
        errors: 0,
    };
    let mut conn = BufReader::new(tcp);
    let greeting = format!("220 {} ESMTP prefcenter unsubscribe receiver\r\n", receiver.domain);
    if session.reply(&mut conn, &greeting).await.is_err() {
        return;
    }
    if !matches!(session.run(&mut conn).await, End::StartTls) {
        return;
    }
    // RFC 3207: nothing the client sent after STARTTLS, in the clear, may count — a
    // command injected there would otherwise run as if it came over TLS.
    if !conn.buffer().is_empty() {
        return;
    }
    let Some(acceptor) = &receiver.tls else { return };
    let handshake = acceptor.accept(conn.into_inner());
    let Ok(Ok(tls)) = tokio::time::timeout_at(session.read_deadline(), handshake).await else { return };
    session.tls = true;
    session.greeted = false;
    session.reset();
    let mut conn = BufReader::new(tls);
    session.run(&mut conn).await;
}

impl Session<'_> {
    /// When the next read must have given something.
    fn read_deadline(&self) -> Instant {
        (Instant::now() + self.receiver.command_timeout).min(self.deadline)
    }

    fn reset(&mut self) {
        self.mail = false;
        self.recipients.clear();
    }

    async fn reply<S: AsyncWrite + Unpin>(&self, conn: &mut S, text: &str) -> Result<(), ()> {
        let write = async {
            conn.write_all(text.as_bytes()).await?;
            conn.flush().await
        };
        match tokio::time::timeout_at(self.read_deadline(), write).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(()),
        }
    }

    /// Answers `text`, and ends the session after it when `close`.
    async fn answer<S: AsyncWrite + Unpin>(&self, conn: &mut S, text: &str, close: bool) -> Option<End> {
        match (self.reply(conn, text).await, close) {
            (Ok(()), false) => None,
            _ => Some(End::Close),
        }
    }

    /// A wrong command: its answer, and the end of the session once there were too many.
    async fn wrong<S: AsyncWrite + Unpin>(&mut self, conn: &mut S, text: &str) -> Option<End> {
        self.errors += 1;
        if self.errors >= MAX_ERRORS {
            return self.answer(conn, "421 4.7.0 Too many errors, closing\r\n", true).await;
        }
        self.answer(conn, text, false).await
    }

    async fn run<S: AsyncRead + AsyncWrite + Unpin>(&mut self, conn: &mut BufReader<S>) -> End {
        loop {
            let line = match read_line(conn, self.read_deadline()).await {
                Ok(line) => line,
                Err(ReadError::TimedOut) => {
                    let _ = self.reply(conn, "421 4.4.2 Timeout, closing\r\n").await;
                    return End::Close;
                }
                Err(ReadError::TooLong) => {
                    let _ = self.reply(conn, "500 5.5.2 Line too long, closing\r\n").await;
                    return End::Close;
                }
                Err(ReadError::Closed | ReadError::Io) => return End::Close,
            };
            if let Some(end) = self.command(conn, &line).await {
                return end;
            }
        }
    }

    async fn command<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        conn: &mut BufReader<S>,
        line: &[u8],
    ) -> Option<End> {
        match command::parse(line) {
            Command::Ehlo => {
                self.greeted = true;
                self.reset();
                let mut text = format!("250-{}\r\n", self.receiver.domain);
                text.push_str(&format!("250-SIZE {}\r\n", self.receiver.max_message));
                text.push_str("250-8BITMIME\r\n250-SMTPUTF8\r\n250-PIPELINING\r\n");
                if self.receiver.tls.is_some() && !self.tls {
                    text.push_str("250-STARTTLS\r\n");
                }
                text.push_str("250 ENHANCEDSTATUSCODES\r\n");
                self.answer(conn, &text, false).await
            }
            Command::Helo => {
                self.greeted = true;
                self.reset();
                self.answer(conn, &format!("250 {}\r\n", self.receiver.domain), false).await
            }
            Command::Mail { .. } if !self.greeted => self.wrong(conn, "503 5.5.1 Say EHLO first\r\n").await,
            Command::Mail { .. } if self.mail => self.wrong(conn, "503 5.5.1 Nested MAIL command\r\n").await,
            Command::Mail { size: Some(size) } if size > self.receiver.max_message as u64 => {
                self.answer(conn, "552 5.3.4 Message too big\r\n", false).await
            }
            Command::Mail { .. } => {
                self.mail = true;
                self.answer(conn, "250 2.1.0 OK\r\n", false).await
            }
            Command::Rcpt(_) if !self.mail => self.wrong(conn, "503 5.5.1 Need MAIL first\r\n").await,
            Command::Rcpt(_) if self.recipients.len() >= MAX_RECIPIENTS => {
                self.answer(conn, "452 4.5.3 Too many recipients\r\n", false).await
            }
            Command::Rcpt(address) => self.recipient(conn, address).await,
            Command::Data if !self.mail => self.wrong(conn, "503 5.5.1 Need MAIL first\r\n").await,
            Command::Data if self.recipients.is_empty() => {
                self.wrong(conn, "554 5.5.1 No valid recipients\r\n").await
            }
            Command::Data => self.data(conn).await,
            Command::Rset => {
                self.reset();
                self.answer(conn, "250 2.0.0 OK\r\n", false).await
            }
            Command::Noop => self.answer(conn, "250 2.0.0 OK\r\n", false).await,
            Command::Vrfy => self.answer(conn, "252 2.5.0 Cannot VRFY; send to the address\r\n", false).await,
            Command::Help => {
                self.answer(conn, "214 2.0.0 This server takes unsubscribe requests only\r\n", false).await
            }
            Command::Quit => self.answer(conn, "221 2.0.0 Bye\r\n", true).await,
            Command::StartTls if self.receiver.tls.is_none() || self.tls => {
                self.wrong(conn, "502 5.5.1 STARTTLS is not offered\r\n").await
            }
            Command::StartTls => match self.reply(conn, "220 2.0.0 Ready to start TLS\r\n").await {
                Ok(()) => Some(End::StartTls),
                Err(()) => Some(End::Close),
            },
            Command::NotImplemented => self.wrong(conn, "502 5.5.1 Command not implemented\r\n").await,
            Command::Unknown => self.wrong(conn, "500 5.5.2 Command not recognized\r\n").await,
            Command::Syntax(why) => self.wrong(conn, &format!("501 5.5.4 {why}\r\n")).await,
        }
    }

    async fn recipient<S: AsyncWrite + Unpin>(&mut self, conn: &mut S, address: &str) -> Option<End> {
        // Counted before the check: a burst of guesses cannot pass before any counts.
        let Ok(reservation) = self.receiver.failures.reserve(&self.network) else {
            return self
                .answer(conn, "421 4.7.0 Too many invalid recipients, try again later\r\n", true)
                .await;
        };
        match mailto::check(self.cx, address).await {
            Ok(link) => {
                reservation.release();
                self.recipients.push(link);
                self.answer(conn, "250 2.1.5 OK\r\n", false).await
            }
            Err(Refusal::Elsewhere) => self.answer(conn, "550 5.7.1 Relaying denied\r\n", false).await,
            Err(Refusal::Invalid(why)) => {
                self.answer(conn, &format!("550 5.1.1 {}\r\n", one_line(&why)), false).await
            }
            Err(Refusal::Fault(e)) => {
                reservation.release();
                tracing::warn!(error = %e, "SMTP receiver: cannot check a recipient now");
                self.answer(conn, "451 4.3.0 Cannot check this address now, try again later\r\n", false).await
            }
        }
    }

    async fn data<S: AsyncRead + AsyncWrite + Unpin>(&mut self, conn: &mut BufReader<S>) -> Option<End> {
        if let Some(end) = self.answer(conn, "354 End data with <CR><LF>.<CR><LF>\r\n", false).await {
            return Some(end);
        }
        match skip_data(conn, self.receiver.max_message, self.receiver.command_timeout, self.deadline).await {
            Ok(()) => {}
            Err(ReadError::TooLong) => {
                return self.answer(conn, "552 5.3.4 Message too big, closing\r\n", true).await;
            }
            Err(ReadError::TimedOut) => {
                return self.answer(conn, "421 4.4.2 Timeout, closing\r\n", true).await;
            }
            Err(ReadError::Closed | ReadError::Io) => return Some(End::Close),
        }
        let recipients = std::mem::take(&mut self.recipients);
        self.mail = false;
        let evidence = Evidence { client: Some(self.network.clone()), user_agent: None };
        let applied = bounded(self.deadline, async {
            for link in recipients {
                mailto::unsubscribe(self.cx, link, evidence.clone()).await?;
            }
            Ok::<_, crate::error::Error>(())
        })
        .await;
        match applied {
            Some(Ok(())) => self.answer(conn, "250 2.0.0 Unsubscribed\r\n", false).await,
            Some(Err(e)) => {
                tracing::warn!(error = %e, "SMTP receiver: cannot apply an unsubscribe now");
                self.answer(conn, "451 4.3.0 Cannot unsubscribe now, try again later\r\n", false).await
            }
            None => self.answer(conn, "451 4.4.2 Timeout, try again later\r\n", true).await,
        }
    }
}

/// `work`'s outcome, or `None` once `deadline` has passed.
async fn bounded<T>(deadline: Instant, work: impl Future<Output = T>) -> Option<T> {
    tokio::time::timeout_at(deadline, work).await.ok()
}

/// A reply text fit for one line.
fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// One line, without its line break (CRLF, or a bare LF).
async fn read_line<R: AsyncBufRead + Unpin>(reader: &mut R, deadline: Instant) -> Result<Vec<u8>, ReadError> {
    let mut line = Vec::new();
    loop {
        let available = match tokio::time::timeout_at(deadline, reader.fill_buf()).await {
            Err(_) => return Err(ReadError::TimedOut),
            Ok(Err(_)) => return Err(ReadError::Io),
            Ok(Ok([])) => return Err(ReadError::Closed),
            Ok(Ok(available)) => available,
        };
        match memchr::memchr(b'\n', available) {
            Some(end) => {
                if line.len() + end + 1 > MAX_LINE {
                    return Err(ReadError::TooLong);
                }
                line.extend_from_slice(&available[..end]);
                reader.consume(end + 1);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            None => {
                let n = available.len();
                if line.len() + n > MAX_LINE {
                    return Err(ReadError::TooLong);
                }
                line.extend_from_slice(available);
                reader.consume(n);
            }
        }
    }
}

/// Where the reader is in a message's text, for finding its end (`CRLF . CRLF`;
/// nothing else ends it, so no other reading of line ends can smuggle a second
/// message in).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Text {
    LineStart,
    Dot,
    DotCr,
    Middle,
    Cr,
}

impl Text {
    /// The state after `byte`; `None` when the message has ended.
    fn next(self, byte: u8) -> Option<Text> {
        Some(match (self, byte) {
            (Text::DotCr, b'\n') => return None,
            (_, b'\r') => {
                if self == Text::Dot {
                    Text::DotCr
                } else {
                    Text::Cr
                }
            }
            (Text::Cr, b'\n') => Text::LineStart,
            (Text::LineStart, b'.') => Text::Dot,
            _ => Text::Middle,
        })
    }
}

/// Reads a message's text up to its end and throws it away; `TooLong` as soon as it is
/// over `max` bytes. Bytes after the end stay for the next command (pipelining).
async fn skip_data<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    max: usize,
    command_timeout: Duration,
    session_deadline: Instant,
) -> Result<(), ReadError> {
    // The DATA command's own line break came just before.
    let mut state = Text::LineStart;
    let mut size = 0usize;
    loop {
        let deadline = (Instant::now() + command_timeout).min(session_deadline);
        let available = match tokio::time::timeout_at(deadline, reader.fill_buf()).await {
            Err(_) => return Err(ReadError::TimedOut),
            Ok(Err(_)) => return Err(ReadError::Io),
            Ok(Ok([])) => return Err(ReadError::Closed),
            Ok(Ok(available)) => available,
        };
        let mut used = available.len();
        let mut ended = false;
        for (i, &byte) in available.iter().enumerate() {
            match state.next(byte) {
                Some(next) => state = next,
                None => {
                    used = i + 1;
                    ended = true;
                    break;
                }
            }
        }
        reader.consume(used);
        size += used;
        if size > max.saturating_add(5) {
            return Err(ReadError::TooLong);
        }
        if ended {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ends_at(text: &[u8]) -> Option<usize> {
        let mut state = Text::LineStart;
        for (i, &b) in text.iter().enumerate() {
            match state.next(b) {
                Some(next) => state = next,
                None => return Some(i + 1),
            }
        }
        None
    }

    #[test]
    fn only_crlf_dot_crlf_ends_a_message() {
        assert_eq!(ends_at(b".\r\n"), Some(3));
        assert_eq!(ends_at(b"Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n"), Some(23));
        assert_eq!(ends_at(b"..stuffed\r\n.\r\n"), Some(14));
        assert_eq!(ends_at(b"a\n.\nb"), None, "bare LF");
        assert_eq!(ends_at(b"a\r\n.\nb"), None);
        assert_eq!(ends_at(b"a\n.\r\nb"), None);
        assert_eq!(ends_at(b"a\r.\r\n"), None, "bare CR");
        assert_eq!(ends_at(b"a\r\r\n.\r\n"), Some(7));
        assert_eq!(ends_at(b"a.\r\n"), None);
    }

    #[tokio::test]
    async fn lines_and_messages_are_bounded() {
        let far = Instant::now() + Duration::from_secs(5);
        let mut input: &[u8] = b"EHLO a\r\nNOOP\nQUIT\r\n";
        assert_eq!(read_line(&mut input, far).await.ok(), Some(b"EHLO a".to_vec()));
        assert_eq!(read_line(&mut input, far).await.ok(), Some(b"NOOP".to_vec()));
        assert_eq!(read_line(&mut input, far).await.ok(), Some(b"QUIT".to_vec()));
        assert!(matches!(read_line(&mut input, far).await, Err(ReadError::Closed)));
        let long = vec![b'a'; MAX_LINE + 1];
        assert!(matches!(read_line(&mut &long[..], far).await, Err(ReadError::TooLong)));
        let mut message: &[u8] = b"Subject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n";
        assert!(skip_data(&mut message, 100, Duration::from_secs(1), far).await.is_ok());
        assert_eq!(message, b"QUIT\r\n", "what follows is left for the next command");
        let big = [b"x".repeat(200), b"\r\n.\r\n".to_vec()].concat();
        assert!(matches!(
            skip_data(&mut &big[..], 100, Duration::from_secs(1), far).await,
            Err(ReadError::TooLong)
        ));
        assert!(skip_data(&mut &big[..], 200, Duration::from_secs(1), far).await.is_ok());
    }
}
