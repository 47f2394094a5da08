-- Everything said and done in a conversation, in stream order (see src/timeline.rs).
CREATE TABLE desk.entries (
    tenant TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    sequence BIGINT NOT NULL,
    -- customer, bot, agent, note or event.
    kind TEXT NOT NULL,
    -- The message, reply or note id; for events, what happened (routed, claimed, ...).
    entry_id TEXT NOT NULL,
    author TEXT NOT NULL,
    text TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    article_ids TEXT[] NOT NULL,
    -- Customer messages, once classified: {"intent", "confidence", "language", ...}.
    classification JSONB,
    -- Replies: requested, delivered, or "failed: <reason>".
    delivery TEXT NOT NULL,
    PRIMARY KEY (tenant, conversation_id, sequence)
);
CREATE INDEX entries_by_id ON desk.entries (tenant, conversation_id, entry_id);

-- What the desk's view shows beyond the list row: the last routing decision and hand-off packet
-- (protobuf), tags, SLA timers, whether the customer was verified, how it ended.
CREATE TABLE desk.details (
    tenant TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    routing BYTEA,
    handoff BYTEA,
    tags TEXT[] NOT NULL,
    timers JSONB NOT NULL,
    verified BOOLEAN NOT NULL,
    closed_by TEXT NOT NULL,
    close_reason TEXT NOT NULL,
    PRIMARY KEY (tenant, conversation_id)
);

-- The customer card: the last profile and each order's last state (protobuf).
CREATE TABLE desk.customers (
    tenant TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    profile BYTEA NOT NULL,
    PRIMARY KEY (tenant, customer_id)
);
CREATE TABLE desk.orders (
    tenant TEXT NOT NULL,
    order_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    body BYTEA NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant, order_id)
);
CREATE INDEX orders_by_customer ON desk.orders (tenant, customer_id, updated_at DESC);
CREATE INDEX conversations_by_customer ON desk.conversations (tenant, customer_id, created_at DESC);

-- Macros: the last save (protobuf `MacroSaved`), or deleted.
CREATE TABLE desk.macros (
    tenant TEXT NOT NULL,
    macro_id TEXT NOT NULL,
    body BYTEA NOT NULL,
    version INTEGER NOT NULL,
    deleted BOOLEAN NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    sequence BIGINT NOT NULL,
    PRIMARY KEY (tenant, macro_id)
);
