-- Every table is keyed by tenant first, as every other read model is: ids are intake's own
-- UUIDs, but what a table holds is never found, joined or overwritten across tenants. Rows so
-- far keep their tenant (classifications and routings take their message's).
ALTER TABLE intake.conversations DROP CONSTRAINT conversations_pkey, ADD PRIMARY KEY (tenant, conversation_id);

ALTER TABLE intake.messages DROP CONSTRAINT messages_pkey, ADD PRIMARY KEY (tenant, message_id);
DROP INDEX intake.messages_by_conversation;
CREATE INDEX messages_by_conversation ON intake.messages (tenant, conversation_id, sequence);

ALTER TABLE intake.classifications ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
UPDATE intake.classifications c SET tenant = m.tenant FROM intake.messages m WHERE m.message_id = c.message_id;
ALTER TABLE intake.classifications DROP CONSTRAINT classifications_pkey, ADD PRIMARY KEY (tenant, message_id);

ALTER TABLE intake.routings ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
UPDATE intake.routings r SET tenant = m.tenant FROM intake.messages m WHERE m.message_id = r.message_id;
ALTER TABLE intake.routings DROP CONSTRAINT routings_pkey, ADD PRIMARY KEY (tenant, message_id);
