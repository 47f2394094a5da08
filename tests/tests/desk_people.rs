//! The desk's people work on the running cluster, through its gRPC API: SLA targets (timed
//! across a restart, met by a reply, paused while waiting on the customer), closing what waits
//! on the customer too long, assignment by capacity, and a person's decision on a return.

mod common;

use common::{Backing, Cluster, message, submit, verified_message, wait_for_event};
use switchboard_proto::{
    desk::v1::desk_client::DeskClient,
    events::v1::{MessageRouted, RouteAction, event::Body},
    router::v1::{PublishRulesRequest, router_client::RouterClient},
};
use tonic::Code;

/// The routing decision for the conversation the submission started.
async fn routed(backing: &Backing, conversation_id: &str) -> anyhow::Result<MessageRouted> {
    let bus = backing.bus().await?;
    let (routed, _) = wait_for_event(&bus, "switchboard.events.routing.>", |event| match &event.body {
        Some(Body::MessageRouted(r)) if r.conversation_id == conversation_id => Some(r.clone()),
        _ => None,
    })
    .await?;
    Ok(routed)
}

/// The routing decision for one message.
async fn routed_message(backing: &Backing, message_id: &str) -> anyhow::Result<MessageRouted> {
    let bus = backing.bus().await?;
    let (routed, _) = wait_for_event(&bus, "switchboard.events.routing.>", |event| match &event.body {
        Some(Body::MessageRouted(r)) if r.message_id == message_id => Some(r.clone()),
        _ => None,
    })
    .await?;
    Ok(routed)
}

/// The text of the automated reply to a message.
async fn reply_to(backing: &Backing, message_id: &str) -> anyhow::Result<String> {
    let bus = backing.bus().await?;
    let decision = routed_message(backing, message_id).await?;
    anyhow::ensure!(decision.action() == RouteAction::AutoReply, "not answered: {decision:?}");
    let (text, _) = wait_for_event(&bus, "switchboard.events.reply.>", |event| match &event.body {
        Some(Body::ReplyRequested(r)) if r.in_reply_to == message_id => Some(r.text.clone()),
        _ => None,
    })
    .await?;
    Ok(text)
}

