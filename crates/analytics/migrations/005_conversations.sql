-- One row of facts per conversation (see src/facts.rs), folded from its events: what the
-- report's definitions (docs/ANALYTICS.md) read.
CREATE TABLE analytics.conversations (
    tenant TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    channel TEXT NOT NULL,
    language TEXT NOT NULL,
    intent TEXT NOT NULL,
    queue TEXT NOT NULL,
    agent TEXT NOT NULL,
    assigned_at TIMESTAMPTZ,
    handed_off BOOLEAN NOT NULL,
    handoff_reason TEXT NOT NULL,
    bot_replied BOOLEAN NOT NULL,
    first_human_reply_at TIMESTAMPTZ,
    closed_at TIMESTAMPTZ,
    closed_by TEXT NOT NULL,
    reopens INTEGER NOT NULL,
    csat SMALLINT,
    nps SMALLINT,
    surveys_sent INTEGER NOT NULL,
    first_response_sla TEXT NOT NULL,
    resolution_sla TEXT NOT NULL,
    -- The business hours the open seconds count in (JSON); empty: around the clock.
    calendar TEXT NOT NULL,
    first_response_open_seconds BIGINT,
    resolution_open_seconds BIGINT,
    PRIMARY KEY (tenant, conversation_id)
);
CREATE INDEX conversations_started ON analytics.conversations (tenant, started_at);
CREATE INDEX conversations_closed ON analytics.conversations (tenant, closed_at) WHERE closed_at IS NOT NULL;
