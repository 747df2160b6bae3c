//! Unsubscribing by mail: the `mailto:` URI in `List-Unsubscribe`, prefcenter's own
//! SMTP receiver driven by a real SMTP client (lettre) and by a raw one on loopback,
//! and the providers' inbound routes fed their documented shapes
//! (`tests/fixtures/inbound/`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::providers::{fixture, sns, verifying, MAILGUN_KEY};
use crate::support::{each_backend, Served, TestApp, TestDb};
use prefcenter::config::SmtpReceiver;
use prefcenter::Config;

const DOMAIN: &str = "unsub.example.com";

fn mail_domain(config: &mut Config) {
    config.unsubscribe_mail_domain = Some(DOMAIN.into());
}

fn receiver(config: &mut Config) {
    mail_domain(config);
    config.smtp_receiver = Some(SmtpReceiver {
        listen: "127.0.0.1:0".into(),
        tls: None,
        max_sessions: 8,
        max_message: 64 * 1024,
        command_timeout_ms: 10_000,
        session_timeout_ms: 30_000,
    });
}

/// Small limits, so that cutting a session takes a fraction of a second.
fn tight(config: &mut Config) {
    receiver(config);
    let settings = config.smtp_receiver.as_mut().unwrap();
    settings.max_sessions = 2;
    settings.max_message = 2048;
    settings.command_timeout_ms = 300;
    settings.session_timeout_ms = 1500;
}

fn with_tls(config: &mut Config) {
    receiver(config);
    config.smtp_receiver.as_mut().unwrap().tls = Some(certificate().clone());
}

fn inbound(config: &mut Config) {
    mail_domain(config);
    verifying(config);
}

/// A self-signed certificate (P-256) for the unsubscribe domain, and its key, as PEM
/// files: made once a run.
fn certificate() -> &'static (std::path::PathBuf, std::path::PathBuf) {
    static FILES: OnceLock<(tempfile::TempDir, (std::path::PathBuf, std::path::PathBuf))> = OnceLock::new();
    &FILES
        .get_or_init(|| {
            use base64::Engine;
            use p256::pkcs8::EncodePrivateKey;
            use std::str::FromStr;
            use x509_cert::builder::{Builder, CertificateBuilder, Profile};
            use x509_cert::der::EncodePem;

            let key = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
            let name = x509_cert::name::Name::from_str(&format!("CN={DOMAIN}")).unwrap();
            // A server's certificate, self-signed: a root's would not sign TLS handshakes.
            let profile = Profile::Leaf {
                issuer: name.clone(),
                enable_key_agreement: false,
                enable_key_encipherment: false,
            };
            let certificate = CertificateBuilder::new(
                profile,
                x509_cert::serial_number::SerialNumber::from(7u32),
                x509_cert::time::Validity::from_now(Duration::from_secs(86_400)).unwrap(),
                name,
                x509_cert::spki::SubjectPublicKeyInfoOwned::from_key(*key.verifying_key()).unwrap(),
                &key,
            )
            .unwrap()
            .build::<p256::ecdsa::DerSignature>()
            .unwrap();
            let der = key.to_pkcs8_der().unwrap();
            let encoded = base64::engine::general_purpose::STANDARD.encode(der.as_bytes());
            let lines: Vec<&str> =
                encoded.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
            let key_pem =
                format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", lines.join("\n"));
            let dir = tempfile::tempdir().unwrap();
            let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
            std::fs::write(&cert_path, certificate.to_pem(Default::default()).unwrap()).unwrap();
            std::fs::write(&key_path, key_pem).unwrap();
            (dir, (cert_path, key_path))
        })
        .1
}

/// The `List-Unsubscribe` of an allowed check.
fn list_unsubscribe(app: &TestApp, email: &str) -> String {
    let reply =
        app.post("/v1/check").json(json!({"email": email, "topic": "news", "message_id": "m-7"})).send();
    assert_eq!(reply.status, 200, "{}", reply.body);
    let decision = reply.json();
    assert_eq!(decision["allowed"], true, "{decision}");
    decision["headers"]["List-Unsubscribe"].as_str().unwrap().to_owned()
}

