//! The desk's in-memory folds (SLA clocks, assignment) start from their last snapshot, not from
//! the stream's beginning: a desk restarted after the old events are gone from the stream still
//! knows the targets that run.

mod common;

use common::{Backing, Cluster, message, submit, wait_for_event};
use switchboard_bus::EVENTS_STREAM;
use switchboard_proto::{
    desk::v1::{AgentActivity, RecordAgentActivityRequest, desk_client::DeskClient},
    events::v1::event::Body,
    router::v1::{PublishRulesRequest, router_client::RouterClient},
};

const RULES: &str = "slas:\n  - name: standard\n    first_response: 1h\n    resolution: 1d\n\
                     rules:\n  - name: everything-else\n    then: {action: queue, queue: general}\n";

#[tokio::test]
async fn a_desk_restarted_without_the_old_events_still_knows_the_targets_that_run() -> anyhow::Result<()> {
    let backing = Backing::start().await?;
    let cluster = Cluster::start(backing.config()).await?;
    RouterClient::new(cluster.channel().await?)
        .publish_rules(PublishRulesRequest { text: RULES.into(), wait: true })
        .await?;
    let bus = backing.bus().await?;
    let asked = submit(&cluster, message("c-snap", "My contract renewal looks wrong", "snap-1")).await?;
    let (_, started) = wait_for_event(&bus, "switchboard.events.sla.>", |event| match &event.body {
        Some(Body::SlaStarted(s))
            if s.conversation_id == asked.conversation_id && s.metric == "resolution" =>
        {
            Some(())
        }
        _ => None,
    })
    .await?;
    // The fold reads its own SlaStarted back a moment later; it has once it plans the targets of
    // a conversation routed after it (it folds the stream in order).
    let later = submit(&cluster, message("c-snap-2", "My invoice is missing", "snap-2")).await?;
    wait_for_event(&bus, "switchboard.events.sla.>", |event| match &event.body {
        Some(Body::SlaStarted(s)) if s.conversation_id == later.conversation_id => Some(()),
        _ => None,
    })
    .await?;
    cluster.stop().await?;

    // Stopping saved each fold as of what it had folded.
    let pool = backing.database.pool().await?;
    let saved: Vec<(String, i64)> =
        sqlx::query_as("SELECT fold, sequence FROM desk.fold_snapshots ORDER BY fold")
            .fetch_all(&pool)
            .await?;
    let folds: Vec<&str> = saved.iter().map(|(fold, _)| fold.as_str()).collect();
    assert_eq!(folds, ["assignment", "sla"]);
    assert!(saved[0].1 > 0, "the assignment fold folded the routing: {saved:?}");
    assert!(
        saved[1].1 as u64 >= started,
        "the clocks' snapshot holds the target started at {started}: {saved:?}"
    );

    // The SLA and routing events so far leave the stream (as an operator's retention would).
    let stream = bus.jetstream().get_stream(EVENTS_STREAM).await?;
    let last = bus.last_sequence(EVENTS_STREAM).await?;
    for subject in ["switchboard.events.sla.>", "switchboard.events.routing.>"] {
        stream.purge().filter(subject).sequence(last + 1).await?;
    }

    let cluster = Cluster::start(backing.config()).await?;
    let waiting = RecordAgentActivityRequest {
        conversation_id: asked.conversation_id.clone(),
        activity: AgentActivity::WaitingOnCustomer.into(),
    };
    let met =
        DeskClient::new(cluster.channel().await?).record_agent_activity(waiting).await?.into_inner().met;
    assert_eq!(met, ["first_response"], "the first-response target still ran");
    cluster.stop().await
}
