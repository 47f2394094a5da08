//! The agent desk on a real cluster: conversations a customer hands to a person appear for the
//! tenant's agents, filtered and paged most urgent first; of two agents claiming at once one wins;
//! another tenant sees nothing and claims nothing.

mod common;

use common::{Api, Backing, Cluster, message, wait_for_event};
use switchboard_auth::Role;
use switchboard_proto::{
    desk::v1::{
        ClaimRequest, Conversation, ConversationStatus, ListConversationsRequest, desk_client::DeskClient,
    },
    events::v1::{Channel, Priority, event::Body},
    intake::v1::intake_client::IntakeClient,
    router::v1::{PublishRulesRequest, router_client::RouterClient},
};
use tonic::Code;

const TENANT: &str = "acme";

/// A person on request, invoices to billing at low priority, the rest to general.
const RULES: &str = r#"
rules:
  - name: customer-asks-for-a-person
    when: {keywords: [person]}
    then: {action: escalate, queue: general, priority: high, handoff: customer_asked}
  - name: invoices
    when: {keywords: [invoice]}
    then: {action: queue, queue: billing, priority: low}
  - name: everything-else
    then: {action: queue, queue: general, priority: normal}
"#;

const ASKS_FOR_A_PERSON: &str = "I have waited all week, please let me talk to a person";

async fn desk(cluster: &Cluster, tenant: &str, agent: &str) -> anyhow::Result<DeskClient<Api>> {
    Ok(DeskClient::new(cluster.channel_as(tenant, Role::Agent, agent).await?))
}

/// Seven conversations of the tenant, each routed; returns the escalated one's id and the
/// sequence of the last decision.
async fn seven_conversations(cluster: &Cluster, bus: &switchboard_bus::Bus) -> anyhow::Result<(String, u64)> {
    let admin = cluster.channel_as(TENANT, Role::Admin, "acme-admin").await?;
    RouterClient::new(admin).publish_rules(PublishRulesRequest { text: RULES.into(), wait: true }).await?;
    let mut intake = IntakeClient::new(cluster.channel_as(TENANT, Role::Service, "web").await?);
    let escalated = intake.submit_message(message("cus-0", ASKS_FOR_A_PERSON, "d-0")).await?.into_inner();
    for i in 1..=3 {
        let text = format!("my invoice {i} is wrong");
        intake.submit_message(message(&format!("cus-{i}"), &text, &format!("d-{i}"))).await?;
    }
    for i in 4..=6 {
        let text = format!("hello, question number {i}");
        intake.submit_message(message(&format!("cus-{i}"), &text, &format!("d-{i}"))).await?;
    }
    let filter = format!("switchboard.events.routing.{TENANT}.>");
    let mut routed = 0;
    let ((), last) = wait_for_event(bus, &filter, |event| {
        routed += usize::from(matches!(event.body, Some(Body::MessageRouted(_))));
        (routed == 7).then_some(())
    })
    .await?;
    Ok((escalated.conversation_id, last))
}

async fn list(
    desk: &mut DeskClient<Api>,
    request: ListConversationsRequest,
) -> anyhow::Result<(Vec<Conversation>, String)> {
    let page = desk.list_conversations(request).await?.into_inner();
    Ok((page.conversations, page.next_cursor))
}

fn ids(rows: &[Conversation]) -> Vec<String> {
    rows.iter().map(|row| row.conversation_id.clone()).collect()
}

