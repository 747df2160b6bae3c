//! prefcenter's own SMTP receiver (`PREFCENTER_SMTP_LISTEN`): the MX of the
//! unsubscribe domain. It takes mail for `u-TOKEN@DOMAIN` only, and only to act on
//! it: it never relays, never sends, and keeps nothing of a message. See
//! [`session`] for the protocol and its limits; the unsubscribe itself is
//! `service::mailto`'s, the same as the providers' inbound routes use.

pub mod command;
mod session;

use std::net::TcpListener;
use std::sync::{Arc, Weak};
use std::time::Duration;

use anyhow::Context as _;

use crate::config::SmtpReceiver;
use crate::service::api_keys::Failures;
use crate::service::Context;

/// What every session of one receiver shares.
pub(crate) struct Receiver {
    domain: String,
    tls: Option<tokio_native_tls::TlsAcceptor>,
    max_message: usize,
    command_timeout: Duration,
    session_timeout: Duration,
    /// Invalid recipients per client network, as wrong API keys are counted.
    failures: Failures,
}

impl Receiver {
    /// Reads the settings; the certificate and key when STARTTLS is configured.
    pub(crate) fn new(domain: &str, settings: &SmtpReceiver) -> anyhow::Result<Self> {
        let tls = match &settings.tls {
            Some((cert, key)) => {
                let read = |path: &std::path::Path, what: &str| {
                    std::fs::read(path).with_context(|| format!("{what}: cannot read {}", path.display()))
                };
                let cert = read(cert, "PREFCENTER_SMTP_TLS_CERT")?;
                let key = read(key, "PREFCENTER_SMTP_TLS_KEY")?;
                let identity = native_tls::Identity::from_pkcs8(&cert, &key).context(
                    "PREFCENTER_SMTP_TLS_CERT and _KEY: a PEM certificate and its PKCS#8 PEM key are needed",
                )?;
                let acceptor = native_tls::TlsAcceptor::builder(identity)
                    .min_protocol_version(Some(native_tls::Protocol::Tlsv12))
                    .build()
                    .context("STARTTLS")?;
                Some(acceptor.into())
            }
            None => None,
        };
        Ok(Self {
            domain: domain.to_owned(),
            tls,
            max_message: settings.max_message,
            command_timeout: Duration::from_millis(settings.command_timeout_ms),
            session_timeout: Duration::from_millis(settings.session_timeout_ms),
            failures: Failures::default(),
        })
    }
}

/// Serves SMTP on `listener` until the context is gone (the server stopped), on the
/// current (actix) runtime. At most `max_sessions` sessions at once; a client beyond
/// them is answered 421, which tells its server to try again later.
pub(crate) fn spawn(
    cx: Weak<Context>,
    receiver: Receiver,
    listener: TcpListener,
    max_sessions: usize,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let receiver = Arc::new(receiver);
    let sessions = Arc::new(tokio::sync::Semaphore::new(max_sessions));
    actix_web::rt::spawn(async move {
        loop {
            // The context is checked between connections and every second, so that
            // the receiver stops with the server even when no one connects.
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = tokio::time::sleep(Duration::from_secs(1)) => {
                    if cx.strong_count() == 0 { break } else { continue }
                }
            };
            let Some(cx) = cx.upgrade() else { break };
            let Ok((mut tcp, peer)) = accepted else { continue };
            let receiver = receiver.clone();
            match sessions.clone().try_acquire_owned() {
                Ok(permit) => {
                    actix_web::rt::spawn(async move {
                        session::serve(cx, receiver, tcp, peer.ip()).await;
                        drop(permit);
                    });
                }
                Err(_) => {
                    actix_web::rt::spawn(async move {
                        use tokio::io::AsyncWriteExt;
                        let busy = tcp.write_all(b"421 4.3.2 Too busy, try again later\r\n");
                        let _ = tokio::time::timeout(Duration::from_secs(5), busy).await;
                    });
                }
            }
        }
    });
    Ok(())
}
