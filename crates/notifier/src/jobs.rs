//! What an event asks the notifier to deliver: pure, one event to its deliveries.
//! - `ReplyRequested`: the reply, to the customer on the conversation's channel;
//! - `NotificationRequested`: a notice to its target (`email:`, `webhook:`, `team:`);
//! - `MessageRouted`: a notice to each `notify` target and the decision to each `webhook`.

use serde_json::json;
use switchboard_bus::{key_id, shown_target, shown_webhook};
use switchboard_proto::events::v1::{
    Event, MessageRouted, NotificationRequested, Priority, ReplyRequested, RouteAction, event::Body,
};

use crate::{templates::Templates, tenancy::tenant_key};

/// One delivery, keyed by `(tenant, delivery_id)` in the log.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Job {
    /// The tenant of the event that asked: whose conversation, customer and log it is.
    pub tenant: String,
    pub delivery_id: String,
    /// The event's own id for it: the reply id, the notification id, the routed message id.
    pub source_id: String,
    pub conversation_id: String,
    pub work: Work,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Work {
    /// A reply to the customer, on the conversation's channel.
    Reply(ReplyRequested),
    /// A notice to a target such as `team:warehouse`, `email:ops@example.com`, `webhook:https://…`.
    Notice { target: String, subject: String, text: String },
    /// A routing decision POSTed as JSON.
    Decision { url: String, body: serde_json::Value },
}

impl Job {
    pub(crate) fn kind(&self) -> &'static str {
        match self.work {
            Work::Reply(_) => "reply",
            Work::Notice { .. } => "notification",
            Work::Decision { .. } => "webhook",
        }
    }

    /// Where it goes, as the delivery's events and `ListDeliveries` show it (a webhook by its
    /// origin only).
    pub(crate) fn target(&self) -> String {
        match &self.work {
            Work::Reply(reply) => format!("customer:{}", reply.customer_id),
            Work::Notice { target, .. } => shown_target(target),
            Work::Decision { url, .. } => format!("webhook:{}", shown_webhook(url)),
        }
    }
}

pub(crate) fn jobs_of(event: &Event, templates: &Templates) -> Vec<Job> {
    let tenant = event.tenant.as_str();
    match &event.body {
        Some(Body::ReplyRequested(reply)) => vec![Job {
            tenant: tenant.to_string(),
            delivery_id: reply.reply_id.clone(),
            source_id: reply.reply_id.clone(),
            conversation_id: reply.conversation_id.clone(),
            work: Work::Reply(reply.clone()),
        }],
        Some(Body::NotificationRequested(notification)) => vec![notice_job(tenant, notification)],
        Some(Body::MessageRouted(routed)) => decision_jobs(tenant, routed, templates),
        _ => Vec::new(),
    }
}

fn notice_job(tenant: &str, notification: &NotificationRequested) -> Job {
    Job {
        tenant: tenant.to_string(),
        delivery_id: notification.notification_id.clone(),
        source_id: notification.notification_id.clone(),
        conversation_id: notification.conversation_id.clone(),
        work: Work::Notice {
            target: notification.target.clone(),
            subject: notification.subject.clone(),
            text: notification.text.clone(),
        },
    }
}

fn decision_jobs(tenant: &str, routed: &MessageRouted, templates: &Templates) -> Vec<Job> {
    let job = |target: &str, work: Work| Job {
        tenant: tenant.to_string(),
        // One delivery per decision and target, whatever the redeliveries.
        delivery_id: key_id(&tenant_key(tenant, &format!("decision/{}/{target}", routed.message_id)))
            .to_string(),
        source_id: routed.message_id.clone(),
        conversation_id: routed.conversation_id.clone(),
        work,
    };
    let (subject, text) = team_notice(routed, templates);
    let notices = routed.notify.iter().map(|target| {
        job(target, Work::Notice { target: target.clone(), subject: subject.clone(), text: text.clone() })
    });
    let body = decision_body(tenant, routed);
    let posts =
        routed.webhooks.iter().map(|url| job(url, Work::Decision { url: url.clone(), body: body.clone() }));
    notices.chain(posts).collect()
}

fn priority(routed: &MessageRouted) -> &'static str {
    match Priority::try_from(routed.priority).unwrap_or(Priority::Unspecified) {
        Priority::Low => "low",
        Priority::Normal | Priority::Unspecified => "normal",
        Priority::High => "high",
        Priority::Urgent => "urgent",
    }
}

fn action(routed: &MessageRouted) -> &'static str {
    match RouteAction::try_from(routed.action).unwrap_or(RouteAction::Unspecified) {
        RouteAction::Queue => "queue",
        RouteAction::Escalate => "escalate",
        RouteAction::AutoReply => "auto_reply",
        RouteAction::Unspecified => "unspecified",
    }
}

