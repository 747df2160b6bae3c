//! The link verifier takes whatever a URL carries: it must refuse, never panic.
//! `cargo +nightly fuzz run verify_token`
#![no_main]

use libfuzzer_sys::fuzz_target;
use prefcenter::domain::token::{Audience, TokenKeys};

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else { return };
    let keys = TokenKeys::parse("k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=").expect("a valid key");
    for audience in [Audience::Unsubscribe, Audience::Preferences, Audience::Confirm] {
        let _ = keys.verify(token, audience, 1_800_000_000);
    }
});
