-- Since when a conversation waits for a person (with people, held by nobody), for the
-- supervisor's oldest wait per queue.
ALTER TABLE desk.conversations ADD COLUMN waiting_since TIMESTAMPTZ;
CREATE INDEX conversations_waiting ON desk.conversations (tenant, queue) WHERE NOT closed AND routed <> '';

-- What waits for a person's decision (returns), with its facts; `decision` is '' while it waits.
CREATE TABLE desk.approvals (
    tenant TEXT NOT NULL,
    approval_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    facts JSONB NOT NULL,
    requested_at TIMESTAMPTZ NOT NULL,
    decision TEXT NOT NULL DEFAULT '',
    decided_by TEXT NOT NULL DEFAULT '',
    sequence BIGINT NOT NULL,
    PRIMARY KEY (tenant, approval_id)
);
CREATE INDEX approvals_waiting ON desk.approvals (tenant, requested_at) WHERE decision = '';

-- The new columns and table are folded from the whole stream: the desk's read model is rebuilt
-- once (the projection starts again from the first event when its checkpoint is gone).
TRUNCATE desk.conversations, desk.entries, desk.details, desk.customers, desk.orders, desk.macros;
DELETE FROM desk.projection_checkpoints WHERE projection = 'desk-projection';