fn team_notice(routed: &MessageRouted, templates: &Templates) -> (String, String) {
    let summary = routed.handoff.as_ref().map(|packet| packet.summary.as_str()).unwrap_or_default();
    let vars = [
        ("priority", priority(routed)),
        ("queue", routed.queue.as_str()),
        ("intent", routed.intent.as_str()),
        ("rule", routed.rule.as_str()),
        ("reason", routed.reason.as_str()),
        ("summary", summary),
        ("conversation_id", routed.conversation_id.as_str()),
    ];
    let language = routed.language.as_str();
    (
        templates.render("team_notice_subject", language, &vars),
        templates.render("team_notice", language, &vars),
    )
}

/// The decision as a webhook receives it.
fn decision_body(tenant: &str, routed: &MessageRouted) -> serde_json::Value {
    json!({
        "type": "routing.message_routed",
        "tenant": tenant,
        "conversation_id": routed.conversation_id,
        "message_id": routed.message_id,
        "intent": routed.intent,
        "action": action(routed),
        "queue": routed.queue,
        "priority": priority(routed),
        "rule": routed.rule,
        "reason": routed.reason,
        "tags": routed.tags,
        "inputs": routed.inputs,
        "language": routed.language,
        "handoff_reason": routed.handoff.as_ref().map(|packet| packet.reason.clone()),
        "summary": routed.handoff.as_ref().map(|packet| packet.summary.clone()),
    })
}

#[cfg(test)]
mod tests {
    use switchboard_bus::{DEFAULT_TENANT, Draft};

    use super::*;
    use crate::templates::DEFAULT_TEMPLATES;

    fn routed() -> MessageRouted {
        MessageRouted {
            conversation_id: "c1".into(),
            message_id: "m1".into(),
            intent: "billing_invoice".into(),
            action: RouteAction::Queue.into(),
            queue: "billing".into(),
            priority: Priority::High.into(),
            rule: "vip-billing".into(),
            reason: "customer.tier is vip".into(),
            notify: vec!["team:billing".into(), "email:lead@example.com".into()],
            webhooks: vec!["http://127.0.0.1:9/hook".into()],
            ..Default::default()
        }
    }

    #[test]
    fn a_decision_gives_a_notice_per_target_and_a_post_per_webhook() {
        let templates = Templates::parse(DEFAULT_TEMPLATES).expect("templates");
        let event = Draft::new(DEFAULT_TENANT, "m1", Body::MessageRouted(routed())).build().expect("event");
        let jobs = jobs_of(&event, &templates);
        assert_eq!(jobs.len(), 3);
        let Work::Notice { target, subject, text } = &jobs[0].work else { panic!("notice first") };
        assert_eq!(target, "team:billing");
        assert_eq!(subject, "[high] billing: billing_invoice");
        assert!(text.contains("rule vip-billing") && text.contains("c1"), "{text}");
        let Work::Decision { body, .. } = &jobs[2].work else { panic!("post last") };
        assert_eq!(body["queue"], "billing");
        assert_eq!(body["priority"], "high");
        // Stable and distinct ids: a redelivered decision is the same three deliveries.
        let again = jobs_of(&event, &templates);
        assert_eq!(jobs, again);
        assert_ne!(jobs[0].delivery_id, jobs[1].delivery_id);
    }

    #[test]
    fn two_tenants_decisions_of_the_same_message_are_distinct_deliveries() {
        let templates = Templates::parse(DEFAULT_TEMPLATES).expect("templates");
        let of = |tenant: &str| {
            let event = Draft::new(tenant, "m1", Body::MessageRouted(routed())).build().expect("event");
            jobs_of(&event, &templates)
        };
        let (acme, globex) = (of("acme"), of("globex"));
        assert!(
            acme.iter().all(|job| job.tenant == "acme") && globex.iter().all(|job| job.tenant == "globex")
        );
        assert_ne!(acme[0].delivery_id, globex[0].delivery_id);
        let Work::Decision { body, .. } = &acme[2].work else { panic!("post last") };
        assert_eq!(body["tenant"], "acme");
    }

    #[test]
    fn other_events_ask_for_nothing() {
        let templates = Templates::parse(DEFAULT_TEMPLATES).expect("templates");
        let quiet = MessageRouted { notify: vec![], webhooks: vec![], ..routed() };
        let event = Draft::new(DEFAULT_TENANT, "m1", Body::MessageRouted(quiet)).build().expect("event");
        assert!(jobs_of(&event, &templates).is_empty());
    }
}
