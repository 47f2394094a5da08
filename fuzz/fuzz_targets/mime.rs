//! An inbound email as the SMTP listener and the email webhook take it: read whole, never
//! panicking, and the body kept within its bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_channels::email::{MAX_BODY_BYTES, parse::parse};

fuzz_target!(|raw: &[u8]| {
    if let Ok(parsed) = parse(raw, MAX_BODY_BYTES) {
        assert!(parsed.body.len() <= MAX_BODY_BYTES, "body of {} bytes", parsed.body.len());
        assert!(!parsed.body.contains('\0'), "a NUL in the body");
    }
});
