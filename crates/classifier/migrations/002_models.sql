-- Stored model artifacts: written before ModelTrained is published, never rebuilt by replay.
CREATE TABLE classifier.model_artifacts (
    model_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    artifact BYTEA NOT NULL,
    sha256 TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Read model of ModelTrained.
CREATE TABLE classifier.models (
    model_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    labels TEXT[] NOT NULL,
    training_examples INTEGER NOT NULL,
    feedback_examples INTEGER NOT NULL,
    encoder TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    trained_at TIMESTAMPTZ NOT NULL,
    sequence BIGINT NOT NULL
);
CREATE INDEX models_by_tenant ON classifier.models (tenant, trained_at DESC);

-- Read model of ModelActivated: the active model per tenant.
CREATE TABLE classifier.active_models (
    tenant TEXT PRIMARY KEY,
    model_id TEXT NOT NULL,
    activated_at TIMESTAMPTZ NOT NULL
);

-- Read model of IntentCorrected: agents' corrections, the latest per message.
CREATE TABLE classifier.feedback (
    message_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    text TEXT NOT NULL,
    intent TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL
);
CREATE INDEX feedback_by_tenant ON classifier.feedback (tenant);

ALTER TABLE classifier.classifications ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
ALTER TABLE classifier.classifications ADD COLUMN text TEXT NOT NULL DEFAULT '';
ALTER TABLE classifier.classifications ADD COLUMN language_reliable BOOLEAN NOT NULL DEFAULT false;
CREATE INDEX classifications_by_conversation ON classifier.classifications (conversation_id, at);
