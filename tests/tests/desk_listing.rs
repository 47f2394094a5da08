//! `ListConversations` against a reference: a few hundred conversations of varied queue,
//! status, holder, channel, priority, language and SLA state (ties in due time and age
//! included) are published as events; each filter, paged by cursor at two page sizes, must give
//! exactly the conversations the desk's own fold makes of those events, filtered as DESK.md
//! says and in the listing's order, and nothing of another tenant.

mod common;

use chrono::{DateTime, Duration, DurationRound as _, Utc};
use common::{Api, Backing, Cluster};
use switchboard_auth::Role;
use switchboard_bus::{Bus, Draft};
use switchboard_desk::{
    conversation::{self, Conversation, Status},
    listing::SortKey,
};
use switchboard_proto::{
    desk::v1::{ConversationStatus, ListConversationsRequest, desk_client::DeskClient},
    events::v1::{
        Channel, ConversationAssigned, ConversationClaimed, ConversationClosed, Event, MessageReceived,
        MessageRouted, Priority, RouteAction, SlaBreached, SlaPaused, SlaStarted, event::Body,
    },
    time::to_timestamp,
};
use switchboard_server::Service;

const TENANT: &str = "acme";
const OTHER_TENANT: &str = "globex";
const LANGUAGES: [&str; 6] = ["en", "en-GB", "de", "zh-TW", "EN-us", ""];
/// Due times, in minutes from now (overdue but not yet breached, soon, later), none within
/// 20 minutes of the at-risk bound.
const DUE_IN: [i64; 5] = [-20, 10, 30, 120, 24 * 60];
const AT_RISK_MINUTES: u32 = 60;

/// The events of conversation `n` of `tenant`, in order, as of `now`.
fn conversation_events(tenant: &str, n: usize, now: DateTime<Utc>) -> anyhow::Result<Vec<Event>> {
    let id = uuid::Uuid::now_v7().to_string();
    let created = now - Duration::minutes(1 + (n % 40) as i64);
    let channel = [Channel::Web, Channel::Email, Channel::Voice, Channel::Sms][n % 4];
    let mut events = Vec::new();
    let mut emit = |aggregate_id: &str, body: Body, at: DateTime<Utc>| -> anyhow::Result<()> {
        let mut event = Draft::new(tenant, aggregate_id, body).build()?;
        event.occurred_at = Some(to_timestamp(at));
        events.push(event);
        Ok(())
    };
    let received = MessageReceived {
        conversation_id: id.clone(),
        message_id: format!("m-{n}"),
        customer_id: format!("cus-{n}"),
        channel: channel.into(),
        text: format!("question {n}"),
        starts_conversation: true,
        ..Default::default()
    };
    emit(&id, Body::MessageReceived(received), created)?;
    let action =
        [RouteAction::AutoReply, RouteAction::Queue, RouteAction::Queue, RouteAction::Escalate][n % 4];
    let routed = MessageRouted {
        conversation_id: id.clone(),
        message_id: format!("m-{n}"),
        channel: channel.into(),
        action: action.into(),
        queue: ["general", "billing", "returns"][n % 3].into(),
        priority: [Priority::Low, Priority::Normal, Priority::High, Priority::Urgent][n * 7 % 4].into(),
        language: LANGUAGES[n % LANGUAGES.len()].into(),
        ..Default::default()
    };
    emit(&format!("m-{n}"), Body::MessageRouted(routed), created)?;
    let sla = |metric: &str, minutes: i64| SlaStarted {
        conversation_id: id.clone(),
        metric: metric.into(),
        due_at: Some(to_timestamp(now + Duration::minutes(minutes))),
        ..Default::default()
    };
    let breached = |metric: &str, minutes: i64| SlaBreached {
        conversation_id: id.clone(),
        metric: metric.into(),
        due_at: Some(to_timestamp(now + Duration::minutes(minutes))),
    };
    match n % 7 {
        0 => {}
        // Missed 2 h ago; and missed 3 h ago beside a target due tomorrow.
        1 => emit(&id, Body::SlaBreached(breached("first_response", -120)), created)?,
        5 => {
            emit(&id, Body::SlaStarted(sla("resolution", 24 * 60)), created)?;
            emit(&id, Body::SlaBreached(breached("first_response", -180)), created)?;
        }
        _ => emit(&id, Body::SlaStarted(sla("first_response", DUE_IN[n / 7 % DUE_IN.len()])), created)?,
    }
    let claimed = |agent: &str| ConversationClaimed {
        conversation_id: id.clone(),
        agent_id: agent.into(),
        ..ConversationClaimed::default()
    };
    match n % 9 {
        0 | 1 => emit(&id, Body::ConversationClaimed(claimed("ana")), created)?,
        2 => emit(&id, Body::ConversationClaimed(claimed("bob")), created)?,
        3 => {
            let assigned = ConversationAssigned {
                conversation_id: id.clone(),
                agent_id: "carl".into(),
                ..Default::default()
            };
            emit("carl", Body::ConversationAssigned(assigned), created)?;
        }
        _ => {}
    }
    if n.is_multiple_of(11) {
        let closed = ConversationClosed { conversation_id: id.clone(), ..Default::default() };
        emit(&id, Body::ConversationClosed(closed), created)?;
    } else if n.is_multiple_of(13) {
        emit(&id, Body::SlaPaused(SlaPaused { conversation_id: id.clone(), targets: vec![] }), created)?;
    }
    Ok(events)
}