#[tokio::test]
async fn an_sla_breach_fires_on_time_after_a_restart_and_a_reply_meets_the_target() -> anyhow::Result<()> {
    use switchboard_proto::desk::v1::{AgentActivity, RecordAgentActivityRequest};
    let backing = Backing::start().await?;
    let config = backing.config();
    let cluster = Cluster::start(config.clone()).await?;
    let mut router = RouterClient::new(cluster.channel().await?);
    let mut desk = DeskClient::new(cluster.channel().await?);
    let rules = "slas:\n  - name: fast\n    first_response: 8s\n    warn_before: 4s\n\
                 rules:\n  - name: everything-else\n    then: {action: queue, queue: general}\n";
    router.publish_rules(PublishRulesRequest { text: rules.into(), wait: true }).await?;
    let replied = submit(&cluster, message("c-s1", "Please call me about my contract", "s-1")).await?;
    let waiting = submit(&cluster, message("c-s2", "Please call me about my invoice", "s-2")).await?;
    let bus = backing.bus().await?;
    let (due, _) = wait_for_event(&bus, "switchboard.events.sla.>", |event| match &event.body {
        Some(Body::SlaStarted(s)) if s.conversation_id == waiting.conversation_id => s.due_at,
        _ => None,
    })
    .await?;
    wait_for_event(&bus, "switchboard.events.sla.>", |event| match &event.body {
        Some(Body::SlaStarted(s)) if s.conversation_id == replied.conversation_id => Some(()),
        _ => None,
    })
    .await?;
    let activity = RecordAgentActivityRequest {
        conversation_id: replied.conversation_id.clone(),
        activity: AgentActivity::Replied.into(),
    };
    assert_eq!(desk.record_agent_activity(activity).await?.into_inner().met, ["first_response"]);
    cluster.stop().await?;

    // Down while the target runs; the restarted router restores the timer from the events.
    let cluster = Cluster::start(config).await?;
    let (breach, _) = wait_for_event(&bus, "switchboard.events.sla.>", |event| match &event.body {
        Some(Body::SlaBreached(b)) if b.conversation_id == waiting.conversation_id => Some(event.clone()),
        _ => None,
    })
    .await?;
    let fired = switchboard_proto::time::to_datetime(breach.occurred_at.as_ref());
    assert!(fired >= switchboard_proto::time::to_datetime(Some(&due)), "not before it is due");
    let sla_events = common::events(&bus, "switchboard.events.sla.>").await?;
    let of = |conversation: &str, kind: &str| {
        sla_events.iter().filter(|e| e.aggregate_id == conversation && e.r#type.ends_with(kind)).count()
    };
    // A warning due while the router was down is moot once the target breached: at most one.
    assert!(of(&waiting.conversation_id, "sla_warning") <= 1, "warned at most once");
    assert_eq!(of(&waiting.conversation_id, "sla_breached"), 1, "breached once");
    assert_eq!(of(&replied.conversation_id, "sla_met"), 1);
    assert_eq!(of(&replied.conversation_id, "sla_breached"), 0, "a met target does not breach");
    cluster.stop().await
}

#[tokio::test]
async fn a_return_is_opened_approved_by_an_agent_and_the_refund_confirmation_and_warehouse_notice_follow()
-> anyhow::Result<()> {
    use switchboard_proto::desk::v1::DecideReturnRequest;
    use switchboard_proto::events::v1::{OrderStatus, OrderUpdated};
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let mut router = RouterClient::new(cluster.channel().await?);
    let mut desk = DeskClient::new(cluster.channel().await?);
    let rules = "playbooks:\n  returns: {window_days: 30, queue: returns}\n\
                 rules:\n  - name: returns\n    when: {keywords: [return]}\n    then: {action: answer, playbook: returns, queue: returns}\n\
                 \x20 - name: everything-else\n    then: {action: queue, queue: general}\n";
    router.publish_rules(PublishRulesRequest { text: rules.into(), wait: true }).await?;
    let bus = backing.bus().await?;
    for (order, status) in [("12345", OrderStatus::Delivered), ("999", OrderStatus::Shipped)] {
        let update = OrderUpdated {
            order_id: order.into(),
            customer_id: "c-r".into(),
            status: status.into(),
            ..Default::default()
        };
        let event =
            switchboard_bus::Draft::new(switchboard_bus::DEFAULT_TENANT, order, Body::OrderUpdated(update))
                .build()?;
        bus.publish(&event).await?;
    }

    let asked =
        submit(&cluster, verified_message("c-r", "I want to return order 12345, the lamp is broken", "r-1"))
            .await?;
    let decision = routed_message(&backing, &asked.message_id).await?;
    assert_eq!((decision.action(), decision.queue.as_str()), (RouteAction::Queue, "returns"), "{decision:?}");
    assert!(decision.tags.contains(&"return-approval".to_string()));
    let return_id = decision.collected.get("return_id").cloned().expect("the return's id");
    let (opened, _) = wait_for_event(&bus, "switchboard.events.reply.>", |event| match &event.body {
        Some(Body::ReplyRequested(r)) if r.in_reply_to == asked.message_id => Some(r.text.clone()),
        _ => None,
    })
    .await?;
    assert!(opened.contains(&return_id) && opened.contains("approves the refund"), "{opened}");

    let approve = DecideReturnRequest {
        return_id: return_id.clone(),
        approve: true,
        approver: "agent-7".into(),
        reason: String::new(),
    };
    assert_eq!(desk.decide_return(approve.clone()).await?.into_inner().status, "approved");
    let (confirmation, _) = wait_for_event(&bus, "switchboard.events.reply.>", |event| match &event.body {
        Some(Body::ReplyRequested(r))
            if r.in_reply_to == asked.message_id && r.text.contains("on its way") =>
        {
            Some(r.clone())
        }
        _ => None,
    })
    .await?;
    assert!(confirmation.text.contains("refund is on its way"), "{}", confirmation.text);
    assert_eq!(confirmation.customer_id, "c-r");
    let (notice, _) = wait_for_event(&bus, "switchboard.events.notification.>", |event| match &event.body {
        Some(Body::NotificationRequested(n)) if n.text.contains(&return_id) => Some(n.clone()),
        _ => None,
    })
    .await?;
    assert_eq!(notice.target, "team:warehouse");
    assert_eq!(desk.decide_return(approve).await?.into_inner().status, "approved", "the same decision again");
    let reject =
        DecideReturnRequest { return_id, approve: false, approver: "agent-8".into(), reason: "worn".into() };
    assert_eq!(desk.decide_return(reject).await.expect_err("decided").code(), Code::FailedPrecondition);

    let early = submit(&cluster, verified_message("c-r", "I want to return order 999", "r-2")).await?;
    let refused = reply_to(&backing, &early.message_id).await?;
    assert!(refused.contains("has not been delivered yet"), "{refused}");
    cluster.stop().await
}

#[tokio::test]
async fn conversations_go_to_available_agents_by_capacity_and_waiting_ones_are_assigned_when_capacity_frees()
-> anyhow::Result<()> {
    use switchboard_proto::desk::v1::{AgentActivity, RecordAgentActivityRequest};
    use switchboard_proto::events::v1::AgentUpdated;
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let mut router = RouterClient::new(cluster.channel().await?);
    let mut desk = DeskClient::new(cluster.channel().await?);
    let rules = "rules:\n  - name: billing\n    when: {keywords: [invoice]}\n    then: {action: queue, queue: billing, assign: round_robin}\n\
                 \x20 - name: everything-else\n    then: {action: queue, queue: general}\n";
    router.publish_rules(PublishRulesRequest { text: rules.into(), wait: true }).await?;
    for (agent, languages) in
        [("ana", vec!["en".to_string()]), ("ben", vec!["en".to_string()]), ("karl", vec!["de".to_string()])]
    {
        let profile = AgentUpdated {
            agent_id: agent.into(),
            available: true,
            queues: vec!["billing".into()],
            languages,
            skills: vec![],
            capacity: [("web".to_string(), 1)].into(),
        };
        desk.put_agent(profile).await?;
    }
    let bus = backing.bus().await?;
    let assigned_to = |conversation: String| {
        let bus = bus.clone();
        async move {
            let (agent, _) =
                wait_for_event(&bus, "switchboard.events.agent-load.>", |event| match &event.body {
                    Some(Body::ConversationAssigned(a)) if a.conversation_id == conversation => {
                        Some(a.agent_id.clone())
                    }
                    _ => None,
                })
                .await?;
            anyhow::Ok(agent)
        }
    };
    let mut conversations = Vec::new();
    for (customer, key) in [("c-a1", "a-1"), ("c-a2", "a-2"), ("c-a3", "a-3")] {
        let sent = submit(&cluster, message(customer, "I have a question about my invoice", key)).await?;
        routed(&backing, &sent.conversation_id).await?;
        conversations.push(sent.conversation_id);
    }
    let first = assigned_to(conversations[0].clone()).await?;
    let second = assigned_to(conversations[1].clone()).await?;
    let mut both = [first.clone(), second.clone()];
    both.sort();
    assert_eq!(both, ["ana", "ben"], "one each; karl does not speak English");
    let events = common::events(&bus, "switchboard.events.agent-load.>").await?;
    assert_eq!(events.len(), 2, "the third waits: no capacity left");

    let resolved = RecordAgentActivityRequest {
        conversation_id: conversations[0].clone(),
        activity: AgentActivity::Resolved.into(),
    };
    // Only the agent it is assigned to (or a supervisor) resolves it.
    let other = if first == "ana" { "ben" } else { "ana" };
    let mut other =
        DeskClient::new(cluster.channel_as("default", switchboard_auth::Role::Agent, other).await?);
    let denied = other.record_agent_activity(resolved.clone()).await.expect_err("not theirs");
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    let mut assignee =
        DeskClient::new(cluster.channel_as("default", switchboard_auth::Role::Agent, &first).await?);
    assignee.record_agent_activity(resolved).await?;
    let third = assigned_to(conversations[2].clone()).await?;
    assert_eq!(third, first, "assigned at once to the agent whose capacity freed");

    // Resolved while it waits: it closes and leaves the waiting line.
    let fourth = submit(&cluster, message("c-a4", "Another invoice question", "a-4")).await?;
    routed(&backing, &fourth.conversation_id).await?;
    let resolve = |conversation_id: String| RecordAgentActivityRequest {
        conversation_id,
        activity: AgentActivity::Resolved.into(),
    };
    desk.record_agent_activity(resolve(fourth.conversation_id.clone())).await?;
    let (closed, _) =
        wait_for_event(&bus, "switchboard.events.conversation-lifecycle.>", |event| match &event.body {
            Some(Body::ConversationClosed(c)) if c.conversation_id == fourth.conversation_id => {
                Some(c.clone())
            }
            _ => None,
        })
        .await?;
    assert_eq!((closed.customer_id.as_str(), closed.handled_by.as_str()), ("c-a4", "human"));
    desk.record_agent_activity(resolve(conversations[1].clone())).await?;
    let fifth = submit(&cluster, message("c-a5", "And one more about an invoice", "a-5")).await?;
    assert_eq!(
        assigned_to(fifth.conversation_id.clone()).await?,
        second,
        "the freed agent, not the closed one"
    );
    let assigned = common::events(&bus, "switchboard.events.agent-load.>").await?;
    let to_fourth = assigned.iter().any(|event| {
        matches!(&event.body, Some(Body::ConversationAssigned(a)) if a.conversation_id == fourth.conversation_id)
    });
    assert!(!to_fourth, "a closed conversation is never assigned");
    cluster.stop().await
}

/// A conversation `(customer, key)` starts, queued, and its resolution target runs.
async fn with_targets(
    cluster: &Cluster,
    backing: &Backing,
    (customer, key): (&str, &str),
) -> anyhow::Result<switchboard_proto::intake::v1::SubmitMessageResponse> {
    let first = submit(cluster, message(customer, "My contract renewal looks wrong", key)).await?;
    routed(backing, &first.conversation_id).await?;
    wait_for_event(&backing.bus().await?, "switchboard.events.sla.>", |event| match &event.body {
        Some(Body::SlaStarted(s))
            if s.conversation_id == first.conversation_id && s.metric == "resolution" =>
        {
            Some(())
        }
        _ => None,
    })
    .await?;
    Ok(first)
}

#[tokio::test]
async fn targets_pause_while_waiting_on_the_customer_and_a_next_response_starts_when_they_write()
-> anyhow::Result<()> {
    use switchboard_proto::desk::v1::{AgentActivity, RecordAgentActivityRequest};
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let mut router = RouterClient::new(cluster.channel().await?);
    let mut desk = DeskClient::new(cluster.channel().await?);
    let rules = "slas:\n  - name: standard\n    first_response: 1h\n    next_response: 30m\n    resolution: 1d\n\
                 rules:\n  - name: everything-else\n    then: {action: queue, queue: general}\n";
    router.publish_rules(PublishRulesRequest { text: rules.into(), wait: true }).await?;
    let bus = backing.bus().await?;
    let sla_events = |conversation: String| {
        let bus = bus.clone();
        async move {
            let all = common::events(&bus, "switchboard.events.sla.>").await?;
            anyhow::Ok(
                all.into_iter()
                    .filter(|e| e.aggregate_id == conversation)
                    .map(|e| e.r#type)
                    .collect::<Vec<_>>(),
            )
        }
    };
    let first = with_targets(&cluster, &backing, ("c-w", "w-1")).await?;
    let waiting = RecordAgentActivityRequest {
        conversation_id: first.conversation_id.clone(),
        activity: AgentActivity::WaitingOnCustomer.into(),
    };
    assert_eq!(desk.record_agent_activity(waiting).await?.into_inner().met, ["first_response"]);
    let (paused, _) = wait_for_event(&bus, "switchboard.events.sla.>", |event| match &event.body {
        Some(Body::SlaPaused(p)) if p.conversation_id == first.conversation_id => Some(p.clone()),
        _ => None,
    })
    .await?;
    let metrics: Vec<&str> = paused.targets.iter().map(|t| t.metric.as_str()).collect();
    assert_eq!(metrics, ["resolution"]);
    assert!(paused.targets[0].remaining_seconds > 23 * 3600, "{paused:?}");

    let mut answer = message("c-w", "Here is the contract number you asked for: 4711", "w-2");
    answer.conversation_id = Some(first.conversation_id.clone());
    submit(&cluster, answer).await?;
    wait_for_event(&bus, "switchboard.events.sla.>", |event| match &event.body {
        Some(Body::SlaStarted(s))
            if s.conversation_id == first.conversation_id && s.metric == "next_response" =>
        {
            Some(())
        }
        _ => None,
    })
    .await?;
    let types = sla_events(first.conversation_id.clone()).await?;
    let short: Vec<&str> = types.iter().map(|t| t.trim_start_matches("sla.")).collect();
    assert_eq!(
        short,
        ["sla_started", "sla_started", "sla_met", "sla_paused", "sla_resumed", "sla_started", "sla_started"],
        "first response and resolution; the reply; the pause; resumed resolution, then the next response"
    );
    cluster.stop().await
}

#[tokio::test]
async fn a_conversation_pending_on_the_customer_gets_a_last_notice_then_closes_unless_they_write()
-> anyhow::Result<()> {
    use switchboard_proto::desk::v1::{AgentActivity, RecordAgentActivityRequest};
    use switchboard_proto::intake::v1::{ConversationStatus, GetConversationRequest};
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let mut router = RouterClient::new(cluster.channel().await?);
    let mut desk = DeskClient::new(cluster.channel().await?);
    let rules = "pending: {close_after: 6s, last_notice_before: 3s}\n\
                 rules:\n  - name: everything-else\n    then: {action: queue, queue: general}\n";
    router.publish_rules(PublishRulesRequest { text: rules.into(), wait: true }).await?;
    let silent = submit(&cluster, message("c-p1", "Can you check my contract?", "pc-1")).await?;
    let talkative = submit(&cluster, message("c-p2", "Can you check my invoice?", "pc-2")).await?;
    for sent in [&silent, &talkative] {
        routed(&backing, &sent.conversation_id).await?;
        let waiting = RecordAgentActivityRequest {
            conversation_id: sent.conversation_id.clone(),
            activity: AgentActivity::WaitingOnCustomer.into(),
        };
        desk.record_agent_activity(waiting).await?;
    }
    let mut answer = message("c-p2", "Sure, it is number 4711", "pc-3");
    answer.conversation_id = Some(talkative.conversation_id.clone());
    submit(&cluster, answer).await?;

    let bus = backing.bus().await?;
    let (closed_at, sequence) =
        wait_for_event(&bus, "switchboard.events.conversation-lifecycle.>", |event| match &event.body {
            Some(Body::ConversationClosed(c)) if c.conversation_id == silent.conversation_id => {
                Some(event.occurred_at)
            }
            _ => None,
        })
        .await?;
    assert!(closed_at.is_some());
    let replies: Vec<String> = common::events(&bus, "switchboard.events.reply.>")
        .await?
        .into_iter()
        .filter_map(|e| match e.body {
            Some(Body::ReplyRequested(r)) if r.conversation_id == silent.conversation_id => Some(r.text),
            _ => None,
        })
        .collect();
    assert_eq!(replies.len(), 2, "{replies:?}");
    assert!(replies[0].starts_with("We are still waiting for your answer"), "{replies:?}");
    assert!(replies[1].starts_with("We have closed this conversation"), "{replies:?}");
    let request =
        GetConversationRequest { conversation_id: silent.conversation_id.clone(), min_sequence: sequence };
    let conversation = cluster.intake().await?.get_conversation(request).await?.into_inner();
    assert_eq!(conversation.status(), ConversationStatus::Closed);
    let closes = common::events(&bus, "switchboard.events.conversation-lifecycle.>").await?;
    assert!(
        closes.iter().all(|e| e.aggregate_id != talkative.conversation_id),
        "the customer wrote back: it stays open"
    );
    cluster.stop().await
}

/// The same activity recorded twice at once (a client retrying, two tabs) meets and pauses the
/// targets once: the SLA events derive their ids from the target they end, so the copy is
/// dropped by the bus instead of counted twice.
#[tokio::test]
async fn an_activity_recorded_twice_at_once_meets_and_pauses_the_targets_once() -> anyhow::Result<()> {
    use switchboard_proto::desk::v1::{AgentActivity, RecordAgentActivityRequest};
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let mut router = RouterClient::new(cluster.channel().await?);
    let rules = "slas:\n  - name: standard\n    first_response: 1h\n    resolution: 1d\n\
                 rules:\n  - name: everything-else\n    then: {action: queue, queue: general}\n";
    router.publish_rules(PublishRulesRequest { text: rules.into(), wait: true }).await?;
    let bus = backing.bus().await?;
    let first = with_targets(&cluster, &backing, ("c-t", "t-1")).await?;
    let waiting = RecordAgentActivityRequest {
        conversation_id: first.conversation_id.clone(),
        activity: AgentActivity::WaitingOnCustomer.into(),
    };
    let (mut one, mut two) =
        (DeskClient::new(cluster.channel().await?), DeskClient::new(cluster.channel().await?));
    let (a, b) =
        tokio::join!(one.record_agent_activity(waiting.clone()), two.record_agent_activity(waiting.clone()));
    let (a, b) = (a?.into_inner(), b?.into_inner());
    assert!(a.met == ["first_response"] || b.met == ["first_response"], "{a:?} {b:?}");

    let all = common::events(&bus, "switchboard.events.sla.>").await?;
    let count = |kind: &str| {
        all.iter().filter(|e| e.aggregate_id == first.conversation_id && e.r#type == kind).count()
    };
    assert_eq!((count("sla.sla_met"), count("sla.sla_paused")), (1, 1));
    cluster.stop().await
}
