//! Feedback from mail providers, fed their published example payloads
//! (`tests/fixtures/`), signed here with keys generated for this run.

use std::sync::OnceLock;

use base64::Engine;
use p256::pkcs8::EncodePublicKey;
use rsa::signature::{SignatureEncoding, Signer};
use serde_json::{json, Value};

use crate::support::{each_backend, TestApp, TopicBuilder};
use prefcenter::config::FeedbackTopic;
use prefcenter::domain::TopicKey;

pub(crate) const MAILGUN_KEY: &str = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0";
const SNS_TOPIC: &str = "arn:aws:sns:us-west-2:123456789012:MyTopic";

pub(crate) fn fixture(path: &str) -> String {
    let path = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

struct Keys {
    sns: rsa::RsaPrivateKey,
    sns_certificate: std::path::PathBuf,
    sendgrid: p256::ecdsa::SigningKey,
    _dir: tempfile::TempDir,
}

/// Generated once a run: an RSA key with a self-signed certificate standing in for
/// SNS's, and a P-256 key standing in for SendGrid's.
fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        use std::str::FromStr;
        use x509_cert::builder::{Builder, CertificateBuilder, Profile};
        use x509_cert::der::EncodePem;

        let sns = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
        let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(sns.clone());
        let certificate = CertificateBuilder::new(
            Profile::Root,
            x509_cert::serial_number::SerialNumber::from(1u32),
            x509_cert::time::Validity::from_now(std::time::Duration::from_secs(86_400)).unwrap(),
            x509_cert::name::Name::from_str("CN=sns.us-west-2.amazonaws.com").unwrap(),
            x509_cert::spki::SubjectPublicKeyInfoOwned::from_key(sns.to_public_key()).unwrap(),
            &signer,
        )
        .unwrap()
        .build::<rsa::pkcs1v15::Signature>()
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let sns_certificate = dir.path().join("sns.pem");
        std::fs::write(&sns_certificate, certificate.to_pem(Default::default()).unwrap()).unwrap();
        let sendgrid = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
        Keys { sns, sns_certificate, sendgrid, _dir: dir }
    })
}

/// Signatures checked for every provider, and providers' groups mapped to topics.
pub(crate) fn verifying(config: &mut prefcenter::Config) {
    let keys = keys();
    config.sns_certificates = Some(keys.sns_certificate.clone());
    let sendgrid_public = keys.sendgrid.verifying_key().to_public_key_der().unwrap();
    config.sendgrid_verification_key = Some(b64(sendgrid_public.as_bytes()));
    config.mailgun_signing_key = Some(MAILGUN_KEY.into());
    let map = |provider: &str, group: &str, topic: &str| FeedbackTopic {
        provider: provider.parse().unwrap(),
        group: group.into(),
        topic: TopicKey::parse(topic).unwrap(),
    };
    config.feedback_topics = vec![
        map("sendgrid", "10", "news"),
        map("postmark", "broadcasts", "offers"),
        map("mailgun", "weekly", "news"),
    ];
}

/// The events a provider's feedback made, as (address, type, reason or topic) sorted.
fn events_from(app: &TestApp, provider: &str) -> Vec<(String, String, String)> {
    let page = app.get("/v1/changes?limit=1000").send().json();
    let mut events: Vec<_> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["source"] == format!("feedback:{provider}"))
        .map(|e| {
            let what = e["reason"].as_str().or(e["topic"].as_str()).unwrap_or("all");
            (
                e["email"].as_str().unwrap_or("?").to_owned(),
                e["type"].as_str().unwrap().to_owned(),
                what.to_owned(),
            )
        })
        .collect();
    events.sort();
    events
}

fn suppressions(app: &TestApp) -> Vec<(String, String)> {
    let page = app.get("/v1/suppressions?limit=1000").send().json();
    let mut all: Vec<_> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["email"].as_str().unwrap().to_owned(), s["reason"].as_str().unwrap().to_owned()))
        .collect();
    all.sort();
    all
}

fn owned(items: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    items.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect()
}

fn counts(report: &Value) -> [u64; 5] {
    ["received", "applied", "duplicates", "ignored", "failed"].map(|k| report[k].as_u64().unwrap())
}

// --- Amazon SES through SNS ---

/// An SNS envelope (a fixture) around `message`, signed as SNS signs: the named
/// fields as "Name\nvalue\n", RSA over SHA-1 (version 1) or SHA-256 (version 2).
pub(crate) fn sns(envelope: &str, message: Option<&str>, version: u8) -> Value {
    let mut envelope: Value = serde_json::from_str(&fixture(envelope)).unwrap();
    if let Some(message) = message {
        envelope["Message"] = json!(message);
    }
    envelope["SignatureVersion"] = json!(version.to_string());
    envelope["Signature"] = json!(sns_signature(&envelope, version));
    envelope
}

