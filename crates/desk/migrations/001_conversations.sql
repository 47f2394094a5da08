-- One row per tenant's conversation, folded from its events (see src/conversation.rs).
CREATE TABLE desk.conversations (
    tenant TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    channel INTEGER NOT NULL,
    status TEXT NOT NULL,
    -- What routing decided: '', 'queued' or 'escalated'; with paused, closed and assignee it
    -- gives status.
    routed TEXT NOT NULL,
    paused BOOLEAN NOT NULL,
    closed BOOLEAN NOT NULL,
    queue TEXT NOT NULL,
    priority INTEGER NOT NULL,
    assignee TEXT NOT NULL,
    preview TEXT NOT NULL,
    -- SLA targets not met, by metric: {"due_at": RFC 3339, "breached": bool}.
    sla_targets JSONB NOT NULL,
    sla_due_at TIMESTAMPTZ,
    sla_breached BOOLEAN NOT NULL,
    handoff_reason TEXT NOT NULL,
    language TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    sequence BIGINT NOT NULL,
    PRIMARY KEY (tenant, conversation_id)
);

-- The default sort of ListConversations, per tenant: SLA due time (none last), priority
-- (highest first), age (oldest first); the id breaks ties so the cursor is exact.
CREATE INDEX conversations_by_urgency ON desk.conversations (
    tenant,
    (COALESCE(sla_due_at, 'infinity'::timestamptz)),
    (-priority),
    created_at,
    conversation_id
);
