-- Every read model keys on the tenant: rows so far are the default tenant's, and two tenants'
-- customers, conversations, orders or accounts of the same id are two rows.
ALTER TABLE router.decisions ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
ALTER TABLE router.decisions DROP CONSTRAINT decisions_pkey, ADD PRIMARY KEY (tenant, message_id);
DROP INDEX router.decisions_by_queue;
CREATE INDEX decisions_by_queue ON router.decisions (tenant, queue, at);
CREATE INDEX decisions_by_conversation ON router.decisions (tenant, conversation_id, at);

ALTER TABLE router.customers ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
ALTER TABLE router.customers DROP CONSTRAINT customers_pkey, ADD PRIMARY KEY (tenant, customer_id);

ALTER TABLE router.contacts ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
ALTER TABLE router.contacts DROP CONSTRAINT contacts_pkey, ADD PRIMARY KEY (tenant, conversation_id);
DROP INDEX router.contacts_by_customer;
CREATE INDEX contacts_by_customer ON router.contacts (tenant, customer_id, started_at);

ALTER TABLE router.turns ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
ALTER TABLE router.turns DROP CONSTRAINT turns_pkey, ADD PRIMARY KEY (tenant, message_id);
DROP INDEX router.turns_by_conversation;
CREATE INDEX turns_by_conversation ON router.turns (tenant, conversation_id, at);

ALTER TABLE router.orders ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
ALTER TABLE router.orders DROP CONSTRAINT orders_pkey, ADD PRIMARY KEY (tenant, order_id);
DROP INDEX router.orders_by_customer;
CREATE INDEX orders_by_customer ON router.orders (tenant, customer_id, updated_at);

ALTER TABLE router.accounts ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
ALTER TABLE router.accounts DROP CONSTRAINT accounts_pkey, ADD PRIMARY KEY (tenant, customer_id);

ALTER TABLE router.sim_refusals ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
ALTER TABLE router.sim_refusals DROP CONSTRAINT sim_refusals_pkey, ADD PRIMARY KEY (tenant, event_id);
DROP INDEX router.sim_refusals_by_customer;
CREATE INDEX sim_refusals_by_customer ON router.sim_refusals (tenant, customer_id, at);
