//! Outgoing mail through lettre: SMTP when configured, else `.eml` files in a folder
//! (the embedded default, and a way to read what would have been sent).

use lettre::message::{header, Mailbox, MultiPart, SinglePart};
use lettre::{FileTransport, Message, SmtpTransport, Transport};

use crate::config::Config;
use crate::error::Error;

/// A message ready to send.
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// `List-Unsubscribe` (and its one-click companion) when the mail offers one.
    pub list_unsubscribe: Option<String>,
}

pub enum Mailer {
    Smtp(SmtpTransport),
    Outbox(FileTransport),
}

impl Mailer {
    pub fn from_config(config: &Config) -> anyhow::Result<(Self, Mailbox)> {
        use anyhow::Context as _;
        let mut from: Mailbox = config.mail_from.parse().context("mail_from")?;
        // The brand names the sender, unless the setting gives a display name itself.
        if from.name.is_none() {
            from.name = config.brand.name.clone();
        }
        let mailer = match &config.smtp_url {
            // lettre's message already ends with its cause: a context would say it twice.
            Some(url) => Mailer::Smtp(
                SmtpTransport::from_url(url).map_err(|e| anyhow::anyhow!("smtp_url: {e}"))?.build(),
            ),
            None => {
                std::fs::create_dir_all(&config.outbox_dir).with_context(|| {
                    format!("cannot create the outbox folder {}", config.outbox_dir.display())
                })?;
                Mailer::Outbox(FileTransport::new(&config.outbox_dir))
            }
        };
        Ok((mailer, from))
    }

    /// Sends one message. Blocking: call it from the blocking pool.
    pub fn send(&self, from: &Mailbox, mail: Mail) -> Result<(), Error> {
        let to: Mailbox =
            mail.to.parse().map_err(|e| Error::invalid("email", format!("cannot mail this address: {e}")))?;
        // A Message-ID of our own domain (the sender's): some filters score mail without
        // one, and lettre's default would name this machine's host name.
        let message_id = format!("<{}@{}>", uuid::Uuid::new_v4().simple(), from.email.domain());
        let mut builder =
            Message::builder().from(from.clone()).to(to).subject(mail.subject).message_id(Some(message_id));
        if let Some(url) = &mail.list_unsubscribe {
            builder = builder
                .raw_header(header::HeaderValue::new(
                    header::HeaderName::new_from_ascii_str("List-Unsubscribe"),
                    format!("<{url}>"),
                ))
                .raw_header(header::HeaderValue::new(
                    header::HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".into(),
                ));
        }
        let message = builder
            .multipart(
                MultiPart::alternative()
                    .singlepart(SinglePart::plain(mail.text))
                    .singlepart(SinglePart::html(mail.html)),
            )
            .map_err(|e| Error::internal("building a message", e))?;
        let sent = match self {
            Mailer::Smtp(smtp) => smtp.send(&message).map(drop).map_err(|e| e.to_string()),
            Mailer::Outbox(outbox) => outbox.send(&message).map(drop).map_err(|e| e.to_string()),
        };
        sent.map_err(|e| Error::Unavailable(format!("mail could not be sent: {e}")))
    }
}
