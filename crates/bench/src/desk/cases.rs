//! What agents ask `ListConversations`, as cases: each a set of requests (one per agent, queue,
//! status or language, taken in turn), timed call by call from the client through the real
//! gRPC server, its token check and the desk's query.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use switchboard_auth::{Authorized, Role};
use switchboard_proto::{
    desk::v1::{
        ConversationStatus, ListConversationsRequest, ListConversationsResponse, desk_client::DeskClient,
    },
    events::v1::{Channel, Priority},
};

use super::mix::{LANGUAGES, QUEUES, TENANTS, agent};
use crate::search::percentile;

const CHANNELS: [Channel; 6] =
    [Channel::Web, Channel::Email, Channel::Voice, Channel::Sms, Channel::Social, Channel::Api];
const PRIORITIES: [Priority; 4] = [Priority::Urgent, Priority::High, Priority::Normal, Priority::Low];

/// Pages walked before the deep-paging case's page: its page is the 20th.
const DEEP_PAGE: usize = 20;
/// Page size of the deep-paging case.
const DEEP_PAGE_SIZE: u32 = 50;

type Desk = DeskClient<Authorized>;

/// One request, as one agent.
pub(crate) struct Call {
    desk: Desk,
    request: ListConversationsRequest,
}

pub(crate) struct Case {
    pub name: &'static str,
    calls: Vec<Call>,
}

/// The timings of a case.
pub(crate) struct Timed {
    pub name: &'static str,
    /// Sorted.
    pub latencies: Vec<Duration>,
    pub rows: usize,
}

/// A client of the largest tenant as `agent`, over the shared connection.
fn desk_as(channel: &tonic::transport::Channel, agent: &str) -> Desk {
    let credentials = switchboard_testkit::credentials(TENANTS[0].name, Role::Agent, agent);
    DeskClient::new(Authorized::new(channel.clone(), credentials))
}

/// The cases, in the largest tenant, where a listing has the most rows to pass over.
pub(crate) async fn cases(channel: &tonic::transport::Channel) -> anyhow::Result<Vec<Case>> {
    let agents: Vec<String> = (0..TENANTS[0].agents).map(agent).collect();
    let as_agent = |n: usize, request: ListConversationsRequest| Call {
        desk: desk_as(channel, &agents[n % agents.len()]),
        request,
    };
    let all = |requests: Vec<ListConversationsRequest>| -> Vec<Call> {
        requests.into_iter().enumerate().map(|(n, request)| as_agent(n, request)).collect()
    };
    let statuses = [
        ConversationStatus::Queued,
        ConversationStatus::Escalated,
        ConversationStatus::Assigned,
        ConversationStatus::Pending,
        ConversationStatus::Resolved,
    ];
    Ok(vec![
        Case { name: "default inbox", calls: all(vec![ListConversationsRequest::default()]) },
        Case {
            name: "assignee=me",
            calls: all(agents.iter().map(|_| request().with_assignee("me")).collect()),
        },
        Case {
            name: "unassigned + queue",
            calls: all(QUEUES
                .iter()
                .map(|(queue, _)| request().with_assignee("unassigned").in_queue(queue))
                .collect()),
        },
        Case {
            name: "status",
            calls: all(statuses.iter().map(|status| request().with_status(*status)).collect()),
        },
        Case {
            name: "sla at risk",
            calls: all([15, 30, 60].iter().map(|minutes| request().at_risk_within(*minutes)).collect()),
        },
        Case {
            name: "channel",
            calls: all(CHANNELS.iter().map(|channel| request().on_channel(*channel)).collect()),
        },
        Case {
            name: "priority",
            calls: all(PRIORITIES.iter().map(|priority| request().with_priority(*priority)).collect()),
        },
        Case {
            name: "language",
            calls: all(LANGUAGES.iter().map(|(language, _)| request().in_language(language)).collect()),
        },
        Case { name: "page 20 by cursor", calls: deep_pages(desk_as(channel, &agents[0])).await? },
    ])
}

/// Requests for the 20th page of 50 of three listings (the whole inbox, the unassigned, the
/// resolved), with the cursor their 19th page gave; the walk checks the pages' order.
async fn deep_pages(mut desk: Desk) -> anyhow::Result<Vec<Call>> {
    let listings = [
        request(),
        request().with_assignee("unassigned"),
        request().with_status(ConversationStatus::Resolved),
    ];
    let mut calls = Vec::new();
    for listing in listings {
        let mut request = ListConversationsRequest { page_size: DEEP_PAGE_SIZE, ..listing };
        request.cursor = cursor_before_page(&mut desk, &request, DEEP_PAGE).await?;
        calls.push(Call { desk: desk.clone(), request });
    }
    Ok(calls)
}

