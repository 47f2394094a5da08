//! A routing rule file as `switchboard serve --rules` and the rule API read it: taken or refused
//! with a reason, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_router::Rules;

fuzz_target!(|text: &[u8]| {
    if let Ok(text) = std::str::from_utf8(text) {
        let _ = Rules::parse(text);
    }
});
