//! Address normalization takes whatever a request carries: it must never panic, and
//! what it accepts must normalize to itself.
//! `cargo +nightly fuzz run normalize_address`
#![no_main]

use libfuzzer_sys::fuzz_target;
use prefcenter::domain::NormalizedAddress;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    if let Ok(address) = NormalizedAddress::parse(input) {
        let again = NormalizedAddress::parse(address.as_str()).expect("a normalized address stays valid");
        assert_eq!(again, address);
    }
});