/// The mailbox of a header `<mailto:u-…@DOMAIN?subject=unsubscribe>, <http…>`.
fn mailbox(header: &str) -> String {
    let mailto = header.strip_prefix("<mailto:").unwrap_or_else(|| panic!("no mailto: first in {header}"));
    mailto.split_once("?subject=unsubscribe>, <").unwrap_or_else(|| panic!("{header}")).0.to_owned()
}

/// Asserts the header's shape: the `mailto:` URI, then the HTTPS one.
fn assert_both_uris(app: &TestApp, header: &str) {
    let address = mailbox(header);
    let (local, domain) = address.split_once('@').unwrap();
    assert_eq!(domain, DOMAIN);
    assert_eq!(local.len(), 64, "{local}");
    assert!(local.starts_with("u-"), "{local}");
    assert!(local[2..].bytes().all(|c| c.is_ascii_lowercase() || (b'2'..=b'7').contains(&c)), "{local}");
    let url = header.split_once(", <").unwrap().1;
    assert!(url.starts_with(&format!("{}/u/", app.base())) && url.ends_with('>'), "{header}");
}

/// Every event of the change feed.
fn changes(app: &TestApp) -> Vec<Value> {
    let reply = app.get("/v1/changes?after=0&limit=1000").send();
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["events"].as_array().unwrap().clone()
}

/// Apple Mail's unsubscribe message: an empty subject and its generated sentence.
fn apple_mail(to: &str) -> lettre::Message {
    lettre::Message::builder()
        .from("Alice <alice@example.com>".parse().unwrap())
        .to(to.parse().unwrap())
        .subject("")
        .body(String::from(
            "This message was automatically generated by Mail to unsubscribe you from the message \"News\".",
        ))
        .unwrap()
}

fn transport(address: SocketAddr, tls: lettre::transport::smtp::client::Tls) -> lettre::SmtpTransport {
    lettre::SmtpTransport::builder_dangerous(address.ip().to_string())
        .port(address.port())
        .hello_name(lettre::transport::smtp::extension::ClientId::Domain("iphone.example.com".into()))
        .tls(tls)
        .timeout(Some(Duration::from_secs(10)))
        .build()
}

/// A raw SMTP client, for what a well-behaved one would never send.
struct Smtp {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Smtp {
    /// Connects and reads the greeting.
    fn connect(address: SocketAddr) -> (Self, String) {
        let stream = TcpStream::connect(address).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut smtp = Smtp { writer: stream.try_clone().unwrap(), reader: BufReader::new(stream) };
        let greeting = smtp.reply();
        (smtp, greeting)
    }

    /// A reply, all its lines; empty when the server closed the connection.
    fn reply(&mut self) -> String {
        let mut reply = String::new();
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line).unwrap_or(0) == 0 {
                return reply;
            }
            reply.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return reply;
            }
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        // The server may have closed already; what it answered is what counts.
        let _ = self.writer.write_all(bytes);
    }

    fn send(&mut self, command: &str) -> String {
        self.write(format!("{command}\r\n").as_bytes());
        self.reply()
    }

    /// Greets and opens a transaction.
    fn begin(&mut self) {
        assert!(self.send("EHLO client.example").starts_with("250-"));
        assert!(self.send("MAIL FROM:<alice@example.com>").starts_with("250 "));
    }

    /// A new transaction to `address` in the same session, up to DATA's 354.
    fn begin_again(&mut self, address: &str) {
        assert!(self.send("RSET").starts_with("250 "));
        assert!(self.send("MAIL FROM:<alice@example.com>").starts_with("250 "));
        assert!(self.send(&format!("RCPT TO:<{address}>")).starts_with("250 "));
        assert!(self.send("DATA").starts_with("354 "));
    }

    /// Whether the server has closed the connection (within the read timeout).
    fn closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.reader.read(&mut byte), Ok(0) | Err(_))
    }
}

