//! Carrying out one delivery with the right transport:
//! - a reply on web, API or voice goes to the conversation itself (the `ReplyDelivered` event
//!   is what the chat, the API and the voice webhook read), and to the mirror webhook if set;
//! - a reply on email is mailed through the relay, threaded and in the customer's language;
//! - a reply on social or SMS is POSTed to that channel's gateway;
//! - a notice goes to `email:ADDRESS`, `webhook:URL` (or a bare http(s) URL), or `team:NAME`
//!   looked up in the configured teams: the default tenant's as `NAME`, another tenant's as
//!   `TENANT/NAME`, so that one tenant's notices never reach another's team.
//!
//! What is POSTed names the tenant, so a gateway or receiver serving several tenants can tell.

use std::collections::BTreeMap;

use serde_json::json;
use switchboard_bus::Bus;
use switchboard_channels::outbound::{Attempt, Mailer, OutgoingEmail, SignedPost};
use switchboard_proto::events::v1::{Channel, ReplyRequested};

use crate::{
    email,
    jobs::{Job, Work},
    templates::Templates,
};

pub(crate) struct Transports {
    pub bus: Bus,
    pub mailer: Option<Mailer>,
    pub post: SignedPost,
    /// Every web, API and voice reply is also POSTed here.
    pub mirror: Option<String>,
    /// `team:NAME` targets: NAME (the default tenant's) or TENANT/NAME to an `email:` or
    /// `webhook:` target.
    pub teams: BTreeMap<String, String>,
    /// Gateways of the social and SMS channels, by channel slug.
    pub gateways: BTreeMap<String, String>,
    pub templates: Templates,
    /// The longest one send may take.
    pub send_timeout: std::time::Duration,
}

impl Transports {
    /// Delivers `job` once more: where it went, and how it ended.
    pub(crate) async fn deliver(&self, job: &Job) -> (String, Attempt) {
        match &job.work {
            Work::Reply(reply) => self.reply(job, reply).await,
            Work::Notice { target, subject, text } => self.notice(job, target, subject, text).await,
            Work::Decision { url, body } => {
                ("webhook".into(), self.post.post(url, &job.delivery_id, body).await)
            }
        }
    }

    /// Where `job` is delivered when delivering it sends nothing anywhere (a reply the chat,
    /// the API or the voice webhook reads from the conversation, with no mirror webhook).
    pub(crate) fn in_place(&self, job: &Job) -> Option<&'static str> {
        let Work::Reply(reply) = &job.work else { return None };
        let channel = Channel::try_from(reply.channel).unwrap_or(Channel::Unspecified);
        let sent_out = matches!(channel, Channel::Email | Channel::Social | Channel::Sms);
        (!sent_out && self.mirror.is_none()).then_some("conversation")
    }

    async fn reply(&self, job: &Job, reply: &ReplyRequested) -> (String, Attempt) {
        let channel = Channel::try_from(reply.channel).unwrap_or(Channel::Unspecified);
        match channel {
            Channel::Email => ("email".into(), self.email_reply(job, reply).await),
            Channel::Social | Channel::Sms => {
                let Some(url) = self.gateways.get(channel.slug()) else {
                    let reason = format!("no {} gateway configured (SWITCHBOARD_GATEWAYS)", channel.slug());
                    return ("gateway".into(), Attempt::Refused(reason));
                };
                ("gateway".into(), self.post.post(url, &job.delivery_id, &reply_body(job, reply)).await)
            }
            _ => match &self.mirror {
                Some(url) => (
                    "conversation+webhook".into(),
                    self.post.post(url, &job.delivery_id, &reply_body(job, reply)).await,
                ),
                None => ("conversation".into(), Attempt::Sent { external_id: String::new() }),
            },
        }
    }

    async fn email_reply(&self, job: &Job, reply: &ReplyRequested) -> Attempt {
        let Some(mailer) = &self.mailer else {
            return Attempt::Refused("no SMTP relay configured (SWITCHBOARD_SMTP_URL)".into());
        };
        let thread = match email::thread_of(&self.bus, &job.tenant, reply).await {
            Ok(thread) => thread,
            Err(error) => return Attempt::Retry(format!("cannot read the conversation: {error}")),
        };
        let outgoing =
            email::reply_email(&thread, reply, mailer.message_id(&job.delivery_id), &self.templates);
        mailer.send(&outgoing).await
    }

    async fn notice(&self, job: &Job, target: &str, subject: &str, text: &str) -> (String, Attempt) {
        let resolved = match target.strip_prefix("team:").map(|team| team_name(&job.tenant, team)) {
            Some(team) => match self.teams.get(&team) {
                Some(address) => address.as_str(),
                None => {
                    return (
                        "team".into(),
                        Attempt::Refused(format!("no address for team {team:?} (SWITCHBOARD_TEAMS)")),
                    );
                }
            },
            None => target,
        };
        if let Some(address) = resolved.strip_prefix("email:") {
            let Some(mailer) = &self.mailer else {
                return (
                    "email".into(),
                    Attempt::Refused("no SMTP relay configured (SWITCHBOARD_SMTP_URL)".into()),
                );
            };
            let outgoing = OutgoingEmail {
                to: address.to_string(),
                subject: subject.to_string(),
                text: text.to_string(),
                message_id: mailer.message_id(&job.delivery_id),
                ..OutgoingEmail::default()
            };
            return ("email".into(), mailer.send(&outgoing).await);
        }
        let url = resolved.strip_prefix("webhook:").unwrap_or(resolved);
        if SignedPost::is_valid_url(url) {
            let body = json!({
                "type": "notification",
                "tenant": job.tenant,
                "notification_id": job.source_id,
                "target": target,
                "subject": subject,
                "text": text,
                "conversation_id": job.conversation_id,
            });
            return ("webhook".into(), self.post.post(url, &job.delivery_id, &body).await);
        }
        (
            "unknown".into(),
            Attempt::Refused(format!("target {target:?} is not email:, webhook:, team: or an http(s) URL")),
        )
    }
}

/// The name a tenant's `team:NAME` is configured under.
fn team_name(tenant: &str, team: &str) -> String {
    if tenant.is_empty() || tenant == switchboard_bus::DEFAULT_TENANT {
        team.to_string()
    } else {
        format!("{tenant}/{team}")
    }
}

fn reply_body(job: &Job, reply: &ReplyRequested) -> serde_json::Value {
    let channel = Channel::try_from(reply.channel).unwrap_or(Channel::Unspecified);
    json!({
        "tenant": job.tenant,
        "reply_id": reply.reply_id,
        "conversation_id": reply.conversation_id,
        "in_reply_to": reply.in_reply_to,
        "customer_id": reply.customer_id,
        "channel": channel.slug(),
        "text": reply.text,
        "article_ids": reply.article_ids,
        "language": reply.language,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenants_team_is_looked_up_under_its_tenant() {
        assert_eq!(team_name(switchboard_bus::DEFAULT_TENANT, "billing"), "billing");
        assert_eq!(team_name("acme", "billing"), "acme/billing");
    }
}