/// Publishes every event; returns the desk's fold of the tenant's conversations and the last sequence.
async fn publish(bus: &Bus, now: DateTime<Utc>) -> anyhow::Result<(Vec<Conversation>, u64)> {
    let mut folded = Vec::new();
    let mut last = 0;
    for (tenant, count) in [(TENANT, 240), (OTHER_TENANT, 30)] {
        for n in 0..count {
            let mut state = None;
            for event in conversation_events(tenant, n, now)? {
                last = bus.publish(&event).await?.sequence;
                state = conversation::apply(state, &event, last);
            }
            folded.extend(state.filter(|c| c.tenant == TENANT));
        }
    }
    Ok((folded, last))
}

/// A filter as a request (as agent "ana") and as what it means (DESK.md).
struct Case {
    name: &'static str,
    request: ListConversationsRequest,
    means: Box<dyn Fn(&Conversation) -> bool>,
}

fn case(
    name: &'static str,
    request: ListConversationsRequest,
    means: impl Fn(&Conversation) -> bool + 'static,
) -> Case {
    Case { name, request, means: Box::new(means) }
}

/// `en` is `en`, `en-GB`, ...; `en-gb` is `en-GB` only; case does not matter.
fn speaks(c: &Conversation, asked: &str) -> bool {
    let (tag, asked) = (c.language.to_lowercase(), asked.to_lowercase());
    tag == asked || tag.split('-').next() == Some(asked.as_str())
}

/// Due by `bound`, or breached.
fn at_risk(c: &Conversation, bound: DateTime<Utc>) -> bool {
    c.sla_breached() || c.sla_due_at().is_some_and(|due| due <= bound)
}

fn cases(now: DateTime<Utc>) -> Vec<Case> {
    let request = ListConversationsRequest::default;
    let status = |name, wire: ConversationStatus, folded: Status| {
        case(name, ListConversationsRequest { status: wire.into(), ..request() }, move |c| {
            c.status() == folded
        })
    };
    let language = |name, asked: &'static str| {
        case(name, ListConversationsRequest { language: asked.into(), ..request() }, move |c| {
            speaks(c, asked)
        })
    };
    let bound = now + Duration::minutes(i64::from(AT_RISK_MINUTES));
    vec![
        case("everything", request(), |_| true),
        case("queue", ListConversationsRequest { queue: "billing".into(), ..request() }, |c| {
            c.queue == "billing"
        }),
        status("queued", ConversationStatus::Queued, Status::Queued),
        status("escalated", ConversationStatus::Escalated, Status::Escalated),
        status("assigned", ConversationStatus::Assigned, Status::Assigned),
        status("pending", ConversationStatus::Pending, Status::Pending),
        status("resolved", ConversationStatus::Resolved, Status::Resolved),
        status("open", ConversationStatus::Open, Status::Open),
        case("me", ListConversationsRequest { assignee: "me".into(), ..request() }, |c| c.assignee == "ana"),
        case("bob's", ListConversationsRequest { assignee: "bob".into(), ..request() }, |c| {
            c.assignee == "bob"
        }),
        case(
            "unassigned in a queue",
            ListConversationsRequest { assignee: "unassigned".into(), queue: "general".into(), ..request() },
            |c| c.assignee.is_empty() && c.queue == "general",
        ),
        case("channel", ListConversationsRequest { channel: Channel::Email.into(), ..request() }, |c| {
            c.channel == i32::from(Channel::Email)
        }),
        case("priority", ListConversationsRequest { priority: Priority::High.into(), ..request() }, |c| {
            c.priority == i32::from(Priority::High)
        }),
        language("language en", "en"),
        language("language en-gb", "en-gb"),
        language("language EN-US", "EN-US"),
        language("language zh", "zh"),
        case(
            "at risk",
            ListConversationsRequest { sla_at_risk_minutes: Some(AT_RISK_MINUTES), ..request() },
            move |c| at_risk(c, bound),
        ),
        case(
            "assigned, English, at risk",
            ListConversationsRequest {
                status: ConversationStatus::Assigned.into(),
                language: "en".into(),
                sla_at_risk_minutes: Some(AT_RISK_MINUTES),
                ..request()
            },
            move |c| c.status() == Status::Assigned && speaks(c, "en") && at_risk(c, bound),
        ),
    ]
}

