//! Providers' webhooks come from the network: reading any body must never panic,
//! verified or not. `cargo +nightly fuzz run feedback_payloads`
#![no_main]

use libfuzzer_sys::fuzz_target;
use prefcenter::domain::feedback::mailgun::MailgunKey;
use prefcenter::domain::feedback::{generic, mailgun, postmark, sendgrid, ses};

fuzz_target!(|data: &[u8]| {
    let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap().naive_utc();
    let _ = generic::read(data, now);
    let _ = postmark::read(data, now);
    let _ = sendgrid::read(data, now);
    let _ = mailgun::read(data, None, now);
    let _ = mailgun::read(data, Some(&MailgunKey::new("key")), now);
    let _ = ses::read(data, None, now);
});
