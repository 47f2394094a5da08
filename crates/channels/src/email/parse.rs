//! Reading an email: MIME (mail-parser) to the text a customer wrote and the headers that thread it.
//! A message is either read or refused with a reason; nothing in between.

use mail_parser::{HeaderValue, MessageParser, MimeHeaders as _};
use sha2::{Digest as _, Sha256};
use switchboard_proto::events::v1::{Attachment, EmailMeta};

/// Longest subject kept, in characters (RFC 5322 lines stop at 998).
const MAX_SUBJECT_CHARS: usize = 998;

/// An email read for intake.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub meta: EmailMeta,
    /// What the customer wrote, quoted history and signature removed, within `max_text` bytes.
    pub body: String,
}

/// Why an email cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("not a MIME message: no header could be read")]
    NotMime,
    #[error("the message has no sender address (From)")]
    NoSender,
    #[error("the sender address {0:?} is not an email address")]
    BadSender(String),
    #[error("the message has neither text nor a subject")]
    Empty,
    #[error("automated message ({0}); not answered, so that two robots never talk in circles")]
    Automated(&'static str),
}

/// Reads `raw`; `max_text` bounds the body kept (longer bodies are cut and marked truncated).
pub fn parse(raw: &[u8], max_text: usize) -> Result<Parsed, Refusal> {
    let message = MessageParser::default().parse(raw).ok_or(Refusal::NotMime)?;
    if message.headers().is_empty() {
        return Err(Refusal::NotMime);
    }
    let sender = message.from().and_then(|from| from.first()).ok_or(Refusal::NoSender)?;
    let from = sender.address().map(str::trim).unwrap_or_default().to_lowercase();
    if let Some(kind) = automated(&message, &from) {
        return Err(Refusal::Automated(kind));
    }
    if !is_address(&from) {
        return Err(Refusal::BadSender(from));
    }
    let subject: String =
        message.subject().map(one_line).unwrap_or_default().chars().take(MAX_SUBJECT_CHARS).collect();
    let (body, truncated) = cut(&written_part(&text_of(&message)).replace('\0', ""), max_text);
    if body.trim().is_empty() && subject.is_empty() {
        return Err(Refusal::Empty);
    }
    let meta = EmailMeta {
        message_id: message.message_id().map_or_else(|| synthetic_id(raw), bracketed),
        in_reply_to: ids(message.in_reply_to()).into_iter().next_back().unwrap_or_default(),
        references: ids(message.references()),
        subject,
        from_name: sender.name().map(one_line).unwrap_or_default(),
        from,
        to: message
            .to()
            .map(|to| to.iter().filter_map(|a| a.address()).map(str::to_lowercase).collect())
            .unwrap_or_default(),
        attachments: message.attachments().map(attachment).collect(),
        truncated,
    };
    Ok(Parsed { meta, body })
}

/// Delivery reports, auto-replies and mail from robots: answering them could loop.
fn automated(message: &mail_parser::Message<'_>, from: &str) -> Option<&'static str> {
    let local = from.split('@').next().unwrap_or_default();
    if message.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("report"))
    }) {
        return Some("a delivery report");
    }
    if ["mailer-daemon", "postmaster"].contains(&local) {
        return Some("from a mail system");
    }
    let auto_submitted = message.header_raw("Auto-Submitted").map(str::trim).unwrap_or("no");
    if !auto_submitted.eq_ignore_ascii_case("no") {
        return Some("Auto-Submitted");
    }
    None
}

/// The message's text: its first text body, else the texts of the messages it forwards (a
/// digest, a forward as attachment), else a list of what is attached.
fn text_of(message: &mail_parser::Message<'_>) -> String {
    if let Some(text) = message.body_text(0).filter(|text| !text.trim().is_empty()) {
        return text.into_owned();
    }
    let forwarded: Vec<String> = message
        .attachments()
        .filter_map(|part| part.message())
        .filter_map(|inner| inner.body_text(0).map(|text| text.trim().to_string()))
        .filter(|text| !text.is_empty())
        .collect();
    if !forwarded.is_empty() {
        return forwarded.join("\n\n");
    }
    let names: Vec<String> =
        message.attachments().map(|part| attachment(part).filename).filter(|n| !n.is_empty()).collect();
    match (message.attachment_count(), names.is_empty()) {
        (0, _) => String::new(),
        (count, true) => format!("[{count} attachment(s)]"),
        (_, false) => format!("[attached: {}]", names.join(", ")),
    }
}

