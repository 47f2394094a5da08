-- What the rules read besides the message: customer profiles and earlier conversations.
CREATE TABLE router.customers (
    customer_id TEXT PRIMARY KEY,
    tier TEXT NOT NULL,
    plan TEXT NOT NULL,
    country TEXT NOT NULL,
    attributes JSONB NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE router.contacts (
    conversation_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX contacts_by_customer ON router.contacts (customer_id, started_at);
ALTER TABLE router.decisions ADD COLUMN tags TEXT[] NOT NULL DEFAULT '{}';
ALTER TABLE router.decisions ADD COLUMN rules_version INT NOT NULL DEFAULT 0;
