//! A whole SMTP session, the client's bytes as they come: the dialogue, DATA's dot-unstuffing
//! and bounds, and the messages read (by the MIME reader) without a bus. Every reply is one or
//! more CRLF lines, each a three-digit code.
#![no_main]

use std::{net::IpAddr, sync::LazyLock};

use libfuzzer_sys::fuzz_target;
use switchboard_channels::{
    email::{MAX_BODY_BYTES, Mailroom, Outcome, SmtpClient, SmtpLimits, Unavailable, parse::parse, smtp::converse},
    tenants::Tenants,
};

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a runtime")
});

/// Reads what it is given and keeps nothing.
struct Reader {
    tenants: Tenants,
}

impl Mailroom for Reader {
    fn max_bytes(&self) -> usize {
        64 * 1024
    }

    fn tenants(&self) -> &Tenants {
        &self.tenants
    }

    async fn accept(&self, raw: &[u8], _: Option<&SmtpClient>, _: &str) -> Result<Outcome, Unavailable> {
        Ok(match parse(raw, MAX_BODY_BYTES) {
            Ok(parsed) => Outcome::Accepted { message_id: parsed.meta.message_id, duplicate: false },
            Err(refusal) => Outcome::Refused { reason: refusal.to_string() },
        })
    }

    async fn refuse_unread(&self, _: usize, reason: String, _: Option<&str>, _: &str) -> Result<Outcome, Unavailable> {
        Ok(Outcome::Refused { reason })
    }
}

fuzz_target!(|client: &[u8]| {
    let reader = Reader { tenants: Tenants::default() };
    let mut written = Vec::new();
    let peer = IpAddr::from([192, 0, 2, 1]);
    let session = converse(&reader, "mx.test", SmtpLimits::default(), peer, client, &mut written);
    let _ = RUNTIME.block_on(session);
    let text = String::from_utf8(written).expect("replies are UTF-8");
    assert!(text.ends_with("\r\n"), "a reply without its CRLF");
    for line in text.split_terminator("\r\n") {
        let code = line.get(..3).unwrap_or_default();
        assert!(code.bytes().all(|b| b.is_ascii_digit()) && code.len() == 3, "reply line {line:?}");
        assert!(!line.contains('\n') && !line.contains('\r'), "a line break inside {line:?}");
    }
});