fn attachment(part: &mail_parser::MessagePart<'_>) -> Attachment {
    let content_type = part.content_type().map_or_else(
        || "application/octet-stream".to_string(),
        |ct| format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or("octet-stream")),
    );
    Attachment {
        filename: part.attachment_name().map(one_line).unwrap_or_default(),
        content_type: content_type.to_lowercase(),
        size: part.contents().len() as u64,
    }
}

/// Message ids of a header, bracketed, oldest first.
fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(id) => vec![bracketed(id)],
        HeaderValue::TextList(list) => list.iter().map(|id| bracketed(id)).collect(),
        _ => Vec::new(),
    }
}

/// A message id as `<id>`: what it holds besides brackets, control characters and spaces (an id
/// has none; a bare CR in one would end a line of the SMTP reply or of a reply's headers).
fn bracketed(id: &str) -> String {
    let visible: String = id.chars().filter(|c| !c.is_control() && !c.is_whitespace()).collect();
    format!("<{}>", visible.trim_start_matches('<').trim_end_matches('>'))
}

/// A stable id for a message without one, so that a resend is still recognised.
fn synthetic_id(raw: &[u8]) -> String {
    let digest = Sha256::digest(raw);
    format!("<{}@no-message-id.switchboard.invalid>", hex::encode(&digest[..16]))
}

/// Whitespace runs (and NULs, which intake refuses) collapsed to one space.
fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c == '\0')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A plausible address: something, one `@`, a dotted or local domain, no spaces.
pub fn is_address(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else { return false };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && address.len() <= 254
        && !address.chars().any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
}

/// The part the customer wrote: up to quoted history (`On … wrote:`, an `Original Message`
/// rule, a run of `>` lines) and the signature (`-- `). The whole text if that leaves nothing.
fn written_part(text: &str) -> String {
    let mut kept = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        let history = trimmed.starts_with('>')
            || (trimmed.starts_with("On ") && trimmed.ends_with("wrote:"))
            || trimmed.contains("-----Original Message-----")
            || line == "-- ";
        if history {
            break;
        }
        kept.push(line.trim_end());
    }
    let written = kept.join("\n").trim().to_string();
    if written.is_empty() { text.trim().to_string() } else { written }
}

