-- Who searched (deflection: did a conversation by the same customer follow within 24 hours?),
-- and who started each conversation.
ALTER TABLE analytics.knowledge_queries ADD COLUMN customer_id TEXT NOT NULL DEFAULT '';
CREATE INDEX knowledge_queries_searches ON analytics.knowledge_queries (tenant, asked_at)
    WHERE customer_id <> '' AND kind IN ('search', 'deflect');
ALTER TABLE analytics.conversations ADD COLUMN customer_id TEXT NOT NULL DEFAULT '';
CREATE INDEX conversations_customer ON analytics.conversations (tenant, customer_id, started_at);

-- The conversation facts summed per hour, day and week (UTC), in all (`dim` = '') and per
-- channel, language, intent, queue, agent and hand-off reason: what big reports read
-- (src/rollup.rs lays out `m`). A conversation adds what it started to its starting hour's and
-- day's rows, and what its closing tells to its closing hour's and day's; a change to its facts
-- takes the old contribution away and adds the new.
CREATE TABLE analytics.rollups (
    tenant TEXT NOT NULL,
    span TEXT NOT NULL,
    start TIMESTAMPTZ NOT NULL,
    dim TEXT NOT NULL,
    key TEXT NOT NULL,
    m BIGINT[] NOT NULL,
    PRIMARY KEY (tenant, span, start, dim, key)
);

-- Set once the rollups hold every conversation's facts (filled from the facts at the first start
-- after this migration; a replay keeps them by itself).
CREATE TABLE analytics.rollups_built (built_at TIMESTAMPTZ NOT NULL);