fn sort_key(c: &Conversation) -> SortKey {
    SortKey {
        sla_due_at: c.sla_due_at(),
        priority: c.priority,
        created_at: c.created_at,
        conversation_id: c.conversation_id.clone(),
    }
}

/// The tenant's conversations folded from every event on the stream, once the desk has applied
/// them all and nothing new came for a moment.
async fn settled_fold(bus: &Bus, desk: &mut DeskClient<Api>) -> anyhow::Result<Vec<Conversation>> {
    let mut seen = 0;
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let events = common::events(bus, "switchboard.events.>").await?;
        if events.len() == seen {
            let last = bus.last_sequence(switchboard_bus::EVENTS_STREAM).await?;
            let caught_up =
                ListConversationsRequest { min_sequence: last, page_size: 1, ..Default::default() };
            desk.list_conversations(caught_up).await?;
            let mut folded: std::collections::BTreeMap<(String, String), Option<Conversation>> =
                Default::default();
            for (i, event) in events.iter().enumerate() {
                let Some(id) = event.body.as_ref().and_then(conversation::conversation_of) else { continue };
                let key = (event.tenant.clone(), id.to_string());
                let state = folded.remove(&key).flatten();
                folded.insert(key, conversation::apply(state, event, i as u64 + 1));
            }
            return Ok(folded.into_values().flatten().filter(|c| c.tenant == TENANT).collect());
        }
        seen = events.len();
    }
}

/// Every page of `request`, `page_size` rows at a time; the ids in the order listed.
async fn walk(
    desk: &mut DeskClient<Api>,
    request: &ListConversationsRequest,
    page_size: u32,
) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = ListConversationsRequest { page_size, cursor: cursor.clone(), ..request.clone() };
        let listed = desk.list_conversations(page).await?.into_inner();
        anyhow::ensure!(listed.conversations.len() <= page_size as usize, "a page of {page_size} too long");
        ids.extend(listed.conversations.into_iter().map(|row| row.conversation_id));
        if listed.next_cursor.is_empty() {
            return Ok(ids);
        }
        cursor = listed.next_cursor;
    }
}

#[tokio::test]
async fn every_filter_pages_exactly_the_folded_conversations_in_order() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster =
        Cluster::start(switchboard_server::Config { services: vec![Service::Desk], ..backing.config() })
            .await?;
    let now = Utc::now().duration_trunc(Duration::seconds(1))?;
    let bus = backing.bus().await?;
    let (_, last) = publish(&bus, now).await?;
    let mut desk = DeskClient::new(cluster.channel_as(TENANT, Role::Agent, "ana").await?);
    let caught_up = ListConversationsRequest { min_sequence: last, page_size: 1, ..Default::default() };
    desk.list_conversations(caught_up).await?;
    // The desk's own people's side answers some of these events (SLA targets already due are
    // breached): the expectation folds the whole stream as it stands, once it has settled.
    let folded = settled_fold(&bus, &mut desk).await?;

    let mut ordered = folded;
    ordered.sort_by_key(sort_key);
    for Case { name, request, means } in cases(now) {
        let expected: Vec<String> =
            ordered.iter().filter(|c| means(c)).map(|c| c.conversation_id.clone()).collect();
        assert!(!expected.is_empty(), "{name}: the data has rows for every filter");
        for page_size in [7, 50] {
            let listed = walk(&mut desk, &request, page_size).await?;
            assert_eq!(listed, expected, "{name}, pages of {page_size}");
        }
    }
    cluster.stop().await
}