/// Flips one symbol of a `u-TOKEN@DOMAIN` address's token.
fn tampered(address: &str) -> String {
    let mut bytes = address.as_bytes().to_vec();
    bytes[20] = if bytes[20] == b'a' { b'b' } else { b'a' };
    String::from_utf8(bytes).unwrap()
}

each_backend! {
    fn headers_carry_the_mailto_uri_first_when_a_domain_is_set(app) with mail_domain {
        app.topics().create();
        let header = list_unsubscribe(&app, "alice@example.com");
        assert_both_uris(&app, &header);
        let batch = app
            .post("/v1/check/batch")
            .json(json!({"topic": "news", "emails": ["a@example.com", "not an address", "B@Example.com"]}))
            .send();
        assert_eq!(batch.status, 200, "{}", batch.body);
        let results = batch.json()["results"].as_array().unwrap().clone();
        assert_both_uris(&app, results[0]["headers"]["List-Unsubscribe"].as_str().unwrap());
        assert_both_uris(&app, results[2]["headers"]["List-Unsubscribe"].as_str().unwrap());
        assert_eq!(results[2]["headers"]["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click");
        assert_ne!(mailbox(results[0]["headers"]["List-Unsubscribe"].as_str().unwrap()),
                   mailbox(results[2]["headers"]["List-Unsubscribe"].as_str().unwrap()));
        let links = app.post("/v1/links").json(json!({"email": "alice@example.com", "topic": "news"})).send();
        assert_eq!(links.status, 200, "{}", links.body);
        let links = links.json();
        assert_both_uris(&app, links["headers"]["List-Unsubscribe"].as_str().unwrap());
        assert_eq!(links["headers"]["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click");
        // The same address and topic make the same mailbox, whichever route signs it.
        assert_eq!(mailbox(links["headers"]["List-Unsubscribe"].as_str().unwrap()), mailbox(&header));
        // Mail that needs no unsubscribe gets no header at all.
        let receipt = app.post("/v1/check").json(json!({"email": "alice@example.com", "topic": "receipts"})).send();
        assert_eq!(receipt.json()["headers"], json!({}));
    }

    fn headers_carry_only_the_https_uri_without_a_domain(app) {
        app.topics().create();
        let header = list_unsubscribe(&app, "alice@example.com");
        assert!(header.starts_with(&format!("<{}/u/", app.base())), "{header}");
        assert!(!header.contains("mailto") && !header.contains(", "), "{header}");
    }

    fn an_apple_mail_message_to_the_mailbox_unsubscribes(app) with receiver {
        app.topics().create();
        app.contact("bob@example.com", json!({}));
        let to_alice = mailbox(&list_unsubscribe(&app, "alice@example.com"));
        let to_bob = mailbox(&list_unsubscribe(&app, "bob@example.com"));
        let client = transport(app.smtp(), lettre::transport::smtp::client::Tls::None);
        use lettre::Transport;
        let sent = client.send(&apple_mail(&to_alice)).expect("the receiver takes the message");
        assert_eq!(sent.code().to_string(), "250");
        // Upper case, as a relay may have written it, is the same mailbox.
        client.send(&apple_mail(&to_bob.to_ascii_uppercase())).expect("the receiver takes the message");
        assert_eq!(app.reason("alice@example.com", "news"), "unsubscribed_topic");
        assert_eq!(app.reason("bob@example.com", "news"), "unsubscribed_topic");
        assert_eq!(app.reason("alice@example.com", "offers"), "no_consent", "only the topic named");
        let mailed: Vec<Value> = changes(&app).into_iter().filter(|e| e["source"] == "mailto").collect();
        assert_eq!(mailed.len(), 2 + 1, "two unsubscribes, and the contact made for alice's hash: {mailed:?}");
        let bob = app.events("bob@example.com");
        let last = bob.last().unwrap();
        assert_eq!((&last["source"], &last["topic"], &last["status"]), (&json!("mailto"), &json!("news"), &json!("unsubscribed")), "{last}");
        assert_eq!(last["message_id"], Value::Null, "a mail token carries no message id");
        // Sending again changes nothing more.
        client.send(&apple_mail(&to_alice)).expect("the receiver takes the message");
        assert_eq!(changes(&app).into_iter().filter(|e| e["source"] == "mailto").count(), 3);
    }

    fn a_tampered_or_foreign_recipient_is_refused_at_rcpt(app) with receiver {
        app.topics().create();
        let address = mailbox(&list_unsubscribe(&app, "alice@example.com"));
        let before = changes(&app).len();
        let (mut smtp, greeting) = Smtp::connect(app.smtp());
        assert!(greeting.starts_with(&format!("220 {DOMAIN} ")), "{greeting}");
        smtp.begin();
        assert!(smtp.send(&format!("RCPT TO:<{}>", tampered(&address))).starts_with("550 5.1.1 "));
        let foreign = address.replace(DOMAIN, "other.example.org");
        assert!(smtp.send(&format!("RCPT TO:<{foreign}>")).starts_with("550 5.7.1 "), "never relayed");
        assert!(smtp.send(&format!("RCPT TO:<postmaster@{DOMAIN}>")).starts_with("550 5.1.1 "));
        let cut = format!("{}@{DOMAIN}", &address[..40]);
        assert!(smtp.send(&format!("RCPT TO:<{cut}>")).starts_with("550 5.1.1 "));
        assert!(smtp.send("DATA").starts_with("554 5.5.1 "), "no valid recipient, no message");
        assert!(smtp.send("QUIT").starts_with("221 "));
        assert_eq!(changes(&app).len(), before);
        assert_eq!(app.reason("alice@example.com", "news"), "default_subscribed");
    }

    fn a_session_that_never_sends_data_changes_nothing(app) with receiver {
        app.topics().create();
        let address = mailbox(&list_unsubscribe(&app, "alice@example.com"));
        let before = changes(&app).len();
        let (mut smtp, _) = Smtp::connect(app.smtp());
        smtp.begin();
        assert!(smtp.send(&format!("RCPT TO:<{address}>")).starts_with("250 2.1.5 "));
        assert!(smtp.send("RSET").starts_with("250 "));
        assert!(smtp.send("MAIL FROM:<>").starts_with("250 "));
        assert!(smtp.send(&format!("RCPT TO:<{address}>")).starts_with("250 "));
        assert!(smtp.send("QUIT").starts_with("221 "));
        // A message cut off before its end counts for nothing either.
        let (mut smtp, _) = Smtp::connect(app.smtp());
        smtp.begin();
        assert!(smtp.send(&format!("RCPT TO:<{address}>")).starts_with("250 "));
        assert!(smtp.send("DATA").starts_with("354 "));
        smtp.write(b"Subject: \r\n\r\nThis message was automatically generated by Mail");
        drop(smtp);
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(changes(&app).len(), before);
        assert_eq!(app.reason("alice@example.com", "news"), "default_subscribed");
    }

    fn over_size_and_slow_sessions_are_cut(app) with tight {
        app.topics().create();
        let address = mailbox(&list_unsubscribe(&app, "alice@example.com"));
        let before = changes(&app).len();

        // A declared size over the limit is refused before any text.
        let (mut smtp, _) = Smtp::connect(app.smtp());
        assert!(smtp.send("EHLO client.example").contains("250-SIZE 2048\r\n"));
        assert!(smtp.send("MAIL FROM:<a@example.com> SIZE=100000").starts_with("552 5.3.4 "));
        // Text over the limit closes the session, and unsubscribes no one.
        assert!(smtp.send("MAIL FROM:<a@example.com>").starts_with("250 "));
        assert!(smtp.send(&format!("RCPT TO:<{address}>")).starts_with("250 "));
        assert!(smtp.send("DATA").starts_with("354 "));
        smtp.write(&b"x".repeat(4096));
        smtp.write(b"\r\n.\r\n");
        assert!(smtp.reply().starts_with("552 5.3.4 "));
        assert!(smtp.closed());

        // A line over the limit closes the session.
        let (mut smtp, _) = Smtp::connect(app.smtp());
        smtp.write(&b"N".repeat(3000));
        assert!(smtp.reply().starts_with("500 5.5.2 "));
        assert!(smtp.closed());

        // A client that says nothing is cut after the command timeout…
        let started = Instant::now();
        let (mut smtp, _) = Smtp::connect(app.smtp());
        assert!(smtp.reply().starts_with("421 4.4.2 "));
        assert!(smtp.closed());
        assert!(started.elapsed() < Duration::from_secs(5));
        // …and one that keeps talking, after the session timeout.
        let (mut smtp, _) = Smtp::connect(app.smtp());
        let mut answered = 0;
        loop {
            let reply = smtp.send("NOOP");
            if !reply.starts_with("250 ") {
                assert!(reply.starts_with("421 4.4.2 ") || reply.is_empty(), "{reply}");
                break;
            }
            answered += 1;
            assert!(answered < 100, "the session was never cut");
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(smtp.closed());

        // Sessions beyond the bound are turned away with 421 while two are open.
        let (_first, _) = Smtp::connect(app.smtp());
        let (_second, _) = Smtp::connect(app.smtp());
        let (_third, greeting) = Smtp::connect(app.smtp());
        assert!(greeting.starts_with("421 4.3.2 "), "{greeting}");

        assert_eq!(changes(&app).len(), before);
        assert_eq!(app.reason("alice@example.com", "news"), "default_subscribed");
    }

    fn guessing_recipients_is_limited_per_network(app) with receiver {
        app.topics().create();
        let address = mailbox(&list_unsubscribe(&app, "alice@example.com"));
        let (mut smtp, _) = Smtp::connect(app.smtp());
        smtp.begin();
        let mut refused = 0;
        let last = loop {
            let reply = smtp.send(&format!("RCPT TO:<{}>", tampered(&address)));
            if !reply.starts_with("550 ") {
                break reply;
            }
            refused += 1;
            assert!(refused <= 20, "guesses are never limited");
        };
        assert!(last.starts_with("421 4.7.0 "), "{last}");
        assert!(smtp.closed());
        // The network stays limited for a while, even for a valid address.
        let (mut smtp, _) = Smtp::connect(app.smtp());
        smtp.begin();
        assert!(smtp.send(&format!("RCPT TO:<{address}>")).starts_with("421 4.7.0 "));
    }

    fn starttls_with_a_self_signed_certificate(app) with with_tls {
        app.topics().create();
        let address = mailbox(&list_unsubscribe(&app, "alice@example.com"));
        let (mut smtp, _) = Smtp::connect(app.smtp());
        assert!(smtp.send("EHLO client.example").contains("250-STARTTLS\r\n"));
        // A command sent in the clear after STARTTLS must not run: the session ends.
        smtp.write(b"STARTTLS\r\nRCPT TO:<x@unsub.example.com>\r\n");
        assert!(smtp.reply().starts_with("220 "));
        assert!(smtp.closed());

        use lettre::transport::smtp::client::{Tls, TlsParameters};
        use lettre::Transport;
        let tls = TlsParameters::builder(DOMAIN.into()).dangerous_accept_invalid_certs(true).build_native().unwrap();
        transport(app.smtp(), Tls::Required(tls)).send(&apple_mail(&address)).expect("delivered over TLS");
        assert_eq!(app.reason("alice@example.com", "news"), "unsubscribed_topic");
    }

    fn starttls_is_not_offered_without_a_certificate(app) with receiver {
        let (mut smtp, _) = Smtp::connect(app.smtp());
        assert!(!smtp.send("EHLO client.example").contains("STARTTLS"));
        assert!(smtp.send("STARTTLS").starts_with("502 "));
        assert!(smtp.send("AUTH PLAIN AGFhAGI=").starts_with("502 "));
        assert!(smtp.send("HELP").starts_with("214 "));
        assert!(smtp.send("VRFY u-x").starts_with("252 "));
        assert!(smtp.send("RCPT TO:<a@b.example>").starts_with("503 "), "no MAIL yet");
        assert!(smtp.send("QUIT").starts_with("221 "));
    }

    fn ses_inbound_unsubscribes_the_recipients(app) with inbound {
        app.topics().create();
        let address = mailbox(&list_unsubscribe(&app, "alice@example.com"));
        let message = fixture("inbound/ses-received.json").replace("{{RECIPIENT}}", &address);
        let signed = sns("ses/envelope-notification.json", Some(&message), 2);
        let reply = app.post("/v1/inbound/ses").body("text/plain; charset=UTF-8", signed.to_string()).send();
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.json(), json!({"received": 1, "applied": 1, "ignored": 0, "failed": 0, "errors": []}));
        assert_eq!(app.reason("alice@example.com", "news"), "unsubscribed_topic");
        // Unsigned, with the SNS certificate configured: refused, nothing changes.
        let mut unsigned = sns("ses/envelope-notification.json", Some(&message), 2);
        unsigned["Signature"] = json!("AAAA");
        app.post("/v1/inbound/ses").body("text/plain", unsigned.to_string()).send().problem(401, "invalid_signature");
        let confirmation = sns("ses/envelope-subscription-confirmation.json", None, 1);
        let reply = app.post("/v1/inbound/ses").body("text/plain", confirmation.to_string()).send();
        assert_eq!(reply.json()["subscription"], "pending_confirmation", "{}", reply.body);
    }

    fn sendgrid_inbound_parse_unsubscribes_the_recipients(app) with inbound {
        app.topics().create();
        let address = mailbox(&list_unsubscribe(&app, "alice@example.com"));
        let post = |recipient: &str| {
            let body = fixture("inbound/sendgrid-parse.txt").replace('\n', "\r\n").replace("{{RECIPIENT}}", recipient);
            app.post("/v1/inbound/sendgrid").body("multipart/form-data; boundary=xYzZY", body).send()
        };
        let wrong = post(&tampered(&address));
        assert_eq!(wrong.status, 200, "{}", wrong.body);
        assert_eq!(wrong.json()["failed"], 1);
        assert_eq!(wrong.json()["errors"][0]["recipient"], tampered(&address));
        assert_eq!(app.reason("alice@example.com", "news"), "default_subscribed");
        assert_eq!(post("someone@elsewhere.example").json()["ignored"], 1);
        let reply = post(&address);
        assert_eq!(reply.json(), json!({"received": 1, "applied": 1, "ignored": 0, "failed": 0, "errors": []}));
        assert_eq!(app.reason("alice@example.com", "news"), "unsubscribed_topic");
        app.post("/v1/inbound/sendgrid").json(json!({"envelope": {}})).send().problem(400, "malformed");
    }

    fn mailgun_routes_unsubscribe_the_recipients(app) with inbound {
        app.topics().create();
        let fields = |recipient: &str, signature: Option<&str>| -> Vec<(String, String)> {
            let template: Value = serde_json::from_str(&fixture("inbound/mailgun-forward.json")).unwrap();
            template.as_object().unwrap().iter().map(|(k, v)| {
                let value = v.as_str().unwrap().replace("{{RECIPIENT}}", recipient);
                let signed = {
                    use hmac::Mac;
                    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(MAILGUN_KEY.as_bytes()).unwrap();
                    mac.update(template["timestamp"].as_str().unwrap().as_bytes());
                    mac.update(template["token"].as_str().unwrap().as_bytes());
                    hex::encode(mac.finalize().into_bytes())
                };
                (k.clone(), value.replace("{{SIGNATURE}}", signature.unwrap_or(&signed)))
            }).collect()
        };
        let alice = mailbox(&list_unsubscribe(&app, "alice@example.com"));
        let form: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields(&alice, None)).finish();
        let reply = app.post("/v1/inbound/mailgun").body("application/x-www-form-urlencoded", form).send();
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.json()["applied"], 1, "{}", reply.body);
        assert_eq!(app.reason("alice@example.com", "news"), "unsubscribed_topic");
        // With attachments Mailgun posts multipart.
        let bob = mailbox(&list_unsubscribe(&app, "bob@example.com"));
        let mut body = String::new();
        for (name, value) in fields(&bob, None) {
            body.push_str(&format!("--b0undary\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"));
        }
        body.push_str("--b0undary\r\nContent-Disposition: form-data; name=\"attachment-1\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b0undary--\r\n");
        let reply = app.post("/v1/inbound/mailgun").body("multipart/form-data; boundary=b0undary", body).send();
        assert_eq!(reply.json()["applied"], 1, "{}", reply.body);
        assert_eq!(app.reason("bob@example.com", "news"), "unsubscribed_topic");
        // A wrong signature is refused and changes nothing.
        let carol = mailbox(&list_unsubscribe(&app, "carol@example.com"));
        let forged: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields(&carol, Some(&"0".repeat(64)))).finish();
        app.post("/v1/inbound/mailgun").body("application/x-www-form-urlencoded", forged).send().problem(401, "invalid_signature");
        assert_eq!(app.reason("carol@example.com", "news"), "default_subscribed");
    }

    fn postmark_inbound_unsubscribes_the_recipients(app) with inbound {
        app.topics().create();
        let address = mailbox(&list_unsubscribe(&app, "alice@example.com"));
        let body = fixture("inbound/postmark-inbound.json").replace("{{RECIPIENT}}", &address);
        let reply = app.post("/v1/inbound/postmark").body("application/json", body).send();
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.json(), json!({"received": 1, "applied": 1, "ignored": 0, "failed": 0, "errors": []}));
        assert_eq!(app.reason("alice@example.com", "news"), "unsubscribed_topic");
        app.post("/v1/inbound/postmark").json(json!({"Subject": "x"})).send().problem(400, "malformed");
        // Only an API key with the suppressions scope may post.
        let check = app.key(&["check"]);
        app.post("/v1/inbound/postmark").key(&check).json(json!({})).send().problem(403, "forbidden");
    }

    fn the_binary_starts_and_stops_the_receiver_with_the_server(db: TestDb) {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let listen = format!("127.0.0.1:{port}");
        let served = Served::start_with(
            db.url(),
            &[("PREFCENTER_UNSUBSCRIBE_MAIL_DOMAIN", DOMAIN), ("PREFCENTER_SMTP_LISTEN", &listen)],
        );
        served.wait_for("the SMTP receiver takes unsubscribe mail");
        let (mut smtp, greeting) = Smtp::connect(listen.parse().unwrap());
        assert!(greeting.starts_with(&format!("220 {DOMAIN} ")), "{greeting}");
        assert!(smtp.send("QUIT").starts_with("221 "));
        assert!(served.terminate().success());
        assert!(TcpStream::connect(&listen).is_err(), "the receiver stopped with the server");
    }

    /// What the receiver answered 250 to is durable: SIGKILL loses none of it.
    fn acknowledged_mail_unsubscribes_survive_kill_9(app) with mail_domain {
        app.topics().create();
        let addresses: Vec<(String, String)> = (0..60)
            .map(|n| {
                let email = format!("k{n}@example.com");
                let address = mailbox(&list_unsubscribe(&app, &email));
                (email, address)
            })
            .collect();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let listen = format!("127.0.0.1:{port}");
        let served = Served::start_with(
            app.db.url(),
            &[("PREFCENTER_UNSUBSCRIBE_MAIL_DOMAIN", DOMAIN), ("PREFCENTER_SMTP_LISTEN", &listen)],
        );
        served.wait_for("prefcenter is serving");
        crate::support::wait_until_ready(&served.base);
        let acknowledged = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for chunk in addresses.chunks(20) {
                let (acknowledged, listen) = (&acknowledged, &listen);
                scope.spawn(move || {
                    for (email, address) in chunk {
                        let Ok(stream) = TcpStream::connect(listen) else { return };
                        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                        let mut smtp = Smtp { writer: stream.try_clone().unwrap(), reader: BufReader::new(stream) };
                        if !smtp.reply().starts_with("220") {
                            return;
                        }
                        let steps = ["EHLO client.example".to_owned(), "MAIL FROM:<>".into(), format!("RCPT TO:<{address}>")];
                        if !steps.iter().all(|s| smtp.send(s).starts_with("250")) || !smtp.send("DATA").starts_with("354") {
                            return;
                        }
                        if smtp.send("Subject: \r\n\r\nUnsubscribe me\r\n.").starts_with("250 ") {
                            acknowledged.lock().unwrap().push(email.clone());
                        }
                    }
                });
            }
            std::thread::sleep(Duration::from_millis(300));
            served.kill();
        });
        let acknowledged = acknowledged.into_inner().unwrap();
        assert!(!acknowledged.is_empty(), "no message was answered 250 before the kill");
        let again = Served::start(app.db.url());
        again.wait_for("prefcenter is serving");
        crate::support::wait_until_ready(&again.base);
        let client = reqwest::blocking::Client::new();
        for email in &acknowledged {
            let check = client
                .post(format!("{}/v1/check", again.base))
                .bearer_auth(&app.admin)
                .json(&json!({"email": email, "topic": "news"}))
                .send()
                .unwrap();
            let body: Value = check.json().unwrap();
            assert_eq!(body["reason"], "unsubscribed_topic", "{email} was answered 250, then lost: {body}");
        }
        again.kill();
    }
}

