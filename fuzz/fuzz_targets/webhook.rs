//! A signed webhook as the channels take it: the signature header (the input's first line) is
//! read and checked against the body (the rest), and the body read as a gateway's message. A
//! body signed with the secret is always taken, and never under another secret.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_channels::{hooks::read_hook_message, signature};

const SECRET: &[u8] = b"fuzzing-webhook-secret";
const NOW: i64 = 1_800_000_000;

fuzz_target!(|input: &[u8]| {
    let split = input.iter().position(|b| *b == b'\n').unwrap_or(input.len());
    let (header, body) = (&input[..split], input.get(split + 1..).unwrap_or_default());
    let header = std::str::from_utf8(header).ok();
    if let Ok(claimed) = signature::claimed(header, NOW) {
        let _ = claimed.signs(SECRET, body);
    }
    let signed = signature::sign(SECRET, NOW, body);
    assert!(signature::verify(SECRET, Some(&signed), body, NOW).is_ok(), "its own signature refused");
    assert!(signature::verify(b"another secret", Some(&signed), body, NOW).is_err(), "another secret took it");
    if let Ok(message) = read_hook_message(body) {
        assert!(!message.customer_id.trim().is_empty() && !message.text.contains('\0'));
        assert!(message.text.len() <= 32 * 1024);
    }
});