/// Walks `page - 1` pages; the cursor of the page after them. Refuses pages that repeat a row.
async fn cursor_before_page(
    desk: &mut Desk,
    first: &ListConversationsRequest,
    page: usize,
) -> anyhow::Result<String> {
    let mut seen = std::collections::HashSet::new();
    let mut cursor = String::new();
    for n in 1..page {
        let request = ListConversationsRequest { cursor: cursor.clone(), ..first.clone() };
        let listed = desk.list_conversations(request).await?.into_inner();
        for row in &listed.conversations {
            if !seen.insert(row.conversation_id.clone()) {
                bail!("page {n} repeats conversation {}", row.conversation_id);
            }
        }
        cursor = listed.next_cursor;
        if cursor.is_empty() {
            bail!("the listing ended at page {n}; the fill is too small for page {page}");
        }
    }
    Ok(cursor)
}

/// Runs each case: `warm_up` calls untimed, then `calls` calls one at a time.
pub(crate) async fn run(cases: &mut [Case], warm_up: usize, calls: usize) -> anyhow::Result<Vec<Timed>> {
    let mut timed = Vec::with_capacity(cases.len());
    for case in cases {
        for n in 0..warm_up {
            call(case, n).await?;
        }
        let mut latencies = Vec::with_capacity(calls);
        let mut rows = 0;
        for n in 0..calls {
            let started = Instant::now();
            let page = call(case, n).await?;
            latencies.push(started.elapsed());
            rows += page.conversations.len();
        }
        latencies.sort();
        timed.push(Timed { name: case.name, latencies, rows });
    }
    Ok(timed)
}

/// The case's `n`th call (its requests taken in turn).
async fn call(case: &mut Case, n: usize) -> anyhow::Result<ListConversationsResponse> {
    let count = case.calls.len();
    let call = &mut case.calls[n % count];
    let page = call.desk.list_conversations(call.request.clone()).await.context(case.name)?;
    Ok(page.into_inner())
}

/// Prints each case and all together; whether the worst p99 is within `target`.
pub(crate) fn report(timed: &[Timed], conversations: usize, target: Duration) {
    println!(
        "desk list (each case: its requests in turn, one call at a time, after {} warm-up calls):",
        super::WARM_UP
    );
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    for case in timed {
        let calls = case.latencies.len().max(1);
        println!(
            "  {:<20} {} calls, {:.1} rows/page: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            format!("{}:", case.name),
            case.latencies.len(),
            case.rows as f64 / calls as f64,
            ms(percentile(&case.latencies, 0.5)),
            ms(percentile(&case.latencies, 0.99)),
            ms(percentile(&case.latencies, 1.0)),
        );
    }
    let mut all: Vec<Duration> = timed.iter().flat_map(|case| case.latencies.iter().copied()).collect();
    all.sort();
    let worst =
        timed.iter().map(|case| (percentile(&case.latencies, 0.99), case.name)).max().unwrap_or_default();
    println!(
        "  all cases: {} calls: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; worst case p99 {:.2} ms ({})",
        all.len(),
        ms(percentile(&all, 0.5)),
        ms(percentile(&all, 0.99)),
        ms(percentile(&all, 1.0)),
        ms(worst.0),
        worst.1,
    );
    println!(
        "ListConversations p99 over {conversations} conversations: {:.2} ms; target p99 <= {} ms in every case: {}",
        ms(percentile(&all, 0.99)),
        target.as_millis(),
        if worst.0 <= target { "met" } else { "missed" },
    );
}

fn request() -> ListConversationsRequest {
    ListConversationsRequest::default()
}

/// Filters as an agent sets them.
trait Filters {
    fn with_assignee(self, assignee: &str) -> Self;
    fn in_queue(self, queue: &str) -> Self;
    fn with_status(self, status: ConversationStatus) -> Self;
    fn at_risk_within(self, minutes: u32) -> Self;
    fn in_language(self, language: &str) -> Self;
    fn on_channel(self, channel: Channel) -> Self;
    fn with_priority(self, priority: Priority) -> Self;
}

impl Filters for ListConversationsRequest {
    fn with_assignee(self, assignee: &str) -> Self {
        Self { assignee: assignee.into(), ..self }
    }

    fn in_queue(self, queue: &str) -> Self {
        Self { queue: queue.into(), ..self }
    }

    fn with_status(self, status: ConversationStatus) -> Self {
        Self { status: status.into(), ..self }
    }

    fn at_risk_within(self, minutes: u32) -> Self {
        Self { sla_at_risk_minutes: Some(minutes), ..self }
    }

    fn in_language(self, language: &str) -> Self {
        Self { language: language.into(), ..self }
    }

    fn on_channel(self, channel: Channel) -> Self {
        Self { channel: channel.into(), ..self }
    }

    fn with_priority(self, priority: Priority) -> Self {
        Self { priority: priority.into(), ..self }
    }
}