/// `text` within `max` bytes, on a character boundary; whether it was cut.
fn cut(text: &str, max: usize) -> (String, bool) {
    if text.len() <= max {
        return (text.to_string(), false);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (text[..end].to_string(), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPLY: &str = "From: \"Ana Ruiz\" <Ana@Example.com>\r\nTo: support@shop.example\r\n\
        Subject: Re: Where is my order?\r\nMessage-ID: <r2@example.com>\r\nIn-Reply-To: <r1@shop.example>\r\n\
        References: <r0@example.com> <r1@shop.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
        Still nothing, order 12345.\r\n\r\nOn Mon, 1 Dec 2026, Support wrote:\r\n> It ships today.\r\n";

    #[test]
    fn reads_headers_and_the_written_part() {
        let parsed = parse(REPLY.as_bytes(), 1000).expect("parsed");
        assert_eq!(parsed.body, "Still nothing, order 12345.");
        assert_eq!(parsed.meta.from, "ana@example.com");
        assert_eq!(parsed.meta.from_name, "Ana Ruiz");
        assert_eq!(parsed.meta.message_id, "<r2@example.com>");
        assert_eq!(parsed.meta.in_reply_to, "<r1@shop.example>");
        assert_eq!(parsed.meta.references, ["<r0@example.com>", "<r1@shop.example>"]);
        assert_eq!(parsed.meta.subject, "Re: Where is my order?");
        assert!(!parsed.meta.truncated);
    }

    #[test]
    fn decodes_encoded_words_html_and_attachments() {
        let raw = "From: =?UTF-8?B?5byg5LiJ?= <zhang@example.cn>\r\nSubject: =?UTF-8?Q?Caf=C3=A9?=\r\n\
            MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
            Content-Type: text/html; charset=utf-8\r\n\r\n<p>Bonjour, <b>ma commande</b></p>\r\n--b\r\n\
            Content-Type: application/pdf; name=facture.pdf\r\nContent-Disposition: attachment; filename=facture.pdf\r\n\
            Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n";
        let parsed = parse(raw.as_bytes(), 1000).expect("parsed");
        assert_eq!(parsed.meta.from_name, "张三");
        assert_eq!(parsed.meta.subject, "Café");
        assert!(parsed.body.contains("Bonjour, ma commande"), "{}", parsed.body);
        assert_eq!(parsed.meta.attachments.len(), 1);
        assert_eq!(parsed.meta.attachments[0].filename, "facture.pdf");
        assert_eq!(parsed.meta.attachments[0].content_type, "application/pdf");
        assert_eq!(parsed.meta.attachments[0].size, 9);
        assert!(parsed.meta.message_id.ends_with("@no-message-id.switchboard.invalid>"));
    }

    #[test]
    fn refuses_what_cannot_be_answered() {
        assert_eq!(parse(b"", 100), Err(Refusal::NotMime));
        assert_eq!(parse(b"Subject: hi\r\n\r\nbody", 100), Err(Refusal::NoSender));
        assert!(matches!(
            parse(b"From: nobody\r\n\r\nbody", 100),
            Err(Refusal::BadSender(_) | Refusal::NoSender)
        ));
        assert_eq!(parse(b"From: a@b.example\r\n\r\n  ", 100), Err(Refusal::Empty));
        let bounce = b"From: MAILER-DAEMON@mx.example\r\nSubject: Undelivered\r\n\r\nsorry";
        assert_eq!(parse(bounce, 100), Err(Refusal::Automated("from a mail system")));
        let vacation =
            b"From: a@b.example\r\nAuto-Submitted: auto-replied\r\nSubject: Away\r\n\r\nOut of office";
        assert_eq!(parse(vacation, 100), Err(Refusal::Automated("Auto-Submitted")));
    }

    #[test]
    fn a_forward_as_attachment_gives_its_text_and_bare_attachments_are_listed() {
        let forward = "From: a@b.example\r\nSubject: Fwd\r\nContent-Type: message/rfc822\r\n\r\n\
            From: c@d.example\r\nSubject: inner\r\n\r\nMy parcel never came.\r\n";
        assert_eq!(parse(forward.as_bytes(), 1000).expect("parsed").body, "My parcel never came.");
        let photo = "From: a@b.example\r\nContent-Type: image/jpeg; name=broken.jpg\r\n\
            Content-Disposition: attachment; filename=broken.jpg\r\nContent-Transfer-Encoding: base64\r\n\r\n/9j/\r\n";
        assert_eq!(parse(photo.as_bytes(), 1000).expect("parsed").body, "[attached: broken.jpg]");
    }

    #[test]
    fn long_bodies_are_cut_on_a_character_boundary() {
        let raw = format!("From: a@b.example\r\nSubject: x\r\n\r\n{}", "é".repeat(100));
        let parsed = parse(raw.as_bytes(), 51).expect("parsed");
        assert_eq!(parsed.body.len(), 50);
        assert!(parsed.meta.truncated);
    }

    /// Found by fuzzing (fuzz/corpus/smtp): a Message-ID with a bare CR and control characters
    /// came back whole, and the SMTP listener's `250 accepted <id>` reply split in two.
    #[test]
    fn message_ids_keep_no_control_characters() {
        let raw = b"From: ana@example.com\r\nMessage-ID: <t: hi\r\x01\x00b.x .com>\r\nIn-Reply-To: <a\x07b@c>\r\n\r\nhello\r\n";
        let parsed = parse(raw, 1000).expect("parsed");
        for id in [&parsed.meta.message_id, &parsed.meta.in_reply_to] {
            assert!(!id.chars().any(|c| c.is_control() || c.is_whitespace()), "{id:?}");
        }
    }
}
