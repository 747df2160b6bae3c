//! The mail-token verifier takes whatever a mail's recipient or a provider's post
//! carries: it must refuse, never panic. `cargo +nightly fuzz run mail_token`
#![no_main]

use libfuzzer_sys::fuzz_target;
use prefcenter::domain::token::TokenKeys;
use prefcenter::domain::TopicKey;

fuzz_target!(|data: &[u8]| {
    let Ok(local_part) = std::str::from_utf8(data) else { return };
    let keys = TokenKeys::parse("k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=,k2:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=")
        .expect("valid keys");
    let topics = [TopicKey::parse("news").expect("a topic key")];
    let _ = keys.mail().verify(local_part, 20_800, &topics);
});
