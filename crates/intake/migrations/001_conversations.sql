CREATE TABLE intake.conversations (
    conversation_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    channel INT NOT NULL,
    status INT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE intake.messages (
    message_id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    tenant TEXT NOT NULL,
    author INT NOT NULL,
    text TEXT NOT NULL,
    idempotency_key TEXT,
    at TIMESTAMPTZ NOT NULL,
    sequence BIGINT NOT NULL
);
CREATE INDEX messages_by_conversation ON intake.messages (conversation_id, sequence);
CREATE UNIQUE INDEX messages_by_idempotency_key ON intake.messages (tenant, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE intake.classifications (
    message_id TEXT PRIMARY KEY,
    intent TEXT NOT NULL,
    confidence REAL NOT NULL,
    language TEXT NOT NULL,
    model_version TEXT NOT NULL
);

CREATE TABLE intake.routings (
    message_id TEXT PRIMARY KEY,
    action INT NOT NULL,
    queue TEXT NOT NULL,
    priority INT NOT NULL,
    rule TEXT NOT NULL,
    reason TEXT NOT NULL
);
