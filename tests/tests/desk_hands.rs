//! Conversations changing hands on a real cluster: a supervisor assigns, agents transfer and
//! unassign within capacity and presence, an offline agent's conversations go back to their
//! queue, a macro moves the queue, the supervisor's overview, and returns waiting for approval.

mod common;

use std::time::Duration;

use common::{Api, Backing, Cluster, message, submit, verified_message, wait_for_event};
use switchboard_auth::Role;
use switchboard_proto::{
    desk::v1::{
        ApplyMacroRequest, AssignRequest, ClaimRequest, Conversation, DecideApprovalRequest,
        GetConversationRequest, GetOverviewRequest, ListApprovalsRequest, ListConversationsRequest, Macro,
        MacroActions, Presence, SaveMacroRequest, SetPresenceRequest, TransferRequest, UnassignRequest,
        desk_client::DeskClient,
    },
    events::v1::{AgentUpdated, OrderStatus, OrderUpdated, event::Body},
    router::v1::{PublishRulesRequest, router_client::RouterClient},
};
use tonic::Code;

const TENANT: &str = "default";
const RULES: &str = "rules:\n  - name: people\n    when: {keywords: [person]}\n    then: {action: escalate, queue: general}\n\
                     \x20 - name: everything-else\n    then: {action: queue, queue: general}\n";

async fn desk(cluster: &Cluster, role: Role, subject: &str) -> anyhow::Result<DeskClient<Api>> {
    Ok(DeskClient::new(cluster.channel_as(TENANT, role, subject).await?))
}

async fn put_agent(desk: &mut DeskClient<Api>, id: &str, queues: &[&str]) -> anyhow::Result<()> {
    let agent = AgentUpdated {
        agent_id: id.into(),
        available: true,
        queues: queues.iter().map(ToString::to_string).collect(),
        capacity: [("web".to_string(), 1)].into(),
        ..AgentUpdated::default()
    };
    desk.put_agent(agent).await?;
    Ok(())
}

/// A customer asks for a person on the web; the conversation once the desk has it.
async fn asks_for_a_person(
    cluster: &Cluster,
    desk: &mut DeskClient<Api>,
    customer: &str,
) -> anyhow::Result<Conversation> {
    let submitted = submit(cluster, message(customer, "Please let me talk to a person", customer)).await?;
    row_where(desk, &submitted.conversation_id, |_| true).await
}

