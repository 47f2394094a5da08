-- Every read model keys on the tenant first: two tenants' messages, models or corrections of the
-- same id are two rows, and a conversation's pinned language is looked up within its tenant.
ALTER TABLE classifier.classifications DROP CONSTRAINT classifications_pkey, ADD PRIMARY KEY (tenant, message_id);
DROP INDEX classifier.classifications_by_conversation;
CREATE INDEX classifications_by_conversation ON classifier.classifications (tenant, conversation_id, at);
DROP INDEX classifier.classifications_by_intent;
CREATE INDEX classifications_by_intent ON classifier.classifications (tenant, intent);

ALTER TABLE classifier.models DROP CONSTRAINT models_pkey, ADD PRIMARY KEY (tenant, model_id);
ALTER TABLE classifier.model_artifacts DROP CONSTRAINT model_artifacts_pkey, ADD PRIMARY KEY (tenant, model_id);

ALTER TABLE classifier.feedback DROP CONSTRAINT feedback_pkey, ADD PRIMARY KEY (tenant, message_id);
DROP INDEX classifier.feedback_by_tenant;
