//! An email reply: to the customer's address, `Re:` the conversation's first subject with its
//! ticket token, in reply to the message answered (or the latest), in the customer's language.

use switchboard_bus::Bus;
use switchboard_channels::{outbound::OutgoingEmail, ticket_token, tokened_subject};
use switchboard_proto::events::v1::{EmailMeta, ReplyRequested, event::Body};

use crate::templates::Templates;

/// References kept on a reply: the newest, as mail clients do.
const MAX_REFERENCES: usize = 10;

/// The email side of a conversation.
#[derive(Debug, Default)]
pub(crate) struct Thread {
    /// The first email's subject.
    pub subject: String,
    /// The email answered: the one `in_reply_to` names, else the latest.
    pub answered: Option<EmailMeta>,
}

/// Reads the `tenant`'s conversation's messages from the stream (they are there before any reply
/// to them).
pub(crate) async fn thread_of(
    bus: &Bus,
    tenant: &str,
    reply: &ReplyRequested,
) -> Result<Thread, switchboard_bus::Error> {
    let mut emails = Vec::new();
    for (event, _) in bus.events_of("conversation", tenant, &reply.conversation_id).await? {
        if let Some(Body::MessageReceived(received)) = event.body
            && let Some(email) = received.email
        {
            emails.push((received.message_id, email));
        }
    }
    let subject = emails.first().map(|(_, email)| email.subject.clone()).unwrap_or_default();
    let answered = match emails.iter().position(|(id, _)| *id == reply.in_reply_to) {
        Some(index) => emails.into_iter().nth(index),
        None => emails.pop(),
    };
    Ok(Thread { subject, answered: answered.map(|(_, email)| email) })
}

pub(crate) fn reply_email(
    thread: &Thread,
    reply: &ReplyRequested,
    message_id: String,
    templates: &Templates,
) -> OutgoingEmail {
    let answered = thread.answered.clone().unwrap_or_default();
    let base = thread.subject.trim();
    let base = strip_reply_prefixes(base);
    let subject = if base.is_empty() { "Re: your request".to_string() } else { format!("Re: {base}") };
    let name = first_name(&answered.from_name);
    let token = ticket_token(&reply.conversation_id);
    let text = templates.render(
        "email_reply",
        &reply.language,
        &[("name", &name), ("text", reply.text.trim()), ("token", &token)],
    );
    let mut references: Vec<String> = answered.references.clone();
    if !answered.message_id.is_empty() {
        references.push(answered.message_id.clone());
    }
    let skip = references.len().saturating_sub(MAX_REFERENCES);
    OutgoingEmail {
        to: if answered.from.is_empty() { reply.customer_id.clone() } else { answered.from.clone() },
        to_name: answered.from_name.clone(),
        subject: tokened_subject(&subject, &reply.conversation_id),
        text,
        message_id,
        in_reply_to: answered.message_id.clone(),
        references: references.into_iter().skip(skip).collect(),
    }
}

/// `Re: RE: Fwd: x` to `x`.
fn strip_reply_prefixes(mut subject: &str) -> &str {
    loop {
        let lower = subject.to_ascii_lowercase();
        let Some(prefix) =
            ["re:", "aw:", "sv:", "fw:", "fwd:", "wg:"].into_iter().find(|p| lower.starts_with(p))
        else {
            return subject;
        };
        subject = subject[prefix.len()..].trim_start();
    }
}

/// " Ana" for "Ana Ruiz" (the templates put it after the greeting), or nothing.
fn first_name(full: &str) -> String {
    full.split_whitespace().next().map(|name| format!(" {name}")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templates::DEFAULT_TEMPLATES;

    #[test]
    fn replies_in_the_thread_with_the_token_and_the_language() {
        let templates = Templates::parse(DEFAULT_TEMPLATES).expect("templates");
        let answered = EmailMeta {
            message_id: "<m2@example.com>".into(),
            references: vec!["<m1@example.com>".into()],
            from: "ana@example.com".into(),
            from_name: "Ana Ruiz".into(),
            ..Default::default()
        };
        let thread = Thread { subject: "RE: Fwd: Wo ist meine Bestellung?".into(), answered: Some(answered) };
        let reply = ReplyRequested {
            conversation_id: "0193f1b2-7c4e-7a11-9d2e-3f9a0c12d4ab".into(),
            text: "Sie wurde versandt.".into(),
            language: "de".into(),
            ..Default::default()
        };
        let email = reply_email(&thread, &reply, "<r1@shop.example>".into(), &templates);
        assert_eq!(email.subject, "Re: Wo ist meine Bestellung? [#SB-9A0C12D4AB]");
        assert_eq!(email.in_reply_to, "<m2@example.com>");
        assert_eq!(email.references, ["<m1@example.com>", "<m2@example.com>"]);
        assert_eq!(email.to, "ana@example.com");
        assert!(email.text.starts_with("Hallo Ana,\n\nSie wurde versandt."), "{}", email.text);
        assert!(email.text.contains("SB-9A0C12D4AB"));
    }
}
