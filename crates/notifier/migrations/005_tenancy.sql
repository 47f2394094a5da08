-- Every table is keyed by tenant first: two tenants' customers, conversations, deliveries and
-- timers of the same id are distinct rows. Rows from before tenancy are the default tenant's.
ALTER TABLE notifier.delivery_log
    ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default',
    DROP CONSTRAINT delivery_log_pkey,
    ADD PRIMARY KEY (tenant, delivery_id);

ALTER TABLE notifier.deliveries
    ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default',
    DROP CONSTRAINT deliveries_pkey,
    ADD PRIMARY KEY (tenant, delivery_id);
DROP INDEX notifier.deliveries_by_conversation;
CREATE INDEX deliveries_by_conversation ON notifier.deliveries (tenant, conversation_id, at);

ALTER TABLE notifier.contacts
    ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default',
    DROP CONSTRAINT contacts_pkey,
    ADD PRIMARY KEY (tenant, customer_id);

ALTER TABLE notifier.customers
    ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default',
    DROP CONSTRAINT customers_pkey,
    ADD PRIMARY KEY (tenant, customer_id);

ALTER TABLE notifier.schedule
    ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default',
    DROP CONSTRAINT schedule_pkey,
    ADD PRIMARY KEY (tenant, key);
