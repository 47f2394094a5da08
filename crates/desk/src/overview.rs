//! The supervisor's view: per queue, what waits and for how long, and what is at risk of or past
//! its SLA; the agents with their presence and load; the approvals waiting; and the caller's
//! inbox counts. Read from the read model and the assignment fold; nothing here decides.

use chrono::{DateTime, Duration, Utc};
use sqlx::{PgPool, Row as _};
use switchboard_proto::{
    desk::v1::{Agent as WireAgent, Overview, Presence as WirePresence, QueueSummary},
    time::to_timestamp,
};

use crate::{
    Error,
    assign::{Agent, Presence},
};

/// Minutes ahead that count as at risk when the caller says nothing.
pub const DEFAULT_AT_RISK_MINUTES: u32 = 30;

/// An agent as the supervisor sees them. One who never said their presence is online or
/// offline as their profile's availability says.
pub fn wire_agent(agent_id: &str, agent: &Agent) -> WireAgent {
    let presence = match agent.presence.map(|(presence, _)| presence) {
        Some(Presence::Online) => WirePresence::Online,
        Some(Presence::Away) => WirePresence::Away,
        Some(Presence::Offline) => WirePresence::Offline,
        None if agent.profile.available => WirePresence::Online,
        None => WirePresence::Offline,
    };
    WireAgent {
        agent_id: agent_id.to_string(),
        presence: presence.into(),
        load: u32::try_from(agent.active.len()).unwrap_or(u32::MAX),
        capacity: agent.profile.capacity.values().sum(),
        queues: agent.profile.queues.clone(),
        presence_since: agent.presence.map(|(_, since)| to_timestamp(since)),
    }
}

/// The tenant's queues and the caller's counts, over conversations with people (not closed).
pub async fn queues(
    pool: &PgPool,
    tenant: &str,
    me: &str,
    at_risk_minutes: u32,
    now: DateTime<Utc>,
) -> Result<Overview, Error> {
    let minutes =
        if at_risk_minutes == 0 { DEFAULT_AT_RISK_MINUTES } else { at_risk_minutes.min(7 * 24 * 60) };
    let rows = sqlx::query(
        "SELECT queue,
             count(*) FILTER (WHERE assignee = '' AND NOT paused) AS waiting,
             min(waiting_since) FILTER (WHERE assignee = '' AND NOT paused) AS oldest,
             count(*) FILTER (WHERE NOT sla_breached AND sla_due_at <= $2) AS at_risk,
             count(*) FILTER (WHERE sla_breached) AS breached,
             count(*) FILTER (WHERE assignee = $3) AS mine,
             count(*) AS everything
         FROM desk.conversations
         WHERE tenant = $1 AND NOT closed AND (routed <> '' OR assignee <> '')
         GROUP BY queue ORDER BY queue",
    )
    .bind(tenant)
    .bind(now + Duration::minutes(i64::from(minutes)))
    .bind(me)
    .fetch_all(pool)
    .await?;
    let count = |value: i64| u32::try_from(value).unwrap_or(u32::MAX);
    let mut overview = Overview::default();
    for row in rows {
        let waiting = count(row.try_get("waiting")?);
        overview.mine += count(row.try_get("mine")?);
        overview.unassigned += waiting;
        overview.all += count(row.try_get("everything")?);
        overview.queues.push(QueueSummary {
            queue: row.try_get("queue")?,
            waiting,
            oldest_waiting_since: row.try_get::<Option<DateTime<Utc>>, _>("oldest")?.map(to_timestamp),
            sla_at_risk: count(row.try_get("at_risk")?),
            sla_breached: count(row.try_get("breached")?),
        });
    }
    Ok(overview)
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_proto::events::v1::AgentUpdated;

    #[test]
    fn an_agent_shows_their_presence_else_their_profiles_availability_and_their_load() {
        let profile = AgentUpdated {
            agent_id: "ana".into(),
            available: true,
            queues: vec!["billing".into()],
            capacity: [("web".to_string(), 2), ("email".to_string(), 3)].into(),
            ..AgentUpdated::default()
        };
        let mut ana = Agent { profile, ..Agent::default() };
        ana.active.insert("c-1".into(), "web".into());
        let seen = wire_agent("ana", &ana);
        assert_eq!((seen.presence(), seen.load, seen.capacity), (WirePresence::Online, 1, 5));
        assert!(seen.presence_since.is_none());
        ana.presence = Some((Presence::Away, Utc::now()));
        let away = wire_agent("ana", &ana);
        assert_eq!(away.presence(), WirePresence::Away);
        assert!(away.presence_since.is_some());
    }
}
