-- Every table is keyed by tenant first: each tenant's figures are its own. Rows from before
-- tenancy are the default tenant's.
ALTER TABLE analytics.counts
    ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default',
    DROP CONSTRAINT counts_pkey,
    ADD PRIMARY KEY (tenant, metric, channel, intent);

ALTER TABLE analytics.knowledge_queries
    ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default',
    DROP CONSTRAINT knowledge_queries_pkey,
    ADD PRIMARY KEY (tenant, query_id);
DROP INDEX analytics.knowledge_queries_gaps;
CREATE INDEX knowledge_queries_gaps ON analytics.knowledge_queries (tenant, asked_at) WHERE NOT answered;
DROP INDEX analytics.knowledge_queries_deflections;
CREATE INDEX knowledge_queries_deflections ON analytics.knowledge_queries (tenant) WHERE kind = 'deflect';