#[tokio::test]
async fn agents_list_page_and_claim_their_tenants_conversations() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let bus = backing.bus().await?;
    let (escalated_id, routed_at) = seven_conversations(&cluster, &bus).await?;
    let mut ana = desk(&cluster, TENANT, "ana").await?;
    let caught_up = ListConversationsRequest { min_sequence: routed_at, ..Default::default() };

    // The hand-off is on the desk, escalated and unassigned, with its reason and preview.
    let (all, cursor) = list(&mut ana, caught_up.clone()).await?;
    assert_eq!((all.len(), cursor.as_str()), (7, ""), "{all:?}");
    let first = &all[0];
    assert_eq!(first.conversation_id, escalated_id, "high priority first: {all:?}");
    assert_eq!(first.status(), ConversationStatus::Escalated);
    assert_eq!((first.assignee.as_str(), first.handoff_reason.as_str()), ("", "customer_asked"));
    assert_eq!((first.preview.as_str(), first.queue.as_str()), (ASKS_FOR_A_PERSON, "general"));
    assert_eq!((first.customer_id.as_str(), first.channel()), ("cus-0", Channel::Web));
    // Then priority, then age: normal ones before low ones, oldest first within each.
    let priorities: Vec<_> = all.iter().map(Conversation::priority).collect();
    assert_eq!(
        priorities,
        [
            Priority::High,
            Priority::Normal,
            Priority::Normal,
            Priority::Normal,
            Priority::Low,
            Priority::Low,
            Priority::Low
        ]
    );
    let created: Vec<_> = all.iter().map(|row| row.created_at.map(|at| (at.seconds, at.nanos))).collect();
    assert!(created[1..4].is_sorted() && created[4..].is_sorted(), "oldest first: {created:?}");

    // Pages of three give every row once, in the same order.
    let mut paged = Vec::new();
    let mut cursor = String::new();
    loop {
        let request = ListConversationsRequest { page_size: 3, cursor: cursor.clone(), ..caught_up.clone() };
        let (rows, next) = list(&mut ana, request).await?;
        assert!(rows.len() <= 3);
        paged.extend(ids(&rows));
        if next.is_empty() {
            break;
        }
        cursor = next;
    }
    assert_eq!(paged, ids(&all));

    // Filters.
    let count = |rows: &(Vec<Conversation>, String)| rows.0.len();
    let billing = ListConversationsRequest { queue: "billing".into(), ..caught_up.clone() };
    assert_eq!(count(&list(&mut ana, billing).await?), 3);
    let low = ListConversationsRequest { priority: Priority::Low.into(), ..caught_up.clone() };
    assert_eq!(count(&list(&mut ana, low).await?), 3);
    let escalated_unassigned = ListConversationsRequest {
        status: ConversationStatus::Escalated.into(),
        assignee: "unassigned".into(),
        ..caught_up.clone()
    };
    assert_eq!(ids(&list(&mut ana, escalated_unassigned).await?.0), std::slice::from_ref(&escalated_id));
    let email = ListConversationsRequest { channel: Channel::Email.into(), ..caught_up.clone() };
    assert_eq!(count(&list(&mut ana, email).await?), 0);
    let at_risk = ListConversationsRequest { sla_at_risk_minutes: Some(60), ..caught_up.clone() };
    assert_eq!(count(&list(&mut ana, at_risk).await?), 0, "no SLA runs under these rules");
    let too_big = ListConversationsRequest { page_size: 201, ..caught_up.clone() };
    assert_eq!(ana.list_conversations(too_big).await.expect_err("too big").code(), Code::InvalidArgument);

    // Two agents claim at once: exactly one wins, the other is told who has it.
    let mut bob = desk(&cluster, TENANT, "bob").await?;
    let claim = || ClaimRequest { conversation_id: escalated_id.clone() };
    let (by_ana, by_bob) = tokio::join!(ana.claim(claim()), bob.claim(claim()));
    let (winner, loser, refused) = match (by_ana, by_bob) {
        (Ok(won), Err(refused)) => (won.into_inner(), "bob", refused),
        (Err(refused), Ok(won)) => (won.into_inner(), "ana", refused),
        other => anyhow::bail!("exactly one claim wins: {other:?}"),
    };
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(refused.message().contains(&format!("{:?}", winner.agent_id)), "names the holder: {refused:?}");
    assert_ne!(winner.agent_id, loser);
    let mut winner_desk = desk(&cluster, TENANT, &winner.agent_id).await?;
    let again = winner_desk.claim(claim()).await?.into_inner();
    assert!(again.already_held, "claiming one's own conversation again changes nothing");

    // The claim shows on the desk, under `me` for the winner.
    let mine = ListConversationsRequest {
        assignee: "me".into(),
        min_sequence: winner.sequence,
        ..Default::default()
    };
    let (rows, _) = list(&mut winner_desk, mine).await?;
    assert_eq!(ids(&rows), std::slice::from_ref(&escalated_id));
    assert_eq!(
        (rows[0].status(), rows[0].assignee.as_str()),
        (ConversationStatus::Assigned, winner.agent_id.as_str())
    );

    // Another tenant's agent sees nothing and cannot claim it.
    let mut stranger = desk(&cluster, "globex", "ana").await?;
    assert!(list(&mut stranger, ListConversationsRequest::default()).await?.0.is_empty());
    assert_eq!(stranger.claim(claim()).await.expect_err("not theirs").code(), Code::NotFound);
    assert_eq!(
        ana.claim(ClaimRequest { conversation_id: "no-such".into() }).await.expect_err("unknown").code(),
        Code::NotFound
    );
    cluster.stop().await
}

#[tokio::test]
async fn services_cannot_use_the_desk() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    let mut service = DeskClient::new(cluster.channel_as(TENANT, Role::Service, "web").await?);
    let refused =
        service.list_conversations(ListConversationsRequest::default()).await.expect_err("a system");
    assert_eq!(refused.code(), Code::PermissionDenied);
    cluster.stop().await
}