/// The conversation's row once `wanted` holds of it (the desk folds events as they come).
async fn row_where(
    desk: &mut DeskClient<Api>,
    id: &str,
    wanted: impl Fn(&Conversation) -> bool,
) -> anyhow::Result<Conversation> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let page = desk.list_conversations(ListConversationsRequest::default()).await?.into_inner();
        let row = page.conversations.into_iter().find(|c| c.conversation_id == id);
        match row {
            Some(row) if !row.queue.is_empty() && wanted(&row) => return Ok(row),
            row if tokio::time::Instant::now() > deadline => anyhow::bail!("{id} never got there: {row:?}"),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

fn transfer(id: &str, queue: &str, agent: &str, note: &str) -> TransferRequest {
    TransferRequest {
        conversation_id: id.into(),
        queue: queue.into(),
        agent_id: agent.into(),
        note: note.into(),
    }
}

#[tokio::test]
async fn conversations_change_hands_within_capacity_and_presence_and_the_supervisor_sees_it_all()
-> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let mut router = RouterClient::new(cluster.channel().await?);
    router.publish_rules(PublishRulesRequest { text: RULES.into(), wait: true }).await?;
    let mut sue = desk(&cluster, Role::Supervisor, "sue").await?;
    let (mut ana, mut bob) =
        (desk(&cluster, Role::Agent, "ana").await?, desk(&cluster, Role::Agent, "bob").await?);
    put_agent(&mut sue, "ana", &["general"]).await?;
    put_agent(&mut sue, "bob", &["general", "vip"]).await?;
    let first = asks_for_a_person(&cluster, &mut sue, "kim").await?.conversation_id;
    let second = asks_for_a_person(&cluster, &mut sue, "lou").await?.conversation_id;

    // Given: the supervisor gives the first to ana, whose one web seat it takes.
    let assigned =
        sue.assign(AssignRequest { conversation_id: first.clone(), agent_id: "ana".into() }).await?;
    assert_eq!(assigned.get_ref().agent_id, "ana");
    row_where(&mut sue, &first, |c| c.assignee == "ana").await?;
    let full = ana.claim(ClaimRequest { conversation_id: second.clone() }).await.expect_err("ana is full");
    assert_eq!(full.code(), Code::FailedPrecondition);
    assert!(
        full.message().contains("no room for another web conversation (capacity 1)"),
        "{}",
        full.message()
    );
    let mut gil = DeskClient::new(cluster.channel_as("globex", Role::Supervisor, "gil").await?);
    let foreign = gil.transfer(transfer(&second, "general", "", "")).await.expect_err("not globex's");
    assert_eq!(foreign.code(), Code::NotFound, "{foreign:?}");
    let unknown = sue.assign(AssignRequest { conversation_id: second.clone(), agent_id: "zed".into() }).await;
    assert_eq!(unknown.expect_err("zed is unknown").code(), Code::InvalidArgument);
    let not_theirs =
        ana.assign(AssignRequest { conversation_id: second.clone(), agent_id: "ana".into() }).await;
    assert_eq!(not_theirs.expect_err("agents do not assign").code(), Code::PermissionDenied);

    // Away agents are given nothing; back online, they are.
    bob.set_presence(SetPresenceRequest { presence: Presence::Away.into() }).await?;
    let away = sue.assign(AssignRequest { conversation_id: second.clone(), agent_id: "bob".into() }).await;
    let away = away.expect_err("bob is away");
    assert!(away.code() == Code::FailedPrecondition && away.message().contains("away"), "{away:?}");
    let online =
        bob.set_presence(SetPresenceRequest { presence: Presence::Online.into() }).await?.into_inner();
    assert_eq!(online.presence(), Presence::Online);

    // When: ana transfers hers to bob with a note, her seat frees and she claims the second.
    let moved = ana.transfer(transfer(&first, "", "bob", "wants a refund over 500")).await?.into_inner();
    assert_eq!((moved.agent_id.as_str(), moved.queue.as_str()), ("bob", "general"));
    ana.claim(ClaimRequest { conversation_id: second.clone() }).await?;
    let view = sue
        .get_conversation(GetConversationRequest {
            conversation_id: first.clone(),
            min_sequence: moved.sequence,
        })
        .await?
        .into_inner();
    let said =
        view.entries.iter().rfind(|e| e.event == "transferred").map(|e| e.text.clone()).unwrap_or_default();
    assert!(said.contains("bob") && said.contains("from ana") && said.contains("refund over 500"), "{said}");
    let refused = bob.unassign(UnassignRequest { conversation_id: second.clone() }).await.expect_err("ana's");
    assert_eq!(refused.code(), Code::PermissionDenied);
    let third = asks_for_a_person(&cluster, &mut sue, "max").await?.conversation_id;
    let given = ana.transfer(transfer(&third, "", "bob", "")).await.expect_err("agents do not assign");
    assert_eq!(given.code(), Code::PermissionDenied, "{given:?}");

    // Then: bob sends it to the vip queue; nobody holds it there and it waits since then.
    let nowhere = bob.transfer(transfer(&first, "nowhere", "", "")).await.expect_err("an unknown queue");
    assert!(nowhere.code() == Code::InvalidArgument && nowhere.message().contains("nowhere"), "{nowhere:?}");
    let kept = bob.transfer(transfer(&first, "vip", "bob", "")).await?.into_inner();
    assert_eq!(
        (kept.agent_id.as_str(), kept.queue.as_str()),
        ("bob", "vip"),
        "bob is full, and keeps his own"
    );
    let to_vip = bob.transfer(transfer(&first, "vip", "", "VIP customer")).await?.into_inner();
    assert_eq!((to_vip.agent_id.as_str(), to_vip.queue.as_str()), ("", "vip"));
    row_where(&mut sue, &first, |c| c.assignee.is_empty() && c.queue == "vip").await?;
    let overview = sue.get_overview(GetOverviewRequest::default()).await?.into_inner();
    let vip = overview.queues.iter().find(|q| q.queue == "vip").expect("the vip queue");
    assert_eq!(vip.waiting, 1);
    assert!(vip.oldest_waiting_since.is_some());
    let ana_seen = overview.agents.iter().find(|a| a.agent_id == "ana").expect("ana");
    assert_eq!((ana_seen.load, ana_seen.capacity, ana_seen.presence()), (1, 1, Presence::Online));
    assert_eq!((overview.all, overview.unassigned, overview.mine), (3, 2, 0));
    let mine = ana.get_overview(GetOverviewRequest::default()).await?.into_inner();
    assert_eq!(mine.mine, 1, "ana holds the second");

    // A macro that moves the queue sends the conversation there, unassigned.
    let to_vip = Macro {
        macro_id: "to-vip".into(),
        name: "To the VIP desk".into(),
        texts: [("en".to_string(), "A colleague will take it from here.".to_string())].into(),
        actions: Some(MacroActions { queue: "vip".into(), ..MacroActions::default() }),
        ..Macro::default()
    };
    let misspelt = Macro {
        actions: Some(MacroActions { queue: "vpi".into(), ..MacroActions::default() }),
        ..to_vip.clone()
    };
    let refused = sue.save_macro(SaveMacroRequest { r#macro: Some(misspelt), expected_version: 0 }).await;
    assert_eq!(refused.expect_err("an unknown queue").code(), Code::InvalidArgument);
    sue.save_macro(SaveMacroRequest { r#macro: Some(to_vip), expected_version: 0 }).await?;
    let apply = ApplyMacroRequest {
        conversation_id: second.clone(),
        macro_id: "to-vip".into(),
        ..ApplyMacroRequest::default()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match ana.apply_macro(apply.clone()).await {
            Ok(_) => break,
            // The desk has not folded the macro's save yet.
            Err(status) if status.code() == Code::NotFound && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(status) => anyhow::bail!("the macro was not applied: {status:?}"),
        }
    }
    row_where(&mut sue, &second, |c| c.assignee.is_empty() && c.queue == "vip").await?;

    // Whoever holds a conversation can put it back in its queue.
    ana.claim(ClaimRequest { conversation_id: second.clone() }).await?;
    let unassigned = ana.unassign(UnassignRequest { conversation_id: second.clone() }).await?.into_inner();
    assert_eq!((unassigned.agent_id.as_str(), unassigned.queue.as_str()), ("", "vip"));
    row_where(&mut sue, &second, |c| c.assignee.is_empty() && c.sequence >= unassigned.sequence).await?;
    cluster.stop().await
}

#[tokio::test]
async fn an_agent_offline_past_the_grace_period_gives_their_conversations_back_to_the_queue()
-> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let mut config = backing.config();
    config.desk_offline_grace = Duration::from_secs(1);
    let cluster = Cluster::start(config).await?;
    let mut router = RouterClient::new(cluster.channel().await?);
    router.publish_rules(PublishRulesRequest { text: RULES.into(), wait: true }).await?;
    let mut sue = desk(&cluster, Role::Supervisor, "sue").await?;
    let mut ana = desk(&cluster, Role::Agent, "ana").await?;
    put_agent(&mut sue, "ana", &["general"]).await?;
    let id = asks_for_a_person(&cluster, &mut sue, "kim").await?.conversation_id;
    let claimed = ana.claim(ClaimRequest { conversation_id: id.clone() }).await?.into_inner();
    row_where(&mut sue, &id, |c| c.assignee == "ana" && c.sequence >= claimed.sequence).await?;

    ana.set_presence(SetPresenceRequest { presence: Presence::Offline.into() }).await?;
    let back = row_where(&mut sue, &id, |c| c.assignee.is_empty()).await?;
    assert_eq!(back.queue, "general");
    let view =
        sue.get_conversation(GetConversationRequest { conversation_id: id.clone(), min_sequence: 0 }).await?;
    let said = view.get_ref().entries.iter().find(|e| e.event == "transferred").map(|e| e.text.clone());
    assert!(
        said.as_deref().is_some_and(|s| s.contains("ana went offline") && s.contains("by desk")),
        "{said:?}"
    );
    let refused = ana.claim(ClaimRequest { conversation_id: id.clone() }).await.expect_err("ana is offline");
    assert!(refused.message().contains("offline"), "{}", refused.message());
    cluster.stop().await
}

#[tokio::test]
async fn a_return_waits_in_the_approvals_with_its_facts_until_a_supervisor_decides() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let mut router = RouterClient::new(cluster.channel().await?);
    let rules = "playbooks:\n  returns: {window_days: 30, queue: returns}\n\
                 rules:\n  - name: returns\n    when: {keywords: [return]}\n    then: {action: answer, playbook: returns, queue: returns}\n\
                 \x20 - name: everything-else\n    then: {action: queue, queue: general}\n";
    router.publish_rules(PublishRulesRequest { text: rules.into(), wait: true }).await?;
    let bus = backing.bus().await?;
    let delivered = OrderUpdated {
        order_id: "12345".into(),
        customer_id: "c-r".into(),
        status: OrderStatus::Delivered.into(),
        ..OrderUpdated::default()
    };
    bus.publish(&switchboard_bus::Draft::new(TENANT, "12345", Body::OrderUpdated(delivered)).build()?)
        .await?;
    let asked =
        submit(&cluster, verified_message("c-r", "I want to return order 12345, it is broken", "r-1"))
            .await?;
    let (return_id, _) = wait_for_event(&bus, "switchboard.events.return.>", |event| match &event.body {
        Some(Body::ReturnOpened(opened)) if opened.conversation_id == asked.conversation_id => {
            Some(opened.return_id.clone())
        }
        _ => None,
    })
    .await?;

    let mut sue = desk(&cluster, Role::Supervisor, "sue").await?;
    let approval_id = format!("return:{return_id}");
    let waiting = loop {
        let listed = sue.list_approvals(ListApprovalsRequest::default()).await?.into_inner().approvals;
        if let Some(found) = listed.into_iter().find(|a| a.approval_id == approval_id) {
            break found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!((waiting.kind.as_str(), waiting.customer_id.as_str()), ("return", "c-r"));
    assert_eq!(waiting.conversation_id, asked.conversation_id);
    assert_eq!(waiting.facts.get("order_id").map(String::as_str), Some("12345"));
    assert!(waiting.facts.get("reason").is_some_and(|r| r.contains("broken")), "{:?}", waiting.facts);
    assert_eq!(sue.get_overview(GetOverviewRequest::default()).await?.into_inner().pending_approvals, 1);
    // Another tenant's supervisor sees none of it and decides nothing of it.
    let mut gil = DeskClient::new(cluster.channel_as("globex", Role::Supervisor, "gil").await?);
    assert!(gil.list_approvals(ListApprovalsRequest::default()).await?.into_inner().approvals.is_empty());
    let theirs = gil.get_overview(GetOverviewRequest::default()).await?.into_inner();
    assert_eq!((theirs.pending_approvals, theirs.queues.len(), theirs.agents.len()), (0, 0, 0));
    let foreign =
        DecideApprovalRequest { approval_id: approval_id.clone(), approve: true, reason: String::new() };
    assert_eq!(gil.decide_approval(foreign).await.expect_err("not globex's").code(), Code::NotFound);
    let mut ana = desk(&cluster, Role::Agent, "ana").await?;
    let denied = ana.list_approvals(ListApprovalsRequest::default()).await.expect_err("agents do not decide");
    assert_eq!(denied.code(), Code::PermissionDenied);

    let no_reason =
        DecideApprovalRequest { approval_id: approval_id.clone(), approve: false, reason: String::new() };
    assert_eq!(
        sue.decide_approval(no_reason).await.expect_err("a refusal needs a reason").code(),
        Code::InvalidArgument
    );
    let bad_id =
        DecideApprovalRequest { approval_id: return_id.clone(), approve: true, reason: String::new() };
    assert_eq!(
        sue.decide_approval(bad_id).await.expect_err("not an approval id").code(),
        Code::InvalidArgument
    );
    let approve =
        DecideApprovalRequest { approval_id: approval_id.clone(), approve: true, reason: String::new() };
    assert_eq!(sue.decide_approval(approve).await?.into_inner().status, "approved");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !sue.list_approvals(ListApprovalsRequest::default()).await?.into_inner().approvals.is_empty() {
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "the decided return is still listed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cluster.stop().await
}

#[tokio::test]
async fn a_breach_raises_the_priority_and_moves_the_conversation_as_the_policy_says() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let mut router = RouterClient::new(cluster.channel().await?);
    let rules = "slas:\n  - name: fast\n    first_response: 3s\n    on_breach: {priority: urgent, queue: escalations}\n\
                 rules:\n  - name: everything-else\n    then: {action: queue, queue: general, priority: normal}\n";
    router.publish_rules(PublishRulesRequest { text: rules.into(), wait: true }).await?;
    let mut sue = desk(&cluster, Role::Supervisor, "sue").await?;
    let mut ana = desk(&cluster, Role::Agent, "ana").await?;
    let submitted = submit(&cluster, message("kim", "Please call me about my contract", "b-1")).await?;
    let id = submitted.conversation_id;
    row_where(&mut sue, &id, |c| c.queue == "general").await?;
    ana.claim(ClaimRequest { conversation_id: id.clone() }).await?;

    let breached = row_where(&mut sue, &id, |c| c.queue == "escalations").await?;
    assert_eq!(breached.priority(), switchboard_proto::events::v1::Priority::Urgent);
    assert!(breached.assignee.is_empty(), "someone else takes it: {breached:?}");
    assert!(breached.sla_breached);
    let view =
        sue.get_conversation(GetConversationRequest { conversation_id: id.clone(), min_sequence: 0 }).await?;
    let tags = &view.get_ref().tags;
    assert!(tags.contains(&"sla-breached".to_string()), "{tags:?}");
    cluster.stop().await
}

#[tokio::test]
async fn the_customer_typing_reaches_the_person_watching_and_an_agent_typing_reaches_the_chat()
-> anyhow::Result<()> {
    use futures::StreamExt as _;
    use switchboard_proto::desk::v1::{SignalTypingRequest, WatchTypingRequest};
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let bus = backing.bus().await?;
    let mut ana = desk(&cluster, Role::Agent, "ana").await?;
    let id = asks_for_a_person(&cluster, &mut ana, "kim").await?.conversation_id;
    let subject = switchboard_bus::typing_subject(TENANT, &id);
    let mut chat_side = bus.client().subscribe(subject.clone()).await?;

    let mut signals =
        ana.watch_typing(WatchTypingRequest { conversation_id: id.clone() }).await?.into_inner();
    // The watch is subscribed once the call answered; an agent's own signal is not passed back.
    ana.signal_typing(SignalTypingRequest { conversation_id: id.clone() }).await?;
    let told = tokio::time::timeout(Duration::from_secs(10), chat_side.next()).await?.expect("a signal");
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&told.payload)?["author"], "agent");
    bus.client().publish(subject, r#"{"author":"customer"}"#.into()).await?;
    let signal = tokio::time::timeout(Duration::from_secs(10), signals.next()).await?.expect("a signal")?;
    assert_eq!(signal.author, "customer");

    let mut other = DeskClient::new(cluster.channel_as("globex", Role::Agent, "gus").await?);
    let foreign = other.watch_typing(WatchTypingRequest { conversation_id: id.clone() }).await;
    assert_eq!(foreign.map(|_| ()).expect_err("another tenant's").code(), Code::NotFound);
    cluster.stop().await
}