fn sns_signature(envelope: &Value, version: u8) -> String {
    let names: &[&str] = if envelope["Type"] == "Notification" {
        &["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    } else {
        &["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    };
    let text: String =
        names.iter().filter_map(|n| envelope[*n].as_str().map(|v| format!("{n}\n{v}\n"))).collect();
    let key = keys().sns.clone();
    let signature = match version {
        1 => rsa::pkcs1v15::SigningKey::<sha1::Sha1>::new(key).sign(text.as_bytes()).to_vec(),
        _ => rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key).sign(text.as_bytes()).to_vec(),
    };
    b64(signature)
}

fn post_sns(app: &TestApp, body: &Value) -> crate::support::Reply {
    // SNS says text/plain of its JSON.
    app.post("/v1/feedback/ses").body("text/plain; charset=UTF-8", body.to_string()).send()
}

fn ses_notification(app: &TestApp, message: &str, version: u8) -> Value {
    let reply = post_sns(app, &sns("ses/envelope-notification.json", Some(&fixture(message)), version));
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

each_backend! {
    fn ses_notifications_become_suppressions(app) with verifying {
        app.topics().offers(TopicBuilder::opt_out).create();
        // The handshake: kept for the operator, who must visit the URL.
        let confirmation = sns("ses/envelope-subscription-confirmation.json", None, 1);
        let reply = post_sns(&app, &confirmation);
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.json(), json!({"subscription": "pending_confirmation", "topic_arn": SNS_TOPIC}));
        let pending = app.get("/v1/feedback/ses/confirmations").send().json();
        assert_eq!(pending["confirmations"][0]["subscribe_url"], confirmation["SubscribeURL"]);
        assert_eq!(pending["confirmations"].as_array().unwrap().len(), 1);

        // A permanent bounce for two recipients: two hard bounces.
        assert_eq!(counts(&ses_notification(&app, "ses/bounce-permanent.json", 1)), [2, 2, 0, 0, 0]);
        // The first notification proves the subscription confirmed.
        assert_eq!(app.get("/v1/feedback/ses/confirmations").send().json()["confirmations"], json!([]));
        assert_eq!(app.reason("jane@example.com", "receipts"), "suppressed:hard_bounce");
        assert_eq!(app.reason("mary@example.com", "news"), "suppressed:hard_bounce");
        let jane = app.get("/v1/suppressions/jane%40example.com").send().json();
        assert_eq!(jane["source"], "feedback:ses");
        assert_eq!(jane["note"], "Permanent: General: smtp; 550 5.1.1 <jane@example.com>... User");

        // A transient bounce only counts; a complaint blocks promotional mail only.
        assert_eq!(counts(&ses_notification(&app, "ses/bounce-transient.json", 2)), [1, 1, 0, 0, 0]);
        assert_eq!(app.reason("richard@example.com", "news"), "default_subscribed");
        assert_eq!(counts(&ses_notification(&app, "ses/complaint.json", 2)), [1, 1, 0, 0, 0]);
        assert_eq!(app.reason("richard@example.com", "news"), "suppressed:complaint");
        assert_eq!(app.reason("richard@example.com", "receipts"), "transactional");
        // A delivery changes nothing.
        assert_eq!(counts(&ses_notification(&app, "ses/delivery.json", 1)), [1, 0, 0, 1, 0]);

        let expected = [
            ("jane@example.com", "hard_bounce"), ("mary@example.com", "hard_bounce"), ("richard@example.com", "complaint"),
        ];
        assert_eq!(suppressions(&app), expected.map(|(a, b)| (a.to_owned(), b.to_owned())));
        assert_eq!(events_from(&app, "ses"), owned(&[
            ("jane@example.com", "suppression_added", "hard_bounce"),
            ("mary@example.com", "suppression_added", "hard_bounce"),
            ("richard@example.com", "suppression_added", "complaint"),
        ]));

        // SNS delivers at least once: the same bounce again changes nothing.
        assert_eq!(counts(&ses_notification(&app, "ses/bounce-permanent.json", 2)), [2, 0, 2, 0, 0]);
        assert_eq!(events_from(&app, "ses").len(), 3);
    }

    fn ses_refuses_what_sns_did_not_sign(app) with verifying {
        app.topics().offers(TopicBuilder::opt_out).create();
        let before = app.database_contents();
        let signed = sns("ses/envelope-notification.json", Some(&fixture("ses/bounce-permanent.json")), 1);
        let mut tampered = signed.clone();
        tampered["Message"] = json!(fixture("ses/bounce-permanent.json").replace("jane@example.com", "ceo@example.com"));
        post_sns(&app, &tampered).problem(401, "invalid_signature");
        let mut unsigned = signed.clone();
        unsigned.as_object_mut().unwrap().remove("Signature");
        post_sns(&app, &unsigned).problem(401, "invalid_signature");
        let mut version = signed.clone();
        version["SignatureVersion"] = json!("2");
        post_sns(&app, &version).problem(401, "invalid_signature");
        // Raw message delivery has no envelope, so nothing to verify.
        let raw: Value = serde_json::from_str(&fixture("ses/bounce-permanent.json")).unwrap();
        post_sns(&app, &raw).problem(401, "invalid_signature");
        let confirmation = sns("ses/envelope-subscription-confirmation.json", None, 1);
        let mut forged = confirmation.clone();
        forged["SubscribeURL"] = json!("https://evil.example.com/");
        post_sns(&app, &forged).problem(401, "invalid_signature");
        assert_eq!(app.database_contents(), before, "nothing refused left a trace");

        // Signed but not SNS's shape, or carrying no SES message: 400 naming it.
        let problem = app.post("/v1/feedback/ses").body("text/plain", "{not json").send().problem(400, "malformed");
        assert!(problem["detail"].is_string());
        let garbled = sns("ses/envelope-notification.json", Some("{\"notificationType\": \"Bounce\"}"), 1);
        let problem = post_sns(&app, &garbled).problem(400, "malformed");
        assert!(problem["detail"].as_str().unwrap().contains("Message"), "{problem}");
        assert_eq!(post_sns(&app, &signed).status, 200);
    }

    fn ses_without_certificates_takes_unsigned_messages(app) {
        app.topics().offers(TopicBuilder::opt_out).create();
        let raw: Value = serde_json::from_str(&fixture("ses/complaint.json")).unwrap();
        let reply = post_sns(&app, &raw);
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(counts(&reply.json()), [1, 1, 0, 0, 0]);
        let mut envelope: Value = serde_json::from_str(&fixture("ses/envelope-notification.json")).unwrap();
        envelope["Message"] = json!(fixture("ses/bounce-permanent.json"));
        assert_eq!(counts(&post_sns(&app, &envelope).json()), [2, 2, 0, 0, 0]);
        assert_eq!(app.reason("richard@example.com", "news"), "suppressed:complaint");
        assert_eq!(app.reason("jane@example.com", "news"), "suppressed:hard_bounce");
    }
}

// --- SendGrid ---

fn sendgrid_signature(timestamp: &str, body: &str) -> String {
    let signature: p256::ecdsa::Signature = keys().sendgrid.sign(format!("{timestamp}{body}").as_bytes());
    b64(signature.to_der().as_bytes())
}

fn post_sendgrid(app: &TestApp, body: &str, signature: &str) -> crate::support::Reply {
    app.post("/v1/feedback/sendgrid")
        .header("X-Twilio-Email-Event-Webhook-Timestamp", "1600112502")
        .header("X-Twilio-Email-Event-Webhook-Signature", signature)
        .body("application/json", body.to_owned())
        .send()
}

each_backend! {
    fn sendgrid_events_become_suppressions(app) with verifying {
        app.topics().offers(TopicBuilder::opt_out).create();
        let body = fixture("sendgrid/events.json");
        let signature = sendgrid_signature("1600112502", &body);
        let tampered = body.replace("bounced@example.com", "boss@example.com");
        post_sendgrid(&app, &tampered, &signature).problem(401, "invalid_signature");
        app.post("/v1/feedback/sendgrid").body("application/json", body.clone()).send().problem(401, "invalid_signature");
        assert_eq!(suppressions(&app), []);

        let reply = post_sendgrid(&app, &body, &signature);
        assert_eq!(reply.status, 200, "{}", reply.body);
        // processed, the oversized drop and delivered change nothing.
        assert_eq!(counts(&reply.json()), [9, 6, 0, 3, 0]);
        assert_eq!(app.reason("bounced@example.com", "receipts"), "suppressed:hard_bounce");
        assert_eq!(app.reason("dropped@example.com", "receipts"), "suppressed:hard_bounce");
        assert_eq!(app.reason("blocked@example.com", "news"), "default_subscribed");
        assert_eq!(app.reason("spam@example.com", "news"), "suppressed:complaint");
        assert_eq!(app.reason("unsub@example.com", "offers"), "unsubscribed_all");
        assert_eq!(app.reason("unsub@example.com", "receipts"), "transactional");
        // Unsubscribe group 10 is the news topic, by the settings.
        assert_eq!(app.reason("group@example.com", "news"), "unsubscribed_topic");
        assert_eq!(app.reason("group@example.com", "offers"), "default_subscribed");
        assert_eq!(app.reason("toobig@example.com", "news"), "default_subscribed");
        let bounced = app.get("/v1/suppressions/bounced%40example.com").send().json();
        assert_eq!(bounced["note"], "bounce: 5.0.0: 500 unknown recipient");
        let events = events_from(&app, "sendgrid");
        assert_eq!(events, owned(&[
            ("bounced@example.com", "suppression_added", "hard_bounce"),
            ("dropped@example.com", "suppression_added", "hard_bounce"),
            ("group@example.com", "contact_created", "all"),
            ("group@example.com", "subscription_changed", "news"),
            ("spam@example.com", "suppression_added", "complaint"),
            ("unsub@example.com", "contact_created", "all"),
            ("unsub@example.com", "unsubscribed_all_changed", "all"),
        ]));
        let replay = post_sendgrid(&app, &body, &signature);
        assert_eq!(counts(&replay.json()), [9, 0, 6, 3, 0]);
        assert_eq!(events_from(&app, "sendgrid"), events);
    }

    fn sendgrid_blocks_count_as_soft_bounces_by_their_time(app) with verifying {
        app.topics().offers(TopicBuilder::opt_out).create();
        let days_ago = |d: i64| (chrono::Utc::now() - chrono::TimeDelta::days(d)).timestamp();
        let blocked = |id: &str, at: i64| json!({
            "email": "full@example.com", "timestamp": at, "event": "bounce", "type": "blocked",
            "sg_event_id": id, "reason": "452 mailbox full", "status": "4.2.2",
        });
        let deliver = |events: Value| {
            let body = events.to_string();
            let reply = post_sendgrid(&app, &body, &sendgrid_signature("1600112502", &body));
            assert_eq!(reply.status, 200, "{}", reply.body);
        };
        deliver(json!([blocked("a", days_ago(20)), blocked("b", days_ago(3))]));
        deliver(json!([blocked("c", days_ago(2))]));
        assert_eq!(app.reason("full@example.com", "news"), "default_subscribed", "the first is out of the window");
        deliver(json!([blocked("d", days_ago(1))]));
        assert_eq!(app.reason("full@example.com", "news"), "suppressed:soft_bounce");
        assert_eq!(app.reason("full@example.com", "receipts"), "suppressed:soft_bounce");
    }
}

// --- Postmark ---

fn post_postmark(app: &TestApp, name: &str) -> Value {
    // Postmark carries credentials in its webhook URL: basic auth, the key as password.
    let credentials = b64(format!("postmark:{}", app.admin));
    let reply = app
        .post("/v1/feedback/postmark")
        .anonymous()
        .header("authorization", &format!("Basic {credentials}"))
        .body("application/json", fixture(name))
        .send();
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

each_backend! {
    fn postmark_webhooks_become_suppressions(app) with verifying {
        app.topics().offers(TopicBuilder::opt_out).create();
        assert_eq!(counts(&post_postmark(&app, "postmark/hard-bounce.json")), [1, 1, 0, 0, 0]);
        assert_eq!(counts(&post_postmark(&app, "postmark/soft-bounce.json")), [1, 1, 0, 0, 0]);
        assert_eq!(counts(&post_postmark(&app, "postmark/spam-complaint.json")), [1, 1, 0, 0, 0]);
        assert_eq!(counts(&post_postmark(&app, "postmark/subscription-change.json")), [1, 1, 0, 0, 0]);
        assert_eq!(counts(&post_postmark(&app, "postmark/delivery.json")), [1, 0, 0, 1, 0]);
        assert_eq!(app.reason("john@example.com", "receipts"), "suppressed:hard_bounce");
        assert_eq!(app.reason("soft@example.com", "news"), "default_subscribed");
        assert_eq!(app.reason("angry@example.com", "news"), "suppressed:complaint");
        // The "broadcasts" message stream is the offers topic, by the settings.
        assert_eq!(app.reason("bounced-address@example.com", "offers"), "unsubscribed_topic");
        assert_eq!(app.reason("bounced-address@example.com", "news"), "default_subscribed");
        let john = app.get("/v1/suppressions/john%40example.com").send().json();
        assert_eq!(john["note"], "HardBounce: The server was unable to deliver your message (ex: unknown user, mailbox not found).: Test bounce details");
        assert_eq!(events_from(&app, "postmark"), owned(&[
            ("angry@example.com", "suppression_added", "complaint"),
            ("bounced-address@example.com", "contact_created", "all"),
            ("bounced-address@example.com", "subscription_changed", "offers"),
            ("john@example.com", "suppression_added", "hard_bounce"),
        ]));
        let changed = app.events("bounced-address@example.com").into_iter().find(|e| e["type"] == "subscription_changed").unwrap();
        assert_eq!((changed["source"].as_str(), changed["detail"].as_str()), (Some("feedback:postmark"), Some("SubscriptionChange: ManualSuppression")));
        for name in ["hard-bounce", "soft-bounce", "spam-complaint", "subscription-change"] {
            assert_eq!(counts(&post_postmark(&app, &format!("postmark/{name}.json"))), [1, 0, 1, 0, 0], "{name}");
        }
        assert_eq!(events_from(&app, "postmark").len(), 4);
        let problem = app.post("/v1/feedback/postmark").json(json!({"Email": "x@example.com"})).send().problem(400, "malformed");
        assert!(problem["detail"].as_str().unwrap().contains("RecordType"), "{problem}");
    }
}

// --- Mailgun ---

/// A Mailgun fixture with its signature made with `key`.
fn mailgun(name: &str, key: &str) -> Value {
    use hmac::Mac;
    let mut webhook: Value = serde_json::from_str(&fixture(name)).unwrap();
    let signature = &webhook["signature"];
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(
        format!("{}{}", signature["timestamp"].as_str().unwrap(), signature["token"].as_str().unwrap())
            .as_bytes(),
    );
    webhook["signature"]["signature"] = json!(hex::encode(mac.finalize().into_bytes()));
    webhook
}

fn post_mailgun(app: &TestApp, webhook: Value) -> crate::support::Reply {
    app.post("/v1/feedback/mailgun").json(webhook).send()
}

each_backend! {
    fn mailgun_webhooks_become_suppressions(app) with verifying {
        app.topics().offers(TopicBuilder::opt_out).create();
        post_mailgun(&app, mailgun("mailgun/failed-permanent.json", "another key")).problem(401, "invalid_signature");
        let mut unsigned = mailgun("mailgun/failed-permanent.json", MAILGUN_KEY);
        unsigned.as_object_mut().unwrap().remove("signature");
        post_mailgun(&app, unsigned).problem(401, "invalid_signature");
        let mut tampered = mailgun("mailgun/failed-permanent.json", MAILGUN_KEY);
        tampered["signature"]["token"] = json!("another token");
        post_mailgun(&app, tampered).problem(401, "invalid_signature");
        assert_eq!(suppressions(&app), []);

        let deliver = |name: &str| {
            let reply = post_mailgun(&app, mailgun(&format!("mailgun/{name}.json"), MAILGUN_KEY));
            assert_eq!(reply.status, 200, "{name}: {}", reply.body);
            counts(&reply.json())
        };
        assert_eq!(deliver("failed-permanent"), [1, 1, 0, 0, 0]);
        assert_eq!(deliver("failed-temporary"), [1, 1, 0, 0, 0]);
        assert_eq!(deliver("complained"), [1, 1, 0, 0, 0]);
        assert_eq!(deliver("unsubscribed"), [1, 1, 0, 0, 0]);
        assert_eq!(deliver("delivered"), [1, 0, 0, 1, 0]);
        assert_eq!(app.reason("alice@example.com", "receipts"), "suppressed:hard_bounce");
        assert_eq!(app.reason("full@example.com", "news"), "default_subscribed");
        assert_eq!(app.reason("angry@example.com", "offers"), "suppressed:complaint");
        // Tag "weekly" is the news topic, by the settings.
        assert_eq!(app.reason("gone@example.com", "news"), "unsubscribed_topic");
        assert_eq!(app.reason("gone@example.com", "offers"), "default_subscribed");
        let alice = app.get("/v1/suppressions/alice%40example.com").send().json();
        assert_eq!(alice["note"], "bounce: 605: Not delivering to previously bounced address");
        assert_eq!(events_from(&app, "mailgun"), owned(&[
            ("alice@example.com", "suppression_added", "hard_bounce"),
            ("angry@example.com", "suppression_added", "complaint"),
            ("gone@example.com", "contact_created", "all"),
            ("gone@example.com", "subscription_changed", "news"),
        ]));
        assert_eq!(deliver("failed-permanent"), [1, 0, 1, 0, 0]);
        assert_eq!(events_from(&app, "mailgun").len(), 4);
    }
}