/// A database that stops answering never hangs a session and never makes a 250: the
/// receiver answers 451, and the sender's server tries again.
#[test]
#[cfg_attr(not(postgres_tests), ignore = "PREFCENTER_TEST_DATABASE_URL was not set at build time")]
fn a_frozen_database_gets_451_within_a_bound() {
    let (app, proxy) = crate::faults::proxied(|config| {
        receiver(config);
        config.database_timeout_ms = 1000;
    });
    app.topics().create();
    let address = mailbox(&list_unsubscribe(&app, "alice@example.com"));
    let (mut smtp, _) = Smtp::connect(app.smtp());
    smtp.begin();
    proxy.freeze();
    let started = Instant::now();
    let rcpt = smtp.send(&format!("RCPT TO:<{address}>"));
    assert!(rcpt.starts_with("451 4.3.0 "), "{rcpt}");
    assert!(started.elapsed() < Duration::from_secs(8), "{:?}", started.elapsed());
    // A tampered address needs no database to be refused.
    assert!(smtp.send(&format!("RCPT TO:<{}>", tampered(&address))).starts_with("550 "));
    proxy.thaw();
    crate::support::wait_until_ready(app.base());
    assert!(smtp.send(&format!("RCPT TO:<{address}>")).starts_with("250 "));
    proxy.freeze();
    assert!(smtp.send("DATA").starts_with("354 "));
    let started = Instant::now();
    let data = smtp.send("Subject: \r\n\r\nUnsubscribe me\r\n.");
    assert!(data.starts_with("451 "), "{data}");
    assert!(started.elapsed() < Duration::from_secs(8), "{:?}", started.elapsed());
    proxy.thaw();
    crate::support::wait_until_ready(app.base());
    // The sender's server tries again, and now it is done.
    smtp.begin_again(&address);
    assert!(smtp.send("Subject: \r\n\r\nUnsubscribe me\r\n.").starts_with("250 "));
    assert_eq!(app.reason("alice@example.com", "news"), "unsubscribed_topic");
}
